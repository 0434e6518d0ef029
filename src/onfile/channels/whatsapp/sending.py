"""Sending to a client: text, media, documents, replies, reactions and templates.

``do_send`` checks the 24-hour customer-service window (whatsapp.md B4), seals what is
sent, and — in one transaction — appends ``whatsapp.send_requested``, queues the outbox
item and projects the outgoing message as "queued". The worker's ``deliver_sends`` uploads
media, sends with the item's idempotency key, and records ``whatsapp.send_accepted`` (with
the wamid) or ``whatsapp.send_failed``. A retry after a crash repeats the same key; nothing
is recorded twice, and the simulator (or any receiver that honours the key) sends once.
"""

from __future__ import annotations

import logging
import mimetypes
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from onfile import clock
from onfile.channels.email import forwarding as email_bridge
from onfile.channels.whatsapp import config
from onfile.channels.whatsapp.graph import GraphClient, GraphError, media_body, reaction_body, template_body, text_body
from onfile.conversations.models import Attachment, Conversation, Message, Participant
from onfile.ledger.actions import commit_sealed, read_content, seal_content
from onfile.ledger.blobs import read_blob, seal_bytes
from onfile.ledger.log import NewEntry, append
from onfile.ledger.models import Entry
from onfile.outbox import queue
from onfile.outbox.models import OutboxItem
from onfile.projection import EntryView, project, projector

log = logging.getLogger("onfile.whatsapp")
WINDOW = timedelta(hours=24)
MEDIA_KINDS = {"image", "video", "audio", "document", "sticker"}
# WhatsApp's limits (whatsapp.md B3): what a client's phone will accept.
MEDIA_LIMITS = {"image": 5 << 20, "video": 16 << 20, "audio": 16 << 20, "document": 100 << 20, "sticker": 500 << 10}


class SendError(ValueError):
    """The send cannot be queued; the message says why and what to do instead."""


@dataclass
class Outgoing:
    text: str = ""
    filename: str = ""
    data: bytes = b""
    mime_type: str = ""
    kind: str = ""  # image | video | audio | document | sticker; guessed from the MIME type when empty
    caption: str = ""
    reply_to: str = ""  # wamid
    react_to: str = ""  # wamid
    emoji: str = ""
    template: str = ""
    language: str = ""
    params: list[str] = field(default_factory=list)


def window_closes_at(conversation: Conversation) -> datetime | None:
    return conversation.last_inbound_at + WINDOW if conversation.last_inbound_at else None


def window_open(conversation: Conversation) -> bool:
    closes = window_closes_at(conversation)
    return closes is not None and clock.now() < closes


def templates(conversation: Conversation) -> list[dict[str, Any]]:
    """Templates that may be sent when the window is closed: configured, else from the Graph API."""
    if settings.WHATSAPP_TEMPLATES:
        out = []
        for spec in settings.WHATSAPP_TEMPLATES:
            name, _, rest = spec.partition(":")
            language, _, count = rest.partition(":")
            out.append({"name": name, "language": language or "en_US", "parameters": int(count or 0)})
        return out
    if not settings.WHATSAPP_WABA_ID:
        return []
    graph = config.client()
    try:
        found = graph.templates(settings.WHATSAPP_WABA_ID)
    finally:
        graph.close()
    return [{"name": t.get("name"), "language": t.get("language"), "parameters": _param_count(t)}
            for t in found if t.get("status", "APPROVED") == "APPROVED"]


def _param_count(template: dict[str, Any]) -> int:
    text = " ".join(str(c.get("text", "")) for c in template.get("components", []) if isinstance(c, dict))
    return text.count("{{")


def _kind_of(out: Outgoing) -> str:
    if out.template:
        return "template"
    if out.react_to:
        return "reaction"
    if out.data:
        if out.kind:
            return out.kind
        major = out.mime_type.split("/", 1)[0]
        return major if major in {"image", "video", "audio"} else "document"
    return "text"


def _check(conversation: Conversation, out: Outgoing, kind: str) -> None:
    if conversation.firm_number is None or not conversation.recipient:
        raise SendError("this conversation has no WhatsApp number to send to (an imported chat cannot be answered)")
    if kind == "text" and not out.text.strip():
        raise SendError("nothing to send: the text is empty")
    if kind in MEDIA_KINDS:
        if kind not in MEDIA_LIMITS:
            raise SendError(f"unknown media kind {kind}")
        if len(out.data) > MEDIA_LIMITS[kind]:
            raise SendError(f"{out.filename or 'the file'} is {len(out.data) // 1024} KB; WhatsApp accepts at most "
                            f"{MEDIA_LIMITS[kind] // 1024} KB for a {kind}")
    if kind != "template" and not window_open(conversation):
        closes = window_closes_at(conversation)
        when = f"closed at {closes:%Y-%m-%d %H:%M} UTC" if closes else "has not opened (the client never wrote)"
        names = ", ".join(f"{t['name']} ({t['language']})" for t in _safe_templates(conversation)) or "none configured"
        raise SendError(f"the 24-hour customer-service window {when}: free-form messages are refused by WhatsApp. "
                        f"Send a template instead: {names}")


def _safe_templates(conversation: Conversation) -> list[dict[str, Any]]:
    try:
        return templates(conversation)
    except (GraphError, config.NotConfigured):
        return []


def _staff_name(actor: str) -> str:
    """How the sender of a reply is shown and exported: the staff member's name, recorded with
    the send (so a rebuild shows the same name even if the account is renamed later)."""
    if actor.startswith("user:") and actor[5:].isdigit():
        from onfile.accounts.models import User

        user = User.objects.filter(pk=int(actor[5:])).first()
        if user is not None:
            return user.name or user.email
    return actor


def do_send(conversation: Conversation, out: Outgoing, actor: str) -> Message:
    kind = _kind_of(out)
    _check(conversation, out, kind)
    key = uuid.uuid4().hex
    media_blob = None
    if out.data:
        media_blob = seal_bytes(out.data, out.mime_type or "application/octet-stream")
    content = {"text": out.text, "caption": out.caption, "filename": out.filename, "emoji": out.emoji,
               "params": out.params, "to": conversation.recipient}
    sealed = seal_content(content)
    attrs: dict[str, Any] = {"key": key, "conversation": conversation.pk, "type": kind, "reply_to": out.reply_to,
                             "react_to": out.react_to, "template": out.template, "language": out.language,
                             "phone_number_id": conversation.firm_number.phone_number_id if conversation.firm_number
                             else "", "mime_type": out.mime_type, "media_blob": None,
                             "sender": _staff_name(actor)}
    with transaction.atomic():
        if media_blob is not None:
            _, media_blob_id = commit_sealed(media_blob, kind="capture.outgoing_media", actor=actor,
                                                       subject=f"outbox:{key}", attrs={"filename": out.filename,
                                                                                       "size": len(out.data)})
            attrs["media_blob"] = media_blob_id
        appended, blob_id = commit_sealed(sealed, kind="whatsapp.send_requested", actor=actor,
                                          subject=f"conversation:{conversation.pk}", attrs=attrs)
        queue.enqueue(key, "whatsapp.send", {"entry": appended.seq}, appended.seq, clock.now())
        project(EntryView(appended.seq, "whatsapp.send_requested", actor, f"conversation:{conversation.pk}", attrs,
                          blob_id, content, time=appended.time))
    return Message.objects.get(key=f"out:{key}")


@projector("whatsapp.send_requested")
def send_requested(entry: EntryView) -> None:
    a, content = entry.attrs, entry.content()
    conversation = Conversation.objects.select_related("firm_number").get(pk=a["conversation"])
    number = conversation.firm_number
    actor_name = a.get("sender") or entry.actor
    sender, _ = Participant.objects.get_or_create(
        conversation=conversation, display_name=number.display_name or number.number if number else "firm",
        defaults={"is_firm": True, "phone": number.number if number else ""})
    body = content["text"] or content["caption"] or content["emoji"]
    if a["type"] == "template":
        body = f"[template {a['template']}] " + " | ".join(content["params"])
    message = Message.objects.create(
        conversation=conversation, key=f"out:{a['key']}", direction="out", type=a["type"], body=body,
        sender=sender, sender_name=actor_name, sender_phone=number.number if number else "",
        sent_at=datetime.fromisoformat(entry.time.replace("Z", "+00:00")), position=entry.seq,
        reply_to_key=f"wa:{a['reply_to']}" if a["reply_to"] else "", status="queued",
        data={"react_to": a["react_to"]} if a["react_to"] else {}, source_seq=entry.seq)
    if a.get("media_blob"):
        data = read_blob(a["media_blob"])
        import hashlib

        Attachment.objects.create(message=message, blob_id=a["media_blob"], filename=content["filename"],
                                  mime_type=a["mime_type"], size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                                  caption=content["caption"])


@projector("whatsapp.send_accepted")
def send_accepted(entry: EntryView) -> None:
    message = Message.objects.get(key=f"out:{entry.attrs['key']}")
    status = message.status if message.status not in ("", "queued") else "accepted"
    Message.objects.filter(pk=message.pk).update(wamid=entry.attrs["wamid"], status=status)
    # Statuses that raced ahead of the send's result attach now.
    from onfile.conversations.models import MessageStatus

    MessageStatus.objects.filter(message__isnull=True, message_key=entry.attrs["wamid"]).update(message=message)


@projector("whatsapp.send_failed")
def send_failed(entry: EntryView) -> None:
    message = Message.objects.get(key=f"out:{entry.attrs['key']}")
    data = dict(message.data)
    data["error"] = {k: entry.attrs.get(k) for k in ("code", "message", "details")}
    Message.objects.filter(pk=message.pk).update(status="failed", data=data)


# ---- the worker's side ------------------------------------------------------------------------------


def _body(item: OutboxItem, graph: GraphClient) -> tuple[str, dict[str, Any]]:
    entry = Entry.objects.get(seq=item.payload["entry"])
    import json

    a = json.loads(entry.attrs)
    content = read_content(int(entry.blob_id or 0))
    to, kind, pnid = content["to"], a["type"], a["phone_number_id"]
    reply = a["reply_to"] or None
    if kind == "text":
        return pnid, text_body(to, content["text"], reply_to=reply)
    if kind == "reaction":
        return pnid, reaction_body(to, a["react_to"], content["emoji"])
    if kind == "template":
        return pnid, template_body(to, a["template"], a["language"] or "en_US", body_params=content["params"])
    media_id = item.result.get("media_id")
    if not media_id:
        media_id = graph.upload_media(pnid, read_blob(a["media_blob"]), a["mime_type"] or _mime(content["filename"]),
                                      content["filename"] or "file")
        queue.save_progress(item, {**item.result, "media_id": media_id})
    return pnid, media_body(to, kind, media_id, caption=content["caption"] or None,
                            filename=content["filename"] or None if kind == "document" else None, reply_to=reply)


def _mime(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _record(kind: str, item: OutboxItem, attrs: dict[str, Any]) -> None:
    with transaction.atomic():
        appended = append(NewEntry(kind, "whatsapp", f"outbox:{item.key}", attrs))
        project(EntryView(appended.seq, kind, "whatsapp", f"outbox:{item.key}", attrs, None, time=appended.time))


def deliver_one(item: OutboxItem, graph: GraphClient) -> None:
    now = clock.now()
    try:
        pnid, body = _body(item, graph)
        result = graph.send(pnid, body, idempotency_key=item.key)
    except ValueError as exc:
        # A body the API would refuse (no "+" in the number, a caption on audio …): retrying cannot help.
        _record("whatsapp.send_failed", item, {"key": item.key, "code": None, "message": str(exc), "details": ""})
        queue.fail(item, str(exc), now)
        return
    except GraphError as exc:
        if exc.retryable:
            queue.retry_later(item, str(exc), now, exc.retry_after or 0.0)
            return
        _record("whatsapp.send_failed", item, {"key": item.key, "code": exc.code, "message": str(exc),
                                               "details": exc.details})
        queue.fail(item, str(exc), now)
        return
    with transaction.atomic():
        _record("whatsapp.send_accepted", item, {"key": item.key, "wamid": result.wamid})
        email_bridge.after_send_accepted(f"out:{item.key}")  # journal it, in this transaction
        queue.done(item, {**item.result, "wamid": result.wamid}, now)


def deliver_sends(limit: int = 20) -> int:
    return queue.drain("whatsapp.send", clock.now(), config.client, deliver_one, limit)
