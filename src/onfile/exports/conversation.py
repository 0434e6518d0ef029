"""Exporting one conversation for a person: a PDF transcript, or a zip with everything.

Every export — a download from the web, a job of the background worker (``jobs``, for long
conversations; it runs as the person who asked) or the CLI — goes through ``_prepare`` and then
``_record``:

1. **Access** — the conversation is fetched through ``onfile.access.get_conversation`` for the
   person exporting: what they may not see is ``Http404``, exactly as on the web. This is the
   only access check in the exports; the callers add none of their own.
2. **Seal** — a checkpoint of the ledger is signed (ARCHITECTURE 2: "at each export"); the
   file names it, so a reader can check that the records it shows were in the ledger then.
3. **Produce** — the file is written to the caller's output and hashed on the way.
4. **Record** — an ``access.export`` ledger entry: who, which conversation, the format, the
   file's sha256 and size and the checkpoint (REQ-GDPR-6). An export that fails or whose
   download is abandoned half-way is recorded too, as incomplete: its bytes were read.

The zip (``write_zip`` / ``stream_zip``) holds ``conversation.jsonl`` (the JSON lines export),
``media/<sha256 prefix>-<name>`` (the original files, decrypted a chunk at a time),
``transcript.pdf`` and, last, ``manifest.json`` listing every file with its sha256 and size,
the conversation's metadata, the files that are missing and why, and the signed checkpoint.
It is written as a stream (data descriptors, ZIP64 as needed), so neither the zip nor any
media file is ever held in memory: the web view sends it while it is being made.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, BinaryIO

from django.conf import settings
from django.db.models import F

from onfile import access, clock
from onfile.conversations.models import Attachment, Conversation
from onfile.exports import transcript
from onfile.exports.common import Seal, blob_problems, iso_z, media_path, missing_reason
from onfile.exports.jsonl import export_lines
from onfile.exports.transcript.data import Header, client_numbers, header
from onfile.ledger.blobs import BlobError, open_blob
from onfile.ledger.checkpoint import parse_checkpoint_body
from onfile.ledger.checkpoints import do_checkpoint, latest_checkpoint
from onfile.ledger.crypto import CryptoError
from onfile.ledger.keys import verifier_keys

log = logging.getLogger(__name__)
MANIFEST_FORMAT = "onfile.conversation-export"
MANIFEST_VERSION = 1
FLUSH_AT = 256 * 1024  # bytes gathered before a streamed zip hands a piece on
BIG_MEMBER = 1 << 30  # members that may pass 4 GiB get ZIP64 headers up front


@dataclass(frozen=True)
class ExportResult:
    """What was exported, as recorded in the ledger."""

    conversation_id: int
    format: str
    filename: str
    sha256: str
    size: int
    messages: int
    attachments: int
    files_missing: int
    checkpoint_size: int
    checkpoint_root: str
    audit_seq: int


@dataclass
class _Plan:
    conversation: Conversation
    user: Any
    header: Header
    generated_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seal(self) -> Seal:
        return self.header.seal

    def filename(self, fmt: str) -> str:
        # No names in it: a download folder is not the place for a client's name.
        return f"onfile-conversation-{self.conversation.pk}-{self.generated_at:%Y%m%d-%H%M%S}.{fmt}"


class _Hashing:
    """A write-only file that hashes and counts what passes through it; ``tell`` but no
    ``seek``, so zipfile writes a streamable zip (data descriptors) into it."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0
        self.pending: list[bytes] = []
        self.pending_size = 0

    def write(self, data: bytes) -> int:
        data = bytes(data)
        self.hash.update(data)
        self.size += len(data)
        if self.out is not None:
            self.out.write(data)
        else:
            self.pending.append(data)
            self.pending_size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        if self.out is not None and hasattr(self.out, "flush"):
            self.out.flush()

    def close(self) -> None:
        """zipfile closes what it was given only when it opened it itself; nothing to do."""

    def take(self) -> bytes:
        piece = b"".join(self.pending)
        self.pending, self.pending_size = [], 0
        return piece


# ---- 1 and 2: access and seal -----------------------------------------------------------------------

def _prepare(conversation: Conversation | int, user: Any) -> _Plan:
    pk = conversation.pk if isinstance(conversation, Conversation) else conversation
    visible = access.get_conversation(user, pk)  # the access check: Http404 for what user may not see
    seal = make_seal(f"export:conversation:{visible.pk}")
    now = clock.now()
    head = header(visible, firm=getattr(settings, "FIRM_NAME", ""), generated_at=now,
                  generated_by=_who(user), originals=access.can_see_originals(user), seal=seal)
    return _Plan(visible, user, head, now)


def make_seal(reason: str) -> Seal:
    """Sign a checkpoint now (or take the last one when nothing was appended since)."""
    cp = do_checkpoint(reason=reason[:40]) or latest_checkpoint()
    assert cp is not None  # do_checkpoint signs one whenever none exists
    text = cp.note.split("\n\n", 1)[0] + "\n"
    return Seal(origin=parse_checkpoint_body(text).origin, size=cp.size, root_hex=cp.root, note=cp.note,
                verifier_keys=tuple(verifier_keys()), made_at=cp.created_at)


def _who(user: Any) -> str:
    name = f"{user.name} <{user.email}>" if getattr(user, "name", "") else user.email
    return f"{name}, {user.get_role_display().lower()} ({user.actor})"


# ---- 4: record ----------------------------------------------------------------------------------------

def _record(plan: _Plan, fmt: str, out: _Hashing, files_missing: int = 0, **extra: Any) -> ExportResult:
    detail = {"format": fmt, "sha256": out.hash.hexdigest(), "size": out.size, "filename": plan.filename(fmt),
              "messages": plan.header.messages, "originals": plan.header.originals, "files_missing": files_missing,
              "checkpoint_size": plan.seal.size, "checkpoint_root": plan.seal.root_hex, "completed": True, **extra}
    seq = access.audit(plan.user, f"conversation:{plan.conversation.pk}", "export", detail)
    return ExportResult(plan.conversation.pk, fmt, plan.filename(fmt), detail["sha256"], out.size,
                        plan.header.messages, plan.header.attachments, files_missing, plan.seal.size,
                        plan.seal.root_hex, seq)


def _record_incomplete(plan: _Plan, fmt: str, out: _Hashing, why: str) -> None:
    try:
        access.audit(plan.user, f"conversation:{plan.conversation.pk}", "export", {
            "format": fmt, "completed": False, "why": why[:200], "bytes_written": out.size,
            "checkpoint_size": plan.seal.size})
    except Exception:  # the original failure matters more than this record of it
        log.exception("could not record the incomplete export of conversation %s", plan.conversation.pk)


# ---- JSON lines ---------------------------------------------------------------------------------------

def write_jsonl(conversation: Conversation | int, user: Any, out: BinaryIO) -> ExportResult:
    """Write the conversation as JSON lines (UTF-8) to ``out`` for ``user``.

    Raises ``Http404`` when ``user`` may not see the conversation (nothing is written then)."""
    plan = _prepare(conversation, user)
    sink = _Hashing(out)
    try:
        for line in export_lines(plan.conversation, originals=plan.header.originals):
            sink.write(line.encode("utf-8"))
    except BaseException as exc:
        _record_incomplete(plan, "jsonl", sink, type(exc).__name__)
        raise
    return _record(plan, "jsonl", sink)


# ---- the PDF ------------------------------------------------------------------------------------------

def render_pdf(conversation: Conversation | int, user: Any, out: BinaryIO) -> ExportResult:
    """Write the conversation's transcript (PDF/A-3b) to ``out`` for ``user``.

    Raises ``Http404`` when ``user`` may not see the conversation (nothing is written then)."""
    plan = _prepare(conversation, user)
    sink = _Hashing(out)
    try:
        transcript.write_pdf(transcript.render_html(plan.conversation, plan.header), sink)
    except BaseException as exc:
        _record_incomplete(plan, "pdf", sink, type(exc).__name__)
        raise
    return _record(plan, "pdf", sink, _count_missing_files(plan.conversation, plan.header.originals))


def _count_missing_files(conversation: Conversation, originals: bool) -> int:
    attachments = Attachment.objects.filter(message__conversation=conversation)
    if not originals:
        attachments = attachments.exclude(message__deleted=True)
    attachments = attachments.only("pk", "blob_id", "placeholder")
    problems = blob_problems(a.blob_id for a in attachments if a.blob_id)
    return sum(1 for a in attachments if missing_reason(a, problems))


# ---- the zip ------------------------------------------------------------------------------------------

def write_zip(conversation: Conversation | int, user: Any, out: BinaryIO) -> ExportResult:
    """Write the zip (JSON lines, media, transcript, manifest) to ``out`` for ``user``.

    Raises ``Http404`` when ``user`` may not see the conversation (nothing is written then)."""
    plan = _prepare(conversation, user)
    sink = _Hashing(out)
    result: list[ExportResult] = []
    try:
        for _ in _zip_steps(plan, sink, result):
            pass
    except BaseException as exc:
        _record_incomplete(plan, "zip", sink, type(exc).__name__)
        raise
    return result[0]


@dataclass(frozen=True)
class ZipStream:
    """A zip being made for a download: the access check and the seal are done."""

    filename: str
    chunks: Iterator[bytes]


def stream_zip(conversation: Conversation | int, user: Any) -> ZipStream:
    """Like ``write_zip``, as pieces of bytes for a streamed response. The access check runs
    now (``Http404`` before any byte); the ledger entry is made when the last piece is taken,
    or as incomplete when the download is abandoned."""
    plan = _prepare(conversation, user)
    return ZipStream(plan.filename("zip"), _pieces(plan))


def _pieces(plan: _Plan) -> Iterator[bytes]:
    sink = _Hashing()
    result: list[ExportResult] = []
    try:
        for _ in _zip_steps(plan, sink, result):
            if sink.pending_size >= FLUSH_AT:
                yield sink.take()
        yield sink.take()
    except BaseException as exc:  # GeneratorExit too: the client went away
        if not result:
            _record_incomplete(plan, "zip", sink, type(exc).__name__)
        raise


def _info(name: str, at: datetime, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=at.timetuple()[:6] if at.year >= 1980 else (1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _zip_steps(plan: _Plan, sink: _Hashing, result: list[ExportResult]) -> Iterator[None]:
    """Write the zip into ``sink``, yielding whenever a piece could be handed on."""
    files: list[dict[str, Any]] = []
    missing: dict[int, str] = {}
    absent: list[dict[str, Any]] = []
    with zipfile.ZipFile(sink, "w", allowZip64=True) as zf:
        yield from _write_jsonl(plan, zf, files)
        yield from _write_media(plan, zf, files, missing, absent)
        pdf = io.BytesIO()
        transcript.write_pdf(transcript.render_html(plan.conversation, plan.header, in_bundle=True,
                                                    missing=missing), pdf)
        data = pdf.getvalue()
        zf.writestr(_info("transcript.pdf", plan.generated_at, False), data)
        files.append({"path": "transcript.pdf", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                      "kind": "transcript", "media_type": "application/pdf", "pdf_variant": transcript.PDF_VARIANT})
        yield
        manifest = _manifest(plan, files, absent)
        zf.writestr(_info("manifest.json", plan.generated_at, True),
                    json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    yield
    transcript_sha = files[-1]["sha256"]
    result.append(_record(plan, "zip", sink, len(absent), files=len(files), transcript_sha256=transcript_sha))


def _write_jsonl(plan: _Plan, zf: zipfile.ZipFile, files: list[dict[str, Any]]) -> Iterator[None]:
    digest, size = hashlib.sha256(), 0
    with zf.open(_info("conversation.jsonl", plan.generated_at, True), "w", force_zip64=True) as member:
        for n, line in enumerate(export_lines(plan.conversation, originals=plan.header.originals)):
            data = line.encode("utf-8")
            member.write(data)
            digest.update(data)
            size += len(data)
            if n % 500 == 499:
                yield
    files.append({"path": "conversation.jsonl", "sha256": digest.hexdigest(), "size": size, "kind": "messages",
                  "media_type": "application/x-ndjson", "records": plan.header.messages})
    yield


def _attachments(plan: _Plan) -> Iterator[list[Attachment]]:
    qs = Attachment.objects.filter(message__conversation=plan.conversation)
    if not plan.header.originals:
        qs = qs.exclude(message__deleted=True)  # a deleted message's content is withheld (see jsonl)
    qs = qs.annotate(message_type=F("message__type"), message_key=F("message__key"),
                     message_sent_at=F("message__sent_at")).order_by("message__sent_at", "message__position", "pk")
    batch: list[Attachment] = []
    for a in qs.iterator(chunk_size=500):
        batch.append(a)
        if len(batch) == 500:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_media(plan: _Plan, zf: zipfile.ZipFile, files: list[dict[str, Any]], missing: dict[int, str],
                 absent: list[dict[str, Any]]) -> Iterator[None]:
    written: dict[str, dict[str, Any]] = {}
    for batch in _attachments(plan):
        problems = blob_problems(a.blob_id for a in batch if a.blob_id)
        for a in batch:
            mtype, key = a.message_type, a.message_key  # type: ignore[attr-defined]
            path = media_path(a, mtype)
            if path in written and not missing_reason(a, problems):
                written[path]["messages"].append(key)
                continue
            reason = missing_reason(a, problems)
            if not reason:
                reason = yield from _copy_blob(zf, a, path, files, written)
            if reason:
                missing[a.pk] = reason
                absent.append({"message": key, "name": a.filename or None, "media_type": a.mime_type or None,
                               "recorded_sha256": a.sha256 or None, "recorded_size": a.size, "reason": reason})


def _copy_blob(zf: zipfile.ZipFile, a: Attachment, path: str, files: list[dict[str, Any]],
               written: dict[str, dict[str, Any]]) -> Generator[None, None, str]:
    """Copy one decrypted file into the zip; return why it could not be, or ""."""
    assert a.blob_id is not None
    chunks = open_blob(a.blob_id)
    try:
        # The first chunk before the member opens: a key, file or first-chunk failure then
        # leaves nothing in the zip.
        first = next(chunks, b"")
    except (BlobError, CryptoError) as exc:
        return f"the stored file cannot be read ({exc})"
    digest, size, error = hashlib.sha256(), 0, ""
    sent_at = a.message_sent_at  # type: ignore[attr-defined]
    big = a.size is None or a.size >= BIG_MEMBER
    with zf.open(_info(path, sent_at, False), "w", force_zip64=big) as member:
        try:
            for chunk in chain([first], chunks):
                member.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                yield
        except (BlobError, CryptoError) as exc:
            error = f"the stored file failed its integrity check after {size} bytes ({exc})"
    entry = {"path": path, "sha256": digest.hexdigest(), "size": size, "kind": "attachment",
             "media_type": a.mime_type or None, "name": a.filename or None, "recorded_sha256": a.sha256 or None,
             "matches_record": digest.hexdigest() == a.sha256, "messages": [a.message_key],  # type: ignore[attr-defined]
             "complete": not error}
    files.append(entry)
    written[path] = entry
    return error


def _manifest(plan: _Plan, files: list[dict[str, Any]], absent: list[dict[str, Any]]) -> dict[str, Any]:
    h, c, seal = plan.header, plan.conversation, plan.seal
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "generated_at": iso_z(plan.generated_at),
        "generated_by": {"email": plan.user.email, "name": plan.user.name or None, "role": plan.user.role,
                         "actor": plan.user.actor},
        "originals_included": h.originals,
        "conversation": {
            "id": c.pk, "key": c.key, "title": c.title or None, "source": c.source, "is_group": c.is_group,
            "client": c.client.name if c.client else None, "client_numbers": client_numbers(c),
            "firm_number": c.firm_number.number if c.firm_number else None,
            "firm_number_name": (c.firm_number.display_name or None) if c.firm_number else None,
            "matter": c.matter.reference if c.matter else None,
            "matter_title": (c.matter.title or None) if c.matter else None,
            "collected_by": c.collected_by or None, "collected_at": iso_z(c.collected_at),
            "custodian": c.custodian.email if c.custodian else None, "device": c.device or None,
            "messages": h.messages, "attachments": h.attachments,
            "first_message_at": iso_z(h.first), "last_message_at": iso_z(h.last),
        },
        "ledger": {
            "origin": seal.origin, "size": seal.size, "root_hash": seal.root_hex,
            "checkpoint_made_at": iso_z(seal.made_at), "checkpoint": seal.note,
            "verifier_keys": list(seal.verifier_keys),
            "how_to_verify": "python -m onfile.ledger.verify_checkpoint CHECKPOINT_FILE VERIFIER_KEY "
                             "(the checkpoint text saved to a file; compare the key with the firm's published one)",
        },
        "files": files,
        "files_missing": absent,
    }
