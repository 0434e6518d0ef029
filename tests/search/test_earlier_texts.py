"""What a message said before its sender edited it: compliance roles, who may read it (REQ-SEC-4,
the original is kept), find it by searching; everyone else searches only the text as it is now.

The edits here are made as the WhatsApp projector makes them (a MessageRevision with the earlier
text, then the new text on the message): the index of earlier texts is kept by the database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.db import connection
from tests.search.conftest import World

from onfile.accounts.actions import do_create_user
from onfile.conversations.actions import do_set_wall
from onfile.conversations.models import Message, MessageRevision
from onfile.projection import rebuild
from onfile.search import SearchFilters, schema, search
from onfile.search.facade import count_matches

pytestmark = pytest.mark.django_db
ON_SQLITE = connection.vendor == "sqlite"
EDITED_AT = datetime(2024, 1, 20, 9, 0, tzinfo=UTC)


def edit(body_start: str, new_text: str, at: datetime = EDITED_AT) -> Message:
    message = Message.objects.get(body__startswith=body_start)
    MessageRevision.objects.create(message=message, kind="edit", body=message.body, at=at, source_seq=0)
    Message.objects.filter(pk=message.pk).update(edited=True, body=new_text)
    return message


def hits(user: Any, query: str, **filters: Any) -> list[tuple[int, str, bool]]:
    return [(h.message_id, h.snippet_text, h.earlier_text_replaced_at is not None)
            for h in search(user, query, SearchFilters(**filters), per_page=100).hits]


def integrity() -> None:
    if ON_SQLITE:
        schema.sqlite_integrity_check(connection)


def test_compliance_finds_a_message_by_what_it_said_before_an_edit(world: World) -> None:
    deposit = edit("The deposit", "The retainer of £25,000 is due on completion")
    integrity()
    [hit] = search(world.compliance, "deposit").hits
    assert hit.message_id == deposit.pk
    assert hit.snippet_text == "The [[deposit]] of £25,000 is due on completion"  # the earlier text, marked
    assert hit.earlier_text_replaced_at == EDITED_AT
    assert hit.as_dict()["found_in_earlier_text"] is True
    assert hit.as_dict()["earlier_text_replaced_at"] == EDITED_AT.isoformat()
    # Found by its text as it is now: shown as it is now, not flagged.
    assert hits(world.compliance, "retainer") == [(deposit.pk, "The [[retainer]] of £25,000 is due on completion",
                                                   False)]
    # In both: the text as it is now.
    assert hits(world.compliance, "completion") == [(deposit.pk, "The retainer of £25,000 is due on [[completion]]",
                                                     False)]


def test_only_roles_that_may_read_earlier_texts_find_them(world: World) -> None:
    deposit = edit("The deposit", "The retainer is due")
    auditor = do_create_user("auditor@firm.example", None, "auditor", actor="test")
    for user in (world.compliance, auditor, world.admin):
        assert [h for h, _, earlier in hits(user, "deposit") if earlier] == [deposit.pk], user.role
    assert hits(world.fee_earner, "deposit") == []  # it is theirs, but they see only the text as it is now
    assert [h for h, _, _ in hits(world.fee_earner, "retainer")] == [deposit.pk]
    assert hits(world.outsider, "deposit") == [] and hits(world.outsider, "retainer") == []


def test_walls_and_filters_hold_for_earlier_texts(world: World) -> None:
    renewal = edit("The lease renewal", "The renewal for our warehouse is attached")  # acme, matter M-2
    assert [(h, earlier) for h, _, earlier in hits(world.admin, "lease", matter=world.m2.pk)] == [(renewal.pk, True)]
    do_set_wall(world.m2, "except", [world.admin.pk], actor="test")
    assert hits(world.admin, "lease", matter=world.m2.pk) == []  # walled out: not by an earlier text either
    assert [h for h, _, _ in hits(world.compliance, "lease", matter=world.m2.pk)] == [renewal.pk]
    assert hits(world.compliance, "lease", matter=world.m1.pk, sent_from=date(2024, 2, 1)) == []
    assert hits(world.compliance, "lease", client=world.acme_id, sent_to=date(2024, 1, 31)) == []
    assert hits(world.compliance, "lease", client=world.acme_id, direction="out") == []
    assert [h for h, _, _ in hits(world.compliance, "lease", client=world.acme_id, direction="in")] == [renewal.pk]


def test_counts_pages_and_order_include_earlier_texts(world: World) -> None:
    # "lease" is in four messages; after the edit, one of them only in its earlier text.
    renewal = edit("The lease renewal", "The renewal for our warehouse is attached")
    page = search(world.compliance, "lease", per_page=3)
    assert page.total == 4 and page.total_is_exact and page.has_next
    second = search(world.compliance, "lease", page=2, per_page=3)
    assert len(second.hits) == 1
    everything = [h.message_id for h in page.hits + second.hits]
    assert renewal.pk in everything and len(set(everything)) == 4
    sent = [h.sent_at for h in page.hits + second.hits]
    assert sent == sorted(sent, reverse=True)
    assert count_matches(world.compliance, "lease") == (4, True)
    assert count_matches(world.fee_earner, "lease") == (1, True)  # Alice's: the group chat is not theirs
    oldest = search(world.compliance, "lease", order="oldest", per_page=100)
    assert [h.sent_at for h in oldest.hits] == sorted(h.sent_at for h in oldest.hits)
    assert {h.message_id for h in search(world.compliance, "lease", order="relevance").hits} == set(everything)


def test_every_earlier_text_counts_and_the_newest_that_matches_is_shown(world: World) -> None:
    settle = edit("Noted: the settlement offer", "Noted: the revised offer stands until Monday",
                  at=datetime(2024, 2, 4, tzinfo=UTC))
    edit("Noted: the revised offer", "Noted: withdrawn", at=datetime(2024, 2, 5, tzinfo=UTC))
    [(pk, text, earlier)] = hits(world.compliance, "offer")
    assert pk == settle.pk and earlier and text == "Noted: the revised [[offer]] stands until Monday"
    [(pk, text, earlier)] = hits(world.compliance, "settlement")
    assert (pk, text, earlier) == (settle.pk, "Noted: the [[settlement]] offer stands until Friday", True)
    assert hits(world.compliance, "withdrawn") == [(settle.pk, "Noted: [[withdrawn]]", False)]


def test_prefixes_phrases_and_phone_numbers_reach_earlier_texts(world: World) -> None:
    call = edit("Could you call me back", "Please email me instead")
    assert [h for h, _, earlier in hits(world.compliance, "sign*") if earlier] == []
    assert [(h, earlier) for h, _, earlier in hits(world.compliance, '"call me back"')] == [(call.pk, True)]
    assert [h for h, _, earlier in hits(world.compliance, "cal*") if earlier] == [call.pk]
    # The number written in its earlier text (the conversation's own number finds all of Alice's).
    assert call.pk in [h for h, _, _ in hits(world.compliance, "07700 900999")]
    assert call.pk not in [h for h, _, _ in hits(world.fee_earner, "07700 900999")]


def test_the_index_of_earlier_texts_follows_every_write_and_a_rebuild(world: World) -> None:
    deposit = edit("The deposit", "The retainer is due")
    integrity()
    assert [h for h, _, _ in hits(world.compliance, "deposit")] == [deposit.pk]
    MessageRevision.objects.filter(message=deposit).update(body="The escrow of £25,000 is due")
    integrity()
    assert hits(world.compliance, "deposit") == []
    assert [h for h, _, _ in hits(world.compliance, "escrow")] == [deposit.pk]
    MessageRevision.objects.filter(message=deposit).delete()
    integrity()
    assert hits(world.compliance, "escrow") == []
    # A rebuild replays the ledger: imported messages have no edits, so none come back.
    edit("The lease renewal", "The renewal is attached")
    rebuild()
    integrity()
    assert MessageRevision.objects.count() == 0
    assert [h for h, _, earlier in hits(world.compliance, "lease") if earlier] == []


@pytest.mark.skipif(not ON_SQLITE, reason="SQLite keeps the index with triggers")
def test_revision_triggers_dropped_by_a_table_rebuild_are_put_back(world: World) -> None:
    with connection.cursor() as cursor:
        for name in schema.REVISION_TRIGGERS:
            cursor.execute(f"DROP TRIGGER {name}")
    assert schema.sqlite_triggers_missing(connection) == list(schema.REVISION_TRIGGERS)
    deposit = edit("The deposit", "The retainer is due")  # not indexed: no trigger
    assert schema.repair_sqlite(connection) is True  # puts them back and catches the index up
    assert schema.sqlite_triggers_missing(connection) == []
    integrity()
    assert [h for h, _, _ in hits(world.compliance, "deposit")] == [deposit.pk]


@pytest.mark.skipif(not ON_SQLITE, reason="SQLite walks the messages newest first for a word in most of them")
def test_a_word_in_most_messages_still_finds_earlier_texts(world: World, monkeypatch: Any) -> None:
    from onfile.search.engines import SqliteEngine

    monkeypatch.setattr(SqliteEngine, "DENSE_SHARE", 0.0)  # this small archive: every word is "in most"
    dense: list[bool] = []
    original = SqliteEngine._ids_dense

    def spy(self: Any, match: str, plan: Any) -> list[int]:
        dense.append(bool(plan.also))
        return original(self, match, plan)

    monkeypatch.setattr(SqliteEngine, "_ids_dense", spy)
    renewal = edit("The lease renewal", "The renewal for our warehouse is attached")
    found = [h for h, _, _ in hits(world.compliance, "lease")]
    assert dense == [True] and renewal.pk in found and len(found) == 4


def test_the_search_page_and_the_command_say_a_hit_is_in_an_earlier_text(world: World) -> None:
    from io import StringIO

    from django.core.management import call_command
    from tests.web.helpers import as_

    edit("The deposit", "The retainer is due")
    html = as_(world.compliance).get("/search/?q=deposit").content.decode()
    assert "earlier text, replaced" in html and "Found in an earlier text of this message" in html
    assert "The <mark>deposit</mark> of £25,000" in html
    assert "earlier text" not in as_(world.compliance).get("/search/?q=retainer").content.decode()
    out = StringIO()
    call_command("search", "deposit", "--as", world.compliance.email, stdout=out)
    assert "(found in an earlier text of the message, replaced 2024-01-20 09:00)" in out.getvalue()
    assert "The [[deposit]] of £25,000" in out.getvalue()


@pytest.mark.parametrize(("count_limit", "expected"), [(2, (2, False)), (3, (3, False)), (4, (4, True))])
def test_counting_stops_at_the_limit_with_earlier_texts_too(world: World, monkeypatch: Any, count_limit: int,
                                                            expected: tuple[int, bool]) -> None:
    # "lease": three messages by their text as it is now, a fourth by its earlier text only.
    from onfile.search import facade

    edit("The lease renewal", "The renewal for our warehouse is attached")
    monkeypatch.setattr(facade, "COUNT_LIMIT", count_limit)
    assert count_matches(world.compliance, "lease") == expected



@pytest.mark.parametrize(("count_limit", "expected"), [(2, (2, False)), (3, (3, False)), (4, (4, True)),
                                                       (10, (4, True))])
@pytest.mark.parametrize("dated", [False, True])
def test_a_counted_page_counts_earlier_texts_alongside(world: World, monkeypatch: Any, count_limit: int,
                                                       expected: tuple[int, bool], dated: bool) -> None:
    # SQLite works the count out with the page: the words' arm counts its matches as it sorts them,
    # and the earlier texts' rows it did not find are added. No second pass; the same answer.
    from onfile.search import facade
    from onfile.search.engines import SqliteEngine

    edit("The lease renewal", "The renewal for our warehouse is attached")
    monkeypatch.setattr(facade, "COUNT_LIMIT", count_limit)
    filters = SearchFilters(sent_from=date(2024, 1, 1)) if dated else SearchFilters()  # narrowed, the same hits
    assert count_matches(world.compliance, "lease", filters) == expected
    if ON_SQLITE:  # (not the path for a word in most messages, which stops early instead: as in a large archive)
        monkeypatch.setattr(SqliteEngine, "DENSE_SHARE", 1.0)
        monkeypatch.setattr(SqliteEngine, "count", lambda *a: pytest.fail("counted in a second pass"))
    page = search(world.compliance, "lease", filters, per_page=1)
    assert page.has_next and (page.total, page.total_is_exact) == expected
    last = search(world.compliance, "lease", filters, per_page=3, page=2)  # the last page: nothing to count
    assert len(last.hits) == 1 and (last.total, last.total_is_exact) == (4, True)


def test_a_counted_page_of_earlier_texts_only(world: World, monkeypatch: Any) -> None:
    # Before March (the group chat's messages are later), "lease" is only in earlier texts now.
    from onfile.search.engines import SqliteEngine

    edit("The lease renewal", "The renewal for our warehouse is attached")
    edit("Hello, I have a question about the lease", "Hello, I have a question")
    if ON_SQLITE:  # (not the path for a word in most messages, which stops early instead: as in a large archive)
        monkeypatch.setattr(SqliteEngine, "DENSE_SHARE", 1.0)
        monkeypatch.setattr(SqliteEngine, "count", lambda *a: pytest.fail("counted in a second pass"))
    page = search(world.compliance, "lease", SearchFilters(sent_to=date(2024, 2, 28)), per_page=1)
    assert page.has_next and (page.total, page.total_is_exact) == (2, True)
    assert all(h.earlier_text_replaced_at for h in page.hits)
