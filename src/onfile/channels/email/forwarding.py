"""Queueing emails: forwards to staff, notices, and journal copies (the actions' side).

Called explicitly — ``after_item`` by ``whatsapp.processing.process_capture`` once an item is on
the record and projected, ``after_send_accepted`` by ``whatsapp.sending.deliver_one`` once
WhatsApp accepted a send — inside the caller's transaction. Each email is one ledger entry
(``email.forward_requested`` / ``email.journal_requested``) and one outbox item whose key is
derived from the message key, so the same message is never queued twice: not on a replayed
webhook (its item identity is already recorded, so ``after_item`` is not even called), not on a
second call, and not on ``onfile rebuild`` (which runs projectors only, never these actions).

Recipient addresses go in the outbox payload, not in the ledger: the entry names the recipient
as ``user:ID``, ``team:ID`` or ``fallback`` (personal data stays out of the leaves).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from onfile import clock
from onfile.channels.whatsapp.types import WebhookItem
from onfile.conversations.models import Conversation, Message
from onfile.ledger.log import NewEntry, append
from onfile.outbox import queue
from onfile.outbox.models import OutboxItem

log = logging.getLogger("onfile.email")
FORWARD = "email.forward"
JOURNAL = "email.journal"
ACTOR = "email"


def forwarding_on() -> bool:
    return bool(settings.SMTP_HOST)


def journaling_on() -> bool:
    return bool(settings.SMTP_HOST and settings.JOURNAL_ADDRESS)


def outbox_key(kind: str, message_key: str, notice: str = "") -> str:
    digest = hashlib.sha256(message_key.encode()).hexdigest()[:48]
    return f"{kind}{':' + notice if notice else ''}:{digest}"


def recipient(conversation: Conversation) -> tuple[str, str] | None:
    """(address, who for the ledger): the assignee, else the team mailbox, else the fallback."""
    assignee = conversation.assignee
    if assignee is not None and assignee.is_active and assignee.email:
        return assignee.email, f"user:{assignee.pk}"
    number = conversation.firm_number
    team = number.team if number is not None else None
    if team is not None and team.mailbox:
        return team.mailbox, f"team:{team.pk}"
    if settings.EMAIL_FALLBACK:
        return settings.EMAIL_FALLBACK, "fallback"
    return None


def _queue(entry_kind: str, outbox_kind: str, key: str, message: Message, attrs: dict[str, Any],
           payload: dict[str, Any]) -> bool:
    if OutboxItem.objects.filter(key=key).exists():
        return False
    attrs = {"key": key, "message": message.key, **attrs}
    with transaction.atomic():
        seq = append(NewEntry(entry_kind, ACTOR, f"message:{message.key}", attrs)).seq
        queue.enqueue(key, outbox_kind, {"message": message.key, **payload}, seq, clock.now())
    return True


def queue_forward(message: Message, notice: str = "") -> bool:
    """Email one message (or a notice about it) to whoever answers the conversation."""
    if not forwarding_on():
        return False
    conversation = Conversation.objects.select_related("assignee", "firm_number__team").get(
        pk=message.conversation_id)
    found = recipient(conversation)
    if found is None:
        log.warning("conversation %s has no assignee, team mailbox or ONFILE_EMAIL_FALLBACK: %s not emailed",
                    conversation.pk, message.key)
        return False
    to, who = found
    if not notice and settings.EMAIL_BURST_SECONDS > 0:
        from onfile.channels.email import bursts  # one email for a burst of messages (bursts.py)

        return bursts.queue_burst(message, to, who)
    return _queue("email.forward_requested", FORWARD, outbox_key(FORWARD, message.key, notice), message,
                  {"recipient": who, "notice": notice}, {"to": to, "recipient": who, "notice": notice})


def queue_journal(message: Message) -> bool:
    """Deliver one message, in or out, to the firm's archive (compliance.md §2.5) — and, where its
    conversation's matter has a filing address, to the matter's document system (filing.py)."""
    from onfile.channels.email import filing, journal_day

    filing.queue_filing(message)
    if not journaling_on():
        return False
    if journal_day.day_mode():  # one email per conversation per day (journal_day.py)
        return journal_day.queue_day(message)
    return _queue("email.journal_requested", JOURNAL, outbox_key(JOURNAL, message.key), message,
                  {"direction": message.direction}, {})


def after_item(it: WebhookItem) -> None:
    """A webhook item was recorded and projected: forward, notify and journal what it brought."""
    from onfile.channels.email import holds  # (imports whatsapp.sending, which imports this module)

    holds.after_item(it)  # the client wrote: replies by email held for the closed window go now
    if not forwarding_on():
        return
    m = it.message
    if it.kind == "status" and it.status is not None and it.status.status == "failed":
        target = Message.objects.filter(wamid=it.status.wamid).first() if it.status.wamid else None
        if target is not None and target.direction == Message.Direction.OUT:
            queue_forward(target, "failed")
        return
    if m is None or it.kind not in ("message", "echo") or not m.wamid:
        return
    if m.revoke_of:
        target = Message.objects.filter(wamid=m.revoke_of).first()
        if it.kind == "message" and target is not None and target.direction == Message.Direction.IN:
            queue_forward(target, "deleted")
        return
    if m.edit_of or m.type == "reaction":
        return
    message = Message.objects.filter(key=f"wa:{m.wamid}").first()
    if message is None:
        return
    if it.kind == "message" and message.direction == Message.Direction.IN:
        queue_forward(message)
    queue_journal(message)


def after_send_accepted(message_key: str) -> None:
    """WhatsApp accepted the firm's message: journal it."""
    message = Message.objects.filter(key=message_key).first()
    if message is not None:
        queue_journal(message)
