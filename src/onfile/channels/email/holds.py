"""Replies held while WhatsApp's 24-hour window is closed (whatsapp.md B4), and what becomes of them.

A reply by email that arrives when the client last wrote more than 24 hours ago cannot be sent as
it is (WhatsApp refuses free-form messages outside the window). Rather than refuse it, onfile:

1. **holds** it: a ``HeldReply`` row and an ``email.reply_held`` entry whose sealed content lists
   the parts (kind, file name, size, SHA-256). The parts themselves are not copied: the raw email
   is on the record (``capture.email``) and is read again on release (ARCHITECTURE 1: parsing can
   be re-run), and the hashes prove that what is sent is what was held;
2. **tells** the member of staff at once (an ``email.notice`` in the conversation's thread);
3. **asks the client to write**, if the firm configured ``ONFILE_EMAIL_WINDOW_TEMPLATE=name:language``:
   that approved template is sent (through ``do_send``, so it is ledgered and queued like any
   send), at most once per closed window per conversation (``WindowNudge``: the window is named
   by the client's last message time). A template with a body parameter gets the client's name.

When the client writes again, ``after_item`` (called from ``forwarding.after_item`` inside the
processing transaction of the client's message) sends every held reply of the conversation in
the order it arrived — each one whole or not at all, ``email.reply_released`` — after checking
again that its sender may still answer (an account deactivated or walled meanwhile is not used:
``email.reply_release_failed``, and the sender is told when they still can be).

A hold that is never released: the member of staff knows of it from the notice (and it is on the
record as ``email.reply_held``; there is no web view of holds yet). After ``ONFILE_EMAIL_HOLD_DAYS``
(default 7) the worker (``Worker.email``) expires it — ``email.reply_expired`` — and emails the
member of staff that it was not sent. Nothing of an expired hold is ever sent later.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from onfile import clock
from onfile.accounts.models import User
from onfile.channels.email import outgoing, replymail
from onfile.channels.email.models import HeldReply, WindowNudge
from onfile.channels.email.outgoing import ContentRefused, Part
from onfile.channels.email.senders import may_answer
from onfile.channels.whatsapp import config, sending
from onfile.channels.whatsapp.graph import GraphError
from onfile.channels.whatsapp.sending import Outgoing, SendError, do_send, window_open
from onfile.channels.whatsapp.types import WebhookItem
from onfile.conversations.models import Conversation, Message
from onfile.ledger.actions import commit_sealed, read_content, seal_content
from onfile.ledger.blobs import read_blob
from onfile.ledger.log import NewEntry, append
from onfile.ledger.models import Entry

log = logging.getLogger("onfile.email")
ACTOR = "email"
EXPIRE_BATCH = 100


class ReleaseRefused(ValueError):
    """A held reply cannot be sent now; the message says why."""


def part_names(summary: list[dict[str, Any]]) -> list[str]:
    return ["your text" if p["kind"] == "text" else p["filename"] for p in summary]


# ---- the template that asks the client to write -----------------------------------------------------


def prepare_template(conversation: Conversation) -> tuple[str, str, list[str]] | None:
    """(name, language, parameters) of the configured template, or None. Runs *before* the
    transaction: finding the template's parameter count may ask the Graph API."""
    name, _, language = settings.EMAIL_WINDOW_TEMPLATE.partition(":")
    if not name or not language:
        return None
    try:
        found = sending.templates(conversation)
    except (GraphError, config.NotConfigured, OSError) as exc:
        log.warning("could not list the WhatsApp templates (%s): sending %s without parameters", exc, name)
        found = []
    count = next((int(t.get("parameters") or 0) for t in found
                  if t.get("name") == name and t.get("language") == language), 0)
    from onfile.channels.email.compose import client_label

    return name, language, [client_label(conversation)] if count else []


def _window(conversation: Conversation) -> str:
    return conversation.last_inbound_at.isoformat() if conversation.last_inbound_at else "never"


def nudge(conversation: Conversation, actor: str, prepared: tuple[str, str, list[str]] | None) -> str:
    """Send the template once per closed window; returns "sent", "already sent", "not configured" or
    "failed: why". Inside the caller's transaction (a failure leaves nothing of the template)."""
    if prepared is None:
        return "not configured"
    name, language, params = prepared
    window = _window(conversation)
    if WindowNudge.objects.filter(conversation_id=conversation.pk, window=window).exists():
        return "already sent"
    try:
        with transaction.atomic():
            message = do_send(conversation, Outgoing(template=name, language=language, params=params), actor)
            WindowNudge.objects.create(conversation_id=conversation.pk, window=window, sent_seq=message.source_seq)
    except SendError as exc:
        return f"failed: {exc}"
    except IntegrityError:  # a concurrent reply sent it first
        return "already sent"
    return "sent"


# ---- holding -------------------------------------------------------------------------------------------


def hold(capture_seq: int, conversation: Conversation, user: User, parts: list[Part], original: dict[str, Any],
         prepared: tuple[str, str, list[str]] | None) -> int:
    """Inside the pipeline's transaction; returns the ``email.reply_held`` entry's seq."""
    now = clock.now()
    actor = f"user:{user.pk}"
    template = nudge(conversation, actor, prepared)
    summary = outgoing.outgoing_summary(parts)
    expires = now + timedelta(days=settings.EMAIL_HOLD_DAYS)
    attrs = {"capture": capture_seq, "conversation": conversation.pk, "user": actor, "parts": len(parts),
             "template": template.split(":", 1)[0], "expires": expires.isoformat()}
    appended, _ = commit_sealed(seal_content({"parts": summary}), kind="email.reply_held", actor=ACTOR,
                                subject=f"capture:{capture_seq}", attrs=attrs)
    HeldReply.objects.create(conversation_id=conversation.pk, user_id=user.pk, capture_seq=capture_seq,
                             held_seq=appended.seq, held_at=now, original=original)
    if settings.SMTP_HOST:
        replymail.queue_notice("held", capture_seq, appended.seq, user.email, conversation.pk, original, {
            "parts": part_names(summary), "expires": expires.isoformat(), "template": template,
            "template_name": prepared[0] if prepared else "",
            "last_inbound": conversation.last_inbound_at.isoformat() if conversation.last_inbound_at else ""})
    return appended.seq


def held_parts(held: HeldReply) -> list[dict[str, Any]]:
    blob_id = Entry.objects.values_list("blob_id", flat=True).get(seq=held.held_seq)
    parts: list[dict[str, Any]] = read_content(int(blob_id))["parts"]
    return parts


# ---- releasing, when the client writes again -----------------------------------------------------------


def after_item(it: WebhookItem) -> None:
    """A client's message was recorded and projected: send the conversation's held replies, in order."""
    m = it.message
    if it.kind != "message" or m is None or not m.wamid or not HeldReply.objects.filter(
            status=HeldReply.Status.HELD).exists():
        return
    message = Message.objects.select_related("conversation").filter(
        key=f"wa:{m.wamid}", direction=Message.Direction.IN).first()
    if message is None or not window_open(message.conversation):
        return
    for held in HeldReply.objects.filter(conversation_id=message.conversation_id, status=HeldReply.Status.HELD):
        release(held, message.conversation)


def _parts_again(held: HeldReply) -> list[Part]:
    from onfile.channels.email.replyparse import MalformedEmail, parse_reply

    raw = read_blob(int(Entry.objects.values_list("blob_id", flat=True).get(seq=held.capture_seq)))
    try:
        parsed = parse_reply(raw)
    except MalformedEmail as exc:
        raise ReleaseRefused(f"the email can no longer be read: {exc}") from None
    parts = outgoing.parts(parsed.text, list(parsed.attachments))
    if outgoing.outgoing_summary(parts) != held_parts(held):
        raise ReleaseRefused("the email reads differently from when it was held (onfile was updated meanwhile)")
    return parts


def release(held: HeldReply, conversation: Conversation) -> bool:
    """Send one held reply whole, or record why not. Never raises: the client's message that
    triggered it must be recorded whatever happens here."""
    user = User.objects.filter(pk=held.user_id).first()
    try:
        with transaction.atomic():
            # Claimed first, by a conditional update: two client messages processed at the same moment
            # (or an expiry) cannot both act on it — the second waits for the row, then finds it taken.
            if not HeldReply.objects.filter(pk=held.pk, status=HeldReply.Status.HELD).update(
                    status=HeldReply.Status.RELEASED):
                return False
            why = may_answer(user, conversation)
            if why:
                raise ReleaseRefused(why)
            actor = f"user:{held.user_id}"
            keys = [do_send(conversation, part.outgoing(), actor).key for part in _parts_again(held)]
            appended = append(NewEntry("email.reply_released", ACTOR, f"capture:{held.capture_seq}", {
                "capture": held.capture_seq, "conversation": conversation.pk, "user": actor, "messages": keys}))
            HeldReply.objects.filter(pk=held.pk).update(closed_seq=appended.seq, original={})
        return True
    except (ReleaseRefused, ContentRefused, SendError) as exc:
        _failed(held, conversation, user, str(exc))
    except Exception:
        # A bug must not stop the client's message from being recorded: the reply stays held
        # (it is tried again at the client's next message, and expires in the end).
        log.exception("held reply of capture %s could not be released; it stays held", held.capture_seq)
    return False


def _failed(held: HeldReply, conversation: Conversation, user: User | None, reason: str) -> None:
    with transaction.atomic():
        if not HeldReply.objects.filter(pk=held.pk, status=HeldReply.Status.HELD).update(
                status=HeldReply.Status.FAILED):
            return
        appended, _ = commit_sealed(seal_content({"reason": reason}), kind="email.reply_release_failed", actor=ACTOR,
                                    subject=f"capture:{held.capture_seq}",
                                    attrs={"capture": held.capture_seq, "conversation": conversation.pk,
                                           "user": f"user:{held.user_id}"})
        HeldReply.objects.filter(pk=held.pk).update(closed_seq=appended.seq, original={})
        if user is not None and user.is_active and settings.SMTP_HOST:
            replymail.queue_notice("failed", held.capture_seq, appended.seq, user.email, conversation.pk,
                                   held.original, {"parts": part_names(held_parts(held)), "reason": reason})


# ---- seen and withdrawn from the conversation page ------------------------------------------------------


def waiting(conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation's replies still held, for its page: who, when, what, until when."""
    out = []
    names = dict(User.objects.filter(pk__in=HeldReply.objects.filter(
        conversation_id=conversation.pk, status=HeldReply.Status.HELD).values("user_id")).values_list("pk", "name"))
    for held in HeldReply.objects.filter(conversation_id=conversation.pk, status=HeldReply.Status.HELD):
        out.append({"id": held.pk, "user_id": held.user_id, "by": names.get(held.user_id) or f"user {held.user_id}",
                    "at": held.held_at, "expires": held.held_at + timedelta(days=settings.EMAIL_HOLD_DAYS),
                    "parts": part_names(held_parts(held))})
    return out


def cancel(held_id: int, conversation: Conversation, actor: str) -> None:
    """Withdraw a held reply (it is never sent); ledgered ``email.reply_cancelled``. Raises
    ``LookupError`` when it is not held any more (sent, expired or withdrawn meanwhile)."""
    with transaction.atomic():
        held = HeldReply.objects.filter(pk=held_id, conversation_id=conversation.pk).first()
        # Claimed by a conditional update, like a release or an expiry at the same moment.
        if held is None or not HeldReply.objects.filter(pk=held.pk, status=HeldReply.Status.HELD).update(
                status=HeldReply.Status.CANCELLED):
            raise LookupError("that reply is not held any more: it was sent, expired or withdrawn")
        appended = append(NewEntry("email.reply_cancelled", actor, f"capture:{held.capture_seq}", {
            "capture": held.capture_seq, "conversation": conversation.pk, "user": f"user:{held.user_id}"}))
        HeldReply.objects.filter(pk=held.pk).update(closed_seq=appended.seq, original={})


# ---- expiry (the worker) ---------------------------------------------------------------------------------


def expire_holds(now: datetime | None = None) -> int:
    """Holds older than ``ONFILE_EMAIL_HOLD_DAYS``: recorded as expired, the sender told. Returns the count."""
    now = now or clock.now()
    cutoff = now - timedelta(days=settings.EMAIL_HOLD_DAYS)
    done = 0
    for held in HeldReply.objects.filter(status=HeldReply.Status.HELD, held_at__lt=cutoff)[:EXPIRE_BATCH]:
        with transaction.atomic():
            # Claimed by a conditional update: a release at the same moment wins or loses as a whole.
            if not HeldReply.objects.filter(pk=held.pk, status=HeldReply.Status.HELD).update(
                    status=HeldReply.Status.EXPIRED):
                continue
            appended = append(NewEntry("email.reply_expired", ACTOR, f"capture:{held.capture_seq}", {
                "capture": held.capture_seq, "conversation": held.conversation_id, "user": f"user:{held.user_id}",
                "days": settings.EMAIL_HOLD_DAYS}))
            # The subject and Message-ID are kept only while needed (the notice's payload has them now).
            HeldReply.objects.filter(pk=held.pk).update(closed_seq=appended.seq, original={})
            user = User.objects.filter(pk=held.user_id, is_active=True).first()
            if user is not None and settings.SMTP_HOST and Conversation.objects.filter(
                    pk=held.conversation_id).exists():
                replymail.queue_notice("expired", held.capture_seq, appended.seq, user.email, held.conversation_id,
                                       held.original, {"parts": part_names(held_parts(held)),
                                                       "held_at": held.held_at.isoformat(),
                                                       "days": settings.EMAIL_HOLD_DAYS})
        done += 1
    return done
