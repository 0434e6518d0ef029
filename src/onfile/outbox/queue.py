"""Claiming, finishing and retrying outbox items.

A claim is a conditional UPDATE that only one worker can win; the claim carries a lease so
that an item claimed by a worker that died is claimed again when the lease runs out —
with the same idempotency key, so the far side can recognise the repeat.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from django.db import transaction
from django.db.models import Q

from onfile.outbox.models import OutboxItem

LEASE = timedelta(seconds=45)  # > the Graph client's timeout (15 s), so a live sender keeps its item
MAX_ATTEMPTS = 12


def enqueue(key: str, kind: str, payload: dict[str, Any], created_seq: int, now: datetime) -> OutboxItem:
    """Inside the caller's transaction, with the ledger entry that causes it."""
    return OutboxItem.objects.create(key=key, kind=kind, payload=payload, created_seq=created_seq,
                                     next_attempt_at=now)


def claim(kind: str, now: datetime, limit: int = 10) -> list[OutboxItem]:
    due = Q(status=OutboxItem.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=OutboxItem.Status.SENDING, lease_until__lt=now)
    won: list[int] = []
    with transaction.atomic():  # one commit for the batch, not one per item
        for pk in OutboxItem.objects.filter(due, kind=kind).order_by("next_attempt_at", "pk").values_list(
                "pk", flat=True)[:limit]:
            if OutboxItem.objects.filter(due, pk=pk).update(status=OutboxItem.Status.SENDING,
                                                           lease_until=now + LEASE):
                won.append(pk)  # nothing updated: another worker got there first
    by_pk = OutboxItem.objects.in_bulk(won)
    return [by_pk[pk] for pk in won]


def release(items: list[OutboxItem]) -> None:
    """Give claimed items back, untried (no attempt used): due again at once, for any worker."""
    OutboxItem.objects.filter(pk__in=[i.pk for i in items], status=OutboxItem.Status.SENDING).update(
        status=OutboxItem.Status.PENDING, lease_until=None)


def backoff(attempts: int, at_least: float = 0.0) -> timedelta:
    seconds = max(at_least, min(3600.0, 2.0 ** attempts)) * (0.8 + 0.4 * random.random())
    return timedelta(seconds=seconds)


def retry_later(item: OutboxItem, error: str, now: datetime, at_least: float = 0.0) -> None:
    attempts = item.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        fail(item, f"gave up after {attempts} attempts: {error}", now)
        return
    OutboxItem.objects.filter(pk=item.pk).update(
        status=OutboxItem.Status.PENDING, attempts=attempts, last_error=error, lease_until=None,
        next_attempt_at=now + backoff(attempts, at_least))


def fail(item: OutboxItem, error: str, now: datetime) -> None:
    OutboxItem.objects.filter(pk=item.pk).update(status=OutboxItem.Status.FAILED, attempts=item.attempts + 1,
                                                 last_error=error, lease_until=None, done_at=now)


def done(item: OutboxItem, result: dict[str, Any], now: datetime) -> None:
    OutboxItem.objects.filter(pk=item.pk).update(status=OutboxItem.Status.DONE, result=result,
                                                 attempts=item.attempts + 1, lease_until=None, done_at=now)


def save_progress(item: OutboxItem, result: dict[str, Any]) -> None:
    """Keep a step's result (e.g. an uploaded media id) so a retry does not repeat it."""
    OutboxItem.objects.filter(pk=item.pk).update(result=result)
    item.result = result


class _Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)


def drain(kind: str, now: datetime, connect: Callable[[], C], deliver: Callable[[OutboxItem, C], Any],
          limit: int = 20) -> int:
    """Claim up to ``limit`` due items of ``kind`` and deliver each over one connection, opened
    only when there is work (a relay or API that is down costs nothing while the queue is empty)."""
    items = claim(kind, now, limit)
    if not items:
        return 0
    connection = connect()
    try:
        for item in items:
            deliver(item, connection)
    finally:
        connection.close()
    return len(items)
