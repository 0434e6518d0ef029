"""Parsed records → projection values. Shared by the live import and the replay, so that
both compute the same keys, directions, times and commitments."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from onfile.conversations.phones import maybe_e164
from onfile.imports.chatexport.archive import _media_key
from onfile.imports.identity import ExportKeys, canonical_message, comparable_text, digest
from onfile.imports.records import KIND_SYSTEM, ParsedAttachment, ParsedChat, ParsedMessage
from onfile.ledger.actions import keyed_commitment
from onfile.ledger.merkle import leaf_hash, root

EXPORT = "chat-export"


@dataclass
class Converted:
    key: str
    sent_at: datetime
    direction: str
    message: ParsedMessage
    commitment: bytes


@dataclass
class RunContext:
    """What conversion needs to know about a run (from its ``import.started`` entry)."""

    kind: str
    options: dict[str, Any]
    media: dict[str, tuple[int, str, int, str]]  # member → (blob id, sha256, size, mime)
    media_root: Path | None = None  # where a device reader found the captured media

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(str(self.options["tz"]))
        self.me = comparable_text(str(self.options.get("me") or "")).casefold()
        self.keys: dict[str, ExportKeys] = {}
        self.media_index = {_media_key(name): name for name in self.media}
        self._conversation_keys: dict[tuple[str, str | None, bool], str] = {}
        self._times: dict[datetime, datetime] = {}

    def conversation_key(self, chat: ParsedChat) -> str:
        cache_key = (chat.title, chat.key, chat.is_group)
        found = self._conversation_keys.get(cache_key)
        if found is None:
            found = self._conversation_keys[cache_key] = self._conversation_key(chat)
        return found

    def _conversation_key(self, chat: ParsedChat) -> str:
        custodian = self.options.get("custodian_id") or 0
        client = self.options.get("client_id")
        if client and not chat.is_group:
            return f"device:client:{client}:custodian:{custodian}"
        if self.kind == EXPORT or not chat.key:
            return f"device:chat:{digest(chat.title)}:custodian:{custodian}"
        return f"device:jid:{chat.key}:custodian:{custodian}"

    def sent_at(self, m: ParsedMessage) -> datetime:
        if m.timestamp.tzinfo is not None:
            return m.timestamp.astimezone(UTC)
        # Many messages share a minute: convert each distinct local time once.
        found = self._times.get(m.timestamp)
        if found is None:
            if len(self._times) > 100_000:
                self._times.clear()
            found = self._times[m.timestamp] = m.timestamp.replace(tzinfo=self.zone).astimezone(UTC)
        return found

    def direction(self, m: ParsedMessage) -> str:
        if m.kind == KIND_SYSTEM:
            return "system"
        if m.from_me is not None:
            return "out" if m.from_me else "in"
        return "out" if self.me and comparable_text(m.sender or "").casefold() == self.me else "in"

    def key(self, chat: ParsedChat, sent_at: datetime, direction: str, m: ParsedMessage) -> str:
        conversation = self.conversation_key(chat)
        if m.key:
            return "k:" + digest(conversation, m.key)
        keys = self.keys.get(conversation)
        if keys is None:
            keys = self.keys[conversation] = ExportKeys(conversation)
        return keys.key(sent_at, direction, m)

    def convert(self, chat: ParsedChat, messages: list[ParsedMessage]) -> list[Converted]:
        out = []
        hmac_input = []
        for m in messages:
            sent_at = self.sent_at(m)
            direction = self.direction(m)
            key = self.key(chat, sent_at, direction, m)
            hmac_input.append(canonical_message(key, sent_at, direction, m))
            out.append(Converted(key, sent_at, direction, m, b""))
        for item, content in zip(out, hmac_input, strict=True):
            item.commitment = leaf_hash(bytes.fromhex(keyed_commitment(content)))
        return out

    def attachment_blob(self, a: ParsedAttachment) -> tuple[int, str, int, str] | None:
        if a.omitted:
            return None
        member = None
        if self.kind == EXPORT and a.filename:
            member = a.filename if a.filename in self.media else self.media_index.get(_media_key(a.filename))
        elif a.path and self.media_root is not None:
            member = Path(a.path).relative_to(self.media_root).as_posix()
        return self.media.get(member) if member else None


def batch_commitment(converted: list[Converted]) -> str:
    """The batch entry commits to a Merkle tree of its messages' keyed hashes."""
    return root([c.commitment for c in converted]).hex()


def guess_mime(name: str | None) -> str:
    return (mimetypes.guess_type(name or "")[0]) or "application/octet-stream"


def sender_phone(m: ParsedMessage) -> str:
    if m.sender_id and m.sender_id.isdigit():
        return "+" + m.sender_id
    return maybe_e164(m.sender)
