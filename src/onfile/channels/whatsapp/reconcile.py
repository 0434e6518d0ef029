"""Completeness: what should be on the record but is not, or looks wrong (REQ-SEC-6, REQ-OCC-2).

Meta keeps no history we could fetch again (whatsapp.md A3), so gaps must be found while
they can still be fixed: statuses for messages we never saw, outgoing messages nobody
reported on, media not yet downloaded (ids expire after 7 days), bodies not processed,
days whose inbound counts fall far below the usual.
"""

from __future__ import annotations

from datetime import timedelta
from statistics import median
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate

from onfile import clock
from onfile.channels.whatsapp.models import MediaFetch, WebhookJob
from onfile.conversations.models import Attachment, FirmNumber, Message, MessageStatus
from onfile.ledger.models import Entry
from onfile.outbox.models import OutboxItem

QUIET_MINUTES = 10


def _sample(values: list[Any], n: int = 10) -> list[Any]:
    return values[:n]


def day_anomalies(days: int = 30) -> list[dict[str, Any]]:
    since = clock.now() - timedelta(days=days)
    rows = (Message.objects.filter(direction="in", sent_at__gte=since, conversation__firm_number__isnull=False)
            .annotate(day=TruncDate("sent_at")).values("conversation__firm_number__phone_number_id", "day")
            .annotate(n=Count("id")).order_by("day"))
    per_number: dict[str, dict[Any, int]] = {}
    for row in rows:
        per_number.setdefault(row["conversation__firm_number__phone_number_id"], {})[row["day"]] = row["n"]
    flagged = []
    today = clock.now().date()
    for number, counts in per_number.items():
        for offset in range(days - 1, 0, -1):
            day = today - timedelta(days=offset)
            trailing = [counts.get(day - timedelta(days=k), 0) for k in range(1, 8)]
            usual = median(trailing)
            if usual >= 5 and counts.get(day, 0) < 0.2 * usual:
                flagged.append({"phone_number_id": number, "day": day.isoformat(), "count": counts.get(day, 0),
                                "usual": usual})
    return flagged


def reconcile() -> dict[str, Any]:
    now = clock.now()
    orphans = list(MessageStatus.objects.filter(message__isnull=True).values_list("message_key", flat=True)
                   .distinct())
    quiet = list(Message.objects.filter(direction="out", statuses__isnull=True, sent_at__lt=now - timedelta(
        minutes=QUIET_MINUTES)).exclude(wamid="").values_list("wamid", flat=True))
    not_fetched = Attachment.objects.filter(placeholder="not-fetched")
    report: dict[str, Any] = {
        "statuses_without_message": {"count": len(orphans), "sample": _sample(orphans)},
        "messages_without_status": {"count": len(quiet), "sample": _sample(quiet)},
        "media_not_fetched": {"count": not_fetched.count(),
                              "failing": MediaFetch.objects.filter(done=False, attempts__gt=0).count(),
                              "expiring_soon": MediaFetch.objects.filter(
                                  done=False, first_seen_at__lt=now - timedelta(days=6)).count()},
        "webhooks_not_processed": WebhookJob.objects.filter(done=False).count(),
        "malformed_webhooks": Entry.objects.filter(kind="whatsapp.malformed").count(),
        "sends_failed": OutboxItem.objects.filter(kind="whatsapp.send", status=OutboxItem.Status.FAILED).count(),
        "sends_waiting": OutboxItem.objects.filter(kind="whatsapp.send", status__in=["pending", "sending"]).count(),
        "unconfigured_numbers": list(FirmNumber.objects.filter(configured=False).values_list("phone_number_id",
                                                                                             flat=True)),
        "days_with_low_counts": day_anomalies(),
    }
    report["gaps"] = (report["statuses_without_message"]["count"] + report["messages_without_status"]["count"]
                      + report["media_not_fetched"]["count"] + report["webhooks_not_processed"]
                      + report["malformed_webhooks"] + report["sends_failed"] + len(report["unconfigured_numbers"])
                      + len(report["days_with_low_counts"]))
    return report
