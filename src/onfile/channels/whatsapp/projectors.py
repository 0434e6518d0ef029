"""Projecting ``whatsapp.item`` entries: each is one item of a captured webhook body.

The projector re-reads the captured body (raw first: the record is the body, not our
parse of it), splits it again and projects the item the entry names, so ``onfile rebuild``
reproduces every message, status, edit and deletion. Edits and deletions never overwrite:
the earlier text goes to a ``MessageRevision`` (REQ-SEC-4). A status never lowers a
message's status (deliveries arrive out of order, whatsapp.md A3).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from onfile.channels.whatsapp.models import ChannelEvent, ProcessedItem
from onfile.channels.whatsapp.payloads import InboundMessage, WebhookItem, split_webhook
from onfile.conversations.models import (
    Attachment,
    Client,
    ClientIdentity,
    Conversation,
    FirmNumber,
    Message,
    MessageRevision,
    MessageStatus,
    Participant,
    Reaction,
)
from onfile.conversations.phones import maybe_e164
from onfile.ledger.blobs import read_blob
from onfile.ledger.models import Entry
from onfile.projection import EntryView, on_rebuild, projector

STATUS_RANK = {"": 0, "queued": 0, "accepted": 1, "sent": 2, "delivered": 3, "read": 4, "played": 5}
_BODIES: OrderedDict[str, list[WebhookItem]] = OrderedDict()


def items_of(capture_seq: int) -> list[WebhookItem]:
    # Keyed by the capture's ciphertext hash: unique per body even where sequence numbers
    # are reused (tests roll back), so a cached split can never belong to another body.
    blob_id, commitment = Entry.objects.values_list("blob_id", "commitment").get(seq=capture_seq)
    items = _BODIES.get(commitment)
    if items is None:
        items = split_webhook(read_blob(int(blob_id)))
        _BODIES[commitment] = items
        while len(_BODIES) > 16:
            _BODIES.popitem(last=False)
    return items


@on_rebuild
def _forget() -> None:
    _BODIES.clear()


def entry_time(entry: EntryView) -> datetime:
    return datetime.fromisoformat(entry.time.replace("Z", "+00:00"))


@projector("whatsapp.item")
def item(entry: EntryView) -> None:
    found = items_of(entry.attrs["capture"])[entry.attrs["index"]]
    if found.identity != entry.attrs["identity"]:
        raise ValueError(f"entry {entry.seq}: the captured body no longer splits to the recorded item")
    ProcessedItem.objects.create(identity=found.identity, seq=entry.seq)
    handler = _HANDLERS.get(found.kind, _event)
    handler(found, entry)


def _number(it: WebhookItem, seq: int) -> FirmNumber:
    pnid = it.phone_number_id or "unknown"
    number = FirmNumber.objects.filter(phone_number_id=pnid).first()
    if number is None:
        display = it.display_phone_number or ""
        number = FirmNumber.objects.create(id=seq, phone_number_id=pnid, number=maybe_e164(display) or display,
                                           configured=False)
    return number


def _client(phone: str, bsuid: str, name: str, seq: int) -> Client:
    for kind, value in (("phone", phone), ("bsuid", bsuid)):
        if value:
            ident = ClientIdentity.objects.filter(kind=kind, value=value).select_related("client").first()
            if ident is not None:
                return ident.client
    client = Client.objects.create(id=seq, name=name or phone or bsuid, created_seq=seq)
    for kind, value in (("phone", phone), ("bsuid", bsuid)):
        if value:
            ClientIdentity.objects.create(client=client, kind=kind, value=value)
    return client


def conversation_for(it: WebhookItem, user: str, user_id: str, name: str, seq: int) -> Conversation:
    """The live conversation between a firm number and one WhatsApp user (phone or BSUID)."""
    number = _number(it, seq)
    phone = maybe_e164(user) if user else ""
    who = phone or user_id or user
    key = f"wa:{number.phone_number_id}:{who}"
    conversation = Conversation.objects.filter(key=key).first()
    if conversation is None:
        client = _client(phone, user_id, name, seq)
        conversation = Conversation.objects.create(
            id=seq, key=key, source=Conversation.Source.LIVE, title=client.name, firm_number=number,
            client=client, recipient=phone or user_id, created_seq=seq, assignee_id=None,
            flags=[] if number.configured else ["unconfigured-number"])
    return conversation


def _participant(conversation: Conversation, name: str, phone: str, firm: bool, staff_id: int | None) -> int:
    participant, _ = Participant.objects.get_or_create(
        conversation=conversation, display_name=name or phone or "unknown",
        defaults={"phone": phone, "is_firm": firm, "staff_id": staff_id,
                  "client_id": None if firm else conversation.client_id})
    return participant.pk


def _by_wamid(wamid: str | None) -> Message | None:
    return Message.objects.filter(wamid=wamid).first() if wamid else None


def _data(m: InboundMessage) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in ("location", "contacts", "interactive", "button", "order", "system", "referral", "errors"):
        value = getattr(m, name, None)
        if value:
            data[name] = value
    if m.unsupported_type:
        data["unsupported_type"] = m.unsupported_type
    if m.context is not None and m.context.referred_product:
        data["referred_product"] = m.context.referred_product
    return data


def _message_type(m: InboundMessage) -> str:
    if m.type == "audio" and m.media is not None and m.media.voice:
        return "voice"
    return m.type or "unsupported"


def _fill_placeholder(m: InboundMessage, data: dict[str, Any]) -> Message | None:
    """History sends media as a ``media_placeholder`` first and the real media object later,
    under the same wamid (whatsapp.md C3): the later item completes the earlier message."""
    existing = Message.objects.filter(key=f"wa:{m.wamid}").first()
    if existing is None:
        return None
    if existing.type == "media_placeholder" and m.media is not None:
        Message.objects.filter(pk=existing.pk).update(type=_message_type(m), body=m.text or existing.body,
                                                      data={**existing.data, **data})
        Attachment.objects.create(message=existing, mime_type=m.media.mime_type or "",
                                  filename=m.media.filename or "", caption=m.media.caption or "",
                                  media_id=m.media.id or "", placeholder="not-fetched")
    return existing


def _store_message(m: InboundMessage, conversation: Conversation, entry: EntryView, *, direction: str,
                   sender: int, sender_name: str, sender_phone: str, data: dict[str, Any]) -> Message:
    earlier = _fill_placeholder(m, data)
    if earlier is not None:
        return earlier
    context = m.context
    message = Message.objects.create(
        conversation=conversation, key=f"wa:{m.wamid}", wamid=m.wamid or "", direction=direction,
        type=_message_type(m), body=m.text or "", sender_id=sender, sender_name=sender_name,
        sender_phone=sender_phone, sent_at=m.timestamp or entry_time(entry), received_at=entry_time(entry),
        position=entry.seq,
        reply_to_key=f"wa:{context.reply_to}" if context and context.reply_to else "",
        forwarded=bool(context and (context.forwarded or context.frequently_forwarded)),
        data=data, source_seq=entry.seq, capture_seq=entry.attrs["capture"], source_ref=f"item {entry.attrs['index']}")
    if m.media is not None:
        Attachment.objects.create(message=message, mime_type=m.media.mime_type or "", filename=m.media.filename or "",
                                  caption=m.media.caption or "", media_id=m.media.id or "", placeholder="not-fetched")
    at = message.sent_at
    times = {"last_message_at": max(at, conversation.last_message_at or at)}
    if direction == "in":
        times["last_inbound_at"] = max(at, conversation.last_inbound_at or at)
    Conversation.objects.filter(pk=conversation.pk).update(**times)
    return message


def _revision(target: Message, kind: str, entry: EntryView, at: datetime) -> None:
    MessageRevision.objects.create(message=target, kind=kind, body=target.body, at=at, source_seq=entry.seq)


def _apply_change(m: InboundMessage, entry: EntryView) -> bool:
    """Revokes, edits and reactions act on an earlier message; True when handled."""
    if m.revoke_of:
        target = _by_wamid(m.revoke_of)
        if target is None:
            return False
        _revision(target, "delete", entry, m.timestamp or entry_time(entry))
        Message.objects.filter(pk=target.pk).update(deleted=True)
        return True
    if m.edit_of and m.edited is not None:
        target = _by_wamid(m.edit_of)
        if target is None:
            return False
        _revision(target, "edit", entry, m.timestamp or entry_time(entry))
        Message.objects.filter(pk=target.pk).update(edited=True, body=m.edited.text or "")
        return True
    if m.type == "reaction" and m.reaction is not None:
        target = _by_wamid(m.reaction.get("message_id"))
        if target is None:
            return False
        Reaction.objects.create(message=target, sender_name=m.profile_name or m.from_wa_id or "",
                                emoji=m.reaction.get("emoji") or "", at=m.timestamp, source_seq=entry.seq)
        return True
    return False


def _inbound(it: WebhookItem, entry: EntryView) -> None:
    m = it.message
    assert m is not None
    name = m.profile_name or ""
    conversation = conversation_for(it, m.from_wa_id or "", m.from_user_id or "", name, entry.seq)
    if _apply_change(m, entry):
        return
    phone = maybe_e164(m.from_wa_id or "")
    sender = _participant(conversation, name, phone, False, None)
    data = _data(m)
    if it.history:
        data["history"] = it.history
    _store_message(m, conversation, entry, direction="in", sender=sender, sender_name=name, sender_phone=phone,
                   data=data)


def _outbound_echo(it: WebhookItem, entry: EntryView) -> None:
    """What staff sent from the WhatsApp Business app on their phone (coexistence, C2)."""
    m = it.message
    assert m is not None
    conversation = conversation_for(it, m.to or "", m.to_user_id or "", "", entry.seq)
    if _apply_change(m, entry):
        return
    number = conversation.firm_number
    staff_id = number.staff_id if number else None
    label = number.display_name if number and number.display_name else "WhatsApp Business app"
    sender = _participant(conversation, label, number.number if number else "", True, staff_id)
    data = _data(m)
    data["via"] = "business-app"
    if it.history:
        data["history"] = it.history
    _store_message(m, conversation, entry, direction="out", sender=sender, sender_name=label,
                   sender_phone=number.number if number else "", data=data)


def _history(it: WebhookItem, entry: EntryView) -> None:
    m = it.message
    if m is not None and (m.to or m.to_user_id):
        _outbound_echo(it, entry)
    elif m is not None:
        _inbound(it, entry)
    else:
        _event(it, entry)


def _status(it: WebhookItem, entry: EntryView) -> None:
    s = it.status
    assert s is not None
    target = _by_wamid(s.wamid)
    MessageStatus.objects.create(message=target, message_key=s.wamid or "", status=s.status or "",
                                 at=s.timestamp or entry_time(entry),
                                 error={"errors": s.errors} if s.errors else {}, source_seq=entry.seq)
    if target is None:
        return
    if s.status is None:
        return
    if s.status == "failed":
        if STATUS_RANK.get(target.status, 0) < STATUS_RANK["delivered"]:
            Message.objects.filter(pk=target.pk).update(status="failed")
    elif STATUS_RANK.get(s.status, 0) > STATUS_RANK.get(target.status, 0) or target.status == "failed":
        Message.objects.filter(pk=target.pk).update(status=s.status)


def _event(it: WebhookItem, entry: EntryView) -> None:
    ChannelEvent.objects.create(kind=it.kind, phone_number_id=it.phone_number_id or "", identity=it.identity,
                                data={"raw": it.raw, "problems": it.problems}, seq=entry.seq, at=entry_time(entry))


_HANDLERS = {"message": _inbound, "echo": _outbound_echo, "history_message": _history, "status": _status}


@projector("whatsapp.media_fetched")
def media_fetched(entry: EntryView) -> None:
    from onfile.channels.whatsapp.processing import attach_fetched

    attach_fetched(entry.attrs["message"], entry.attrs["index"], entry.attrs["capture"])
