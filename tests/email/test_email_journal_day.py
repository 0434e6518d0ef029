"""Journaling per conversation-day (ONFILE_JOURNAL_MODE=day; compliance.md §2.5, REQ-EML-1/2/4): one EML
per conversation per local day, after the day ends, and late messages in a follow-up — never lost."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from onfile.channels.email import forwarding, journal_day
from onfile.channels.email.delivery import deliver_emails
from onfile.channels.email.forwarding import JOURNAL
from onfile.channels.email.journal_day import JOURNAL_DAY
from onfile.channels.whatsapp.processing import fetch_media
from onfile.channels.whatsapp.sending import Outgoing, deliver_sends, do_send
from onfile.conversations.models import Attachment, Conversation, Message
from onfile.ledger.models import Entry
from onfile.outbox import queue
from onfile.outbox.models import OutboxItem
from onfile.projection import rebuild
from onfile.simulator.payloads import PNG_1X1

from .conftest import CLIENT, DOMAIN, Clock, Phone, Relay, post
from .conftest import JOURNAL as ADDRESS

pytestmark = pytest.mark.django_db


@pytest.fixture
def day_mode(relay_settings: Any, midday_zone: str) -> Any:
    relay_settings.JOURNAL_MODE = "day"
    relay_settings.JOURNAL_DAY_GRACE_MINUTES = 30
    return relay_settings


def day_items() -> list[OutboxItem]:
    return list(OutboxItem.objects.filter(kind=JOURNAL_DAY).order_by("pk"))


def journals(relay: Relay) -> list[EmailMessage]:
    return relay.to(ADDRESS)  # each parsed with policy.strict (REQ-EML-1)


def ids(mail: EmailMessage) -> list[str]:
    return str(mail["X-Archive-Record-Ids"]).split(", ")


def end_of_day(message: Message) -> datetime:
    return journal_day.bounds(journal_day.day_of(message))[1]


def test_a_conversation_day_is_one_email_sent_after_the_day_ends(day_mode: Any, relay: Relay, phone: Phone,
                                                                 clock: Clock, fee_earner: Any) -> None:
    phone.send(type="text", text="Good morning, the signed page follows")
    phone.send(type="image", caption="page 3, signed")
    pdf = b"%PDF-1.4\n% the lease\n%%EOF\n"
    phone.send(type="document", filename="lease.pdf", data_b64=base64.b64encode(pdf).decode())
    assert fetch_media() == 2
    sent = do_send(Conversation.objects.get(), Outgoing(text="Thank you, received"), fee_earner.actor)
    deliver_sends()
    phone.echo(type="text", text="Sent from the business app")
    messages = list(Message.objects.order_by("sent_at", "position"))
    assert len(messages) == 5 and not OutboxItem.objects.filter(kind=JOURNAL).exists()
    [item] = day_items()
    assert item.payload["messages"] == [m.key for m in Message.objects.order_by("pk")]
    requested = Entry.objects.filter(kind="email.journal_requested")
    assert requested.count() == 5 and all(f'"key":"{item.key}"' in e.attrs for e in requested)

    deliver_emails()
    assert not journals(relay)  # the day is not over
    end = end_of_day(messages[0])
    clock.to(end + timedelta(minutes=29))
    deliver_emails()
    assert not journals(relay)  # the grace period for late statuses and edits
    clock.to(end + timedelta(minutes=30, seconds=1))
    deliver_emails()
    [mail] = journals(relay)

    conversation = Conversation.objects.get()
    entries = {e.seq: e for e in Entry.objects.filter(seq__in=[m.source_seq for m in messages])}
    start = journal_day.bounds(journal_day.day_of(messages[0]))[0]
    assert ids(mail) == [m.key for m in messages]
    assert mail["X-Archive-Leaf-Index"] == ", ".join(str(m.source_seq) for m in messages)
    assert mail["X-Archive-Sha256"] == ", ".join(entries[m.source_seq].leaf_hash for m in messages)
    assert mail["X-Archive-Leaf-Range"] == f"{min(entries)}..{max(entries)}"
    assert mail["X-Archive-Record-Count"] == "5" and mail["X-Archive-Part"] == "1"
    assert mail["X-Archive-Granularity"] == "conversation-day" and mail["X-Archive-Source"] == "whatsapp"
    assert mail["X-Archive-Thread-Id"] == f"conversation:{conversation.pk}"
    assert mail["X-Archive-Period-Start"] == start.isoformat() and mail["X-Archive-Period-End"] == end.isoformat()
    assert parsedate_to_datetime(str(mail["Date"])) == end  # §2.5: the period end
    assert mail["Message-ID"] == journal_day.day_id("journal.day", item.key)
    assert mail["Auto-Submitted"] == "auto-generated" and mail["Precedence"] == "bulk"
    assert mail["From"].addresses[0].addr_spec == f"{CLIENT[1:]}@whatsapp.{DOMAIN}"
    to = {a.addr_spec for a in mail["To"].addresses}
    assert fee_earner.email in to and "15550783881@whatsapp." + DOMAIN in to
    text = mail.get_body(("plain",)).get_content()
    for words in ("Good morning", "page 3, signed", "Thank you, received", "Sent from the business app"):
        assert words in text
    assert text.index("Good morning") < text.index("page 3, signed") < text.index("Thank you, received")
    [image] = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert image.get_content() == PNG_1X1
    assert hashlib.sha256(image.get_content()).hexdigest() == Attachment.objects.get(message__type="image").sha256
    assert f'cid:{image["Content-ID"][1:-1]}' in mail.get_body(("html",)).get_content()
    [document] = list(mail.iter_attachments())
    assert document.get_filename() == "lease.pdf" and document.get_content() == pdf
    receipt = Entry.objects.get(kind="email.journal_sent")
    assert item.key in receipt.attrs and "250 2.0.0 Ok: queued as" in receipt.attrs
    assert sent.key in ids(mail)
    assert deliver_emails() == 0 and len(journals(relay)) == 1


def test_an_edit_and_a_deletion_within_the_grace_period_are_in_the_transcript(day_mode: Any, relay: Relay,
                                                                              phone: Phone, clock: Clock) -> None:
    first, _ = phone.send(type="text", text="I offer 100,000")
    second, _ = phone.send(type="text", text="call me")
    clock.to(end_of_day(Message.objects.get(wamid=first)) + timedelta(minutes=5))
    phone.send(type="edit", original_message_id=first, text="I offer 95,000")
    phone.send(type="revoke", original_message_id=second)
    clock.advance(30 * 60)
    deliver_emails()
    [mail] = journals(relay)
    text = mail.get_body(("plain",)).get_content()
    assert "I offer 95,000" in text and "the text before: I offer 100,000" in text  # REQ-MIFID-2
    assert "call me" in text and "deleted by the sender" in text  # REQ-GR-4
    assert mail["X-Archive-Record-Count"] == "2"  # the edit and the deletion are not messages of their own


def test_a_late_message_for_a_day_already_sent_goes_in_a_follow_up(day_mode: Any, relay: Relay, phone: Phone,
                                                                   clock: Clock) -> None:
    wamid, _ = phone.send(type="text", text="before midnight")
    on_time = Message.objects.get(wamid=wamid)
    end = end_of_day(on_time)
    clock.to(end + timedelta(minutes=31))
    deliver_emails()
    [first] = journals(relay)
    # A phone that was offline delivers a message written that afternoon, after the day was journaled.
    written = int((on_time.sent_at + timedelta(seconds=1)).timestamp())
    late_wamid, _ = phone.send(type="text", text="written offline", timestamp=written)
    late = Message.objects.get(wamid=late_wamid)
    assert journal_day.day_of(late) == journal_day.day_of(on_time)
    done, follow_up = day_items()
    assert done.status == "done" and follow_up.status == "pending"
    entry = Entry.objects.get(kind="email.journal_requested", subject=f"message:{late.key}")
    assert f'"key":"{follow_up.key}"' in entry.attrs and '"grouped":"opened"' in entry.attrs
    deliver_emails()
    assert len(journals(relay)) == 1  # the follow-up waits a grace period for more stragglers
    clock.advance(30 * 60 + 1)
    deliver_emails()
    first, second = journals(relay)
    assert ids(first) == [on_time.key] and ids(second) == [late.key]
    assert second["X-Archive-Part"] == "2" and second["Subject"].endswith(", part 2")
    assert second["X-Archive-Period-Start"] == first["X-Archive-Period-Start"]
    assert second["Message-ID"] != first["Message-ID"]
    assert "part 2 of this day" in second.get_body(("plain",)).get_content()


def test_a_message_arriving_while_its_day_is_being_sent_is_not_lost(day_mode: Any, relay: Relay, phone: Phone,
                                                                    clock: Clock) -> None:
    wamid, _ = phone.send(type="text", text="first")
    message = Message.objects.get(wamid=wamid)
    clock.to(end_of_day(message) + timedelta(minutes=31))
    [claimed] = queue.claim(JOURNAL_DAY, clock.now())  # a worker took the day's item …
    late_wamid, _ = phone.send(type="text", text="meanwhile", timestamp=int(message.sent_at.timestamp()) + 2)
    claimed.refresh_from_db()
    assert claimed.payload["messages"] == [message.key]  # … so the message did not join it
    clock.advance(queue.LEASE.total_seconds() + 1)  # … and died: its lease runs out, the item is sent again
    clock.advance(30 * 60)
    deliver_emails()
    mails = journals(relay)
    assert sorted(key for mail in mails for key in ids(mail)) == sorted([message.key, f"wa:{late_wamid}"])
    assert {m["X-Archive-Part"] for m in mails} == {"1", "2"}


def test_a_busy_day_s_lists_fold_and_unfold_to_the_same_values(day_mode: Any, relay: Relay, phone: Phone,
                                                               clock: Clock) -> None:
    for n in range(25):
        phone.send(type="text", text=f"message {n}")
    messages = sorted(Message.objects.all(), key=lambda m: (m.sent_at, m.position))
    clock.to(end_of_day(messages[0]) + timedelta(minutes=31))
    deliver_emails()
    [received] = [r for r in relay.received if r.recipients == [ADDRESS]]
    assert max(len(line) for line in received.data.split(b"\r\n")) <= 998  # RFC 5322's hard limit
    mail = received.email
    assert ids(mail) == [m.key for m in messages]
    hashes = Entry.objects.in_bulk([m.source_seq for m in messages])
    assert str(mail["X-Archive-Sha256"]).split(", ") == [hashes[m.source_seq].leaf_hash for m in messages]
    assert str(mail["X-Archive-Leaf-Index"]).split(", ") == [str(m.source_seq) for m in messages]


def test_days_are_local_days_in_onfile_time_zone(day_mode: Any, relay: Relay, phone: Phone, clock: Clock) -> None:
    day_mode.TIME_ZONE = "America/New_York"
    zone = ZoneInfo("America/New_York")
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    before, after = midnight - timedelta(minutes=10), midnight + timedelta(minutes=10)
    assert before.astimezone(ZoneInfo("UTC")).date() == after.astimezone(ZoneInfo("UTC")).date()  # one UTC day
    phone.send(type="text", text="late evening", timestamp=int(before.timestamp()))
    phone.send(type="text", text="just after midnight", timestamp=int(after.timestamp()))
    assert [i.payload["day"] for i in day_items()] == [before.date().isoformat(), after.date().isoformat()]
    clock.advance(31 * 60)  # both days are over: each item is due a grace period after it was opened
    deliver_emails()
    evening, morning = sorted(journals(relay), key=lambda m: str(m["X-Archive-Period-Start"]))
    assert evening["X-Archive-Period-End"] == morning["X-Archive-Period-Start"] == midnight.isoformat()
    assert "late evening" in evening.get_body(("plain",)).get_content()
    assert "just after midnight" in morning.get_body(("plain",)).get_content()


def test_a_replayed_webhook_a_rebuild_and_a_second_call_journal_a_message_once(day_mode: Any, relay: Relay,
                                                                               phone: Phone, client: Client,
                                                                               clock: Clock) -> None:
    wamid, raw = phone.send(type="text", text="only once")
    post(client, raw)
    message = Message.objects.get(wamid=wamid)
    assert forwarding.queue_journal(message) is False
    rebuild()
    post(client, raw)
    [item] = day_items()
    assert item.payload["messages"] == [message.key]
    assert Entry.objects.filter(kind="email.journal_requested").count() == 1
    clock.to(end_of_day(message) + timedelta(minutes=31))
    deliver_emails()
    assert [ids(m) for m in journals(relay)] == [[message.key]]


def test_the_journal_mode_is_checked(settings: Any) -> None:
    from onfile.channels.email.checks import check_email_grouping

    settings.JOURNAL_MODE = "weekly"
    settings.JOURNAL_DAY_GRACE_MINUTES = -1
    settings.JOURNAL_MAX_MB = 0
    assert {m.id for m in check_email_grouping()} == {"onfile.E036", "onfile.E037", "onfile.E039"}
    settings.JOURNAL_MODE, settings.JOURNAL_DAY_GRACE_MINUTES, settings.JOURNAL_MAX_MB = "day", 30, 20
    assert check_email_grouping() == []


def test_a_day_too_large_for_one_email_is_split_into_parts(day_mode: Any, relay: Relay, phone: Phone,
                                                           clock: Clock) -> None:
    """REQ-EML-2: size-based splitting. A file not fetched yet counts as 5 MB, so with a 1 MB
    limit the photo is a part of its own and the second text joins the first part."""
    day_mode.JOURNAL_MAX_MB = 1
    first_wamid, _ = phone.send(type="text", text="the contract, page 1")
    phone.send(type="image", caption="page 3, signed")
    phone.send(type="text", text="and the last page")
    assert fetch_media() == 1
    first = Message.objects.get(wamid=first_wamid)
    part_one, part_two = day_items()
    assert len(part_one.payload["messages"]) == 2 and len(part_two.payload["messages"]) == 1
    assert part_one.payload["bytes"] < 1 << 20 < part_two.payload["bytes"]
    clock.to(end_of_day(first) + timedelta(minutes=31))
    deliver_emails()
    one, two = sorted(journals(relay), key=lambda m: str(m["X-Archive-Part"]))
    assert (one["X-Archive-Part"], two["X-Archive-Part"]) == ("1", "2")
    assert len(ids(one)) == 2 and len(ids(two)) == 1
    assert [p.get_content_type() for p in two.walk()].count("image/png") == 1
    assert "image/png" not in [p.get_content_type() for p in one.walk()]
