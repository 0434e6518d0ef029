"""Android ``msgstore.db``, legacy schema (single ``messages`` table, before about 2022).

Facts relied on (docs/whatsapp.md D6; KnugiHK android_handler.py legacy queries; a 2019 schema
dump in ferferga's WP→Android converter):
- ``messages``: key_remote_jid (the chat), key_from_me, key_id, status, data (text),
  timestamp (Unix ms), media_wa_type (TEXT holding the same codes as today's message_type),
  media_mime_type, media_size, media_name, media_caption, media_hash (base64 SHA-256),
  latitude, longitude, remote_resource (group sender JID), quoted_row_id → messages_quotes,
  edit_version, forwarded. Row ``_id`` 1 is a placeholder with key_remote_jid '-1'.
- Deleted rows have ``edit_version = 7``; system rows have ``status = 6``, their action in
  ``message_system.action_type`` when that table exists, otherwise (older files) in
  ``media_size`` — the latter is folklore from forensic write-ups, [unverified].
- Group subjects: ``chat_list.subject`` (older) or ``chat.subject`` via ``jid`` (transitional);
  members: ``group_participants`` (gjid, jid; the owner's row has an empty jid).
- Media files: only transitional files have ``message_media.file_path``; older ones kept the
  path in a serialized Java object in ``thumb_image``, which we do not decode, so their
  attachments are reported as not found.
Rows are turned into records by the current-schema code: the SELECT below produces the same
column names (NULL where the legacy schema has no equivalent).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from onfile.imports import records as r
from onfile.imports.devicedb import codes
from onfile.imports.devicedb.android import ChatContext, Result, build_messages
from onfile.imports.devicedb.android_common import AndroidContacts
from onfile.imports.devicedb.common import (
    ChatFilter,
    DeviceDbError,
    Query,
    Schema,
    add_seen_senders,
    as_str,
    finish_chat,
    jid_server,
    wal_warning,
)

REQUIRED = ("_id", "key_remote_jid", "key_from_me", "key_id", "timestamp")
PLACEHOLDER_JID = "-1"


def read_legacy(
    conn: sqlite3.Connection,
    schema: Schema,
    *,
    path: Path,
    wa_db: Path | None,
    media_root: Path | None,
    chat_filter: ChatFilter | None,
) -> Iterator[Result]:
    missing = schema.missing("messages", REQUIRED)
    if missing:
        raise DeviceDbError(f"unknown msgstore schema: messages table lacks {missing}")
    contacts = AndroidContacts.load(conn, schema, wa_db)
    notes = [n for n in [wal_warning(path), *contacts.notes] if n]
    subjects = _subjects(conn, schema)
    sql = _message_sql(schema)
    jids = conn.execute(
        "SELECT key_remote_jid FROM messages WHERE key_remote_jid IS NOT ? "
        "GROUP BY key_remote_jid ORDER BY min(_id)",
        (PLACEHOLDER_JID,),
    ).fetchall()
    for (raw_jid,) in jids:
        jid = as_str(raw_jid) or ""
        chat, ctx = _chat(conn, schema, jid, subjects.get(jid), contacts, media_root)
        if chat_filter and not chat_filter.matches(jid, contacts.phones_of(jid), chat.title):
            continue
        messages = build_messages(conn.execute(sql, (jid,)).fetchall(), ctx)
        add_seen_senders(chat, messages)
        finish_chat(chat, messages, None)
        chat.anomalies.extend(notes)
        yield chat, messages


def _subjects(conn: sqlite3.Connection, schema: Schema) -> dict[str, str]:
    if schema.has("chat_list", "key_remote_jid", "subject"):
        rows = conn.execute("SELECT key_remote_jid, subject FROM chat_list WHERE subject IS NOT NULL")
    elif schema.has("chat", "jid_row_id", "subject") and schema.has("jid", "_id", "raw_string"):
        rows = conn.execute(
            "SELECT j.raw_string, c.subject FROM chat c JOIN jid j ON j._id = c.jid_row_id "
            "WHERE c.subject IS NOT NULL"
        )
    else:
        return {}
    return {str(jid): str(subject) for jid, subject in rows if jid and subject}


def _message_sql(schema: Schema) -> str:
    q = Query(schema)
    system = f"m.status = {codes.ANDROID_LEGACY_SYSTEM_STATUS}"
    media_type = "CAST(m.media_wa_type AS INTEGER)" if schema.has("messages", "media_wa_type") else "0"
    q.columns = [
        "m._id AS row_id",
        "NULL AS chat_row",
        "m.key_from_me AS from_me",
        "m.key_id AS key_id",
        "m.timestamp AS ts",
        f"CASE WHEN {system} THEN {codes.ANDROID_SYSTEM} ELSE {media_type} END AS mtype"
        if schema.has("messages", "status")
        else f"{media_type} AS mtype",
        "NULL AS sender_row",
        "m._id AS media_row",  # legacy media facts live on the message row itself
        "NULL AS edit_row",
        "NULL AS old_jid_row",
        "NULL AS new_jid_row",
        "NULL AS is_blocked",
    ]
    q.columns += schema.pick("messages", "m", _LEGACY_COLUMNS)
    q.columns.append(
        _flag(schema, "edit_version", f"= {codes.ANDROID_LEGACY_DELETED_EDIT_VERSION}", "revoked_row")
    )
    q.columns.append(_flag(schema, "forwarded", "> 0", "fwd_row"))
    quote = {"key_id": "quoted_key", "data": "quoted_text"}
    if schema.has("messages", "quoted_row_id"):
        q.join("messages_quotes", "mq", "mq._id = m.quoted_row_id", quote, key="_id")
    else:
        q.columns += [f"NULL AS {alias}" for alias in quote.values()]
    q.join("message_media", "mm", "mm.message_row_id = m._id", {"file_path": "media_path"})
    _action_column(q, schema)
    return q.sql("messages m", "m.key_remote_jid = ?", "m.timestamp, m._id")


_LEGACY_COLUMNS = {
    "status": "status",
    "data": "text_data",
    "remote_resource": "sender_jid",
    "media_mime_type": "media_mime",
    "media_size": "media_size",
    "media_name": "media_name",
    "media_caption": "media_caption",
    "media_hash": "media_hash",
    "latitude": "lat",
    "longitude": "lon",
}


def _flag(schema: Schema, column: str, test: str, alias: str) -> str:
    if not schema.has("messages", column):
        return f"NULL AS {alias}"
    return f"CASE WHEN m.{column} {test} THEN 1 END AS {alias}"


def _action_column(q: Query, schema: Schema) -> None:
    """action_type from message_system, else (older files) from media_size on system rows."""
    fallback = "m.media_size" if schema.has("messages", "media_size") else "NULL"
    if schema.has("message_system", "message_row_id", "action_type"):
        q.columns.append(f"COALESCE(ms.action_type, {fallback}) AS action_type")
        q.joins.append("LEFT JOIN message_system ms ON ms.message_row_id = m._id")
    else:
        q.columns.append(f"{fallback} AS action_type")


def _chat(
    conn: sqlite3.Connection,
    schema: Schema,
    jid: str,
    subject: str | None,
    contacts: AndroidContacts,
    media_root: Path | None,
) -> tuple[r.ParsedChat, ChatContext]:
    is_group = jid_server(jid) == "g.us"
    person = contacts.by_jid(jid)
    title = subject or person.name or jid
    chat = r.ParsedChat(title=title, key=jid, is_group=is_group, platform="android", source_format="msgstore")
    ctx = ChatContext(contacts, media_root, is_group, None if is_group else person)
    ctx.vcards = _vcards(conn, schema, jid)
    if is_group and schema.has("group_participants", "gjid", "jid"):
        rows = conn.execute("SELECT jid FROM group_participants WHERE gjid = ? ORDER BY rowid", (jid,))
        members = [contacts.by_jid(str(m)).name for (m,) in rows if m]
        chat.participants = [name for name in members if name]
    elif not is_group and person.name:
        chat.participants = [person.name]
    return chat, ctx


def _vcards(conn: sqlite3.Connection, schema: Schema, jid: str) -> dict[int, list[str]]:
    if not schema.has("messages_vcards", "message_row_id", "vcard"):
        return {}
    sql = (
        "SELECT v.message_row_id, v.vcard FROM messages_vcards v JOIN messages m ON m._id = v.message_row_id "
        "WHERE m.key_remote_jid = ? ORDER BY v.rowid"
    )
    out: dict[int, list[str]] = {}
    for row_id, card in conn.execute(sql, (jid,)):
        out.setdefault(int(row_id), []).append(as_str(card) or "")
    return out
