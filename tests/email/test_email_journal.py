"""Journaling every message in and out to the firm's archive (compliance.md §2.5, REQ-EML-1/4)."""

from __future__ import annotations

from typing import Any

import pytest

from onfile.channels.email.delivery import deliver_emails
from onfile.channels.email.forwarding import JOURNAL
from onfile.channels.whatsapp.sending import Outgoing, deliver_sends, do_send
from onfile.conversations.models import Conversation, Message
from onfile.ledger.models import Entry
from onfile.outbox.models import OutboxItem

from .conftest import CLIENT, DOMAIN, Phone, Relay
from .conftest import JOURNAL as ADDRESS

pytestmark = pytest.mark.django_db


def test_an_inbound_message_is_journaled_with_the_archive_headers(relay: Relay, phone: Phone, fee_earner: Any) -> None:
    phone.send(type="text", text="Our instructions attached")
    deliver_emails()
    [received] = [r for r in relay.received if r.recipients == [ADDRESS]]
    mail = received.email
    message = Message.objects.get()
    entry = Entry.objects.get(seq=message.source_seq)
    assert mail["X-Archive-Source"] == "whatsapp" and mail["X-Archive-Direction"] == "inbound"
    assert mail["X-Archive-Thread-Id"] == f"conversation:{message.conversation_id}"
    assert mail["X-Archive-Record-Ids"] == message.key
    assert mail["X-Archive-Leaf-Index"] == str(entry.seq) and entry.kind == "whatsapp.item"
    assert mail["X-Archive-Sha256"] == entry.leaf_hash
    assert mail["From"].addresses[0].addr_spec == f"{CLIENT[1:]}@whatsapp.{DOMAIN}"
    assert mail["Auto-Submitted"] == "auto-generated" and mail["Precedence"] == "bulk"
    assert "Our instructions attached" in mail.get_body(("plain",)).get_content()
    receipt = Entry.objects.get(kind="email.journal_sent")
    assert "250 2.0.0 Ok: queued as" in receipt.attrs and mail["Message-ID"] in receipt.attrs


def test_an_outgoing_message_is_journaled_once_whatsapp_accepted_it(relay: Relay, phone: Phone,
                                                                    fee_earner: Any) -> None:
    phone.send(type="text", text="hello")
    message = do_send(Conversation.objects.get(), Outgoing(text="We have filed the claim"), fee_earner.actor)
    assert OutboxItem.objects.filter(kind=JOURNAL).count() == 1  # only the inbound one so far
    deliver_sends()
    assert OutboxItem.objects.filter(kind=JOURNAL).count() == 2
    deliver_emails()
    out = [r.email for r in relay.received if r.recipients == [ADDRESS]][-1]
    assert out["X-Archive-Direction"] == "outbound" and out["X-Archive-Record-Ids"] == message.key
    assert out["From"].addresses[0].addr_spec == fee_earner.email
    assert out["To"].addresses[0].addr_spec == f"{CLIENT[1:]}@whatsapp.{DOMAIN}"
    assert out["X-Archive-Leaf-Index"] == str(message.source_seq)
    assert "We have filed the claim" in out.get_body(("plain",)).get_content()
    assert Entry.objects.filter(kind="email.journal_sent").count() == 2


def test_journaling_is_off_without_a_journal_address(relay_settings: Any, relay: Relay, phone: Phone) -> None:
    relay_settings.JOURNAL_ADDRESS = ""
    phone.send(type="text", text="hello")
    assert not OutboxItem.objects.filter(kind=JOURNAL).exists()
    deliver_emails()
    assert all(r.recipients != [ADDRESS] for r in relay.received)


def test_a_message_sent_from_the_business_app_is_journaled_not_forwarded(relay: Relay, phone: Phone) -> None:
    phone.send(type="text", text="hello")
    wamid = phone.echo(type="text", text="Sent from my phone")
    message = Message.objects.get(wamid=wamid)
    assert message.direction == "out"
    assert Entry.objects.filter(kind="email.forward_requested").count() == 1
    deliver_emails()
    out = [r.email for r in relay.received if r.recipients == [ADDRESS]][-1]
    assert out["X-Archive-Record-Ids"] == message.key and out["X-Archive-Direction"] == "outbound"
    assert out["To"].addresses[0].addr_spec == f"{CLIENT[1:]}@whatsapp.{DOMAIN}"
