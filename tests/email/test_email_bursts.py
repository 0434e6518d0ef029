"""Burst grouping of forwards (ONFILE_EMAIL_BURST_SECONDS): a client's messages within the window are one
email to staff, with all their media, in the conversation's thread — idempotent, ledgered per message,
never lost, and no message held longer than the window."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client

from onfile.channels.email import compose, forwarding
from onfile.channels.email.checks import check_email_grouping
from onfile.channels.email.delivery import MEDIA_POLL, deliver_emails
from onfile.channels.email.forwarding import FORWARD
from onfile.channels.whatsapp.processing import fetch_media
from onfile.conversations.models import Conversation, Message
from onfile.ledger.models import Entry
from onfile.outbox import queue
from onfile.outbox.models import OutboxItem
from onfile.projection import rebuild
from onfile.simulator.payloads import PNG_1X1

from .conftest import FALLBACK, Clock, Phone, Relay, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def bursts(relay_settings: Any) -> Any:
    relay_settings.EMAIL_BURST_SECONDS = 60
    return relay_settings


def forwards() -> list[OutboxItem]:
    return list(OutboxItem.objects.filter(kind=FORWARD).order_by("pk"))


def requested(message: Message) -> Entry:
    return Entry.objects.get(kind="email.forward_requested", subject=f"message:{message.key}")


def test_a_burst_is_one_email_with_every_message_and_file(bursts: Any, relay: Relay, phone: Phone,
                                                          clock: Clock) -> None:
    bursts.EMAIL_REPLY_DOMAIN = "replies.firm.example"
    phone.send(type="text", text="Hi, about the lease")
    phone.send(type="image", caption="the signed page")
    pdf = b"%PDF-1.4\n% schedule\n%%EOF\n"
    phone.send(type="document", filename="schedule.pdf", data_b64=base64.b64encode(pdf).decode())
    phone.send(type="text", text="see attached")
    assert fetch_media() == 2
    messages = list(Message.objects.order_by("pk"))
    [item] = forwards()
    assert item.payload["messages"] == [m.key for m in messages]
    grouped = [requested(m) for m in messages]  # ledgered per message, each naming the grouped item
    assert all(f'"key":"{item.key}"' in e.attrs for e in grouped)
    assert ['"grouped":"opened"' in e.attrs for e in grouped] == [True, False, False, False]
    deliver_emails()
    assert not relay.to(FALLBACK)  # the window is still open
    clock.advance(61)
    deliver_emails()
    [mail] = relay.to(FALLBACK)
    conversation = Conversation.objects.get()
    assert mail["Message-ID"] == compose.message_id(messages[0].key)
    root = compose.thread_root(conversation, FALLBACK)
    assert mail["In-Reply-To"] == root and mail["References"] == root
    assert mail["Subject"] == compose.subject(conversation)
    assert mail["Reply-To"].addresses[0].domain == "replies.firm.example"  # answerable like any forward
    text = mail.get_body(("plain",)).get_content()
    assert "Alice wrote 4 messages" in text
    positions = [text.index(words) for words in ("about the lease", "the signed page", "schedule.pdf", "see attached")]
    assert positions == sorted(positions)
    [image] = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert image.get_content() == PNG_1X1 and image.get_content_disposition() == "inline"
    [document] = list(mail.iter_attachments())
    assert document.get_filename() == "schedule.pdf" and document.get_content() == pdf
    [sent] = Entry.objects.filter(kind="email.forward_sent")
    assert item.key in sent.attrs
    assert deliver_emails() == 0 and len(relay.to(FALLBACK)) == 1


def test_a_message_after_the_window_starts_a_new_burst(bursts: Any, relay: Relay, phone: Phone, clock: Clock) -> None:
    first, _ = phone.send(type="text", text="first")
    clock.advance(61)  # the window closed (the worker has not run yet)
    second, _ = phone.send(type="text", text="second")
    one, two = forwards()
    assert one.payload["messages"] == [f"wa:{first}"] and two.payload["messages"] == [f"wa:{second}"]
    assert (two.next_attempt_at - clock.now()).total_seconds() <= 60  # held no longer than its own window
    deliver_emails()
    [mail] = relay.to(FALLBACK)
    # A burst of one is the per-message email, exactly.
    assert mail["Message-ID"] == compose.message_id(f"wa:{first}") and "Alice wrote on" in mail.get_body(
        ("plain",)).get_content()
    clock.advance(61)
    deliver_emails()
    assert "second" in relay.to(FALLBACK)[1].get_body(("plain",)).get_content()


def test_a_burst_waiting_for_its_media_takes_no_message_after_its_window(bursts: Any, relay: Relay, phone: Phone,
                                                                         clock: Clock) -> None:
    phone.send(type="image", caption="blurry")
    clock.advance(61)
    deliver_emails()
    [waiting] = forwards()
    assert waiting.status == "pending" and waiting.attempts == 0 and "not fetched" in waiting.last_error
    phone.send(type="text", text="did you get the photo?")
    waiting, own = forwards()
    assert len(waiting.payload["messages"]) == 1 and len(own.payload["messages"]) == 1
    clock.advance(61)
    deliver_emails()
    [question] = relay.to(FALLBACK)  # not held back by the photo
    assert "did you get the photo?" in question.get_body(("plain",)).get_content()
    assert fetch_media() == 1
    clock.advance(MEDIA_POLL.total_seconds() + 1)
    deliver_emails()
    photo = relay.to(FALLBACK)[1]
    assert [p.get_content() for p in photo.walk() if p.get_content_type() == "image/png"] == [PNG_1X1]


def test_a_burst_claimed_by_a_worker_that_died_is_sent_once_with_all_its_messages(bursts: Any, relay: Relay,
                                                                                  phone: Phone, clock: Clock) -> None:
    phone.send(type="text", text="one")
    phone.send(type="text", text="two")
    clock.advance(61)
    [claimed] = queue.claim(FORWARD, clock.now())  # the worker took it, then died before sending
    phone.send(type="text", text="three")  # after the window: a burst of its own, never the claimed one
    clock.advance(queue.LEASE.total_seconds() + 61)
    deliver_emails()
    mails = relay.to(FALLBACK)
    assert len(mails) == 2
    assert [len(item.payload["messages"]) for item in forwards()] == [2, 1]
    assert mails[0]["Message-ID"] == compose.message_id(claimed.payload["message"])
    assert {"one", "two"} <= set(mails[0].get_body(("plain",)).get_content().split())


def test_a_message_is_forwarded_once_whatever_is_replayed(bursts: Any, relay: Relay, phone: Phone, client: Client,
                                                          clock: Clock) -> None:
    wamid, raw = phone.send(type="text", text="only once")
    post(client, raw)
    message = Message.objects.get(wamid=wamid)
    assert forwarding.queue_forward(message) is False
    rebuild()
    post(client, raw)
    [item] = forwards()
    assert item.payload["messages"] == [message.key]
    assert Entry.objects.filter(kind="email.forward_requested").count() == 1
    clock.advance(61)
    deliver_emails()
    assert len(relay.to(FALLBACK)) == 1


def test_a_deletion_notice_is_not_held_in_a_burst(bursts: Any, relay: Relay, phone: Phone, clock: Clock) -> None:
    wamid, _ = phone.send(type="text", text="Please ignore my offer")
    phone.send(type="revoke", original_message_id=wamid)
    deliver_emails()
    [notice] = relay.to(FALLBACK)
    assert "deleted a message" in notice.get_body(("plain",)).get_content()
    assert notice["In-Reply-To"] == compose.message_id(f"wa:{wamid}")
    clock.advance(61)
    deliver_emails()
    assert len(relay.to(FALLBACK)) == 2


def test_without_a_window_each_message_is_its_own_email(relay: Relay, phone: Phone) -> None:
    phone.send(type="text", text="one")
    phone.send(type="text", text="two")
    assert [item.payload.get("messages") for item in forwards()] == [None, None]
    deliver_emails()
    assert len(relay.to(FALLBACK)) == 2


def test_the_burst_window_is_checked(settings: Any) -> None:
    settings.EMAIL_BURST_SECONDS = 7200
    assert [m.id for m in check_email_grouping()] == ["onfile.E038"]
