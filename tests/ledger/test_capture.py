"""Raw capture and the append-only ledger (ARCHITECTURE invariants 1 and 2; REQ-SEC-5)."""

from __future__ import annotations

import io
import json
import os

import pytest
from django.db import DatabaseError, connection, transaction

from onfile.ledger import blobs
from onfile.ledger.actions import do_capture, do_record_access, keyed_commitment
from onfile.ledger.log import NewEntry, append, canonical_json, leaf_bytes, ledger_size
from onfile.ledger.merkle import leaf_hash
from onfile.ledger.models import Blob, Checkpoint, Entry, Head

pytestmark = pytest.mark.django_db


def test_a_capture_stores_the_bytes_sealed_and_ledgers_them(archive: None) -> None:
    payload = b'{"object":"whatsapp_business_account","entry":[]}'
    captured = do_capture(payload, kind="capture.webhook", actor="webhook", attrs={"source": "test"})
    entry = Entry.objects.get(seq=captured.seq)
    blob = Blob.objects.get(pk=captured.blob_id)
    assert entry.kind == "capture.webhook" and entry.blob_id == blob.pk
    assert entry.commitment == blob.cipher_sha256 == captured.cipher_sha256
    assert payload not in bytes(blob.inline)  # sealed at rest
    assert blobs.read_blob(blob.pk) == payload
    assert json.loads(entry.attrs) == {"source": "test"}


def test_the_leaf_hash_is_computed_from_the_stored_row(archive: None) -> None:
    captured = do_capture(b"x", kind="capture.raw", actor="test", subject="s:1")
    e = Entry.objects.get(seq=captured.seq)
    leaf = leaf_bytes(e.seq, e.time, e.kind, e.actor, e.subject, e.attrs, e.blob_id, e.commitment)
    assert leaf_hash(leaf).hex() == e.leaf_hash
    assert json.loads(leaf)["commit"] == e.commitment


def test_a_large_capture_goes_to_a_file_sealed_and_fsynced(archive: None, settings: object) -> None:
    data = os.urandom(600_000)
    captured = do_capture(io.BytesIO(data), kind="capture.raw", actor="test")
    blob = Blob.objects.get(pk=captured.blob_id)
    assert blob.inline is None and blob.path
    stored = (blobs.blob_dir() / blob.path).read_bytes()
    assert data[:1000] not in stored
    assert blobs.read_blob(blob.pk) == data
    assert captured.size == len(data)


def test_sequence_numbers_are_gapless_even_after_a_rollback(archive: None) -> None:
    before = ledger_size()
    with pytest.raises(RuntimeError), transaction.atomic():
        append(NewEntry("test.rolled_back", "test"))
        raise RuntimeError("abort")
    appended = do_record_access("user:1", "conversation:9")
    assert appended == before
    assert ledger_size() == before + 1
    assert list(Entry.objects.values_list("seq", flat=True)) == list(range(before + 1))


def test_appending_outside_a_transaction_is_refused(archive: None) -> None:
    from onfile.ledger.log import LedgerError

    # pytest-django wraps the test in a transaction; leave it to test the guard.
    connection.in_atomic_block, saved = False, connection.in_atomic_block
    try:
        with pytest.raises(LedgerError, match="inside a transaction"):
            append(NewEntry("test", "test"))
    finally:
        connection.in_atomic_block = saved


@pytest.mark.parametrize("sql", [
    "UPDATE ledger_entry SET kind = 'forged' WHERE seq = 0",
    "DELETE FROM ledger_entry WHERE seq = 0",
    "DELETE FROM ledger_entry",
    "UPDATE ledger_checkpoint SET root = 'x'",
    "DELETE FROM ledger_checkpoint",
    "UPDATE ledger_head SET size = 0",
    "DELETE FROM ledger_head",
])
def test_the_database_refuses_to_change_the_record(archive: None, sql: str) -> None:
    do_record_access("user:1", "conversation:1")
    Checkpoint.objects.create(size=1, root="00" * 32, note="n")
    with pytest.raises(DatabaseError, match=r"append-only|only grow|cannot be deleted"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql)
    assert Entry.objects.filter(seq=0).exclude(kind="forged").exists()


@pytest.mark.skipif("os.environ.get('ONFILE_DATABASE_URL', '') == ''", reason="TRUNCATE exists on PostgreSQL only")
def test_postgresql_refuses_truncate(archive: None) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE ledger_entry CASCADE")


def test_the_orm_cannot_update_an_entry_either(archive: None) -> None:
    seq = do_record_access("user:1", "conversation:1")
    with pytest.raises(DatabaseError), transaction.atomic():
        Entry.objects.filter(seq=seq).update(actor="someone else")


def test_attrs_are_canonical_and_floats_are_refused() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    with pytest.raises(TypeError, match="floats"):
        canonical_json({"amount": 1.5})


def test_keyed_commitments_do_not_reveal_short_text(archive: None) -> None:
    import hashlib

    digest = keyed_commitment(b"yes")
    assert digest != hashlib.sha256(b"yes").hexdigest()
    assert digest == keyed_commitment(b"yes")


def test_head_size_tracks_entries(archive: None) -> None:
    for _ in range(3):
        do_record_access("user:1", "conversation:1")
    assert Head.objects.get(pk=1).size == Entry.objects.count() == 3
