"""Android ``msgstore.db``, current schema (``message`` table, since about 2022).

Facts relied on (docs/whatsapp.md D6; KnugiHK android_handler.py; frozenspider whatsapp_android.rs):
- ``message`` rows belong to ``chat`` via ``chat_row_id``; ``chat.jid_row_id`` → ``jid``.
- ``timestamp`` is Unix milliseconds; ``sort_id`` is the app's own display order.
- In groups ``sender_jid_row_id`` names the sender (0 = the owner or nobody); in 1:1 chats the
  other party is the chat JID.
- Side tables keyed by ``message_row_id``: ``message_media`` (caption also in ``text_data``),
  ``message_quoted`` (a snapshot of the quoted text), ``message_location``, ``message_vcard``
  (several per message), ``message_edit_info``, ``message_revoked``, ``message_forwarded``,
  ``message_system`` (+ ``_chat_participant``, ``_number_change``, ``_block_contact``).
- Reactions: ``message_add_on`` (parent_message_row_id, from_me, sender_jid_row_id) +
  ``message_add_on_reaction`` (reaction, sender_timestamp); an empty reaction is a withdrawn one.
- Edits: WhatsApp overwrites ``text_data`` with the final text and keeps no earlier version, so
  an edited message carries ``edited=True`` and the final text only. That is how the source is,
  not an anomaly.
Every optional table or column may be missing; the query is built from what exists. The
type-code meanings in ``codes.py`` are reverse-engineered [unverified].
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from onfile.imports import records as r
from onfile.imports.devicedb import codes
from onfile.imports.devicedb.android_common import (
    AndroidContacts,
    Person,
    SystemFacts,
    describe_system,
    message_kind,
    outgoing_status,
    refine_audio,
)
from onfile.imports.devicedb.common import (
    UNIX_EPOCH,
    ChatFilter,
    DeviceDbError,
    Query,
    Schema,
    add_seen_senders,
    as_float,
    as_int,
    as_str,
    attachment,
    finish_chat,
    from_unix_ms,
    jid_server,
    orphan_chat,
    wal_warning,
)

Result = tuple[r.ParsedChat, list[r.ParsedMessage]]
REQUIRED = ("_id", "chat_row_id", "from_me", "key_id", "timestamp", "message_type")
# The first row of a fresh database is a placeholder with key_id "-1" (legacy schema; assumed here).
PLACEHOLDER_KEY = "-1"
MEDIA_BASES = ("",)


@dataclass(slots=True)
class ChatContext:
    """Per-chat lookups used while turning rows into records."""

    contacts: AndroidContacts
    media_root: Path | None
    is_group: bool
    partner: Person | None
    vcards: dict[int, list[str]] = field(default_factory=dict)
    targets: dict[int, list[int]] = field(default_factory=dict)
    reactions: dict[int, list[tuple[str, str, datetime | None]]] = field(default_factory=dict)


def read_current(
    conn: sqlite3.Connection,
    schema: Schema,
    *,
    path: Path,
    wa_db: Path | None,
    media_root: Path | None,
    chat_filter: ChatFilter | None,
) -> Iterator[Result]:
    missing = schema.missing("message", REQUIRED)
    if missing or not schema.has("chat", "_id", "jid_row_id"):
        raise DeviceDbError(
            f"unknown msgstore schema: message/chat tables lack {missing or ['chat columns']}"
        )
    contacts = AndroidContacts.load(conn, schema, wa_db)
    notes = [n for n in [wal_warning(path), *contacts.notes] if n]
    sql = _message_sql(schema)
    subject = "c.subject" if schema.has("chat", "subject") else "NULL"
    # Dynamic SQL in this package only ever interpolates identifiers read from the schema.
    chat_sql = f"SELECT c._id, c.jid_row_id, {subject} FROM chat c ORDER BY c._id"  # noqa: S608
    for chat_row in conn.execute(chat_sql).fetchall():
        chat, ctx = _chat(conn, schema, chat_row, contacts, media_root)
        if chat_filter and not chat_filter.matches(chat.key, contacts.phones_of(chat.key), chat.title):
            continue
        rows = conn.execute(sql.format(where="m.chat_row_id = ?"), (chat_row[0],)).fetchall()
        messages = build_messages(rows, ctx)
        add_seen_senders(chat, messages)
        finish_chat(chat, messages, None)
        chat.anomalies.extend(notes)
        yield chat, messages
    if chat_filter is None:
        yield from _orphans(conn, sql, contacts, media_root, notes)


# --------------------------------------------------------------------------- SQL


def _message_sql(schema: Schema) -> str:
    q = Query(schema)
    q.columns = ["m._id AS row_id", "m.chat_row_id AS chat_row", "m.from_me AS from_me", "m.key_id AS key_id"]
    q.columns += ["m.timestamp AS ts", "m.message_type AS mtype"]
    q.columns += schema.pick(
        "message", "m", {"sender_jid_row_id": "sender_row", "status": "status", "text_data": "text_data"}
    )
    q.columns.append("NULL AS sender_jid")  # the legacy reader fills it from remote_resource
    on = "{a}.message_row_id = m._id"
    media = {"file_path": "media_path", "file_size": "media_size", "mime_type": "media_mime"}
    media |= {"media_name": "media_name", "media_caption": "media_caption", "file_hash": "media_hash"}
    q.join("message_media", "mm", on.format(a="mm"), media | {"message_row_id": "media_row"})
    q.join("message_quoted", "mq", on.format(a="mq"), {"key_id": "quoted_key", "text_data": "quoted_text"})
    q.join("message_location", "ml", on.format(a="ml"), {"latitude": "lat", "longitude": "lon"})
    q.join("message_edit_info", "me", on.format(a="me"), {"message_row_id": "edit_row"})
    q.join("message_revoked", "mr", on.format(a="mr"), {"message_row_id": "revoked_row"})
    q.join("message_forwarded", "mf", on.format(a="mf"), {"message_row_id": "fwd_row"})
    q.join("message_system", "ms", on.format(a="ms"), {"action_type": "action_type"})
    numbers = {"old_jid_row_id": "old_jid_row", "new_jid_row_id": "new_jid_row"}
    q.join("message_system_number_change", "mn", on.format(a="mn"), numbers)
    q.join("message_system_block_contact", "mb", on.format(a="mb"), {"is_blocked": "is_blocked"})
    order = "m.sort_id, m.timestamp, m._id" if schema.has("message", "sort_id") else "m.timestamp, m._id"
    # ``{where}`` is filled per use; braces elsewhere in the SQL are not expected.
    return q.sql("message m", "{where}", order)


def _side_rows(
    conn: sqlite3.Connection, schema: Schema, table: str, value: str, chat_row: int
) -> dict[int, list[object]]:
    """``message_row_id → [value, …]`` for a one-to-many side table, restricted to one chat."""
    if not schema.has(table, "message_row_id", value):
        return {}
    sql = (
        f"SELECT t.message_row_id, t.{value} FROM {table} t JOIN message m ON m._id = t.message_row_id "  # noqa: S608
        "WHERE m.chat_row_id = ? ORDER BY t.rowid"
    )
    out: dict[int, list[object]] = defaultdict(list)
    for row_id, item in conn.execute(sql, (chat_row,)):
        out[int(row_id)].append(item)
    return out


def _reactions(conn: sqlite3.Connection, schema: Schema, chat_row: int, ctx: ChatContext) -> None:
    if not (
        schema.has("message_add_on", "_id", "parent_message_row_id")
        and schema.has("message_add_on_reaction", "message_add_on_row_id", "reaction")
    ):
        return
    cols = schema.pick("message_add_on", "ao", {"from_me": "from_me", "sender_jid_row_id": "sender_row"})
    cols += schema.pick("message_add_on", "ao", {"timestamp": "ao_ts"})
    cols += schema.pick("message_add_on_reaction", "rx", {"sender_timestamp": "rx_ts"})
    sql = (
        f"SELECT ao.parent_message_row_id AS parent, rx.reaction AS reaction, {', '.join(cols)} "  # noqa: S608
        "FROM message_add_on ao JOIN message_add_on_reaction rx ON rx.message_add_on_row_id = ao._id "
        "JOIN message p ON p._id = ao.parent_message_row_id WHERE p.chat_row_id = ? ORDER BY ao._id"
    )
    for row in conn.execute(sql, (chat_row,)):
        emoji = as_str(row["reaction"])
        if not emoji:  # an empty reaction is one that was taken back
            continue
        when = from_unix_ms(row["rx_ts"]) or from_unix_ms(row["ao_ts"])
        who = _reactor(row, ctx)
        ctx.reactions.setdefault(int(row["parent"]), []).append((who, emoji, when))


def _reactor(row: sqlite3.Row, ctx: ChatContext) -> str:
    if as_int(row["from_me"]):
        return ctx.contacts.me().name or ""
    person = ctx.contacts.by_row(as_int(row["sender_row"])) or ctx.partner
    return (person.name if person else None) or "unknown"


# --------------------------------------------------------------------------- chats


def _chat(
    conn: sqlite3.Connection,
    schema: Schema,
    chat_row: sqlite3.Row,
    contacts: AndroidContacts,
    media_root: Path | None,
) -> tuple[r.ParsedChat, ChatContext]:
    chat_id, jid_row, subject = int(chat_row[0]), as_int(chat_row[1]), as_str(chat_row[2])
    person = contacts.by_row(jid_row)
    key = person.jid if person else None
    is_group = jid_server(key) == "g.us"
    title = subject if subject else (person.name if person and person.name else f"chat {chat_id}")
    chat = r.ParsedChat(title=title, key=key, is_group=is_group, platform="android", source_format="msgstore")
    if key is None:
        chat.anomalies.append(f"chat row {chat_id} refers to jid row {jid_row}, which is missing")
    ctx = ChatContext(contacts, media_root, is_group, None if is_group else person)
    vcards = _side_rows(conn, schema, "message_vcard", "vcard", chat_id)
    ctx.vcards = {k: [as_str(v) or "" for v in vs] for k, vs in vcards.items()}
    parts = _side_rows(conn, schema, "message_system_chat_participant", "user_jid_row_id", chat_id)
    ctx.targets = {k: [as_int(v) or 0 for v in vs] for k, vs in parts.items()}
    _reactions(conn, schema, chat_id, ctx)
    if is_group and jid_row:
        chat.participants = _members(conn, schema, jid_row, contacts)
    elif person and person.name:
        chat.participants = [person.name]
    return chat, ctx


def _members(
    conn: sqlite3.Connection, schema: Schema, group_row: int, contacts: AndroidContacts
) -> list[str]:
    if not schema.has("group_participant_user", "group_jid_row_id", "user_jid_row_id"):
        return []
    sql = "SELECT user_jid_row_id FROM group_participant_user WHERE group_jid_row_id = ? ORDER BY rowid"
    people = (contacts.by_row(as_int(row[0])) for row in conn.execute(sql, (group_row,)))
    return [p.name for p in people if p and p.name]


def _orphans(
    conn: sqlite3.Connection,
    sql: str,
    contacts: AndroidContacts,
    media_root: Path | None,
    notes: list[str],
) -> Iterator[Result]:
    where = "(m.chat_row_id IS NULL OR m.chat_row_id NOT IN (SELECT _id FROM chat)) AND m.key_id IS NOT ?"
    rows = conn.execute(sql.format(where=where), (PLACEHOLDER_KEY,)).fetchall()
    if not rows:
        return
    ctx = ChatContext(contacts, media_root, is_group=False, partner=None)
    messages = build_messages(rows, ctx)
    for row, message in zip(rows, messages, strict=True):
        message.anomalies.append(f"chat row {row['chat_row']} not found")
    chat = orphan_chat("android", "msgstore", len(messages))
    finish_chat(chat, messages, None)
    chat.anomalies.extend(notes)
    yield chat, messages


# --------------------------------------------------------------------------- messages


def build_messages(rows: list[sqlite3.Row], ctx: ChatContext) -> list[r.ParsedMessage]:
    out: list[r.ParsedMessage] = []
    seen: set[int] = set()
    by_key: dict[str, str] = {}
    for row in rows:
        row_id = int(row["row_id"])
        if row_id in seen:  # a side table with two rows for one message would repeat it
            out[-1].anomalies.append("message row joined more than one side-table row")
            continue
        seen.add(row_id)
        message = _message(row, ctx)
        if message.key:
            by_key[message.key] = message.text
        out.append(message)
    for message in out:  # fill quoted text the quote table did not keep
        if message.reply_to_key and message.reply_to_text is None:
            message.reply_to_text = by_key.get(message.reply_to_key)
    return out


def _message(row: sqlite3.Row, ctx: ChatContext) -> r.ParsedMessage:
    anomalies: list[str] = []
    code = as_int(row["mtype"])
    kind = message_kind(code, anomalies)
    row_id = int(row["row_id"])
    timestamp = from_unix_ms(row["ts"])
    if timestamp is None:
        anomalies.append(f"missing or invalid timestamp {row['ts']!r}; shown as 1970-01-01")
    message = r.ParsedMessage(
        index=0,
        timestamp=timestamp or UNIX_EPOCH,
        sender=None,
        text=as_str(row["text_data"]) or "",
        kind=kind,
        from_me=bool(as_int(row["from_me"])),
        key=as_str(row["key_id"]),
        line_start=row_id,
        line_end=row_id,
        anomalies=anomalies,
    )
    _content(message, row, code, ctx)
    _sender(message, row, ctx)
    _extras(message, row, ctx, row_id)
    return message


def _content(message: r.ParsedMessage, row: sqlite3.Row, code: int | None, ctx: ChatContext) -> None:
    if code == codes.ANDROID_REVOKED or row["revoked_row"] is not None:
        message.deleted, message.text = True, ""
    elif code == codes.ANDROID_TIMER:
        message.kind, message.system_event = r.KIND_SYSTEM, "disappearing_timer"
        message.text = codes.ANDROID_MESSAGE_TYPES[codes.ANDROID_TIMER][1]
    elif message.kind == r.KIND_SYSTEM:
        _system(message, row, ctx)
    elif message.kind in codes.MEDIA_KINDS:
        _media(message, row, ctx)
    elif message.kind == r.KIND_CONTACT:
        cards = ctx.vcards.get(message.line_start)
        message.text = "\n".join(cards) if cards else message.text
    elif message.kind == r.KIND_LOCATION:
        message.latitude, message.longitude = as_float(row["lat"]), as_float(row["lon"])
    elif message.kind == r.KIND_CALL and not message.text:
        message.text = codes.ANDROID_MESSAGE_TYPES[code or 0][1]
    elif code == codes.ANDROID_WAITING:
        message.anomalies.append("message was never decrypted on the device ('waiting for this message')")


def _media(message: r.ParsedMessage, row: sqlite3.Row, ctx: ChatContext) -> None:
    stored, mime = as_str(row["media_path"]), as_str(row["media_mime"])
    message.kind = refine_audio(message.kind, stored, mime)
    caption = message.text or as_str(row["media_caption"]) or None
    message.text = caption or ""
    if row["media_row"] is None:
        message.anomalies.append("media message without a message_media row")
    message.attachments.append(
        attachment(
            filename=as_str(row["media_name"]),
            stored=stored,
            media_root=ctx.media_root,
            bases=MEDIA_BASES,
            anomalies=message.anomalies,
            mime=mime,
            size=as_int(row["media_size"]),
            sha256_b64=as_str(row["media_hash"]),
            caption=caption,
        )
    )


def _system(message: r.ParsedMessage, row: sqlite3.Row, ctx: ChatContext) -> None:
    contacts = ctx.contacts
    targets = [p.name for p in map(contacts.by_row, ctx.targets.get(message.line_start, [])) if p and p.name]
    old, new = contacts.by_row(as_int(row["old_jid_row"])), contacts.by_row(as_int(row["new_jid_row"]))
    facts = SystemFacts(
        action=as_int(row["action_type"]),
        text=message.text,
        targets=targets,
        old_number=old.sender_id if old else None,
        new_number=new.sender_id if new else None,
        is_blocked=as_int(row["is_blocked"]),
    )
    message.system_event, message.text = describe_system(facts, message.anomalies)


def _sender(message: r.ParsedMessage, row: sqlite3.Row, ctx: ChatContext) -> None:
    named = _named_sender(row, ctx)
    person: Person | None
    if message.kind == r.KIND_SYSTEM:
        # System rows carry from_me=1 even when another member acted; the sender row wins.
        person = named or (ctx.contacts.me() if message.from_me else None)
    elif message.from_me:
        person = ctx.contacts.me()
    elif ctx.is_group or named is not None:
        person = named
        if person is None:
            message.anomalies.append("incoming group message without a sender")
    else:
        person = ctx.partner
    if person is not None:
        message.sender, message.sender_id = person.name, person.sender_id


def _named_sender(row: sqlite3.Row, ctx: ChatContext) -> Person | None:
    """The sender a row names: by jid row (current schema) or by raw JID (legacy remote_resource)."""
    person = ctx.contacts.by_row(as_int(row["sender_row"]))
    if person is None and as_str(row["sender_jid"]):
        person = ctx.contacts.by_jid(str(row["sender_jid"]))
    return person


def _extras(message: r.ParsedMessage, row: sqlite3.Row, ctx: ChatContext, row_id: int) -> None:
    message.reply_to_key = as_str(row["quoted_key"])
    message.reply_to_text = as_str(row["quoted_text"])
    message.edited = row["edit_row"] is not None
    message.forwarded = row["fwd_row"] is not None
    if message.kind != r.KIND_SYSTEM:
        message.status = outgoing_status(bool(message.from_me), row["status"])
    message.reactions = ctx.reactions.get(row_id, [])
