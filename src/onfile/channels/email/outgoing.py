"""What a reply by email becomes on WhatsApp: its new text, then each attachment — all checked first.

Every part is checked before anything is queued, so an email is sent whole or not at all: a
file above WhatsApp's size limit for its kind (``sending.MEDIA_LIMITS``, whatsapp.md B3), a type
WhatsApp refuses (an ``.exe``, a ``.zip``, an SVG …), an empty file or a text above WhatsApp's
4,096 characters refuses the whole email, and the refusal names the file and the limit.

Types follow the table of whatsapp.md B3: JPEG and PNG images, MP4 and 3GPP videos, AAC, AMR,
MP3, M4A and OGG audio, and TXT, PDF, Word, Excel and PowerPoint documents. A declared type
WhatsApp takes must agree with the file's extension (a ``report.pdf.exe`` declared as a PDF is
refused); a file sent as ``application/octet-stream`` is judged by its extension.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from typing import Any

from onfile.channels.whatsapp.graph import MAX_TEXT
from onfile.channels.whatsapp.sending import MEDIA_LIMITS, Outgoing

# MIME type → (WhatsApp kind, the extensions a file of that type may have)
ACCEPTED: dict[str, tuple[str, frozenset[str]]] = {
    "image/jpeg": ("image", frozenset({".jpg", ".jpeg", ".jpe", ".jfif"})),
    "image/png": ("image", frozenset({".png"})),
    "video/mp4": ("video", frozenset({".mp4", ".m4v"})),
    "video/3gpp": ("video", frozenset({".3gp", ".3gpp"})),
    "audio/aac": ("audio", frozenset({".aac"})),
    "audio/amr": ("audio", frozenset({".amr"})),
    "audio/mpeg": ("audio", frozenset({".mp3"})),
    "audio/mp4": ("audio", frozenset({".m4a", ".mp4"})),
    "audio/ogg": ("audio", frozenset({".ogg", ".oga", ".opus"})),
    "text/plain": ("document", frozenset({".txt", ".text"})),
    "application/pdf": ("document", frozenset({".pdf"})),
    "application/msword": ("document", frozenset({".doc"})),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("document", frozenset({".docx"})),
    "application/vnd.ms-excel": ("document", frozenset({".xls"})),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("document", frozenset({".xlsx"})),
    "application/vnd.ms-powerpoint": ("document", frozenset({".ppt"})),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("document", frozenset({".pptx"})),
}
ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "audio/mp3": "audio/mpeg",
           "audio/x-m4a": "audio/mp4", "audio/m4a": "audio/mp4", "application/x-pdf": "application/pdf",
           "audio/opus": "audio/ogg"}
# Types that say nothing about the file: judged by its extension instead.
GENERIC = {"", "application/octet-stream", "binary/octet-stream", "application/x-download", "application/download",
           "application/force-download", "application/unknown"}
KIND_NAMES = {"image": "an image", "video": "a video", "audio": "an audio file", "document": "a document"}


class ContentRefused(ValueError):
    """The email cannot be sent as it is; the message names the file and the limit."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Part:
    """One WhatsApp message of a reply: its text, or one file."""

    kind: str  # text | image | video | audio | document
    text: str = ""
    filename: str = ""
    mime_type: str = ""
    data: bytes = b""

    def outgoing(self) -> Outgoing:
        if self.kind == "text":
            return Outgoing(text=self.text)
        return Outgoing(data=self.data, filename=self.filename, mime_type=self.mime_type, kind=self.kind)

    def summary(self) -> dict[str, Any]:
        """What the ledger's sealed content says about the part (and what a release re-checks)."""
        data = self.text.encode() if self.kind == "text" else self.data
        return {"kind": self.kind, "filename": self.filename, "mime_type": self.mime_type, "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB" if n >= 1 << 20 else f"{max(1, n // 1024)} KB"


def _extension(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return "." + name.rsplit(".", 1)[1].lower() if "." in name.strip(".") else ""


def _by_extension(extension: str) -> str:
    return next((mime for mime, (_, extensions) in ACCEPTED.items() if extension in extensions), "")


def file_part(filename: str, mime_type: str, data: bytes, index: int) -> Part:
    """One attachment as a WhatsApp media message, or ``ContentRefused``."""
    declared = mime_type.split(";", 1)[0].strip().lower()
    declared = ALIASES.get(declared, declared)
    extension = _extension(filename)
    name = filename.strip() or f"attachment {index}"
    mime = declared if declared in ACCEPTED else _by_extension(extension) if declared in GENERIC else ""
    if not mime or (extension and extension not in ACCEPTED[mime][1]):
        what = f"{extension} files" if extension else f"files of type {declared or 'unknown'}"
        raise ContentRefused(f"{name}: WhatsApp does not accept {what}. It accepts JPEG and PNG images, MP4 and "
                             f"3GPP videos, AAC, AMR, MP3, M4A and OGG audio, and TXT, PDF, Word, Excel and "
                             f"PowerPoint documents.", "file-type")
    kind = ACCEPTED[mime][0]
    if not data:
        raise ContentRefused(f"{name} is empty.", "empty-file")
    if len(data) > MEDIA_LIMITS[kind]:
        raise ContentRefused(f"{name} is {_size(len(data))}; WhatsApp accepts at most {_size(MEDIA_LIMITS[kind])} "
                             f"for {KIND_NAMES[kind]}.", "too-large")
    if not filename.strip():
        filename = f"attachment-{index}{mimetypes.guess_extension(mime) or ''}"
    return Part(kind, filename=filename.strip(), mime_type=mime, data=data)


def parts(text: str, attachments: list[Any]) -> list[Part]:
    """The text (if any) first, then each attachment in order; ``ContentRefused`` if any part
    cannot go. An empty list means there is nothing to send (the caller says why)."""
    text = text.strip()
    out = [Part("text", text=text)] if text else []
    if len(text) > MAX_TEXT:
        raise ContentRefused(f"The text is {len(text)} characters; WhatsApp accepts at most {MAX_TEXT} in one "
                             f"message.", "text-too-long")
    out += [file_part(a.filename or "", a.mime_type or "", a.data or b"", n)
            for n, a in enumerate(attachments, start=1)]
    return out


def outgoing_summary(found: list[Part]) -> list[dict[str, Any]]:
    return [p.summary() for p in found]
