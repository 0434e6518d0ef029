"""The background worker: scheduled work, claimed from the database (no broker).

Today it copies SQLite's write-ahead log back into the database (off the capture path),
signs a checkpoint every ``ONFILE_CHECKPOINT_INTERVAL`` seconds when the ledger
grew (REQ-TE-3) and runs a full verify every ``ONFILE_VERIFY_INTERVAL`` seconds (the
nightly self-audit, REQ-TE-5), recording the result in the ledger. Later capabilities add
their queues (outbox, media fetch, exports of long conversations) as further steps of
:meth:`Worker.run_once`.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from onfile.ledger.checkpoints import CheckpointRefused, do_checkpoint, latest_checkpoint
from onfile.ledger.log import NewEntry, append
from onfile.ledger.models import Entry
from onfile.ledger.verify import verify
from onfile.status import last_verify

log = logging.getLogger("onfile.worker")


def _age_seconds(iso: str) -> float:
    then = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (datetime.now(UTC) - then).total_seconds()


class Worker:
    def __init__(self) -> None:
        self.stopping = False
        # run() makes exports on a thread of their own (see _export_loop); run_once() makes one in turn.
        self.exports_on_thread = False

    def stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def checkpoint_if_due(self) -> bool:
        cp = latest_checkpoint()
        if cp is not None and _age_seconds(cp.created_at.isoformat()) < settings.CHECKPOINT_INTERVAL_SECONDS:
            return False
        try:
            made = do_checkpoint(reason="scheduled")
        except CheckpointRefused as exc:
            log.error("checkpoint refused: %s", exc)
            with transaction.atomic():
                append(NewEntry("security.checkpoint_refused", "system:worker", "", {"reason": str(exc)}))
            return False
        if made is not None:
            log.info("signed checkpoint at size %d", made.size)
        return made is not None

    def verify_if_due(self) -> bool:
        last = last_verify()
        if last is not None and _age_seconds(str(last["at"])) < settings.VERIFY_INTERVAL_SECONDS:
            return False
        report = verify()
        with transaction.atomic():
            append(NewEntry("verify.completed", "system:worker", "", {
                "ok": report.ok, "entries": report.entries, "first_bad_seq": report.first_bad_seq,
                "problems": len(report.problems), "root": report.root}))
        if report.ok:
            log.info("scheduled verify passed: %d entries", report.entries)
        else:
            log.error("scheduled verify FAILED: %s", "; ".join(str(p) for p in report.problems[:5]))
        return True

    def wal_checkpoint(self) -> None:
        """SQLite: copy the WAL back into the database here, not inside a capture's commit
        (see docs/decisions.md). PASSIVE never blocks writers."""
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def whatsapp(self) -> int:
        """Process captured webhooks, fetch media, deliver queued sends; returns work done."""
        from onfile.channels.whatsapp import processing, receipts, sending

        work = processing.process_pending()
        if settings.WHATSAPP_ACCESS_TOKEN:
            work += processing.fetch_media() + sending.deliver_sends() + receipts.deliver_reads()
        return work

    def email(self) -> int:
        """Expire replies held too long for a closed WhatsApp window (their notices are queued), then
        deliver queued forwards, bounces, notices and journal copies through the SMTP relay (when configured)."""
        from onfile.channels.email.delivery import deliver_emails
        from onfile.channels.email.holds import expire_holds

        return expire_holds() + deliver_emails()

    def imap(self) -> int:
        """Poll the IMAP mailbox for staff replies every ONFILE_IMAP_POLL_SECONDS (when ONFILE_IMAP_HOST is set)."""
        from onfile.channels.email import imap

        return imap.poll_if_due()

    def exports(self) -> int:
        """Make one queued export of a long conversation (asked for on the web), requeue or fail
        those whose worker died, delete expired export files; returns work done."""
        from onfile.exports import jobs

        return jobs.work()

    def reconcile_if_due(self) -> None:
        from onfile.channels.whatsapp.reconcile import reconcile

        last = Entry.objects.filter(kind="reconcile.completed").order_by("-seq").values_list("time", flat=True).first()
        if last is not None and _age_seconds(last) < settings.RECONCILE_INTERVAL_SECONDS:
            return
        report = reconcile()
        with transaction.atomic():
            append(NewEntry("reconcile.completed", "system:worker", "", {"gaps": report["gaps"]}))
        if report["gaps"]:
            log.warning("reconcile found %d completeness gap(s); run 'onfile reconcile' for details", report["gaps"])

    def run_once(self) -> int:
        close_old_connections()
        work = self.whatsapp()
        work += self.email()
        work += self.imap()
        if not self.exports_on_thread:
            work += self.exports()
        self.wal_checkpoint()
        self.checkpoint_if_due()
        self.verify_if_due()
        self.reconcile_if_due()
        return work

    def run(self, poll_seconds: float = 0.5) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info("worker started")
        exporter = threading.Thread(target=self._export_loop, args=(poll_seconds,), name="onfile-exports",
                                    daemon=True)
        self.exports_on_thread = True
        exporter.start()
        self._loop(self.run_once, poll_seconds)
        # An export being made is left to its lease: the next worker queues it again.
        exporter.join(timeout=2)
        log.info("worker stopped")

    def _export_loop(self, poll_seconds: float) -> None:
        """Exports of long conversations on a thread of their own (and its own database
        connection): one takes WeasyPrint up to a minute, and captured messages, sends and
        emails must not wait for it in the worker's round."""
        try:
            self._loop(self.exports, poll_seconds)
        finally:
            connection.close()  # this thread's

    def _loop(self, step: Callable[[], int], poll_seconds: float) -> None:
        while not self.stopping:
            work = 0
            try:
                close_old_connections()
                work = step()
            except Exception:
                # One failing step must not stop the worker; it logs and tries again.
                log.exception("worker step failed")
            # Busy: come straight back. Idle: poll gently.
            deadline = time.monotonic() + (0.05 if work else poll_seconds)
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.2)
