"""Work queues of the WhatsApp channel (operational state, not projection) and channel events.

``WebhookJob``: a captured webhook body waiting to be split and processed. ``MediaFetch``:
a media id to download before it expires (7 days). ``ProcessedItem`` and ``ChannelEvent``
are projection (rebuilt from ``whatsapp.item`` entries): which item identities are on the
record, and the items that are not messages (value-level errors, unknown fields …).
"""

from __future__ import annotations

from django.db import models


class WebhookJob(models.Model):
    capture_seq = models.BigIntegerField(unique=True)
    received_at = models.DateTimeField()
    done = models.BooleanField(default=False, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)


class MediaFetch(models.Model):
    message_key = models.CharField(max_length=200)
    index = models.PositiveSmallIntegerField(default=0)
    media_id = models.CharField(max_length=64)
    phone_number_id = models.CharField(max_length=64)
    sha256 = models.CharField(max_length=100, blank=True, help_text="as the webhook gave it (hex or base64)")
    first_seen_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    done = models.BooleanField(default=False, db_index=True)
    alerted = models.BooleanField(default=False)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message_key", "index"], name="unique_media_fetch")]


class ProcessedItem(models.Model):
    identity = models.CharField(max_length=300, unique=True)
    seq = models.BigIntegerField()


class ChannelEvent(models.Model):
    kind = models.CharField(max_length=40)
    phone_number_id = models.CharField(max_length=64, blank=True)
    identity = models.CharField(max_length=300)
    data = models.JSONField(default=dict)
    seq = models.BigIntegerField()
    at = models.DateTimeField()
