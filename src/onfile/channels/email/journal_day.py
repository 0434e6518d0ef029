"""Journaling per conversation-day (``ONFILE_JOURNAL_MODE=day``; compliance.md §2.5, REQ-EML-2).

One RFC 5322 message per conversation per day — the day in ``ONFILE_TIME_ZONE`` (UTC by default),
the unit Global Relay's and Mattermost's exports use — holding every message of that day, in and
out: a text and an HTML transcript (``transcript.py``), the media attached as the per-message
journal attaches them, and the archive X-headers below.

Queueing: when a message is journaled (``forwarding.queue_journal``), it joins its conversation-day
item in the outbox, or opens it (``batches.py``) due at the end of the day plus
``ONFILE_JOURNAL_DAY_GRACE_MINUTES`` (default 30), so that statuses and edits that arrive just
after midnight are in the transcript. Each message still gets its own ``email.journal_requested``
entry, naming the item. A message of a day whose item was already handed to the relay (it came
late: a phone that was offline, a status that came after the grace) opens a follow-up item for
that day — part 2, 3 … — due a grace period later: never lost, never in two parts.

The header set (every value on one line, unfolded up to RFC 5322's 998 characters; longer lists
are folded at the ", " between values):

=============================  ===================================================================
``From``                       who wrote the day's first message (the initiator, as Global Relay
                               expects); the client and the firm's number as ``<digits>@whatsapp.<domain>``
``To``                         every other participant of the day: the client, the firm's number,
                               each member of staff who wrote, the assignee
``Subject``                    the conversation's subject, the day and the message count (and part)
``Date``                       the end of the period (§2.5: per-conversation EMLs carry the period end)
``Message-ID``                 ``<wa.journal.day.HASH@domain>``, stable for the item across retries
``In-Reply-To``/``References`` the conversation's journal thread (as the per-message journal)
``X-Archive-Source``           ``whatsapp``
``X-Archive-Granularity``      ``conversation-day`` (the per-message journal has none: one record)
``X-Archive-Thread-Id``        ``conversation:ID``
``X-Archive-Period-Start/End`` ISO 8601 local midnight to midnight, with the UTC offset
``X-Archive-Part``             1, or 2, 3 … for follow-ups of late messages, and when a day's EML
                               would exceed ``ONFILE_JOURNAL_MAX_MB`` (REQ-EML-2, size-based splitting)
``X-Archive-Record-Count``     how many messages this EML holds
``X-Archive-Record-Ids``       their message keys, comma-separated, in transcript order (REQ-EML-4)
``X-Archive-Leaf-Index``       the ledger entry (Merkle leaf index) of each, in the same order
``X-Archive-Leaf-Range``       ``first..last`` of those leaf indexes
``X-Archive-Sha256``           the RFC 6962 leaf hash of each of those entries, in the same order
=============================  ===================================================================

``Auto-Submitted: auto-generated`` and ``Precedence: bulk`` as on every email onfile sends.
The same builder makes the daily filing digest (``filing.py``), with its own Message-ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from django.conf import settings

from onfile import clock
from onfile.channels.email import batches, compose, envelope, transcript
from onfile.conversations.models import Conversation, Message
from onfile.ledger.models import Entry
from onfile.outbox.models import OutboxItem

JOURNAL_DAY = "email.journal_day"
REQUESTED = "email.journal_requested"
MODES = ("message", "day")


def day_mode() -> bool:
    return settings.JOURNAL_MODE == "day"


def day_of(message: Message) -> date:
    return message.sent_at.astimezone(transcript.zone()).date()


def bounds(day: date) -> tuple[datetime, datetime]:
    """Local midnight to midnight (23 or 25 hours on the days the clocks change)."""
    zone = transcript.zone()
    return datetime.combine(day, time(0), tzinfo=zone), datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def due(day: date) -> datetime:
    """When a day's item is sent: after the day (or now, for a late message) plus the grace period."""
    return max(bounds(day)[1], clock.now()) + timedelta(minutes=settings.JOURNAL_DAY_GRACE_MINUTES)


def queue_day(message: Message) -> bool:
    """Put one message, in or out, in its conversation-day journal item (REQ-EML-2)."""
    if batches.requested(REQUESTED, message.key):
        return False
    day = day_of(message)
    conversation = message.conversation
    batches.add(JOURNAL_DAY, "day", f"{conversation.key}\n{day.isoformat()}", message, entry_kind=REQUESTED,
                due=due(day), payload={"conversation": conversation.pk, "day": day.isoformat()},
                attrs={"direction": message.direction, "day": day.isoformat()},
                max_bytes=settings.JOURNAL_MAX_MB << 20)
    return True


# ---- the day builder (also the filing digest's) -------------------------------------------------------------


@dataclass
class DayBatch:
    conversation: Conversation
    day: date
    part: int
    messages: list[Message]


def batch(item: OutboxItem) -> DayBatch:
    messages = batches.members(item)
    return DayBatch(messages[0].conversation, date.fromisoformat(item.payload["day"]), batches.part(item), messages)


def day_id(label: str, item_key: str) -> str:
    return f"<wa.{label}.{compose._digest(item_key)}@{compose.domain()}>"


def _people(messages: list[Message], entries: dict[int, Entry]) -> tuple[Address, list[Address]]:
    """From: the first message's sender; To: everyone else who took part that day."""
    sender: Address | None = None
    seen: dict[str, Address] = {}
    for message in messages:
        entry = entries.get(message.source_seq)
        who, to = compose._participants(message, entry.actor if entry is not None else "")
        sender = sender or who
        for address in [who, *to]:
            seen.setdefault(address.addr_spec.lower(), address)
    assert sender is not None
    return sender, [a for k, a in seen.items() if k != sender.addr_spec.lower()]


def build_day(day: DayBatch, *, message_id: str, recipients: list[str], media_wait: timedelta) -> compose.Built:
    """The conversation-day EML (header set in the module docstring), addressed to ``recipients``."""
    conversation, messages = day.conversation, day.messages
    entries = Entry.objects.in_bulk([m.source_seq for m in messages])
    start, end = bounds(day.day)
    now = clock.now()
    sender, to = _people(messages, entries)
    number = conversation.firm_number
    firm = "" if number is None else f" on {number.number}" if not number.display_name else (
        f" on {compose._one_line(number.display_name, 120)} ({number.number})")
    heading = [f"WhatsApp conversation with {compose.client_label(conversation)} "
               f"({compose._one_line(conversation.recipient, 64) or 'no number'}){firm}",
               f"Period: {start:%d %b %Y %H:%M} to {end:%d %b %Y %H:%M} ({settings.TIME_ZONE})",
               f"Messages: {len(messages)}" + (f" (part {day.part} of this day: the earlier parts were sent "
                                              "or full)" if day.part > 1 else ""),
               "Participants: " + ", ".join(str(a) for a in [sender, *to])]
    if conversation.matter is not None:
        heading.insert(1, f"Matter: {conversation.matter.reference}")
    body = transcript.render(messages, heading=heading, url=compose.conversation_url(conversation), limit=None,
                             wait=lambda m: now - (m.received_at or m.sent_at) <= media_wait, history=True,
                             time_format="%H:%M:%S")
    msg = EmailMessage(policy=policy.default)
    msg["From"] = sender
    msg["To"] = to
    count = f"{len(messages)} message{'s' if len(messages) != 1 else ''}"
    msg["Subject"] = (f"{compose.subject(conversation)} — {day.day:%d %b %Y}, {count}"
                      + (f", part {day.part}" if day.part > 1 else ""))
    msg["Date"] = format_datetime(end)
    msg["Message-ID"] = message_id
    root = f"<wa.journal.thread.{compose._digest(conversation.key)}@{compose.domain()}>"
    msg["In-Reply-To"] = root
    msg["References"] = root
    msg["Auto-Submitted"] = "auto-generated"
    msg["Precedence"] = "bulk"
    seqs = [m.source_seq for m in messages]
    msg["X-Archive-Source"] = "whatsapp"
    msg["X-Archive-Granularity"] = "conversation-day"
    msg["X-Archive-Thread-Id"] = f"conversation:{conversation.pk}"
    msg["X-Archive-Period-Start"] = start.isoformat()
    msg["X-Archive-Period-End"] = end.isoformat()
    msg["X-Archive-Part"] = str(day.part)
    msg["X-Archive-Record-Count"] = str(len(messages))
    msg["X-Archive-Record-Ids"] = ", ".join(m.key for m in messages)
    msg["X-Archive-Leaf-Index"] = ", ".join(str(s) for s in seqs)
    msg["X-Archive-Leaf-Range"] = f"{min(seqs)}..{max(seqs)}"
    msg["X-Archive-Sha256"] = ", ".join(entries[s].leaf_hash for s in seqs)
    compose._assemble(msg, body.text, body.html, body.media)
    # As the per-message journal: values unfolded up to 998 (archives match them by machine).
    return compose.Built(message_id, compose.envelope_sender(), recipients,
                         msg.as_bytes(policy=policy.SMTP.clone(max_line_length=998)))


def build(item: OutboxItem, media_wait: timedelta) -> compose.Built:
    """The journal's conversation-day email, wrapped as an envelope journal report if configured."""
    built = build_day(batch(item), message_id=day_id("journal.day", item.key), recipients=[settings.JOURNAL_ADDRESS],
                      media_wait=media_wait)
    return envelope.maybe_wrap(built)
