"""Envelope encryption of raw blobs (ARCHITECTURE invariant 4).

Each blob is sealed under its own random 256-bit data key (AES-256-GCM); the data key is
wrapped with the installation's master key (AES key wrap, RFC 3394) and stored beside the
blob record, never inside the blob. Destroying the wrapped key destroys the blob
(crypto-shredding at disposition), while the ledger keeps its commitment to the
ciphertext hash, so every proof still verifies.

Sealed layout (version 1)::

    b"OFB1" | chunk_size:u32be | nonce_prefix:8 bytes | chunk* (each = GCM ciphertext + 16-byte tag)

Chunk *i* is sealed with nonce ``nonce_prefix || i:u32be`` and associated data
``header || final_flag``: a reordered, dropped or truncated chunk fails to open. Chunking
lets a 2 GB export be sealed and opened with bounded memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

MAGIC = b"OFB1"
CHUNK_SIZE = 1 << 20
HEADER_SIZE = 4 + 4 + 8
TAG_SIZE = 16


class CryptoError(Exception):
    """A key or a sealed blob is unusable; the message says which and why."""


@dataclass(frozen=True)
class MasterKey:
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise CryptoError(f"the master key must be 32 bytes (256 bits), got {len(self.key)}")

    @property
    def key_id(self) -> str:
        """A public fingerprint: tells which key sealed what, without revealing it."""
        return hashlib.sha256(b"onfile master key id\x00" + self.key).hexdigest()[:16]

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError:
            raise CryptoError("the master key is not valid base64") from None
        return cls(raw)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(os.urandom(32))

    def to_text(self) -> str:
        return base64.b64encode(self.key).decode("ascii")

    def wrap(self, data_key: bytes) -> bytes:
        return aes_key_wrap(self.key, data_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return aes_key_unwrap(self.key, wrapped)
        except InvalidUnwrap:
            raise CryptoError(
                "a data key does not unwrap with this master key: the master key is wrong "
                "or the wrapped key was altered"
            ) from None

    def derive(self, purpose: bytes) -> bytes:
        """A sub-key for one purpose (e.g. the keyed hash of the ledger), by HKDF-SHA256."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"onfile " + purpose).derive(self.key)


def keyed_hash(key: bytes, content: bytes) -> str:
    """HMAC-SHA256 hex: the ledger's commitment to content that has no blob of its own."""
    return hmac.new(key, content, hashlib.sha256).hexdigest()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _header(prefix: bytes, chunk_size: int) -> bytes:
    return MAGIC + struct.pack(">I", chunk_size) + prefix


def seal_chunks(data_key: bytes, chunks: Iterator[bytes], chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the sealed form of the plaintext given as ``chunks`` (each ≤ chunk_size).

    The caller must pass chunks of exactly ``chunk_size`` except the last; see
    :func:`read_chunks`.
    """
    prefix = os.urandom(8)
    header = _header(prefix, chunk_size)
    yield header
    aead = AESGCM(data_key)
    index = 0
    pending = next(chunks, b"")
    while True:
        following = next(chunks, None)
        yield aead.encrypt(_nonce(prefix, index), pending, header + (b"\x01" if following is None else b"\x00"))
        if following is None:
            return
        pending = following
        index += 1


def read_chunks(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            return
        yield chunk


def seal(data_key: bytes, plaintext: bytes) -> bytes:
    chunks = (plaintext[i : i + CHUNK_SIZE] for i in range(0, len(plaintext), CHUNK_SIZE))
    return b"".join(seal_chunks(data_key, chunks))


def open_sealed(data_key: bytes, sealed: BinaryIO) -> Iterator[bytes]:
    """Yield plaintext chunks, each authenticated before it is yielded."""
    header = sealed.read(HEADER_SIZE)
    if len(header) != HEADER_SIZE or header[:4] != MAGIC:
        raise CryptoError("not an onfile sealed blob (bad header)")
    (chunk_size,) = struct.unpack(">I", header[4:8])
    prefix = header[8:16]
    aead = AESGCM(data_key)
    index = 0
    block = sealed.read(chunk_size + TAG_SIZE)
    while True:
        following = sealed.read(chunk_size + TAG_SIZE)
        final = not following
        try:
            yield aead.decrypt(_nonce(prefix, index), block, header + (b"\x01" if final else b"\x00"))
        except InvalidTag:
            raise CryptoError(f"sealed blob chunk {index} fails authentication (altered or truncated)") from None
        if final:
            return
        block = following
        index += 1
