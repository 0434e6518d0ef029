"""Operational state of replies by email (not projection: like the outbox, it is work in progress).

The record is the ledger: each captured email is a ``capture.email`` entry with the raw bytes
sealed, and each decision an ``email.reply_*`` entry. These tables only make the pipeline
idempotent and let held replies wait:

- ``InboundEmail``: one row per captured email (raw bytes deduplicated by a keyed hash).
- ``ReplyIdentity``: one row per email that was decided, keyed by the email's identity
  (Message-ID, else the raw bytes); the unique constraint is what makes a second delivery a
  duplicate, even when two transports deliver it at the same moment.
- ``HeldReply``: a reply that waits for the client to reopen the 24-hour window.
- ``WindowNudge``: the template sent to ask the client to write, once per closed window.

Conversations and users are referred to by id, never by foreign key: ``onfile rebuild`` drops
and recreates the projection (with the same ids), which must not cascade into these rows.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models


class InboundEmail(models.Model):
    capture_seq = models.BigIntegerField(unique=True, help_text="the capture.email entry holding the raw bytes")
    raw_digest = models.CharField(max_length=64, db_index=True, help_text="keyed hash of the raw bytes")
    via = models.CharField(max_length=200)
    received_at = models.DateTimeField()


class ReplyIdentity(models.Model):
    identity = models.CharField(max_length=64, unique=True, help_text="keyed hash of the Message-ID (or raw bytes)")
    capture_seq = models.BigIntegerField(help_text="the capture that was decided")
    status = models.CharField(max_length=10)  # sent | held | refused | ignored
    outcome_seq = models.BigIntegerField()
    bounce_to = models.CharField(max_length=64, blank=True, db_index=True,
                                 help_text="keyed hash of the address a bounce was queued for")
    decided_at = models.DateTimeField(db_index=True)


class HeldReply(models.Model):
    class Status(models.TextChoices):
        HELD = "held"
        RELEASED = "released"
        EXPIRED = "expired"
        FAILED = "failed"  # could not be sent when the window reopened (the staff member was told)
        CANCELLED = "cancelled"  # withdrawn from the conversation page before the client wrote

    conversation_id = models.BigIntegerField(db_index=True)
    user_id = models.BigIntegerField(help_text="the member of staff who replied")
    capture_seq = models.BigIntegerField(unique=True, help_text="the email; its parts are re-read from it")
    held_seq = models.BigIntegerField(help_text="the email.reply_held entry")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.HELD, db_index=True)
    held_at = models.DateTimeField()
    closed_seq = models.BigIntegerField(null=True, blank=True, help_text="the entry that released or ended it")
    original = models.JSONField(default=dict, blank=True, help_text="Message-ID, References, subject: for notices")

    class Meta:
        ordering: ClassVar[list[str]] = ["held_at", "pk"]


class WindowNudge(models.Model):
    """A template asking the client to write was sent for this closed window (at most once)."""

    conversation_id = models.BigIntegerField()
    window = models.CharField(max_length=40, help_text="the last inbound time that opened it, or 'never'")
    sent_seq = models.BigIntegerField()

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["conversation_id", "window"], name="email_bridge_one_nudge_per_window"),
        ]
