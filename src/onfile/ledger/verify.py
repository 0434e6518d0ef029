"""``onfile verify``: recompute everything and say exactly what is wrong (REQ-TE-5, REQ-SEC-6).

One pass over the ledger in sequence order: every leaf is recomputed from its row and
compared with the stored leaf hash; every blob's ciphertext is re-read and re-hashed and
compared with the entry's commitment; the Merkle root is recomputed at every checkpoint's
size and compared with the signed root; each checkpoint's signature is checked against
the verifier keys alone; consecutive checkpoints are checked for consistency with an
RFC 9162 consistency proof; the head count must match the rows and never be below a signed
size (truncation). The first bad sequence number is named.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection

from onfile.ledger import merkle
from onfile.ledger.blobs import blob_dir
from onfile.ledger.checkpoint import CheckpointError, open_checkpoint
from onfile.ledger.checkpoints import checkpoint_dir
from onfile.ledger.keys import master_key, verifier_keys
from onfile.ledger.log import leaf_bytes
from onfile.ledger.models import Checkpoint, Head
from onfile.ledger.tree import Tree

READ_SIZE = 1 << 20


@dataclass
class Problem:
    seq: int | None
    what: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.what}" if self.seq is not None else self.what


@dataclass
class Report:
    entries: int = 0
    head_size: int = 0
    blobs: int = 0
    blobs_disposed: int = 0
    bytes_hashed: int = 0
    checkpoints: int = 0
    seconds: float = 0.0
    root: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok, "entries": self.entries, "head_size": self.head_size, "blobs": self.blobs,
            "blobs_disposed": self.blobs_disposed, "bytes_hashed": self.bytes_hashed,
            "checkpoints": self.checkpoints, "seconds": round(self.seconds, 3), "root": self.root,
            "first_bad_seq": self.first_bad_seq, "problems": [str(p) for p in self.problems],
        }


_QUERY = (
    "SELECT e.seq, e.time, e.kind, e.actor, e.subject, e.attrs, e.blob_id, e.commitment, e.leaf_hash,"
    " b.id, b.cipher_sha256, b.inline, b.path, b.shredded_at"
    " FROM ledger_entry e LEFT JOIN ledger_blob b ON b.id = e.blob_id ORDER BY e.seq"
)


def _hash_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(READ_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class _Verifier:
    def __init__(self, report: Report, limit: int) -> None:
        self.report = report
        self.limit = limit
        self.acc = merkle.Accumulator()
        self.leaves: list[bytes] = []
        self.keys = verifier_keys()
        self.checkpoints = list(Checkpoint.objects.order_by("size", "id"))
        self.roots: dict[int, bytes] = {}
        self.blob_root = blob_dir()

    def problem(self, seq: int | None, what: str) -> None:
        if len(self.report.problems) < self.limit:
            self.report.problems.append(Problem(seq, what))

    def check_blob(self, seq: int, row: tuple[object, ...]) -> None:
        commitment = str(row[7])
        blob_id, cipher_sha, inline, path, shredded = row[9], row[10], row[11], row[12], row[13]
        if blob_id is None:
            self.problem(seq, f"its blob {row[6]} is missing from the blob table")
            return
        self.report.blobs += 1
        if shredded is not None:
            self.report.blobs_disposed += 1
            return
        if cipher_sha != commitment:
            self.problem(seq, f"blob {blob_id}'s recorded hash differs from the entry's commitment")
        if inline is not None:
            data = bytes(inline)  # type: ignore[call-overload]
            digest, size = hashlib.sha256(data).hexdigest(), len(data)
        else:
            try:
                digest, size = _hash_file(self.blob_root / str(path))
            except FileNotFoundError:
                self.problem(seq, f"blob {blob_id}'s file {path} is missing")
                return
            except OSError as exc:
                self.problem(seq, f"blob {blob_id}'s file {path} cannot be read: {exc.strerror}")
                return
        self.report.bytes_hashed += size
        if digest != commitment:
            self.problem(seq, f"blob {blob_id}'s bytes do not match the entry's commitment: the blob was altered")

    def check_row(self, expected: int, row: tuple[object, ...]) -> None:
        seq = int(str(row[0]))
        if seq != expected:
            self.problem(expected, f"entries {expected}…{seq - 1} are missing (the sequence jumps to {seq})")
        blob_ref = None if row[6] is None else int(str(row[6]))
        leaf = leaf_bytes(seq, str(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]), blob_ref, str(row[7]))
        digest = merkle.leaf_hash(leaf)
        self.report.bytes_hashed += len(leaf)
        if digest.hex() != row[8]:
            self.problem(seq, "its content does not match its leaf hash: the entry was altered")
        if blob_ref is not None:
            self.check_blob(seq, row)
        # Use the recomputed hash: a row altered together with its stored hash still changes the root.
        self.acc.append(digest)
        self.leaves.append(digest)

    def run(self) -> None:
        sizes = {cp.size for cp in self.checkpoints}
        expected = 0
        with connection.chunked_cursor() as cursor:
            cursor.execute(_QUERY)
            while rows := cursor.fetchmany(2000):
                for row in rows:
                    self.check_row(expected, row)
                    expected = int(str(row[0])) + 1
                    if self.acc.size in sizes:
                        self.roots[self.acc.size] = self.acc.root()
        self.report.entries = self.acc.size
        self.report.root = self.acc.root().hex()
        if 0 in sizes:
            self.roots[0] = merkle.EMPTY_ROOT
        self.check_checkpoints()

    def check_checkpoints(self) -> None:
        self.tree = Tree(self.leaves)
        previous: tuple[int, bytes] | None = None
        for cp in self.checkpoints:
            self.report.checkpoints += 1
            label = f"checkpoint {cp.pk} (size {cp.size})"
            try:
                signed = open_checkpoint(cp.note, self.keys)
            except CheckpointError as exc:
                self.problem(None, f"{label}: {exc}")
                continue
            if signed.size != cp.size or signed.root.hex() != cp.root:
                self.problem(None, f"{label}: the signed text does not match the recorded size/root")
            self.check_copy(cp, label)
            recomputed = self.roots.get(signed.size)
            if recomputed is None:
                self.problem(signed.size if signed.size <= self.report.entries else self.report.entries,
                             f"{label}: the ledger has only {self.report.entries} entries; entries were removed")
                continue
            if recomputed != signed.root:
                self.problem(None, f"{label}: the recomputed root differs from the signed root")
            if previous is not None:
                self.check_consistency(previous, (signed.size, signed.root), label)
            previous = (signed.size, signed.root)

    def check_copy(self, cp: Checkpoint, label: str) -> None:
        copy = checkpoint_dir() / f"{cp.size:012d}-{cp.pk}.checkpoint"
        if copy.exists() and copy.read_text(encoding="utf-8") != cp.note:
            self.problem(None, f"{label}: differs from its file copy {copy.name}: a checkpoint was replaced")

    def check_consistency(self, old: tuple[int, bytes], new: tuple[int, bytes], label: str) -> None:
        if old[0] == new[0]:
            if old[1] != new[1]:
                self.problem(None, f"{label}: two checkpoints of the same size have different roots (a fork)")
            return
        proof = self.tree.consistency_proof(old[0], new[0])
        if not merkle.verify_consistency(old[0], new[0], old[1], new[1], proof):
            self.problem(None, f"{label}: not consistent with the checkpoint at size {old[0]} (a fork)")


def verify(limit: int = 50) -> Report:
    """Verify the whole archive; at most ``limit`` problems are listed."""
    started = time.perf_counter()
    report = Report()
    head = Head.objects.filter(pk=1).first()
    if head is None:
        report.problems.append(Problem(None, "the ledger is not initialised: run 'onfile init'"))
        return report
    report.head_size = head.size
    key_id = master_key().key_id
    if head.master_key_id and head.master_key_id != key_id:
        report.problems.append(Problem(
            None, f"the master key in use ({key_id}) is not the one this archive was created with "
                  f"({head.master_key_id}): blobs cannot be opened"))
    verifier = _Verifier(report, limit)
    verifier.run()
    if report.entries != head.size:
        first_missing = report.entries
        report.problems.append(Problem(
            first_missing, f"the ledger head says {head.size} entries but {report.entries} are stored: "
                           "entries were removed"))
    report.problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    report.seconds = time.perf_counter() - started
    return report
