"""Check an onfile signed checkpoint, and optionally one record's inclusion proof, offline.

Usage::

    python -m onfile.ledger.verify_checkpoint CHECKPOINT_FILE VERIFIER_KEY_OR_FILE \\
        [--proof TLOG_PROOF_FILE --leaf-hash HEX] [--origin ORIGIN]

This tool is meant to be handed to a regulator, auditor or the firm's own
compliance officer and run on their laptop, with no access to the archive server.
It needs only Python 3.11+, the ``cryptography`` package and three files:
``merkle.py``, ``checkpoint.py`` and this one.  Copy them into one folder and run
``python verify_checkpoint.py ...`` there, or keep the ``onfile/ledger`` folders
and use ``python -m``.  It therefore imports nothing else from onfile.

* ``CHECKPOINT_FILE`` is a C2SP signed checkpoint (c2sp.org/tlog-checkpoint).
* ``VERIFIER_KEY_OR_FILE`` is the log's published verifier key
  (``name+keyid+base64``), or a file with one key per line (``#`` comments and
  blank lines are skipped), e.g. the current key plus retired ones.
* ``--proof`` with ``--leaf-hash`` also checks a c2sp.org/tlog-proof file: that
  the record whose RFC 6962 leaf hash is given is in the signed tree.
* ``--origin`` pins the log name, so a checkpoint of another log is refused.

Windows line endings are turned back into newlines before checking: a signed
note cannot contain carriage returns, so this cannot change what was signed.
Exit status: 0 if everything verified, 1 if anything did not, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__:
    from . import checkpoint as cp
else:  # pragma: no cover - run as a plain script from a folder holding the three files
    cp = importlib.import_module("checkpoint")

__all__ = ["main"]


class _Failure(Exception):
    """A verification failure; the message is printed for the user."""


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="verify_checkpoint",
        description="Verify an onfile signed checkpoint (and optionally an inclusion proof) offline.",
    )
    parser.add_argument("checkpoint_file", metavar="CHECKPOINT_FILE", type=Path)
    parser.add_argument("verifier", metavar="VERIFIER_KEY_OR_FILE")
    parser.add_argument("--proof", metavar="TLOG_PROOF_FILE", type=Path, help="a .tlog-proof file")
    parser.add_argument("--leaf-hash", metavar="HEX", help="the record's leaf hash (64 hex digits)")
    parser.add_argument("--origin", help="the log name the checkpoint must be for")
    args = parser.parse_args(argv)
    if (args.proof is None) != (args.leaf_hash is None):
        parser.error("--proof and --leaf-hash must be given together")
    return args


def _read_text(path: Path, what: str) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _Failure(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Failure(f"the {what} {path} is not UTF-8 text") from None
    return text.replace("\r\n", "\n")


def _load_keys(argument: str) -> list[str]:
    path = Path(argument)
    if not path.is_file():
        _check_key(argument, f"{argument!r} is not a file, and as a verifier key")
        return [argument]
    lines = _read_text(path, "verifier key file").split("\n")
    keys = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not keys:
        raise _Failure(f"the verifier key file {path} contains no keys")
    for key in keys:
        _check_key(key, f"in {path}")
    return keys


def _check_key(key: str, where: str) -> None:
    try:
        cp.parse_verifier_key(key)
    except cp.CheckpointError as exc:
        raise _Failure(f"{where}: {exc}") from None


def _leaf_hash(text: str) -> bytes:
    try:
        digest = bytes.fromhex(text)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise _Failure(f"--leaf-hash must be 64 hexadecimal digits (a SHA-256 leaf hash), got {text!r}")
    return digest


def _check_checkpoint(args: argparse.Namespace, keys: list[str]) -> cp.Checkpoint:
    note = _read_text(args.checkpoint_file, "checkpoint file")
    try:
        opened = cp.open_note(note, keys)
        checkpoint = cp.parse_checkpoint_body(opened.text)
    except cp.CheckpointError as exc:
        raise _Failure(f"checkpoint {args.checkpoint_file}: {exc}") from None
    if args.origin is not None and checkpoint.origin != args.origin:
        raise _Failure(f"checkpoint is for log {checkpoint.origin!r}, expected {args.origin!r}")
    print(
        f"OK: checkpoint of {checkpoint.origin!r} at tree size {checkpoint.size}, "
        f"root {checkpoint.root.hex()}, signed by {', '.join(opened.verified_by)}"
    )
    return checkpoint


def _check_proof(args: argparse.Namespace, keys: list[str], checkpoint: cp.Checkpoint) -> None:
    leaf = _leaf_hash(args.leaf_hash)
    text = _read_text(args.proof, "proof file")
    try:
        bundle = cp.parse_tlog_proof(text)
        proved = cp.verify_inclusion_bundle(text, leaf, keys, leaf_is_hash=True, origin=args.origin)
    except cp.CheckpointError as exc:
        raise _Failure(f"proof {args.proof}: {exc}") from None
    if (proved.origin, proved.size) == (
        checkpoint.origin,
        checkpoint.size,
    ) and proved.root != checkpoint.root:
        raise _Failure(
            f"the proof's checkpoint and {args.checkpoint_file} are both signed for size {proved.size} "
            "but have different roots: the log has been forked or rewritten"
        )
    print(f"OK: leaf {leaf.hex()} is entry {bundle.index} of {proved.origin!r} at tree size {proved.size}")
    if proved != checkpoint:
        print(
            f"NOTE: the proof is against tree size {proved.size}, the checkpoint file is at size "
            f"{checkpoint.size}; this tool does not check consistency between the two."
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks; return the process exit status."""
    args = _parse_args(argv)
    try:
        keys = _load_keys(args.verifier)
        checkpoint = _check_checkpoint(args, keys)
        if args.proof is not None:
            _check_proof(args, keys, checkpoint)
    except _Failure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
