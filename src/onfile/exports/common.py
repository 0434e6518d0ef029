"""What every conversation export shares: the ledger seal, attachment names and their state.

The seal is the signed checkpoint made for the export (ARCHITECTURE 2: "at each export"):
a reader checks its signature with the log's public key, then any record's inclusion proof
against its root. Attachment names are made safe for a zip member and a download (no path
separators, no control characters) and prefixed with the file's sha256, so two files called
``scan.pdf`` never collide and a name always says which bytes it holds.
"""

from __future__ import annotations

import mimetypes
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from onfile.conversations.models import Attachment
from onfile.ledger.blobs import blob_dir
from onfile.ledger.models import Blob

# mimetypes reads the machine's /etc/mime.types, so the same file could be named differently
# on two machines; the usual WhatsApp types are fixed here.
EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif",
    "video/mp4": ".mp4", "video/3gpp": ".3gp", "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a",
    "audio/aac": ".aac", "audio/amr": ".amr", "application/pdf": ".pdf", "text/plain": ".txt",
    "application/zip": ".zip", "text/vcard": ".vcf",
}
PLACEHOLDER_REASONS = {
    "omitted": "not in the archive: the chat export left this file out",
    "missing": "not in the archive: the file was missing from the source",
    "not-fetched": "not in the archive yet: not fetched from WhatsApp",
}
NAME_LIMIT = 120


@dataclass(frozen=True)
class Seal:
    """The signed checkpoint made for an export, and the keys to check it with."""

    origin: str
    size: int
    root_hex: str
    note: str
    verifier_keys: tuple[str, ...]
    made_at: datetime


def utc_text(at: datetime | None) -> str:
    """``2024-01-12 09:16:00Z``: ISO 8601 with a space, always UTC, to the second."""
    if at is None:
        return ""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def iso_z(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at is not None else None


def safe_filename(name: str) -> str:
    """The last path component, printable, without characters Windows refuses, at most 120."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch if ch.isprintable() and ch not in '<>:"|?*' else "_" for ch in name).strip(" .")
    if len(name) > NAME_LIMIT:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and 0 < len(ext) <= 10 else ""
        name = (stem if ext else name)[: NAME_LIMIT - len(ext) - 1].rstrip(" .") + ("." + ext if ext else "")
    return name


def extension(mime: str) -> str:
    base = (mime or "").split(";", 1)[0].strip().lower()
    return EXTENSIONS.get(base) or mimetypes.guess_extension(base) or ".bin"


def attachment_name(a: Attachment, message_type: str) -> str:
    """The file's own name, or one made from the message type and MIME type (WhatsApp sends
    photos, voice notes and videos without a name)."""
    return safe_filename(a.filename) or f"{safe_filename(message_type) or 'attachment'}{extension(a.mime_type)}"


def media_path(a: Attachment, message_type: str) -> str:
    """Where the file sits in an export zip: ``media/<first 16 hex of sha256>-<name>``."""
    prefix = a.sha256[:16] if a.sha256 else f"attachment{a.pk}"
    return f"media/{prefix}-{attachment_name(a, message_type)}"


def blob_problems(blob_ids: Iterable[int]) -> dict[int, str]:
    """For each blob that cannot be read, why (without decrypting anything); readable ones
    are left out. A cheap check: a blob that passes can still fail authentication later."""
    ids = sorted(set(blob_ids))
    problems: dict[int, str] = {}
    rows = Blob.objects.filter(pk__in=ids).values_list("pk", "shredded_at", "path")
    inline = set(Blob.objects.filter(pk__in=ids, inline__isnull=False).values_list("pk", flat=True))
    seen = set()
    for pk, shredded_at, path in rows:
        seen.add(pk)
        if shredded_at is not None:
            problems[pk] = "destroyed at the end of its retention (disposition)"
        elif pk not in inline and not (path and (Path(blob_dir()) / path).is_file()):
            problems[pk] = "the stored file is missing from the blob store"
    for pk in ids:
        if pk not in seen:
            problems[pk] = "the stored file is missing from the blob store"
    return problems


def missing_reason(a: Attachment, problems: dict[int, str]) -> str:
    """Why the file is not in the export, or "" when it is."""
    if a.blob_id is None:
        return PLACEHOLDER_REASONS.get(a.placeholder, f"not in the archive ({a.placeholder or 'no file recorded'})")
    return problems.get(a.blob_id, "")


def size_text(size: int | None) -> str:
    if size is None:
        return "size unknown"
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit} ({size:,} bytes)"
    return f"{size:,} bytes"  # pragma: no cover - the loop always returns
