"""Each client message in the right mailbox: recipient, threading, subject, parts, media, idempotency."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from onfile.accounts.models import Team
from onfile.channels.email import compose, delivery
from onfile.channels.email.delivery import deliver_emails
from onfile.channels.email.forwarding import FORWARD
from onfile.channels.whatsapp.numbers import do_configure_number
from onfile.channels.whatsapp.processing import fetch_media
from onfile.conversations.actions import do_assign, do_create_matter, do_link_matter
from onfile.conversations.models import Attachment, Conversation, Message
from onfile.ledger.models import Entry
from onfile.ops.worker import Worker
from onfile.outbox.models import OutboxItem
from onfile.projection import rebuild
from onfile.simulator.payloads import PNG_1X1

from .conftest import CLIENT, DOMAIN, FALLBACK, FROM, PNID, Phone, Relay, post

pytestmark = pytest.mark.django_db


def forwards() -> list[OutboxItem]:
    return list(OutboxItem.objects.filter(kind=FORWARD).order_by("pk"))


def test_an_unassigned_conversation_without_a_team_goes_to_the_fallback(relay: Relay, phone: Phone) -> None:
    wamid, _ = phone.send(type="text", text="Hello, is the contract ready?")
    assert deliver_emails() == 2  # the forward and the journal copy
    [mail] = relay.to(FALLBACK)
    assert mail["Subject"] == f"WhatsApp: Alice ({CLIENT})"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["From"].addresses[0].addr_spec == FROM
    assert mail["Message-ID"] == compose.message_id(f"wa:{wamid}") and mail["Message-ID"].endswith(f"@{DOMAIN}>")
    [entry] = Entry.objects.filter(kind="email.forward_requested")
    assert '"recipient":"fallback"' in entry.attrs and FALLBACK not in entry.attrs


def test_the_assignee_gets_one_thread_with_the_matter_in_the_subject(relay: Relay, phone: Phone,
                                                                    fee_earner: Any) -> None:
    phone.send(type="text", text="first")
    conversation = Conversation.objects.get()
    do_assign(conversation, fee_earner.pk, "user:1")
    do_link_matter(conversation, do_create_matter("LIT-2026-0042", "user:1"), "user:1")
    phone.send(type="text", text="second <b>bold</b> & more")
    phone.send(type="text", text="third")
    deliver_emails()
    mails = relay.to(fee_earner.email)
    assert [m.get_body(("plain",)).get_content().count(word) for m, word in zip(mails, ["second", "third"],
                                                                               strict=True)] == [1, 1]
    root = compose.thread_root(conversation, fee_earner.email)
    for mail in mails:
        assert mail["Subject"] == f"WhatsApp: Alice ({CLIENT}) — LIT-2026-0042"
        assert mail["In-Reply-To"] == root and mail["References"] == root
    assert len({m["Message-ID"] for m in mails}) == 2
    html = mails[0].get_body(("html",)).get_content()
    assert "second &lt;b&gt;bold&lt;/b&gt; &amp; more" in html and "<b>bold</b>" not in html
    assert f"https://onfile.firm.example/conversations/{conversation.pk}/" in html
    assert "Alice wrote on" in mails[0].get_body(("plain",)).get_content()


def test_an_unassigned_conversation_goes_to_its_team_mailbox(relay_settings: Any, relay: Relay, phone: Phone) -> None:
    Team.objects.create(name="Litigation", mailbox="litigation@firm.example")
    do_configure_number(PNID, "+15550783881", "user:1", display_name="Example Law", team="Litigation")
    phone.send(type="text", text="Anyone there?")
    deliver_emails()
    assert len(relay.to("litigation@firm.example")) == 1 and not relay.to(FALLBACK)
    assert '"recipient":"team:' in Entry.objects.get(kind="email.forward_sent").attrs


def test_nothing_is_queued_when_nobody_could_receive_it(relay_settings: Any, relay: Relay, phone: Phone) -> None:
    relay_settings.EMAIL_FALLBACK = ""
    phone.send(type="text", text="hello")
    assert not forwards() and not Entry.objects.filter(kind="email.forward_requested").exists()


def test_forwarding_is_off_without_an_smtp_host(settings: Any, phone: Phone) -> None:
    settings.SMTP_HOST = ""
    settings.EMAIL_FALLBACK = FALLBACK
    phone.send(type="text", text="hello")
    assert not OutboxItem.objects.filter(kind__startswith="email.").exists()
    assert deliver_emails() == 0


def test_a_duplicate_webhook_and_a_rebuild_send_one_email(relay: Relay, phone: Phone, client: Client) -> None:
    _, raw = phone.send(type="text", text="only once")
    post(client, raw)  # Meta delivers the same body again
    assert len(forwards()) == 1
    deliver_emails()
    rebuild()
    post(client, raw)
    assert deliver_emails() == 0
    assert len(relay.to(FALLBACK)) == 1
    assert Entry.objects.filter(kind="email.forward_requested").count() == 1
    assert Entry.objects.filter(kind="email.forward_sent").count() == 1


def test_a_photo_waits_for_its_bytes_then_arrives_inline(relay: Relay, phone: Phone) -> None:
    phone.send(type="image", caption="the signed page")
    assert deliver_emails() == 2
    item = forwards()[0]
    assert item.status == "pending" and item.attempts == 0 and "not fetched" in item.last_error
    assert not relay.received
    assert fetch_media() == 1
    OutboxItem.objects.update(next_attempt_at=item.created_at)
    deliver_emails()
    [mail] = relay.to(FALLBACK)
    attachment = Attachment.objects.get()
    [image] = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    data = image.get_content()
    assert data == PNG_1X1 and hashlib.sha256(data).hexdigest() == attachment.sha256
    assert image.get_content_disposition() == "inline"
    html = mail.get_body(("html",))
    assert f'src="cid:{image["Content-ID"][1:-1]}"' in html.get_content()
    assert "the signed page" in mail.get_body(("plain",)).get_content()


def test_media_that_cannot_be_fetched_in_time_is_sent_as_a_link(relay: Relay, phone: Phone,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    phone.send(type="image", caption="blurry")
    monkeypatch.setattr(delivery, "MEDIA_WAIT", timedelta(0))
    deliver_emails()
    [mail] = relay.to(FALLBACK)
    conversation = Conversation.objects.get()
    assert "not available here: not-fetched" in mail.get_body(("plain",)).get_content()
    assert f"/conversations/{conversation.pk}/" in mail.get_body(("plain",)).get_content()
    assert not [p for p in mail.walk() if p.get_content_maintype() == "image"]


def test_a_document_is_attached_with_its_name(relay: Relay, phone: Phone) -> None:
    pdf = b"%PDF-1.4\n% the lease\n%%EOF\n"
    phone.send(type="document", filename="lease.pdf", data_b64=base64.b64encode(pdf).decode())
    fetch_media()
    deliver_emails()
    [mail] = relay.to(FALLBACK)
    [attached] = list(mail.iter_attachments())
    assert attached.get_filename() == "lease.pdf" and attached.get_content_type() == "application/pdf"
    assert attached.get_content() == pdf


def test_a_file_above_the_size_limit_becomes_a_link(relay_settings: Any, relay: Relay, phone: Phone) -> None:
    relay_settings.EMAIL_MAX_ATTACHMENT_MB = 0
    phone.send(type="image")
    fetch_media()
    deliver_emails()
    [mail] = relay.to(FALLBACK)
    assert not [p for p in mail.walk() if p.get_content_maintype() == "image"]
    link = f"https://onfile.firm.example/media/{Attachment.objects.get().pk}"
    assert link in mail.get_body(("plain",)).get_content() and link in mail.get_body(("html",)).get_content()


def test_a_reply_quotes_the_message_it_answers(relay: Relay, phone: Phone) -> None:
    first, _ = phone.send(type="text", text="Which date suits you?")
    phone.send(type="text", text="Tuesday", context={"id": first})
    deliver_emails()
    last = relay.to(FALLBACK)[-1]
    assert "> Alice: Which date suits you?" in last.get_body(("plain",)).get_content()
    assert "<blockquote" in last.get_body(("html",)).get_content()


def test_a_non_ascii_name_and_text_are_encoded_and_parse_strictly(relay: Relay, phone: Phone) -> None:
    phone.name = "Zoë Ångström\nBcc: evil@example.com"
    phone.send(type="text", text="Grüße — 你好 ✅")
    deliver_emails()
    [mail] = relay.to(FALLBACK)
    assert mail["Subject"] == f"WhatsApp: Zoë Ångström Bcc: evil@example.com ({CLIENT})"
    assert mail["Bcc"] is None
    assert "Grüße — 你好 ✅" in mail.get_body(("plain",)).get_content()
    assert all(r.recipients == [FALLBACK] for r in relay.received if r.recipients != ["journal@archive.example"])


def test_the_worker_delivers_queued_emails(relay: Relay, phone: Phone) -> None:
    phone.send(type="text", text="via the worker")
    assert Worker().email() == 2
    assert len(relay.received) == 2
    assert Message.objects.get().body == "via the worker"
