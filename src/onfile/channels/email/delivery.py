"""The worker's side: deliver queued emails through the firm's SMTP relay (smtplib).

One connection per batch. A relay that cannot be reached, or answers 4xx, leaves the item
pending with backoff (``outbox.queue.retry_later``: attempts and the last error stay visible);
a 5xx answer, or running out of attempts, is final and recorded as ``email.*_failed``. A
delivery records ``email.forward_sent`` / ``email.journal_sent`` with the Message-ID and the
relay's answer — for the journal, that answer is the delivery receipt.

An item whose media is still being fetched from WhatsApp waits (without using up attempts) for
at most ``MEDIA_WAIT``; after that it is sent with a link to the conversation instead.

A crash between the relay's "250" and ``queue.done`` sends the email again on the next claim,
with the same Message-ID: mail clients and archives fold the two into one.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from onfile import clock
from onfile.channels.email import builders, compose, replymail
from onfile.channels.email.forwarding import ACTOR, FORWARD, JOURNAL
from onfile.channels.email.tlsconf import client_context
from onfile.conversations.models import Message
from onfile.ledger.log import NewEntry, append
from onfile.outbox import queue
from onfile.outbox.models import OutboxItem

MEDIA_WAIT = timedelta(minutes=10)
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
        context = client_context()  # the system's CAs plus ONFILE_SMTP_CA_FILE; always verified
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


def _build(item: OutboxItem) -> compose.Built:
    if builders.handles(item):  # conversation-days, filing, bursts (builders.py)
        return builders.build(item, MEDIA_WAIT)
    if item.kind in replymail.KINDS:  # bounces and notices of replies by email (replymail.py)
        return replymail.build(item)
    message = Message.objects.select_related("conversation__client", "conversation__matter",
                                             "conversation__firm_number", "conversation__assignee").get(
        key=item.payload["message"])
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


def deliver_one(item: OutboxItem, relay: Relay) -> str:
    """Returns "sent", "retry", "waiting" or "failed"."""
    now = clock.now()
    base = ENTRY_KIND[item.kind]
    try:
        built = _build(item)
    except compose.MediaPending as exc:
        _postpone(item, str(exc))
        return "waiting"
    except Message.DoesNotExist:
        with transaction.atomic():
            _record(f"{base}_failed", item, {"code": None, "error": "the message is no longer in the projection"})
            queue.fail(item, "the message is no longer in the projection", now)
        return "failed"
    try:
        reply = relay.send(built.sender, built.recipients, built.data)
    except RelayError as exc:
        if exc.retryable and item.attempts + 1 < queue.MAX_ATTEMPTS:
            queue.retry_later(item, str(exc), now)
            return "retry"
        with transaction.atomic():
            # The relay's text may name addresses: it stays in the outbox row, the ledger gets the code.
            _record(f"{base}_failed", item, {"code": exc.code, "attempts": item.attempts + 1,
                                             "error": "refused by the relay" if exc.code else "relay unavailable"})
            queue.fail(item, str(exc), now)
        return "failed"
    with transaction.atomic():
        _record(f"{base}_sent", item, {"message_id": built.message_id, "reply": reply,
                                       **({"recipient": item.payload["recipient"]} if item.kind == FORWARD else {})})
        queue.done(item, {"message_id": built.message_id, "reply": reply}, now)
    return "sent"


def deliver(kind: str, limit: int = 20) -> int:
    return queue.drain(kind, clock.now(), Relay.from_settings, deliver_one, limit)


def deliver_emails(limit: int = 20) -> int:
    """The worker's step: forwards first (people wait for them), then journal copies."""
    if not settings.SMTP_HOST:
        return 0
    return deliver(FORWARD, limit) + sum(deliver(kind, limit) for kind in replymail.KINDS) + deliver(JOURNAL, limit) \
        + sum(deliver(kind, limit) for kind in builders.KINDS)
