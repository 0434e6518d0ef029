"""Large exports in the background: asked for on the web, made by the worker, downloaded later.

A 10,000-message transcript costs WeasyPrint 35–40 s of CPU: too long for a web request (a
worker timeout or a closed tab loses it, and the person waits without a word). So a
conversation with more than ``ONFILE_EXPORT_BACKGROUND_MESSAGES`` messages is exported as a
job; smaller ones still download at once, and the CLI always works in the foreground.

**States.** ``queued`` → ``running`` → ``done`` or ``failed``. A person has at most one
queued or running job per conversation and format (a partial unique index): asking again
while one is on its way returns that one.

**Claim.** One worker wins a job: on PostgreSQL the oldest queued row is locked with
``SELECT … FOR UPDATE SKIP LOCKED`` (a second worker skips it and takes the next); on SQLite,
which has no row locks, with ``UPDATE … WHERE state = 'queued'``, and the worker that updated
no row lost. The claim sets a lease of ``ONFILE_EXPORT_TIMEOUT_MINUTES``: a job still running
after it lost its worker (killed, machine restarted) and is queued again, up to
``MAX_ATTEMPTS`` tries, then failed with a message. Every later change to a running job is
conditional on its attempt number, so a worker that was only slow cannot overwrite the
outcome of the attempt that replaced it.

**Producing.** The worker calls the very functions the downloads call
(``conversation.render_pdf`` / ``write_zip``) as the person who asked: the access check, the
signed checkpoint and the ``access.export`` ledger entry happen there, exactly as for an
immediate download. If that person may no longer see the conversation (a wall, a changed
assignment, a deactivated account) the access check says 404 and the job fails saying so.
The output is sealed while it is written (``sealed``): it is never on disk in clear.

**Download and expiry.** Only the person who asked may download, and the access layer is asked
again at that moment (a wall set after the job ran still stops it); each download is an
``access.download`` ledger entry. ``ONFILE_EXPORT_KEEP_HOURS`` after it was made, the worker
destroys the file's key and deletes the file; the row stays, so the page can say it expired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from onfile.accounts.models import User
from onfile.conversations.models import Conversation, Message
from onfile.exports import conversation as exports
from onfile.exports import sealed
from onfile.exports.models import ExportJob
from onfile.ledger.checkpoints import CheckpointRefused

log = logging.getLogger("onfile.exports")
MAX_ATTEMPTS = 3
ACTIVE = (ExportJob.State.QUEUED, ExportJob.State.RUNNING)
_PRODUCERS: dict[str, Callable[[int, Any, BinaryIO], exports.ExportResult]] = {
    ExportJob.Format.PDF: exports.render_pdf,
    ExportJob.Format.ZIP: exports.write_zip,
}


def in_background(conversation_id: int) -> bool:
    """Has the conversation more messages than a web request should export?"""
    limit = max(0, settings.EXPORT_BACKGROUND_MESSAGES)
    # One row past the limit is enough to know: no count of a long conversation.
    beyond = Message.objects.filter(conversation_id=conversation_id).order_by().values_list("pk", flat=True)
    return bool(list(beyond[limit:limit + 1]))


def _lease() -> timedelta:
    return timedelta(minutes=max(1, settings.EXPORT_TIMEOUT_MINUTES))


# ---- asking ------------------------------------------------------------------------------------------

def do_request_export(user: User, conversation: Conversation, fmt: str,
                      now: datetime | None = None) -> tuple[ExportJob, bool]:
    """Queue ``fmt`` of ``conversation`` for ``user``; returns the job and whether it is new.

    ``conversation`` comes from the access layer (``access.get_conversation``): the caller has
    checked that ``user`` may see it. The worker checks again when it makes the file."""
    if fmt not in ExportJob.Format.values:
        raise ValueError(f"unknown export format {fmt!r}")
    now = now or timezone.now()
    active = ExportJob.objects.filter(requested_by=user, conversation_id=conversation.pk, format=fmt,
                                      state__in=ACTIVE)
    with transaction.atomic():
        existing = active.first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                job = ExportJob.objects.create(requested_by=user, conversation_id=conversation.pk, format=fmt,
                                               requested_at=now)
            return job, True
        except IntegrityError:
            pass  # the same request, a moment earlier (a double click): the index kept one
    return active.get(), False


# ---- claiming ----------------------------------------------------------------------------------------

def claim_next(now: datetime) -> ExportJob | None:
    """Take the oldest queued job for this worker (``running``, one attempt more), or None."""
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            pk = (ExportJob.objects.select_for_update(skip_locked=True).filter(state=ExportJob.State.QUEUED)
                  .order_by("requested_at", "pk").values_list("pk", flat=True).first())
            if pk is None or not _start(pk, now):
                return None
        return ExportJob.objects.get(pk=pk)
    candidates = (ExportJob.objects.filter(state=ExportJob.State.QUEUED).order_by("requested_at", "pk")
                  .values_list("pk", flat=True)[:5])
    return claim_one_of(list(candidates), now)


def claim_one_of(candidates: list[int], now: datetime) -> ExportJob | None:
    """The conditional UPDATE claim (SQLite): the first of ``candidates`` still queued."""
    for pk in candidates:
        if _start(pk, now):
            return ExportJob.objects.get(pk=pk)
        # No row updated: another worker claimed it between our read and our update.
    return None


def _start(pk: int, now: datetime) -> bool:
    return ExportJob.objects.filter(pk=pk, state=ExportJob.State.QUEUED).update(
        state=ExportJob.State.RUNNING, started_at=now, lease_until=now + _lease(), attempts=F("attempts") + 1,
        error="") == 1


def recover_stale(now: datetime) -> int:
    """Running jobs whose lease ran out lost their worker: queue them again, or fail them after
    ``MAX_ATTEMPTS`` (an export that kills its worker every time must not loop for ever)."""
    recovered = 0
    stale = ExportJob.objects.filter(state=ExportJob.State.RUNNING, lease_until__lt=now)
    for pk, attempts in stale.values_list("pk", "attempts"):
        mine = ExportJob.objects.filter(pk=pk, state=ExportJob.State.RUNNING, attempts=attempts, lease_until__lt=now)
        if attempts >= MAX_ATTEMPTS:
            recovered += mine.update(state=ExportJob.State.FAILED, finished_at=now, lease_until=None,
                                     error=f"The export was interrupted {attempts} times (the background worker "
                                           "stopped while making it). Ask again, or tell your administrator if "
                                           "it keeps happening.")
        else:
            recovered += mine.update(state=ExportJob.State.QUEUED, lease_until=None)
        log.warning("export job %s: its worker stopped during attempt %s", pk, attempts)
    return recovered


# ---- making --------------------------------------------------------------------------------------------

def run_job(job: ExportJob) -> ExportJob:
    """Make a claimed job's file as the person who asked; the job ends ``done`` or ``failed``."""
    user = User.objects.get(pk=job.requested_by_id)  # as they are now: role, team, active
    produce = _PRODUCERS[job.format]
    name = sealed.new_name(f"job-{job.pk}-{job.attempts}")
    try:
        result, stored = sealed.write_sealed(name, lambda out: produce(job.conversation_id, user, out))
    except Http404:
        _fail(job, "Your account is no longer active, so this export was not made." if not user.is_active else
              "This conversation is no longer available to you, so this export was not made.")
    except Exception as exc:
        log.exception("export job %s (%s of conversation %s) failed", job.pk, job.format, job.conversation_id)
        _fail(job, _why(job, exc))
    else:
        if not _done(job, result, stored):
            sealed.delete(name)  # the job was given to another worker meanwhile: its outcome stands
    job.refresh_from_db()
    return job


def _why(job: ExportJob, exc: Exception) -> str:
    what = job.get_format_display()
    if isinstance(exc, CheckpointRefused):
        return f"The {what} could not be made: the ledger refused to sign a checkpoint for it ({exc})."
    if isinstance(exc, OSError):
        return f"The {what} could not be stored on the server ({exc.strerror or exc}). Tell your administrator."
    return (f"The {what} could not be made (an error in the export: {type(exc).__name__}). Ask again, or tell "
            "your administrator if it keeps failing.")


def _running(job: ExportJob) -> Any:
    return ExportJob.objects.filter(pk=job.pk, state=ExportJob.State.RUNNING, attempts=job.attempts)


def _done(job: ExportJob, result: exports.ExportResult, stored: sealed.SealedFile) -> bool:
    now = timezone.now()
    return bool(_running(job).update(
        state=ExportJob.State.DONE, finished_at=now, lease_until=None, error="", filename=result.filename,
        sha256=result.sha256, size=result.size, export_seq=result.audit_seq, path=stored.name,
        wrapped_key=stored.wrapped_key, master_key_id=stored.master_key_id,
        expires_at=now + timedelta(hours=settings.EXPORT_KEEP_HOURS)))


def _fail(job: ExportJob, why: str) -> None:
    _running(job).update(state=ExportJob.State.FAILED, finished_at=timezone.now(), lease_until=None, error=why)


# ---- expiry --------------------------------------------------------------------------------------------

def purge_expired(now: datetime) -> int:
    """Destroy the key and delete the file of every job past its expiry; the rows stay."""
    purged = 0
    due = ExportJob.objects.filter(state=ExportJob.State.DONE, purged_at__isnull=True, expires_at__lte=now)
    for pk, path in due.values_list("pk", "path"):
        # The key first: once it is gone the file cannot be opened, even if deleting it fails.
        if ExportJob.objects.filter(pk=pk, purged_at__isnull=True).update(purged_at=now, wrapped_key=None):
            sealed.delete(path)
            purged += 1
    _sweep(now)
    return purged


def _sweep(now: datetime) -> None:
    """Delete files no job refers to (a worker stopped between writing one and recording it, or
    a purge whose delete failed) once no running attempt can still be writing them."""
    old = sealed.files_older_than(now - _lease())
    if not old:
        return
    keep = set(ExportJob.objects.filter(state=ExportJob.State.DONE, purged_at__isnull=True).values_list(
        "path", flat=True))
    running = tuple(f"job-{pk}-{attempts}-" for pk, attempts in ExportJob.objects.filter(
        state=ExportJob.State.RUNNING).values_list("pk", "attempts"))
    for name in old:
        if name not in keep and not name.startswith(running):
            sealed.delete(name)
            log.warning("deleted export file %s: no job refers to it", name)


# ---- the worker's step, and reading a result ------------------------------------------------------------

def work(now: datetime | None = None) -> int:
    """One round of the worker's export thread (``Worker._export_loop``; or of ``onfile worker
    --once``): recover abandoned jobs, make one queued export, delete expired files. Returns the
    work done."""
    now = now or timezone.now()
    done = recover_stale(now)
    job = claim_next(now)
    if job is not None:
        job = run_job(job)
        log.info("export job %s: %s", job.pk, job.state)
        done += 1
    return done + purge_expired(now)


def open_result(job: ExportJob) -> Iterator[bytes]:
    """The job's file, decrypted a chunk at a time (``ExportFileError``/``CryptoError`` when it
    cannot be opened). The caller has checked who may read it."""
    if job.state != ExportJob.State.DONE or not job.path or job.wrapped_key is None:
        raise sealed.ExportFileError(f"export job {job.pk} has no file")
    return sealed.open_sealed_file(job.path, bytes(job.wrapped_key))
