"""The worker's side: deliver queued emails through the firm's SMTP relay (smtplib).

A batch of due items is sent over up to ``ONFILE_SMTP_CONNECTIONS`` relay sessions at once (the
next emails are built while the relay answers; see ``_Senders``). A relay that cannot be
reached, or answers 4xx, leaves the item pending with backoff (``outbox.queue.retry_later``:
attempts and the last error stay visible); a 5xx answer, or running out of attempts, is final
and recorded as ``email.*_failed``. A delivery records ``email.forward_sent`` /
``email.journal_sent`` with the Message-ID and the relay's answer — for the journal, that answer
is the delivery receipt.

An item whose media is still being fetched from WhatsApp waits (without using up attempts) for
at most ``MEDIA_WAIT``; after that it is sent with a link to the conversation instead.

A crash between the relay's "250" and ``queue.done`` sends the email again on the next claim,
with the same Message-ID: mail clients and archives fold the two into one.
"""

from __future__ import annotations

import smtplib
import time
import zlib
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from onfile import clock
from onfile.channels.email import builders, compose, replymail, tokens
from onfile.channels.email.forwarding import ACTOR, FORWARD, JOURNAL
from onfile.channels.email.tlsconf import client_context
from onfile.conversations.models import Message
from onfile.ledger.log import NewEntry, append
from onfile.outbox import queue
from onfile.outbox.models import OutboxItem

MEDIA_WAIT = timedelta(minutes=10)
# A batch stops taking new items after this long, and a session has at most LANE_DEPTH emails
# queued: every claimed item is sent or given back well within its lease (outbox.queue.LEASE).
BATCH_SECONDS = 15.0
LANE_DEPTH = 2
MEDIA_POLL = timedelta(seconds=5)
ENTRY_KIND = {FORWARD: "email.forward", JOURNAL: "email.journal", **builders.ENTRY_KIND,
              replymail.BOUNCE: "email.bounce", replymail.NOTICE: "email.notice"}


class RelayError(Exception):
    def __init__(self, message: str, retryable: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


@dataclass
class Relay:
    """A lazily opened SMTP session; once the relay is found down, every send fails fast."""

    host: str
    port: int
    security: str
    user: str = ""
    password: str = ""
    timeout: float = 20.0
    _smtp: smtplib.SMTP | None = None
    _down: RelayError | None = None

    @classmethod
    def from_settings(cls) -> Relay:
        return cls(settings.SMTP_HOST, settings.SMTP_PORT, settings.SMTP_SECURITY, settings.SMTP_USER,
                   settings.SMTP_PASSWORD, float(settings.SMTP_TIMEOUT))

    def _connect(self) -> smtplib.SMTP:
        # The system's CAs plus ONFILE_SMTP_CA_FILE; always verified. Not needed for a plain relay.
        context = client_context() if self.security in ("tls", "starttls") else None
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.security == "starttls":
                # No silent fall back to plain text: a relay without STARTTLS is an error.
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, sender: str, recipients: list[str], data: bytes) -> str:
        """Deliver one message; returns the relay's answer to the end of data (the receipt)."""
        if self._down is not None:
            raise self._down
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            return self._transaction(self._smtp, sender, recipients, data)
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(
                exc.smtp_error)
            self.close()  # the session's state is unknown after a refusal: the next email starts afresh
            retryable = exc.smtp_code < 500
            if exc.smtp_code in (530, 534, 535, 538):  # authentication: the configuration, not this email
                self._down = RelayError(f"SMTP relay refused the login: {exc.smtp_code} {text}", True, exc.smtp_code)
                raise self._down from None
            raise RelayError(f"{exc.smtp_code} {text}", retryable, exc.smtp_code) from None
        except (OSError, smtplib.SMTPException) as exc:
            # Refused, timed out, TLS failed, disconnected: the relay, not the email.
            self._down = RelayError(f"SMTP relay {self.host}:{self.port} unavailable: {exc}", True)
            self.close()
            raise self._down from None

    def _transaction(self, smtp: smtplib.SMTP, sender: str, recipients: list[str], data: bytes) -> str:
        code, reply = smtp.mail(sender)
        if code != 250:
            smtp.rset()
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        for rcpt in recipients:
            code, reply = smtp.rcpt(rcpt)
            if code not in (250, 251):
                smtp.rset()
                raise smtplib.SMTPResponseException(code, reply)
        code, reply = smtp.data(data)
        if code != 250:
            smtp.rset()
            raise smtplib.SMTPResponseException(code, reply)
        return f"{code} {reply.decode('utf-8', 'replace')}"[:200]

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


def _postpone(item: OutboxItem, reason: str) -> None:
    """Wait for media without using up an attempt: the relay is not at fault."""
    OutboxItem.objects.filter(pk=item.pk).update(status=OutboxItem.Status.PENDING, lease_until=None,
                                                 last_error=reason, next_attempt_at=clock.now() + MEDIA_POLL)


def _messages(keys: list[str]) -> dict[str, Message]:
    """A batch's messages with what their emails show, in two queries instead of several per email."""
    return Message.objects.select_related(
        "conversation__client", "conversation__matter", "conversation__firm_number", "conversation__assignee",
    ).prefetch_related("attachments").in_bulk(keys, field_name="key")


def _build(item: OutboxItem, batch: dict[str, Message] | None = None) -> compose.Built:
    if builders.handles(item):  # conversation-days, filing, bursts (builders.py)
        return builders.build(item, MEDIA_WAIT)
    if item.kind in replymail.KINDS:  # bounces and notices of replies by email (replymail.py)
        return replymail.build(item)
    message = (batch or {}).get(item.payload["message"]) or _messages([item.payload["message"]]).get(
        item.payload["message"])
    if message is None:
        raise Message.DoesNotExist(item.payload["message"])
    waited_enough = clock.now() - (message.received_at or message.sent_at) > MEDIA_WAIT
    if item.kind == JOURNAL:
        return builders.journal(compose.journal(message, wait_for_media=not waited_enough))
    return compose.forward(message, item.payload["to"], item.payload.get("notice", ""),
                           wait_for_media=not waited_enough)


def _record(kind: str, item: OutboxItem, attrs: dict[str, Any]) -> None:
    if item.kind in replymail.KINDS:  # about a captured email ("capture:SEQ"), not a WhatsApp message
        append(NewEntry(kind, ACTOR, item.payload["subject"], {"key": item.key, **attrs}))
        return
    append(NewEntry(kind, ACTOR, f"message:{item.payload['message']}",
                    {"key": item.key, "message": item.payload["message"], **attrs}))


def _prepare(item: OutboxItem, now: datetime, batch: dict[str, Message]) -> compose.Built | str:
    """The email's bytes, or the outcome when there is nothing to send ("waiting", "failed")."""
    try:
        return _build(item, batch)
    except compose.MediaPending as exc:
        _postpone(item, str(exc))
        return "waiting"
    except Message.DoesNotExist:
        with transaction.atomic():
            _record(f"{ENTRY_KIND[item.kind]}_failed", item,
                    {"code": None, "error": "the message is no longer in the projection"})
            queue.fail(item, "the message is no longer in the projection", now)
        return "failed"


def _finish(item: OutboxItem, built: compose.Built, sent: str | RelayError, now: datetime) -> str:
    """Record what the relay answered: the receipt, a retry later, or the final failure."""
    base = ENTRY_KIND[item.kind]
    if isinstance(sent, RelayError):
        if sent.retryable and item.attempts + 1 < queue.MAX_ATTEMPTS:
            queue.retry_later(item, str(sent), now)
            return "retry"
        with transaction.atomic(savepoint=False):
            # The relay's text may name addresses: it stays in the outbox row, the ledger gets the code.
            _record(f"{base}_failed", item, {"code": sent.code, "attempts": item.attempts + 1,
                                             "error": "refused by the relay" if sent.code else "relay unavailable"})
            queue.fail(item, str(sent), now)
        return "failed"
    with transaction.atomic(savepoint=False):
        _record(f"{base}_sent", item, {"message_id": built.message_id, "reply": sent,
                                       **({"recipient": item.payload["recipient"]} if item.kind == FORWARD else {})})
        queue.done(item, {"message_id": built.message_id, "reply": sent}, now)
    return "sent"


class _Senders:
    """Relay sessions on their own threads: while they wait for the relay's answers, the next
    emails are built. Only ``Relay.send`` runs there — every database read and write (building,
    the ledger entry, the outbox row) stays on the caller's thread. The emails of one thread (a
    conversation in one mailbox) always take the same session, so they arrive in order."""

    def __init__(self, connections: int) -> None:
        self.lanes = [(ThreadPoolExecutor(max_workers=1, thread_name_prefix="onfile-smtp"), Relay.from_settings())
                      for _ in range(connections)]

    def lane(self, built: compose.Built) -> int:
        key = built.thread or ",".join(sorted(r.lower() for r in built.recipients))
        return zlib.crc32(key.encode()) % len(self.lanes)

    def submit(self, built: compose.Built, lane: int) -> Future[str | RelayError]:
        pool, relay = self.lanes[lane]
        return pool.submit(_send, relay, built)

    def close(self) -> None:
        for pool, relay in self.lanes:
            pool.shutdown(wait=True)
            relay.close()  # a session never opened costs nothing


def _send(relay: Relay, built: compose.Built) -> str | RelayError:
    try:
        return relay.send(built.sender, built.recipients, built.data)
    except RelayError as exc:
        return exc


def deliver(kind: str, limit: int = 100) -> int:
    """Claim up to ``limit`` due items of ``kind`` and deliver them over ``ONFILE_SMTP_CONNECTIONS``
    relay sessions (opened only when there is work)."""
    now = clock.now()
    items = queue.claim(kind, now, limit)
    if not items:
        return 0
    senders = _Senders(max(1, min(settings.SMTP_CONNECTIONS, len(items))))
    pending: dict[Future[str | RelayError], tuple[OutboxItem, compose.Built, int]] = {}

    def record(done: set[Future[str | RelayError]]) -> None:
        # One commit for what the relay answered meanwhile, not one per email.
        with transaction.atomic():
            for future in done:
                item, built, _ = pending.pop(future)
                _finish(item, built, future.result(), now)

    batch = _messages([i.payload["message"] for i in items if i.kind in (FORWARD, JOURNAL) and not builders.handles(i)])
    started = time.monotonic()
    try:
        with tokens.one_lookup_per_address():  # reply addresses: each account looked up once per batch
            for n, item in enumerate(items):
                if n and time.monotonic() - started > BATCH_SECONDS:  # always at least one
                    # A slow relay (large files): give the rest back before their lease runs out, so
                    # that no other worker claims them while they are still in this batch.
                    queue.release(items[n:])
                    break
                built = _prepare(item, now, batch)
                if isinstance(built, str):
                    continue
                lane = senders.lane(built)
                waiting = [f for f, (_, _, ln) in pending.items() if ln == lane]
                if len(waiting) >= LANE_DEPTH:  # at most this many emails queued on one session
                    wait(waiting, return_when=FIRST_COMPLETED)
                pending[senders.submit(built, lane)] = (item, built, lane)
                finished = {f for f in pending if f.done()}
                if len(finished) >= len(senders.lanes):
                    record(finished)
    finally:
        # Whatever happened to a later item, the emails already handed to the relay are recorded.
        while pending:
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            record(set(finished))
        senders.close()
    return len(items)


def deliver_emails(limit: int = 100) -> int:
    """The worker's step: forwards first (people wait for them), then journal copies."""
    if not settings.SMTP_HOST:
        return 0
    return deliver(FORWARD, limit) + sum(deliver(kind, limit) for kind in replymail.KINDS) + deliver(JOURNAL, limit) \
        + sum(deliver(kind, limit) for kind in builders.KINDS)
