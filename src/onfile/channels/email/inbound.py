"""Replies by email: a member of staff answers a client's WhatsApp message from their mailbox.

The transports (``onfile smtpd``, IMAP polling) hand every email to :func:`receive` and
acknowledge it (SMTP 250, IMAP move/delete) only once it returns; if it raises, the transport
delivers the email again. So ``receive`` is idempotent and goes in this order:

1. **Capture** (ARCHITECTURE 1, raw first): the bytes exactly as received, sealed, and a
   ``capture.email`` entry, committed before anything else happens — the original can always be
   re-created (REQ-SEC-4), whatever the pipeline later decides. The same bytes delivered
   again are not stored twice (an ``InboundEmail`` row keyed by a keyed hash of the bytes).
2. **Parse** with ``replyparse.parse_reply``. An email that cannot be read is still on the record
   and is refused (with a bounce when it has a sender that may be answered).
3. **Deduplicate**: an email already decided — same Message-ID and reply address, or, without a
   Message-ID, the same bytes — is recorded as ``email.reply_duplicate`` and nothing else happens
   (ARCHITECTURE 7). The decision and its identity (``ReplyIdentity``, unique) commit together, so
   two deliveries racing each other decide once, and a crash before the decision leaves nothing
   decided, so the transport's retry decides afresh.
4. **Auto-replies and loops** — what ``parse_reply`` reports as an automatic reply (out of office,
   delivery reports, ``Auto-Submitted``, list mail …) and anything carrying onfile's own loop header
   (``X-Onfile-Loop`` with our domain) — are ``ignored``: never sent to a client, never bounced.
5. **Token**: the first ``reply+TOKEN@<ONFILE_EMAIL_REPLY_DOMAIN>`` among the envelope recipients,
   then ``To``/``Cc`` and ``Delivered-To``; it must verify (``tokens.py``) and name a conversation.
6. **Sender** (``senders.py``): the token's member of staff, active, allowed to change the
   conversation; no trusted ``Authentication-Results`` failure for the From domain.
7. **Content** (``outgoing.py``): the new text (quotes and signature removed by the parser), then
   each attachment, all checked before anything is queued; nothing to send is refused "empty".
8. **Send or hold**: inside the 24-hour window each part goes through ``sending.do_send`` as the
   member of staff (``user:ID``), all in one transaction with ``email.reply_sent``; outside it the
   reply is held (``holds.py``).

Every outcome is one transaction, on the record (REQ-SRA-1): ``email.reply_received`` (what
arrived, sealed), the outcome entry (``email.reply_sent`` / ``_held`` / ``_refused`` /
``_ignored``), its side effects (sends, hold, bounce or notice through the outbox) and the identity
row. Addresses, names, subjects and reasons that name people are in sealed content; the plain
attrs carry ids, counts and codes (ARCHITECTURE 4).

``envelope_from``: the SMTP MAIL FROM (``"<>"`` or ``""`` over smtpd is the null sender), or over
IMAP the Return-Path (``""``: unknown). Refusals are explained to it, else to ``From``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message as RawHeaders
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from onfile import clock
from onfile.accounts.models import User
from onfile.channels.email import compose, holds, outgoing, replymail, senders, tokens
from onfile.channels.email.models import InboundEmail, ReplyIdentity
from onfile.channels.email.outgoing import ContentRefused, Part
from onfile.channels.email.replyparse import MalformedEmail, ParsedReply, parse_reply
from onfile.channels.whatsapp.sending import SendError, do_send, window_open
from onfile.conversations.models import Conversation
from onfile.ledger.actions import commit_sealed, keyed_commitment, seal_content
from onfile.ledger.blobs import seal_bytes
from onfile.ledger.log import NewEntry, append

log = logging.getLogger("onfile.email")
ACTOR = "email"


@dataclass(frozen=True)
class Outcome:
    status: str  # "sent" | "held" | "refused" | "ignored" | "duplicate"
    reason: str  # plain words, for logs and the bounce
    seq: int  # the ledger entry that captured the raw email


@dataclass
class _Email:
    """One delivery, as far as the pipeline knows it."""

    capture: InboundEmail
    raw: bytes
    via: str
    envelope_from: str
    recipients: list[str]
    parsed: ParsedReply | None
    problem: str
    headers: RawHeaders


@dataclass
class _Decision:
    status: str  # sent | held | refused | ignored
    reason: str
    code: str
    advice: str = "other"
    conversation: Conversation | None = None
    user: User | None = None
    parts: list[Part] = field(default_factory=list)


def receive(raw: bytes, *, via: str, envelope_from: str = "", recipients: Sequence[str] = ()) -> Outcome:
    """Capture one email, then decide what it becomes (see the module docstring)."""
    raw = bytes(raw)
    captured = _capture(raw, via)
    parsed, problem = _parse(raw, _envelope_sender(via, envelope_from or ""))
    mail = _Email(captured, raw, via, envelope_from or "", [str(r) for r in recipients], parsed, problem,
                  _headers(raw))
    token = tokens.find([*mail.recipients, *_header_addresses(mail)])
    identity = _identity(parsed, token, captured.raw_digest)
    earlier = ReplyIdentity.objects.filter(identity=identity).first()
    if earlier is not None:
        return _duplicate(mail, earlier)
    decision = _judge(mail, token)
    try:
        outcome = _commit(mail, identity, decision)
    except IntegrityError:
        earlier = ReplyIdentity.objects.filter(identity=identity).first()
        if earlier is None:
            raise
        return _duplicate(mail, earlier)  # a concurrent delivery of the same email decided first
    log.info("email capture %s via %s: %s (%s)", captured.capture_seq, via, outcome.status, decision.code)
    return outcome


# ---- 1-3: capture, parse, identity ---------------------------------------------------------------------


def _capture(raw: bytes, via: str) -> InboundEmail:
    digest = keyed_commitment(b"email raw\0" + raw)
    existing = InboundEmail.objects.filter(raw_digest=digest).order_by("pk").first()
    if existing is not None:
        return existing  # these very bytes are already on the record
    sealed = seal_bytes(raw, "message/rfc822")  # before the transaction (large blobs go to a file)
    with transaction.atomic():
        appended, _ = commit_sealed(sealed, kind="capture.email", actor=ACTOR,
                                    attrs={"via": via[:200], "size": len(raw)})
        return InboundEmail.objects.create(capture_seq=appended.seq, raw_digest=digest, via=via[:200],
                                           received_at=clock.now())


def _envelope_sender(via: str, envelope_from: str) -> str | None:
    """What the parser should take as MAIL FROM: "" or "<>" is the null sender over SMTP; over IMAP
    an empty value only means the mailbox kept no Return-Path (unknown, not null)."""
    return envelope_from if envelope_from or via == "smtpd" else None


def _parse(raw: bytes, envelope_sender: str | None) -> tuple[ParsedReply | None, str]:
    try:
        return parse_reply(raw, envelope_sender=envelope_sender), ""
    except MalformedEmail as exc:
        return None, str(exc) or "it is not a well-formed email"
    except Exception as exc:  # a parser bug must not lose the email: it is captured, refused, and logged
        log.exception("parse_reply failed on a captured email")
        return None, f"it could not be read ({type(exc).__name__})"


def _headers(raw: bytes) -> RawHeaders:
    """The header block, read leniently (a malformed email still has a loop header or a sender)."""
    try:
        return BytesHeaderParser(policy=compat32).parsebytes(raw)
    except Exception:  # anything unreadable simply has no headers here
        return RawHeaders()


def _all(headers: RawHeaders, name: str) -> list[str]:
    return [str(v) for v in headers.get_all(name, [])]


def _header_addresses(mail: _Email) -> list[str]:
    listed = list(mail.parsed.recipients) if mail.parsed is not None else []
    values = _all(mail.headers, "Delivered-To") + ([] if mail.parsed is not None else
                                                   _all(mail.headers, "To") + _all(mail.headers, "Cc"))
    return [str(a) for a in listed] + [a for _, a in getaddresses(values) if a]


def _identity(parsed: ParsedReply | None, token: str, raw_digest: str) -> str:
    mid = replymail.message_id(parsed.message_id or "") if parsed is not None else ""
    if not mid:
        return raw_digest
    return keyed_commitment(b"email reply identity\0" + mid.encode() + b"\0" + token.encode())


# ---- 4-7: what the email is ---------------------------------------------------------------------------------


def _refused(code: str, reason: str, advice: str = "other", **more: Any) -> _Decision:
    return _Decision("refused", reason, code, advice, **more)


def _looped(mail: _Email) -> bool:
    ours = compose.domain().strip().lower()
    return any(v.strip().lower() == ours for v in _all(mail.headers, compose.LOOP_HEADER))


def _judge(mail: _Email, token: str) -> _Decision:
    if _looped(mail):
        return _Decision("ignored", "it came from onfile itself (a mail loop)", "loop")
    parsed = mail.parsed
    if parsed is None:
        return _refused("malformed", f"the email could not be read: {mail.problem}")
    if parsed.auto_reply:
        return _Decision("ignored", f"it is an automatic reply ({parsed.auto_reply})", "auto-reply")
    if not tokens.enabled():
        return _refused("off", "replies by email are switched off in onfile")
    if not token:
        return _refused("no-token", "it was not sent to a reply address of onfile", "token")
    try:
        token_ = tokens.verify(token)
    except tokens.TokenError as exc:
        return _refused(exc.code, str(exc), "token")
    conversation = Conversation.objects.select_related("firm_number", "client", "matter").filter(
        pk=token_.conversation_id).first()
    if conversation is None:
        return _refused("no-conversation", "the conversation of this reply address no longer exists", "token")
    try:
        user = senders.sender(token_, parsed.from_address or "", conversation)
    except senders.SenderRefused as exc:
        return _refused(exc.code, str(exc), "sender", conversation=conversation)
    failures = senders.auth_failures(list(parsed.auth_results or []), parsed.from_address or "")
    if failures:
        return _refused("auth-failed", f"the firm's mail gateway could not confirm that it came from "
                                       f"{parsed.from_address}: {', '.join(failures)}", "sender",
                        conversation=conversation)
    return _content(parsed, conversation, user)


def _content(parsed: ParsedReply, conversation: Conversation, user: User) -> _Decision:
    try:
        parts = outgoing.parts(parsed.text or "", list(parsed.attachments or []))
    except ContentRefused as exc:
        return _refused(exc.code, str(exc), "file", conversation=conversation)
    if not parts:
        why = ("it has no new text and no attachment (only the quoted conversation)" if (parsed.full_text or "").strip()
               else "it has no text and no attachment")
        return _refused("empty", f"empty: {why}", "empty", conversation=conversation)
    status = "sent" if window_open(conversation) else "held"
    reason = (f"queued for the client on WhatsApp ({len(parts)} message{'s' if len(parts) > 1 else ''})"
              if status == "sent" else "held until the client writes again (WhatsApp's 24-hour window is closed)")
    return _Decision(status, reason, status, conversation=conversation, user=user, parts=parts)


# ---- 8: one transaction per outcome -----------------------------------------------------------------------


def _commit(mail: _Email, identity: str, decision: _Decision) -> Outcome:
    prepared = holds.prepare_template(decision.conversation) if (
        decision.status == "held" and decision.conversation is not None) else None
    try:
        return _decide(mail, identity, decision, prepared)
    except SendError as exc:
        # do_send refused after all: the window closed a moment ago, or the number was removed.
        conversation = decision.conversation
        if decision.status == "sent" and conversation is not None:
            conversation.refresh_from_db()
            if not window_open(conversation):
                decision.status, decision.code = "held", "held"
                decision.reason = "held until the client writes again (WhatsApp's 24-hour window is closed)"
                return _decide(mail, identity, decision, holds.prepare_template(conversation))
        return _decide(mail, identity, _refused("cannot-send", f"WhatsApp cannot take it: {exc}",
                                                 conversation=conversation), None)


def _decide(mail: _Email, identity: str, decision: _Decision,
            prepared: tuple[str, str, list[str]] | None) -> Outcome:
    seq = mail.capture.capture_seq
    now = clock.now()
    bounce_to = ""
    with transaction.atomic():
        _received(mail, decision)
        if decision.status == "sent":
            outcome_seq = _send(mail, decision)
        elif decision.status == "held":
            assert decision.conversation is not None and decision.user is not None
            outcome_seq = holds.hold(seq, decision.conversation, decision.user, decision.parts,
                                     replymail.original_of(mail.parsed), prepared)
        elif decision.status == "refused":
            outcome_seq, bounce_to = _refuse(mail, decision, now)
        else:
            outcome_seq = _ignore(mail, decision)
        ReplyIdentity.objects.create(identity=identity, capture_seq=seq, status=decision.status,
                                     outcome_seq=outcome_seq, decided_at=now,
                                     bounce_to=replymail.address_digest(bounce_to) if bounce_to else "")
    return Outcome(decision.status, decision.reason, seq)


def _received(mail: _Email, decision: _Decision) -> None:
    p = mail.parsed
    content: dict[str, Any] = {"via": mail.via, "envelope_from": mail.envelope_from, "recipients": mail.recipients}
    if p is None:
        content["problem"] = mail.problem
    else:
        content.update({
            "from": p.from_address or "", "from_name": p.from_name or "", "to": [str(r) for r in p.recipients or []],
            "subject": p.subject or "", "message_id": p.message_id or "", "in_reply_to": p.in_reply_to or "",
            "attachments": [{"filename": a.filename or "", "mime_type": a.mime_type or "", "size": len(a.data or b"")}
                            for a in p.attachments or []],
            "auth_results": [[v.authserv_id, v.method, v.result, v.domain] for v in p.auth_results or []],
            "auto_reply": p.auto_reply or "", "defects": [str(d) for d in p.defects or []]})
    attrs = {"capture": mail.capture.capture_seq, "via": mail.via[:200],
             "conversation": decision.conversation.pk if decision.conversation is not None else None,
             "attachments": len(p.attachments or []) if p is not None else 0}
    commit_sealed(seal_content(content), kind="email.reply_received", actor=ACTOR,
                  subject=f"capture:{mail.capture.capture_seq}", attrs=attrs)


def _send(mail: _Email, decision: _Decision) -> int:
    assert decision.conversation is not None and decision.user is not None
    actor = f"user:{decision.user.pk}"
    keys = [do_send(decision.conversation, part.outgoing(), actor).key for part in decision.parts]
    appended, _ = commit_sealed(
        seal_content({"parts": outgoing.outgoing_summary(decision.parts)}), kind="email.reply_sent", actor=ACTOR,
        subject=f"capture:{mail.capture.capture_seq}",
        attrs={"capture": mail.capture.capture_seq, "conversation": decision.conversation.pk, "user": actor,
               "messages": keys})
    return appended.seq


def _null_sender(mail: _Email) -> bool:
    """RFC 5321 4.5.5: a message with a null reverse-path is never answered."""
    envelope = mail.envelope_from.strip()
    if envelope == "<>" or (not envelope and mail.via == "smtpd"):
        return True
    return any(v.strip() == "<>" for v in _all(mail.headers, "Return-Path"))


def bounce_target(mail: _Email) -> str:
    """Where a refusal is explained: the envelope sender, else From; "" when it must not be bounced."""
    if _null_sender(mail):
        return ""
    auto = [v.strip().lower() for v in _all(mail.headers, "Auto-Submitted")]
    if any(v and not v.startswith("no") for v in auto):
        return ""
    address = replymail.clean_address(mail.envelope_from)
    if not address:
        address = (mail.parsed.from_address if mail.parsed is not None else "") or next(
            (a for _, a in getaddresses(_all(mail.headers, "From")) if a), "")
    address = address.strip()
    if "@" not in address or replymail.is_machine(address):
        return ""
    return address


def _refuse(mail: _Email, decision: _Decision, now: Any) -> tuple[int, str]:
    seq = mail.capture.capture_seq
    to = bounce_target(mail)
    if not to:
        bounce = "not bounceable"
    elif not replymail.bounce_allowed(to, now):
        bounce, to = "rate limited", ""
    else:
        bounce = "queued" if settings.SMTP_HOST else "no relay"
    conversation = decision.conversation
    appended, _ = commit_sealed(seal_content({"reason": decision.reason, "bounce_to": to}),
                                kind="email.reply_refused", actor=ACTOR, subject=f"capture:{seq}",
                                attrs={"capture": seq, "reason": decision.code, "bounce": bounce,
                                       "conversation": conversation.pk if conversation is not None else None})
    if bounce != "queued":
        return appended.seq, ""
    replymail.queue_bounce(seq, appended.seq, to, decision.reason.rstrip(".") + ".",
                           replymail.ADVICE[decision.advice], replymail.original_of(mail.parsed),
                           conversation.pk if conversation is not None else None)
    return appended.seq, to


def _ignore(mail: _Email, decision: _Decision) -> int:
    seq = mail.capture.capture_seq
    appended, _ = commit_sealed(seal_content({"reason": decision.reason}), kind="email.reply_ignored", actor=ACTOR,
                                subject=f"capture:{seq}", attrs={"capture": seq, "why": decision.code})
    return appended.seq


def _duplicate(mail: _Email, earlier: ReplyIdentity) -> Outcome:
    seq = mail.capture.capture_seq
    with transaction.atomic():
        append(NewEntry("email.reply_duplicate", ACTOR, f"capture:{seq}", {
            "capture": seq, "original": earlier.capture_seq, "status": earlier.status, "via": mail.via[:200]}))
    log.info("email capture %s via %s: duplicate of capture %s", seq, mail.via, earlier.capture_seq)
    return Outcome("duplicate", f"this email was already received (capture {earlier.capture_seq}: "
                                f"{earlier.status}); nothing more was done", seq)
