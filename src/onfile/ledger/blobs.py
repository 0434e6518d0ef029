"""The blob store: sealed bytes, inline in the database or as files.

Small blobs (the usual webhook body, a few KB) are stored inline: one database commit
makes them durable, which is what lets a capture be durable at thousands per second
(a file costs two more fsyncs). Large ones (media, exports) are sealed to a file *before*
the transaction opens (style rule 6: blobs outside long transactions) and the database
commits the reference. A file whose transaction never committed is an orphan that
``onfile verify`` reports and nothing references.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import connection
from django.utils import timezone

from onfile.ledger import crypto
from onfile.ledger.keys import master_key


class BlobError(Exception):
    """A blob cannot be stored or read; the message says which and why."""


@dataclass
class SealedBlob:
    """Sealed bytes ready to be referenced by a ledger entry (not yet in the database)."""

    media_type: str
    size: int
    plain_sha256: str
    cipher_size: int
    cipher_sha256: str
    wrapped_key: bytes
    master_key_id: str
    inline: bytes | None
    path: str


def blob_dir() -> Path:
    return Path(settings.BLOB_DIR)


def fsync_dir(path: Path) -> None:
    """Make a new file's name in ``path`` durable (the file's own fsync does not)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seal_bytes(data: bytes, media_type: str = "application/octet-stream") -> SealedBlob:
    if len(data) > settings.INLINE_BLOB_LIMIT:
        return seal_stream(io.BytesIO(data), media_type)
    key = master_key()
    data_key = crypto.new_data_key()
    sealed = crypto.seal(data_key, data)
    return SealedBlob(
        media_type=media_type,
        size=len(data),
        plain_sha256=hashlib.sha256(data).hexdigest(),
        cipher_size=len(sealed),
        cipher_sha256=hashlib.sha256(sealed).hexdigest(),
        wrapped_key=key.wrap(data_key),
        master_key_id=key.key_id,
        inline=sealed,
        path="",
    )


def seal_stream(stream: BinaryIO, media_type: str = "application/octet-stream") -> SealedBlob:
    """Seal a stream of any size to a file, with bounded memory; durable on return."""
    key = master_key()
    data_key = crypto.new_data_key()
    plain_hash, cipher_hash = hashlib.sha256(), hashlib.sha256()
    size = cipher_size = 0

    def counted() -> Iterator[bytes]:
        nonlocal size
        for chunk in crypto.read_chunks(stream):
            plain_hash.update(chunk)
            size += len(chunk)
            yield chunk

    name = uuid.uuid4().hex
    rel = f"{name[:2]}/{name[2:4]}/{name}.ofb"
    target = blob_dir() / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            for piece in crypto.seal_chunks(data_key, counted()):
                out.write(piece)
                cipher_hash.update(piece)
                cipher_size += len(piece)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as exc:
        raise BlobError(f"cannot write a blob under {blob_dir()}: {exc.strerror or exc}") from None
    return SealedBlob(
        media_type=media_type,
        size=size,
        plain_sha256=plain_hash.hexdigest(),
        cipher_size=cipher_size,
        cipher_sha256=cipher_hash.hexdigest(),
        wrapped_key=key.wrap(data_key),
        master_key_id=key.key_id,
        inline=None,
        path=rel,
    )


def insert_blob(sealed: SealedBlob) -> int:
    """Insert the blob row; call inside the transaction that appends the entry."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = (
        "INSERT INTO ledger_blob (created_at, media_type, size, cipher_size, cipher_sha256, wrapped_key,"
        " master_key_id, inline, path) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
    )
    params = [now, sealed.media_type, sealed.size, sealed.cipher_size, sealed.cipher_sha256,
              sealed.wrapped_key, sealed.master_key_id, sealed.inline, sealed.path]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def insert_blobs(sealed: list[SealedBlob]) -> list[int]:
    """Insert many blob rows with one statement (group commit); ids in the order given."""
    if len(sealed) == 1:
        return [insert_blob(sealed[0])]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    row = "(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    sql = ("INSERT INTO ledger_blob (created_at, media_type, size, cipher_size, cipher_sha256, wrapped_key,"  # noqa: S608
           " master_key_id, inline, path) VALUES " + ", ".join([row] * len(sealed)) + " RETURNING cipher_sha256, id")
    params: list[Any] = []
    for s in sealed:
        params += [now, s.media_type, s.size, s.cipher_size, s.cipher_sha256, s.wrapped_key, s.master_key_id,
                   s.inline, s.path]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # RETURNING gives no order guarantee; the ciphertext hashes are unique (fresh key and
        # nonce per blob), so they map the rows back.
        ids = dict(cursor.fetchall())
    return [int(ids[s.cipher_sha256]) for s in sealed]


def _blob_row(blob_id: int) -> tuple[bytes | None, bytes | None, str, str | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT wrapped_key, inline, path, shredded_at FROM ledger_blob WHERE id = %s", [blob_id]
        )
        row = cursor.fetchone()
    if row is None:
        raise BlobError(f"blob {blob_id} does not exist")
    wrapped, inline, path, shredded = row
    return (bytes(wrapped) if wrapped is not None else None,
            bytes(inline) if inline is not None else None, path, shredded)


def open_blob(blob_id: int) -> Iterator[bytes]:
    """Yield the plaintext of a blob in authenticated chunks."""
    wrapped, inline, path, shredded = _blob_row(blob_id)
    if shredded is not None or wrapped is None:
        raise BlobError(f"blob {blob_id} was destroyed at disposition")
    data_key = master_key().unwrap(wrapped)
    if inline is not None:
        yield from crypto.open_sealed(data_key, io.BytesIO(inline))
        return
    try:
        handle = (blob_dir() / path).open("rb")
    except OSError as exc:
        raise BlobError(f"blob {blob_id}: file {path} cannot be read: {exc.strerror}") from None
    with handle:
        yield from crypto.open_sealed(data_key, handle)


def read_blob(blob_id: int) -> bytes:
    return b"".join(open_blob(blob_id))
