"""The index is kept by the database: every write path, a rebuild and a broken migration."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from tests.search.conftest import World

from onfile.conversations.models import Message
from onfile.projection import rebuild
from onfile.search import SearchFilters, schema, search

pytestmark = pytest.mark.django_db
ON_SQLITE = connection.vendor == "sqlite"
QUERIES = ["lease", '"rent review"', "sign*", "cafe", "the", "07700 900123", "warehouse OR zurich"]


def results() -> list[list[tuple[str, str, str]]]:
    """Hits by natural key (message ids are the database's), with their snippets."""
    from onfile.accounts.models import User

    colp = User.objects.get(email="colp@firm.example")
    keys = dict(Message.objects.values_list("pk", "key"))
    return [[(keys[h.message_id], h.snippet_text, h.sent_at.isoformat()) for h in search(colp, q, per_page=100).hits]
            for q in QUERIES]


def integrity() -> None:
    if ON_SQLITE:
        schema.sqlite_integrity_check(connection)


def test_a_rebuild_gives_the_same_results(world: World) -> None:
    before = results()
    assert all(before)
    rebuild()
    integrity()
    assert results() == before
    rebuild()
    integrity()
    assert results() == before


def test_orm_updates_and_deletes_reach_the_index(world: World) -> None:
    message = Message.objects.get(body__startswith="The deposit")
    Message.objects.filter(pk=message.pk).update(body="The retainer is due")
    integrity()
    assert search(world.compliance, "deposit").hits == []
    assert [h.message_id for h in search(world.compliance, "retainer").hits] == [message.pk]
    Message.objects.filter(pk=message.pk).delete()
    integrity()
    assert search(world.compliance, "retainer").hits == []


def test_messages_inserted_with_raw_sql_are_found(world: World) -> None:
    # The import projector inserts with executemany: the database indexes those rows too.
    row = Message.objects.values().get(body__startswith="The deposit")
    row.update(id=None, key="raw:1", body="an unusual word: quixotic")
    columns = [c for c in row if c != "id"]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO conversations_message ({', '.join(columns)}) "
                       f"VALUES ({', '.join(['%s'] * len(columns))})",
                       [Message._meta.get_field(c if not c.endswith("_id") else c[:-3]).get_db_prep_save(row[c],
                                                                                                       connection)
                        for c in columns])
    integrity()
    assert [h.snippet_text for h in search(world.compliance, "quixotic").hits] == ["an unusual word: [[quixotic]]"]


@pytest.mark.skipif(not ON_SQLITE, reason="SQLite keeps the index with triggers")
def test_triggers_dropped_by_a_table_rebuild_are_put_back_and_the_index_caught_up(world: World) -> None:
    with connection.cursor() as cursor:
        for name in schema.TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}")
    Message.objects.filter(body__startswith="The deposit").update(body="The retainer is due")
    assert schema.sqlite_triggers_missing(connection) == list(schema.TRIGGERS)
    assert schema.repair_sqlite(connection) is True
    assert schema.sqlite_triggers_missing(connection) == []
    integrity()
    assert len(search(world.compliance, "retainer").hits) == 1 and search(world.compliance, "deposit").hits == []
    assert schema.repair_sqlite(connection) is False


@pytest.mark.skipif(not ON_SQLITE, reason="SQLite keeps the index with triggers")
def test_the_repair_runs_after_migrate(world: World) -> None:
    from django.core.management import call_command

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {schema.TRIGGERS[0]}")
    call_command("migrate", verbosity=0)
    assert schema.sqlite_triggers_missing(connection) == []


@pytest.mark.skipif(not ON_SQLITE, reason="SQLite's covering index for sorting matches by time")
def test_matches_are_sorted_through_the_covering_index_which_a_migrate_puts_back(world: World,
                                                                                monkeypatch: Any) -> None:
    from django.core.management import call_command

    from onfile.search.engines import SqliteEngine

    seen: list[str] = []
    rows = SqliteEngine._rows

    def spy(self: Any, sql: str, params: list[Any]) -> list[Any]:
        seen.append(sql)
        return rows(self, sql, params)

    monkeypatch.setattr(SqliteEngine, "_rows", spy)
    with_index = [h.message_id for h in search(world.fee_earner, "the", per_page=100).hits]
    assert any(f"INDEXED BY {schema.ORDER_INDEX}" in sql for sql in seen)
    seen.clear()
    staff = [h.message_id for h in search(world.compliance, "the", SearchFilters(staff=world.fee_earner.pk),
                                          per_page=100).hits]
    assert staff and not any("INDEXED BY" in sql for sql in seen)  # the staff filter needs other columns
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {schema.ORDER_INDEX}")
    connection.close()  # a new connection finds out again whether the index is there
    assert [h.message_id for h in search(world.fee_earner, "the", per_page=100).hits] == with_index
    call_command("migrate", verbosity=0)
    assert schema.sqlite_order_index_exists(connection)


@pytest.mark.skipif(ON_SQLITE, reason="PostgreSQL keeps the index in a generated column")
def test_postgresql_has_the_generated_column_the_index_and_unaccent(world: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT attgenerated FROM pg_attribute WHERE attrelid = 'conversations_message'::regclass "
                       "AND attname = %s", [schema.PG_COLUMN])
        assert cursor.fetchone() == ("s",)
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [schema.PG_INDEX])
        assert "gin" in cursor.fetchone()[0]
        cursor.execute("SELECT to_tsvector(%s::regconfig, 'Café')::text", [schema.PG_CONFIG])
        assert cursor.fetchone()[0] == "'cafe':1"
