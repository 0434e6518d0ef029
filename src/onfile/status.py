"""What ``onfile status`` and the admin status page report."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Count, Sum

from onfile.accounts.models import User
from onfile.conversations.models import Attachment, Client, Conversation, Matter, Message
from onfile.ledger.models import Blob, Checkpoint, Entry, Head


def last_verify() -> dict[str, Any] | None:
    entry = Entry.objects.filter(kind="verify.completed").order_by("-seq").first()
    if entry is None:
        return None
    result: dict[str, Any] = json.loads(entry.attrs)
    result["at"] = entry.time
    result["seq"] = entry.seq
    return result


def collect_status(counts_only: bool = False) -> dict[str, Any]:
    head = Head.objects.filter(pk=1).first()
    status: dict[str, Any] = {
        "initialised": head is not None,
        "counts": {
            "conversations": Conversation.objects.count(),
            "messages": Message.objects.count(),
            "attachments": Attachment.objects.count(),
            "clients": Client.objects.count(),
            "matters": Matter.objects.count(),
            "conversations_by_source": dict(
                Conversation.objects.values_list("source").annotate(n=Count("id")).values_list("source", "n")
            ),
        },
    }
    if counts_only:
        return status
    blobs = Blob.objects.aggregate(n=Count("id"), size=Sum("cipher_size"))
    cp = Checkpoint.objects.order_by("-size", "-id").first()
    status.update({
        "ledger": {"entries": head.size if head else 0, "origin": head.origin if head else "",
                   "master_key_id": head.master_key_id if head else ""},
        "blobs": {"count": blobs["n"] or 0, "bytes": blobs["size"] or 0},
        "users": User.objects.filter(is_active=True).count(),
        "last_checkpoint": None if cp is None else {
            "size": cp.size, "root": cp.root, "at": cp.created_at.isoformat(), "reason": cp.reason},
        "last_verify": last_verify(),
        "imap": _imap_status(),
        "outbox": outbox_status(),
    })
    return status


def outbox_status(failed_shown: int = 10) -> dict[str, Any]:
    """What is waiting to leave onfile and what could not (ARCHITECTURE 5: failures stay visible):
    per kind (``whatsapp.send``, ``email.forward``, ``email.journal`` …) how many are pending, being
    sent and failed, the oldest still waiting, and the latest failures with their error."""
    from onfile.outbox.models import OutboxItem

    kinds: dict[str, dict[str, Any]] = {}
    rows = OutboxItem.objects.exclude(status=OutboxItem.Status.DONE).values("kind", "status").annotate(n=Count("id"))
    for row in rows:
        kinds.setdefault(row["kind"], {"pending": 0, "sending": 0, "failed": 0})[row["status"]] = row["n"]
    for kind, counts in kinds.items():
        oldest = (OutboxItem.objects.filter(kind=kind, status=OutboxItem.Status.PENDING)
                  .order_by("created_at").values_list("created_at", "attempts", "last_error").first())
        counts["oldest_pending"] = None if oldest is None else {
            "since": oldest[0].isoformat(), "attempts": oldest[1], "last_error": oldest[2][:300]}
    failed = [{"kind": k, "key": key, "attempts": a, "error": e[:300], "at": at.isoformat() if at else None}
              for k, key, a, e, at in OutboxItem.objects.filter(status=OutboxItem.Status.FAILED)
              .order_by("-done_at", "-id").values_list("kind", "key", "attempts", "last_error", "done_at")
              [:failed_shown]]
    return {"kinds": dict(sorted(kinds.items())), "latest_failed": failed}


def _imap_status() -> dict[str, Any] | None:
    from onfile.channels.email.imap import imap_status

    return imap_status()
