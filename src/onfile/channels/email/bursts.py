"""Burst grouping of forwards (``ONFILE_EMAIL_BURST_SECONDS``, default 0: one email per message).

Clients often write in bursts ("Hi" — "about the lease" — a photo — "see attached"). With a window
of N seconds, the first inbound message of a conversation queues a forward item due N seconds
later (``batches.py``); messages of the same conversation, for the same mailbox, that arrive before
then join it instead of queueing their own; when it is due, one email lists them all, with all
their media, in the conversation's thread. The window is the first message's: a message is never
held longer than N seconds, and a message that arrives after the window closed — or while the
burst is being sent — starts a new burst.

Idempotent and ledgered per message: every message gets its own ``email.forward_requested``
entry, naming the grouped item (``key``) and whether it opened or joined it; a message that
already has one is never added again (a replayed webhook, a second call). The email's
Message-ID is the first message's (``compose.message_id``), so a notice about that message later
threads under it. A burst of one is exactly the per-message email (``compose.forward``). Notices
(a deletion, a failed delivery) are never grouped: they go at once.
"""

from __future__ import annotations

from datetime import timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from django.conf import settings

from onfile import clock
from onfile.channels.email import batches, compose, transcript
from onfile.channels.email.forwarding import FORWARD
from onfile.conversations.models import Message
from onfile.outbox.models import OutboxItem

REQUESTED = "email.forward_requested"


def bursting() -> bool:
    return settings.EMAIL_BURST_SECONDS > 0


def is_burst(item: OutboxItem) -> bool:
    return item.kind == FORWARD and "messages" in item.payload


def queue_burst(message: Message, to: str, who: str) -> bool:
    """Add an inbound message to its conversation's open burst for ``to``, or open one."""
    if batches.requested(REQUESTED, message.key, attrs_contain='"notice":""'):
        return False
    now = clock.now()
    window = now + timedelta(seconds=settings.EMAIL_BURST_SECONDS)
    batches.add(FORWARD, "burst", f"{message.conversation.key}\n{to.lower()}", message, entry_kind=REQUESTED,
                due=window, open_until=window, payload={"to": to, "recipient": who, "notice": ""},
                attrs={"recipient": who, "notice": ""})
    return True


def build(item: OutboxItem, media_wait: timedelta) -> compose.Built:
    """One email to the member of staff with every message of the burst."""
    messages = batches.members(item)
    to, first = item.payload["to"], messages[0]
    now = clock.now()
    if len(messages) == 1:
        return compose.forward(first, to, wait_for_media=now - (first.received_at or first.sent_at) <= media_wait)
    conversation = first.conversation
    body = transcript.render(
        messages, heading=[f"{compose.client_label(conversation)} wrote {len(messages)} messages:"],
        url=compose.conversation_url(conversation), limit=settings.EMAIL_MAX_ATTACHMENT_MB * 1024 * 1024,
        wait=lambda m: now - (m.received_at or m.sent_at) <= media_wait, history=False,
        time_format="%d %b %Y %H:%M %Z")
    msg = EmailMessage(policy=policy.default)
    msg["From"] = Address(display_name=f"{compose.client_label(conversation)} via WhatsApp",
                          addr_spec=compose.envelope_sender())
    msg["To"] = to
    compose.reply_headers(msg, conversation, to)  # as on every forward: answerable by email
    own_id = compose.message_id(first.key)
    compose._common(msg, first, own_id, compose.thread_root(conversation, to))
    compose._assemble(msg, body.text, body.html, body.media)
    return compose.Built(own_id, compose.envelope_sender(), [to], msg.as_bytes(policy=policy.SMTP),
                         compose.thread_root(conversation, to))
