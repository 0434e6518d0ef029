"""Building the emails: RFC 5322 with ``email.message.EmailMessage`` (REQ-EML-1).

Threading: every WhatsApp message has a stable ``Message-ID`` derived from its message key, and
each email points (``In-Reply-To``/``References``) at a root id derived from the conversation
and the recipient — one thread per conversation in each recipient's mailbox, stable across
retries (a repeated delivery after a crash carries the same id, which mail clients fold into one).
The subject is the same for the whole conversation, since some clients also thread by subject.

Nothing here writes: it reads the projection and the blobs and returns bytes.
"""

from __future__ import annotations

import hashlib
import html
import mimetypes
import socket
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from django.conf import settings
from django.utils import timezone

from onfile.conversations.models import Attachment, Conversation, Message
from onfile.ledger.blobs import read_blob
from onfile.ledger.models import Entry

LOOP_HEADER = "X-Onfile-Loop"  # with our domain, on emails a reply may answer: such a "reply" is a loop (inbound.py)
NOTICES = {
    "deleted": "deleted a message",
    "failed": "did not receive our message: WhatsApp reported the delivery as failed",
}


class MediaPending(Exception):
    """An attachment is still being fetched from WhatsApp; try again shortly."""


@dataclass
class Built:
    message_id: str
    sender: str  # envelope MAIL FROM
    recipients: list[str]  # envelope RCPT TO
    data: bytes
    thread: str = ""  # what must arrive in order (a conversation's thread); delivery keeps it on one session


@dataclass
class _Part:
    filename: str
    mime_type: str
    data: bytes
    cid: str = ""


@dataclass
class _Media:
    inline: list[_Part] = field(default_factory=list)
    files: list[_Part] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)


def domain() -> str:
    return settings.EMAIL_DOMAIN or socket.getfqdn() or "localhost"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def message_id(message_key: str, notice: str = "") -> str:
    prefix = f"wa.{notice}." if notice else "wa."
    return f"<{prefix}{_digest(message_key)}@{domain()}>"


def thread_root(conversation: Conversation, recipient: str) -> str:
    return f"<wa.thread.{_digest(conversation.key + chr(10) + recipient.lower())}@{domain()}>"


def journal_id(message_key: str) -> str:
    return f"<wa.journal.{_digest(message_key)}@{domain()}>"


def envelope_sender() -> str:
    return settings.EMAIL_FROM or f"onfile@{domain()}"


def _one_line(text: str, limit: int = 200) -> str:
    """Header text: no line breaks or control characters (they would break or inject headers)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:limit]


def client_label(conversation: Conversation) -> str:
    name = conversation.client.name if conversation.client else conversation.title
    return _one_line(name or conversation.recipient or "unknown client", 120)


def subject(conversation: Conversation) -> str:
    text = f"WhatsApp: {client_label(conversation)} ({_one_line(conversation.recipient, 64) or 'no number'})"
    if conversation.matter is not None:
        text += f" — {_one_line(conversation.matter.reference, 100)}"
    return text


def conversation_url(conversation: Conversation) -> str:
    return f"{settings.PUBLIC_URL}/conversations/{conversation.pk}/"


def _when(message: Message) -> str:
    return timezone.localtime(message.sent_at).strftime("%d %b %Y %H:%M %Z")


def body_text(message: Message) -> str:
    """What the message says, for any type (a location, contacts, a caption …)."""
    if message.body:
        return message.body
    captions = [a.caption for a in message.attachments.all() if a.caption]
    if captions:
        return "\n".join(captions)
    data = message.data
    if "location" in data:
        loc = data["location"]
        where = " ".join(str(loc.get(k, "")) for k in ("name", "address") if loc.get(k))
        return f"[location {loc.get('latitude')}, {loc.get('longitude')}] {where}".strip()
    if "contacts" in data:
        names = [str((c.get("name") or {}).get("formatted_name", "")) for c in data["contacts"]]
        return "[contact card] " + ", ".join(n for n in names if n)
    return f"[{message.type}]"


def _quoted(message: Message) -> Message | None:
    if not message.reply_to_key:
        return None
    return Message.objects.filter(key=message.reply_to_key).first()


def _sender(message: Message) -> str:
    if message.direction == Message.Direction.IN:
        return message.sender_name or message.sender_phone or "the client"
    return message.sender_name or "the firm"


def _filename(attachment: Attachment, index: int) -> str:
    if attachment.filename:
        return attachment.filename
    base = attachment.mime_type.split(";", 1)[0].strip()
    return f"{attachment.message.type}-{index}{mimetypes.guess_extension(base) or '.bin'}"


def _media(message: Message, limit: int | None, *, wait: bool) -> _Media:
    """The message's files: inline images, attachments, or links above ``limit`` bytes."""
    out = _Media()
    # .all() and a sort rather than order_by(): uses the batch's prefetched attachments (delivery.py).
    for n, attachment in enumerate(sorted(message.attachments.all(), key=lambda a: a.pk), start=1):
        name = _filename(attachment, n)
        url = f"{settings.PUBLIC_URL}/media/{attachment.pk}"
        if attachment.blob_id is None:
            if attachment.placeholder == "not-fetched" and wait:
                raise MediaPending(f"{message.key}: {name} is not fetched yet")
            out.links.append((f"{name} (not available here: {attachment.placeholder or 'missing'})",
                              conversation_url(message.conversation)))
            continue
        if limit is not None and (attachment.size or 0) > limit:
            out.links.append((f"{name} ({(attachment.size or 0) // 1024} KB, above the email size limit)", url))
            continue
        mime = attachment.mime_type.split(";", 1)[0].strip().lower() or "application/octet-stream"
        if mime.split("/", 1)[0] in ("multipart", "message") or "/" not in mime:
            mime = "application/octet-stream"
        part = _Part(name, mime, read_blob(attachment.blob_id))
        if mime.startswith("image/") and mime != "image/svg+xml":
            part.cid = f"<img{n}.{_digest(message.key)}@{domain()}>"
            out.inline.append(part)
        else:
            out.files.append(part)
    return out


def _texts(message: Message, media: _Media, headline: str) -> tuple[str, str]:
    quoted = _quoted(message)
    url = conversation_url(message.conversation)
    lines = [headline, ""]
    if quoted is not None:
        lines += [f"> {line}" for line in f"{_sender(quoted)}: {body_text(quoted)}".splitlines()] + [""]
    lines.append(body_text(message))
    files = [p.filename for p in media.inline + media.files]
    if files:
        lines += ["", "Attached: " + ", ".join(files)]
    lines += [f"{label}: {link}" for label, link in media.links]
    lines += ["", f"Open the conversation in onfile: {url}"]
    text = "\n".join(lines) + "\n"

    e = html.escape
    parts = [f"<p style=\"color:#555\">{e(headline)}</p>"]
    if quoted is not None:
        parts.append(f"<blockquote style=\"border-left:3px solid #ccc;margin:0 0 1em;padding-left:.6em;color:#555\">"
                     f"<b>{e(_sender(quoted))}</b><br>{e(body_text(quoted)).replace(chr(10), '<br>')}</blockquote>")
    parts.append(f"<p>{e(body_text(message)).replace(chr(10), '<br>')}</p>")
    parts += [f"<p><img src=\"cid:{p.cid[1:-1]}\" alt=\"{e(p.filename)}\" style=\"max-width:100%\"></p>"
              for p in media.inline]
    if media.files:
        parts.append("<p>Attached: " + ", ".join(e(p.filename) for p in media.files) + "</p>")
    parts += [f"<p><a href=\"{e(link)}\">{e(label)}</a></p>" for label, link in media.links]
    parts.append(f"<p style=\"color:#555\"><a href=\"{e(url)}\">Open the conversation in onfile</a></p>")
    page = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">"
            + "\n".join(parts) + "</body></html>\n")
    return text, page


def _assemble(msg: EmailMessage, text: str, page: str, media: _Media) -> None:
    msg.set_content(text)
    msg.add_alternative(page, subtype="html")
    if media.inline:
        html_part = msg.get_payload()[1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        for part in media.inline:
            maintype, subtype = part.mime_type.split("/", 1)
            html_part.add_related(part.data, maintype, subtype, cid=part.cid, filename=part.filename,
                                  disposition="inline")
    for part in media.files:
        maintype, subtype = part.mime_type.split("/", 1)
        msg.add_attachment(part.data, maintype, subtype, filename=part.filename)


def _common(msg: EmailMessage, message: Message, message_id_: str, root: str, parent: str = "") -> None:
    msg["Subject"] = subject(message.conversation)
    msg["Date"] = format_datetime(message.sent_at)
    msg["Message-ID"] = message_id_
    msg["In-Reply-To"] = parent or root
    msg["References"] = f"{root} {parent}" if parent else root
    msg["Auto-Submitted"] = "auto-generated"
    msg["Precedence"] = "bulk"


def reply_headers(msg: EmailMessage, conversation: Conversation, to: str) -> None:
    """Replies by email (inbound.py): a Reply-To with a reply token for ``to``, and our loop header.
    Only when ONFILE_EMAIL_REPLY_DOMAIN is set."""
    if settings.EMAIL_REPLY_DOMAIN:
        from onfile.channels.email.tokens import reply_address

        msg["Reply-To"] = reply_address(conversation, to)
        msg[LOOP_HEADER] = domain()


def forward(message: Message, to: str, notice: str = "", *, wait_for_media: bool = True) -> Built:
    """The email to a member of staff (or a team mailbox) about one message."""
    conversation = message.conversation
    limit = settings.EMAIL_MAX_ATTACHMENT_MB * 1024 * 1024
    media = _Media() if notice else _media(message, limit, wait=wait_for_media)
    when = _when(message)
    if notice:
        headline = f"{client_label(conversation)} {NOTICES[notice]} ({when}). The message was:"
    else:
        headline = f"{_sender(message)} wrote on {when}:"
    text, page = _texts(message, media, headline)
    msg = EmailMessage(policy=policy.default)
    msg["From"] = Address(display_name=f"{client_label(conversation)} via WhatsApp", addr_spec=envelope_sender())
    msg["To"] = to
    reply_headers(msg, conversation, to)
    own_id = message_id(message.key, notice)
    _common(msg, message, own_id, thread_root(conversation, to), message_id(message.key) if notice else "")
    _assemble(msg, text, page, media)
    return Built(own_id, envelope_sender(), [to], msg.as_bytes(policy=policy.SMTP), thread_root(conversation, to))


# ---- journaling (compliance.md §2.5) ------------------------------------------------------------------


def _pseudo(phone: str, display: str) -> Address:
    """WhatsApp participants have no email address: the archive indexes them by number."""
    local = "".join(c for c in phone if c.isdigit()) or "unknown"
    return Address(display_name=_one_line(display, 120), addr_spec=f"{local}@whatsapp.{domain()}")


def _staff_address(actor: str) -> Address | None:
    from onfile.accounts.models import User

    kind, _, pk = actor.partition(":")
    if kind != "user" or not pk.isdigit():
        return None
    user = User.objects.filter(pk=int(pk)).first()
    return Address(display_name=_one_line(user.name, 120), addr_spec=user.email) if user else None


def _participants(message: Message, actor: str) -> tuple[Address, list[Address]]:
    conversation = message.conversation
    number = conversation.firm_number
    firm = _pseudo(number.number if number else "", (number.display_name or number.number) if number else "firm")
    client = _pseudo(conversation.recipient, client_label(conversation))
    if message.direction == Message.Direction.IN:
        to = [firm]
        if conversation.assignee is not None:
            to.append(Address(addr_spec=conversation.assignee.email))
        return client, to
    # The staff member who sent it is the actor of the entry that recorded the send.
    return _staff_address(actor) or firm, [client]


def journal(message: Message, *, wait_for_media: bool = True) -> Built:
    """One message as an EML for the firm's archive, with the archive X-headers (REQ-EML-4)."""
    conversation = message.conversation
    entry = Entry.objects.get(seq=message.source_seq)
    media = _media(message, None, wait=wait_for_media)
    direction = "from the client" if message.direction == Message.Direction.IN else "to the client"
    text, page = _texts(message, media, f"{_sender(message)}, {direction}, on {_when(message)}:")
    msg = EmailMessage(policy=policy.default)
    sender, to = _participants(message, entry.actor)
    msg["From"] = sender
    msg["To"] = to
    own_id = journal_id(message.key)
    _common(msg, message, own_id, f"<wa.journal.thread.{_digest(conversation.key)}@{domain()}>")
    msg["X-Archive-Source"] = "whatsapp"
    msg["X-Archive-Direction"] = "inbound" if message.direction == Message.Direction.IN else "outbound"
    msg["X-Archive-Thread-Id"] = f"conversation:{conversation.pk}"
    msg["X-Archive-Record-Ids"] = message.key
    msg["X-Archive-Leaf-Index"] = str(entry.seq)
    msg["X-Archive-Sha256"] = entry.leaf_hash
    _assemble(msg, text, page, media)
    # Archives read the X-headers by machine: no folding (RFC 5322's hard limit is 998), since a
    # record id longer than a 78-character line would otherwise be folded before its first character.
    return Built(own_id, envelope_sender(), [settings.JOURNAL_ADDRESS],
                 msg.as_bytes(policy=policy.SMTP.clone(max_line_length=998)), message.conversation.key)
