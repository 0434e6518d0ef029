"""What a transcript shows, read from the projection a chunk of messages at a time.

A chunk costs a handful of queries (attachments, reactions, statuses, revisions, quoted
messages) whatever its size, so 10,000 messages take about fifty queries, not 50,000.

Originals: a message deleted by its sender keeps its text in the projection (REQ-SEC-4), and
an edited one keeps its earlier texts as revisions. Both are shown only to the roles that
may see originals (``access.can_see_originals``); everyone else sees that the message was
deleted or edited, and nothing of what it said before (for a deleted message: no text,
location, contact or attachment).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, Max, Min

from onfile.conversations.models import (
    Attachment,
    ClientIdentity,
    Conversation,
    Message,
    MessageRevision,
    MessageStatus,
    Reaction,
)
from onfile.exports.common import (
    Seal,
    attachment_name,
    blob_problems,
    media_path,
    missing_reason,
    size_text,
    utc_text,
)

CHUNK = 1000
QUOTE_LIMIT = 300
DIRECTION_LABELS = {"in": "from the client", "out": "from the firm", "system": "system"}
# C0/C1 controls (but tab and newline) and lone surrogates: an HTML parser and a PDF font
# cannot take them; the raw capture keeps the original bytes.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean(text: str | None) -> str:
    return _UNPRINTABLE.sub("\ufffd", text or "")


@dataclass(frozen=True)
class Header:
    firm: str
    conversation_id: int
    title: str
    source: str
    provenance: list[str]
    client_name: str
    client_numbers: list[str]
    firm_number: str
    matter: str
    first_at: str
    last_at: str
    first: datetime | None
    last: datetime | None
    messages: int
    attachments: int
    generated_at: str
    generated_by: str
    originals: bool
    seal: Seal


@dataclass
class AttachmentView:
    name: str
    mime: str
    size: str
    sha256: str
    caption: str
    missing: str
    path: str


@dataclass
class MessageView:
    day: str
    time: str
    sender: str
    sender_phone: str
    direction: str
    direction_label: str
    type: str
    text: str
    deleted: bool
    edited: bool
    forwarded: bool
    withheld: bool
    seq: int
    quote: str = ""
    quote_sender: str = ""
    revisions: list[tuple[str, str]] = field(default_factory=list)
    reactions: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[AttachmentView] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def plain(self) -> bool:
        """Only the header line and the text: nearly every message. The template lays it out
        as one paragraph (each element costs WeasyPrint about as much as a line of text);
        everything else gets a block per part."""
        return not (self.deleted or self.quote or self.revisions or self.details or self.attachments
                    or self.reactions or self.statuses or self.notes)


def header(conversation: Conversation, *, firm: str, generated_at: datetime, generated_by: str, originals: bool,
           seal: Seal) -> Header:
    c = conversation
    stats = Message.objects.filter(conversation=c).aggregate(n=Count("pk"), first=Min("sent_at"), last=Max("sent_at"))
    attachments = Attachment.objects.filter(message__conversation=c)
    if not originals:
        attachments = attachments.exclude(message__deleted=True)  # withheld with their message
    numbers = client_numbers(c)
    fn = c.firm_number
    matter = c.matter
    return Header(
        firm=clean(firm or (fn.display_name if fn else "")), conversation_id=c.pk, title=clean(c.title or c.key),
        source=c.get_source_display(), provenance=_provenance(c), client_name=clean(c.client.name if c.client else ""),
        client_numbers=[clean(n) for n in numbers],
        firm_number=clean(f"{fn.number} ({fn.display_name})" if fn and fn.display_name else (fn.number if fn else "")),
        matter=clean(f"{matter.reference} — {matter.title}" if matter and matter.title else (matter.reference
                                                                                           if matter else "")),
        first_at=utc_text(stats["first"]), last_at=utc_text(stats["last"]), first=stats["first"],
        last=stats["last"], messages=stats["n"],
        attachments=attachments.count(), generated_at=utc_text(generated_at), generated_by=clean(generated_by),
        originals=originals, seal=seal)


def client_numbers(c: Conversation) -> list[str]:
    """The client's phone numbers and WhatsApp ids, and the number the conversation is with."""
    numbers: list[str] = []
    if c.client_id:
        numbers = list(ClientIdentity.objects.filter(client_id=c.client_id).exclude(kind="email")
                       .order_by("kind", "value").values_list("value", flat=True))
    if c.recipient and c.recipient not in numbers:
        numbers.append(c.recipient)
    return numbers


def _provenance(c: Conversation) -> list[str]:
    """How a device collection reached the archive (REQ-OCC-3: late-captured, and by whom)."""
    if c.source != Conversation.Source.DEVICE:
        return []
    lines = []
    if c.collected_by or c.collected_at:
        lines.append(f"collected by {c.collected_by or 'unknown'} at {utc_text(c.collected_at) or 'unknown time'}")
    if c.custodian_id:
        lines.append(f"custodian: {c.custodian}")
    if c.device:
        lines.append(f"device: {c.device}")
    return [clean(line) for line in lines]


def messages(conversation: Conversation, *, originals: bool, in_bundle: bool,
             missing: dict[int, str] | None = None) -> Iterator[MessageView]:
    """Every message in order (the JSON lines export's order: time sent, then position).

    ``missing`` maps attachment ids to why their file is not in the export, when the caller
    has read the files (the zip); otherwise blobs are checked without decrypting them.
    """
    qs = Message.objects.filter(conversation=conversation).order_by("sent_at", "position")
    last_day = ""
    batch: list[Message] = []
    for m in qs.iterator(chunk_size=CHUNK):
        batch.append(m)
        if len(batch) == CHUNK:
            for view in _chunk(conversation, batch, originals, in_bundle, missing):
                view.day, last_day = ("" if view.day == last_day else view.day), view.day
                yield view
            batch = []
    for view in _chunk(conversation, batch, originals, in_bundle, missing):
        view.day, last_day = ("" if view.day == last_day else view.day), view.day
        yield view


def _grouped(rows: Any, key: str = "message_id") -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for row in rows:
        out.setdefault(getattr(row, key), []).append(row)
    return out


def _chunk(conversation: Conversation, batch: list[Message], originals: bool, in_bundle: bool,
           missing: dict[int, str] | None) -> list[MessageView]:
    if not batch:
        return []
    ids = [m.pk for m in batch]
    attachments = _grouped(Attachment.objects.filter(message_id__in=ids).order_by("pk"))
    reactions = _grouped(Reaction.objects.filter(message_id__in=ids).order_by("at", "pk"))
    statuses = _grouped(MessageStatus.objects.filter(message_id__in=ids).order_by("at", "pk"))
    revisions = _grouped(MessageRevision.objects.filter(message_id__in=ids).order_by("at", "pk")) if originals else {}
    quoted = {q.key: q for q in Message.objects.filter(
        conversation=conversation, key__in={m.reply_to_key for m in batch if m.reply_to_key})}
    if missing is None:
        problems = blob_problems(a.blob_id for group in attachments.values() for a in group if a.blob_id)
        missing = {a.pk: missing_reason(a, problems) for group in attachments.values() for a in group}
    return [_view(m, attachments.get(m.pk, []), reactions.get(m.pk, []), statuses.get(m.pk, []),
                  revisions.get(m.pk, []), quoted, originals, in_bundle, missing) for m in batch]


def _view(m: Message, attachments: list[Attachment], reactions: list[Reaction], statuses: list[MessageStatus],
          revisions: list[MessageRevision], quoted: dict[str, Message], originals: bool, in_bundle: bool,
          missing: dict[int, str]) -> MessageView:
    at = m.sent_at.astimezone(UTC)
    withheld = m.deleted and not originals
    view = MessageView(
        day=at.strftime("%A %d %B %Y"), time=utc_text(at), sender=clean(m.sender_name) or "unknown",
        sender_phone=clean(m.sender_phone), direction=m.direction,
        direction_label=DIRECTION_LABELS.get(m.direction, m.direction), type=m.type,
        text="" if withheld else clean(m.body), deleted=m.deleted, edited=m.edited, forwarded=m.forwarded,
        withheld=withheld, seq=m.source_seq)
    if m.system_event:
        view.notes.append(f"system event: {clean(m.system_event)}")
    _quote(view, m, quoted, originals)
    view.revisions = [(f"{'before the edit' if r.kind == 'edit' else 'text when deleted'} (recorded "
                       f"{utc_text(r.at)})", clean(r.body)) for r in revisions]
    view.reactions = [_reaction(r) for r in reactions]
    view.statuses = [_status(s) for s in statuses]
    if not statuses and m.status:
        view.statuses = [clean(m.status)]
    if not withheld:
        view.details = details(m.data or {})
        if m.type in ("location", "contacts") and view.details:
            view.text = ""  # the parser's one-line summary; the details say it all
        view.attachments = [_attachment(a, m.type, in_bundle, missing.get(a.pk, "")) for a in attachments]
    view.notes += [f"import note: {clean(str(n))}" for n in (m.anomalies or [])]
    return view


def _quote(view: MessageView, m: Message, quoted: dict[str, Message], originals: bool) -> None:
    if not m.reply_to_key:
        if (m.data or {}).get("reply_to_text"):
            view.quote = _short(clean(str(m.data["reply_to_text"])))
        return
    q = quoted.get(m.reply_to_key)
    if q is None:
        text = (m.data or {}).get("reply_to_text")
        view.quote = _short(clean(str(text))) if text else "a message that is not in this conversation's record"
        return
    view.quote_sender = f"{clean(q.sender_name) or 'unknown'}, {utc_text(q.sent_at)}"
    view.quote = "(deleted message)" if q.deleted and not originals else _short(clean(q.body) or f"({q.type})")


def _short(text: str) -> str:
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1] + "…"


def _reaction(r: Reaction) -> str:
    when = f" at {utc_text(r.at)}" if r.at else ""
    if not r.emoji:
        return f"{clean(r.sender_name) or 'someone'} removed their reaction{when}"
    return f"{clean(r.emoji)} by {clean(r.sender_name) or 'someone'}{when}"


def _status(s: MessageStatus) -> str:
    text = f"{clean(s.status)} {utc_text(s.at)}"
    errors = s.error.get("errors") if isinstance(s.error, dict) else None
    for e in errors if isinstance(errors, list) else []:
        if isinstance(e, dict):
            text += f" — error {e.get('code', '')} {clean(str(e.get('title') or e.get('message') or ''))}".rstrip()
    return text


def _attachment(a: Attachment, message_type: str, in_bundle: bool, missing: str) -> AttachmentView:
    return AttachmentView(
        name=clean(attachment_name(a, message_type)), mime=clean(a.mime_type) or "unknown type",
        size=size_text(a.size), sha256=a.sha256 or "not recorded", caption=clean(a.caption), missing=missing,
        path=media_path(a, message_type) if in_bundle and not missing else "")


# ---- type-specific content, readable --------------------------------------------------------------------

def details(data: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in data.items():
        if key in ("reply_to_text",) or value in (None, "", [], {}):
            continue
        if key == "location" and isinstance(value, dict):
            out.append(("Location", _location(value)))
        elif key == "contacts" and isinstance(value, list):
            out += [("Contact card", _contact(card)) for card in value if isinstance(card, dict)]
        elif key == "via":
            out.append(("Sent from", "the WhatsApp Business app" if value == "business-app" else clean(str(value))))
        elif key == "history":
            out.append(("Captured", "from WhatsApp history sync"))
        else:
            out.append((key.replace("_", " ").capitalize(), _flat(value)))
    return out


def _location(loc: dict[str, Any]) -> str:
    words = [str(loc[k]) for k in ("name", "address") if loc.get(k)]
    lat, lon = loc.get("latitude"), loc.get("longitude")
    if lat is not None and lon is not None:
        words.append(f"latitude {lat}, longitude {lon}")
    if loc.get("url"):
        words.append(str(loc["url"]))
    return clean("; ".join(words)) or "(no coordinates)"


def _contact(card: dict[str, Any]) -> str:
    name = card.get("name") or {}
    title = name.get("formatted_name") or " ".join(
        str(name[k]) for k in ("prefix", "first_name", "middle_name", "last_name", "suffix") if name.get(k))
    parts = [title or "(no name)"]
    for key, inner in (("phones", "phone"), ("emails", "email"), ("urls", "url")):
        for item in card.get(key) or []:
            if isinstance(item, dict) and item.get(inner):
                kind = f" ({item['type'].lower()})" if item.get("type") else ""
                parts.append(f"{item[inner]}{kind}")
    org = card.get("org") or {}
    if isinstance(org, dict):
        parts += [str(org[k]) for k in ("company", "department", "title") if org.get(k)]
    for address in card.get("addresses") or []:
        if isinstance(address, dict):
            parts.append(", ".join(str(address[k]) for k in ("street", "city", "state", "zip", "country",
                                                              "country_code") if address.get(k)))
    if card.get("birthday"):
        parts.append(f"born {card['birthday']}")
    return clean("; ".join(p for p in parts if p))


def _flat(value: Any, depth: int = 0) -> str:
    """A nested dict or list as ``key: value`` text, bounded (it is context, not the record)."""
    if isinstance(value, dict):
        text = "; ".join(f"{k}: {_flat(v, depth + 1)}" for k, v in value.items() if v not in (None, "", [], {}))
    elif isinstance(value, list):
        text = ", ".join(_flat(v, depth + 1) for v in value)
    else:
        text = str(value)
    text = clean(text)
    return text if depth or len(text) <= 600 else text[:599] + "…"
