"""A conversation as JSON lines: one message per line, streamed (REQ-SEC-8 (b))."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from onfile.conversations.models import Attachment, Conversation, Message


def message_record(m: Message, attachments: list[Attachment]) -> dict[str, Any]:
    return {
        "id": m.key,
        "timestamp": m.sent_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "sender": m.sender_name,
        "sender_number": m.sender_phone or None,
        "direction": m.direction,
        "type": m.type,
        "text": m.body,
        "system": m.direction == Message.Direction.SYSTEM,
        "system_event": m.system_event or None,
        "deleted": m.deleted,
        "edited": m.edited,
        "forwarded": m.forwarded,
        "reply_to": m.reply_to_key or None,
        "attachments": [{"filename": a.filename, "mime": a.mime_type, "size": a.size, "sha256": a.sha256 or None,
                         "placeholder": a.placeholder or None} for a in attachments],
        "source": {"ledger_entry": m.source_seq, "capture": m.capture_seq, "ref": m.source_ref},
    }


def export_lines(conversation: Conversation, chunk: int = 2000) -> Iterator[str]:
    messages = Message.objects.filter(conversation=conversation).order_by("sent_at", "position")
    batch: list[Message] = []
    for m in messages.iterator(chunk_size=chunk):
        batch.append(m)
        if len(batch) == chunk:
            yield from _lines(batch)
            batch = []
    yield from _lines(batch)


def _lines(batch: list[Message]) -> Iterator[str]:
    by_message: dict[int, list[Attachment]] = {}
    for a in Attachment.objects.filter(message__in=batch).order_by("pk"):
        by_message.setdefault(a.message_id, []).append(a)
    for m in batch:
        yield json.dumps(message_record(m, by_message.get(m.pk, [])), ensure_ascii=False) + "\n"
