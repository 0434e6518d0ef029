"""Proofs for anyone: an inclusion proof bundle (C2SP tlog-proof) for one entry, and a
consistency proof between two signed sizes (RFC 9162 §2.1.4)."""

from __future__ import annotations

from dataclasses import dataclass

from onfile.ledger.checkpoint import format_inclusion_proof
from onfile.ledger.checkpoints import do_checkpoint, latest_checkpoint, tree
from onfile.ledger.log import leaf_bytes
from onfile.ledger.models import Checkpoint, Entry


class ProofError(ValueError):
    pass


@dataclass(frozen=True)
class InclusionBundle:
    seq: int
    leaf: bytes  # the exact leaf bytes; SHA-256(0x00‖leaf) is the leaf hash
    tlog_proof: str


def entry_leaf(entry: Entry) -> bytes:
    return leaf_bytes(entry.seq, entry.time, entry.kind, entry.actor, entry.subject, entry.attrs,
                      entry.blob_id, entry.commitment)


def inclusion_bundle(seq: int) -> InclusionBundle:
    entry = Entry.objects.filter(seq=seq).first()
    if entry is None:
        raise ProofError(f"there is no ledger entry {seq}")
    cp = latest_checkpoint()
    if cp is None or cp.size <= seq:
        cp = do_checkpoint(reason="proof") or latest_checkpoint()
    assert cp is not None
    proof = tree(cp.size).inclusion_proof(seq, cp.size)
    text = format_inclusion_proof(seq, proof, cp.note, leaf_hash=bytes.fromhex(entry.leaf_hash))
    return InclusionBundle(seq, entry_leaf(entry), text)


def consistency(old_size: int, new_size: int) -> tuple[Checkpoint, Checkpoint, list[bytes]]:
    """A proof between two *signed* sizes, with both checkpoints so it can be checked offline."""
    old = Checkpoint.objects.filter(size=old_size).order_by("id").first()
    new = Checkpoint.objects.filter(size=new_size).order_by("id").first()
    if old is None or new is None:
        raise ProofError(f"both sizes must have a signed checkpoint (old {old_size}: {'yes' if old else 'no'},"
                         f" new {new_size}: {'yes' if new else 'no'})")
    if old_size > new_size:
        raise ProofError("the old size must not be larger than the new size")
    return old, new, tree(new_size).consistency_proof(old_size, new_size)
