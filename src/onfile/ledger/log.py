"""Appending to the ledger, and the exact bytes of each leaf.

Design: the ledger is one append-only table whose rows are the leaves of an RFC 6962
Merkle log (``merkle.py``). A leaf is a canonical JSON text (REQ-TE-1/REQ-TE-2) built from
the row's columns; ``attrs`` is stored exactly as hashed, so verification never has to
re-serialise a parsed object. Content that may be personal data never goes into a leaf:
it goes into a sealed blob and the leaf commits to the ciphertext hash, or the leaf carries
a keyed hash (HMAC under a key derived from the master key). A plain hash of short text
could be guessed; these cannot (ARCHITECTURE invariant 4).

Sequence numbers are gapless (a Merkle index must be): the ``ledger_head`` row is bumped
with ``UPDATE … RETURNING`` inside the caller's transaction, which also serialises appends
on PostgreSQL (the row lock is held until commit; a rollback returns the numbers).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from onfile.ledger.merkle import leaf_hash

LEAF_VERSION = 1


class LedgerError(Exception):
    """The ledger refused an append; the message says why."""


def canonical_json(value: Mapping[str, Any]) -> str:
    """Sorted keys, no spaces, UTF-8 text; floats are refused (no canonical form we trust)."""
    _refuse_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _refuse_floats(value: object) -> None:
    if isinstance(value, float):
        raise TypeError("ledger attrs may not contain floats; store them as strings")
    if isinstance(value, Mapping):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_floats(item)


def utc_now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def leaf_bytes(
    seq: int, time: str, kind: str, actor: str, subject: str, attrs: str, blob_id: int | None, commitment: str
) -> bytes:
    dumps = json.dumps
    return (
        f'{{"v":{LEAF_VERSION},"seq":{seq},"time":"{time}","kind":{dumps(kind, ensure_ascii=False)},'
        f'"actor":{dumps(actor, ensure_ascii=False)},"subject":{dumps(subject, ensure_ascii=False)},'
        f'"attrs":{attrs},"blob":{"null" if blob_id is None else blob_id},"commit":"{commitment}"}}'
    ).encode()


@dataclass(frozen=True)
class NewEntry:
    kind: str
    actor: str
    subject: str = ""
    attrs: Mapping[str, Any] | None = None
    blob_id: int | None = None
    commitment: str = ""


@dataclass(frozen=True)
class Appended:
    seq: int
    time: str
    leaf_hash: str


_INSERT = (
    "INSERT INTO ledger_entry (seq, time, kind, actor, subject, attrs, blob_id, commitment, leaf_hash)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def _reserve(count: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_head SET size = size + %s WHERE id = 1 RETURNING size", [count])
        row = cursor.fetchone()
    if row is None:
        raise LedgerError("the ledger is not initialised (no head row): run 'onfile init'")
    return int(row[0]) - count


def append_many(entries: Sequence[NewEntry]) -> list[Appended]:
    """Append entries in order; must run inside ``transaction.atomic()``."""
    if not connection.in_atomic_block:
        raise LedgerError("ledger appends must run inside a transaction with what they record")
    if not entries:
        return []
    first = _reserve(len(entries))
    time = utc_now_text()
    rows, out = [], []
    for offset, item in enumerate(entries):
        seq = first + offset
        attrs = canonical_json(item.attrs or {})
        digest = leaf_hash(leaf_bytes(seq, time, item.kind, item.actor, item.subject, attrs,
                                      item.blob_id, item.commitment)).hex()
        rows.append((seq, time, item.kind, item.actor, item.subject, attrs, item.blob_id, item.commitment, digest))
        out.append(Appended(seq, time, digest))
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(_INSERT, rows[0])
        else:
            cursor.executemany(_INSERT, rows)
    return out


def append(entry: NewEntry) -> Appended:
    return append_many([entry])[0]


def ledger_size() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT size FROM ledger_head WHERE id = 1")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
