"""Import runs: one per ``onfile import`` of one source (projection of ``import.*`` entries)."""

from __future__ import annotations

from django.db import models


class ImportRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        COMPLETE = "complete"

    seq = models.BigIntegerField(unique=True, help_text="the import.started ledger entry")
    capture_seq = models.BigIntegerField(db_index=True, help_text="the raw capture of the source file")
    kind = models.CharField(max_length=20)  # "chat-export" | "msgstore" | "chatstorage"
    title = models.CharField(max_length=300, blank=True)
    options = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    counts = models.JSONField(default=dict, blank=True)
    conversations = models.ManyToManyField("conversations.Conversation", blank=True)
