"""Shared plumbing for the device-database readers: safe opening, schema probing, time, filters, media.

Design
- Evidence is opened through a ``file:`` URI with ``mode=ro&immutable=1``. ``immutable`` makes
  SQLite skip locking and never create ``-wal`` / ``-shm`` / journal files, so neither the file
  nor its directory changes. The price: a write-ahead log lying next to the database is *not*
  read; we say so in every chat's ``anomalies`` instead of silently returning less.
- The schemas drift between app versions, so queries are built from what the file contains
  (``Schema``) rather than tried and caught.
- Nothing here knows about Android or iOS specifics; see ``android*.py`` and ``ios.py``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from onfile.imports.records import ParsedAttachment, ParsedChat, ParsedMessage

SQLITE_MAGIC = b"SQLite format 3\x00"
# Core Data (iOS) stores dates as seconds since 2001-01-01T00:00:00Z.
APPLE_EPOCH_OFFSET = 978307200
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ENCRYPTED_SUFFIX = re.compile(r"\.crypt(\d+)$", re.IGNORECASE)


class DeviceDbError(Exception):
    """The file cannot be read as a WhatsApp device database at all."""


# --------------------------------------------------------------------------- opening


def check_file(path: Path) -> None:
    """Raise a DeviceDbError that tells the user what to do when ``path`` is not a plain SQLite file."""
    if not path.is_file():
        raise DeviceDbError(f"{path}: no such file")
    match = _ENCRYPTED_SUFFIX.search(path.name)
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_MAGIC))
    if header == SQLITE_MAGIC:
        return
    if match:
        raise DeviceDbError(
            f"{path.name} is an encrypted WhatsApp backup (crypt{match.group(1)}); decrypt it first, "
            "e.g. with wa-crypt-tools or WhatsApp-Chat-Exporter (wtsexporter) and the backup key, "
            "then import the decrypted msgstore.db"
        )
    raise DeviceDbError(f"{path.name} is not a SQLite database (decrypted msgstore.db or ChatStorage.sqlite)")


def open_readonly(path: Path) -> sqlite3.Connection:
    """Open ``path`` read-only and immutable; the evidence file is never written to."""
    check_file(path)
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
        conn.row_factory = sqlite3.Row
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise DeviceDbError(f"{path.name}: unreadable SQLite database ({exc})") from exc
    return conn


def wal_warning(path: Path) -> str | None:
    """A note for the chats when a non-empty write-ahead log sits next to the database."""
    wal = path.with_name(path.name + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        return (
            f"{wal.name} ({wal.stat().st_size} bytes) was not read: the database is opened immutable "
            "so the evidence is never modified; checkpoint a working copy to include recent changes"
        )
    return None


# --------------------------------------------------------------------------- schema


@dataclass(slots=True)
class Schema:
    """Tables and their columns, looked up case-insensitively (as SQLite does)."""

    tables: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def read(cls, conn: sqlite3.Connection) -> Schema:
        schema = cls()
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        for name in names:
            quoted = name.replace('"', '""')
            columns = {r[1].lower() for r in conn.execute(f'PRAGMA table_info("{quoted}")')}
            schema.tables[name.lower()] = columns
        return schema

    def has(self, table: str, *columns: str) -> bool:
        cols = self.tables.get(table.lower())
        return cols is not None and all(c.lower() in cols for c in columns)

    def missing(self, table: str, columns: Iterable[str]) -> list[str]:
        cols = self.tables.get(table.lower(), set())
        return [c for c in columns if c.lower() not in cols]

    def pick(self, table: str, alias: str, columns: dict[str, str]) -> list[str]:
        """``alias.column AS name`` for the columns that exist, ``NULL AS name`` for the others."""
        out = []
        for column, name in columns.items():
            present = self.has(table, column)
            out.append(f"{alias}.{column} AS {name}" if present else f"NULL AS {name}")
        return out


@dataclass(slots=True)
class Query:
    """A SELECT assembled from optional LEFT JOINs; tables absent from the file contribute NULLs."""

    schema: Schema
    columns: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)

    def join(
        self, table: str, alias: str, on: str, columns: dict[str, str], key: str = "message_row_id"
    ) -> bool:
        """LEFT JOIN ``table`` when it exists and has its ``key`` column; else select NULLs."""
        if not self.schema.has(table, key):
            self.columns.extend(f"NULL AS {name}" for name in columns.values())
            return False
        self.columns.extend(self.schema.pick(table, alias, columns))
        self.joins.append(f"LEFT JOIN {table} {alias} ON {on}")
        return True

    def sql(self, base: str, where: str, order: str) -> str:
        columns, joins = ", ".join(self.columns), " ".join(self.joins)
        return f"SELECT {columns} FROM {base} {joins} WHERE {where} ORDER BY {order}"  # noqa: S608 (schema identifiers)


# --------------------------------------------------------------------------- values


def as_str(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def as_int(value: object) -> int | None:
    if value is None or isinstance(value, bytes):
        return None
    try:
        return int(str(value))
    except ValueError:
        try:
            return int(float(str(value)))
        except ValueError:
            return None


def as_float(value: object) -> float | None:
    if value is None or isinstance(value, bytes):
        return None
    try:
        return float(str(value))
    except ValueError:
        return None


def from_unix_ms(value: object) -> datetime | None:
    ms = as_int(value)
    if ms is None or ms <= 0:
        return None
    # timedelta keeps millisecond precision exactly (no float rounding).
    return UNIX_EPOCH + timedelta(milliseconds=ms)


def from_apple_seconds(value: object) -> datetime | None:
    seconds = as_float(value)
    if seconds is None:
        return None
    return UNIX_EPOCH + timedelta(seconds=seconds + APPLE_EPOCH_OFFSET)


# --------------------------------------------------------------------------- JIDs and filters


def jid_user(jid: str | None) -> str | None:
    if not jid:
        return None
    return jid.split("@", 1)[0] or None


def jid_server(jid: str | None) -> str:
    if not jid or "@" not in jid:
        return ""
    return jid.split("@", 1)[1].lower()


def phone_of(jid: str | None) -> str | None:
    """The phone number of a user JID (``41791234567@s.whatsapp.net``); None for groups, lids…"""
    if jid_server(jid) not in ("s.whatsapp.net", "c.us"):
        return None
    user = jid_user(jid)
    # Device JIDs look like ``4179….0:12@s.whatsapp.net`` (agent, device); neither is the number.
    user = user.split(":", 1)[0].split(".", 1)[0] if user else None
    return user if user and user.isdigit() else None


@dataclass(frozen=True, slots=True)
class ChatFilter:
    """``chat=`` as given by the user: a JID, a phone number or part of a title."""

    query: str

    def matches(self, jid: str | None, phones: Iterable[str | None], title: str) -> bool:
        q = self.query.strip().lower()
        if not q:
            return True
        if jid and q == jid.lower():
            return True
        digits = re.sub(r"\D", "", q)
        # Only treat the query as a number when it looks like one ("+41 79 123 45 67").
        looks_like_number = len(digits) >= 5 and re.fullmatch(r"[\d\s+().-]+", q) is not None
        if looks_like_number and (any(p == digits for p in phones) or (jid and jid_user(jid) == digits)):
            return True
        return q in title.lower()


# --------------------------------------------------------------------------- media


def find_media(media_root: Path | None, stored: str | None, bases: tuple[str, ...] = ("",)) -> Path | None:
    """The file a media row points to, under ``media_root``; None when it is not there.

    ``stored`` may be relative (current apps) or an absolute device path such as
    ``/storage/emulated/0/WhatsApp/Media/…`` (old Android); for the latter we retry from the
    ``Media`` segment. Paths escaping ``media_root`` (``..``) are refused.
    """
    if media_root is None or not stored:
        return None
    root = media_root.resolve()
    candidates = [stored.lstrip("/")]
    parts = Path(stored).parts
    if "Media" in parts:
        candidates.append(str(Path(*parts[parts.index("Media") :])))
    for base in bases:
        for rel in candidates:
            target = (root / base / rel).resolve()
            if target.is_relative_to(root) and target.is_file():
                return target
    return None


def attachment(
    *,
    filename: str | None,
    stored: str | None,
    media_root: Path | None,
    bases: tuple[str, ...],
    anomalies: list[str],
    mime: str | None = None,
    size: int | None = None,
    sha256_b64: str | None = None,
    caption: str | None = None,
) -> ParsedAttachment:
    """Build a ParsedAttachment, resolving the file and noting a missing one."""
    found = find_media(media_root, stored, bases)
    if found is None and media_root is not None:
        where = stored if stored else "no local path recorded"
        anomalies.append(f"media file not found under media root: {where}")
    name = filename or (Path(stored).name if stored else None)
    return ParsedAttachment(
        filename=name,
        omitted=found is None,
        path=str(found) if found else None,
        mime=mime,
        size=size,
        sha256_b64=sha256_b64 or None,
        caption=caption,
    )


# --------------------------------------------------------------------------- records


def finish_chat(chat: ParsedChat, messages: list[ParsedMessage], wal_note: str | None) -> None:
    """Number the messages in order and attach file-level notes to the chat."""
    for index, message in enumerate(messages):
        message.index = index
    if wal_note:
        chat.anomalies.append(wal_note)


def add_seen_senders(chat: ParsedChat, messages: list[ParsedMessage]) -> None:
    """Add group senders missing from the member list (people who left, stale member tables)."""
    if not chat.is_group:
        return
    for message in messages:
        if message.sender and not message.from_me and message.sender not in chat.participants:
            chat.participants.append(message.sender)


def orphan_chat(platform: str, source_format: str, count: int) -> ParsedChat:
    """A holder for messages whose chat row is missing, so they are not silently dropped."""
    return ParsedChat(
        title="(messages without a chat)",
        key=None,
        platform=platform,
        source_format=source_format,
        anomalies=[f"{count} message row(s) refer to a chat that is not in the database"],
    )


# --------------------------------------------------------------------------- protobuf


def protobuf_fields(blob: bytes) -> list[tuple[int, int | bytes]] | None:
    """Top-level ``(field number, value)`` pairs of a protobuf message; None if it does not parse.

    Only what the iOS blobs need: varints and length-delimited values (fixed32/64 are skipped).
    """
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    try:
        while pos < len(blob):
            key, pos = _varint(blob, pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = _varint(blob, pos)
                out.append((number, value))
            elif wire == 2:
                length, pos = _varint(blob, pos)
                if pos + length > len(blob):
                    return None
                out.append((number, blob[pos : pos + length]))
                pos += length
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
            else:
                return None
    except IndexError:
        return None
    return out if pos == len(blob) else None


def _varint(blob: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = blob[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise IndexError("varint too long")
