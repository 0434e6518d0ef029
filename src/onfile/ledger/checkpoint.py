"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed-note envelopes, Ed25519 only.

Design notes (why it looks like this):

* Formats are the public C2SP ones (c2sp.org/signed-note, c2sp.org/tlog-checkpoint,
  c2sp.org/tlog-proof), byte-compatible with golang.org/x/mod/sumdb/note and the
  transparency-dev tooling.  An auditor can check our checkpoints with those
  tools, and witnesses can cosign them, without trusting this code.
* Only Ed25519 (signature type 0x01) is implemented; the spec asks implementations
  to support no more algorithms than they need.
* Signatures from unknown keys are ignored (the spec requires it; it is what makes
  key rotation and witness cosignatures work), but a known key whose signature
  fails rejects the whole note: that is tampering, not an unknown party.
* The parser is strict (no leading zeros, canonical base64, 32-byte roots, no
  control characters) because the same bytes are checked by other verifiers and
  a lenient parser would let two different texts mean the same checkpoint.
* Errors are ``CheckpointError`` with a sentence a compliance officer can act on.

Imports only the standard library, ``cryptography`` and ``merkle``: this file is
copied with ``verify_checkpoint.py`` to machines that do not run the server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

if __package__:
    from . import merkle
else:  # pragma: no cover - copied next to verify_checkpoint.py and run as a plain script
    merkle = importlib.import_module("merkle")

__all__ = [
    "TLOG_PROOF_HEADER",
    "Checkpoint",
    "CheckpointError",
    "NoteSigner",
    "OpenedNote",
    "TlogProof",
    "VerifierKey",
    "format_inclusion_proof",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint_body",
    "parse_tlog_proof",
    "parse_verifier_key",
    "sign",
    "sign_note",
    "verify_inclusion_bundle",
]

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_ALG_ED25519 = 0x01
_SIG_PREFIX = "\u2014 "  # em dash, space
_MAX_SIGNATURES = 100  # the spec demands at least 16; sumdb/note also stops at 100
_MAX_TREE_SIZE = 2**64 - 1  # tree sizes are uint64 in every other implementation
_CONTROL_CHARS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX8 = re.compile(r"[0-9a-f]{8}")


class CheckpointError(ValueError):
    """A note, checkpoint, key or tlog-proof is malformed or does not verify."""


# ---------------------------------------------------------------------------
# Checkpoint body (c2sp.org/tlog-checkpoint "Note text")
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """The three mandatory lines of a tree head plus optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise CheckpointError(f"Tree size {self.size} is outside 0..2^64-1.")
        if len(self.root) != merkle.HASH_SIZE:
            raise CheckpointError(f"Root hash must be {merkle.HASH_SIZE} bytes, got {len(self.root)}.")
        for line in self.extensions:
            _check_line(line, "extension line")

    def body(self) -> str:
        """Return the note text: origin, size and base64 root lines, then extensions."""
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Parse a checkpoint note text (no signatures); raise ``CheckpointError`` if malformed."""
    if not text.endswith("\n"):
        raise CheckpointError("Checkpoint body is malformed: it must end with a newline.")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(
            f"Checkpoint body is malformed: it needs origin, size and root lines, got {len(lines)} line(s)."
        )
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise CheckpointError("Checkpoint body is malformed: the origin line is empty.")
    if not _DECIMAL.fullmatch(size_line) or int(size_line) > _MAX_TREE_SIZE:
        raise CheckpointError(
            f"Checkpoint tree size {size_line!r} is not a decimal number without leading zeros in 0..2^64-1."
        )
    root = _b64decode(root_line, "checkpoint root hash")
    if any(not line for line in extensions):
        raise CheckpointError("Checkpoint body is malformed: extension lines must not be empty.")
    return Checkpoint(origin, int(size_line), root, tuple(extensions))


# ---------------------------------------------------------------------------
# Keys (c2sp.org/signed-note "Ed25519 signatures")
# ---------------------------------------------------------------------------


def _key_id(name: str, public_key: bytes) -> bytes:
    """Key ID = SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([_ALG_ED25519]) + public_key).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class NoteSigner:
    """An Ed25519 note signing key with its key name (normally the log origin)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_key_name(name)
        self._name = name
        self._key = private_key
        self._public = _raw_public(private_key.public_key())
        self._key_id = _key_id(name, self._public)

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """Create a signer with a fresh random key."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes, name: str) -> NoteSigner:
        """Create a signer from a 32-byte RFC 8032 private key seed (as Go's note keys store)."""
        if len(seed) != 32:
            raise ValueError(f"An Ed25519 seed is 32 bytes, got {len(seed)}.")
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_pem(cls, pem: bytes, name: str, password: bytes | None = None) -> NoteSigner:
        """Load a PKCS#8 PEM private key; the key name is not stored in PEM, so pass it."""
        try:
            key = serialization.load_pem_private_key(pem, password=password)
        except TypeError as exc:  # cryptography's way of saying a password is missing or not needed
            raise ValueError(f"The PEM key cannot be loaded: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"The PEM key is {type(key).__name__}, not an Ed25519 private key.")
        return cls(name, key)

    def private_pem(self, password: bytes | None = None) -> bytes:
        """Return the private key as PKCS#8 PEM, encrypted if a password is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @property
    def name(self) -> str:
        """The key name written on signature lines."""
        return self._name

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID that prefixes every signature."""
        return self._key_id

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self._public

    def verifier_key(self) -> str:
        """Return ``<name>+<8 hex key id>+<base64(0x01 || public key)>`` to publish."""
        encoded = _b64encode(bytes([_ALG_ED25519]) + self._public)
        return f"{self._name}+{self._key_id.hex()}+{encoded}"

    def signature_line(self, text: str) -> str:
        """Return the ``— name base64(key id || signature)`` line (with newline) for a note text."""
        signature = self._key.sign(text.encode())
        return f"{_SIG_PREFIX}{self._name} {_b64encode(self._key_id + signature)}\n"

    def __repr__(self) -> str:
        return f"NoteSigner({self.verifier_key()!r})"


@dataclass(frozen=True)
class VerifierKey:
    """A parsed ``name+keyid+base64`` Ed25519 verifier key."""

    name: str
    key_id: bytes
    key: Ed25519PublicKey


def parse_verifier_key(verifier_key: str) -> VerifierKey:
    """Parse and self-check a verifier key string; raise ``CheckpointError`` if it is wrong."""
    text = verifier_key.strip()
    # The name and ID cannot contain '+', but base64 can, so split at most twice.
    parts = text.split("+", 2)
    if len(parts) != 3 or not parts[0] or not _HEX8.fullmatch(parts[1]):
        raise CheckpointError(f"Verifier key {text!r:.100} is not of the form name+8-hex-key-id+base64-key.")
    name, hex_id, encoded = parts
    _check_key_name(name)
    raw = _b64decode(encoded, "verifier public key")
    if len(raw) != 33 or raw[0] != _ALG_ED25519:
        raise CheckpointError(f"Verifier key for {name!r} is not an Ed25519 (type 0x01, 32-byte) key.")
    if _key_id(name, raw[1:]) != bytes.fromhex(hex_id):
        raise CheckpointError(f"Verifier key for {name!r} is corrupt: its key ID does not match the key.")
    return VerifierKey(name, bytes.fromhex(hex_id), Ed25519PublicKey.from_public_bytes(raw[1:]))


def _verifier_table(verifier_keys: Iterable[str]) -> dict[tuple[str, bytes], VerifierKey]:
    if isinstance(verifier_keys, str):
        raise TypeError("verifier_keys must be an iterable of key strings, not a single string.")
    table: dict[tuple[str, bytes], VerifierKey] = {}
    for key_text in verifier_keys:
        verifier = parse_verifier_key(key_text)
        known = table.setdefault((verifier.name, verifier.key_id), verifier)
        if _raw_public(known.key) != _raw_public(verifier.key):
            label = f"{verifier.name}+{verifier.key_id.hex()}"
            raise CheckpointError(f"Two different verifier keys share the name and key ID {label}.")
    return table


# ---------------------------------------------------------------------------
# Signed notes (c2sp.org/signed-note)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedNote:
    """A note whose signatures were checked: its text and the keys that verified it."""

    text: str
    verified_by: tuple[str, ...]
    unknown_signers: tuple[str, ...]


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Return ``text`` + blank line + one signature line per signer."""
    _check_note_text(text)
    if not signers:
        raise ValueError("A signed note needs at least one signer.")
    return text + "\n" + "".join(signer.signature_line(text) for signer in signers)


def open_note(note: str, verifier_keys: Iterable[str]) -> OpenedNote:
    """Verify a signed note against trusted verifier keys and return its text.

    Unknown keys are skipped; any failing known-key signature, or no verified
    known-key signature at all, raises ``CheckpointError``.
    """
    table = _verifier_table(verifier_keys)
    text, signatures = _split_note(note)
    verified: list[str] = []
    unknown: list[str] = []
    for name, key_id, signature in signatures:
        verifier = table.get((name, key_id))
        label = f"{name}+{key_id.hex()}"
        if verifier is None:
            unknown.append(label)
            continue
        try:
            verifier.key.verify(signature, text.encode())
        except InvalidSignature:
            message = f"Signature from known key {label} is invalid: the note was altered."
            raise CheckpointError(message) from None
        if label not in verified:
            verified.append(label)
    if not verified:
        seen = ", ".join(unknown) or "nobody"
        raise CheckpointError(f"No signature from a known key: the note is signed by {seen}.")
    return OpenedNote(text, tuple(verified), tuple(unknown))


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError("Note is malformed: it is not valid UTF-8 text.") from None
    if _CONTROL_CHARS.search(note):
        raise CheckpointError("Note is malformed: it contains control characters other than newline.")
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("Note is malformed: no blank line separates the text from the signatures.")
    text, sig_block = note[: split + 1], note[split + 2 :]
    if not sig_block.endswith("\n"):
        raise CheckpointError("Note is malformed: the signature block is empty or lacks its final newline.")
    lines = sig_block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise CheckpointError(f"Note has {len(lines)} signatures; at most {_MAX_SIGNATURES} are accepted.")
    return text, [_parse_signature_line(line) for line in lines]


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    if not line.startswith(_SIG_PREFIX):
        raise CheckpointError(f"Note is malformed: {line!r:.80} is not an '\u2014 name signature' line.")
    name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not _is_key_name(name) or " " in encoded:
        raise CheckpointError(f"Note is malformed: bad key name or spacing in signature line {line!r:.80}.")
    raw = _b64decode(encoded, f"signature of {name}")
    if len(raw) < 5:
        raise CheckpointError(f"Signature of {name} is too short to hold a key ID and a signature.")
    return name, raw[:4], raw[4:]


# ---------------------------------------------------------------------------
# Signed checkpoints
# ---------------------------------------------------------------------------


def sign(checkpoint: Checkpoint, signer: NoteSigner, *cosigners: NoteSigner) -> str:
    """Return the signed checkpoint note (body, blank line, signature lines)."""
    return sign_note(checkpoint.body(), [signer, *cosigners])


def open_checkpoint(note_text: str, verifier_keys: Iterable[str], *, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint and return it; pass ``origin`` to pin the log identity."""
    opened = open_note(note_text, verifier_keys)
    checkpoint = parse_checkpoint_body(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"Checkpoint is for log {checkpoint.origin!r}, expected {origin!r}.")
    return checkpoint


# ---------------------------------------------------------------------------
# Inclusion proof bundles (c2sp.org/tlog-proof)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TlogProof:
    """The parts of a tlog-proof file; nothing in it is verified yet."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: str
    extra: bytes | None = None


def format_inclusion_proof(
    index: int,
    proof: Sequence[bytes],
    signed_checkpoint: str,
    *,
    leaf_hash: bytes | None = None,
    extra: bytes | None = None,
) -> str:
    """Return a ``.tlog-proof`` text for leaf ``index`` under ``signed_checkpoint``.

    The format has no leaf-hash field (the verifier recomputes it from the record);
    if ``leaf_hash`` is given the proof is checked against the checkpoint's root
    first, so a broken bundle is never written.  ``extra`` is opaque, unsigned data.
    """
    if index < 0:
        raise ValueError(f"Leaf index must not be negative, got {index}.")
    if not signed_checkpoint.endswith("\n"):
        raise ValueError("The signed checkpoint must be the complete note, ending with a newline.")
    if leaf_hash is not None:
        checkpoint = parse_checkpoint_body(_split_note(signed_checkpoint)[0])
        if not merkle.verify_inclusion(leaf_hash, index, checkpoint.size, proof, checkpoint.root):
            raise ValueError(f"The inclusion proof for index {index} does not match the checkpoint root.")
    lines = [TLOG_PROOF_HEADER]
    if extra is not None:
        lines.append("extra " + _b64encode(extra))
    lines.append(f"index {index}")
    for node in proof:
        if len(node) != merkle.HASH_SIZE:
            raise ValueError(f"Proof hashes must be {merkle.HASH_SIZE} bytes, got {len(node)}.")
        lines.append(_b64encode(node))
    return "\n".join(lines) + "\n\n" + signed_checkpoint


def parse_tlog_proof(text: str) -> TlogProof:
    """Split a ``.tlog-proof`` text into its parts; raise ``CheckpointError`` if malformed."""
    head, sep, checkpoint_note = text.partition("\n\n")
    if not sep:
        raise CheckpointError("tlog-proof is malformed: no blank line before the checkpoint.")
    lines = head.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise CheckpointError(f"tlog-proof must start with {TLOG_PROOF_HEADER!r}, got {lines[0]!r:.60}.")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = _b64decode(rest.pop(0)[len("extra ") :], "tlog-proof extra data")
    if not rest or not rest[0].startswith("index "):
        raise CheckpointError("tlog-proof is malformed: the 'index N' line is missing.")
    index_text = rest.pop(0)[len("index ") :]
    if not _DECIMAL.fullmatch(index_text) or int(index_text) > _MAX_TREE_SIZE:
        raise CheckpointError(f"tlog-proof index {index_text!r} is not a plain decimal number.")
    proof = tuple(_b64decode(line, "tlog-proof hash") for line in rest)
    if any(len(node) != merkle.HASH_SIZE for node in proof):
        raise CheckpointError(f"tlog-proof hashes must be {merkle.HASH_SIZE} bytes each.")
    return TlogProof(int(index_text), proof, checkpoint_note, extra)


def verify_inclusion_bundle(
    text: str,
    leaf: bytes,
    verifier_keys: Iterable[str],
    *,
    leaf_is_hash: bool,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a ``.tlog-proof`` for one record and return the checkpoint it proves inclusion in.

    ``leaf`` is the leaf data, or its RFC 6962 leaf hash if ``leaf_is_hash``; the
    flag is required because a 32-byte leaf could be either.
    """
    bundle = parse_tlog_proof(text)
    checkpoint = open_checkpoint(bundle.checkpoint_note, verifier_keys, origin=origin)
    digest = leaf if leaf_is_hash else merkle.leaf_hash(leaf)
    if bundle.index >= checkpoint.size:
        raise CheckpointError(
            f"tlog-proof index {bundle.index} is outside the checkpoint's tree of size {checkpoint.size}."
        )
    if not merkle.verify_inclusion(digest, bundle.index, checkpoint.size, bundle.proof, checkpoint.root):
        raise CheckpointError(
            f"Inclusion proof does not verify: leaf {digest.hex()} is not at index {bundle.index} "
            f"of the tree of size {checkpoint.size} signed by the checkpoint."
        )
    return checkpoint


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: padding required, no stray characters, canonical encoding."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise CheckpointError(f"The {what} {text!r:.60} is not valid standard base64.") from None
    if _b64encode(data) != text:
        raise CheckpointError(f"The {what} {text!r:.60} is not canonical base64.")
    return data


def _check_line(value: str, what: str) -> None:
    if not value or "\n" in value or _CONTROL_CHARS.search(value):
        raise CheckpointError(f"The checkpoint {what} must be a non-empty line without control characters.")


def _is_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() or ord(ch) < 0x20 for ch in name)


def _check_key_name(name: str) -> None:
    if not _is_key_name(name):
        raise CheckpointError(f"Key name {name!r} must be non-empty, without spaces, controls or '+'.")


def _check_note_text(text: str) -> None:
    if not text.endswith("\n") or _CONTROL_CHARS.search(text):
        raise ValueError("Note text must end with a newline and contain no control characters but newlines.")
