"""``onfile verify`` detects every kind of tampering and names the first bad entry (REQ-TE-5).

Each test builds a small real archive, tampers with it the way an insider with database
or disk access could — with the append-only triggers lifted — and checks that verify
fails and says which entry and what.
"""

from __future__ import annotations

import io
import os

import pytest

from onfile.ledger import blobs
from onfile.ledger.actions import do_capture, do_record_access
from onfile.ledger.checkpoints import do_checkpoint
from onfile.ledger.models import Blob, Checkpoint
from onfile.ledger.verify import verify

from .tamper import execute, lift_append_only

pytestmark = pytest.mark.django_db


def _archive_with(n: int = 6, big_at: int | None = None) -> list[int]:
    seqs = []
    for i in range(n):
        if i == big_at:
            seqs.append(do_capture(io.BytesIO(os.urandom(400_000)), kind="capture.raw", actor="test").seq)
        elif i % 2:
            seqs.append(do_capture(f"payload {i}".encode(), kind="capture.raw", actor="test").seq)
        else:
            seqs.append(do_record_access("user:1", f"conversation:{i}"))
    return seqs


def test_an_untouched_archive_verifies(archive: None) -> None:
    _archive_with(8, big_at=3)
    do_checkpoint()
    _archive_with(3)
    do_checkpoint()
    report = verify()
    assert report.ok, report.problems
    assert report.entries == 11 and report.checkpoints == 2 and report.blobs == 5
    assert report.bytes_hashed > 400_000


def test_an_empty_archive_verifies(archive: None) -> None:
    do_checkpoint(force=True)
    assert verify().ok


def test_a_changed_ledger_row_is_named(archive: None) -> None:
    _archive_with(6)
    do_checkpoint()
    lift_append_only("ledger_entry")
    execute("UPDATE ledger_entry SET actor = 'user:999' WHERE seq = 4")
    report = verify()
    assert not report.ok
    assert report.first_bad_seq == 4
    assert any(str(p).startswith("entry 4: its content does not match its leaf hash") for p in report.problems)
    assert any("recomputed root differs" in str(p) for p in report.problems)


def test_a_row_changed_together_with_its_stored_hash_still_breaks_the_signed_root(archive: None) -> None:
    from onfile.ledger.log import leaf_bytes
    from onfile.ledger.merkle import leaf_hash
    from onfile.ledger.models import Entry

    _archive_with(6)
    do_checkpoint()
    lift_append_only("ledger_entry")
    e = Entry.objects.get(seq=2)
    forged = leaf_hash(leaf_bytes(2, e.time, e.kind, "user:999", e.subject, e.attrs, e.blob_id, e.commitment)).hex()
    execute("UPDATE ledger_entry SET actor = 'user:999', leaf_hash = %s WHERE seq = 2", [forged])
    report = verify()
    assert not report.ok
    assert any("checkpoint" in str(p) and "recomputed root differs" in str(p) for p in report.problems)


def test_a_flipped_byte_in_an_inline_blob_is_named(archive: None) -> None:
    seqs = _archive_with(6)
    target = seqs[3]
    blob = Blob.objects.get(entries__seq=target)
    data = bytearray(bytes(blob.inline))
    data[-5] ^= 0x01
    execute("UPDATE ledger_blob SET inline = %s WHERE id = %s", [bytes(data), blob.pk])
    report = verify()
    assert report.first_bad_seq == target
    assert any("bytes do not match the entry's commitment" in str(p) for p in report.problems)


def test_a_flipped_byte_in_a_blob_file_is_named(archive: None) -> None:
    seqs = _archive_with(6, big_at=2)
    blob = Blob.objects.get(entries__seq=seqs[2])
    path = blobs.blob_dir() / blob.path
    data = bytearray(path.read_bytes())
    data[1000] ^= 0x80
    path.write_bytes(bytes(data))
    report = verify()
    assert report.first_bad_seq == seqs[2]
    assert any(f"entry {seqs[2]}: blob {blob.pk}'s bytes do not match" in str(p) for p in report.problems)


def test_a_deleted_blob_file_is_named(archive: None) -> None:
    seqs = _archive_with(6, big_at=4)
    blob = Blob.objects.get(entries__seq=seqs[4])
    (blobs.blob_dir() / blob.path).unlink()
    report = verify()
    assert report.first_bad_seq == seqs[4]
    assert any("file" in str(p) and "is missing" in str(p) for p in report.problems)


def test_a_deleted_blob_row_is_named(archive: None) -> None:
    seqs = _archive_with(6)
    with_blob = seqs[1]
    row = Blob.objects.get(entries__seq=with_blob)
    execute("DELETE FROM ledger_blob WHERE id = %s", [row.pk])  # foreign keys are checked at commit
    report = verify()
    assert report.first_bad_seq == with_blob
    assert any("missing from the blob table" in str(p) for p in report.problems)
    row.save(force_insert=True)  # put it back so the end-of-test constraint check passes


def test_a_truncated_ledger_is_detected(archive: None) -> None:
    _archive_with(8)
    do_checkpoint()
    lift_append_only("ledger_entry")
    execute("DELETE FROM ledger_entry WHERE seq >= 5")
    report = verify()
    assert not report.ok
    assert report.first_bad_seq == 5
    text = " ".join(str(p) for p in report.problems)
    assert "head says 8 entries but 5 are stored" in text
    assert "has only 5 entries; entries were removed" in text


def test_a_deleted_middle_entry_is_named(archive: None) -> None:
    _archive_with(8)
    lift_append_only("ledger_entry")
    execute("DELETE FROM ledger_entry WHERE seq = 3")
    report = verify()
    assert report.first_bad_seq == 3
    assert any("entries 3…3 are missing" in str(p) for p in report.problems)


def test_a_replaced_checkpoint_is_detected(archive: None) -> None:
    _archive_with(4)
    cp = do_checkpoint()
    assert cp is not None
    lift_append_only("ledger_checkpoint")
    forged = cp.note.replace(cp.note.splitlines()[1], "3", 1)
    execute("UPDATE ledger_checkpoint SET note = %s WHERE id = %s", [forged, cp.pk])
    report = verify()
    assert not report.ok
    assert any(f"checkpoint {cp.pk}" in str(p) and "signature" in str(p).lower() for p in report.problems)


def test_a_checkpoint_signed_by_another_key_is_detected(archive: None) -> None:
    from django.conf import settings

    from onfile.ledger.checkpoint import Checkpoint as Body
    from onfile.ledger.checkpoint import NoteSigner, sign

    _archive_with(3)
    cp = do_checkpoint()
    assert cp is not None
    impostor = NoteSigner.generate(name=settings.LOG_ORIGIN)
    note = sign(Body(origin=settings.LOG_ORIGIN, size=cp.size, root=bytes.fromhex(cp.root)), impostor)
    Checkpoint.objects.create(size=cp.size, root=cp.root, note=note)
    report = verify()
    assert not report.ok
    assert any("known key" in str(p) or "signature" in str(p).lower() for p in report.problems)


def test_the_wrong_master_key_is_reported(archive: None) -> None:
    from onfile.ledger.models import Head

    Head.objects.filter(pk=1).update(master_key_id="0123456789abcdef")
    report = verify()
    assert any("not the one this archive was created with" in str(p) for p in report.problems)


def _sqlite() -> bool:
    from django.db import connection

    return connection.vendor == "sqlite"
