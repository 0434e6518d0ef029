"""Export jobs: a large conversation's PDF or zip, asked for on the web, made by the worker.

A job is operational state, like an outbox row, not a record: what it produced is recorded in
the ledger by the export itself (``access.export``) and by each download (``access.download``).
Its row stays after its file is gone (failed, expired), so the person can see what happened.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q


class ExportJob(models.Model):
    class Format(models.TextChoices):
        PDF = "pdf", "Transcript (PDF)"
        ZIP = "zip", "Export (zip with media)"

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting"
        RUNNING = "running", "Being made"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="export_jobs")
    # The conversation's id, not a foreign key: conversations are a projection, which `onfile rebuild`
    # empties and refills with the same ids (a foreign key would stop it on PostgreSQL).
    conversation_id = models.BigIntegerField()
    format = models.CharField(max_length=4, choices=Format.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="a running job past this lost its worker")
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, help_text="why it failed, for the person who asked")
    # The result: what the person downloads (sha256 and size of the plain file, as in the ledger).
    filename = models.CharField(max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    export_seq = models.BigIntegerField(null=True, blank=True, help_text="its access.export ledger entry")
    # The sealed file under EXPORT_DIR and its data key, wrapped by the master key (emptied at expiry).
    path = models.CharField(max_length=200, blank=True)
    wrapped_key = models.BinaryField(null=True, blank=True)
    master_key_id = models.CharField(max_length=16, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True, help_text="when the file was deleted")

    class Meta:
        constraints = [
            # One job at a time per person, conversation and format: asking twice does not queue twice.
            models.UniqueConstraint(fields=["requested_by", "conversation_id", "format"],
                                    condition=Q(state__in=["queued", "running"]), name="export_job_one_active"),
        ]
        indexes = [
            models.Index(fields=["state", "requested_at"], name="export_job_state"),
            models.Index(fields=["requested_by", "requested_at"], name="export_job_person"),
        ]

    def __str__(self) -> str:
        return f"export job {self.pk} ({self.format} of conversation {self.conversation_id}, {self.state})"

    @property
    def active(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    def expired(self, now: datetime) -> bool:
        """Made, and gone (or due to go): its file can no longer be downloaded."""
        return self.state == self.State.DONE and (
            self.purged_at is not None or (self.expires_at is not None and self.expires_at <= now))
