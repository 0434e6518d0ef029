"""Worker steps for WhatsApp: split captured webhooks into ledgered items, fetch media.

Each captured body is processed in one transaction: one ``whatsapp.item`` entry per item
not already on the record (the identity of A3 decides: at-least-once delivery, several
apps, Meta's retries), each projected at once. A body that is not a WhatsApp payload is
kept (it is already captured) and flagged with a ``whatsapp.malformed`` entry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q

from onfile import clock
from onfile.channels.email import forwarding as email_bridge
from onfile.channels.whatsapp import config
from onfile.channels.whatsapp.graph import GraphError
from onfile.channels.whatsapp.models import MediaFetch, ProcessedItem, WebhookJob
from onfile.channels.whatsapp.payloads import WebhookFormatError, WebhookItem, split_webhook
from onfile.conversations.models import Attachment
from onfile.ledger.actions import do_capture, keyed_commitment
from onfile.ledger.blobs import read_blob
from onfile.ledger.log import NewEntry, append
from onfile.ledger.models import Entry
from onfile.outbox.queue import backoff
from onfile.projection import EntryView, project

log = logging.getLogger("onfile.whatsapp")
MEDIA_EXPIRY = timedelta(days=7)
MEDIA_ALERT_AFTER = timedelta(days=6)


def _claim_jobs(limit: int) -> list[WebhookJob]:
    now = clock.now()
    due = Q(done=False) & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    claimed = []
    for pk in WebhookJob.objects.filter(due).order_by("pk").values_list("pk", flat=True)[:limit]:
        # A short lease: a body takes well under a second to process, and a worker killed
        # mid-way should not hold its bodies for long. A lease that runs out under a slow
        # worker is harmless: the items' identities keep the second pass from adding anything.
        if WebhookJob.objects.filter(due, pk=pk).update(lease_until=now + timedelta(seconds=30)):
            claimed.append(WebhookJob.objects.get(pk=pk))
    return claimed


def _item_entry(capture_seq: int, index: int, it: WebhookItem) -> None:
    raw = json.dumps(it.raw, sort_keys=True, ensure_ascii=False).encode()
    attrs = {"capture": capture_seq, "index": index, "identity": it.identity, "kind": it.kind, "field": it.field,
             "phone_number_id": it.phone_number_id}
    appended = append(NewEntry("whatsapp.item", "whatsapp", f"capture:{capture_seq}", attrs, None,
                               keyed_commitment(raw)))
    project(EntryView(appended.seq, "whatsapp.item", "whatsapp", f"capture:{capture_seq}", attrs, None,
                      time=appended.time))


def _queue_media(it: WebhookItem) -> None:
    m = it.message
    if m is None or m.media is None or not m.media.id:
        return
    MediaFetch.objects.get_or_create(message_key=f"wa:{m.wamid}", index=0, defaults={
        "media_id": m.media.id, "phone_number_id": it.phone_number_id, "sha256": m.media.sha256 or "",
        "first_seen_at": clock.now(), "next_attempt_at": clock.now()})


def process_capture(capture_seq: int) -> tuple[int, int]:
    """Record the items of one captured body; returns (new items, duplicates)."""
    blob_id = Entry.objects.values_list("blob_id", flat=True).get(seq=capture_seq)
    try:
        items = split_webhook(read_blob(int(blob_id)))
    except WebhookFormatError as exc:
        with transaction.atomic():
            append(NewEntry("whatsapp.malformed", "whatsapp", f"capture:{capture_seq}", {"error": str(exc)}))
        return 0, 0
    known = set(ProcessedItem.objects.filter(identity__in=[i.identity for i in items]).values_list(
        "identity", flat=True))
    fresh = [(n, it) for n, it in enumerate(items) if it.identity not in known]
    seen: set[str] = set()
    with transaction.atomic():
        for index, it in fresh:
            if it.identity in seen:  # the same item twice in one body
                continue
            seen.add(it.identity)
            _item_entry(capture_seq, index, it)
            _queue_media(it)
            email_bridge.after_item(it)  # forward / notify / journal, in this transaction
    return len(seen), len(items) - len(seen)


def process_pending(limit: int = 50) -> int:
    done = 0
    for job in _claim_jobs(limit):
        try:
            process_capture(job.capture_seq)
        except IntegrityError:
            # Another worker recorded some of these items meanwhile: try again, they will be skipped.
            WebhookJob.objects.filter(pk=job.pk).update(attempts=job.attempts + 1, lease_until=None)
            continue
        except Exception as exc:
            log.exception("webhook capture %s could not be processed", job.capture_seq)
            WebhookJob.objects.filter(pk=job.pk).update(attempts=job.attempts + 1, last_error=str(exc)[:2000],
                                                        lease_until=clock.now() + backoff(job.attempts + 1))
            continue
        WebhookJob.objects.filter(pk=job.pk).update(done=True, lease_until=None)
        done += 1
    return done


# ---- media ---------------------------------------------------------------------------------------------


def sha_matches(expected: str, data: bytes) -> bool:
    """The webhook's sha256 is hex in some payloads and base64 in others (whatsapp.md A5)."""
    if not expected:
        return True
    digest = hashlib.sha256(data).digest()
    return expected.lower() == digest.hex() or expected == base64.b64encode(digest).decode()


def fetch_one(job: MediaFetch) -> None:
    from django.conf import settings

    graph = config.client()
    try:
        info = graph.media_info(job.media_id)
        data = graph.download(info.url, settings.WHATSAPP_MEDIA_MAX)
    finally:
        graph.close()
    if not sha_matches(job.sha256, data) or (info.sha256 and not sha_matches(info.sha256, data)):
        raise ValueError(f"media {job.media_id}: the downloaded bytes do not match the announced sha256")
    captured = do_capture(data, kind="capture.media", actor="whatsapp", subject=f"message:{job.message_key}",
                          attrs={"media_id": job.media_id, "sha256": hashlib.sha256(data).hexdigest(),
                                 "mime": info.mime_type or "", "size": len(data)},
                          media_type=info.mime_type or "application/octet-stream")
    attrs = {"message": job.message_key, "index": job.index, "capture": captured.seq}
    with transaction.atomic():
        appended = append(NewEntry("whatsapp.media_fetched", "whatsapp", f"message:{job.message_key}", attrs))
        project(EntryView(appended.seq, "whatsapp.media_fetched", "whatsapp", f"message:{job.message_key}",
                          attrs, None, time=appended.time))
        MediaFetch.objects.filter(pk=job.pk).update(done=True, attempts=job.attempts + 1, last_error="")


def fetch_media(limit: int = 10) -> int:
    fetched = 0
    now = clock.now()
    for job in MediaFetch.objects.filter(done=False, next_attempt_at__lte=now).order_by("pk")[:limit]:
        try:
            fetch_one(job)
            fetched += 1
        except (GraphError, ValueError, config.NotConfigured) as exc:
            at_least = getattr(exc, "retry_after", None) or 0.0
            MediaFetch.objects.filter(pk=job.pk).update(attempts=job.attempts + 1, last_error=str(exc)[:2000],
                                                        next_attempt_at=now + backoff(job.attempts + 1, at_least))
            _alert_if_expiring(job, now)
    return fetched


def _alert_if_expiring(job: MediaFetch, now: object) -> None:
    if job.alerted or clock.now() - job.first_seen_at < MEDIA_ALERT_AFTER:
        return
    with transaction.atomic():
        append(NewEntry("alert.media_expiring", "whatsapp", f"message:{job.message_key}", {
            "media_id": job.media_id, "first_seen_at": job.first_seen_at.isoformat(),
            "expires_at": (job.first_seen_at + MEDIA_EXPIRY).isoformat(), "attempts": job.attempts + 1}))
        MediaFetch.objects.filter(pk=job.pk).update(alerted=True)
    log.error("media %s of %s is still not fetched and expires at %s", job.media_id, job.message_key,
              (job.first_seen_at + MEDIA_EXPIRY).isoformat())


def attach_fetched(message_key: str, index: int, capture_seq: int) -> None:
    """Projector body for ``whatsapp.media_fetched``."""
    entry = Entry.objects.get(seq=capture_seq)
    attrs = json.loads(entry.attrs)
    attachment = Attachment.objects.filter(message__key=message_key).order_by("pk")[index]
    Attachment.objects.filter(pk=attachment.pk).update(
        blob_id=entry.blob_id, size=attrs["size"], sha256=attrs["sha256"], placeholder="",
        mime_type=attachment.mime_type or attrs["mime"])
