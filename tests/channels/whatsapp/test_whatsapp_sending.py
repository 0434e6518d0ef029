"""Sending through the outbox against the simulator as a real Graph API: retries on 500/429,
permanent failures recorded, the 24-hour window enforced, media size limits (whatsapp.md B)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from onfile import clock
from onfile.channels.whatsapp.processing import process_pending
from onfile.channels.whatsapp.sending import Outgoing, SendError, deliver_sends, do_send, templates, window_open
from onfile.conversations.models import Conversation, Message
from onfile.ledger.models import Entry
from onfile.outbox.models import OutboxItem
from onfile.simulator import Simulator, parse_number

pytestmark = pytest.mark.django_db
SECRET, TOKEN, PNID, CLIENT = "s-secret", "s-token", "106540352242922", "+447700900123"


@pytest.fixture
def sim(settings: Any) -> Iterator[Simulator]:
    simulator = Simulator(port=0, webhook_url="", app_secret=SECRET, access_token=TOKEN, status_delay_ms=10,
                          numbers=[parse_number(f"{PNID}:15550783881:Example Law")]).start()
    settings.WHATSAPP_GRAPH_URL = simulator.url
    settings.WHATSAPP_ACCESS_TOKEN = TOKEN
    settings.WHATSAPP_APP_SECRET = SECRET
    settings.WHATSAPP_WABA_ID = "102290129340398"
    yield simulator
    simulator.stop()


@pytest.fixture
def conversation(archive: None, sim: Simulator, client: Client) -> Conversation:
    """A client wrote to the firm: the simulator built the webhook, onfile captured it."""
    wamid = sim.inbound(**{"from": CLIENT, "name": "Alice", "type": "text", "text": "hello"})
    raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
            "contacts": [{"profile": {"name": "Alice"}, "wa_id": CLIENT[1:]}],
            "messages": [{"from": CLIENT[1:], "id": wamid, "timestamp": str(int(time.time())), "type": "text",
                          "text": {"body": "hello"}}]}}]}]}).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert client.post("/webhooks/whatsapp", data=raw, content_type="application/json",
                       HTTP_X_HUB_SIGNATURE_256=sig).status_code == 200
    process_pending()
    return Conversation.objects.get()


def test_a_text_reply_is_sent_and_recorded_with_its_wamid(conversation: Conversation, sim: Simulator) -> None:
    message = do_send(conversation, Outgoing(text="Yes"), "user:1")
    assert message.status == "queued" and OutboxItem.objects.get().status == "pending"
    assert deliver_sends() == 1
    message.refresh_from_db()
    assert message.wamid and message.status == "accepted"
    assert [m["body"]["text"]["body"] for m in sim.outbox()] == ["Yes"]
    assert Entry.objects.filter(kind="whatsapp.send_accepted").count() == 1


def test_a_document_is_uploaded_then_sent_by_id(conversation: Conversation, sim: Simulator) -> None:
    do_send(conversation, Outgoing(data=b"%PDF-1.4 letter", filename="letter.pdf", mime_type="application/pdf",
                                   caption="Our letter"), "user:1")
    deliver_sends()
    [sent] = sim.outbox()
    assert sent["type"] == "document" and sent["body"]["document"]["filename"] == "letter.pdf"
    assert sent["body"]["document"]["id"]


def test_server_errors_and_rate_limits_are_retried_then_sent_once(conversation: Conversation,
                                                                 sim: Simulator) -> None:
    sim.set_faults(graph_500=1, graph_429=1)
    do_send(conversation, Outgoing(text="retry me"), "user:1")
    deliver_sends()
    item = OutboxItem.objects.get()
    assert item.status == "pending" and item.attempts == 1 and "500" in item.last_error
    OutboxItem.objects.update(next_attempt_at=clock.now())
    deliver_sends()
    OutboxItem.objects.update(next_attempt_at=clock.now())
    deliver_sends()
    assert OutboxItem.objects.get().status == "done"
    assert len(sim.outbox()) == 1


def test_the_window_closes_after_24_hours(conversation: Conversation, sim: Simulator) -> None:
    assert window_open(conversation)
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=clock.now() - timedelta(hours=25))
    conversation.refresh_from_db()
    before = Entry.objects.count()
    with pytest.raises(SendError, match="24-hour customer-service window closed") as refused:
        do_send(conversation, Outgoing(text="hello?"), "user:1")
    assert "please_reply" in str(refused.value)
    assert Entry.objects.count() == before and not OutboxItem.objects.exists()
    names = {t["name"] for t in templates(conversation)}
    assert {"hello_world", "please_reply"} <= names
    do_send(conversation, Outgoing(template="please_reply", language="en_GB", params=["Alice"]), "user:1")
    deliver_sends()
    assert sim.outbox()[0]["type"] == "template"


def test_a_send_refused_by_whatsapp_is_recorded_as_failed(conversation: Conversation, sim: Simulator) -> None:
    do_send(conversation, Outgoing(template="no_such_template", language="en_GB"), "user:1")
    deliver_sends()
    message = Message.objects.get(direction="out")
    assert message.status == "failed" and message.data["error"]["code"] == 132001
    assert OutboxItem.objects.get().status == "failed"


def test_media_over_whatsapp_limits_is_refused_before_queueing(conversation: Conversation) -> None:
    with pytest.raises(SendError, match="at most"):
        do_send(conversation, Outgoing(data=b"x" * (6 << 20), filename="big.jpg", mime_type="image/jpeg"), "user:1")
    assert not OutboxItem.objects.exists()


def test_an_imported_chat_cannot_be_answered(archive: None) -> None:
    conversation = Conversation.objects.create(id=99, key="device:x", source="device", created_seq=0)
    with pytest.raises(SendError, match="no WhatsApp number"):
        do_send(conversation, Outgoing(text="hi"), "user:1")


def test_read_receipts_are_sent_once_for_staff_and_never_for_compliance(conversation: Conversation,
                                                                        sim: Simulator) -> None:
    from onfile.accounts.actions import do_create_user
    from onfile.channels.whatsapp import receipts

    colp = do_create_user("colp@firm.example", None, "compliance", "test")
    earner = do_create_user("earner@firm.example", None, "fee_earner", "test")
    assert not receipts.queue_read(conversation, colp)  # a compliance review is not the firm answering
    assert receipts.queue_read(conversation, earner)
    assert not receipts.queue_read(conversation, earner)  # once per message, however often it is viewed
    wamid = Message.objects.get(conversation=conversation, direction="in").wamid
    assert sim.conversation(CLIENT)["messages"][-1]["status"] != "read"
    assert receipts.deliver_reads() == 1
    shown = next(m for m in sim.conversation(CLIENT)["messages"] if m["id"] == wamid)
    assert shown["status"] == "read"  # blue ticks on the client's phone
    item = OutboxItem.objects.get(kind=receipts.KIND)
    assert item.status == OutboxItem.Status.DONE
    assert Entry.objects.filter(kind="whatsapp.read_requested", actor=earner.actor).count() == 1


def test_a_read_receipt_for_an_unknown_message_fails_without_retrying(conversation: Conversation,
                                                                      sim: Simulator) -> None:
    from onfile.accounts.actions import do_create_user
    from onfile.channels.whatsapp import receipts

    Message.objects.filter(conversation=conversation, direction="in").update(wamid="wamid.UNKNOWN")
    assert receipts.queue_read(conversation, do_create_user("e@firm.example", None, "fee_earner", "test"))
    receipts.deliver_reads()
    item = OutboxItem.objects.get(kind=receipts.KIND)
    assert item.status == OutboxItem.Status.FAILED and "Invalid message_id" in item.last_error
