"""Outbox items that gather several messages before they are due: a conversation-day journal, a
daily filing digest, a burst of client messages forwarded as one email.

Design. The first message of a group (a conversation and a day; a conversation and a mailbox)
opens an outbox item due later (after the day, after the burst window); the next messages *join*
it instead of queueing their own. ``payload["messages"]`` lists the members, in the order they
joined; ``payload["message"]`` is the first (the delivery records its receipts under it). Each
message gets its own ledger entry naming the item (``attrs["key"]``), in the same transaction
as the join — ledgered per message (REQ-SRA-1), and never in two items: a message that already
has its entry is not added again.

Joining is only allowed while the item was never handed to the relay: status ``pending`` with
no attempt. The join locks the row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's writers are
serialised by its one write lock), so it cannot interleave with the worker's claim — either the
join commits first and the claim then sends the message with the others, or the claim wins and
the message opens a new item (for a day: a follow-up part; for a burst: a new burst). An item
that was attempted (even if the relay's answer was lost) is never changed, so a resend after a
crash carries exactly what the first attempt carried, under the same Message-ID. Nothing is
lost: a message is always either in an item not yet sent, or in its own new one.

Item keys are ``{kind}:{tag}:{hash of the group}:{hash of the first message}``: stable, unique,
within the outbox's 80 characters, and the group's items share a prefix (one index range scan).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.db import transaction

from onfile import clock
from onfile.channels.email.forwarding import ACTOR
from onfile.conversations.models import Message
from onfile.ledger.log import NewEntry, append
from onfile.ledger.models import Entry
from onfile.outbox import queue
from onfile.outbox.models import OutboxItem


def _hash(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def prefix(kind: str, tag: str, group: str) -> str:
    return f"{kind}:{tag}:{_hash(group, 32)}:"


def group_prefix(item_key: str) -> str:
    """The prefix shared by every item of this item's group."""
    return item_key.rsplit(":", 1)[0] + ":"


def part(item: OutboxItem) -> int:
    """1 for the group's first item, 2 for the next (a day's follow-up for late messages) …"""
    return OutboxItem.objects.filter(key__startswith=group_prefix(item.key), pk__lte=item.pk).count()


def requested(entry_kind: str, message_key: str, attrs_contain: str = "") -> bool:
    """Whether the message already has its ``entry_kind`` entry (then it is in an item already)."""
    entries = Entry.objects.filter(subject=f"message:{message_key}", kind=entry_kind)
    if attrs_contain:
        entries = entries.filter(attrs__contains=attrs_contain)
    return entries.exists()


UNKNOWN_MEDIA_BYTES = 5 << 20  # a file not fetched yet: WhatsApp's image limit, as a guess


def estimated_bytes(message: Message) -> int:
    """Roughly what the message adds to an email: its text twice (text and HTML parts) and its
    files in base64. A file whose size is not known yet counts as UNKNOWN_MEDIA_BYTES."""
    files = sum((a.size if a.size is not None else UNKNOWN_MEDIA_BYTES) for a in message.attachments.all())
    return 2 * len(message.body.encode()) + 2_000 + files * 4 // 3


def add(kind: str, tag: str, group: str, message: Message, *, entry_kind: str, due: datetime,
        payload: dict[str, Any], attrs: dict[str, Any], open_until: datetime | None = None,
        max_bytes: int | None = None) -> str:
    """Put the message in the group's open item, or open one due at ``due``; returns the item key.

    ``open_until``: the item accepts members only until then (a burst window); None: until it is
    claimed (a day). ``max_bytes``: a message that would take the item's estimated size over this
    goes in a new part of the group instead (REQ-EML-2, size-based splitting; a message larger than
    the limit on its own is a part of its own). Runs inside the caller's transaction, with the
    caller's record of the message.
    """
    now = clock.now()
    size = estimated_bytes(message) if max_bytes is not None else 0
    start = prefix(kind, tag, group)
    with transaction.atomic():
        candidates = OutboxItem.objects.select_for_update().filter(
            key__startswith=start, kind=kind, status=OutboxItem.Status.PENDING, attempts=0).order_by("-pk")
        for item in candidates:
            until = item.payload.get("until")
            if until and datetime.fromisoformat(until) <= now:
                continue  # its window has closed: the message must not wait for it (nor extend it)
            if max_bytes is not None and int(item.payload.get("bytes", 0)) + size > max_bytes:
                continue  # full: this message starts the group's next part
            members = [*item.payload.get("messages", []), message.key]
            grown = {**item.payload, "messages": members}
            if max_bytes is not None:
                grown["bytes"] = int(item.payload.get("bytes", 0)) + size
            # Conditional as well as locked: should a claim still have slipped in, the item is not touched.
            if not OutboxItem.objects.filter(pk=item.pk, status=OutboxItem.Status.PENDING, attempts=0).update(
                    payload=grown):
                continue
            append(NewEntry(entry_kind, ACTOR, f"message:{message.key}",
                            {"key": item.key, "message": message.key, "grouped": "joined", **attrs}))
            return item.key
        key = start + _hash(message.key, 16)
        seq = append(NewEntry(entry_kind, ACTOR, f"message:{message.key}",
                              {"key": key, "message": message.key, "grouped": "opened", **attrs})).seq
        extra: dict[str, Any] = {"until": open_until.isoformat()} if open_until is not None else {}
        if max_bytes is not None:
            extra["bytes"] = size
        # enqueue's last argument is when the item is first due.
        queue.enqueue(key, kind, {"message": message.key, "messages": [message.key], **payload, **extra}, seq, due)
    return key


def members(item: OutboxItem) -> list[Message]:
    """The item's messages still in the projection, in conversation order (an erased one is left out)."""
    keys = item.payload.get("messages") or [item.payload["message"]]
    found = list(Message.objects.filter(key__in=keys).select_related(
        "conversation__client", "conversation__matter", "conversation__firm_number", "conversation__assignee"))
    if not found:
        raise Message.DoesNotExist(f"none of the {len(keys)} messages of {item.key} is in the projection")
    return sorted(found, key=lambda m: (m.sent_at, m.position))
