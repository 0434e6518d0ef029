"""Named actions on the record. Each opens its transaction, appends, and returns.

Raw first (ARCHITECTURE invariant 1): :func:`do_capture` seals the bytes, then commits the
blob reference and its ledger entry in one transaction; when it returns, the capture is
on disk (SQLite WAL with ``synchronous=FULL``; PostgreSQL's synchronous commit; blob files
fsynced before the commit). Only then may a caller tell its sender "accepted".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from django.db import transaction

from onfile.ledger import blobs
from onfile.ledger.crypto import keyed_hash
from onfile.ledger.keys import master_key
from onfile.ledger.log import Appended, NewEntry, append, append_many, canonical_json


@dataclass(frozen=True)
class Captured:
    seq: int
    blob_id: int
    size: int
    sha256: str  # of the plaintext: identifies an evidence file (large), never short text
    cipher_sha256: str


def seal_any(data: bytes | Path | BinaryIO, media_type: str) -> blobs.SealedBlob:
    if isinstance(data, bytes):
        return blobs.seal_bytes(data, media_type)
    if isinstance(data, Path):
        try:
            handle = data.open("rb")
        except OSError as exc:
            raise blobs.BlobError(f"cannot read {data}: {exc.strerror}") from None
        with handle:
            return blobs.seal_stream(handle, media_type)
    return blobs.seal_stream(data, media_type)


def commit_sealed(
    sealed: blobs.SealedBlob, *, kind: str, actor: str, subject: str = "", attrs: Mapping[str, Any] | None = None
) -> tuple[Appended, int]:
    """Inside the caller's transaction: the blob row and the entry that commits to it."""
    blob_id = blobs.insert_blob(sealed)
    return append(NewEntry(kind, actor, subject, attrs, blob_id, sealed.cipher_sha256)), blob_id


def commit_sealed_many(
    sealed: list[blobs.SealedBlob], *, kind: str, actor: str, attrs: list[Mapping[str, Any]]
) -> list[Appended]:
    """Many captures in the caller's transaction, a few statements in all (group commit)."""
    blob_ids = blobs.insert_blobs(sealed)
    return append_many([NewEntry(kind, actor, "", a, b, s.cipher_sha256)
                        for s, a, b in zip(sealed, attrs, blob_ids, strict=True)])


def do_capture(
    data: bytes | Path | BinaryIO,
    *,
    kind: str,
    actor: str,
    subject: str = "",
    attrs: Mapping[str, Any] | None = None,
    media_type: str = "application/octet-stream",
) -> Captured:
    sealed = seal_any(data, media_type)
    with transaction.atomic():
        appended, blob_id = commit_sealed(sealed, kind=kind, actor=actor, subject=subject, attrs=attrs)
    return Captured(appended.seq, blob_id, sealed.size, sealed.plain_sha256, sealed.cipher_sha256)


def seal_content(content: Mapping[str, Any]) -> blobs.SealedBlob:
    """Personal data of an event (a client's name, a note) goes into its own sealed blob."""
    return blobs.seal_bytes(canonical_json(content).encode("utf-8"), "application/json")


def read_content(blob_id: int) -> dict[str, Any]:
    value = json.loads(blobs.read_blob(blob_id))
    assert isinstance(value, dict)
    return value


@cache
def _keyed_hash_key(key_id: str) -> bytes:
    return master_key().derive(b"ledger keyed hash v1")


def keyed_commitment(content: bytes) -> str:
    """For records whose content lives elsewhere (a message parsed out of a capture)."""
    return keyed_hash(_keyed_hash_key(master_key().key_id), content)


def do_record_access(actor: str, subject: str, action: str = "view", detail: Mapping[str, Any] | None = None) -> int:
    """Record that ``actor`` read ``subject`` (every later read path calls this; REQ-GDPR-6)."""
    with transaction.atomic():
        return append(NewEntry(f"access.{action}", actor, subject, dict(detail or {}))).seq


def do_security_event(event: str, detail: Mapping[str, Any], actor: str = "system") -> int:
    """A security event (bad signature, failed login …): ledgered, never a record."""
    with transaction.atomic():
        return append(NewEntry(f"security.{event}", actor, "", dict(detail))).seq
