"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

Design notes (why it looks like this):

* The archive's tamper evidence is a Certificate-Transparency-style log, so the
  hashing must be byte-for-byte RFC 9162 section 2.1 (same as RFC 6962): leaves
  are ``SHA-256(0x00 || data)`` and interior nodes ``SHA-256(0x01 || l || r)``.
  The distinct prefixes stop a leaf being passed off as an interior node.
* ``root()`` hashes bottom-up, level by level.  Carrying an unpaired last node up
  unchanged gives exactly the RFC's "split at the largest power of two below n"
  tree, without recursion, and keeps the inner loop a list comprehension so a
  million leaves take about a second in CPython.
* ``Accumulator`` is the "compact range" (frontier) of the tree: one perfect
  subtree root per set bit of the size.  Appending is amortised O(1) and the
  root at the current size is O(log n), so a verifier can stream every leaf once
  and check the root at each signed checkpoint's size as it goes by.
* Proof generation follows the recursive definitions in RFC 9162 2.1.3.1 and
  2.1.4.1 but walks them iteratively; each sibling subtree is hashed once, so it
  is O(n) hashing, never quadratic.  Verification is the RFC 9162 2.1.3.2 and
  2.1.4.2 bit-walking algorithms, which need no tree at all.
* The verify functions return ``False`` for any proof that does not check out,
  including nonsensical sizes, because their input comes from untrusted files.
  The generating functions raise ``ValueError``: bad arguments there are bugs.

This module must import only the standard library: it is copied, together with
``checkpoint.py`` and ``verify_checkpoint.py``, to machines without the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Accumulator",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT: bytes = sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || data)``."""
    return sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return sha256(_NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash (RFC 9162 2.1.1) of the given leaf hashes."""
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def _next_level(level: list[bytes]) -> list[bytes]:
    pairs = iter(level)
    # zip() over one iterator pairs neighbours; the odd node out is carried up.
    parents = [
        sha256(_NODE_PREFIX + left + right).digest() for left, right in zip(pairs, pairs, strict=False)
    ]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


class Accumulator:
    """Streaming Merkle tree: append leaf hashes, ask for the root at any time.

    Holds only the frontier (one perfect-subtree root per set bit of ``size``,
    largest subtree first), so memory is O(log n).  ``frontier`` and ``size`` can
    be persisted and fed back to the constructor to resume an interrupted run.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self, size: int = 0, frontier: Iterable[bytes] = ()) -> None:
        nodes = list(frontier)
        if size < 0:
            raise ValueError(f"Accumulator size must not be negative, got {size}.")
        if len(nodes) != size.bit_count():
            raise ValueError(
                f"An accumulator of size {size} needs {size.bit_count()} frontier hashes, got {len(nodes)}."
            )
        for node in nodes:
            _check_hash(node, "frontier hash")
        self._size = size
        self._frontier = nodes

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """Perfect-subtree roots covering the leaves, largest subtree first."""
        return tuple(self._frontier)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash (not leaf data) at index ``size``."""
        self.extend((leaf_hash,))

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes in order; the fast path for streaming many leaves."""
        # Locals instead of attribute look-ups: this loop runs once per archived record.
        frontier, size, digest, prefix = self._frontier, self._size, sha256, _NODE_PREFIX
        try:
            for item in leaf_hashes:
                if item.__class__ is not bytes or len(item) != HASH_SIZE:
                    _check_hash(item, "leaf hash")
                frontier.append(item)
                # Each trailing 1 bit of the old size is a same-height subtree to merge with.
                carry = size
                while carry & 1:
                    right = frontier.pop()
                    frontier[-1] = digest(prefix + frontier[-1] + right).digest()
                    carry >>= 1
                size += 1
        finally:
            self._size = size

    def root(self) -> bytes:
        """Return the Merkle Tree Hash of the leaves appended so far."""
        if not self._frontier:
            return EMPTY_ROOT
        nodes = reversed(self._frontier)
        acc = next(nodes)
        for left in nodes:
            acc = sha256(_NODE_PREFIX + left + acc).digest()
        return acc

    def __repr__(self) -> str:
        return f"Accumulator(size={self._size})"


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """Return the audit path for leaf ``index`` in the tree of the first ``size`` leaves.

    Implements PATH(m, D[n]) from RFC 9162 2.1.3.1; the result is ordered from the
    leaf's sibling up to the root's child, as the verifier and tlog-proof expect.
    """
    _check_size(leaf_hashes, size, "size")
    if not 0 <= index < size:
        raise ValueError(f"Leaf index {index} is outside the tree of size {size} (valid: 0..{size - 1}).")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        split = lo + _largest_power_of_two_below(hi - lo)
        if index < split:
            path.append(root(leaf_hashes[split:hi]))
            hi = split
        else:
            path.append(root(leaf_hashes[lo:split]))
            lo = split
    path.reverse()
    return path


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """Return the proof that the tree of ``old_size`` leaves is a prefix of the one of ``new_size``.

    Implements PROOF(m, D[n]) / SUBPROOF from RFC 9162 2.1.4.1.  Equal sizes and an
    empty old tree need no proof, so the result is empty for them.
    """
    _check_size(leaf_hashes, new_size, "new_size")
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old_size {old_size} must be between 0 and new_size {new_size}.")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    lo, hi, m, whole_old_tree = 0, new_size, old_size, True
    while m != hi - lo:
        split = _largest_power_of_two_below(hi - lo)
        if m <= split:
            proof.append(root(leaf_hashes[lo + split : hi]))
            hi = lo + split
        else:
            proof.append(root(leaf_hashes[lo : lo + split]))
            lo, m, whole_old_tree = lo + split, m - split, False
    # When the old tree is itself a complete subtree the verifier already has its root.
    if not whole_old_tree:
        proof.append(root(leaf_hashes[lo:hi]))
    proof.reverse()
    return proof


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Check an audit path with the RFC 9162 2.1.3.2 algorithm."""
    if not 0 <= index < size or not _all_hashes(proof, leaf_hash, root):
        return False
    fn, sn, acc = index, size - 1, leaf_hash
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            acc = node_hash(sibling, acc)
            # Skip levels where this node is the right edge with no sibling.
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            acc = node_hash(acc, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and acc == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof with the RFC 9162 2.1.4.2 algorithm.

    Size 0 is consistent with everything, but only if ``old_root`` is the empty
    tree's root: a checkpoint claiming an empty tree with any other root is wrong.
    """
    if not 0 <= old_size <= new_size or not _all_hashes(proof, old_root, new_root):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    return _walk_consistency(old_size, new_size, old_root, new_root, path)


def _walk_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: list[bytes]
) -> bool:
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


def _largest_power_of_two_below(n: int) -> int:
    """Return k, the largest power of two with k < n (the RFC's split point); needs n > 1."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_size(leaf_hashes: Sequence[bytes], size: int, what: str) -> None:
    if size < 0:
        raise ValueError(f"{what} must not be negative, got {size}.")
    if size > len(leaf_hashes):
        raise ValueError(f"{what} {size} is larger than the {len(leaf_hashes)} leaf hashes supplied.")


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ValueError(f"A {what} must be {HASH_SIZE} bytes (a SHA-256 digest), got {value!r:.80}.")


def _all_hashes(proof: Sequence[bytes], *others: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in (*proof, *others))
