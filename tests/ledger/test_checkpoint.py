"""Tests for onfile.ledger.checkpoint and the standalone verify_checkpoint CLI.

Known-answer vectors (copied, with their sources):

* golang.org/x/mod ``sumdb/note/note_test.go`` (BSD-3-Clause): the PeterNeumann and
  EnochRoot keys, the signed Neumann quote, and the malformed-note cases.
  https://github.com/golang/mod/blob/master/sumdb/note/note_test.go
* transparency-dev/formats ``log/note_test.go`` (Apache-2.0): the Log/Known/KnownAgain/
  Unknown key pairs and a real sum.golang.org checkpoint with its verifier key.
  https://github.com/transparency-dev/formats/blob/main/log/note_test.go
* C2SP ``tlog-proof.md``: the example proof layout.  https://github.com/C2SP/C2SP
* RFC 6962 leaves/roots as in test_merkle.py (transparency-dev/merkle proof/verify_test.go).
"""

from __future__ import annotations

import ast
import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.ledger.test_merkle import LEAF_DATA

from onfile.ledger import merkle
from onfile.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteSigner,
    format_inclusion_proof,
    open_checkpoint,
    open_note,
    parse_checkpoint_body,
    parse_tlog_proof,
    parse_verifier_key,
    sign,
    sign_note,
    verify_inclusion_bundle,
)

SRC = Path(__file__).resolve().parents[2] / "src"
LEDGER = SRC / "onfile" / "ledger"

# --- golang.org/x/mod sumdb/note/note_test.go ---------------------------------------------------
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
NEUMANN_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

# --- transparency-dev/formats log/note_test.go ------------------------------------------------------
FORMATS_KEY_PAIRS = [
    ("Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs",
     "PRIVATE+KEY+Log+2271c621+AdEIq9FLRQni54Wg68T96VJO+iayOaulswav2DUMKgvQ"),
    ("Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH",
     "PRIVATE+KEY+Known+451c786d+AQPRoE2+Z+Ed1HaHBA9F/FfracvcZ2rDU39kCecMEoci"),
    ("KnownAgain+4893b26c+AQ+LR7BFF/F/dkpIBjBpSvT0crkteizuUkavAoGeaYMj",
     "PRIVATE+KEY+KnownAgain+4893b26c+ARhZda/l25zjGZswYLDZsLNRzNpmv5wYTN9IoTr1OJ2+"),
    ("Unknown+fdbb2e08+AWgRIYZ+8x1Vl+1Q+sR8zciNHiYI1SdlBjNw+RV0rots",
     "PRIVATE+KEY+Unknown+fdbb2e08+Aav2knTC6orbhXX8pMWuNiWgO+Wwk2DB+h1eU2Q1W1nU"),
]  # fmt: skip
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINT = (
    "go.sum database tree\n"
    "6476701\n"
    "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n"
    "\n"
    "\u2014 sum.golang.org "
    "Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n"
)

# --- RFC 6962 vectors: the eight leaves of test_merkle.py ---------------------------------------------
LEAVES = [merkle.leaf_hash(d) for d in LEAF_DATA]
ROOT_8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
PROOF_5_OF_8 = [
    bytes.fromhex("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    bytes.fromhex("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    bytes.fromhex("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
]

ORIGIN = "archive.example-firm.com/whatsapp"


def signer_from_go_private_key(skey: str) -> NoteSigner:
    """Go's note private keys are PRIVATE+KEY+name+id+base64(0x01 || 32-byte seed)."""
    _, _, name, _, encoded = skey.split("+", 4)
    raw = base64.b64decode(encoded)
    assert raw[0] == 1
    return NoteSigner.from_seed(raw[1:], name)


@pytest.fixture(scope="module")
def log_signer() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


@pytest.fixture(scope="module")
def tree_note(log_signer: NoteSigner) -> str:
    return sign(Checkpoint(ORIGIN, 8, ROOT_8), log_signer)


# --- keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("vkey", "skey"), [(PETER_VKEY, PETER_SKEY), *FORMATS_KEY_PAIRS])
def test_verifier_key_and_key_id_match_go(vkey: str, skey: str) -> None:
    signer = signer_from_go_private_key(skey)
    assert signer.verifier_key() == vkey
    assert signer.key_id.hex() == vkey.split("+")[1]
    assert parse_verifier_key(vkey).key_id == signer.key_id


def test_sign_note_is_byte_identical_to_go() -> None:
    peter = signer_from_go_private_key(PETER_SKEY)
    assert sign_note(NEUMANN_TEXT, [peter]) == NEUMANN_TEXT + "\n" + PETER_SIG


def test_every_mangled_verifier_key_is_rejected() -> None:
    """As TestNewVerifier in note_test.go: every proper substring and every bumped byte fails."""
    accepted = []
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)) and _parses(PETER_VKEY[i:j]):
                accepted.append(PETER_VKEY[i:j])
    for i in range(len(PETER_VKEY)):
        bumped = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :]
        if _parses(bumped):
            accepted.append(bumped)
    assert accepted == []
    # Wrong-length key and unknown algorithm, each with a key ID that fits (from note_test.go).
    assert not _parses("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    assert not _parses("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def _parses(key: str) -> bool:
    try:
        parse_verifier_key(key)
    except CheckpointError:
        return False
    return True


def test_verifier_key_errors_say_what_is_wrong() -> None:
    with pytest.raises(CheckpointError, match="not of the form"):
        parse_verifier_key("no-plus-signs")
    with pytest.raises(CheckpointError, match="key ID does not match"):
        parse_verifier_key(PETER_VKEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(CheckpointError, match="not an Ed25519"):
        parse_verifier_key("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_pem_round_trip_keeps_the_key(log_signer: NoteSigner) -> None:
    pem = log_signer.private_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert NoteSigner.from_pem(pem, ORIGIN).verifier_key() == log_signer.verifier_key()
    locked = log_signer.private_pem(password=b"correct horse")
    assert b"ENCRYPTED" in locked
    assert NoteSigner.from_pem(locked, ORIGIN, b"correct horse").verifier_key() == log_signer.verifier_key()
    with pytest.raises(ValueError):
        NoteSigner.from_pem(locked, ORIGIN, b"wrong")
    with pytest.raises(ValueError, match="cannot be loaded"):
        NoteSigner.from_pem(locked, ORIGIN)  # encrypted, but no password given


def test_pem_of_another_key_type_is_refused() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="not an Ed25519 private key"):
        NoteSigner.from_pem(ec_pem, ORIGIN)


@pytest.mark.parametrize("name", ["", "a+b", "has space", "tab\there", "nbsp\u00a0here"])
def test_bad_key_names_are_refused(name: str) -> None:
    with pytest.raises(CheckpointError, match="Key name"):
        NoteSigner.generate(name)


# --- signed notes (Go vectors) ---------------------------------------------------------------------


def test_open_go_note_ignores_unknown_signers() -> None:
    opened = open_note(NEUMANN_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER_VKEY])
    assert opened.text == NEUMANN_TEXT
    assert opened.verified_by == ("PeterNeumann+c74f20a3",)
    assert opened.unknown_signers == ("EnochRoot+af0cfe78",)


def test_open_go_note_with_both_keys() -> None:
    opened = open_note(NEUMANN_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER_VKEY, ENOCH_VKEY])
    assert opened.verified_by == ("PeterNeumann+c74f20a3", "EnochRoot+af0cfe78")


def test_go_note_without_known_signature_is_rejected() -> None:
    with pytest.raises(CheckpointError, match=r"No signature from a known key.*PeterNeumann\+c74f20a3"):
        open_note(NEUMANN_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    with pytest.raises(CheckpointError, match="No signature from a known key"):
        open_note(NEUMANN_TEXT + "\n" + ENOCH_SIG, [PETER_VKEY])


def test_go_note_with_corrupted_signature_is_rejected() -> None:
    corrupted = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(CheckpointError, match=r"Signature from known key PeterNeumann\+c74f20a3 is invalid"):
        open_note(NEUMANN_TEXT + "\n" + corrupted, [PETER_VKEY])


def test_go_note_with_altered_text_is_rejected() -> None:
    altered = NEUMANN_TEXT.replace("answer", "Answer")
    with pytest.raises(CheckpointError, match="is invalid: the note was altered"):
        open_note(altered + "\n" + PETER_SIG, [PETER_VKEY])


@pytest.mark.parametrize(
    "note",
    [
        NEUMANN_TEXT,
        NEUMANN_TEXT + "\n",
        NEUMANN_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + NEUMANN_TEXT + "\n" + PETER_SIG,
        "\udcff" + NEUMANN_TEXT + "\n" + PETER_SIG,  # not encodable as UTF-8
        NEUMANN_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"),
        NEUMANN_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        NEUMANN_TEXT.replace("\n", "\r\n") + "\n" + PETER_SIG,
        NEUMANN_TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_malformed_go_notes_are_rejected(note: str) -> None:
    with pytest.raises(CheckpointError):
        open_note(note, [PETER_VKEY])


def test_same_name_different_key_is_ignored_not_trusted() -> None:
    impostor = NoteSigner.generate("PeterNeumann")
    with pytest.raises(CheckpointError, match="No signature from a known key"):
        open_note(sign_note(NEUMANN_TEXT, [impostor]), [PETER_VKEY])


def test_a_bare_key_string_is_not_mistaken_for_a_key_list() -> None:
    with pytest.raises(TypeError):
        open_note(NEUMANN_TEXT + "\n" + PETER_SIG, PETER_VKEY)  # a bare string, not a list


# --- checkpoints -------------------------------------------------------------------------------------


def test_real_sum_golang_org_checkpoint_verifies() -> None:
    cp = open_checkpoint(SUMDB_CHECKPOINT, [SUMDB_VKEY], origin="go.sum database tree")
    assert cp == Checkpoint(
        "go.sum database tree", 6476701, base64.b64decode("mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=")
    )
    assert cp.body() == SUMDB_CHECKPOINT.split("\n\n")[0] + "\n"


def test_sum_golang_org_checkpoint_with_other_origin_or_size_fails() -> None:
    with pytest.raises(CheckpointError, match="expected 'Go rocks'"):
        open_checkpoint(SUMDB_CHECKPOINT, [SUMDB_VKEY], origin="Go rocks")
    with pytest.raises(CheckpointError, match="is invalid"):
        open_checkpoint(SUMDB_CHECKPOINT.replace("6476701", "6476702"), [SUMDB_VKEY])


def test_checkpoint_note_layout(log_signer: NoteSigner) -> None:
    cp = Checkpoint(ORIGIN, 8, ROOT_8)
    body = f"{ORIGIN}\n8\n{base64.b64encode(ROOT_8).decode()}\n"
    assert cp.body() == body
    note = sign(cp, log_signer)
    assert note.startswith(body + "\n\u2014 " + ORIGIN + " ")
    assert note.endswith("\n")
    raw = base64.b64decode(note.rsplit(" ", 1)[1])
    assert len(raw) == 4 + 64
    assert raw[:4] == log_signer.key_id
    log_signer_public = parse_verifier_key(log_signer.verifier_key()).key
    log_signer_public.verify(raw[4:], body.encode())  # raises if the signature is not over the body


def test_sign_and_open_round_trip_with_extensions(log_signer: NoteSigner) -> None:
    cp = Checkpoint(ORIGIN, 12345, bytes(range(32)), ("tsa 2025-01-01T00:00:00Z", "ext two"))
    assert open_checkpoint(sign(cp, log_signer), [log_signer.verifier_key()]) == cp


def test_empty_and_largest_trees(log_signer: NoteSigner) -> None:
    for cp in (Checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT), Checkpoint(ORIGIN, 2**64 - 1, ROOT_8)):
        assert open_checkpoint(sign(cp, log_signer), [log_signer.verifier_key()]) == cp


def test_key_rotation_and_witness_cosignature(log_signer: NoteSigner) -> None:
    witness = NoteSigner.generate("witness.example.org")
    retired = NoteSigner.generate(ORIGIN)
    note = sign(Checkpoint(ORIGIN, 8, ROOT_8), log_signer, witness)
    # A verifier that knows only the retired key and the current one still accepts it.
    assert open_checkpoint(note, [retired.verifier_key(), log_signer.verifier_key()]).size == 8
    # The witness key alone verifies its cosignature; the log key alone ignores the witness.
    assert open_note(note, [witness.verifier_key()]).unknown_signers == (
        f"{ORIGIN}+{log_signer.key_id.hex()}",
    )
    with pytest.raises(CheckpointError, match="No signature from a known key"):
        open_checkpoint(note, [retired.verifier_key()])


def _signed_body(body: str, signer: NoteSigner) -> str:
    return body + "\n" + signer.signature_line(body)


ROOT_B64 = base64.b64encode(ROOT_8).decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"Log\n0123\n{ROOT_B64}\n", "not a decimal number without leading zeros"),
        (f"Log\n-1\n{ROOT_B64}\n", "not a decimal number"),
        (f"Log\nbananas\n{ROOT_B64}\n", "not a decimal number"),
        (f"Log\n18446744073709551616\n{ROOT_B64}\n", "0..2\\^64-1"),
        (f"Log\n\u0661\u0662\n{ROOT_B64}\n", "not a decimal number"),  # Arabic-Indic digits
        ("Log\n123\nThisIsn'tBase64\n", "not valid standard base64"),
        ("Log\n123\nYmFuYW5hcw==\n", "Root hash must be 32 bytes, got 7"),  # "bananas"
        (f"Log\n123\n{ROOT_B64[:-1]}\n", "not valid standard base64"),  # padding removed
        (f"Log\n123\n{ROOT_B64[:-2]}9=\n", "not canonical base64"),  # non-zero padding bits
        ("Log\n123\n", "needs origin, size and root lines"),
        (f"\n123\n{ROOT_B64}\n", "origin line is empty"),
        (f"Log\n123\n{ROOT_B64}\n\nextension\n", "extension lines must not be empty"),
    ],
)
def test_malformed_checkpoint_bodies_are_rejected(body: str, message: str, log_signer: NoteSigner) -> None:
    with pytest.raises(CheckpointError, match=message):
        open_checkpoint(_signed_body(body, log_signer), [log_signer.verifier_key()])


def test_body_without_final_newline_is_rejected() -> None:
    with pytest.raises(CheckpointError, match="must end with a newline"):
        parse_checkpoint_body(f"Log\n123\n{ROOT_B64}")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"origin": "", "size": 1, "root": ROOT_8}, "origin"),
        ({"origin": "a\nb", "size": 1, "root": ROOT_8}, "origin"),
        ({"origin": "Log", "size": -1, "root": ROOT_8}, "outside"),
        ({"origin": "Log", "size": 2**64, "root": ROOT_8}, "outside"),
        ({"origin": "Log", "size": 1, "root": b"short"}, "32 bytes"),
        ({"origin": "Log", "size": 1, "root": ROOT_8, "extensions": ("",)}, "extension"),
    ],
)
def test_checkpoint_constructor_validates(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        Checkpoint(**kwargs)  # type: ignore[arg-type]


printable_line = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(
    origin=printable_line,
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(printable_line, max_size=2),
    data=st.data(),
)
def test_any_checkpoint_round_trips_and_any_body_edit_is_caught(
    origin: str, size: int, root: bytes, extensions: list[str], data: st.DataObject
) -> None:
    signer = _HYPOTHESIS_SIGNER
    cp = Checkpoint(origin, size, root, tuple(extensions))
    note = sign(cp, signer)
    assert parse_checkpoint_body(cp.body()) == cp
    assert open_checkpoint(note, [signer.verifier_key()]) == cp
    body_len = len(cp.body())
    position = data.draw(st.integers(min_value=0, max_value=body_len - 1), "position")
    replacement = data.draw(st.sampled_from("0aZ/+=\n\u2014"), "replacement")
    if note[position] != replacement:
        tampered = note[:position] + replacement + note[position + 1 :]
        with pytest.raises(CheckpointError):
            open_checkpoint(tampered, [signer.verifier_key()])


_HYPOTHESIS_SIGNER = NoteSigner.generate("hypothesis.example/log")


# --- tlog-proof ---------------------------------------------------------------------------------------


def test_tlog_proof_layout(tree_note: str) -> None:
    text = format_inclusion_proof(5, PROOF_5_OF_8, tree_note)
    lines = [base64.b64encode(h).decode() for h in PROOF_5_OF_8]
    assert text == "c2sp.org/tlog-proof@v1\nindex 5\n" + "\n".join(lines) + "\n\n" + tree_note
    with_extra = format_inclusion_proof(5, PROOF_5_OF_8, tree_note, extra=b"record 42")
    assert with_extra.split("\n")[1] == "extra " + base64.b64encode(b"record 42").decode()
    assert parse_tlog_proof(with_extra).extra == b"record 42"


def test_c2sp_spec_example_parses() -> None:
    example = (
        "c2sp.org/tlog-proof@v1\n"
        "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
        "index 73894\n"
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
        "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
        "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
        "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
        "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
        "\n"
        "example.com/fancylog\n"
        "109482\n"
        "sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
        "\n"
        "\u2014 example.com/fancylog hI2DJw[...]1roloI=\n"
    )
    parsed = parse_tlog_proof(example)
    assert parsed.index == 73894
    assert len(parsed.proof) == 5
    assert parsed.extra is not None and parsed.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert parsed.checkpoint_note.startswith("example.com/fancylog\n109482\n")


def test_inclusion_bundle_verifies_for_hash_and_for_data(log_signer: NoteSigner, tree_note: str) -> None:
    text = format_inclusion_proof(5, PROOF_5_OF_8, tree_note, leaf_hash=LEAVES[5])
    keys = [log_signer.verifier_key()]
    assert verify_inclusion_bundle(text, LEAVES[5], keys, leaf_is_hash=True, origin=ORIGIN).size == 8
    assert verify_inclusion_bundle(text, LEAF_DATA[5], keys, leaf_is_hash=False).root == ROOT_8


def test_every_leaf_of_the_vector_tree_round_trips(log_signer: NoteSigner, tree_note: str) -> None:
    for index in range(8):
        proof = merkle.inclusion_proof(LEAVES, index, 8)
        text = format_inclusion_proof(index, proof, tree_note, leaf_hash=LEAVES[index])
        verify_inclusion_bundle(text, LEAVES[index], [log_signer.verifier_key()], leaf_is_hash=True)


def test_single_leaf_tree_has_no_proof_lines(log_signer: NoteSigner) -> None:
    note = sign(Checkpoint(ORIGIN, 1, LEAVES[0]), log_signer)
    text = format_inclusion_proof(0, [], note)
    assert text == "c2sp.org/tlog-proof@v1\nindex 0\n\n" + note
    assert verify_inclusion_bundle(text, b"", [log_signer.verifier_key()], leaf_is_hash=False).size == 1


def test_bundle_for_the_wrong_leaf_or_index_fails(log_signer: NoteSigner, tree_note: str) -> None:
    keys = [log_signer.verifier_key()]
    text = format_inclusion_proof(5, PROOF_5_OF_8, tree_note)
    with pytest.raises(CheckpointError, match="Inclusion proof does not verify"):
        verify_inclusion_bundle(text, LEAVES[4], keys, leaf_is_hash=True)
    with pytest.raises(CheckpointError, match="Inclusion proof does not verify"):
        verify_inclusion_bundle(text.replace("index 5", "index 4"), LEAVES[5], keys, leaf_is_hash=True)
    with pytest.raises(CheckpointError, match="outside the checkpoint's tree of size 8"):
        verify_inclusion_bundle(text.replace("index 5", "index 8"), LEAVES[5], keys, leaf_is_hash=True)
    # The leaf hash given as if it were data is hashed again, so it must not verify.
    with pytest.raises(CheckpointError, match="Inclusion proof does not verify"):
        verify_inclusion_bundle(text, LEAVES[5], keys, leaf_is_hash=False)


def test_bundle_with_a_tampered_proof_line_fails(log_signer: NoteSigner, tree_note: str) -> None:
    text = format_inclusion_proof(5, PROOF_5_OF_8, tree_note)
    first = base64.b64encode(PROOF_5_OF_8[0]).decode()
    other = base64.b64encode(bytes(32)).decode()
    with pytest.raises(CheckpointError, match="Inclusion proof does not verify"):
        verify_inclusion_bundle(
            text.replace(first, other), LEAVES[5], [log_signer.verifier_key()], leaf_is_hash=True
        )


def test_bundle_checkpoint_must_be_signed_by_a_known_key(log_signer: NoteSigner, tree_note: str) -> None:
    text = format_inclusion_proof(5, PROOF_5_OF_8, tree_note)
    stranger = NoteSigner.generate(ORIGIN)
    with pytest.raises(CheckpointError, match="No signature from a known key"):
        verify_inclusion_bundle(text, LEAVES[5], [stranger.verifier_key()], leaf_is_hash=True)
    with pytest.raises(CheckpointError, match=r"expected 'other\.example/log'"):
        keys = [log_signer.verifier_key()]
        verify_inclusion_bundle(text, LEAVES[5], keys, leaf_is_hash=True, origin="other.example/log")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("wrong-header\nindex 0\n\ncheckpoint\n", "must start with 'c2sp.org/tlog-proof@v1'"),
        ("c2sp.org/tlog-proof@v1\nextra !!notbase64!!\nindex 0\n\ncheckpoint\n", "extra data"),
        ("c2sp.org/tlog-proof@v1\n\n\ncheckpoint\n", "'index N' line is missing"),
        ("c2sp.org/tlog-proof@v1\nindex notanumber\n\ncheckpoint\n", "not a plain decimal"),
        ("c2sp.org/tlog-proof@v1\nindex -5\n\ncheckpoint\n", "not a plain decimal"),
        ("c2sp.org/tlog-proof@v1\nindex 05\n\ncheckpoint\n", "not a plain decimal"),
        ("c2sp.org/tlog-proof@v1\nindex 0\n!!notbase64!!\n\ncheckpoint\n", "tlog-proof hash"),
        ("c2sp.org/tlog-proof@v1\nindex 0\n" + base64.b64encode(bytes(64)).decode() + "\n\ncp\n", "32 bytes"),
        ("c2sp.org/tlog-proof@v1\nindex 0\n", "no blank line"),
    ],
)
def test_malformed_tlog_proofs_are_rejected(text: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        parse_tlog_proof(text)


def test_format_refuses_a_proof_that_does_not_match(tree_note: str) -> None:
    with pytest.raises(ValueError, match="does not match the checkpoint root"):
        format_inclusion_proof(5, PROOF_5_OF_8, tree_note, leaf_hash=LEAVES[4])
    with pytest.raises(ValueError, match="must not be negative"):
        format_inclusion_proof(-1, PROOF_5_OF_8, tree_note)


# --- the standalone CLI ------------------------------------------------------------------------------


def _run(
    *args: str | Path, cwd: Path | None = None, standalone: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if standalone:
        command = [sys.executable, "verify_checkpoint.py"]
    else:
        env["PYTHONPATH"] = str(SRC)
        command = [sys.executable, "-m", "onfile.ledger.verify_checkpoint"]
    return subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=60, check=False
    )


@pytest.fixture
def files(tmp_path: Path, log_signer: NoteSigner, tree_note: str) -> dict[str, Path]:
    paths = {
        "checkpoint": tmp_path / "checkpoint.txt",
        "key": tmp_path / "log.pub",
        "proof": tmp_path / "record5.tlog-proof",
    }
    paths["checkpoint"].write_text(tree_note, encoding="utf-8")
    paths["key"].write_text(log_signer.verifier_key() + "\n", encoding="utf-8")
    paths["proof"].write_text(format_inclusion_proof(5, PROOF_5_OF_8, tree_note), encoding="utf-8")
    return paths


def test_cli_accepts_a_good_checkpoint_with_a_key_argument(
    files: dict[str, Path], log_signer: NoteSigner
) -> None:
    result = _run(files["checkpoint"], log_signer.verifier_key())
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: checkpoint of '{ORIGIN}' at tree size 8, root {ROOT_8.hex()}")


def test_cli_reads_a_key_file_with_comments_and_retired_keys(
    files: dict[str, Path], log_signer: NoteSigner, tmp_path: Path
) -> None:
    keyfile = tmp_path / "keys.txt"
    retired = NoteSigner.generate(ORIGIN).verifier_key()
    keyfile.write_text(
        f"# onfile verifier keys\n\n{retired}\n{log_signer.verifier_key()}\n", encoding="utf-8"
    )
    result = _run(files["checkpoint"], keyfile, "--origin", ORIGIN)
    assert result.returncode == 0, result.stderr


def test_cli_rejects_a_tampered_checkpoint(files: dict[str, Path]) -> None:
    note = files["checkpoint"].read_text(encoding="utf-8")
    files["checkpoint"].write_text(note.replace("\n8\n", "\n9\n", 1), encoding="utf-8")
    result = _run(files["checkpoint"], files["key"])
    assert result.returncode == 1
    assert "FAILED" in result.stderr and "is invalid" in result.stderr
    assert "OK" not in result.stdout


def test_cli_rejects_an_unknown_key_and_a_wrong_origin(files: dict[str, Path]) -> None:
    stranger = NoteSigner.generate(ORIGIN).verifier_key()
    result = _run(files["checkpoint"], stranger)
    assert result.returncode == 1
    assert "No signature from a known key" in result.stderr
    result = _run(files["checkpoint"], files["key"], "--origin", "other.example/log")
    assert result.returncode == 1
    assert "expected 'other.example/log'" in result.stderr


def test_cli_explains_an_unusable_key_argument(files: dict[str, Path]) -> None:
    result = _run(files["checkpoint"], "missing-file.pub")
    assert result.returncode == 1
    assert "is not a file, and as a verifier key" in result.stderr


def test_cli_accepts_windows_line_endings(files: dict[str, Path]) -> None:
    data = files["checkpoint"].read_bytes().replace(b"\n", b"\r\n")
    files["checkpoint"].write_bytes(data)
    assert _run(files["checkpoint"], files["key"]).returncode == 0


def test_cli_checks_an_inclusion_proof(files: dict[str, Path]) -> None:
    result = _run(
        files["checkpoint"], files["key"], "--proof", files["proof"], "--leaf-hash", LEAVES[5].hex()
    )
    assert result.returncode == 0, result.stderr
    assert f"OK: leaf {LEAVES[5].hex()} is entry 5 of '{ORIGIN}' at tree size 8" in result.stdout


def test_cli_rejects_an_inclusion_proof_for_another_leaf(files: dict[str, Path]) -> None:
    result = _run(
        files["checkpoint"], files["key"], "--proof", files["proof"], "--leaf-hash", LEAVES[4].hex()
    )
    assert result.returncode == 1
    assert "Inclusion proof does not verify" in result.stderr


def test_cli_rejects_bad_leaf_hash_and_incomplete_options(files: dict[str, Path]) -> None:
    result = _run(files["checkpoint"], files["key"], "--proof", files["proof"], "--leaf-hash", "abc")
    assert result.returncode == 1
    assert "64 hexadecimal digits" in result.stderr
    result = _run(files["checkpoint"], files["key"], "--proof", files["proof"])
    assert result.returncode == 2
    assert "--proof and --leaf-hash must be given together" in result.stderr


def test_cli_detects_a_fork(files: dict[str, Path], log_signer: NoteSigner) -> None:
    forked = [*LEAVES[:7], merkle.leaf_hash(b"rewritten")]
    forked_note = sign(Checkpoint(ORIGIN, 8, merkle.root(forked)), log_signer)
    proof = merkle.inclusion_proof(forked, 5, 8)
    files["proof"].write_text(format_inclusion_proof(5, proof, forked_note), encoding="utf-8")
    result = _run(
        files["checkpoint"], files["key"], "--proof", files["proof"], "--leaf-hash", LEAVES[5].hex()
    )
    assert result.returncode == 1
    assert "different roots" in result.stderr


def test_cli_runs_from_three_copied_files(files: dict[str, Path], tmp_path: Path) -> None:
    """The regulator's-laptop case: the three files alone in a folder, no onfile package on the path."""
    folder = tmp_path / "verifier"
    folder.mkdir()
    for name in ("merkle.py", "checkpoint.py", "verify_checkpoint.py"):
        shutil.copy(LEDGER / name, folder / name)
    args = (files["checkpoint"], files["key"], "--proof", files["proof"], "--leaf-hash", LEAVES[5].hex())
    result = _run(*args, cwd=folder, standalone=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("OK:") == 2
    probe = (
        "import sys, runpy; sys.argv = ['verify_checkpoint.py', '--help'];"
        "\ntry: runpy.run_path('verify_checkpoint.py', run_name='__main__')"
        "\nexcept SystemExit: pass"
        "\nprint(sorted({m.split('.')[0] for m in sys.modules} & {'onfile', 'django'}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=folder, env=env, check=True
    )
    assert shown.stdout.strip().endswith("[]")


@pytest.mark.parametrize("name", ["merkle.py", "checkpoint.py", "verify_checkpoint.py"])
def test_verifier_files_import_only_stdlib_cryptography_and_each_other(name: str) -> None:
    allowed = set(sys.stdlib_module_names) | {"cryptography", "merkle", "checkpoint"}
    tree = ast.parse((LEDGER / name).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom):  # relative: only the sibling verifier modules
            assert {alias.name for alias in node.names} <= {"merkle", "checkpoint"}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            imported.add(ast.literal_eval(node.args[0]))
    assert imported - {"__future__"} <= allowed
