"""A conversation as JSON lines: one message per line, streamed (REQ-SEC-8 (b)).

``originals`` says whether the reader may see what edited and deleted messages said before
(``access.can_see_originals``). With it, each record carries its earlier texts under
``revisions`` (REQ-MIFID-2: both the old and the new text in exports); without it, a deleted
message's content (text, data, attachments) is left out, ``revisions`` is empty and
``original_withheld`` is true (for edited messages too: their current text stays).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from onfile.conversations.models import Attachment, Conversation, Message, MessageRevision, Reaction


def _z(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at is not None else None


def message_record(m: Message, attachments: list[Attachment], reactions: list[Reaction] | None = None,
                   revisions: list[MessageRevision] | None = None, originals: bool = True) -> dict[str, Any]:
    withheld = not originals and (m.deleted or m.edited)
    hidden = m.deleted and not originals
    return {
        "id": m.key,
        "timestamp": _z(m.sent_at),
        "sender": m.sender_name,
        "sender_number": m.sender_phone or None,
        "direction": m.direction,
        "type": m.type,
        "text": "" if hidden else m.body,
        "system": m.direction == Message.Direction.SYSTEM,
        "system_event": m.system_event or None,
        "deleted": m.deleted,
        "edited": m.edited,
        "forwarded": m.forwarded,
        "reply_to": m.reply_to_key or None,
        "status": m.status or None,
        "data": {} if hidden else m.data or {},
        "reactions": [{"sender": r.sender_name, "emoji": r.emoji, "at": _z(r.at)} for r in reactions or []],
        "revisions": [{"kind": r.kind, "text": r.body, "at": _z(r.at), "ledger_entry": r.source_seq}
                      for r in (revisions or [])] if originals else [],
        "original_withheld": withheld,
        "attachments": [{"filename": a.filename, "mime": a.mime_type, "size": a.size, "sha256": a.sha256 or None,
                         "placeholder": a.placeholder or None} for a in ([] if hidden else attachments)],
        "source": {"ledger_entry": m.source_seq, "capture": m.capture_seq, "ref": m.source_ref},
    }


def export_lines(conversation: Conversation, chunk: int = 2000, *, originals: bool = True) -> Iterator[str]:
    messages = Message.objects.filter(conversation=conversation).order_by("sent_at", "position")
    batch: list[Message] = []
    for m in messages.iterator(chunk_size=chunk):
        batch.append(m)
        if len(batch) == chunk:
            yield from _lines(batch, originals)
            batch = []
    yield from _lines(batch, originals)


def _by_message(rows: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for row in rows:
        out.setdefault(row.message_id, []).append(row)
    return out


def _lines(batch: list[Message], originals: bool) -> Iterator[str]:
    if not batch:
        return
    attachments = _by_message(Attachment.objects.filter(message__in=batch).order_by("pk"))
    reactions = _by_message(Reaction.objects.filter(message__in=batch).order_by("at", "pk"))
    revisions = _by_message(MessageRevision.objects.filter(message__in=batch).order_by("at", "pk")) \
        if originals else {}
    for m in batch:
        record = message_record(m, attachments.get(m.pk, []), reactions.get(m.pk, []), revisions.get(m.pk, []),
                                originals)
        yield json.dumps(record, ensure_ascii=False) + "\n"
