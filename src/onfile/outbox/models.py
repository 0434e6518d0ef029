"""The outbox: everything that leaves onfile (ARCHITECTURE invariant 5).

A row is inserted in the same transaction as the ledger entry that causes it; the worker
claims it with a conditional UPDATE (no broker), performs it with its idempotency key, and
records the result in the ledger. Failures are retried with backoff and stay visible.
"""

from __future__ import annotations

from django.db import models


class OutboxItem(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        DONE = "done"
        FAILED = "failed"  # final: not retryable, or out of attempts

    key = models.CharField(max_length=80, unique=True, help_text="idempotency key, sent with the request")
    kind = models.CharField(max_length=40, db_index=True)  # e.g. "whatsapp.send"
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_seq = models.BigIntegerField(help_text="the ledger entry that queued it")
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)
