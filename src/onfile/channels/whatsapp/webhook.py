"""``/webhooks/whatsapp``: the verification handshake and the capture of every delivery.

The HMAC of the raw body is checked, in constant time, before anything else (whatsapp.md
A2). A valid body is sealed, ledgered and queued in one durable transaction, and only then
answered 200 (ARCHITECTURE invariant 1): if we crash before the answer, Meta retries; if
after, the body is on disk. Splitting and processing happen in the worker. A bad signature
is a security event, never a record.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from onfile.channels.whatsapp.models import WebhookJob
from onfile.ledger.actions import commit_sealed, commit_sealed_many, do_security_event
from onfile.ledger.blobs import SealedBlob, seal_bytes


def _handshake(request: HttpRequest) -> HttpResponse:
    mode = request.GET.get("hub.mode")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    expected = settings.WHATSAPP_VERIFY_TOKEN
    if mode == "subscribe" and expected and hmac.compare_digest(token.encode(), expected.encode()):
        return HttpResponse(challenge, content_type="text/plain")
    return HttpResponse("verification failed", status=403, content_type="text/plain")


def signature_ok(body: bytes, header: str, secret: str) -> bool:
    if not header.startswith("sha256=") or not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[7:].strip().lower(), expected)


def _refuse(remote: str, body: bytes, reason: str, status: int) -> tuple[int, str]:
    do_security_event("webhook_signature", {
        "reason": reason, "remote": remote, "size": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest()}, actor="whatsapp")
    return status, reason


def receive(body: bytes, signature: str, content_type: str, remote: str) -> tuple[int, str]:
    """A POSTed delivery: the signature first, then the durable capture. Returns (status, text)."""
    if not signature:
        return _refuse(remote, body, "missing X-Hub-Signature-256", 401)
    if not signature_ok(body, signature, settings.WHATSAPP_APP_SECRET):
        return _refuse(remote, body, "bad signature", 403)
    capture(body, signature, content_type)
    return 200, "OK"


def _commit_one(sealed: SealedBlob, attrs: dict[str, object]) -> int:
    appended, _ = commit_sealed(sealed, kind="capture.webhook", actor="whatsapp", attrs=attrs)
    WebhookJob.objects.create(capture_seq=appended.seq, received_at=timezone.now())
    return appended.seq


def capture(body: bytes, signature: str, content_type: str) -> int:
    sealed = seal_bytes(body, "application/json")
    attrs: dict[str, object] = {"signature": signature, "content_type": content_type, "size": len(body)}
    if settings.WEBHOOK_GROUP_COMMIT:
        return _writer().submit(sealed, attrs)
    with transaction.atomic():
        return _commit_one(sealed, attrs)


@dataclass
class _Pending:
    sealed: SealedBlob
    attrs: dict[str, object]
    done: threading.Event = field(default_factory=threading.Event)
    seq: int = -1
    error: BaseException | None = None


class _GroupWriter:
    """Group commit: one thread per process commits the captures of concurrent requests
    together. Each request still answers only after the commit holding its body is durable,
    but a hundred concurrent webhooks cost one fsync instead of a hundred, and writers never
    queue on SQLite's lock with its sleeping busy handler."""

    MAX_BATCH = 256

    def __init__(self) -> None:
        self.queue: queue.Queue[_Pending] = queue.Queue()
        self.pid = os.getpid()
        threading.Thread(target=self._run, name="onfile-capture-writer", daemon=True).start()

    def submit(self, sealed: SealedBlob, attrs: dict[str, object]) -> int:
        pending = _Pending(sealed, attrs)
        self.queue.put(pending)
        if not pending.done.wait(timeout=60):
            raise TimeoutError("the capture was not committed within 60 s")
        if pending.error is not None:
            raise pending.error
        return pending.seq

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        close_old_connections()
        with _cross_process_write_lock():
            self._commit_locked(batch)

    def _commit_locked(self, batch: list[_Pending]) -> None:
        try:
            with transaction.atomic():
                appended = commit_sealed_many([p.sealed for p in batch], kind="capture.webhook", actor="whatsapp",
                                              attrs=[p.attrs for p in batch])
                now = timezone.now()
                WebhookJob.objects.bulk_create([WebhookJob(capture_seq=a.seq, received_at=now) for a in appended])
                for pending, a in zip(batch, appended, strict=True):
                    pending.seq = a.seq
        except Exception:
            # One failing capture must not fail the others: commit them one by one.
            for pending in batch:
                try:
                    with transaction.atomic():
                        pending.seq = _commit_one(pending.sealed, pending.attrs)
                except Exception as exc:
                    pending.error = exc
        for pending in batch:
            pending.done.set()


@contextmanager
def _cross_process_write_lock() -> Iterator[None]:
    """On SQLite, the group writers of several web processes take turns through a file lock.

    SQLite's own busy handler makes a blocked writer sleep in growing steps (up to 100 ms) and
    poll; with two web processes that turned a 5 ms wait into a 1 s p99. A blocking flock wakes
    the waiter the moment the other commit ends. PostgreSQL queues writers itself.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with open(os.path.join(settings.DATA_DIR, "capture.lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_WRITER: _GroupWriter | None = None
_WRITER_LOCK = threading.Lock()


def _writer() -> _GroupWriter:
    global _WRITER
    with _WRITER_LOCK:
        if _WRITER is None or _WRITER.pid != os.getpid():  # a forked process needs its own thread
            _WRITER = _GroupWriter()
        return _WRITER


@csrf_exempt
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _handshake(request)
    if request.method != "POST":
        return HttpResponse("method not allowed", status=405, content_type="text/plain")
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.WHATSAPP_MAX_BODY:
        return HttpResponse("body too large", status=413, content_type="text/plain")
    status, text = receive(request.body, request.headers.get("X-Hub-Signature-256", ""),
                           request.content_type or "", request.META.get("REMOTE_ADDR", ""))
    return HttpResponse(text, status=status, content_type="text/plain")
