"""Replies by email: a member of staff answers a forwarded WhatsApp message from their mailbox.

Against real components on loopback: the aiosmtpd relay receives the forwards (whose Reply-To the
replies answer) and the bounces; the WhatsApp simulator plays the client's phone. Each refusal is
checked end to end: the outcome, the ledger (REQ-SRA-1), nothing queued for WhatsApp, and the
bounce itself, parsed strictly (REQ-EML-1). The raw email is kept byte for byte (REQ-SEC-4).
"""

from __future__ import annotations

import base64
import json
import struct
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from onfile import clock
from onfile.accounts.actions import do_create_user
from onfile.accounts.models import User
from onfile.accounts.staff import do_update_staff
from onfile.channels.email import inbound, replymail, tokens
from onfile.channels.email.checks import check_email_replies
from onfile.channels.email.delivery import deliver_emails
from onfile.channels.email.models import ReplyIdentity
from onfile.channels.whatsapp.sending import deliver_sends
from onfile.conversations.actions import do_create_matter, do_link_matter, do_set_wall
from onfile.conversations.models import Conversation, Message
from onfile.ledger.blobs import read_blob
from onfile.ledger.models import Entry
from onfile.outbox.models import OutboxItem
from onfile.simulator import Simulator
from onfile.simulator.payloads import PNG_1X1

from .conftest import CLIENT, DOMAIN, FALLBACK, FROM, Phone, Relay
from .replying import PDF, REPLY_DOMAIN, Thread, kinds, reply_to

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple 42"


def sends() -> list[OutboxItem]:
    return list(OutboxItem.objects.filter(kind="whatsapp.send").order_by("pk"))


def attrs(kind: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(Entry.objects.filter(kind=kind).latest("seq").attrs)
    return value


def bounce(relay: Relay, to: str) -> EmailMessage:
    assert deliver_emails() >= 1
    [received] = [r for r in relay.received if r.recipients == [to] and b"Not sent to WhatsApp" in r.data]
    mail = received.email
    assert received.sender == "<>"  # the null reverse-path: nothing answers a bounce (RFC 5321 4.5.5)
    assert mail["Auto-Submitted"] == "auto-replied" and mail["X-Onfile-Loop"] == DOMAIN
    assert mail["From"].addresses[0].addr_spec == FROM
    return mail


def assert_refused(outcome: inbound.Outcome, relay: Relay, to: str, *words: str) -> EmailMessage:
    """Refused, ledgered, nothing for WhatsApp, and a bounce that says why."""
    assert outcome.status == "refused", outcome
    assert not sends()
    assert kinds() == ["email.reply_received", "email.reply_refused"]
    assert attrs("email.reply_refused")["bounce"] == "queued"
    mail = bounce(relay, to)
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Nothing from it was sent" in text
    for word in words:
        assert word in outcome.reason and word in text, (word, outcome.reason)
    return mail


# ---- reply tokens ------------------------------------------------------------------------------------


def test_a_forward_carries_a_reply_address_bound_to_its_recipient(thread: Thread) -> None:
    address = str(thread.forward["Reply-To"])
    local, _, domain = address.partition("@")
    assert domain == REPLY_DOMAIN and local.startswith("reply+") and len(local) <= 64
    assert local == local.lower() and "=" not in local
    token = tokens.verify(tokens.find([address]))
    assert (token.conversation_id, token.user_id) == (thread.conversation.pk, thread.staff.pk)
    # Gateways may change the case of a local part: the token still verifies.
    assert tokens.verify(tokens.find([address.upper().replace(REPLY_DOMAIN.upper(), REPLY_DOMAIN)])) == token
    assert thread.forward["X-Onfile-Loop"] == DOMAIN


def test_a_forward_to_the_fallback_mailbox_names_no_one(replies: Any, relay: Relay, phone: Phone) -> None:
    phone.send(type="text", text="hello")
    deliver_emails()
    [forward] = relay.to(FALLBACK)
    token = tokens.verify(tokens.find([str(forward["Reply-To"])]))
    assert token.user_id is None and token.conversation_id == Conversation.objects.get().pk


def test_forwards_carry_no_reply_address_while_replies_are_off(relay: Relay, phone: Phone) -> None:
    phone.send(type="text", text="hello")
    deliver_emails()
    [forward] = relay.to(FALLBACK)
    assert forward["Reply-To"] is None and forward["X-Onfile-Loop"] is None


def test_made_up_altered_and_expired_tokens_do_not_verify(replies: Any) -> None:
    token = tokens.issue(41, 7)
    raw = bytearray(base64.b32decode(token.upper()))
    raw[1:6] = (42).to_bytes(5, "big")  # the same MAC, another conversation
    with pytest.raises(tokens.TokenError, match="altered or made up"):
        tokens.verify(base64.b32encode(bytes(raw)).decode().lower())
    with pytest.raises(tokens.TokenError, match="not one onfile issued"):
        tokens.verify("a" * tokens.TOKEN_LENGTH)
    with pytest.raises(tokens.TokenError, match="not one onfile issued"):
        tokens.verify("reply")
    old = tokens.issue(41, 7, now=clock.now() - timedelta(days=91))
    with pytest.raises(tokens.TokenError, match="expired") as expired:
        tokens.verify(old)
    assert expired.value.code == "expired-token"
    assert struct.calcsize(">B5sII") + tokens.MAC_SIZE == 30 and tokens.TOKEN_LENGTH == 48


# ---- a reply that goes through -----------------------------------------------------------------------


def test_a_reply_with_text_and_a_pdf_reaches_the_client(thread: Thread, relay: Relay, sim: Simulator) -> None:
    raw = reply_to(thread.forward, "Fee Earner <Fee.Earner@Firm.Example>", "Here is the lease, signed.",
                   files=(("lease.pdf", "application/pdf", PDF),))
    outcome = inbound.receive(raw, via="smtpd", envelope_from="fee.earner@firm.example",
                              recipients=[str(thread.forward["Reply-To"])])
    assert outcome.status == "sent" and outcome.reason == "queued for the client on WhatsApp (2 messages)"
    capture = Entry.objects.get(seq=outcome.seq)
    assert capture.kind == "capture.email" and read_blob(int(capture.blob_id or 0)) == raw  # raw first, exact bytes
    text, document = Message.objects.filter(direction="out").order_by("position")
    assert text.body == "Here is the lease, signed." and "wrote:" not in text.body
    assert document.type == "document" and document.attachments.get().filename == "lease.pdf"
    requested = Entry.objects.filter(kind="whatsapp.send_requested").order_by("seq")
    assert [e.actor for e in requested] == [f"user:{thread.staff.pk}"] * 2
    assert kinds() == ["email.reply_received", "email.reply_sent"]
    assert attrs("email.reply_sent")["messages"] == [text.key, document.key]
    # Personal data stays in sealed content, out of the clear attributes (ARCHITECTURE 4).
    for entry in Entry.objects.filter(kind__startswith="email.reply_") | Entry.objects.filter(kind="capture.email"):
        assert "firm.example" not in entry.attrs.lower() and "lease" not in entry.attrs

    assert deliver_sends() == 2
    on_the_phone = sim.conversation(CLIENT)["messages"]
    assert [m["type"] for m in on_the_phone[-2:]] == ["text", "document"]
    assert on_the_phone[-2]["content"]["body"] == "Here is the lease, signed."
    [sent_document] = [s for s in sim.outbox() if s["type"] == "document"]
    assert sent_document["body"]["document"]["filename"] == "lease.pdf"


def test_a_photo_is_sent_as_an_image(thread: Thread) -> None:
    raw = reply_to(thread.forward, thread.staff.email, "", files=(("site.png", "image/png", PNG_1X1),))
    assert inbound.receive(raw, via="imap:INBOX", envelope_from=thread.staff.email).status == "sent"
    [message] = Message.objects.filter(direction="out")
    assert message.type == "image" and message.body == ""


def test_a_team_or_fallback_address_takes_a_reply_from_anyone_who_may_answer(replies: Any, relay: Relay,
                                                                              phone: Phone, admin: User) -> None:
    phone.send(type="text", text="anyone?")
    deliver_emails()
    [forward] = relay.to(FALLBACK)
    outcome = inbound.receive(reply_to(forward, admin.email, "I can help."), via="smtpd",
                              envelope_from=admin.email)
    assert outcome.status == "sent"
    assert Entry.objects.get(kind="whatsapp.send_requested").actor == f"user:{admin.pk}"


# ---- refusals ------------------------------------------------------------------------------------------


def test_a_forged_token_is_refused(thread: Thread, relay: Relay) -> None:
    forged = f"reply+{'b' * tokens.TOKEN_LENGTH}@{REPLY_DOMAIN}"
    raw = reply_to(thread.forward, thread.staff.email, to=forged)
    mail = assert_refused(inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email, recipients=[forged]),
                          relay, thread.staff.email, "not one onfile issued")
    assert attrs("email.reply_refused")["reason"] == "bad-token"
    # Threaded under the reply it answers, with the original attached.
    original = next(p for p in mail.iter_attachments() if p.get_content_type() == "message/rfc822")
    assert original.get_content()["Message-ID"] == mail["In-Reply-To"]


def test_a_token_altered_to_another_conversation_is_refused(thread: Thread, relay: Relay) -> None:
    token = tokens.find([str(thread.forward["Reply-To"])])
    raw = bytearray(base64.b32decode(token.upper()))
    raw[1:6] = (thread.conversation.pk + 1).to_bytes(5, "big")
    altered = f"reply+{base64.b32encode(bytes(raw)).decode().lower()}@{REPLY_DOMAIN}"
    outcome = inbound.receive(reply_to(thread.forward, thread.staff.email, to=altered), via="smtpd",
                              envelope_from=thread.staff.email)
    assert_refused(outcome, relay, thread.staff.email, "altered or made up")


def test_an_expired_token_is_refused(thread: Thread, relay: Relay) -> None:
    old = tokens.issue(thread.conversation.pk, thread.staff.pk, now=clock.now() - timedelta(days=91))
    address = f"reply+{old}@{REPLY_DOMAIN}"
    outcome = inbound.receive(reply_to(thread.forward, thread.staff.email, to=address), via="smtpd",
                              envelope_from=thread.staff.email, recipients=[address])
    assert_refused(outcome, relay, thread.staff.email, "expired")
    assert attrs("email.reply_refused")["reason"] == "expired-token"


def test_a_reply_from_another_address_is_refused(thread: Thread, relay: Relay) -> None:
    do_create_user("colleague@firm.example", PASSWORD, "admin", actor="test")
    outcome = inbound.receive(reply_to(thread.forward, "colleague@firm.example"), via="smtpd",
                              envelope_from="colleague@firm.example")
    assert_refused(outcome, relay, "colleague@firm.example", "colleague@firm.example",
                   "not the address of the member of staff")
    assert attrs("email.reply_refused")["reason"] == "wrong-sender"


def test_a_reply_whose_dmarc_failed_is_refused(thread: Thread, relay: Relay) -> None:
    raw = reply_to(thread.forward, thread.staff.email, on_top=(
        "Authentication-Results: mx.firm.example; spf=pass smtp.mailfrom=mailer.example; "
        "dkim=none; dmarc=fail (p=reject) header.from=firm.example",))
    outcome = inbound.receive(raw, via="smtpd", envelope_from="bounces@mailer.example")
    # The envelope sender is a machine address: the refusal is recorded but not bounced to it.
    assert outcome.status == "refused" and "dmarc=fail (firm.example)" in outcome.reason
    assert attrs("email.reply_refused") == {**attrs("email.reply_refused"), "reason": "auth-failed",
                                            "bounce": "not bounceable"}
    assert not sends() and deliver_emails() == 0


def test_a_dmarc_failure_is_bounced_to_the_envelope_sender(thread: Thread, relay: Relay) -> None:
    raw = reply_to(thread.forward, thread.staff.email, on_top=(
        "Authentication-Results: mx.firm.example; dmarc=fail header.from=firm.example",))
    outcome = inbound.receive(raw, via="smtpd", envelope_from="someone@elsewhere.example")
    assert_refused(outcome, relay, "someone@elsewhere.example", "dmarc=fail")


def test_only_trusted_authentication_results_count(thread: Thread, replies: Any) -> None:
    # A lower header (added before the gateway, or by the sender) is not trusted without ONFILE_EMAIL_AUTHSERV_ID.
    lower = ("Authentication-Results: mx.firm.example; dmarc=pass header.from=firm.example",
             "Authentication-Results: relay.elsewhere.example; dkim=fail header.d=firm.example")
    first = inbound.receive(reply_to(thread.forward, thread.staff.email, on_top=lower), via="smtpd",
                            envelope_from=thread.staff.email)
    assert first.status == "sent"
    # A verdict about another domain (a mailing list's signature) does not refuse either.
    other = ("Authentication-Results: mx.firm.example; dkim=fail header.d=lists.example; spf=softfail "
             "smtp.mailfrom=lists.example",)
    assert inbound.receive(reply_to(thread.forward, thread.staff.email, on_top=other), via="smtpd",
                           envelope_from=thread.staff.email).status == "sent"
    # With the gateway's id configured, its verdict counts wherever it sits; others never do.
    replies.EMAIL_AUTHSERV_ID = ["mx.firm.example"]
    spoofed = ("Authentication-Results: mx.firm.example; spf=softfail smtp.mailfrom=firm.example",)
    assert inbound.receive(reply_to(thread.forward, thread.staff.email, on_top=lower + spoofed), via="smtpd",
                           envelope_from=thread.staff.email).status == "refused"
    assert inbound.receive(reply_to(thread.forward, thread.staff.email, on_top=lower), via="smtpd",
                           envelope_from=thread.staff.email).status == "sent"


def test_a_deactivated_member_of_staff_is_refused(thread: Thread, relay: Relay, admin: User) -> None:
    do_update_staff(thread.staff, admin.actor, role="fee_earner", team_id=None, active=False)
    outcome = inbound.receive(reply_to(thread.forward, thread.staff.email), via="smtpd",
                              envelope_from=thread.staff.email)
    assert_refused(outcome, relay, thread.staff.email, "deactivated")
    assert attrs("email.reply_refused")["reason"] == "inactive"


def test_a_member_of_staff_behind_an_ethical_wall_is_refused(thread: Thread, relay: Relay, admin: User) -> None:
    matter = do_create_matter("LIT-2026-0042", admin.actor)
    do_link_matter(thread.conversation, matter, admin.actor)
    do_set_wall(matter, "except", [thread.staff.pk], admin.actor)
    outcome = inbound.receive(reply_to(thread.forward, thread.staff.email), via="smtpd",
                              envelope_from=thread.staff.email)
    assert_refused(outcome, relay, thread.staff.email, "ethical wall")
    assert attrs("email.reply_refused")["reason"] == "no-access"


def test_an_auditor_is_refused(replies: Any, relay: Relay, phone: Phone) -> None:
    auditor = do_create_user("auditor@regulator.example", PASSWORD, "auditor", actor="test")
    phone.send(type="text", text="hello")
    deliver_emails()
    [forward] = relay.to(FALLBACK)  # a fallback address: anyone who may answer may reply …
    outcome = inbound.receive(reply_to(forward, auditor.email), via="smtpd", envelope_from=auditor.email)
    assert_refused(outcome, relay, auditor.email, "read-only")  # … which an auditor never may


def test_a_file_too_large_for_whatsapp_is_bounced_and_nothing_is_sent(thread: Thread, relay: Relay,
                                                                     replies: Any) -> None:
    replies.EMAIL_MAX_ATTACHMENT_MB = 1  # the original is too large to go back whole: its headers do
    photo = b"\xff\xd8\xff\xe0" + b"\0" * (6 << 20)
    raw = reply_to(thread.forward, thread.staff.email, "Text and a small file go, or nothing does.",
                   files=(("lease.pdf", "application/pdf", PDF), ("site-visit.jpg", "image/jpeg", photo)))
    mail = assert_refused(inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email), relay,
                          thread.staff.email, "site-visit.jpg", "6.0 MB", "at most 5.0 MB")
    assert not Message.objects.filter(direction="out").exists()
    [headers] = [p for p in mail.iter_attachments()]
    assert headers.get_content_type() == "text/rfc822-headers" and "Message-ID:" in headers.get_content()
    assert attrs("email.reply_refused")["reason"] == "too-large"


def test_a_program_is_bounced_naming_the_file(thread: Thread, relay: Relay) -> None:
    raw = reply_to(thread.forward, thread.staff.email, files=(
        ("lease.pdf", "application/pdf", PDF), ("setup.exe", "application/octet-stream", b"MZ\x90\0" * 64)))
    assert_refused(inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email), relay,
                   thread.staff.email, "setup.exe", "does not accept .exe files")
    assert attrs("email.reply_refused")["reason"] == "file-type"


def test_a_program_disguised_as_a_pdf_is_refused(thread: Thread, relay: Relay) -> None:
    raw = reply_to(thread.forward, thread.staff.email, files=(("invoice.pdf.exe", "application/pdf", PDF),))
    assert_refused(inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email), relay,
                   thread.staff.email, "invoice.pdf.exe")


def test_a_reply_that_only_quotes_is_refused_as_empty(thread: Thread, relay: Relay) -> None:
    raw = reply_to(thread.forward, thread.staff.email, "")
    assert_refused(inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email), relay,
                   thread.staff.email, "empty", "only the quoted conversation")


def test_a_text_longer_than_whatsapp_takes_is_refused(thread: Thread, relay: Relay) -> None:
    raw = reply_to(thread.forward, thread.staff.email, "word " * 1000)
    assert_refused(inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email), relay,
                   thread.staff.email, "4096")


def test_mail_to_the_reply_domain_without_a_token_is_refused(thread: Thread, relay: Relay) -> None:
    raw = reply_to(thread.forward, thread.staff.email, to=f"whatsapp@{REPLY_DOMAIN}")
    assert_refused(inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email,
                                   recipients=[f"whatsapp@{REPLY_DOMAIN}"]),
                   relay, thread.staff.email, "not sent to a reply address")


# ---- never answered: automatic mail, loops, null senders -------------------------------------------------


def test_an_out_of_office_reply_is_ignored_and_never_bounced(thread: Thread, relay: Relay) -> None:
    raw = reply_to(thread.forward, thread.staff.email, "I am out of the office until Monday.",
                   headers={"Auto-Submitted": "auto-replied"})
    outcome = inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email)
    assert outcome.status == "ignored" and "automatic reply" in outcome.reason
    assert kinds() == ["email.reply_received", "email.reply_ignored"]
    assert attrs("email.reply_ignored")["why"] == "auto-reply"
    assert not sends() and deliver_emails() == 0 and not relay.to(thread.staff.email)[1:]


def test_our_own_email_coming_back_is_a_loop(thread: Thread, relay: Relay) -> None:
    raw = reply_to(thread.forward, thread.staff.email, "forwarded by a rule", headers={"X-Onfile-Loop": DOMAIN})
    outcome = inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email)
    assert outcome.status == "ignored" and attrs("email.reply_ignored")["why"] == "loop"
    assert not sends() and deliver_emails() == 0


def test_mail_from_a_null_sender_is_never_answered(thread: Thread, relay: Relay) -> None:
    forged = f"reply+{'c' * tokens.TOKEN_LENGTH}@{REPLY_DOMAIN}"
    raw = reply_to(thread.forward, thread.staff.email, to=forged)
    assert inbound.receive(raw, via="smtpd", envelope_from="<>", recipients=[forged]).status == "ignored"
    # Unreadable bytes cannot be judged automatic by their headers, but a null sender is still not answered.
    junk = inbound.receive(b"\x00\x01 not an email", via="smtpd", envelope_from="<>", recipients=[forged])
    assert junk.status == "refused" and attrs("email.reply_refused")["bounce"] == "not bounceable"
    # Over IMAP the null sender is the mailbox's Return-Path.
    assert inbound.receive(b"Return-Path: <>\r\nSubject: x\r\n\r\n junk", via="imap:INBOX",
                           envelope_from="").status == "ignored"
    assert not OutboxItem.objects.filter(kind="email.bounce").exists() and deliver_emails() == 0


def test_bounces_to_one_address_are_rate_limited(thread: Thread, relay: Relay) -> None:
    forged = f"reply+{'d' * tokens.TOKEN_LENGTH}@{REPLY_DOMAIN}"
    outcomes = [inbound.receive(reply_to(thread.forward, thread.staff.email, f"attempt {n}", to=forged), via="smtpd",
                                envelope_from=thread.staff.email) for n in range(replymail.BOUNCES_PER_HOUR + 2)]
    assert {o.status for o in outcomes} == {"refused"}
    assert OutboxItem.objects.filter(kind="email.bounce").count() == replymail.BOUNCES_PER_HOUR
    assert [json.loads(e.attrs)["bounce"] for e in Entry.objects.filter(kind="email.reply_refused")][-2:] == [
        "rate limited", "rate limited"]
    # An hour later, a refusal is explained again.
    ReplyIdentity.objects.update(decided_at=clock.now() - timedelta(hours=2))
    inbound.receive(reply_to(thread.forward, thread.staff.email, "later", to=forged), via="smtpd",
                    envelope_from=thread.staff.email)
    assert OutboxItem.objects.filter(kind="email.bounce").count() == replymail.BOUNCES_PER_HOUR + 1


# ---- idempotency and bad input ------------------------------------------------------------------------


def test_the_same_email_delivered_twice_is_sent_once(thread: Thread) -> None:
    raw = reply_to(thread.forward, thread.staff.email, "Only once, please.")
    first = inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email)
    again = inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email)  # the transport retried
    # The same email fetched over IMAP too, with the headers the mailbox added on top.
    fetched = inbound.receive(b"Delivered-To: whatsapp@firm.example\r\nReturn-Path: <fee.earner@firm.example>\r\n"
                              + raw, via="imap:INBOX", envelope_from=thread.staff.email)
    assert (first.status, again.status, fetched.status) == ("sent", "duplicate", "duplicate")
    assert again.seq == first.seq != fetched.seq  # the same bytes are stored once; other bytes are captured
    assert len(sends()) == 1
    assert kinds() == ["email.reply_received", "email.reply_sent", "email.reply_duplicate", "email.reply_duplicate"]
    assert attrs("email.reply_duplicate")["original"] == first.seq
    assert Entry.objects.filter(kind="capture.email").count() == 2


def test_a_crash_after_the_capture_is_decided_on_the_retry(thread: Thread,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    raw = reply_to(thread.forward, thread.staff.email, "After a crash")

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(inbound, "do_send", crash)
    with pytest.raises(RuntimeError):
        inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email)  # the transport will retry
    assert Entry.objects.filter(kind="capture.email").count() == 1  # the raw bytes are on the record …
    assert not kinds() and not sends() and not ReplyIdentity.objects.exists()  # … and nothing was decided
    monkeypatch.undo()
    outcome = inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email)
    assert outcome.status == "sent" and len(sends()) == 1
    assert Entry.objects.filter(kind="capture.email").count() == 1


def test_a_delivery_that_loses_a_race_is_a_duplicate(thread: Thread, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = reply_to(thread.forward, thread.staff.email, "Twice at once")
    judge = inbound._judge

    def judge_while_another_delivery_decides(mail: Any, token: str) -> Any:
        decision = judge(mail, token)
        # The same email, via the other transport, commits its decision at this very moment.
        ReplyIdentity.objects.create(identity=inbound._identity(mail.parsed, token, mail.capture.raw_digest),
                                     capture_seq=mail.capture.capture_seq, status="sent", outcome_seq=0,
                                     decided_at=clock.now())
        return decision

    monkeypatch.setattr(inbound, "_judge", judge_while_another_delivery_decides)
    outcome = inbound.receive(raw, via="imap:INBOX", envelope_from=thread.staff.email)
    assert outcome.status == "duplicate" and not sends() and kinds() == ["email.reply_duplicate"]


def test_without_a_message_id_the_bytes_identify_the_email(thread: Thread) -> None:
    raw = reply_to(thread.forward, thread.staff.email, "no id")
    raw = b"\r\n".join(line for line in raw.split(b"\r\n") if not line.startswith(b"Message-ID:"))
    assert [inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email).status for _ in range(2)] == [
        "sent", "duplicate"]
    assert len(sends()) == 1


def test_malformed_bytes_are_captured_then_refused(replies: Any, relay: Relay, archive: None) -> None:
    raw = b"\x00\x01\x02 this is not an email \xff\xfe"
    outcome = inbound.receive(raw, via="smtpd", envelope_from="someone@firm.example",
                              recipients=[f"reply+x@{REPLY_DOMAIN}"])
    assert outcome.status == "refused" and "could not be read" in outcome.reason
    assert read_blob(int(Entry.objects.get(seq=outcome.seq).blob_id or 0)) == raw  # kept byte for byte
    assert attrs("email.reply_refused")["reason"] == "malformed"
    mail = bounce(relay, "someone@firm.example")
    [original] = list(mail.iter_attachments())
    assert original.get_filename() == "original.eml" and original.get_content() == raw
    assert inbound.receive(raw, via="smtpd", envelope_from="someone@firm.example").status == "duplicate"


def test_replies_are_refused_while_the_feature_is_off(thread: Thread, relay: Relay, replies: Any) -> None:
    raw = reply_to(thread.forward, thread.staff.email)
    replies.EMAIL_REPLY_DOMAIN = ""
    assert_refused(inbound.receive(raw, via="smtpd", envelope_from=thread.staff.email), relay,
                   thread.staff.email, "switched off")


# ---- configuration checks -------------------------------------------------------------------------------


def _check_ids(settings: Any, **values: Any) -> set[str]:
    base = {"EMAIL_REPLY_DOMAIN": REPLY_DOMAIN, "SMTP_HOST": "smtp.firm.example", "EMAIL_REPLY_TOKEN_DAYS": 90,
            "EMAIL_HOLD_DAYS": 7, "EMAIL_WINDOW_TEMPLATE": "", "EMAIL_AUTHSERV_ID": ["mx.firm.example"]}
    for name, value in {**base, **values}.items():
        setattr(settings, name, value)
    return {m.id for m in check_email_replies()}


def test_reply_settings_are_checked(settings: Any) -> None:
    assert _check_ids(settings) == set()
    assert _check_ids(settings, EMAIL_REPLY_DOMAIN="", EMAIL_WINDOW_TEMPLATE="please_reply:en_GB") == {"onfile.W060"}
    assert _check_ids(settings, EMAIL_REPLY_DOMAIN="reply@firm") == {"onfile.E060"}
    assert _check_ids(settings, SMTP_HOST="") == {"onfile.E061"}
    assert _check_ids(settings, EMAIL_HOLD_DAYS=0) == {"onfile.E062"}
    assert _check_ids(settings, EMAIL_WINDOW_TEMPLATE="please_reply") == {"onfile.E063"}
    assert _check_ids(settings, EMAIL_AUTHSERV_ID=[]) == {"onfile.W061"}
