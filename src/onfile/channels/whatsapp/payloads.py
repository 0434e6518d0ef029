"""Turning a WhatsApp Cloud API webhook body into items: ``split_webhook(body)``.

Design (whatsapp.md A3–A7, C2–C5):

- The raw body is already captured before this runs; this module only *reads* it. So it is
  pure (no Django, no I/O) and deterministic: the same bytes always give the same items in
  the same order with the same identities, because the projector re-splits captured
  bodies on rebuild and finds its item again by index and identity.
- One item per message, status, value-level error, echo, history message, history-level
  error and state-sync entry. Anything not understood (an unknown change ``field``, an
  unknown array in ``value``, an element that is not an object) becomes one
  ``kind="unknown"`` item carrying its JSON, so nothing is dropped silently.
- Tolerant: Meta's shapes drift and several are unverified. A missing or wrongly typed
  field becomes None plus a note in ``item.problems``; only a body that is not JSON, or
  has neither the envelope nor the bare ``value`` form Meta's own history sample uses,
  raises ``WebhookFormatError``.
- A message or status missing what identifies it (id, type or status, timestamp) is
  yielded as kind "unknown" with the parse attached, so consumers of kind "message" can
  rely on ``wamid``, ``type`` and ``timestamp``.
- Identities (A3): ``wamid:{phone_number_id}:{wamid}`` for messages, echoes and history
  messages (so a message seen live and again in history is one item, and an edit or
  revoke is its own event); ``status:{wamid}:{status}:{timestamp}:{recipient}`` for
  statuses; a sha256 of the phone number id, the field and the canonical JSON for
  everything else (errors carry no id of their own, so two identical errors collapse into
  one item: acceptable because the raw body stays on the record).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from onfile.channels.whatsapp.types import (
    ContactSync,
    HistoryInfo,
    InboundMessage,
    ItemKind,
    MediaRef,
    MessageContext,
    Reaction,
    StatusUpdate,
    WebhookItem,
)

__all__ = [
    "ContactSync",
    "HistoryInfo",
    "InboundMessage",
    "MediaRef",
    "MessageContext",
    "Reaction",
    "StatusUpdate",
    "WebhookFormatError",
    "WebhookItem",
    "split_webhook",
]

# Real payloads nest about 10 levels deep. Anything far deeper is not a WhatsApp webhook,
# and refusing it up front keeps canonical-JSON hashing (recursive) safe from RecursionError.
MAX_DEPTH = 64
# ProcessedItem.identity is 300 characters; a longer identity (only from absurd ids) is hashed.
MAX_IDENTITY = 256

KNOWN_FIELDS = frozenset({"messages", "smb_message_echoes", "history", "smb_app_state_sync"})
ENVELOPE_KEYS = frozenset({"messaging_product", "metadata", "contacts"})
MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
# Types without a content object of their own: nothing to complain about when it is absent.
CONTENTLESS_TYPES = frozenset({"request_welcome", "media_placeholder", "unsupported"})
PLACEHOLDER = "media_placeholder"
TIMESTAMP = re.compile(r"\d{1,12}(\.\d{1,9})?")
# A business-scoped user id: country prefix, dot, alphanumerics ("US.1349…", "US.ENT.1181…").
BSUID = re.compile(r"[A-Z]{2}(\.[A-Za-z0-9]+)+")


class WebhookFormatError(ValueError):
    """The body is not JSON, or not an object in the shape of a WhatsApp webhook."""


def split_webhook(body: bytes) -> list[WebhookItem]:
    """Every item of one webhook body, in document order."""
    doc = _load(body)
    entries, notes = _envelope(doc)
    items: list[WebhookItem] = []
    for index, entry in enumerate(entries):
        items.extend(_entry_items(entry, index, notes))
    return items


# ---- body and envelope -----------------------------------------------------------------------------------


def _load(body: bytes) -> Any:
    try:
        # utf-8-sig: Meta sends no BOM, but a tolerant reader should not reject one.
        text = bytes(body).decode("utf-8-sig")
        if "\\u0000" in text:
            # PostgreSQL cannot store NUL in text or jsonb. The captured body keeps the byte
            # exactly; the parsed copy shows U+FFFD instead.
            text = text.replace("\\u0000", "\\ufffd")
        doc = json.loads(text)
    except UnicodeDecodeError as exc:
        raise WebhookFormatError(f"the body is not UTF-8: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise WebhookFormatError(f"the body is not JSON: {exc}") from exc
    if _too_deep(doc):
        raise WebhookFormatError(f"the body is nested deeper than {MAX_DEPTH} levels")
    return doc


def _too_deep(doc: Any) -> bool:
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


def _envelope(doc: Any) -> tuple[list[Any], list[str]]:
    """The ``entry`` list and notes that apply to every item."""
    if not isinstance(doc, dict):
        raise WebhookFormatError(f"the body is JSON {_json_type(doc)}, not an object")
    entries = doc.get("entry")
    if isinstance(entries, list):
        obj = doc.get("object")
        notes = [] if obj == "whatsapp_business_account" else [f"object is {obj!r}, not 'whatsapp_business_account'"]
        return entries, notes
    if "entry" in doc:
        raise WebhookFormatError(f"entry is {_json_type(entries)}, not a list")
    # C3: Meta's sample of a declined history sync is value-level keys without the envelope.
    # Accept a bare change ({field, value}) or a bare value, and say so on every item.
    if isinstance(doc.get("field"), str) and isinstance(doc.get("value"), dict):
        return [{"changes": [doc]}], ["no envelope: the body is a bare change"]
    bare_field = _bare_value_field(doc)
    if bare_field is not None:
        return [{"changes": [{"field": bare_field, "value": doc}]}], ["no envelope: the body is a bare value"]
    raise WebhookFormatError("the body has no 'entry' list: not a WhatsApp webhook")


def _bare_value_field(doc: dict[str, Any]) -> str | None:
    """The change field a bare ``value`` belongs to, guessed from the array it carries."""
    for key, field_name in (("history", "history"), ("message_echoes", "smb_message_echoes"),
                            ("state_sync", "smb_app_state_sync"), ("messages", "messages"),
                            ("statuses", "messages"), ("errors", "messages")):
        if isinstance(doc.get(key), list):
            return field_name
    return None


# ---- reading fields tolerantly ---------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class _Reader:
    """Typed access to one JSON object; every deviation becomes a note, never an exception."""

    __slots__ = ("obj", "problems", "where")

    def __init__(self, obj: Any, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = problems
        self.obj: dict[str, Any] = obj if isinstance(obj, dict) else {}
        if obj is not None and not isinstance(obj, dict):
            problems.append(f"{where} is {_json_type(obj)}, not an object")

    def _note(self, key: str, value: Any, expected: str) -> None:
        self.problems.append(f"{self.where}.{key} is {_json_type(value)}, not {expected}")

    def text(self, key: str, required: bool = False) -> str | None:
        value = self.obj.get(key)
        if value is None:
            if required:
                self.problems.append(f"{self.where}.{key} is missing")
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            self._note(key, value, "a string (used as text)")
            return str(value)
        self._note(key, value, "a string")
        return None

    def flag(self, key: str) -> bool | None:
        value = self.obj.get(key)
        if value is None or isinstance(value, bool):
            return value
        self._note(key, value, "a boolean")
        return None

    def integer(self, key: str) -> int | None:
        value = self.obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isdigit() and len(value) < 19:
            return int(value)  # tolerated: the docs show numbers, strings would not surprise
        if value is not None:
            self._note(key, value, "an integer")
        return None

    def sub(self, key: str, required: bool = False) -> dict[str, Any] | None:
        value = self.obj.get(key)
        if isinstance(value, dict):
            return value
        if value is None:
            if required:
                self.problems.append(f"{self.where}.{key} is missing")
        else:
            self._note(key, value, "an object")
        return None

    def array(self, key: str) -> list[Any]:
        value = self.obj.get(key)
        if isinstance(value, list):
            return value
        if value is not None:
            self._note(key, value, "an array")
        return []

    def objects(self, key: str) -> list[dict[str, Any]]:
        items = self.array(key)
        kept = [i for i in items if isinstance(i, dict)]
        if len(kept) != len(items):
            self.problems.append(f"{self.where}.{key} has {len(items) - len(kept)} element(s) that are not objects")
        return kept

    def time(self, key: str, required: bool = False) -> datetime | None:
        value = self.text(key, required)
        if value is None:
            return None
        return _unix_time(value, f"{self.where}.{key}", self.problems)


def _unix_time(value: str, where: str, problems: list[str]) -> datetime | None:
    if not TIMESTAMP.fullmatch(value):
        problems.append(f"{where} {value[:40]!r} is not Unix seconds")
        return None
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (OverflowError, OSError, ValueError):
        problems.append(f"{where} {value[:40]!r} is out of range")
        return None


# ---- identities ------------------------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    # ASCII escapes make the hash independent of how Meta escaped the text, and survive lone
    # surrogates ("\ud83d" alone is valid JSON, not valid UTF-8).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _hashed(prefix: str, phone_number_id: str | None, field_name: str | None, value: Any) -> str:
    material = f"{phone_number_id or ''}\n{field_name or ''}\n{_canonical(value)}"
    # The value is ASCII-escaped; the id and field name come from the body as sent and may not be
    # (found by the fuzz test). UTF-8 equals ASCII on ASCII, so existing identities are unchanged.
    return f"{prefix}:{hashlib.sha256(material.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _bounded(identity: str) -> str:
    if len(identity) <= MAX_IDENTITY:
        return identity
    prefix = identity.split(":", 1)[0]
    return f"{prefix}:long:{hashlib.sha256(identity.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _wamid_identity(phone_number_id: str | None, wamid: str, placeholder: bool) -> str:
    # A history media_placeholder and the later history webhook with the real media share a
    # wamid (C3) [unverified]; the placeholder gets its own identity so that the real media is
    # not dropped as a duplicate of it.
    suffix = ":placeholder" if placeholder else ""
    return _bounded(f"wamid:{phone_number_id or ''}:{wamid}{suffix}")


def _status_identity(s: StatusUpdate, raw_timestamp: str) -> str:
    # Group statuses come once per member with the same group id: the member is part of the key.
    recipient = s.recipient_id or s.recipient_user_id or ""
    member = s.recipient_participant_id or s.recipient_participant_user_id
    if member:
        recipient = f"{recipient}/{member}"
    return _bounded(f"status:{s.wamid}:{s.status}:{raw_timestamp}:{recipient}")


# ---- one change ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Change:
    """What every item of one change shares."""

    field: str | None
    waba_id: str | None
    phone_number_id: str | None
    display_phone_number: str | None
    contacts: list[dict[str, Any]]
    notes: list[str]

    def item(self, kind: ItemKind, identity: str, raw: Any, problems: list[str], **parsed: Any) -> WebhookItem:
        return WebhookItem(field=self.field, kind=kind, identity=identity, raw=raw, waba_id=self.waba_id,
                           phone_number_id=self.phone_number_id, display_phone_number=self.display_phone_number,
                           problems=[*self.notes, *problems], **parsed)

    def unknown(self, raw: Any, problems: list[str], **parsed: Any) -> WebhookItem:
        identity = _bounded(_hashed("unknown", self.phone_number_id, self.field, raw))
        return self.item("unknown", identity, raw, problems, **parsed)

    def hashed(self, kind: ItemKind, raw: Any, problems: list[str], **parsed: Any) -> WebhookItem:
        return self.item(kind, _bounded(_hashed(kind, self.phone_number_id, self.field, raw)), raw, problems,
                         **parsed)

    def contact_for(self, wa_id: str | None, user_id: str | None) -> dict[str, Any] | None:
        for contact in self.contacts:
            if (wa_id and contact.get("wa_id") == wa_id) or (user_id and contact.get("user_id") == user_id):
                return contact
        return None


def _entry_items(entry: Any, index: int, notes: list[str]) -> list[WebhookItem]:
    if not isinstance(entry, dict):
        blank = _Change(None, None, None, None, [], notes)
        return [blank.unknown(entry, [f"entry[{index}] is {_json_type(entry)}, not an object"])]
    problems: list[str] = []
    reader = _Reader(entry, f"entry[{index}]", problems)
    waba_id = reader.text("id")
    changes = reader.obj.get("changes")
    if not isinstance(changes, list):
        blank = _Change(None, waba_id, None, None, [], notes)
        return [blank.unknown(entry, [*problems, f"entry[{index}].changes is {_json_type(changes)}, not an array"])]
    items: list[WebhookItem] = []
    for change in changes:
        items.extend(_change_items(change, waba_id, [*notes, *problems]))
    return items


def _change_items(change: Any, waba_id: str | None, notes: list[str]) -> list[WebhookItem]:
    problems = list(notes)
    reader = _Reader(change, "change", problems)
    field_name = reader.text("field", required=True)
    value = reader.sub("value", required=True)
    meta = _Reader(value.get("metadata") if value else None, "value.metadata", problems)
    ctx = _Change(field_name, waba_id, meta.text("phone_number_id", required=field_name in KNOWN_FIELDS),
                  meta.text("display_phone_number"), [], problems)
    if value is None or field_name not in KNOWN_FIELDS:
        if value is not None:
            problems.append(f"unknown field {field_name!r}")
        return [ctx.unknown(change, [])]
    ctx.contacts = _Reader(value, "value", problems).objects("contacts")
    items: list[WebhookItem] = []
    for key, content in value.items():
        if key in ENVELOPE_KEYS:
            continue
        handler = _ARRAYS.get(key)
        if handler is None:
            items.append(ctx.unknown({key: content}, [f"unknown key {key!r} in value"]))
        elif not isinstance(content, list):
            items.append(ctx.unknown({key: content}, [f"value.{key} is {_json_type(content)}, not an array"]))
        else:
            for element in content:
                items.extend(handler(ctx, element))
    return items


# ---- messages, echoes ------------------------------------------------------------------------------------


def _message_items(ctx: _Change, obj: Any) -> list[WebhookItem]:
    return [_message_item(ctx, obj, "message", "message")]


def _echo_items(ctx: _Change, obj: Any) -> list[WebhookItem]:
    return [_message_item(ctx, obj, "echo", "message_echo")]


def _message_item(ctx: _Change, obj: Any, kind: ItemKind, where: str,
                  history: HistoryInfo | None = None) -> WebhookItem:
    if not isinstance(obj, dict):
        return ctx.unknown(obj, [f"{where} is {_json_type(obj)}, not an object"])
    problems: list[str] = []
    m = _parse_message(obj, where, problems)
    if history is not None and m.history_status is not None:
        history = history.copy()
        history["status"] = m.history_status
    # The contact is the user: the sender of an inbound message, the recipient of an echo.
    contact = ctx.contact_for(m.to or m.from_wa_id, m.to_user_id or m.from_user_id)
    if contact is not None:
        m = replace(m, **_profile(contact, problems))
    if not m.wamid or not m.type or m.timestamp is None:  # "" is no better than missing
        problems.append(f"{where} lacks an id, a type or a valid timestamp: kept as unknown")
        return ctx.unknown(obj, problems, message=m, contact=contact, history=history)
    identity = _wamid_identity(ctx.phone_number_id, m.wamid, m.type == PLACEHOLDER)
    return ctx.item(kind, identity, obj, problems, message=m, contact=contact, history=history)


def _parse_message(obj: dict[str, Any], where: str, problems: list[str], nested: bool = False) -> InboundMessage:
    r = _Reader(obj, where, problems)
    mtype = r.text("type", required=True)
    parsed: dict[str, Any] = {}
    if mtype is not None:
        parsed = _content(r, mtype, nested)
    parsed.update(_sender(r))
    history_context = r.sub("history_context")
    if history_context is not None:
        parsed["history_status"] = _Reader(history_context, f"{where}.history_context", problems).text("status")
    return InboundMessage(
        wamid=r.text("id", required=not nested), type=mtype, timestamp=r.time("timestamp", required=not nested),
        context=_context(r.sub("context"), f"{where}.context", problems), referral=r.sub("referral"),
        errors=r.objects("errors"), identity_change=_identity_change(obj), **parsed)


def _sender(r: _Reader) -> dict[str, Any]:
    sender = r.text("from")
    user_id = r.text("from_user_id")
    # [unverified] For a user known only by a BSUID, Meta may leave "from" out or put the BSUID
    # in it. A "from" that looks like a BSUID is treated as one (a wa_id is all digits).
    if sender is not None and BSUID.fullmatch(sender):
        user_id = user_id or sender
        sender = None
    return {"from_wa_id": sender, "from_user_id": user_id, "to": r.text("to"), "to_user_id": r.text("to_user_id")}


def _profile(contact: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    profile = _Reader(contact.get("profile"), "contact.profile", problems)
    return {"profile_name": profile.text("name"), "username": profile.text("username")}


def _context(obj: dict[str, Any] | None, where: str, problems: list[str]) -> MessageContext | None:
    if obj is None:
        return None
    r = _Reader(obj, where, problems)
    frequently = r.flag("frequently_forwarded") is True
    # A message forwarded many times is a forwarded message, whether or not Meta also sets "forwarded".
    return MessageContext(reply_to=r.text("id"), reply_to_from=r.text("from"),
                          forwarded=r.flag("forwarded") is True or frequently, frequently_forwarded=frequently,
                          referred_product=r.sub("referred_product"))


def _content(r: _Reader, mtype: str, nested: bool) -> dict[str, Any]:
    """The type-specific fields of a message (the object under the key named like its type)."""
    if mtype not in KNOWN_TYPES:
        r.problems.append(f"{r.where} has an unknown type {mtype!r}")
        return {}
    body = r.obj.get(mtype)
    if body is None and mtype not in CONTENTLESS_TYPES:
        r.problems.append(f"{r.where} of type {mtype!r} has no {mtype!r} content")
        return {}
    if mtype == "contacts":
        return _contacts(r)
    content = _Reader(body, f"{r.where}.{mtype}", r.problems)
    if mtype in MEDIA_TYPES:
        return _media(content, mtype)
    if mtype == "edit":
        return _edit(content, nested)
    parser = _CONTENT.get(mtype)
    return parser(content) if parser is not None else {}


def _media(c: _Reader, kind: str) -> dict[str, Any]:
    caption = c.text("caption")
    media = MediaRef(kind=kind, id=c.text("id"), mime_type=c.text("mime_type"), sha256=c.text("sha256"),
                     filename=c.text("filename"), caption=caption, voice=c.flag("voice"),
                     animated=c.flag("animated"), url=c.text("url"))
    return {"media": media, "text": caption}


def _text(c: _Reader) -> dict[str, Any]:
    return {"text": c.text("body", required=True)}


def _location(c: _Reader) -> dict[str, Any]:
    words = [w for w in (c.text("name"), c.text("address")) if w]
    lat, lon = c.obj.get("latitude"), c.obj.get("longitude")
    if not words and isinstance(lat, int | float) and isinstance(lon, int | float):
        words = [f"{lat}, {lon}"]  # a "current location" share has no name or address
    return {"location": c.obj, "text": ", ".join(words) or None}


def _contacts(r: _Reader) -> dict[str, Any]:
    cards = r.objects("contacts")
    names = [_card_name(card) for card in cards]
    return {"contacts": cards, "text": ", ".join(n for n in names if n) or None}


def _card_name(card: dict[str, Any]) -> str | None:
    name = card.get("name")
    if isinstance(name, dict):
        formatted = name.get("formatted_name")
        if isinstance(formatted, str) and formatted:
            return formatted
        parts = [name.get(k) for k in ("first_name", "last_name")]
        joined = " ".join(p for p in parts if isinstance(p, str) and p)
        if joined:
            return joined
    phones = card.get("phones")
    if isinstance(phones, list) and phones and isinstance(phones[0], dict):
        phone = phones[0].get("phone")
        return phone if isinstance(phone, str) else None
    return None


def _interactive(c: _Reader) -> dict[str, Any]:
    itype = c.text("type", required=True)
    reply = _Reader(c.obj.get(itype) if itype else None, f"{c.where}.{itype}", c.problems)
    if itype == "nfm_reply":  # a Flow's answer: "body" is the summary line shown in the chat
        return {"interactive": c.obj, "text": reply.text("body") or reply.text("name")}
    # button_reply, list_reply, and whatever comes next with a title
    return {"interactive": c.obj, "text": reply.text("title")}


def _button(c: _Reader) -> dict[str, Any]:
    return {"button": c.obj, "text": c.text("text") or c.text("payload")}


def _reaction(c: _Reader) -> dict[str, Any]:
    emoji = c.text("emoji")
    reaction: Reaction = {"message_id": c.text("message_id", required=True), "emoji": emoji}
    return {"reaction": reaction, "text": emoji or None}


def _order(c: _Reader) -> dict[str, Any]:
    text = c.text("text")
    if not text:
        lines = []
        for item in c.objects("product_items"):
            line = f"{item.get('quantity', '?')} × {item.get('product_retailer_id', '?')}"
            if item.get("item_price") is not None:
                line += f" at {item.get('item_price')} {item.get('currency', '')}".rstrip()
            lines.append(line)
        text = "; ".join(lines) or None
    return {"order": c.obj, "text": text}


def _system(c: _Reader) -> dict[str, Any]:
    return {"system": c.obj, "text": c.text("body")}


def _unsupported(c: _Reader) -> dict[str, Any]:
    return {"unsupported_type": c.text("type")}


def _revoke(c: _Reader) -> dict[str, Any]:
    return {"revoke_of": c.text("original_message_id", required=True)}


def _edit(c: _Reader, nested: bool) -> dict[str, Any]:
    original = c.text("original_message_id", required=True)
    inner = c.sub("message", required=True)
    if inner is None or nested:
        if nested and inner is not None:
            c.problems.append(f"{c.where} is an edit inside an edit: not parsed further")
        return {"edit_of": original}
    # The new content has only {type, <type>, context?}: no id, sender or time of its own.
    edited = _parse_message(inner, f"{c.where}.message", c.problems, nested=True)
    return {"edit_of": original, "edited": edited, "text": edited.text}


_CONTENT: dict[str, Callable[[_Reader], dict[str, Any]]] = {
    "text": _text, "location": _location, "interactive": _interactive, "button": _button,
    "reaction": _reaction, "order": _order, "system": _system, "unsupported": _unsupported, "revoke": _revoke,
}
KNOWN_TYPES = frozenset({*_CONTENT, *MEDIA_TYPES, *CONTENTLESS_TYPES, "contacts", "edit"})


def _identity_change(obj: dict[str, Any]) -> dict[str, Any] | None:
    """[unverified] customer_identity_changed carries ``identity`` next to ``system`` (pywa's
    fixture); accept it inside ``system`` too."""
    found = obj.get("identity")
    if not isinstance(found, dict):
        system = obj.get("system")
        found = system.get("identity") if isinstance(system, dict) else None
    return found if isinstance(found, dict) else None


# ---- statuses, errors, state sync ------------------------------------------------------------------------


def _status_items(ctx: _Change, obj: Any) -> list[WebhookItem]:
    if not isinstance(obj, dict):
        return [ctx.unknown(obj, [f"status is {_json_type(obj)}, not an object"])]
    problems: list[str] = []
    r = _Reader(obj, "status", problems)
    s = StatusUpdate(
        wamid=r.text("id", required=True), status=r.text("status", required=True),
        timestamp=r.time("timestamp", required=True), recipient_id=r.text("recipient_id"),
        recipient_user_id=r.text("recipient_user_id"), recipient_type=r.text("recipient_type"),
        recipient_participant_id=r.text("recipient_participant_id"),
        recipient_participant_user_id=r.text("recipient_participant_user_id"),
        recipient_identity_key_hash=r.text("recipient_identity_key_hash"), errors=r.objects("errors"),
        pricing=r.sub("pricing"), conversation=r.sub("conversation"),
        biz_opaque_callback_data=r.text("biz_opaque_callback_data"))
    contact = ctx.contact_for(s.recipient_participant_id or s.recipient_id,
                              s.recipient_participant_user_id or s.recipient_user_id)
    if not s.wamid or not s.status or s.timestamp is None:
        problems.append("status lacks an id, a status or a valid timestamp: kept as unknown")
        return [ctx.unknown(obj, problems, status=s, contact=contact)]
    identity = _status_identity(s, str(obj["timestamp"]))
    return [ctx.item("status", identity, obj, problems, status=s, contact=contact)]


def _error_items(ctx: _Change, obj: Any) -> list[WebhookItem]:
    if not isinstance(obj, dict):
        return [ctx.unknown(obj, [f"error is {_json_type(obj)}, not an object"])]
    return [ctx.hashed("error", obj, [], error=obj)]


def _state_sync_items(ctx: _Change, obj: Any) -> list[WebhookItem]:
    if not isinstance(obj, dict):
        return [ctx.unknown(obj, [f"state_sync entry is {_json_type(obj)}, not an object"])]
    problems: list[str] = []
    r = _Reader(obj, "state_sync", problems)
    contact = _Reader(r.sub("contact"), "state_sync.contact", problems)
    meta = _Reader(r.sub("metadata"), "state_sync.metadata", problems)
    sync = ContactSync(type=r.text("type", required=True), action=r.text("action", required=True),
                       full_name=contact.text("full_name"), first_name=contact.text("first_name"),
                       phone_number=contact.text("phone_number"), timestamp=meta.time("timestamp"))
    return [ctx.hashed("state_sync", obj, problems, state_sync=sync)]


# ---- history ---------------------------------------------------------------------------------------------


def _history_items(ctx: _Change, chunk: Any) -> list[WebhookItem]:
    if not isinstance(chunk, dict):
        return [ctx.unknown(chunk, [f"history chunk is {_json_type(chunk)}, not an object"])]
    notes: list[str] = []
    r = _Reader(chunk, "history", notes)
    meta = _Reader(r.sub("metadata"), "history.metadata", notes)
    info: HistoryInfo = {"phase": meta.integer("phase"), "chunk_order": meta.integer("chunk_order"),
                         "progress": meta.integer("progress"), "thread_id": None, "status": None}
    chunk_ctx = _Change(ctx.field, ctx.waba_id, ctx.phone_number_id, ctx.display_phone_number, ctx.contacts,
                        [*ctx.notes, *notes])
    items: list[WebhookItem] = []
    for error in r.array("errors"):
        if isinstance(error, dict):
            items.append(chunk_ctx.hashed("history_error", error, [], error=error, history=info))
        else:
            items.append(chunk_ctx.unknown(error, [f"history error is {_json_type(error)}, not an object"]))
    for thread in r.array("threads"):
        items.extend(_thread_items(chunk_ctx, thread, info))
    if not items:
        # Nothing to yield, but the chunk still says something (e.g. progress 100): keep it.
        items.append(chunk_ctx.unknown(chunk, ["history chunk carries no messages or errors"], history=info))
    return items


def _thread_items(ctx: _Change, thread: Any, info: HistoryInfo) -> list[WebhookItem]:
    if not isinstance(thread, dict):
        return [ctx.unknown(thread, [f"history thread is {_json_type(thread)}, not an object"], history=info)]
    notes: list[str] = []
    r = _Reader(thread, "history.thread", notes)
    thread_info: HistoryInfo = {**info, "thread_id": r.text("id")}
    messages = r.array("messages")
    if not messages:
        return [ctx.unknown(thread, [*notes, "history thread has no messages"], history=thread_info)]
    thread_ctx = _Change(ctx.field, ctx.waba_id, ctx.phone_number_id, ctx.display_phone_number, ctx.contacts,
                         [*ctx.notes, *notes])
    return [_message_item(thread_ctx, m, "history_message", "history.message", thread_info) for m in messages]


_ARRAYS: dict[str, Callable[[_Change, Any], list[WebhookItem]]] = {
    "messages": _message_items, "message_echoes": _echo_items, "statuses": _status_items,
    "errors": _error_items, "history": _history_items, "state_sync": _state_sync_items,
}

