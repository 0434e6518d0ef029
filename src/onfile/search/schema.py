# ruff: noqa: S608  (SQL is built from constant table and column names; values are bound parameters)
"""The search index, kept by the database itself.

Messages reach ``conversations_message`` through the ORM *and* through raw ``executemany``
(the import projector), and ``onfile rebuild`` empties and refills the table; an index kept
up to date in Python would miss some of that. So the database maintains it:

- **SQLite**: an FTS5 table with external content (``content=conversations_message``: the
  text is stored once, in the message table), tokeniser ``unicode61 remove_diacritics 2``
  (language-neutral: clients write in many languages), kept in step by three triggers.
  Django rebuilds a table on SQLite for some schema changes (copy, drop, rename), and
  dropping the table drops its triggers: :func:`repair_sqlite` runs after every ``migrate``
  and puts them back (and re-indexes, since rows may have changed meanwhile). A covering index
  ``search_message_order`` (id, sent_at, conversation, deleted) lets a search sort its matches
  by time without reading each message's row (a word in 60,000 messages: 51 → 30 ms); the
  same repair puts it back.
- **PostgreSQL**: a stored generated ``tsvector`` column on the message table with a GIN
  index, under a text search configuration ``onfile_search``: ``simple`` (no stemming, no
  stop words: language-neutral) with ``unaccent`` in front when the extension can be had.
  ``<`` and ``>`` are indexed as spaces: PostgreSQL's parser would take ``<anything>`` for an
  HTML tag and leave the words in it out.

The earlier texts of edited and deleted messages (``conversations_messagerevision``) are indexed
the same way — an FTS5 table ``search_revision_fts`` with its own triggers, or a generated
column with a GIN index ``search_revision_tsv`` — for the roles that may read them (migration
0003; the facade adds them to a search of compliance roles).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

log = logging.getLogger(__name__)

MESSAGE_TABLE = "conversations_message"
FTS_TABLE = "search_message_fts"
TRIGGERS = ("search_message_fts_insert", "search_message_fts_delete", "search_message_fts_update")
ORDER_INDEX = "search_message_order"
ORDER_INDEX_COLUMNS = ("id", "sent_at", "conversation_id", "deleted")
PG_CONFIG = "onfile_search"
PG_COLUMN = "search_tsv"
PG_INDEX = "search_message_tsv"
SQLITE_TOKENIZE = "unicode61 remove_diacritics 2"  # the index's and the snippets' (engines.py) tokeniser
PG_MAX_CHARS = 100_000  # a tsvector holds at most 1 MB; a WhatsApp message at most 65,536 characters

REVISION_TABLE = "conversations_messagerevision"
REVISION_FTS_TABLE = "search_revision_fts"
REVISION_TRIGGERS = ("search_revision_fts_insert", "search_revision_fts_delete", "search_revision_fts_update")
PG_REVISION_INDEX = "search_revision_tsv"


def _sqlite_table(fts: str, content: str) -> str:
    return (f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(body, content='{content}', "
            f"content_rowid='id', tokenize='{SQLITE_TOKENIZE}')")


def _sqlite_triggers(fts: str, content: str, names: tuple[str, ...]) -> tuple[str, ...]:
    return (
        f"CREATE TRIGGER IF NOT EXISTS {names[0]} AFTER INSERT ON {content} BEGIN "
        f"INSERT INTO {fts}(rowid, body) VALUES (new.id, new.body); END",
        f"CREATE TRIGGER IF NOT EXISTS {names[1]} AFTER DELETE ON {content} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, body) VALUES ('delete', old.id, old.body); END",
        f"CREATE TRIGGER IF NOT EXISTS {names[2]} AFTER UPDATE OF id, body ON {content} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, body) VALUES ('delete', old.id, old.body); "
        f"INSERT INTO {fts}(rowid, body) VALUES (new.id, new.body); END",
    )


# Each FTS5 table: (the table, the table whose body it indexes, its triggers).
_SQLITE_INDEXES = ((FTS_TABLE, MESSAGE_TABLE, TRIGGERS), (REVISION_FTS_TABLE, REVISION_TABLE, REVISION_TRIGGERS))


def pg_document(column: str = "body") -> str:
    """The indexed expression; the generated column and nothing else uses it."""
    return f"to_tsvector('{PG_CONFIG}'::regconfig, translate(left({column}, {PG_MAX_CHARS}), '<>', '  '))"


def install(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "sqlite":
        _install_sqlite(connection)
    elif connection.vendor == "postgresql":
        _install_postgresql(connection)
    else:
        raise RuntimeError(f"full-text search is not available on {connection.vendor}")


def uninstall(connection: BaseDatabaseWrapper) -> None:
    _drop(connection, FTS_TABLE, TRIGGERS, MESSAGE_TABLE, PG_INDEX)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {PG_CONFIG}")


def _drop(connection: BaseDatabaseWrapper, fts: str, triggers: tuple[str, ...], table: str, pg_index: str) -> None:
    """Take one index away: SQLite's FTS5 table and its triggers, or PostgreSQL's column and index."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in triggers:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(f"DROP TABLE IF EXISTS {fts}")
        elif connection.vendor == "postgresql":
            cursor.execute(f"DROP INDEX IF EXISTS {pg_index}")
            cursor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {PG_COLUMN}")


def install_order_index(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            columns = ", ".join(ORDER_INDEX_COLUMNS)
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {ORDER_INDEX} ON {MESSAGE_TABLE}({columns})")


def sqlite_order_index_exists(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = %s", [ORDER_INDEX])
        return cursor.fetchone() is not None


def _install_sqlite(connection: BaseDatabaseWrapper, fts: str = FTS_TABLE) -> None:
    [(content, triggers)] = [(c, t) for f, c, t in _SQLITE_INDEXES if f == fts]
    with connection.cursor() as cursor:
        cursor.execute(_sqlite_table(fts, content))
        for sql in _sqlite_triggers(fts, content, triggers):
            cursor.execute(sql)
        # Rows that were there before the index (an archive upgraded to this version).
        cursor.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def _install_postgresql(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEXT SEARCH CONFIGURATION {PG_CONFIG} (COPY = pg_catalog.simple)")
        if _unaccent(connection):
            cursor.execute(f"ALTER TEXT SEARCH CONFIGURATION {PG_CONFIG} "
                           "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple")
        else:
            log.warning("search: the PostgreSQL extension 'unaccent' is not available; accented and "
                        "unaccented spellings (café, cafe) will not find each other")
        cursor.execute(f"ALTER TABLE {MESSAGE_TABLE} ADD COLUMN {PG_COLUMN} tsvector "
                       f"GENERATED ALWAYS AS ({pg_document()}) STORED")
        cursor.execute(f"CREATE INDEX {PG_INDEX} ON {MESSAGE_TABLE} USING gin ({PG_COLUMN})")


def _unaccent(connection: BaseDatabaseWrapper) -> bool:
    # unaccent is a "trusted" extension (PostgreSQL 13+): a database owner may create it.
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        return True
    except DatabaseError as exc:  # no privilege, not installed on the server: go on without it
        log.info("CREATE EXTENSION unaccent failed: %s", exc)
        return False


def sqlite_triggers_missing(connection: BaseDatabaseWrapper) -> list[str]:
    """The triggers of the FTS5 tables there are that are not there (a table rebuild dropped them)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
    return [name for fts, _, triggers in _SQLITE_INDEXES if sqlite_index_exists(connection, fts)
            for name in triggers if name not in present]


def sqlite_index_exists(connection: BaseDatabaseWrapper, fts: str = FTS_TABLE) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [fts])
        return cursor.fetchone() is not None


def repair_sqlite(connection: BaseDatabaseWrapper) -> bool:
    """Put back triggers that a table rebuild by a migration dropped; True when it had to."""
    if connection.vendor != "sqlite" or not sqlite_index_exists(connection):
        return False
    if not sqlite_order_index_exists(connection) and _applied(connection, "0002_order_index"):
        log.warning("search: index %s was missing (a migration rebuilt %s); re-creating it", ORDER_INDEX,
                    MESSAGE_TABLE)
        install_order_index(connection)
    missing = set(sqlite_triggers_missing(connection))
    repaired = False
    for fts, content, triggers in _SQLITE_INDEXES:
        if missing.intersection(triggers):
            log.warning("search: triggers %s were missing (a migration rebuilt %s); re-creating them and "
                        "re-indexing", ", ".join(t for t in triggers if t in missing), content)
            with transaction.atomic(using=connection.alias):
                _install_sqlite(connection, fts)
            repaired = True
    return repaired


def _applied(connection: BaseDatabaseWrapper, name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM django_migrations WHERE app = 'search' AND name = %s", [name])
        return cursor.fetchone() is not None


def after_migrate(using: str = "default", **kwargs: Any) -> None:
    """``post_migrate`` receiver (see apps.py): the one place a migration can break the index."""
    from django.db import connections

    repair_sqlite(connections[using])


def sqlite_integrity_check(connection: BaseDatabaseWrapper) -> None:
    """Raises DatabaseError when an index differs from its table (tests, ``onfile verify``)."""
    with connection.cursor() as cursor:
        for fts, _, _ in _SQLITE_INDEXES:
            if sqlite_index_exists(connection, fts):
                cursor.execute(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")


# ---- earlier texts of edited and deleted messages (compliance roles search them too) ---------------


def install_revisions(connection: BaseDatabaseWrapper) -> None:
    """Index ``MessageRevision.body`` as the message bodies are indexed (migration 0003)."""
    if connection.vendor == "sqlite":
        _install_sqlite(connection, REVISION_FTS_TABLE)
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {REVISION_TABLE} ADD COLUMN {PG_COLUMN} tsvector "
                           f"GENERATED ALWAYS AS ({pg_document()}) STORED")
            cursor.execute(f"CREATE INDEX {PG_REVISION_INDEX} ON {REVISION_TABLE} USING gin ({PG_COLUMN})")
    else:
        raise RuntimeError(f"full-text search is not available on {connection.vendor}")


def uninstall_revisions(connection: BaseDatabaseWrapper) -> None:
    _drop(connection, REVISION_FTS_TABLE, REVISION_TRIGGERS, REVISION_TABLE, PG_REVISION_INDEX)
