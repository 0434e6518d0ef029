"""A Merkle tree held in memory with every level, for many proofs over one tree.

``merkle.py`` proves from a flat list of leaves (O(n) per proof). Verify checks a
consistency proof between every pair of consecutive checkpoints and the API serves
proofs on demand, so here each perfect, aligned subtree is stored once (2n hashes) and
any subtree hash costs O(log n), any proof O(log² n). The RFC 6962 decomposition only
ever asks for aligned subtrees on its left side, which is what makes the cache enough.
"""

from __future__ import annotations

from collections.abc import Sequence

from onfile.ledger.merkle import EMPTY_ROOT, node_hash


class Tree:
    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[Sequence[bytes]] = [leaves]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
        self.size = len(leaves)

    def hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) as RFC 9162 §2.1.1 defines it."""
        n = end - start
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            return self.levels[n.bit_length() - 1][start // n]
        k = 1 << ((n - 1).bit_length() - 1)
        return node_hash(self.hash(start, start + k), self.hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        return self.hash(0, self.size if size is None else size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        if not 0 <= index < size <= self.size:
            raise ValueError(f"no leaf {index} in a tree of size {size} (the log has {self.size})")
        return self._path(index, 0, size)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = 1 << ((n - 1).bit_length() - 1)
        if m < k:
            return [*self._path(m, start, start + k), self.hash(start + k, end)]
        return [*self._path(m - k, start + k, end), self.hash(start, start + k)]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        if not 0 <= old_size <= new_size <= self.size:
            raise ValueError(f"no consistency proof from size {old_size} to {new_size} (the log has {self.size})")
        if old_size == 0 or old_size == new_size:
            return []
        return self._subproof(old_size, 0, new_size, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self.hash(start, end)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return [*self._subproof(m, start, start + k, complete), self.hash(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self.hash(start, start + k)]
