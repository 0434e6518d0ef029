"""Stable identities for imported records (ARCHITECTURE invariant 7), and their commitments.

A device database gives every message its stanza id. A chat export gives nothing, so a
message's identity is derived from what both sides of a chat and every later export of it
agree on: the conversation, the minute it was sent (Android exports have no seconds, iOS
ones do), whether it came from the firm's side, the text (normalised for comparison
only), and its occurrence among identical messages in that minute. Sender *names* are not
part of it: each phone shows its own contact names.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import datetime

from onfile.imports.records import ParsedMessage

_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\ufeff"), None)
_SPACES = dict.fromkeys(map(ord, "\u202f\u00a0\u2009"), " ")


def comparable_text(text: str) -> str:
    if text.isascii():  # the common case: nothing to strip or normalise
        return text.strip()
    return unicodedata.normalize("NFC", text.translate(_INVISIBLE).translate(_SPACES)).strip()


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:40]


class ExportKeys:
    """Derives export message keys in file order, counting identical messages per minute.

    Only recent minutes matter for the count (exports are in time order), so the table is
    trimmed, oldest first, to keep memory bounded on a 2 GB export. The trimming depends only
    on the sequence of messages, so a replay derives the same keys.
    """

    LIMIT = 200_000

    def __init__(self, conversation_key: str) -> None:
        self.conversation_key = conversation_key
        self.seen: dict[str, int] = {}

    def key(self, sent_at: datetime, direction: str, message: ParsedMessage) -> str:
        minute = sent_at.isoformat()[:16]
        body = comparable_text(message.text)
        if message.kind == "system":
            body = f"{message.system_event}|{body}"
        base = digest(self.conversation_key, minute, direction, body)
        occurrence = self.seen.get(base, 0)
        self.seen[base] = occurrence + 1
        if len(self.seen) > self.LIMIT:
            for old in list(self.seen)[: self.LIMIT // 2]:
                del self.seen[old]
        return "x:" + digest(base, str(occurrence))


def canonical_message(key: str, sent_at: datetime, direction: str, m: ParsedMessage) -> bytes:
    """What the ledger commits to for one imported message (through a keyed hash)."""
    return json.dumps(
        [key, sent_at.isoformat(), direction, m.sender, m.text, m.kind, m.system_event, m.deleted, m.edited,
         [(a.filename, a.omitted) for a in m.attachments], m.line_start, m.line_end],
        ensure_ascii=False, separators=(",", ":"),
    ).encode("utf-8")
