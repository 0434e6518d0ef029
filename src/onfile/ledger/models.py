"""The record: ledger entries, sealed blobs, checkpoints.

``Entry`` rows are the leaves of the Merkle log: never updated or deleted (database
triggers refuse it on SQLite and PostgreSQL, see migration 0002). ``Blob`` rows hold the
sealed bytes (inline below ``ONFILE_INLINE_BLOB_LIMIT``, else a file) and the wrapped data
key; disposition shreds a blob by clearing both, never by deleting the row, so that entry
references stay valid. ``Checkpoint`` rows are signed tree heads, append-only too.
"""

from __future__ import annotations

from django.db import models


class Head(models.Model):
    """One row: the number of entries (the next sequence number). Serialises appends."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField(default=0)
    master_key_id = models.CharField(max_length=16, blank=True)
    origin = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "ledger_head"


class Blob(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    media_type = models.CharField(max_length=200, blank=True)
    size = models.BigIntegerField(help_text="plaintext size in bytes")
    cipher_size = models.BigIntegerField()
    cipher_sha256 = models.CharField(max_length=64)
    wrapped_key = models.BinaryField(null=True)
    master_key_id = models.CharField(max_length=16)
    inline = models.BinaryField(null=True)
    path = models.CharField(max_length=200, blank=True, help_text="file under the blob directory")
    shredded_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "ledger_blob"


class Entry(models.Model):
    seq = models.BigIntegerField(primary_key=True, help_text="0-based; the Merkle leaf index")
    time = models.CharField(max_length=27, help_text="UTC, ISO 8601 with microseconds and Z")
    kind = models.CharField(max_length=64, db_index=True)
    actor = models.CharField(max_length=200)
    subject = models.CharField(max_length=200, blank=True, db_index=True)
    attrs = models.TextField(default="{}", help_text="canonical JSON, hashed exactly as stored")
    blob = models.ForeignKey(Blob, null=True, on_delete=models.PROTECT, related_name="entries")
    commitment = models.CharField(max_length=64, blank=True)
    leaf_hash = models.CharField(max_length=64)

    class Meta:
        db_table = "ledger_entry"
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"


class Checkpoint(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    size = models.BigIntegerField(db_index=True)
    root = models.CharField(max_length=64)
    note = models.TextField(help_text="the signed checkpoint, C2SP tlog-checkpoint format")
    reason = models.CharField(max_length=40, default="scheduled")

    class Meta:
        db_table = "ledger_checkpoint"
        ordering = ["size", "id"]
