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

_SQLITE_TABLE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(body, content='{MESSAGE_TABLE}', "
    f"content_rowid='id', tokenize='{SQLITE_TOKENIZE}')"
)
_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER IF NOT EXISTS {TRIGGERS[0]} AFTER INSERT ON {MESSAGE_TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, body) VALUES (new.id, new.body); END",
    f"CREATE TRIGGER IF NOT EXISTS {TRIGGERS[1]} AFTER DELETE ON {MESSAGE_TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, body) VALUES ('delete', old.id, old.body); END",
    f"CREATE TRIGGER IF NOT EXISTS {TRIGGERS[2]} AFTER UPDATE OF id, body ON {MESSAGE_TABLE} BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, body) VALUES ('delete', old.id, old.body); "
    f"INSERT INTO {FTS_TABLE}(rowid, body) VALUES (new.id, new.body); END",
)


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
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
        elif connection.vendor == "postgresql":
            cursor.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
            cursor.execute(f"ALTER TABLE {MESSAGE_TABLE} DROP COLUMN IF EXISTS {PG_COLUMN}")
            cursor.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {PG_CONFIG}")


def install_order_index(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            columns = ", ".join(ORDER_INDEX_COLUMNS)
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {ORDER_INDEX} ON {MESSAGE_TABLE}({columns})")


def sqlite_order_index_exists(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = %s", [ORDER_INDEX])
        return cursor.fetchone() is not None


def _install_sqlite(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_SQLITE_TABLE)
        for sql in _SQLITE_TRIGGERS:
            cursor.execute(sql)
        # Messages that were there before the index (an archive upgraded to this version).
        cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


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
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [MESSAGE_TABLE])
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in TRIGGERS if name not in present]


def sqlite_index_exists(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [FTS_TABLE])
        return cursor.fetchone() is not None


def repair_sqlite(connection: BaseDatabaseWrapper) -> bool:
    """Put back triggers that a table rebuild by a migration dropped; True when it had to."""
    if connection.vendor != "sqlite" or not sqlite_index_exists(connection):
        return False
    if not sqlite_order_index_exists(connection) and _applied(connection, "0002_order_index"):
        log.warning("search: index %s was missing (a migration rebuilt %s); re-creating it", ORDER_INDEX,
                    MESSAGE_TABLE)
        install_order_index(connection)
    missing = sqlite_triggers_missing(connection)
    if not missing:
        return False
    log.warning("search: triggers %s were missing (a migration rebuilt %s); re-creating them and re-indexing",
                ", ".join(missing), MESSAGE_TABLE)
    with transaction.atomic(using=connection.alias):
        _install_sqlite(connection)
    return True


def _applied(connection: BaseDatabaseWrapper, name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM django_migrations WHERE app = 'search' AND name = %s", [name])
        return cursor.fetchone() is not None


def after_migrate(using: str = "default", **kwargs: Any) -> None:
    """``post_migrate`` receiver (see apps.py): the one place a migration can break the index."""
    from django.db import connections

    repair_sqlite(connections[using])


def sqlite_integrity_check(connection: BaseDatabaseWrapper) -> None:
    """Raises DatabaseError when the index differs from the message table (tests, ``onfile verify``)."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('integrity-check', 1)")
