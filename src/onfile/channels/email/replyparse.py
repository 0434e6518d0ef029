"""Reading a reply email: what staff wrote, its attachments, whether it is automatic, who vouches for it.

The parsing layer of "replies by email" (issue 6): ``inbound.py`` stores the raw bytes first
(ARCHITECTURE 1), then calls ``parse_reply`` — which is pure (no database, no I/O) and can be
re-run on the stored bytes at any time, so what was received can always be re-created and
re-read (REQ-SEC-4). Bytes that are not an email at all raise
``MalformedEmail``; everything else parses, with what was odd listed in ``defects``.

- **MIME**: Python's ``email`` package with ``policy.default``. Any charset: the declared one,
  read the way mail clients and browsers read it (iso-8859-1 as windows-1252, gb2312 as GB18030,
  ks_c_5601-1987 as cp949, …); an unknown or wrong one falls back to UTF-8, else windows-1252
  with every byte kept, and says so in ``defects``. ``format=flowed`` is joined (RFC 3676).
- **Text**: text/plain is preferred; HTML only when there is no (non-blank) text/plain, converted
  by ``replytext.html_to_text``. ``text`` is what the person newly wrote (``replytext.split_reply``:
  quoted history and signature removed), ``full_text`` the whole body.
- **Attachments** — the rule: every part with ``Content-Disposition: attachment`` and every inline
  non-text part is an attachment, an attached email (message/rfc822) as ``<subject>.eml``, and
  winmail.dat (application/ms-tnef) as it is (its contents are not unpacked) — except images that
  are decoration: (1) an image whose Content-ID the HTML references only from the signature or
  the quoted history (Outlook's image001.png logo, an image in the client's quoted message) is
  never an attachment, whatever its disposition; (2) an inline image of at most 64×64 pixels (or
  under 1 KiB when its size cannot be read) is not one either (icons, tracking pixels). An image
  referenced from the new text (a pasted photo) is an attachment.
- **Automatic mail** (``auto_reply``, never to reach a client): RFC 3834 ``Auto-Submitted`` other
  than "no", ``X-Autoreply``/``X-Autorespond``, ``Precedence: bulk|junk|list|auto_reply``,
  ``List-Id``/``List-Unsubscribe``, a null or MAILER-DAEMON/postmaster sender, ``multipart/report``
  (delivery status, read receipts), ``X-Loop``, onfile's own ``X-Onfile-Loop``, and Exchange/Outlook
  out-of-office subjects in several languages. ``X-Auto-Response-Suppress`` alone is NOT a sign:
  Outlook puts it on ordinary mail. onfile's own emails carry ``Auto-Submitted: auto-generated``
  and ``Precedence: bulk`` (compliance.md §2.5, ``compose._common``), so one that comes back is
  caught too.
- **Authentication-Results** (RFC 8601) from every such header, topmost first, parsed with
  ``authres``; Microsoft 365's form without an authserv-id is read too (``authserv_id`` ""). A header
  that cannot be read is skipped with a defect; ``header_index`` keeps each verdict's position, so a
  skipped header never makes a lower (sender-supplied) one look like the topmost.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import mimetypes
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.errors import InvalidBase64LengthDefect, MessageDefect
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from io import BytesIO
from typing import cast

import authres

from onfile.channels.email import replytext


class MalformedEmail(ValueError):
    """The bytes cannot be read as an email at all; the message says why."""


@dataclass(frozen=True)
class Attachment:
    filename: str  # decoded, no path parts, never empty
    mime_type: str  # lower case
    data: bytes
    content_id: str = ""  # without <>, "" if none
    inline: bool = False  # shown in the body (a pasted photo) rather than attached


@dataclass(frozen=True)
class AuthVerdict:
    authserv_id: str  # "" when the header has none (Microsoft 365 writes it that way)
    method: str  # spf, dkim, dmarc, arc, compauth, … (lower case)
    result: str  # pass, fail, softfail, none, … (lower case)
    domain: str  # the domain the result is about ("" if the method names none)
    header_index: int = 0  # which Authentication-Results header (0 = topmost) this came from
    reason: str = ""
    properties: tuple[tuple[str, str], ...] = ()  # ("header.from", "firm.example"), …


@dataclass(frozen=True)
class ParsedReply:
    message_id: str
    from_address: str
    from_name: str
    reply_to_addresses: list[str]
    recipients: list[str]
    subject: str
    in_reply_to: str
    references: list[str]
    text: str
    full_text: str
    attachments: list[Attachment]
    auto_reply: str
    auth_results: list[AuthVerdict]
    defects: list[str]
    interleaved: bool = False  # the reply answers between quoted lines; ``text`` keeps those lines as "> "
    date: datetime | None = None
    html: bool = False  # ``text``/``full_text`` came from the HTML part (there was no text/plain)


# Header fields of which an email has at least one (bytes with none of them are not an email).
_KNOWN_HEADERS = {
    "from", "to", "cc", "subject", "date", "message-id", "received", "return-path", "delivered-to",
    "x-original-to", "mime-version", "content-type", "in-reply-to", "references", "reply-to", "sender",
    "authentication-results", "dkim-signature", "x-mailer", "user-agent",
}
_MAX_DEPTH = 40  # MIME nesting we follow
_MAX_AUTH_HEADER = 8192
_TINY_PX = 64
_TINY_BYTES = 1024
# How mail clients and browsers read declared charsets (WHATWG Encoding labels), where Python differs.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
    "ascii": "cp1252", "ansi_x3.4-1968": "cp1252", "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "euc-cn": "gb18030", "cn-gb": "gb18030", "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "shift_jis": "cp932",
    "x-sjis": "cp932", "sjis": "cp932", "iso-8859-8-i": "iso-8859-8", "iso-8859-9": "cp1254", "tis-620": "cp874",
    "iso-8859-11": "cp874", "big5": "big5hkscs", "x-mac-roman": "mac-roman", "iso-2022-jp": "iso2022_jp_ext",
    "cp-850": "cp850", "x-unicode-2-0-utf-7": "utf-7", "unicode-1-1-utf-7": "utf-7", "utf8": "utf-8",
}
# windows-1252 bytes 0x80–0x9F; the five it leaves undefined keep their latin-1 meaning (lossless).
_CP1252_HIGH = {b: bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xA0)}
_CP1252_TABLE = str.maketrans({chr(b): c for b, c in _CP1252_HIGH.items()})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MSGID = re.compile(r"<([^<>\s]*)>")
_OUT_OF_OFFICE = re.compile(
    r"^\s*(?:Automatic reply|Auto(?:matic)?[- ]?reply|Autoreply|Auto-Response|Out of (?:the )?Office(?: AutoReply)?|"
    r"Abwesenheitsnotiz|Automatische Antwort|Réponse automatique|Respuesta automática|Risposta automatica|"
    r"Automatisch antwoord|Resposta automática|Autosvar|Automatisk svar|Odpowiedź automatyczna)\s?:", re.I)
_NULL_SENDERS = {"mailer-daemon", "postmaster"}


def parse_reply(raw: bytes, *, envelope_sender: str | None = None) -> ParsedReply:
    """Parse one received email (the exact bytes stored). ``envelope_sender``: the SMTP MAIL FROM,
    when known — "" (the null reverse-path of bounces and auto-replies) marks the mail automatic."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError("parse_reply takes the raw bytes of an email")
    raw = bytes(raw)
    _check_looks_like_email(raw)
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the parser is meant never to raise; if it does, the input is unusable
        raise MalformedEmail(f"the email parser could not read it: {exc}") from exc
    names = {name.lower() for name in msg}
    if not names:
        raise MalformedEmail("no header fields: this is not an email")
    if not names & _KNOWN_HEADERS:
        raise MalformedEmail("none of the header fields an email has (From, To, Subject, Date, Message-ID, …): "
                             "this is not an email")

    defects: list[str] = []
    senders = _addresses(msg, "From", defects)
    from_name, from_address = senders[0] if senders else ("", "")
    recipients: list[str] = []
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        for _, address in _addresses(msg, name, defects):
            if address and address not in recipients:
                recipients.append(address)
    reply_to = list(dict.fromkeys(a for _, a in _addresses(msg, "Reply-To", defects) if a))

    body = _Body()
    _collect_body(msg, body, defects, 0)
    html_marked = ""
    html_split = None
    if body.html is not None:
        html_marked = replytext.html_to_text(body.html, marks=True, problems=defects)
        body.html = None  # not needed any more (a large body need not be held twice)
        html_split = replytext.split_reply(html_marked)
    use_html = not (body.plain and body.plain.strip()) and html_split is not None and bool(html_marked.strip())
    if use_html and html_split is not None:
        full_text = replytext.unmark(html_marked)
        split = html_split
    else:
        plain = _clean_text(body.plain or "")
        body.plain = None
        full_text = plain.strip("\n")
        split = replytext.split_reply(plain, signature_hint=replytext.signature_hint(html_marked))
        del plain
    if html_split is not None:
        new_cids = replytext.cids_in(html_split.marked)
        all_cids = replytext.cids_in(html_marked)
    else:
        new_cids, all_cids = set(), set()
    del html_marked, html_split

    attachments: list[Attachment] = []
    _collect_attachments(msg, body.parts, new_cids, all_cids, attachments, defects, 0, raw)
    _collect_defects(msg, "message", defects, 0)  # last: decoding a part adds to its defects

    return ParsedReply(
        message_id=_first_id(_raw_header(msg, "Message-ID")),
        from_address=from_address,
        from_name=from_name,
        reply_to_addresses=reply_to,
        recipients=recipients,
        subject=_header(msg, "Subject", defects),
        in_reply_to=_first_id(_raw_header(msg, "In-Reply-To")),
        references=_all_ids(_raw_header(msg, "References")),
        text=split.text,
        full_text=full_text,
        attachments=attachments,
        auto_reply=_auto_reply(msg, from_address, envelope_sender, defects),
        auth_results=_auth_results(msg, defects),
        defects=defects,
        interleaved=split.interleaved,
        date=_date(msg, defects),
        html=use_html,
    )


def _check_looks_like_email(raw: bytes) -> None:
    if not raw.strip():
        raise MalformedEmail("the email is empty")
    head = raw.lstrip(b"\r\n")
    end = min((i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0), default=len(head))
    header_block = head[:end]
    if b"\x00" in header_block:
        raise MalformedEmail("the header section holds binary data (NUL bytes): this is not an email")
    first = header_block.split(b"\n", 1)[0]
    if not re.match(rb"^(?:From |[!-9;-~]+[ \t]*:)", first):
        raise MalformedEmail("it does not start with a header field (Name: value): this is not an email")


# ---- headers ------------------------------------------------------------------------------------


def _fix(text: str) -> str:
    """Undo the parser's surrogate escapes of raw 8-bit header bytes (UTF-8, else windows-1252)."""
    if not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    data = text.encode("utf-8", errors="surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _cp1252(data)


def _cp1252(data: bytes) -> str:
    return data.decode("latin-1").translate(_CP1252_TABLE)


def _raw_header(msg: Message, name: str) -> str:
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return _fix(re.sub(r"\r?\n", "", str(value)))
    return ""


_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=(?:\s+(?==\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=))?")


def _decode_words(value: str) -> str:
    """RFC 2047 encoded-words decoded, also amid raw 8-bit text (which ``email.header`` mangles)."""
    def one(match: re.Match[str]) -> str:
        word = match.group(0).rstrip()
        try:
            return str(make_header(decode_header(word)))
        except Exception:  # an undecodable encoded-word: keep it as it came
            return word
    try:
        return _ENCODED_WORD.sub(one, value)
    except Exception:
        return value


def _header(msg: Message, name: str, defects: list[str]) -> str:
    raw = _raw_header(msg, name)
    if raw.isascii():
        try:
            value = msg.get(name)
            text = "" if value is None else str(value)
        except Exception as exc:
            defects.append(f"{name} could not be read ({exc}); taken as written")
            text = _decode_words(raw)
    else:  # raw 8-bit bytes: UTF-8 or windows-1252 (``_fix``), with any encoded-words among them
        text = _decode_words(raw)
    return " ".join(_CONTROL.sub(" ", text).split())


def _addresses(msg: Message, name: str, defects: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-cased addr-spec) of every address in every ``name`` header."""
    out: list[tuple[str, str]] = []
    try:
        values = msg.get_all(name) or []
        for value in values:
            for address in getattr(value, "addresses", ()):
                spec = _fix(address.addr_spec).strip().lower()
                out.append((_fix(address.display_name).strip(), spec))
    except Exception as exc:
        defects.append(f"{name} could not be parsed ({exc}); read leniently")
        out = []
        raw = [_fix(re.sub(r"\r?\n", "", str(v))) for k, v in msg.raw_items() if k.lower() == name.lower()]
        for display, spec in getaddresses(raw):
            out.append((_decode_words(display).strip(), spec.strip().lower()))
    return [(display, spec) for display, spec in out if spec and spec != "<>"] or (
        [(display, "") for display, spec in out[:1]] if out else [])


def _first_id(value: str) -> str:
    ids = _all_ids(value)
    return ids[0] if ids else ""


def _all_ids(value: str) -> list[str]:
    found = [m for m in _MSGID.findall(value) if m]
    if not found:
        found = [token.strip("<>") for token in value.split() if token.strip("<>")]
    return list(dict.fromkeys(found))


def _date(msg: Message, defects: list[str]) -> datetime | None:
    value = _raw_header(msg, "Date").strip()
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append(f"the Date header could not be read: {value[:80]!r}")
        return None


def _collect_defects(part: Message, where: str, defects: list[str], depth: int) -> None:
    """The email package's defects of every part (and of its header fields), in plain words."""
    for defect in getattr(part, "defects", []):
        defects.append(_defect_text(where, defect))
    for key in part:
        try:
            header = part.get(key)
        except Exception as exc:
            defects.append(f"{where}, header {key}: could not be read ({exc})")
            continue
        for defect in getattr(header, "defects", ()):
            defects.append(_defect_text(f"{where}, header {key}", defect))
    if depth < _MAX_DEPTH:
        for number, child in enumerate(_children(part), start=1):
            label = f"part {number}" if where == "message" else f"{where}.{number}"
            _collect_defects(child, f"{label} ({_content_type(child)})" if "(" not in label else label, defects,
                             depth + 1)


def _defect_text(where: str, defect: MessageDefect) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(defect).__name__.removesuffix("Defect")).lower()
    detail = str(defect)
    return f"{where}: {words}" + (f" ({detail})" if detail and detail.lower() != words else "")


# ---- body ---------------------------------------------------------------------------------------


@dataclass
class _Body:
    plain: str | None = None
    html: str | None = None
    parts: set[int] = field(default_factory=set)  # id() of the parts read as body


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def _filename_raw(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    return _fix(name) if name else ""


def _is_body_text(part: Message) -> bool:
    return (_content_type(part) in ("text/plain", "text/html") and _disposition(part) != "attachment"
            and not _filename_raw(part))


def _collect_body(part: Message, body: _Body, defects: list[str], depth: int) -> None:
    """Fill ``body`` with the text and HTML a mail client would show."""
    if depth > _MAX_DEPTH:
        defects.append("MIME parts nested too deep; the deeper ones were not read")
        return
    ctype = _content_type(part)
    if part.is_multipart() and ctype.startswith("multipart/"):
        children = [c for c in _children(part)]
        if ctype == "multipart/alternative":
            found = []
            for child in children:
                sub = _Body()
                _collect_body(child, sub, defects, depth + 1)
                found.append(sub)
            plains = [s for s in found if s.plain and s.plain.strip()]
            htmls = [s for s in found if s.html is not None]
            if plains:
                _merge(body, plains[0], html=False)
            if htmls:
                _merge(body, htmls[-1], plain=False)
            return
        if ctype == "multipart/related":
            root = _related_root(part, children)
            if root is not None:
                _collect_body(root, body, defects, depth + 1)
            return
        if ctype in ("multipart/signed", "multipart/report"):
            children = children[:1]
        if ctype == "multipart/encrypted":
            defects.append("the message is encrypted (multipart/encrypted): its text cannot be read")
            return
        for child in children:  # multipart/mixed and the rest: the inline text parts in order
            if _content_type(child).startswith("multipart/") or _is_body_text(child):
                sub = _Body()
                _collect_body(child, sub, defects, depth + 1)
                _merge(body, sub)
        return
    if _is_body_text(part):
        text = _decode_text(part, defects)
        body.parts.add(id(part))
        if ctype == "text/html":
            body.html = text
        else:
            try:
                flowed = (part.get_param("format") or "").lower() == "flowed"  # type: ignore[union-attr]
                delsp = (part.get_param("delsp") or "").lower() == "yes"  # type: ignore[union-attr]
            except Exception:
                flowed = delsp = False
            body.plain = replytext.unflow(text.replace("\r\n", "\n"), delsp) if flowed else text


def _merge(body: _Body, sub: _Body, plain: bool = True, html: bool = True) -> None:
    """Append ``sub`` (a later part of a multipart/mixed, or the chosen alternative) to ``body``."""
    if plain and (sub.plain is not None or (sub.html is not None and body.plain is not None)):
        piece = sub.plain if sub.plain is not None else replytext.html_to_text(sub.html or "")
        body.plain = piece if body.plain is None else body.plain.rstrip("\n") + "\n\n" + piece
    if html and (sub.html is not None or (sub.plain is not None and body.html is not None)):
        piece = sub.html if sub.html is not None else "<pre>" + _escape(sub.plain or "") + "</pre>"
        body.html = piece if body.html is None else body.html + "\n" + piece
    body.parts |= sub.parts


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _related_root(part: Message, children: list[Message]) -> Message | None:
    try:
        start = part.get_param("start")
    except Exception:
        start = None
    if isinstance(start, str) and start.strip():
        for child in children:
            if (child.get("Content-ID") or "").strip() == start.strip():
                return child
    return children[0] if children else None


def _payload(part: Message, defects: list[str]) -> bytes:
    """The decoded bytes of a leaf part. Base64 of a wrong length (which the email package hands
    back undecoded) is decoded as far as it goes."""
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        defects.append(f"a {_content_type(part)} part could not be decoded ({exc}); kept as it is")
        payload = part.get_payload()
        return payload.encode("utf-8", errors="surrogateescape") if isinstance(payload, str) else b""
    if not isinstance(data, bytes):
        return b""
    if any(isinstance(d, InvalidBase64LengthDefect) for d in getattr(part, "defects", ())):
        payload = part.get_payload()
        if isinstance(payload, str):
            cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
            cleaned = cleaned[: len(cleaned) - len(cleaned) % 4] if len(cleaned) % 4 == 1 else cleaned
            with contextlib.suppress(ValueError, binascii.Error):
                data = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    return data


def _decode_text(part: Message, defects: list[str]) -> str:
    data = _payload(part, defects)
    try:
        declared = (part.get_content_charset() or "").strip().strip('"').lower()
    except Exception:
        declared = ""
    if not declared and _content_type(part) == "text/html":
        meta = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_.:-]+)", data[:4096], re.I)
        declared = meta.group(1).decode("ascii").lower() if meta else ""
    return _CONTROL.sub("", _decode_bytes(data, declared, defects))


def _decode_bytes(data: bytes, declared: str, defects: list[str]) -> str:
    if not declared:
        if data.isascii():
            return data.decode("ascii")
        declared = "us-ascii"
    codec = _CHARSET_ALIASES.get(declared, declared)
    try:
        codecs.lookup(codec)
    except LookupError:
        return _fallback(data, f"unknown charset {declared!r}", defects)
    if declared in ("us-ascii", "ascii", "ansi_x3.4-1968") and not data.isascii():
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return _cp1252(data)
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        pass
    except Exception:  # some codecs raise other errors on malformed input
        return _fallback(data, f"text not valid in its charset {declared!r}", defects)
    if codec in ("utf-8", "utf8"):
        defects.append("text not valid in its charset 'utf-8': the bad bytes were replaced")
        return data.decode("utf-8", errors="replace")
    try:
        text = data.decode(codec, errors="replace")
    except Exception:
        return _fallback(data, f"text not valid in its charset {declared!r}", defects)
    defects.append(f"text not valid in its charset {declared!r}: the bad bytes were replaced")
    return text


def _fallback(data: bytes, why: str, defects: list[str]) -> str:
    try:
        text = data.decode("utf-8")
        defects.append(f"{why}: read as UTF-8")
    except UnicodeDecodeError:
        text = _cp1252(data)
        defects.append(f"{why}: read as windows-1252")
    return text


def _clean_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---- attachments --------------------------------------------------------------------------------


def _collect_attachments(part: Message, body_parts: set[int], new_cids: set[str], all_cids: set[str],
                         out: list[Attachment], defects: list[str], depth: int, raw: bytes) -> None:
    if depth > _MAX_DEPTH:
        return
    ctype = _content_type(part)
    if ctype in ("message/delivery-status", "message/disposition-notification", "text/rfc822-headers",
                 "message/feedback-report"):
        return  # the machine-readable half of a report: the report itself is auto_reply
    if ctype == "message/rfc822" or (ctype.startswith("message/") and part.is_multipart()
                                     and ctype not in ("message/partial", "message/external-body")):
        out.append(_attached_email(part, len(out) + 1, defects, raw))
        return
    if part.is_multipart():
        for child in _children(part):
            _collect_attachments(child, body_parts, new_cids, all_cids, out, defects, depth + 1, raw)
        return
    if id(part) in body_parts:
        return
    disposition = _disposition(part)
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not _filename_raw(part):
        return  # an alternative we did not choose
    data = _payload(part, defects)
    cid = _content_id(part)
    if ctype.startswith("image/"):
        if cid and cid in all_cids and cid not in new_cids:
            return  # a signature logo or an image of the quoted history
        if disposition != "attachment" and _tiny(data):
            return
    out.append(Attachment(
        filename=_filename(part, ctype, len(out) + 1),
        mime_type=ctype,
        data=data,
        content_id=cid,
        inline=bool(cid and cid in new_cids),
    ))


def _content_id(part: Message) -> str:
    try:
        value = part.get("Content-ID")
    except Exception:
        return ""
    return _fix(str(value or "")).strip().strip("<>").strip().lower()


def _attached_email(part: Message, index: int, defects: list[str], raw: bytes) -> Attachment:
    inner = _children(part)
    data = b""
    subject = ""
    if inner:
        linesep = "\r\n" if b"\r\n" in raw[:4096] else "\n"
        buffer = BytesIO()
        try:
            BytesGenerator(buffer, mangle_from_=False,
                           policy=policy.default.clone(refold_source="none", linesep=linesep)).flatten(
                cast(EmailMessage, inner[0]))
            data = buffer.getvalue()
        except Exception as exc:
            defects.append(f"an attached email could not be written out ({exc})")
        try:
            subject = _fix(str(inner[0].get("Subject") or ""))
        except Exception:
            subject = _decode_words(_raw_header(inner[0], "Subject"))
    name = _sanitise(subject) if subject.strip() else ""
    if not name:
        name = _sanitise(_filename_raw(part)).removesuffix(".eml") or f"message-{index}"
    return Attachment(filename=name[:150] + ".eml", mime_type="message/rfc822", data=data)


def _filename(part: Message, mime_type: str, index: int) -> str:
    name = _filename_raw(part)
    if "=?" in name:
        name = _decode_words(name)
    name = _sanitise(name)
    if name:
        return name
    extension = {"image/jpeg": ".jpg", "text/plain": ".txt", "application/octet-stream": ".bin",
                 "message/rfc822": ".eml", "application/ms-tnef": ".dat"}.get(mime_type)
    if extension is None:
        extension = mimetypes.guess_extension(mime_type, strict=False) or ".bin"
    kind = mime_type.split("/", 1)[0]
    return f"{kind if kind in ('image', 'audio', 'video', 'text') else 'attachment'}-{index}{extension}"


def _sanitise(name: str) -> str:
    """A file name without path parts, control characters or characters Windows forbids."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "_", name)
    name = " ".join(name.split()).strip(" .")
    if len(name) > 150:
        stem, dot, extension = name.rpartition(".")
        name = (stem[:140] + "." + extension[:9]) if dot and len(extension) <= 9 else name[:150]
    return "" if name in ("", ".", "..") else name


def _tiny(data: bytes) -> bool:
    size = _image_size(data)
    if size is None:
        return len(data) < _TINY_BYTES
    return size[0] <= _TINY_PX and size[1] <= _TINY_PX


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, GIF or JPEG header; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data) and i < 1 << 20:
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            i += 2 + length
    return None


# ---- automatic mail -----------------------------------------------------------------------------


def _auto_reply(msg: Message, from_address: str, envelope_sender: str | None, defects: list[str]) -> str:
    """Why this email is automatic, or "" (the first reason found)."""
    for reason in _auto_reasons(msg, from_address, envelope_sender, defects):
        return reason
    return ""


def _auto_reasons(msg: Message, from_address: str, envelope_sender: str | None,
                  defects: list[str]) -> Iterator[str]:
    def value(name: str) -> str:
        return " ".join(_raw_header(msg, name).split())

    names = {name.lower() for name in msg}
    if "x-onfile-loop" in names:
        yield "X-Onfile-Loop: onfile's own email came back"
    auto_submitted = value("Auto-Submitted")
    if auto_submitted and auto_submitted.split(";")[0].split("(")[0].strip().lower() != "no":
        yield f"Auto-Submitted: {auto_submitted[:60]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autogenerated", "X-AutoReply-From", "X-Mail-Autoreply"):
        if name.lower() in names and value(name).lower() not in ("no", "false", "0"):
            yield f"{name} header"
    precedence = value("Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        yield f"Precedence: {precedence}"
    for name in ("List-Id", "List-Unsubscribe"):
        if name.lower() in names:
            yield f"{name} header: mailing-list mail"
    if envelope_sender is not None and envelope_sender.strip().strip("<>").strip() == "":
        yield "null envelope sender (<>)"
    if "return-path" in names and value("Return-Path").strip("<> ") == "":
        yield "null sender (Return-Path: <>)"
    for label, address in (("sender", from_address), ("envelope sender", (envelope_sender or "").strip("<> "))):
        local = address.split("@", 1)[0].lower()
        if local in _NULL_SENDERS:
            yield f"{label} is {local}"
    ctype = _content_type(msg)
    if ctype == "multipart/report":
        try:
            report = (msg.get_param("report-type") or "").lower()  # type: ignore[union-attr]
        except Exception:
            report = ""
        yield f"multipart/report ({report or 'report'})" if isinstance(report, str) else "multipart/report"
    elif ctype in ("message/delivery-status", "message/disposition-notification"):
        yield ctype
    if "x-loop" in names:
        yield "X-Loop header"
    subject = _header(msg, "Subject", [])
    match = _OUT_OF_OFFICE.match(subject)
    if match:
        yield f"out-of-office subject ({match.group(0).strip()})"


# ---- Authentication-Results ---------------------------------------------------------------------

_AUTHRES = authres.all_features()


def _auth_results(msg: Message, defects: list[str]) -> list[AuthVerdict]:
    verdicts: list[AuthVerdict] = []
    headers = [value for key, value in msg.raw_items() if key.lower() == "authentication-results"]
    for index, value in enumerate(headers):
        text = " ".join(_fix(str(value)).split())
        if len(text) > _MAX_AUTH_HEADER:
            defects.append(f"Authentication-Results header {index + 1} is too long ({len(text)} characters); skipped")
            continue
        first = re.split(r"[;\s(]", text, maxsplit=1)[0]
        authserv_id = first.lower()
        parse = text
        if "=" in first:  # Microsoft 365 writes no authserv-id: "spf=pass (…) smtp.mailfrom=…; dkim=…"
            authserv_id = ""
            parse = "authserv.invalid; " + text
        try:
            header = _AUTHRES.parse_value(parse)
        except Exception as exc:
            defects.append(f"Authentication-Results header {index + 1} could not be read ({exc}); skipped")
            continue
        for result in header.results:
            properties = tuple((f"{p.type}.{p.name}".lower(), str(p.value or "")) for p in result.properties)
            verdicts.append(AuthVerdict(
                authserv_id=authserv_id,
                method=str(result.method or "").lower(),
                result=str(result.result or "").lower(),
                domain=_verdict_domain(str(result.method or "").lower(), dict(properties)),
                header_index=index,
                reason=str(getattr(result, "reason", "") or ""),
                properties=properties,
            ))
    return verdicts


def _verdict_domain(method: str, props: dict[str, str]) -> str:
    order = {
        "dkim": ("header.d", "header.i"),
        "domainkeys": ("header.d", "header.from"),
        "spf": ("smtp.mailfrom", "smtp.helo"),
        "dmarc": ("header.from",),
        "dkim-atps": ("header.from",),
        "sender-id": ("header.from", "header.sender"),
    }.get(method, ("header.from", "header.d", "smtp.mailfrom"))
    for key in order:
        value = props.get(key, "").strip().strip('"').lower()
        if value and value != "none":
            return value.rsplit("@", 1)[-1]
    return ""
