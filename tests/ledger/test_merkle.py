"""Tests for onfile.ledger.merkle against published RFC 6962 vectors and an RFC-literal oracle.

Known-answer vectors are copied from transparency-dev/merkle, ``proof/verify_test.go``
(Apache-2.0; the same vectors as the certificate-transparency reference code):
https://github.com/transparency-dev/merkle/blob/main/proof/verify_test.go
Their ``inclusionProofs`` use 1-based leaf numbers; below they are 0-based indexes.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onfile.ledger import merkle
from onfile.ledger.merkle import (
    EMPTY_ROOT,
    Accumulator,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --- vectors from transparency-dev/merkle proof/verify_test.go -------------------------------

LEAF_DATA = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
LEAVES = [leaf_hash(d) for d in LEAF_DATA]

# ROOTS[n - 1] is the Merkle Tree Hash of the first n leaves.
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]

# (0-based index, tree size, audit path)
INCLUSION_VECTORS: list[tuple[int, int, list[str]]] = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (old size, new size, consistency proof)
CONSISTENCY_VECTORS: list[tuple[int, int, list[str]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

# --- an independent oracle: RFC 9162 2.1 definitions transcribed literally (recursive) ---------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


# Distinct leaves for the property tests; sliced, never mutated.
POOL = [leaf_hash(i.to_bytes(4, "big")) for i in range(300)]


def _flip(proof: list[bytes], element: int, byte: int) -> list[bytes]:
    changed = bytearray(proof[element])
    changed[byte] ^= 0x01
    return [*proof[:element], bytes(changed), *proof[element + 1 :]]


# --- known-answer tests -----------------------------------------------------------------------


def test_hash_primitives_and_empty_root() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT
    assert Accumulator().root() == EMPTY_ROOT
    # The one-leaf tree's root is the leaf hash of "" (ROOTS[0] in the Go vectors).
    assert leaf_hash(b"") == ROOTS[0]
    assert node_hash(LEAVES[0], LEAVES[1]) == ROOTS[1]
    # Domain separation: a leaf of 64 bytes must not hash like a node over two halves.
    assert leaf_hash(LEAVES[0] + LEAVES[1]) != node_hash(LEAVES[0], LEAVES[1])


@pytest.mark.parametrize("size", range(1, 9))
def test_root_matches_reference_vector(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size - 1]


def test_accumulator_matches_reference_vectors_at_every_size() -> None:
    acc = Accumulator()
    for size, leaf in enumerate(LEAVES, start=1):
        acc.append(leaf)
        assert acc.size == size
        assert acc.root() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION_VECTORS)
def test_inclusion_proof_matches_vector(index: int, size: int, expected: list[str]) -> None:
    proof = inclusion_proof(LEAVES, index, size)
    assert [p.hex() for p in proof] == expected
    assert verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY_VECTORS)
def test_consistency_proof_matches_vector(old: int, new: int, expected: list[str]) -> None:
    proof = consistency_proof(LEAVES, old, new)
    assert [p.hex() for p in proof] == expected
    assert verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


def _corrupt_inclusion(
    index: int, size: int, proof: list[bytes], rt: bytes, leaf: bytes
) -> dict[str, tuple[Any, ...]]:
    """The probes of corruptInclusionProof() in verify_test.go; none may verify."""
    probes: dict[str, tuple[Any, ...]] = {
        "index - 1": (leaf, index - 1, size, proof, rt),
        "index + 1": (leaf, index + 1, size, proof, rt),
        "index ^ 2": (leaf, index ^ 2, size, proof, rt),
        "size * 2": (leaf, index, size * 2, proof, rt),
        "size // 2": (leaf, index, size // 2, proof, rt),
        "wrong leaf": (leaf_hash(b"WrongLeaf"), index, size, proof, rt),
        "empty root": (leaf, index, size, proof, EMPTY_ROOT),
        "random root": (leaf, index, size, proof, SOME_HASH),
        "trailing garbage": (leaf, index, size, [*proof, b""], rt),
        "trailing root": (leaf, index, size, [*proof, rt], rt),
        "preceding garbage": (leaf, index, size, [b"", *proof], rt),
        "preceding root": (leaf, index, size, [rt, *proof], rt),
    }
    for i in range(len(proof)):
        probes[f"flipped proof[{i}]"] = (leaf, index, size, _flip(proof, i, 0), rt)
    if proof:
        probes["removed component"] = (leaf, index, size, proof[:-1], rt)
    if len(proof) > 1:
        probes["inserted component"] = (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], rt)
    return probes


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION_VECTORS)
def test_corrupted_inclusion_proofs_fail(index: int, size: int, expected: list[str]) -> None:
    proof = [bytes.fromhex(h) for h in expected]
    probes = _corrupt_inclusion(index, size, proof, ROOTS[size - 1], LEAVES[index])
    wrongly_accepted = [name for name, args in probes.items() if verify_inclusion(*args)]
    assert wrongly_accepted == []


@pytest.mark.parametrize(("old", "new", "expected"), [v for v in CONSISTENCY_VECTORS if v[2]])
def test_corrupted_consistency_proofs_fail(old: int, new: int, expected: list[str]) -> None:
    proof = [bytes.fromhex(h) for h in expected]
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    probes: dict[str, tuple[Any, ...]] = {
        "old - 1": (old - 1, new, r1, r2, proof),
        "old + 1": (old + 1, new, r1, r2, proof),
        "old ^ 2": (old ^ 2, new, r1, r2, proof),
        "new * 2": (old, new * 2, r1, r2, proof),
        "new // 2": (old, new // 2, r1, r2, proof),
        "wrong root1": (old, new, SOME_HASH, r2, proof),
        "wrong root2": (old, new, r1, SOME_HASH, proof),
        "swapped roots": (old, new, r2, r1, proof),
        "empty proof": (old, new, r1, r2, []),
        "trailing garbage": (old, new, r1, r2, [*proof, b""]),
        "trailing root1": (old, new, r1, r2, [*proof, r1]),
        "trailing root2": (old, new, r1, r2, [*proof, r2]),
        "preceding garbage": (old, new, r1, r2, [b"", *proof]),
        "preceding root1": (old, new, r1, r2, [r1, *proof]),
        "preceding root2": (old, new, r1, r2, [r2, *proof]),
        "preceding proof[0]": (old, new, r1, r2, [proof[0], *proof]),
        "truncated proof": (old, new, r1, r2, proof[:-1]),
    }
    for i in range(len(proof)):
        probes[f"flipped proof[{i}]"] = (old, new, r1, r2, _flip(proof, i, 0))
    wrongly_accepted = [name for name, args in probes.items() if verify_consistency(*args)]
    assert wrongly_accepted == []


# --- edge cases -------------------------------------------------------------------------------


def test_single_leaf_inclusion() -> None:
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [], SOME_HASH)
    assert not verify_inclusion(b"", 0, 1, [], b"")  # wrong hash sizes are never accepted


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 1)])
def test_inclusion_with_impossible_index_is_false(index: int, size: int) -> None:
    assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
    assert not verify_inclusion(SOME_HASH, index, size, [], SOME_HASH)


@pytest.mark.parametrize(
    ("old", "new", "r1", "r2", "proof", "ok"),
    [
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 5, EMPTY_ROOT, SOME_HASH, [], True),  # the empty tree is a prefix of every tree
        (0, 5, SOME_HASH, SOME_HASH, [], False),  # but only if it really is the empty tree's root
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),  # a needless proof is suspicious
        (1, 1, SOME_HASH, SOME_HASH, [], True),
        (1, 1, SOME_HASH, EMPTY_ROOT, [], False),
        (1, 1, SOME_HASH, SOME_HASH, [EMPTY_ROOT], False),
        (1, 0, SOME_HASH, SOME_HASH, [], False),  # time travel
        (2, 1, SOME_HASH, SOME_HASH, [], False),
        (1, 2, ROOTS[0], ROOTS[1], [], False),  # growth needs a proof
        (-1, 2, ROOTS[0], ROOTS[1], [], False),
    ],
)
def test_consistency_edge_cases(
    old: int, new: int, r1: bytes, r2: bytes, proof: list[bytes], ok: bool
) -> None:
    assert verify_consistency(old, new, r1, r2, proof) is ok


def test_generation_rejects_out_of_range_arguments_with_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"Leaf index 8 is outside the tree of size 8"):
        inclusion_proof(LEAVES, 8, 8)
    with pytest.raises(ValueError, match=r"Leaf index -1 is outside"):
        inclusion_proof(LEAVES, -1, 8)
    with pytest.raises(ValueError, match=r"Leaf index 0 is outside the tree of size 0"):
        inclusion_proof(LEAVES, 0, 0)
    with pytest.raises(ValueError, match=r"size 9 is larger than the 8 leaf hashes"):
        inclusion_proof(LEAVES, 0, 9)
    with pytest.raises(ValueError, match=r"old_size 9 must be between 0 and new_size 8"):
        consistency_proof(LEAVES, 9, 8)
    with pytest.raises(ValueError, match=r"new_size 9 is larger than the 8 leaf hashes"):
        consistency_proof(LEAVES, 1, 9)
    with pytest.raises(ValueError, match=r"must not be negative"):
        consistency_proof(LEAVES, 0, -1)


def test_trivial_consistency_proofs_are_empty() -> None:
    assert consistency_proof(LEAVES, 0, 8) == []
    assert consistency_proof(LEAVES, 8, 8) == []
    assert consistency_proof([], 0, 0) == []


def test_accumulator_rejects_bad_input() -> None:
    acc = Accumulator()
    with pytest.raises(ValueError, match="32 bytes"):
        acc.append(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        acc.extend([LEAVES[0], b"x" * 33])
    # The good leaf before the bad one was kept, and the size says so.
    assert acc.size == 1
    assert acc.root() == ROOTS[0]
    with pytest.raises(ValueError, match="needs 2 frontier hashes, got 1"):
        Accumulator(3, [SOME_HASH])
    with pytest.raises(ValueError, match="must not be negative"):
        Accumulator(-1)


def test_accumulator_resumes_from_its_frontier() -> None:
    first = Accumulator()
    first.extend(LEAVES[:5])
    resumed = Accumulator(first.size, first.frontier)
    resumed.extend(LEAVES[5:])
    assert resumed.size == 8
    assert resumed.root() == ROOTS[7]
    assert len(first.frontier) == 2  # 5 = 0b101: one 4-leaf subtree and one leaf


def test_root_does_not_modify_its_input() -> None:
    leaves = list(LEAVES[:7])
    root(leaves)
    assert leaves == LEAVES[:7]


def test_merkle_imports_only_the_standard_library() -> None:
    source = Path(merkle.__file__).read_text(encoding="utf-8")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)


# --- property tests against the RFC-literal oracle ---------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=300))
def test_root_and_accumulator_match_oracle(size: int) -> None:
    leaves = POOL[:size]
    expected = ref_mth(leaves)
    assert root(leaves) == expected
    acc = Accumulator()
    acc.extend(leaves)
    assert acc.root() == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=8))
def test_accumulator_streams_through_many_checkpoint_sizes(sizes: list[int]) -> None:
    acc, done = Accumulator(), 0
    for size in sorted(sizes):
        acc.extend(POOL[done:size])
        done = size
        assert acc.size == size
        assert acc.root() == ref_mth(POOL[:size])


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(min_value=1, max_value=300))
    return size, draw(st.integers(min_value=0, max_value=size - 1))


@settings(max_examples=200, deadline=None)
@given(tree_and_index(), st.data())
def test_every_inclusion_proof_verifies_and_tampering_fails(
    case: tuple[int, int], data: st.DataObject
) -> None:
    size, index = case
    leaves, rt = POOL[:size], ref_mth(POOL[:size])
    proof = inclusion_proof(leaves, index, size)
    assert proof == ref_path(index, leaves)
    assert verify_inclusion(leaves[index], index, size, proof, rt)

    other = data.draw(st.integers(min_value=0, max_value=size - 1).filter(lambda i: i != index), "other")
    if size > 1:
        assert not verify_inclusion(leaves[index], other, size, proof, rt)
        assert not verify_inclusion(leaves[other], index, size, proof, rt)
        element = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), "element")
        byte = data.draw(st.integers(min_value=0, max_value=31), "byte")
        assert not verify_inclusion(leaves[index], index, size, _flip(proof, element, byte), rt)


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(min_value=1, max_value=300))
    return draw(st.integers(min_value=1, max_value=new)), new


@settings(max_examples=200, deadline=None)
@given(two_sizes(), st.data())
def test_every_consistency_proof_verifies_and_tampering_fails(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    old, new = sizes
    leaves = POOL[:new]
    r1, r2 = ref_mth(leaves[:old]), ref_mth(leaves)
    proof = consistency_proof(leaves, old, new)
    assert proof == ([] if old == new else ref_subproof(old, leaves, True))
    assert verify_consistency(old, new, r1, r2, proof)
    if proof:
        element = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), "element")
        byte = data.draw(st.integers(min_value=0, max_value=31), "byte")
        assert not verify_consistency(old, new, r1, r2, _flip(proof, element, byte))
    # A rewritten history: the same sizes but one old leaf changed must not be provably consistent.
    changed = data.draw(st.integers(min_value=0, max_value=old - 1), "changed")
    forged = [*leaves[:changed], leaf_hash(b"forged"), *leaves[changed + 1 :]]
    assert not verify_consistency(old, new, ref_mth(forged[:old]), r2, proof)
    assert not verify_consistency(old, new, r1, ref_mth(forged), proof)
