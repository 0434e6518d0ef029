"""iOS ``ChatStorage.sqlite`` (Core Data; tables and columns are ``Z``-prefixed).

Facts relied on (docs/whatsapp.md D6; KnugiHK ios_handler.py; IPED ExtractorIOS.java):
- ``ZWACHATSESSION`` is a chat (ZCONTACTJID, ZPARTNERNAME = contact name or group subject,
  ZSESSIONTYPE 1 = group); ``ZWAMESSAGE.ZCHATSESSION`` points to it.
- ``ZMESSAGEDATE`` is seconds since 2001-01-01 UTC; ``ZSORT`` is the display order (IPED).
- Group senders: ``ZWAMESSAGE.ZGROUPMEMBER`` → ``ZWAGROUPMEMBER`` (ZMEMBERJID, ZCONTACTNAME);
  push names in ``ZWAPROFILEPUSHNAME`` (ZJID, ZPUSHNAME).
- ``ZWAMEDIAITEM``: ZMEDIALOCALPATH is relative to the shared container's ``Message/`` folder
  (``Media/<jid>/a/b/<uuid>.jpg``), ZVCARDSTRING is the MIME type (the vCard text for contact
  messages, several joined by ``_$!<VCard-Separator>!$_``), ZVCARDNAME the base64 file hash,
  ZTITLE the caption, ZFILESIZE, ZLATITUDE / ZLONGITUDE.
- ``ZMESSAGESTATUS`` for outgoing messages and the forwarded bit in ``ZFLAGS``: see codes.py.
[unverified] parts, decoded best effort and never fatal:
- Quoted replies: ``ZMETADATA`` is a protobuf whose field 5 holds the quoted stanza id (KnugiHK
  read a fixed 20-byte form and later disabled it; we parse the field properly).
- Reactions: ``ZWAMESSAGEINFO.ZRECEIPTINFO`` protobuf, field 7 → 1 (others: 2 JID, 3 emoji,
  4 time) and 7 → 2 (owner: 2 emoji, 3 time), time in milliseconds (IPED).
- Edits are not decoded: where iOS records them is unknown, so ``edited`` stays False.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from onfile.imports import records as r
from onfile.imports.devicedb import codes
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
    phone_of,
    protobuf_fields,
    wal_warning,
)
from onfile.imports.devicedb.common import from_apple_seconds as apple_time

Result = tuple[r.ParsedChat, list[r.ParsedMessage]]
REQUIRED = ("Z_PK", "ZCHATSESSION", "ZISFROMME", "ZMESSAGEDATE", "ZMESSAGETYPE")
MEDIA_BASES = ("Message", "")
VCARD_SEPARATOR = "_$!<VCard-Separator>!$_"
ME = "Me"  # ChatStorage does not hold the owner's name
SESSION_GROUP = 1


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    sender_id: str | None


@dataclass(slots=True)
class Book:
    """Names known to the database: push names and group-member rows."""

    push: dict[str, str] = field(default_factory=dict)
    members: dict[int, tuple[str | None, str | None, int | None]] = field(default_factory=dict)
    contact_names: dict[str, str] = field(default_factory=dict)  # JID → name from member / chat rows

    @classmethod
    def load(cls, conn: sqlite3.Connection, schema: Schema) -> Book:
        book = cls()
        if schema.has("ZWAPROFILEPUSHNAME", "ZJID", "ZPUSHNAME"):
            for jid, name in conn.execute("SELECT ZJID, ZPUSHNAME FROM ZWAPROFILEPUSHNAME"):
                if jid and name:
                    book.push[str(jid)] = str(name)
        if schema.has("ZWAGROUPMEMBER", "Z_PK", "ZMEMBERJID"):
            cols = schema.pick("ZWAGROUPMEMBER", "g", {"ZCONTACTNAME": "name", "ZCHATSESSION": "chat"})
            sql = f"SELECT g.Z_PK, g.ZMEMBERJID, {', '.join(cols)} FROM ZWAGROUPMEMBER g"  # noqa: S608 (schema identifiers)
            for row in conn.execute(sql):
                jid, name = as_str(row[1]), as_str(row[2])
                book.members[int(row[0])] = (jid, name, as_int(row[3]))
                if jid and name:
                    book.contact_names.setdefault(jid, name)
        return book

    def learn(self, jid: str | None, name: str | None) -> None:
        """Remember a 1:1 chat's contact name so reactions and group rows can use it too."""
        if jid and name and not _is_number(name):
            self.contact_names.setdefault(jid, name)

    def person(self, jid: str | None, contact_name: str | None = None) -> Person | None:
        if not jid:
            return None
        phone = phone_of(jid)
        name = (
            contact_name
            or self.contact_names.get(jid)
            or self.push.get(jid)
            or (f"+{phone}" if phone else jid)
        )
        return Person(name=name, sender_id=phone or jid)

    def member(self, member_pk: int | None) -> Person | None:
        if member_pk is None or member_pk not in self.members:
            return None
        jid, name, _chat = self.members[member_pk]
        return self.person(jid, name)

    def chat_members(self, chat_pk: int) -> list[str]:
        people = (self.person(jid, name) for jid, name, chat in self.members.values() if chat == chat_pk)
        return [p.name for p in people if p]


@dataclass(slots=True)
class ChatContext:
    book: Book
    media_root: Path | None
    is_group: bool
    partner: Person | None


def read_chatstorage(
    conn: sqlite3.Connection,
    schema: Schema,
    *,
    path: Path,
    media_root: Path | None,
    chat_filter: ChatFilter | None,
) -> Iterator[Result]:
    missing = schema.missing("ZWAMESSAGE", REQUIRED)
    if missing or not schema.has("ZWACHATSESSION", "Z_PK", "ZCONTACTJID"):
        raise DeviceDbError(
            f"unknown ChatStorage schema: ZWAMESSAGE/ZWACHATSESSION lack {missing or 'columns'}"
        )
    sql = _message_sql(schema)
    book = Book.load(conn, schema)
    chat_rows = _chat_rows(conn, schema, book)
    wal = wal_warning(path)
    for chat_row in chat_rows:
        chat, ctx = _chat(chat_row, book, media_root)
        if chat_filter and not chat_filter.matches(chat.key, [phone_of(chat.key)], chat.title):
            continue
        messages = _messages(
            conn.execute(sql.format(where="m.ZCHATSESSION = ?"), (chat_row["pk"],)).fetchall(), ctx
        )
        add_seen_senders(chat, messages)
        finish_chat(chat, messages, wal)
        yield chat, messages
    if chat_filter is None:
        yield from _orphans(conn, sql, book, media_root, wal)


def _chat_rows(conn: sqlite3.Connection, schema: Schema, book: Book) -> list[sqlite3.Row]:
    cols = schema.pick("ZWACHATSESSION", "c", {"ZPARTNERNAME": "partner", "ZSESSIONTYPE": "stype"})
    cols += schema.pick("ZWACHATSESSION", "c", {"ZREMOVED": "removed"})
    sql = f"SELECT c.Z_PK AS pk, c.ZCONTACTJID AS jid, {', '.join(cols)} FROM ZWACHATSESSION c"  # noqa: S608 (schema identifiers)
    rows: list[sqlite3.Row] = conn.execute(sql + " ORDER BY c.Z_PK").fetchall()
    for row in rows:
        if jid_server(as_str(row["jid"])) != "g.us":
            book.learn(as_str(row["jid"]), as_str(row["partner"]))
    return rows


def _message_sql(schema: Schema) -> str:
    q = Query(schema)
    q.columns = ["m.Z_PK AS row_id", "m.ZCHATSESSION AS chat_row", "m.ZISFROMME AS from_me"]
    q.columns += ["m.ZMESSAGEDATE AS ts", "m.ZMESSAGETYPE AS mtype"]
    q.columns += schema.pick("ZWAMESSAGE", "m", _MESSAGE_COLUMNS)
    media = {"Z_PK": "media_row", "ZMEDIALOCALPATH": "media_path", "ZVCARDSTRING": "vcard_string"}
    media |= {"ZVCARDNAME": "media_hash", "ZTITLE": "media_title", "ZFILESIZE": "media_size"}
    media |= {"ZLATITUDE": "lat", "ZLONGITUDE": "lon"}
    q.join("ZWAMEDIAITEM", "mi", _media_link(schema), media, key="Z_PK")
    if schema.has("ZWAMESSAGE", "ZMESSAGEINFO"):
        q.join("ZWAMESSAGEINFO", "mx", "mx.Z_PK = m.ZMESSAGEINFO", {"ZRECEIPTINFO": "receipt"}, key="Z_PK")
    else:
        q.columns.append("NULL AS receipt")
    order = (
        "m.ZSORT, m.ZMESSAGEDATE, m.Z_PK" if schema.has("ZWAMESSAGE", "ZSORT") else "m.ZMESSAGEDATE, m.Z_PK"
    )
    return q.sql("ZWAMESSAGE m", "{where}", order)


def _media_link(schema: Schema) -> str:
    """Join condition for a message's media item, matching at most one row.

    Core Data keeps the relationship both ways (ZWAMESSAGE.ZMEDIAITEM and ZWAMEDIAITEM.ZMESSAGE);
    KnugiHK and IPED join on the back-reference, so use it when the forward pointer is empty.
    """
    back = "(SELECT x.Z_PK FROM ZWAMEDIAITEM x WHERE x.ZMESSAGE = m.Z_PK ORDER BY x.Z_PK LIMIT 1)"
    has_forward, has_back = schema.has("ZWAMESSAGE", "ZMEDIAITEM"), schema.has("ZWAMEDIAITEM", "ZMESSAGE")
    if has_forward and has_back:
        return f"mi.Z_PK = COALESCE(NULLIF(m.ZMEDIAITEM, 0), {back})"
    if has_forward:
        return "mi.Z_PK = m.ZMEDIAITEM"
    return f"mi.Z_PK = {back}" if has_back else "0"


_MESSAGE_COLUMNS = {
    "ZSTANZAID": "key_id",
    "ZTEXT": "text",
    "ZGROUPEVENTTYPE": "event",
    "ZGROUPMEMBER": "member",
    "ZFROMJID": "from_jid",
    "ZMESSAGESTATUS": "status",
    "ZFLAGS": "flags",
    "ZMETADATA": "metadata",
}


def _chat(row: sqlite3.Row, book: Book, media_root: Path | None) -> tuple[r.ParsedChat, ChatContext]:
    jid, partner_name = as_str(row["jid"]), as_str(row["partner"])
    is_group = jid_server(jid) == "g.us" or as_int(row["stype"]) == SESSION_GROUP
    person = None if is_group else book.person(jid, _contact_name(partner_name, book.push.get(jid or "")))
    title = (
        partner_name if is_group and partner_name else (person.name if person else jid or f"chat {row['pk']}")
    )
    chat = r.ParsedChat(title=title, key=jid, is_group=is_group, platform="ios", source_format="chatstorage")
    chat.participants = book.chat_members(int(row["pk"])) if is_group else ([person.name] if person else [])
    if as_int(row["removed"]):
        chat.anomalies.append("chat is marked as removed on the device (ZREMOVED)")
    return chat, ChatContext(book, media_root, is_group, person)


def _contact_name(partner_name: str | None, push_name: str | None) -> str | None:
    """ZPARTNERNAME is a bare number when the contact is not in the address book; a push name
    is more telling then (KnugiHK does the same)."""
    if partner_name and push_name and _is_number(partner_name):
        return push_name
    return partner_name or push_name


def _is_number(name: str) -> bool:
    return name.replace("+", "").replace(" ", "").replace("-", "").isdigit()


def _orphans(
    conn: sqlite3.Connection, sql: str, book: Book, media_root: Path | None, wal: str | None
) -> Iterator[Result]:
    where = "(m.ZCHATSESSION IS NULL OR m.ZCHATSESSION NOT IN (SELECT Z_PK FROM ZWACHATSESSION))"
    rows = conn.execute(sql.format(where=where)).fetchall()
    if not rows:
        return
    messages = _messages(rows, ChatContext(book, media_root, is_group=False, partner=None))
    for row, message in zip(rows, messages, strict=True):
        message.anomalies.append(f"chat session {row['chat_row']} not found")
    chat = orphan_chat("ios", "chatstorage", len(messages))
    finish_chat(chat, messages, wal)
    yield chat, messages


# --------------------------------------------------------------------------- messages


def _messages(rows: list[sqlite3.Row], ctx: ChatContext) -> list[r.ParsedMessage]:
    out = [_message(row, ctx) for row in rows]
    by_key = {m.key: m.text for m in out if m.key}
    for message in out:
        if message.reply_to_key:
            message.reply_to_text = by_key.get(message.reply_to_key)
    return out


def _message(row: sqlite3.Row, ctx: ChatContext) -> r.ParsedMessage:
    anomalies: list[str] = []
    code = as_int(row["mtype"])
    known = codes.IOS_MESSAGE_TYPES.get(code) if code is not None else None
    if known is None:
        anomalies.append(f"unknown ZMESSAGETYPE {code}")
    timestamp = apple_time(row["ts"])
    if timestamp is None:
        anomalies.append(f"missing ZMESSAGEDATE {row['ts']!r}; shown as 1970-01-01")
    row_id = int(row["row_id"])
    message = r.ParsedMessage(
        index=0,
        timestamp=timestamp or UNIX_EPOCH,
        sender=None,
        text=as_str(row["text"]) or "",
        kind=known[0] if known else r.KIND_UNSUPPORTED,
        from_me=bool(as_int(row["from_me"])),
        key=as_str(row["key_id"]),
        line_start=row_id,
        line_end=row_id,
        anomalies=anomalies,
    )
    _content(message, row, code, ctx)
    _sender(message, row, ctx)
    _extras(message, row, ctx)
    return message


def _content(message: r.ParsedMessage, row: sqlite3.Row, code: int | None, ctx: ChatContext) -> None:
    if code == codes.IOS_REVOKED:
        message.deleted, message.text = True, ""
    elif code == codes.IOS_GROUP_EVENT:
        _group_event(message, as_int(row["event"]))
    elif code == codes.IOS_CHAT_EVENT:
        _chat_event(message, as_int(row["event"]))
    elif message.kind == r.KIND_SYSTEM:
        message.system_event, message.text = "other", f"system message (ZMESSAGETYPE {code})"
    elif message.kind in codes.MEDIA_KINDS:
        _media(message, row, ctx)
    elif message.kind == r.KIND_CONTACT:
        cards = as_str(row["vcard_string"])
        message.text = "\n".join(cards.split(VCARD_SEPARATOR)) if cards else message.text
    elif message.kind == r.KIND_LOCATION:
        message.latitude, message.longitude = as_float(row["lat"]), as_float(row["lon"])


def _group_event(message: r.ParsedMessage, event: int | None) -> None:
    known = codes.IOS_GROUP_EVENTS.get(event) if event is not None else None
    if known is None:
        message.anomalies.append(f"unknown ZGROUPEVENTTYPE {event} for a group event")
        message.system_event, message.text = "other", f"group event (ZGROUPEVENTTYPE {event})"
        return
    name, description = known
    if name == "group_renamed" and message.text:
        description = f'{description} to "{message.text}"'
    elif name == "other":
        description = f"{description} (ZGROUPEVENTTYPE {event})"
    message.system_event, message.text = name, description


def _chat_event(message: r.ParsedMessage, event: int | None) -> None:
    known = codes.IOS_CHAT_EVENTS.get(event) if event is not None else None
    if known is None:
        message.anomalies.append(f"unknown ZGROUPEVENTTYPE {event} for a call/chat event")
        message.kind, message.system_event = r.KIND_SYSTEM, "other"
        message.text = f"chat event (ZGROUPEVENTTYPE {event})"
        return
    message.kind, message.system_event, message.text = known


def _media(message: r.ParsedMessage, row: sqlite3.Row, ctx: ChatContext) -> None:
    stored = as_str(row["media_path"])
    caption = as_str(row["media_title"]) or message.text or None
    if message.kind == r.KIND_AUDIO and stored and stored.lower().endswith(".opus"):
        message.kind = r.KIND_VOICE  # voice notes are recorded as opus (heuristic)
    if row["media_row"] is None:
        message.anomalies.append("media message without a ZWAMEDIAITEM row")
    filename = Path(stored).name if stored else (caption if message.kind == r.KIND_DOCUMENT else None)
    message.text = caption or ""
    message.attachments.append(
        attachment(
            filename=filename,
            stored=stored,
            media_root=ctx.media_root,
            bases=MEDIA_BASES,
            anomalies=message.anomalies,
            mime=as_str(row["vcard_string"]),
            size=as_int(row["media_size"]),
            sha256_b64=as_str(row["media_hash"]),
            caption=caption,
        )
    )


def _sender(message: r.ParsedMessage, row: sqlite3.Row, ctx: ChatContext) -> None:
    member = ctx.book.member(as_int(row["member"]))
    person: Person | None
    if message.from_me and message.kind != r.KIND_SYSTEM:
        person = Person(name=ME, sender_id=None)
    elif ctx.is_group:
        person = member or ctx.book.person(as_str(row["from_jid"]))
        if person is None and message.kind != r.KIND_SYSTEM:
            message.anomalies.append("incoming group message without a sender")
    elif message.kind == r.KIND_SYSTEM:
        person = None  # 1:1 notices (encryption, security code…) are nobody's words
    else:
        person = ctx.partner
    if person is not None:
        message.sender, message.sender_id = person.name, person.sender_id


def _extras(message: r.ParsedMessage, row: sqlite3.Row, ctx: ChatContext) -> None:
    flags = as_int(row["flags"]) or 0
    message.forwarded = bool(flags & codes.IOS_FORWARDED_FLAG)
    status = as_int(row["status"])
    if message.from_me and message.kind != r.KIND_SYSTEM and status is not None:
        message.status = codes.IOS_STATUS.get(status)
    metadata = row["metadata"]
    if isinstance(metadata, bytes) and metadata:
        message.reply_to_key = _quoted_key(metadata, message.anomalies)
    receipt = row["receipt"]
    if isinstance(receipt, bytes) and receipt:
        message.reactions = _reactions(receipt, ctx, message.anomalies)


def _quoted_key(blob: bytes, anomalies: list[str]) -> str | None:
    fields = protobuf_fields(blob)
    if fields is None:
        anomalies.append("ZMETADATA could not be decoded")
        return None
    for number, value in fields:
        if number == 5 and isinstance(value, bytes):
            return _text(value)
    return None


def _reactions(blob: bytes, ctx: ChatContext, anomalies: list[str]) -> list[tuple[str, str, datetime | None]]:
    fields = protobuf_fields(blob)
    if fields is None:
        anomalies.append("ZRECEIPTINFO could not be decoded; reactions unknown")
        return []
    out: list[tuple[str, str, datetime | None]] = []
    for number, value in fields:
        if number != 7 or not isinstance(value, bytes):
            continue
        for kind, entry in protobuf_fields(value) or []:
            if isinstance(entry, bytes) and kind in (1, 2):
                reaction = _reaction(entry, from_me=kind == 2, ctx=ctx)
                if reaction:
                    out.append(reaction)
    return out


def _reaction(blob: bytes, *, from_me: bool, ctx: ChatContext) -> tuple[str, str, datetime | None] | None:
    values = dict(protobuf_fields(blob) or [])
    emoji_field, time_field = (2, 3) if from_me else (3, 4)
    emoji = _text(values.get(emoji_field))
    if not emoji:
        return None
    if from_me:
        who: str = ME
    else:
        person = ctx.book.person(_text(values.get(2))) or ctx.partner
        who = person.name if person else "unknown"
    return who, emoji, _reaction_time(values.get(time_field))


def _reaction_time(value: int | bytes | None) -> datetime | None:
    number = value if isinstance(value, int) else as_int(_text(value))
    if number is None:
        return None
    # IPED reads milliseconds; accept seconds too rather than land in January 1970.
    return from_unix_ms(number if number > 10**11 else number * 1000)


def _text(value: int | bytes | None) -> str | None:
    if not isinstance(value, bytes):
        return None
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text and text.isprintable() else None
