"""Replies by email while WhatsApp's 24-hour window is closed (whatsapp.md B4): held, the member of
staff told at once, the client asked to write (a template, once per closed window), and the held
replies sent in order when the client writes again — or expired, with a notice, if they never do."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from onfile import clock
from onfile.accounts.models import User
from onfile.accounts.staff import do_update_staff
from onfile.channels.email import compose, inbound
from onfile.channels.email.delivery import deliver_emails
from onfile.channels.email.holds import expire_holds
from onfile.channels.email.models import HeldReply
from onfile.channels.whatsapp.sending import deliver_sends
from onfile.conversations.models import Conversation, Message
from onfile.ledger.models import Entry
from onfile.ops.worker import Worker
from onfile.outbox.models import OutboxItem
from onfile.projection import rebuild
from onfile.simulator import Simulator
from onfile.simulator.payloads import PNG_1X1

from .conftest import CLIENT, Phone, Relay
from .replying import PDF, Thread, kinds, reply_to

pytestmark = pytest.mark.django_db


def close_window(conversation: Conversation, hours: int = 25) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=clock.now() - timedelta(hours=hours))
    conversation.refresh_from_db()


def notices(relay: Relay, to: str) -> list[Any]:
    return [m for m in relay.to(to) if str(m["Message-ID"]).strip().startswith("<notice.")]


def out_messages() -> list[Message]:
    return list(Message.objects.filter(direction="out").order_by("position"))


def test_a_reply_to_a_closed_window_is_held_then_sent_when_the_client_writes(
        thread: Thread, relay: Relay, phone: Phone, sim: Simulator, replies: Any) -> None:
    replies.EMAIL_WINDOW_TEMPLATE = "please_reply:en_GB"
    close_window(thread.conversation)
    first = reply_to(thread.forward, thread.staff.email, "The lease is attached.",
                     files=(("lease.pdf", "application/pdf", PDF),))
    second = reply_to(thread.forward, thread.staff.email, "And a photo of the site.",
                      files=(("site.png", "image/png", PNG_1X1),))
    outcomes = [inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email) for raw in (first, second)]
    assert [o.status for o in outcomes] == ["held", "held"]
    assert "24-hour window is closed" in outcomes[0].reason

    # Nothing but one template went to WhatsApp: asked once for this closed window, not per reply.
    [template] = out_messages()
    assert template.type == "template" and template.body == "[template please_reply] Alice"
    assert Entry.objects.get(kind="whatsapp.send_requested").actor == f"user:{thread.staff.pk}"
    held = [json.loads(e.attrs) for e in Entry.objects.filter(kind="email.reply_held")]
    assert [h["template"] for h in held] == ["sent", "already sent"] and [h["parts"] for h in held] == [2, 2]

    # The member of staff is told at once, in the conversation's thread.
    deliver_emails()
    notice, _ = notices(relay, thread.staff.email)
    text = notice.get_body(("plain",)).get_content()
    assert "is held, not sent yet" in text and "your text, lease.pdf" in text and "please_reply" in text
    assert notice["Subject"] == thread.forward["Subject"]
    assert notice["In-Reply-To"] in first.decode() and compose.thread_root(
        thread.conversation, thread.staff.email) in notice["References"]
    assert deliver_sends() == 1 and sim.outbox()[-1]["type"] == "template"

    # The client writes again: the held replies go, in the order they arrived, each one whole.
    phone.send(type="text", text="Hello again")
    assert [(m.type, m.body) for m in out_messages()[1:]] == [
        ("text", "The lease is attached."), ("document", ""), ("text", "And a photo of the site."), ("image", "")]
    assert [r.status for r in HeldReply.objects.all()] == ["released", "released"]
    assert kinds("email.reply_") == ["email.reply_received", "email.reply_held", "email.reply_received",
                                     "email.reply_held", "email.reply_released", "email.reply_released"]
    released = json.loads(Entry.objects.filter(kind="email.reply_released").first().attrs)
    assert released["messages"] == [m.key for m in out_messages()[1:3]]
    assert deliver_sends() == 4
    on_the_phone = [m["type"] for m in sim.conversation(CLIENT)["messages"] if m["direction"] == "out"]
    assert on_the_phone == ["template", "text", "document", "text", "image"]

    # Released once: the client's next message sends nothing more, and neither does a rebuild.
    phone.send(type="text", text="Thanks")
    rebuild()
    assert len(out_messages()) == 5 and deliver_sends() == 0


def test_without_a_configured_template_the_notice_says_how_to_ask(thread: Thread, relay: Relay) -> None:
    close_window(thread.conversation)
    outcome = inbound.receive(reply_to(thread.forward, thread.staff.email), via="smtpd",
                              envelope_from=thread.staff.email)
    assert outcome.status == "held" and not out_messages()
    assert json.loads(Entry.objects.get(kind="email.reply_held").attrs)["template"] == "not configured"
    Worker().email()
    [notice] = notices(relay, thread.staff.email)
    assert "send them an approved WhatsApp template" in notice.get_body(("plain",)).get_content()


def test_a_new_closed_window_gets_a_new_template(thread: Thread, phone: Phone, replies: Any) -> None:
    replies.EMAIL_WINDOW_TEMPLATE = "please_reply:en_GB"
    close_window(thread.conversation)
    inbound.receive(reply_to(thread.forward, thread.staff.email, "one"), via="smtpd", envelope_from=thread.staff.email)
    phone.send(type="text", text="ok")  # released
    close_window(thread.conversation, hours=30)
    inbound.receive(reply_to(thread.forward, thread.staff.email, "two"), via="smtpd", envelope_from=thread.staff.email)
    assert [m.type for m in out_messages()] == ["template", "text", "template"]


def test_a_hold_that_is_never_released_expires_with_a_notice(thread: Thread, relay: Relay, phone: Phone,
                                                             replies: Any) -> None:
    close_window(thread.conversation)
    inbound.receive(reply_to(thread.forward, thread.staff.email, "Too late?"), via="smtpd",
                    envelope_from=thread.staff.email)
    assert expire_holds() == 0  # not yet
    assert expire_holds(clock.now() + timedelta(days=8)) == 1
    assert HeldReply.objects.get().status == "expired"
    assert json.loads(Entry.objects.get(kind="email.reply_expired").attrs)["days"] == 7
    deliver_emails()
    _held, expired = notices(relay, thread.staff.email)
    assert "was not sent" in expired.get_body(("plain",)).get_content()
    assert "within 7 days" in expired.get_body(("plain",)).get_content()
    phone.send(type="text", text="Sorry, I was away")
    assert not out_messages()  # an expired reply is never sent later
    assert expire_holds(clock.now() + timedelta(days=9)) == 0


def test_a_held_reply_whose_sender_was_deactivated_is_not_sent(thread: Thread, relay: Relay, phone: Phone,
                                                               admin: User) -> None:
    close_window(thread.conversation)
    inbound.receive(reply_to(thread.forward, thread.staff.email, "Held"), via="smtpd",
                    envelope_from=thread.staff.email)
    do_update_staff(thread.staff, admin.actor, role="fee_earner", team_id=None, active=False)
    phone.send(type="text", text="Here I am")
    assert not out_messages()
    assert HeldReply.objects.get().status == "failed"
    [failed] = Entry.objects.filter(kind="email.reply_release_failed")
    assert thread.staff.email not in failed.attrs  # the reason (naming them) is sealed
    assert not OutboxItem.objects.filter(kind="email.notice", key__startswith="email.notice:failed").exists()


def test_a_held_reply_that_cannot_be_sent_tells_its_sender(thread: Thread, relay: Relay, phone: Phone,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    close_window(thread.conversation)
    inbound.receive(reply_to(thread.forward, thread.staff.email, "Held"), via="smtpd",
                    envelope_from=thread.staff.email)
    from onfile.channels.email import holds

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise holds.SendError("this conversation has no WhatsApp number to send to")

    monkeypatch.setattr(holds, "do_send", refuse)
    phone.send(type="text", text="Here I am")
    assert HeldReply.objects.get().status == "failed" and not out_messages()
    deliver_emails()
    failed = notices(relay, thread.staff.email)[-1]
    assert "could not be sent" in failed.get_body(("plain",)).get_content()
    assert "no WhatsApp number" in failed.get_body(("plain",)).get_content()


def test_a_held_reply_is_shown_on_the_conversation_page_and_can_be_withdrawn(thread: Thread, phone: Phone,
                                                                             replies: Any) -> None:
    from django.test import Client

    close_window(thread.conversation)
    inbound.receive(reply_to(thread.forward, thread.staff.email, "Signed copy attached.",
                             files=(("signed.pdf", "application/pdf", PDF),)), via="smtpd",
                    envelope_from=thread.staff.email)
    held = HeldReply.objects.get()
    web = Client()
    web.force_login(thread.staff)
    page = web.get(f"/conversations/{thread.conversation.pk}/").content.decode()
    assert 'id="held"' in page and "your text, signed.pdf" in page
    cancel = f"/conversations/{thread.conversation.pk}/held/{held.pk}/cancel"
    assert web.post(cancel).status_code == 302
    assert HeldReply.objects.get().status == "cancelled"
    entry = Entry.objects.get(kind="email.reply_cancelled")
    assert entry.actor == thread.staff.actor and json.loads(entry.attrs)["capture"] == held.capture_seq
    assert 'id="held"' not in web.get(f"/conversations/{thread.conversation.pk}/").content.decode()
    web.post(cancel)  # a second time: said plainly, nothing recorded
    assert Entry.objects.filter(kind="email.reply_cancelled").count() == 1
    phone.send(type="text", text="Here I am")
    assert not out_messages()  # withdrawn: never sent when the client writes
    auditor = User.objects.create_user(email="audit@firm.example", password=None, role="auditor")
    other = Client()
    other.force_login(auditor)
    assert other.post(cancel).status_code == 403
