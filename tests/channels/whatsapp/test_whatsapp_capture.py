"""The webhook endpoint and the worker's processing, against the real ledger and projection.

Signed bodies are captured raw and committed before the 200 (ARCHITECTURE 1); bad
signatures are security events, not records; every item of every documented payload
becomes a message, status or event; duplicates add nothing; edits and deletions keep the
original (REQ-SEC-4); rebuild reproduces it all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from tests.test_rebuild import snapshot

from onfile.channels.whatsapp.models import ChannelEvent, MediaFetch, ProcessedItem, WebhookJob
from onfile.channels.whatsapp.payloads import split_webhook
from onfile.channels.whatsapp.processing import process_pending
from onfile.channels.whatsapp.reconcile import reconcile
from onfile.conversations.models import Attachment, Conversation, Message, MessageRevision, MessageStatus
from onfile.ledger.blobs import read_blob
from onfile.ledger.models import Entry
from onfile.ledger.verify import verify
from onfile.projection import rebuild

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).with_name("fixtures")
SECRET = "test-app-secret"


@pytest.fixture(autouse=True)
def whatsapp_settings(settings: Any) -> None:
    settings.WHATSAPP_APP_SECRET = SECRET
    settings.WHATSAPP_VERIFY_TOKEN = "verify-me"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def post(client: Client, body: bytes, signature: str | None = None) -> Any:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    sig = signature if signature is not None else "sha256=" + digest
    headers = {"HTTP_X_HUB_SIGNATURE_256": sig} if sig else {}
    return client.post("/webhooks/whatsapp", data=body, content_type="application/json", **headers)


def deliver(client: Client, *names: str) -> None:
    for name in names:
        assert post(client, fixture(name)).status_code == 200
    process_pending()


def test_the_verification_handshake(archive: None, client: Client) -> None:
    ok = client.get("/webhooks/whatsapp", {"hub.mode": "subscribe", "hub.challenge": "1158201444",
                                           "hub.verify_token": "verify-me"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    bad = client.get("/webhooks/whatsapp", {"hub.mode": "subscribe", "hub.challenge": "x", "hub.verify_token": "no"})
    assert bad.status_code == 403


def test_a_signed_body_is_captured_byte_for_byte_before_the_answer(archive: None, client: Client) -> None:
    body = fixture("text.json")
    response = post(client, body)
    assert response.status_code == 200
    capture = Entry.objects.get(kind="capture.webhook")
    assert read_blob(capture.blob_id) == body
    assert WebhookJob.objects.get(capture_seq=capture.seq).done is False


@pytest.mark.parametrize("signature,status", [("", 401), ("sha256=" + "0" * 64, 403), ("md5=abc", 403)])
def test_a_bad_signature_is_a_security_event_not_a_record(archive: None, client: Client, signature: str,
                                                          status: int) -> None:
    assert post(client, fixture("text.json"), signature).status_code == status
    assert not Entry.objects.filter(kind="capture.webhook").exists()
    event = Entry.objects.get(kind="security.webhook_signature")
    assert json.loads(event.attrs)["size"] == len(fixture("text.json"))


def test_an_oversized_body_is_refused(archive: None, client: Client, settings: Any) -> None:
    settings.WHATSAPP_MAX_BODY = 100
    assert post(client, fixture("batch.json")).status_code == 413
    assert not Entry.objects.filter(kind="capture.webhook").exists()


def test_a_signed_body_that_is_not_json_is_kept_and_flagged(archive: None, client: Client) -> None:
    assert post(client, b"{not json").status_code == 200
    process_pending()
    assert Entry.objects.filter(kind="whatsapp.malformed").count() == 1
    assert reconcile()["malformed_webhooks"] == 1


def test_a_text_message_lands_in_a_live_conversation(archive: None, client: Client) -> None:
    deliver(client, "text.json")
    message = Message.objects.get()
    assert message.body == "Hello, is the contract ready? Grüße 🙂"
    assert message.direction == "in" and message.sender_phone == "+16505551234"
    conversation = message.conversation
    assert conversation.source == "live" and conversation.recipient == "+16505551234"
    assert conversation.last_inbound_at == message.sent_at
    assert conversation.client.name == "Jane Doe"
    assert "unconfigured-number" in conversation.flags  # no number configured in this test


def test_duplicates_add_nothing(archive: None, client: Client) -> None:
    deliver(client, "text.json", "text.json", "text.json")
    assert Message.objects.count() == 1 and ProcessedItem.objects.count() == 1
    assert Entry.objects.filter(kind="capture.webhook").count() == 3  # every delivery is still kept raw


def test_a_deletion_and_an_edit_keep_the_original(archive: None, client: Client) -> None:
    deliver(client, "text.json", "revoke.json")
    message = Message.objects.get()
    assert message.deleted and message.body.startswith("Hello, is the contract ready?")
    revision = MessageRevision.objects.get(message=message)
    assert revision.kind == "delete" and revision.body == message.body


def test_statuses_never_go_backwards_and_orphans_are_reported(archive: None, client: Client) -> None:
    deliver(client, "status_read.json", "statuses_delivered_failed.json", "statuses_sent_pricing.json")
    assert MessageStatus.objects.filter(message__isnull=True).count() >= 3
    assert reconcile()["statuses_without_message"]["count"] >= 2


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_documented_payload_is_recorded_item_by_item(archive: None, client: Client, name: str) -> None:
    body = fixture(name)
    items = split_webhook(body)
    deliver(client, name)
    identities = {i.identity for i in items}
    assert set(ProcessedItem.objects.values_list("identity", flat=True)) == identities
    assert Entry.objects.filter(kind="whatsapp.item").count() == len(identities)
    recorded = (Message.objects.count() + MessageStatus.objects.count() + ChannelEvent.objects.count()
                + MessageRevision.objects.count())
    assert recorded >= 1 or all(i.kind == "message" for i in items)
    for item in items:
        if item.kind in ("message", "echo", "history_message") and item.message and item.message.media \
                and item.message.media.id:
            assert MediaFetch.objects.filter(media_id=item.message.media.id).exists()
            assert Attachment.objects.filter(media_id=item.message.media.id, placeholder="not-fetched").exists()
    assert verify().ok


def test_unknown_types_are_kept_as_unsupported_with_their_raw_json(archive: None, client: Client) -> None:
    deliver(client, "unsupported_131051.json", "unknown_field.json")
    assert Message.objects.filter(type="unsupported").exists()
    events = ChannelEvent.objects.filter(kind="unknown")
    assert events.exists() and all(e.data["raw"] for e in events)


def test_an_echo_is_an_outgoing_message_from_the_firm(archive: None, client: Client) -> None:
    deliver(client, "echo_text.json")
    message = Message.objects.get()
    assert message.direction == "out" and message.data["via"] == "business-app"


def test_a_bsuid_only_user_gets_a_conversation(archive: None, client: Client) -> None:
    deliver(client, "bsuid_only.json")
    conversation = Conversation.objects.get()
    assert conversation.recipient.startswith("US.") or conversation.recipient.startswith("BR.")
    assert conversation.client.identities.filter(kind="bsuid").exists()


def test_rebuild_reproduces_live_capture(archive: None, client: Client) -> None:
    deliver(client, "text.json", "revoke.json", "image_reply_bsuid.json", "batch.json", "echo_text.json",
            "reaction.json", "status_read.json", "history_chunk.json", "unknown_field.json")
    before = snapshot()
    rebuild()
    assert snapshot() == before


def test_a_nul_character_is_kept_raw_and_shown_as_a_replacement(archive: None, client: Client) -> None:
    # PostgreSQL cannot store NUL in text or jsonb (found by the pipeline fuzz test).
    body = fixture("text.json").replace(b"Hello, is", b"Hello\\u0000, is")
    assert post(client, body).status_code == 200
    process_pending()
    assert Message.objects.get().body.startswith("Hello\ufffd, is")
    assert read_blob(Entry.objects.get(kind="capture.webhook").blob_id) == body
