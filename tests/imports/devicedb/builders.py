"""Small WhatsApp device databases for the devicedb tests, built from the published schemas.

The CREATE TABLE statements use the real table and column names (a subset of the columns) as
seen in KnugiHK/WhatsApp-Chat-Exporter and frozenspider/chat-history-manager queries, a 2019
msgstore schema dump (legacy) and IPED's ChatStorage queries (iOS). Loaded by conftest.py under
the module name ``devicedb_builders``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

ANDROID_TABLES: dict[str, str] = {
    "jid": """CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL,
        server TEXT NOT NULL, agent INTEGER, device INTEGER, type INTEGER, raw_string TEXT)""",
    "chat": """CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE,
        hidden INTEGER, subject TEXT, created_timestamp INTEGER, archived INTEGER, sort_timestamp INTEGER)""",
    "message": """CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL,
        from_me INTEGER NOT NULL, key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER,
        broadcast INTEGER, recipient_count INTEGER, origin INTEGER, timestamp INTEGER,
        received_timestamp INTEGER, receipt_server_timestamp INTEGER, message_type INTEGER,
        text_data TEXT, starred INTEGER, lookup_tables INTEGER, sort_id INTEGER NOT NULL DEFAULT 0)""",
    "message_media": """CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER,
        transferred INTEGER, file_path TEXT, file_size INTEGER, media_key BLOB, width INTEGER,
        height INTEGER, direct_path TEXT, message_url TEXT, mime_type TEXT, file_length INTEGER,
        media_name TEXT, file_hash TEXT, media_duration INTEGER, enc_file_hash TEXT, media_caption TEXT)""",
    "message_quoted": """CREATE TABLE message_quoted (message_row_id INTEGER PRIMARY KEY,
        chat_row_id INTEGER NOT NULL, parent_message_chat_row_id INTEGER NOT NULL, from_me INTEGER NOT NULL,
        sender_jid_row_id INTEGER, key_id TEXT NOT NULL, timestamp INTEGER, message_type INTEGER,
        origin INTEGER, text_data TEXT)""",
    "message_location": """CREATE TABLE message_location (message_row_id INTEGER PRIMARY KEY,
        chat_row_id INTEGER, latitude REAL, longitude REAL, place_name TEXT, place_address TEXT, url TEXT,
        live_location_share_duration INTEGER)""",
    "message_vcard": """CREATE TABLE message_vcard (_id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_row_id INTEGER, vcard TEXT)""",
    "message_add_on": """CREATE TABLE message_add_on (_id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_row_id INTEGER NOT NULL, from_me INTEGER NOT NULL, key_id TEXT NOT NULL,
        sender_jid_row_id INTEGER, parent_message_row_id INTEGER NOT NULL, timestamp INTEGER,
        status INTEGER, message_add_on_type INTEGER)""",
    "message_add_on_reaction": """CREATE TABLE message_add_on_reaction (message_add_on_row_id INTEGER
        PRIMARY KEY, reaction TEXT, sender_timestamp INTEGER)""",
    "message_edit_info": """CREATE TABLE message_edit_info (message_row_id INTEGER PRIMARY KEY,
        original_key_id TEXT NOT NULL, edited_timestamp INTEGER NOT NULL,
        sender_timestamp INTEGER NOT NULL)""",
    "message_revoked": """CREATE TABLE message_revoked (message_row_id INTEGER PRIMARY KEY,
        revoked_key_id TEXT NOT NULL, admin_jid_row_id INTEGER, revoke_timestamp INTEGER)""",
    "message_forwarded": """CREATE TABLE message_forwarded (message_row_id INTEGER PRIMARY KEY,
        forward_score INTEGER, forward_origin INTEGER)""",
    "message_system": """CREATE TABLE message_system (message_row_id INTEGER PRIMARY KEY,
        action_type INTEGER NOT NULL)""",
    "message_system_chat_participant": """CREATE TABLE message_system_chat_participant (
        message_row_id INTEGER, user_jid_row_id INTEGER)""",
    "message_system_number_change": """CREATE TABLE message_system_number_change (
        message_row_id INTEGER PRIMARY KEY, old_jid_row_id INTEGER, new_jid_row_id INTEGER)""",
    "message_system_block_contact": """CREATE TABLE message_system_block_contact (
        message_row_id INTEGER PRIMARY KEY, is_blocked INTEGER)""",
    "jid_map": """CREATE TABLE jid_map (lid_row_id INTEGER PRIMARY KEY, jid_row_id INTEGER,
        sort_id INTEGER)""",
    "lid_display_name": """CREATE TABLE lid_display_name (lid_row_id INTEGER PRIMARY KEY,
        display_name TEXT NOT NULL, username TEXT)""",
    "group_participant_user": """CREATE TABLE group_participant_user (_id INTEGER PRIMARY KEY AUTOINCREMENT,
        group_jid_row_id INTEGER NOT NULL, user_jid_row_id INTEGER NOT NULL, rank INTEGER, pending INTEGER,
        add_timestamp INTEGER, label TEXT)""",
    "props": """CREATE TABLE props (_id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE, value TEXT)""",
}
ANDROID_REQUIRED = ("jid", "chat", "message")

WA_CONTACTS = """CREATE TABLE wa_contacts (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid TEXT NOT NULL,
    is_whatsapp_user BOOLEAN NOT NULL, status TEXT, status_timestamp INTEGER, number TEXT,
    raw_contact_id INTEGER, display_name TEXT, phone_type INTEGER, phone_label TEXT, given_name TEXT,
    family_name TEXT, wa_name TEXT, sort_name TEXT, nickname TEXT, company TEXT, title TEXT)"""

LEGACY_TABLES: dict[str, str] = {
    "messages": """CREATE TABLE messages (_id INTEGER PRIMARY KEY AUTOINCREMENT, key_remote_jid TEXT NOT NULL,
        key_from_me INTEGER, key_id TEXT NOT NULL, status INTEGER, needs_push INTEGER, data TEXT,
        timestamp INTEGER, media_url TEXT, media_mime_type TEXT, media_wa_type TEXT, media_size INTEGER,
        media_name TEXT, media_hash TEXT, media_duration INTEGER, origin INTEGER, latitude REAL,
        longitude REAL, thumb_image TEXT, remote_resource TEXT, received_timestamp INTEGER,
        send_timestamp INTEGER, receipt_server_timestamp INTEGER, receipt_device_timestamp INTEGER,
        raw_data BLOB, recipient_count INTEGER, read_device_timestamp INTEGER,
        played_device_timestamp INTEGER, media_caption TEXT, participant_hash TEXT, starred INTEGER,
        quoted_row_id INTEGER, mentioned_jids TEXT, multicast_id TEXT, edit_version INTEGER,
        media_enc_hash TEXT, payment_transaction_id TEXT, forwarded INTEGER, preview_type INTEGER,
        send_count INTEGER)""",
    "messages_quotes": """CREATE TABLE messages_quotes (_id INTEGER PRIMARY KEY AUTOINCREMENT,
        key_remote_jid TEXT NOT NULL, key_from_me INTEGER, key_id TEXT NOT NULL, status INTEGER, data TEXT,
        timestamp INTEGER, media_wa_type TEXT, remote_resource TEXT)""",
    "messages_vcards": """CREATE TABLE messages_vcards (_id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_row_id INTEGER, sender_jid TEXT, vcard TEXT, chat_jid TEXT)""",
    "chat_list": """CREATE TABLE chat_list (_id INTEGER PRIMARY KEY AUTOINCREMENT, key_remote_jid TEXT UNIQUE,
        message_table_id INTEGER, subject TEXT, creation INTEGER, archived INTEGER,
        sort_timestamp INTEGER)""",
    "group_participants": """CREATE TABLE group_participants (_id INTEGER PRIMARY KEY AUTOINCREMENT,
        gjid TEXT NOT NULL, jid TEXT NOT NULL, admin INTEGER, pending INTEGER, sent_sender_key INTEGER)""",
    "props": ANDROID_TABLES["props"],
}

IOS_TABLES: dict[str, str] = {
    "ZWACHATSESSION": """CREATE TABLE ZWACHATSESSION (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
        ZARCHIVED INTEGER, ZCONTACTABID INTEGER, ZFLAGS INTEGER, ZHIDDEN INTEGER, ZMESSAGECOUNTER INTEGER,
        ZREMOVED INTEGER, ZSESSIONTYPE INTEGER, ZUNREADCOUNT INTEGER, ZGROUPINFO INTEGER,
        ZLASTMESSAGE INTEGER, ZLASTMESSAGEDATE TIMESTAMP, ZCONTACTIDENTIFIER VARCHAR, ZCONTACTJID VARCHAR,
        ZLASTMESSAGETEXT VARCHAR, ZPARTNERNAME VARCHAR)""",
    "ZWAMESSAGE": """CREATE TABLE ZWAMESSAGE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
        ZCHILDMESSAGESDELIVEREDCOUNT INTEGER, ZDATAITEMVERSION INTEGER, ZDOCID INTEGER, ZFLAGS INTEGER,
        ZGROUPEVENTTYPE INTEGER, ZISFROMME INTEGER, ZMESSAGEERRORSTATUS INTEGER, ZMESSAGESTATUS INTEGER,
        ZMESSAGETYPE INTEGER, ZSORT INTEGER, ZSPOTLIGHTSTATUS INTEGER, ZSTARRED INTEGER,
        ZCHATSESSION INTEGER, ZGROUPMEMBER INTEGER, ZLASTSESSION INTEGER, ZMEDIAITEM INTEGER,
        ZMESSAGEINFO INTEGER, ZPARENTMESSAGE INTEGER, ZMESSAGEDATE TIMESTAMP, ZSENTDATE TIMESTAMP,
        ZFROMJID VARCHAR, ZMEDIASECTIONID VARCHAR, ZPHASH VARCHAR, ZPUSHNAME VARCHAR, ZSTANZAID VARCHAR,
        ZTEXT VARCHAR, ZTOJID VARCHAR, ZMETADATA BLOB)""",
    "ZWAMEDIAITEM": """CREATE TABLE ZWAMEDIAITEM (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
        ZCLOUDSTATUS INTEGER, ZFILESIZE INTEGER, ZMEDIAORIGIN INTEGER, ZMOVIEDURATION INTEGER,
        ZMESSAGE INTEGER, ZASPECTRATIO FLOAT, ZLATITUDE FLOAT, ZLONGITUDE FLOAT, ZAUTHORNAME VARCHAR,
        ZMEDIALOCALPATH VARCHAR, ZMEDIAURL VARCHAR, ZTHUMBNAILLOCALPATH VARCHAR, ZTITLE VARCHAR,
        ZVCARDNAME VARCHAR, ZVCARDSTRING VARCHAR, ZXMPPTHUMBPATH VARCHAR, ZMEDIAKEY BLOB, ZMETADATA BLOB)""",
    "ZWAGROUPMEMBER": """CREATE TABLE ZWAGROUPMEMBER (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
        ZISACTIVE INTEGER, ZISADMIN INTEGER, ZCHATSESSION INTEGER, ZCONTACTIDENTIFIER VARCHAR,
        ZCONTACTNAME VARCHAR, ZFIRSTNAME VARCHAR, ZMEMBERJID VARCHAR)""",
    "ZWAPROFILEPUSHNAME": """CREATE TABLE ZWAPROFILEPUSHNAME (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER,
        Z_OPT INTEGER, ZJID VARCHAR, ZPUSHNAME VARCHAR)""",
    "ZWAMESSAGEINFO": """CREATE TABLE ZWAMESSAGEINFO (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
        ZMESSAGE INTEGER, ZRECEIPTINFO BLOB)""",
}

# 2023-11-14T22:13:20Z, as Unix milliseconds and as Core Data seconds (since 2001-01-01).
T0_MS = 1_700_000_000_000
T0_APPLE = 1_700_000_000 - 978_307_200


def _create(path: Path, tables: dict[str, str], keep: Iterable[str]) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    for name in keep:
        conn.execute(tables[name])
    return conn


class AndroidStore:
    """A msgstore.db (current schema). ``skip`` leaves optional tables out."""

    def __init__(self, path: Path, skip: Iterable[str] = ()) -> None:
        self.path = path
        self.conn = _create(path, ANDROID_TABLES, [t for t in ANDROID_TABLES if t not in set(skip)])

    def _insert(self, table: str, **values: object) -> int:
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cur = self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))
        return int(cur.lastrowid or 0)

    def jid(self, raw: str, jid_type: int = 0) -> int:
        user, server = raw.split("@", 1)
        return self._insert("jid", user=user, server=server, agent=0, device=0, type=jid_type, raw_string=raw)

    def chat(self, jid_row: int, subject: str | None = None) -> int:
        return self._insert("chat", jid_row_id=jid_row, subject=subject, hidden=0, archived=0)

    def message(
        self,
        chat: int,
        key: str,
        ts_ms: int,
        *,
        from_me: bool = False,
        sender: int = 0,
        mtype: int = 0,
        text: str | None = None,
        status: int = 0,
        sort_id: int = 0,
        row_id: int | None = None,
    ) -> int:
        values: dict[str, object] = {"_id": row_id} if row_id is not None else {}
        values |= dict(chat_row_id=chat, from_me=int(from_me), key_id=key, sender_jid_row_id=sender)
        values |= dict(status=status, timestamp=ts_ms, message_type=mtype, text_data=text, sort_id=sort_id)
        return self._insert("message", **values)

    def media(self, msg: int, file_path: str | None, mime: str, size: int, **extra: object) -> None:
        self._insert(
            "message_media", message_row_id=msg, file_path=file_path, mime_type=mime, file_size=size, **extra
        )

    def quote(self, msg: int, chat: int, key: str, text: str | None, from_me: bool = False) -> None:
        self._insert(
            "message_quoted", message_row_id=msg, chat_row_id=chat, parent_message_chat_row_id=chat,
            from_me=int(from_me), key_id=key, text_data=text,
        )  # fmt: skip

    def location(self, msg: int, lat: float, lon: float, name: str | None = None) -> None:
        self._insert("message_location", message_row_id=msg, latitude=lat, longitude=lon, place_name=name)

    def vcard(self, msg: int, card: str) -> None:
        self._insert("message_vcard", message_row_id=msg, vcard=card)

    def reaction(
        self, parent: int, chat: int, emoji: str, ts_ms: int, *, from_me: bool = False, sender: int = 0
    ) -> None:
        add_on = self._insert(
            "message_add_on", chat_row_id=chat, from_me=int(from_me), key_id=f"R{parent}-{emoji}",
            sender_jid_row_id=sender, parent_message_row_id=parent, timestamp=ts_ms, message_add_on_type=56,
        )  # fmt: skip
        self._insert(
            "message_add_on_reaction", message_add_on_row_id=add_on, reaction=emoji, sender_timestamp=ts_ms
        )

    def edit(self, msg: int, original_key: str, ts_ms: int) -> None:
        self._insert(
            "message_edit_info", message_row_id=msg, original_key_id=original_key,
            edited_timestamp=ts_ms, sender_timestamp=ts_ms,
        )  # fmt: skip

    def revoke(self, msg: int, revoked_key: str, ts_ms: int) -> None:
        self._insert(
            "message_revoked", message_row_id=msg, revoked_key_id=revoked_key, revoke_timestamp=ts_ms
        )

    def forwarded(self, msg: int, score: int = 1) -> None:
        self._insert("message_forwarded", message_row_id=msg, forward_score=score, forward_origin=0)

    def system(
        self,
        msg: int,
        action: int,
        participants: Iterable[int] = (),
        *,
        old: int | None = None,
        new: int | None = None,
        blocked: int | None = None,
    ) -> None:
        self._insert("message_system", message_row_id=msg, action_type=action)
        for user in participants:
            self._insert("message_system_chat_participant", message_row_id=msg, user_jid_row_id=user)
        if old is not None or new is not None:
            self._insert(
                "message_system_number_change", message_row_id=msg, old_jid_row_id=old, new_jid_row_id=new
            )
        if blocked is not None:
            self._insert("message_system_block_contact", message_row_id=msg, is_blocked=blocked)

    def map_lid(self, lid_row: int, jid_row: int) -> None:
        self._insert("jid_map", lid_row_id=lid_row, jid_row_id=jid_row, sort_id=0)

    def member(self, group_row: int, user_row: int) -> None:
        self._insert("group_participant_user", group_jid_row_id=group_row, user_jid_row_id=user_row, rank=0)

    def prop(self, key: str, value: str) -> None:
        self._insert("props", key=key, value=value)

    def close(self) -> Path:
        self.conn.commit()
        self.conn.close()
        return self.path


def make_wa_db(path: Path, contacts: Iterable[tuple[str, str | None, str | None]]) -> Path:
    """wa.db with ``(jid, display_name, wa_name)`` rows."""
    conn = sqlite3.connect(path)
    conn.execute(WA_CONTACTS)
    for jid, display_name, wa_name in contacts:
        number = jid.split("@", 1)[0]
        conn.execute(
            "INSERT INTO wa_contacts (jid, is_whatsapp_user, number, display_name, wa_name) "
            "VALUES (?, 1, ?, ?, ?)",
            (jid, number, display_name, wa_name),
        )
    conn.commit()
    conn.close()
    return path


class LegacyStore:
    """A pre-2022 msgstore.db with the single ``messages`` table."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = _create(path, LEGACY_TABLES, LEGACY_TABLES)
        # The placeholder row every legacy database starts with.
        self.message("-1", "-1", 0, status=-1)

    def message(self, jid: str, key: str, ts_ms: int, *, from_me: bool = False, **extra: object) -> int:
        values: dict[str, object] = dict(
            key_remote_jid=jid, key_from_me=int(from_me), key_id=key, timestamp=ts_ms
        )
        values |= {"status": 0, "media_wa_type": "0"} | extra
        cols, marks = ", ".join(values), ", ".join("?" for _ in values)
        cur = self.conn.execute(f"INSERT INTO messages ({cols}) VALUES ({marks})", tuple(values.values()))
        return int(cur.lastrowid or 0)

    def quote(self, jid: str, key: str, text: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO messages_quotes (key_remote_jid, key_from_me, key_id, data) VALUES (?, 0, ?, ?)",
            (jid, key, text),
        )
        return int(cur.lastrowid or 0)

    def vcard(self, msg: int, card: str) -> None:
        self.conn.execute("INSERT INTO messages_vcards (message_row_id, vcard) VALUES (?, ?)", (msg, card))

    def chat(self, jid: str, subject: str | None) -> None:
        self.conn.execute("INSERT INTO chat_list (key_remote_jid, subject) VALUES (?, ?)", (jid, subject))

    def member(self, group: str, jid: str) -> None:
        self.conn.execute("INSERT INTO group_participants (gjid, jid, admin) VALUES (?, ?, 0)", (group, jid))

    def close(self) -> Path:
        self.conn.commit()
        self.conn.close()
        return self.path


class IosStore:
    """A ChatStorage.sqlite with the Core Data tables WhatsApp uses."""

    def __init__(self, path: Path, skip: Iterable[str] = ()) -> None:
        self.path = path
        self.conn = _create(path, IOS_TABLES, [t for t in IOS_TABLES if t not in set(skip)])
        self._pk = 0

    def _insert(self, table: str, **values: object) -> int:
        self._pk += 1
        values = {"Z_PK": self._pk, "Z_ENT": 1, "Z_OPT": 1} | values
        cols, marks = ", ".join(values), ", ".join("?" for _ in values)
        self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))
        return self._pk

    def chat(self, jid: str, partner: str | None, *, group: bool = False, removed: int = 0) -> int:
        return self._insert(
            "ZWACHATSESSION", ZCONTACTJID=jid, ZPARTNERNAME=partner, ZSESSIONTYPE=1 if group else 0,
            ZREMOVED=removed,
        )  # fmt: skip

    def member(self, chat: int, jid: str, name: str | None) -> int:
        return self._insert(
            "ZWAGROUPMEMBER", ZCHATSESSION=chat, ZMEMBERJID=jid, ZCONTACTNAME=name, ZISACTIVE=1
        )

    def push_name(self, jid: str, name: str) -> None:
        self._insert("ZWAPROFILEPUSHNAME", ZJID=jid, ZPUSHNAME=name)

    def message(
        self,
        chat: int | None,
        stanza: str,
        apple_ts: float,
        *,
        from_me: bool = False,
        mtype: int = 0,
        text: str | None = None,
        member: int | None = None,
        event: int | None = None,
        status: int = 0,
        flags: int = 0,
        metadata: bytes | None = None,
        sort: int = 0,
        from_jid: str | None = None,
    ) -> int:
        return self._insert(
            "ZWAMESSAGE", ZCHATSESSION=chat, ZSTANZAID=stanza, ZMESSAGEDATE=apple_ts, ZISFROMME=int(from_me),
            ZMESSAGETYPE=mtype, ZTEXT=text, ZGROUPMEMBER=member, ZGROUPEVENTTYPE=event, ZMESSAGESTATUS=status,
            ZFLAGS=flags, ZMETADATA=metadata, ZSORT=sort, ZFROMJID=from_jid,
        )  # fmt: skip

    def media(self, msg: int, local_path: str | None, **extra: object) -> int:
        item = self._insert("ZWAMEDIAITEM", ZMESSAGE=msg, ZMEDIALOCALPATH=local_path, **extra)
        self.conn.execute("UPDATE ZWAMESSAGE SET ZMEDIAITEM = ? WHERE Z_PK = ?", (item, msg))
        return item

    def receipt(self, msg: int, blob: bytes) -> None:
        info = self._insert("ZWAMESSAGEINFO", ZMESSAGE=msg, ZRECEIPTINFO=blob)
        self.conn.execute("UPDATE ZWAMESSAGE SET ZMESSAGEINFO = ? WHERE Z_PK = ?", (info, msg))

    def close(self) -> Path:
        self.conn.commit()
        self.conn.close()
        return self.path


# --------------------------------------------------------------------------- protobuf (for iOS blobs)


def pb_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def pb_field(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return pb_varint(number << 3) + pb_varint(value)
    data = value.encode() if isinstance(value, str) else value
    return pb_varint(number << 3 | 2) + pb_varint(len(data)) + data


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Name → SHA-256 of every file in ``folder`` (to prove nothing was written or created)."""
    return {p.name: sha256_of(p) for p in sorted(folder.iterdir()) if p.is_file()}
