"""Making signed checkpoints (REQ-TE-3) and proofs for anyone (REQ-TE-4).

A checkpoint signs the Merkle root of the first ``size`` entries. Before signing, the log
checks itself: the root at the previous checkpoint's size must equal that checkpoint's root
(a log must never sign two checkpoints that are inconsistent with each other) and every
leaf added since is recomputed from its row. So a row altered after the last checkpoint is
caught here, and one altered before it is caught by ``onfile verify``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from onfile.ledger import merkle
from onfile.ledger.checkpoint import Checkpoint as CheckpointBody
from onfile.ledger.checkpoint import sign
from onfile.ledger.keys import signer
from onfile.ledger.log import leaf_bytes
from onfile.ledger.models import Checkpoint
from onfile.ledger.tree import Tree


class CheckpointRefused(Exception):
    """The log is not consistent with its last checkpoint; nothing was signed."""


def iter_leaf_rows(start: int = 0, stop: int | None = None, batch: int = 5000) -> Iterator[tuple[object, ...]]:
    sql = ("SELECT seq, time, kind, actor, subject, attrs, blob_id, commitment, leaf_hash"
           " FROM ledger_entry WHERE seq >= %s")
    params: list[int] = [start]
    if stop is not None:
        sql += " AND seq < %s"
        params.append(stop)
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql + " ORDER BY seq", params)
        while rows := cursor.fetchmany(batch):
            yield from rows


def leaf_hashes(size: int) -> list[bytes]:
    return [bytes.fromhex(str(row[8])) for row in iter_leaf_rows(0, size)]


def _committed_size() -> int:
    # FOR UPDATE waits for appends in flight, so every seq below the size is committed.
    lock = "" if connection.vendor == "sqlite" else " FOR UPDATE"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT size FROM ledger_head WHERE id = 1" + lock)  # noqa: S608 (constant text)
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


def compute_head(size: int, previous: Checkpoint | None) -> TreeHead:
    acc = merkle.Accumulator()
    expected_seq = 0
    for row in iter_leaf_rows(0, size):
        seq, time, kind, actor, subject, attrs, blob_id, commitment, stored = row
        if seq != expected_seq:
            raise CheckpointRefused(f"entry {expected_seq} is missing from the ledger")
        digest = bytes.fromhex(str(stored))
        if previous is None or expected_seq >= previous.size:
            fresh = merkle.leaf_hash(leaf_bytes(int(str(seq)), str(time), str(kind), str(actor), str(subject),
                                                str(attrs), None if blob_id is None else int(str(blob_id)),
                                                str(commitment)))
            if fresh != digest:
                raise CheckpointRefused(f"entry {seq} does not match its leaf hash: it was altered")
        acc.append(digest)
        expected_seq += 1
        if previous is not None and acc.size == previous.size and acc.root().hex() != previous.root:
            raise CheckpointRefused(
                f"the ledger no longer matches the checkpoint at size {previous.size}: an entry before it was altered"
            )
    if expected_seq != size:
        raise CheckpointRefused(f"the ledger has {expected_seq} entries but its head says {size}")
    return TreeHead(size, acc.root())


def checkpoint_dir() -> Path:
    return Path(settings.DATA_DIR) / "checkpoints"


def _write_copy(cp: Checkpoint) -> None:
    # The off-database copy an auditor can compare with (REQ-TE-3: stored outside the log too).
    path = checkpoint_dir() / f"{cp.size:012d}-{cp.pk}.checkpoint"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(cp.note)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def do_checkpoint(reason: str = "on-demand", force: bool = False) -> Checkpoint | None:
    """Sign the current tree head; ``None`` when nothing changed since the last one."""
    size = _committed_size()
    previous = Checkpoint.objects.order_by("-size", "-id").first()
    if previous is not None and previous.size == size and not force:
        return None
    if previous is not None and previous.size > size:
        raise CheckpointRefused(
            f"the ledger has {size} entries but a checkpoint was signed at size {previous.size}: entries were removed"
        )
    head = compute_head(size, previous)
    body = CheckpointBody(origin=settings.LOG_ORIGIN, size=head.size, root=head.root)
    note = sign(body, signer())
    with transaction.atomic():
        cp = Checkpoint.objects.create(size=head.size, root=head.root.hex(), note=note, reason=reason)
    _write_copy(cp)
    return cp


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-size", "-id").first()


def tree(size: int) -> Tree:
    return Tree(leaf_hashes(size))


def b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(item).decode("ascii") for item in items]
