"""Export files at rest: sealed like the archive's blobs, kept apart from them (REQ-GDPR-6).

An export made by the worker is client content waiting to be downloaded, so it is never on
disk in clear: it is sealed while it is written, with the blobs' format and primitives
(``ledger.crypto``: a fresh AES-256-GCM data key, 1 MiB chunks, the last one marked final),
and its data key is wrapped with the master key and kept on the job's row, as ``ledger.blobs``
keeps a blob's. The files live in ``EXPORT_DIR`` (``<data>/exports``), not in the blob store:
they are temporary copies, never records, and are deleted at expiry.

The renderers *write* their output (``render_pdf(…, out)``) while ``crypto.seal_chunks`` *pulls*
plaintext chunks; ``SealingWriter`` sits between them without a thread and without holding more
than a few chunks (see its comment).
"""

from __future__ import annotations

import os
import secrets
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TypeVar, cast

from django.conf import settings

from onfile.ledger import crypto
from onfile.ledger.blobs import fsync_dir
from onfile.ledger.keys import master_key

T = TypeVar("T")
SUFFIX = ".ofb"


class ExportFileError(Exception):
    """An export file cannot be written or read; the message says which and why."""


@dataclass(frozen=True)
class SealedFile:
    name: str  # under EXPORT_DIR
    wrapped_key: bytes
    master_key_id: str
    cipher_size: int


def export_dir() -> Path:
    return Path(settings.EXPORT_DIR)


def new_name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}{SUFFIX}"


def _path(name: str) -> Path:
    if not name or Path(name).name != name or not name.endswith(SUFFIX):
        raise ExportFileError(f"not an export file name: {name!r}")
    return export_dir() / name


class _Feed:
    """The plaintext chunks ``seal_chunks`` pulls, handed over by ``SealingWriter``."""

    def __init__(self) -> None:
        self.chunks: deque[bytes] = deque()
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.chunks:
            return self.chunks.popleft()
        if self.closed:
            raise StopIteration
        # Running dry before the end would seal the last chunk as final: a truncated file.
        raise RuntimeError("the sealer asked for a chunk that was not written yet")


class SealingWriter:
    """A write-only file that seals what is written into ``out``, one ``CHUNK_SIZE`` at a time."""

    def __init__(self, data_key: bytes, out: BinaryIO) -> None:
        self._out = out
        self._feed = _Feed()
        self._sealer = crypto.seal_chunks(data_key, self._feed)
        self._buffer = bytearray()
        self.cipher_size = 0
        self._emit(next(self._sealer))  # the header: seal_chunks yields it before reading a chunk

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) >= crypto.CHUNK_SIZE:
            self._feed.chunks.append(bytes(self._buffer[: crypto.CHUNK_SIZE]))
            del self._buffer[: crypto.CHUNK_SIZE]
            # seal_chunks reads one chunk ahead (to know which is the last), so it is asked for
            # a sealed chunk only while two wait: at most three chunks are ever held.
            while len(self._feed.chunks) >= 2:
                self._emit(next(self._sealer))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush before ``close``: a chunk is sealed only once it is complete."""

    def close(self) -> None:
        """Seal what is left, the last chunk marked final."""
        if self._buffer:
            self._feed.chunks.append(bytes(self._buffer))
            self._buffer.clear()
        self._feed.closed = True
        for piece in self._sealer:
            self._emit(piece)

    def _emit(self, piece: bytes) -> None:
        self._out.write(piece)
        self.cipher_size += len(piece)


def write_sealed(name: str, produce: Callable[[BinaryIO], T]) -> tuple[T, SealedFile]:
    """Run ``produce`` with a file that seals into ``EXPORT_DIR/name``; durable on return.

    Whatever goes wrong (``produce`` raising included), the file is removed and the error raised."""
    path = _path(name)
    key = master_key()
    data_key = crypto.new_data_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ExportFileError(f"cannot write an export file under {export_dir()}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            writer = SealingWriter(data_key, out)
            result = produce(cast(BinaryIO, writer))
            writer.close()
            out.flush()
            os.fsync(out.fileno())
        fsync_dir(path.parent)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return result, SealedFile(name, key.wrap(data_key), key.key_id, writer.cipher_size)


def open_sealed_file(name: str, wrapped_key: bytes) -> Iterator[bytes]:
    """The plain file in authenticated chunks. The key is unwrapped and the file opened now
    (``ExportFileError`` or ``CryptoError`` before any byte); the chunks are read as taken."""
    path = _path(name)
    data_key = master_key().unwrap(wrapped_key)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ExportFileError(f"the export file {name} cannot be read: {exc.strerror or exc}") from None

    def chunks() -> Iterator[bytes]:
        with handle:
            yield from crypto.open_sealed(data_key, handle)

    return chunks()


def delete(name: str) -> None:
    if name:
        _path(name).unlink(missing_ok=True)


def files_older_than(when: datetime) -> list[str]:
    """The names of the export files last written before ``when`` (the candidates for a sweep
    of files no job refers to)."""
    try:
        entries = list(os.scandir(export_dir()))
    except FileNotFoundError:
        return []
    return [e.name for e in entries
            if e.name.endswith(SUFFIX) and e.is_file() and e.stat().st_mtime < when.timestamp()]
