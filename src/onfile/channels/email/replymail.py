"""The emails the reply pipeline sends back to staff: bounces (refusals) and notices (held, expired, failed).

Both are RFC 5322/MIME that a strict parser reads (REQ-EML-1), and go through the outbox like
every email (ARCHITECTURE 5): queued in the transaction of the
ledger entry that causes them (``email.reply_refused``, ``email.reply_held`` …), built and sent
by ``delivery.py``'s relay code when the worker drains ``email.bounce`` and ``email.notice``.

Bounces follow RFC 3834 and RFC 5321 §4.5.5 so that they can never start a mail loop: the envelope
sender is null (``MAIL FROM:<>``; nothing answers a null sender), ``Auto-Submitted: auto-replied``,
and our own loop header. Nothing is bounced to a null sender, to an auto-submitted message, to a
mailer-daemon or postmaster, or to our own reply domain; and at most ``BOUNCES_PER_HOUR`` go to
the same address in an hour (after that the refusal is still recorded, but no email is sent), so a
loop with a misbehaving autoresponder cannot mail-bomb anyone. The original email is attached as
``message/rfc822`` (only its headers, as ``text/rfc822-headers``, when it is larger than
``ONFILE_EMAIL_MAX_ATTACHMENT_MB``; unreadable bytes as ``application/octet-stream``).

Notices are threaded in the conversation's thread of the staff member's mailbox: ``In-Reply-To``
the reply they wrote, ``References`` its own references (which lead to the forward they
answered) — or the conversation's thread root when the reply had none — and the subject of the
forwards.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, parseaddr
from typing import Any

from django.conf import settings
from django.utils import timezone

from onfile import clock
from onfile.channels.email import compose
from onfile.channels.email.models import ReplyIdentity
from onfile.conversations.models import Conversation
from onfile.ledger.actions import keyed_commitment
from onfile.ledger.blobs import read_blob
from onfile.ledger.models import Entry
from onfile.outbox import queue

BOUNCE = "email.bounce"
NOTICE = "email.notice"
KINDS = (BOUNCE, NOTICE)
BOUNCES_PER_HOUR = 5
# Local parts that are machines, never people (RFC 2142, RFC 3834 §2).
MACHINES = ("mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply", "bounce", "bounces")

ADVICE = {
    "file": "Send the file another way (a smaller file, a PDF, or a link), or send it from the conversation page "
            "in onfile.",
    "sender": "Reply from the address the email from onfile was sent to, or answer from the conversation page "
              "in onfile.",
    "token": "Reply to an email onfile sent you (its reply address is what links your answer to the "
             "conversation), or answer from the conversation page in onfile.",
    "empty": "Write your answer above the quoted message, or attach the file to send.",
    "other": "Answer from the conversation page in onfile.",
}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def address_digest(address: str) -> str:
    """How the rate limit counts an address without storing it in clear."""
    return keyed_commitment(b"email bounce to\0" + address.strip().lower().encode())


def is_machine(address: str) -> bool:
    local, _, domain = address.strip().lower().rpartition("@")
    return (not local or local in MACHINES or local.startswith("owner-") or local.endswith("-request")
            or local.startswith("bounce") or domain == settings.EMAIL_REPLY_DOMAIN)


def bounce_allowed(address: str, now: datetime) -> bool:
    recent = ReplyIdentity.objects.filter(bounce_to=address_digest(address), decided_at__gte=now - timedelta(hours=1))
    return recent.count() < BOUNCES_PER_HOUR


def queue_bounce(capture_seq: int, created_seq: int, to: str, reason: str, advice: str,
                 original: dict[str, str], conversation_id: int | None) -> None:
    """Inside the refusal's transaction."""
    payload = {"capture": capture_seq, "subject": f"capture:{capture_seq}", "to": to, "reason": reason,
               "advice": advice, "original": original, "conversation": conversation_id}
    queue.enqueue(f"{BOUNCE}:{capture_seq}", BOUNCE, payload, created_seq, clock.now())


def queue_notice(notice: str, capture_seq: int, created_seq: int, to: str, conversation_id: int,
                 original: dict[str, str], detail: dict[str, Any]) -> None:
    """Inside the transaction of the entry about the hold (held, expired, failed)."""
    payload = {"capture": capture_seq, "subject": f"capture:{capture_seq}", "to": to, "notice": notice,
               "conversation": conversation_id, "original": original, "detail": detail}
    queue.enqueue(f"{NOTICE}:{notice}:{capture_seq}", NOTICE, payload, created_seq, clock.now())


# ---- building (the worker's side, called by delivery.py) ---------------------------------------------------


def build(item: Any) -> compose.Built:
    return _bounce(item.payload) if item.kind == BOUNCE else _notice(item.payload)


def _raw(capture_seq: int) -> bytes:
    return read_blob(int(Entry.objects.values_list("blob_id", flat=True).get(seq=capture_seq)))


def _threading(msg: EmailMessage, original: dict[str, str], root: str = "") -> None:
    parent = original.get("message_id", "")
    refs = [r for r in dict.fromkeys(original.get("references", "").split()) if r != parent]
    if parent:
        msg["In-Reply-To"] = parent
        msg["References"] = " ".join([*refs[-20:], parent])
    elif root:
        msg["In-Reply-To"] = root
        msg["References"] = root


def _original_form(raw: bytes, readable: bool) -> tuple[str, Any]:
    """How the original goes back: as message/rfc822, its headers if it is large, its bytes if unreadable."""
    limit = max(settings.EMAIL_MAX_ATTACHMENT_MB, 1) << 20
    if not readable:
        return ("bytes", raw) if len(raw) <= limit else ("none", None)
    if len(raw) <= limit:
        try:
            inner = BytesParser(policy=policy.default).parsebytes(raw)
            attempt = EmailMessage(policy=policy.default)
            attempt.add_attachment(inner)
            attempt.as_bytes(policy=policy.SMTP)  # odd bytes in an original can make it unserialisable
            return "message", inner
        except (ValueError, TypeError, LookupError, UnicodeError):
            pass
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return "headers", head.decode("utf-8", "replace") + "\n"


ATTACHED = {"message": "Your email is attached.", "bytes": "Your email is attached as it arrived.",
            "headers": "Your email was too large to attach in full; its headers are attached.",
            "none": "Your email was too large to attach."}


def _attach(msg: EmailMessage, form: str, value: Any) -> None:
    if form == "message":
        msg.add_attachment(value)
    elif form == "bytes":
        msg.add_attachment(value, "application", "octet-stream", filename="original.eml")
    elif form == "headers":
        msg.add_attachment(value, subtype="rfc822-headers", filename="original-headers.txt")


def _base(to: str, subject: str, message_id: str, auto: str) -> EmailMessage:
    msg = EmailMessage(policy=policy.default)
    msg["From"] = Address(display_name="onfile", addr_spec=compose.envelope_sender())
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = auto
    msg[compose.LOOP_HEADER] = compose.domain()
    return msg


def _bounce(p: dict[str, Any]) -> compose.Built:
    original = p.get("original") or {}
    subject = compose._one_line(original.get("subject", "") or "(no subject)", 150)
    own_id = f"<bounce.{_digest(str(p['capture']))[:20]}@{compose.domain()}>"
    msg = _base(p["to"], f"Not sent to WhatsApp: {subject}", own_id, "auto-replied")
    _threading(msg, original)
    conversation = Conversation.objects.filter(pk=p["conversation"]).first() if p.get("conversation") else None
    link = compose.conversation_url(conversation) if conversation is not None else f"{settings.PUBLIC_URL}/"
    form, value = _original_form(_raw(int(p["capture"])), bool(original.get("readable", True)))
    msg.set_content("\n".join([
        "Your email was not sent to the client on WhatsApp. Nothing from it was sent.", "",
        f"Why: {p['reason']}", "", f"What to do: {p['advice']}", f"onfile: {link}", "", ATTACHED[form]]) + "\n")
    _attach(msg, form, value)
    # Null envelope sender (RFC 5321 4.5.5): nothing answers a bounce.
    return compose.Built(own_id, "", [p["to"]], msg.as_bytes(policy=policy.SMTP))


def _notice(p: dict[str, Any]) -> compose.Built:
    # A conversation merged or erased since: the notice still goes, without the conversation's thread.
    conversation = Conversation.objects.select_related("client", "matter").filter(pk=p["conversation"]).first()
    own_id = f"<notice.{p['notice']}.{_digest(str(p['capture']))[:20]}@{compose.domain()}>"  # short: never folded
    subject = compose.subject(conversation) if conversation is not None else "onfile: your reply by email"
    msg = _base(p["to"], subject, own_id, "auto-generated")
    msg["Precedence"] = "bulk"
    _threading(msg, p.get("original") or {},
               compose.thread_root(conversation, p["to"]) if conversation is not None else "")
    msg.set_content(notice_text(p["notice"], conversation, p.get("detail") or {}) + "\n")
    return compose.Built(own_id, compose.envelope_sender(), [p["to"]], msg.as_bytes(policy=policy.SMTP))


def _when(iso: str) -> str:
    return timezone.localtime(datetime.fromisoformat(iso)).strftime("%d %b %Y %H:%M %Z")


def notice_text(notice: str, conversation: Conversation | None, d: dict[str, Any]) -> str:
    who = compose.client_label(conversation) if conversation is not None else "the client"
    what = ", ".join(d.get("parts") or []) or "your reply"
    url = compose.conversation_url(conversation) if conversation is not None else f"{settings.PUBLIC_URL}/"
    if notice == "held":
        last = f"on {_when(d['last_inbound'])}" if d.get("last_inbound") else "never"
        lines = [f"Your reply to {who} is held, not sent yet: WhatsApp delivers free-form messages only within 24 "
                 f"hours of the client's last message, and {who} last wrote {last}.",
                 "", f"Held: {what}.", "",
                 f"It will be sent automatically, in order with any other held reply, as soon as {who} writes again. "
                 f"If {who} has not written by {_when(d['expires'])}, it will not be sent and you will be told."]
        template = d.get("template", "")
        if template == "sent":
            lines += ["", f"onfile sent {who} the WhatsApp template “{d.get('template_name', '')}” asking them to "
                          f"reply."]
        elif template == "already sent":
            lines += ["", f"A WhatsApp template asking {who} to reply was already sent since they last wrote."]
        elif template.startswith("failed"):
            lines += ["", f"Sending the WhatsApp template asking {who} to reply failed: {template[7:].strip()}"]
        else:
            lines += ["", "To ask them to reply, send them an approved WhatsApp template from the conversation page."]
    elif notice == "expired":
        lines = [f"Your reply to {who} of {_when(d['held_at'])} was not sent: {who} did not write again within "
                 f"{d.get('days', settings.EMAIL_HOLD_DAYS)} days, so WhatsApp's 24-hour window never reopened.",
                 "", f"Not sent: {what}.", "",
                 "To reach them, send an approved WhatsApp template from the conversation page, then answer "
                 "once they write."]
    else:
        lines = [f"Your held reply to {who} could not be sent when they wrote again: {d.get('reason', 'an error')}",
                 "", f"Not sent: {what}. Nothing from this reply was sent.", "",
                 "Answer from the conversation page, or reply to this email again."]
    return "\n".join([*lines, "", f"Open the conversation in onfile: {url}"])


def original_of(parsed: Any) -> dict[str, Any]:
    """What a bounce or notice needs of the email it answers (kept in the outbox payload)."""
    if parsed is None:
        return {"readable": False}
    refs = parsed.references.split() if isinstance(parsed.references, str) else list(parsed.references or [])
    refs = [message_id(r) for r in [*refs, parsed.in_reply_to or ""] if r.strip()]
    return {"message_id": message_id(parsed.message_id or ""), "references": " ".join(list(dict.fromkeys(refs))[-20:]),
            "subject": parsed.subject or "", "readable": True}


def message_id(text: str) -> str:
    """A Message-ID in its header form, ``<left@right>`` (or "" for none)."""
    text = text.strip().strip("<>").strip()
    return f"<{text}>" if text else ""


def clean_address(address: str) -> str:
    return parseaddr(address)[1].strip().strip("<>")
