"""Read decrypted WhatsApp on-device databases into import records.

Sources: Android ``msgstore.db`` (current ``message`` schema and the legacy ``messages`` one,
names from ``wa.db``) and iOS ``ChatStorage.sqlite``. Pure Python and the stdlib ``sqlite3``;
no Django. The evidence is opened read-only and immutable and is never modified.

    for chat, messages in read_database(Path("msgstore.db"), wa_db=Path("wa.db"),
                                        media_root=Path("WhatsApp")):
        ...

The kind of file is recognised by its tables, not its name. Files that cannot be used at all
(not SQLite, an encrypted ``.crypt14`` backup, an unknown schema) raise ``DeviceDbError``;
anything odd inside a usable file is reported in the records' ``anomalies``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from onfile.imports.devicedb import android, android_legacy, ios
from onfile.imports.devicedb.common import ChatFilter, DeviceDbError, Schema, open_readonly
from onfile.imports.records import ParsedChat, ParsedMessage

__all__ = ["KIND_CHATSTORAGE", "KIND_MSGSTORE", "DeviceDbError", "detect", "read_database"]

KIND_MSGSTORE = "msgstore"
KIND_CHATSTORAGE = "chatstorage"


def detect(path: Path) -> str | None:
    """``"msgstore"``, ``"chatstorage"`` or None, judged by the tables the file contains."""
    try:
        conn = open_readonly(path)
    except DeviceDbError:
        return None
    try:
        return _kind(Schema.read(conn))
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()


def read_database(
    path: Path,
    *,
    kind: str | None = None,
    wa_db: Path | None = None,
    media_root: Path | None = None,
    chat: str | None = None,
) -> Iterator[tuple[ParsedChat, list[ParsedMessage]]]:
    """Yield ``(chat, messages)`` for every chat in the database, messages in the chat's order.

    ``wa_db``: Android contacts database for display names. ``media_root``: the folder media
    paths are relative to (Android: the ``WhatsApp`` folder holding ``Media/``; iOS: the shared
    container holding ``Message/``); attachments found there get ``path`` (absolute), the others
    ``omitted=True``. ``chat``: only chats whose JID or phone number equals it, or whose title
    contains it (case-insensitive). Messages whose chat row is missing come last, in a chat
    with ``key=None`` (only when ``chat`` is not given).

    The file is checked before this returns, so an unusable file raises here, not on iteration.
    """
    path = Path(path)
    variant = _validate(path, kind)
    chat_filter = ChatFilter(chat) if chat else None
    return _read(path, variant, wa_db=wa_db, media_root=media_root, chat_filter=chat_filter)


def _validate(path: Path, kind: str | None) -> str:
    """The reader to use: ``"chatstorage"``, ``"current"`` or ``"legacy"``; raises if none fits."""
    if kind not in (None, KIND_MSGSTORE, KIND_CHATSTORAGE):
        raise DeviceDbError(f"unknown kind {kind!r}; expected {KIND_MSGSTORE!r} or {KIND_CHATSTORAGE!r}")
    conn = open_readonly(path)
    try:
        schema = Schema.read(conn)
        found = _kind(schema)
        if found is None:
            raise DeviceDbError(_unknown(path, schema))
        if kind is not None and kind != found:
            raise DeviceDbError(f"{path.name} looks like a {found} database, not {kind}")
        variant = "chatstorage" if found == KIND_CHATSTORAGE else _android_variant(conn, schema)
    finally:
        conn.close()
    _check_required(schema, variant)
    return variant


def _unknown(path: Path, schema: Schema) -> str:
    if schema.has("wa_contacts"):
        return f"{path.name} is a contacts database (wa.db); pass it as wa_db= with msgstore.db"
    tables = ", ".join(sorted(schema.tables)[:12]) or "none"
    return f"{path.name}: unknown schema, not a WhatsApp message database (tables: {tables})"


def _check_required(schema: Schema, variant: str) -> None:
    table, required = {
        "chatstorage": ("ZWAMESSAGE", ios.REQUIRED),
        "current": ("message", android.REQUIRED),
        "legacy": ("messages", android_legacy.REQUIRED),
    }[variant]
    missing = schema.missing(table, required)
    if variant == "current":
        missing += [f"chat.{c}" for c in schema.missing("chat", ("_id", "jid_row_id"))]
    if variant == "chatstorage":
        missing += [f"ZWACHATSESSION.{c}" for c in schema.missing("ZWACHATSESSION", ("Z_PK", "ZCONTACTJID"))]
    if missing:
        raise DeviceDbError(f"unknown {variant} schema: {table} lacks {', '.join(missing)}")


def _kind(schema: Schema) -> str | None:
    if schema.has("ZWAMESSAGE") and schema.has("ZWACHATSESSION"):
        return KIND_CHATSTORAGE
    if (schema.has("message") and schema.has("chat")) or schema.has("messages", "key_remote_jid"):
        return KIND_MSGSTORE
    return None


def _read(
    path: Path,
    variant: str,
    *,
    wa_db: Path | None,
    media_root: Path | None,
    chat_filter: ChatFilter | None,
) -> Iterator[tuple[ParsedChat, list[ParsedMessage]]]:
    conn = open_readonly(path)
    try:
        schema = Schema.read(conn)
        if variant == "chatstorage":
            yield from ios.read_chatstorage(
                conn, schema, path=path, media_root=media_root, chat_filter=chat_filter
            )
        else:
            reader = android.read_current if variant == "current" else android_legacy.read_legacy
            yield from reader(
                conn, schema, path=path, wa_db=wa_db, media_root=media_root, chat_filter=chat_filter
            )
    except sqlite3.DatabaseError as exc:
        raise DeviceDbError(f"{path.name}: database error while reading ({exc})") from exc
    finally:
        conn.close()


def _android_variant(conn: sqlite3.Connection, schema: Schema) -> str:
    return "current" if _current_schema_in_use(conn, schema) else "legacy"


def _current_schema_in_use(conn: sqlite3.Connection, schema: Schema) -> bool:
    """Current ``message`` table unless only the legacy ``messages`` table holds rows.

    Files from the migration period (about 2021-2022) can contain both tables; the app writes
    the new one, but a not-yet-migrated file has its history in the old one only.
    """
    if not (schema.has("message") and schema.has("chat")):
        return False
    if not schema.has("messages", "key_remote_jid"):
        return True
    has_current = conn.execute("SELECT 1 FROM message WHERE key_id IS NOT '-1' LIMIT 1").fetchone()
    has_legacy = conn.execute("SELECT 1 FROM messages WHERE key_remote_jid IS NOT '-1' LIMIT 1").fetchone()
    return has_current is not None or has_legacy is None
