"""Notable events by email: a deletion by the client, a failed delivery of the firm's message."""

from __future__ import annotations

import pytest

from onfile.channels.email import compose
from onfile.channels.email.delivery import deliver_emails
from onfile.channels.whatsapp.sending import Outgoing, deliver_sends, do_send
from onfile.conversations.models import Conversation, Message
from onfile.ledger.models import Entry

from .conftest import FALLBACK, Phone, Relay

pytestmark = pytest.mark.django_db


def test_a_deletion_by_the_client_sends_a_notice_in_the_same_thread(relay: Relay, phone: Phone) -> None:
    wamid, _ = phone.send(type="text", text="Please ignore my offer")
    phone.send(type="revoke", original_message_id=wamid)
    deliver_emails()
    original, notice = relay.to(FALLBACK)
    assert "deleted a message" in notice.get_body(("plain",)).get_content()
    assert "Please ignore my offer" in notice.get_body(("plain",)).get_content()
    assert notice["In-Reply-To"] == original["Message-ID"]
    assert notice["References"].split() == [original["References"], original["Message-ID"]]
    assert notice["Subject"] == original["Subject"] and notice["Message-ID"] != original["Message-ID"]
    assert '"notice":"deleted"' in Entry.objects.filter(kind="email.forward_requested").last().attrs


def test_a_failed_delivery_of_our_message_sends_a_notice(relay: Relay, phone: Phone) -> None:
    phone.send(type="text", text="hello")
    sent = do_send(Conversation.objects.get(), Outgoing(text="Your documents are ready"), "user:1")
    deliver_sends()
    sent.refresh_from_db()
    phone.status(sent.wamid, "failed", errors=[{"code": 131026, "title": "Message undeliverable"}])
    assert Message.objects.get(pk=sent.pk).status == "failed"
    deliver_emails()
    notice = relay.to(FALLBACK)[-1]
    assert notice["Message-ID"] == compose.message_id(sent.key, "failed")
    assert "did not receive our message" in notice.get_body(("plain",)).get_content()
    assert "Your documents are ready" in notice.get_body(("plain",)).get_content()


def test_a_delivered_status_sends_nothing(relay: Relay, phone: Phone) -> None:
    phone.send(type="text", text="hello")
    sent = do_send(Conversation.objects.get(), Outgoing(text="ok"), "user:1")
    deliver_sends()
    sent.refresh_from_db()
    phone.status(sent.wamid, "delivered")
    assert Entry.objects.filter(kind="email.forward_requested").count() == 1
