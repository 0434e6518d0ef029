"""Read receipts: the client sees blue ticks when the firm has read their messages.

When a member of staff who answers clients is shown new inbound messages, ``queue_read``
appends ``whatsapp.read_requested`` and queues one outbox item for the newest inbound wamid,
in one transaction (ARCHITECTURE 5). The worker marks it read through the Graph API
(whatsapp.md B2: marking a message read also marks the earlier ones). The outbox key is the
wamid, so a message is marked read once however often it is viewed; compliance and audit
reads never send receipts — a supervisor's review is not the firm answering.
"""

from __future__ import annotations

from django.db import transaction

from onfile import clock
from onfile.accounts.models import Role
from onfile.channels.whatsapp import config
from onfile.channels.whatsapp.graph import GraphClient, GraphError
from onfile.conversations.models import Conversation, Message
from onfile.ledger.log import NewEntry, append
from onfile.outbox import queue
from onfile.outbox.models import OutboxItem

KIND = "whatsapp.mark_read"
ANSWERING_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.FEE_EARNER})


def queue_read(conversation: Conversation, user: object) -> bool:
    """Queue a read receipt for the newest inbound message, once; True when one was queued."""
    if getattr(user, "role", None) not in ANSWERING_ROLES or conversation.firm_number is None:
        return False
    wamid = (Message.objects.filter(conversation=conversation, direction=Message.Direction.IN)
             .exclude(wamid="").order_by("-position").values_list("wamid", flat=True).first())
    if not wamid:
        return False
    key = f"read:{wamid}"[:80]
    if OutboxItem.objects.filter(key=key).exists():
        return False
    attrs = {"conversation": conversation.pk, "wamid": wamid,
             "phone_number_id": conversation.firm_number.phone_number_id}
    with transaction.atomic():
        seq = append(NewEntry("whatsapp.read_requested", getattr(user, "actor", "system"),
                              f"conversation:{conversation.pk}", attrs)).seq
        queue.enqueue(key, KIND, attrs, seq, clock.now())
    return True


def deliver_one(item: OutboxItem, graph: GraphClient) -> None:
    now = clock.now()
    try:
        graph.mark_read(item.payload["phone_number_id"], item.payload["wamid"])
    except GraphError as exc:
        if exc.retryable:
            queue.retry_later(item, str(exc), now, exc.retry_after or 0.0)
        else:  # e.g. the message is older than 30 days: nothing to retry, and nothing lost
            queue.fail(item, str(exc), now)
        return
    queue.done(item, {"read": True}, now)


def deliver_reads(limit: int = 20) -> int:
    return queue.drain(KIND, clock.now(), config.client, deliver_one, limit)
