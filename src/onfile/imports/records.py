"""What every import source yields: plain records, no Django, no database.

Each importer (chat-export text, Android msgstore.db, iOS ChatStorage.sqlite) turns its
input into these records. The import action then captures, ledgers and projects them.
Keeping the parsers pure makes them fast, testable with hypothesis, and reusable by the
benchmark without a database.

Conventions
- Text is kept as written (no Unicode normalisation; REQ-MIFID-2: the original must be
  reproducible). Only the *parsing copy* of a header is normalised.
- ``timestamp`` is naive local time for chat exports (they carry no zone; the importer
  applies ``--tz``) and timezone-aware UTC for device databases.
- ``key`` is the stable identity within the source when the source has one (the
  stanza id / wamid of a device database); ``None`` for chat exports, whose identity the
  importer derives from timestamp, sender, text and occurrence (ARCHITECTURE invariant 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Message kinds shared by every source.
KIND_TEXT = "text"
KIND_IMAGE = "image"
KIND_VIDEO = "video"
KIND_AUDIO = "audio"
KIND_VOICE = "voice"
KIND_DOCUMENT = "document"
KIND_STICKER = "sticker"
KIND_GIF = "gif"
KIND_CONTACT = "contact"
KIND_LOCATION = "location"
KIND_CALL = "call"
KIND_SYSTEM = "system"
KIND_REACTION = "reaction"
KIND_UNSUPPORTED = "unsupported"
KIND_MEDIA = "media"  # media of unknown kind (e.g. "<Media omitted>")

# System event names (``ParsedMessage.system_event``).
SYSTEM_EVENTS = (
    "encryption_notice",
    "group_created",
    "group_renamed",
    "group_icon_changed",
    "group_description_changed",
    "member_added",
    "member_removed",
    "member_left",
    "member_joined_via_link",
    "security_code_changed",
    "number_changed",
    "disappearing_timer",
    "blocked",
    "unblocked",
    "business_account",
    "is_a_contact",
    "call",
    "other",
)


@dataclass(slots=True)
class ParsedAttachment:
    """A file a message refers to.

    ``filename`` is the name as the source gives it (export line or media table).
    ``path`` is where the bytes are inside the export zip / media folder, when found;
    ``omitted`` is true when the source says the media was left out or the file is
    missing (a placeholder is stored and counted).
    """

    filename: str | None
    omitted: bool = False
    path: str | None = None
    mime: str | None = None
    size: int | None = None
    sha256_b64: str | None = None  # the source's own hash when it has one (msgstore file_hash)
    caption: str | None = None


@dataclass(slots=True)
class ParsedMessage:
    """One message or system event, in source order."""

    index: int  # 0-based position in the source, after sorting by the source's own order
    timestamp: datetime
    sender: str | None  # display name / number as written; None for unattributed system lines
    text: str  # body as written, newlines kept, markers such as "<This message was edited>" removed
    kind: str = KIND_TEXT
    system_event: str | None = None
    from_me: bool | None = None  # known for device databases; exports decide via --me/--custodian
    sender_id: str | None = None  # phone number / JID user part when the source knows it
    deleted: bool = False
    edited: bool = False
    forwarded: bool = False
    attachments: list[ParsedAttachment] = field(default_factory=list)
    key: str | None = None  # stable id in the source (stanza id) when it has one
    reply_to_key: str | None = None
    reply_to_text: str | None = None
    reactions: list[tuple[str, str, datetime | None]] = field(default_factory=list)  # (sender, emoji, when)
    latitude: float | None = None
    longitude: float | None = None
    status: str | None = None  # sent / delivered / read / played for outgoing, when known
    line_start: int = 0  # 1-based first line in the source text (exports); row id for databases
    line_end: int = 0  # 1-based last line, inclusive
    raw: str = ""  # the original lines, decoded, unnormalised (exports); "" for databases
    anomalies: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ParsedChat:
    """A conversation as a source describes it (one per export; one per chat in a database)."""

    title: str
    key: str | None = None  # the chat JID for databases; None for exports
    is_group: bool = False
    participants: list[str] = field(default_factory=list)
    platform: str = ""  # "android" | "ios"
    source_format: str = ""  # e.g. "android-export", "ios-export", "msgstore", "chatstorage"
    date_order: str | None = None  # "dmy" | "mdy" | "ymd" for exports
    clock: str | None = None  # "12h" | "24h"
    anomalies: list[str] = field(default_factory=list)
