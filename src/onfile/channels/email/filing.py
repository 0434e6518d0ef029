"""File-by-email: each message of a matter's conversations delivered to the matter's filing address.

Document systems give each matter (workspace) an email address: mail sent there is filed on
the matter (iManage Work "FileSite"/email filing, NetDocuments "EchoFile"/"Email filing" addresses).
A matter's ``filing_address`` and ``filing_mode`` are set by ``do_update_matter`` (the matter page);
then every message, in and out, of a conversation linked to that matter is sent there — so the
WhatsApp advice lands on the client file (REQ-SRA-2):

- mode ``message``: one email per message, the per-message journal EML (``compose.journal``: the
  same body, media and X-Archive headers), addressed to the filing address;
- mode ``day``: one digest per conversation per day, made by the conversation-day builder of
  ``journal_day.py`` (same transcript, media and headers, its own Message-ID), due after the day
  and its grace period; a message of a day already sent goes in a follow-up digest.

Queued where the journal copy is (``forwarding.queue_journal``: when a message is recorded, or
when WhatsApp accepted the firm's message), through the outbox, retried like every email. Each
message gets an ``email.file_requested`` entry naming the item and the recipient as
``matter:ID`` — the address itself (a person's mailbox at some firms) stays out of the clear
ledger, as forwarding.py keeps staff addresses out; it is sealed in the ``matter.updated``
entry that set it, and travels in the outbox payload. Ethical walls do not apply: the document
system is the firm's own record, not a person reading.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from onfile import clock
from onfile.channels.email import batches, compose, journal_day
from onfile.channels.email.forwarding import ACTOR, forwarding_on, outbox_key
from onfile.conversations.models import Matter, Message
from onfile.ledger.log import NewEntry, append
from onfile.outbox import queue
from onfile.outbox.models import OutboxItem

FILE = "email.file"
FILE_DAY = "email.file_day"
REQUESTED = "email.file_requested"


def queue_filing(message: Message) -> bool:
    """File one message, in or out, on its conversation's matter, if that matter has a filing address."""
    if not forwarding_on():
        return False
    matter_id = message.conversation.matter_id
    matter = Matter.objects.filter(pk=matter_id).first() if matter_id else None
    if matter is None or not matter.filing_address or batches.requested(REQUESTED, message.key):
        return False
    to, who = matter.filing_address, f"matter:{matter.pk}"
    attrs = {"direction": message.direction, "recipient": who, "mode": matter.filing_mode}
    if matter.filing_mode == "day":
        day = journal_day.day_of(message)
        conversation = message.conversation
        batches.add(FILE_DAY, "day", f"{conversation.key}\n{day.isoformat()}\n{matter.pk}\n{to.lower()}", message,
                    entry_kind=REQUESTED, due=journal_day.due(day), attrs={**attrs, "day": day.isoformat()},
                    payload={"conversation": conversation.pk, "day": day.isoformat(), "to": to, "recipient": who},
                    max_bytes=settings.JOURNAL_MAX_MB << 20)
        return True
    key = outbox_key(FILE, message.key)
    if OutboxItem.objects.filter(key=key).exists():
        return False
    with transaction.atomic():
        seq = append(NewEntry(REQUESTED, ACTOR, f"message:{message.key}",
                              {"key": key, "message": message.key, **attrs})).seq
        queue.enqueue(key, FILE, {"message": message.key, "to": to, "recipient": who}, seq, clock.now())
    return True


def build(item: OutboxItem, media_wait: timedelta) -> compose.Built:
    """The email to the document system: per message (the journal EML) or the day's digest."""
    to = [item.payload["to"]]
    if item.kind == FILE_DAY:
        return journal_day.build_day(journal_day.batch(item), message_id=journal_day.day_id("file.day", item.key),
                                     recipients=to, media_wait=media_wait)
    [message] = batches.members(item)
    waited_enough = clock.now() - (message.received_at or message.sent_at) > media_wait
    return replace(compose.journal(message, wait_for_media=not waited_enough), recipients=to)
