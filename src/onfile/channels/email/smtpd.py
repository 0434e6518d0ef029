"""``onfile smtpd``: the SMTP server that the firm's mail gateway routes the reply domain to.

Staff answer a forwarded WhatsApp message by replying to ``reply+TOKEN@<ONFILE_EMAIL_REPLY_DOMAIN>``;
the gateway delivers that mail here (aiosmtpd on asyncio). The server only ever says "accepted"
after the pipeline (``inbound.receive``) has captured the raw bytes durably — ARCHITECTURE
invariant 1, "raw first": nothing acknowledged is lost (a staff reply is a business
communication that must be captured, REQ-SEC-1).

- **RCPT**: only ``reply+…@<reply domain>`` (case-insensitive) is accepted; anything else is
  ``550 5.1.1`` — the server is no open relay and does not accept mail for anyone else.
- **SIZE**: ``ONFILE_SMTPD_MAX_MB`` is advertised (EHLO ``SIZE``) and enforced: ``552`` at MAIL FROM
  when the declared size is too large, and after DATA when the data is.
- **DATA**: ``inbound.receive(raw, via="smtpd", envelope_from=…, recipients=…)`` runs in a thread
  (the Django ORM is synchronous), with the thread's database connections closed afterwards.
  ``250`` only once it returned, whatever the outcome: a refusal is bounced by the pipeline, not
  at SMTP level. If it raised (database down …) the answer is ``451 4.3.0``: the gateway keeps the
  mail and retries, and ``receive`` is idempotent, so the retry is recorded once.
- **TLS**: STARTTLS with ``--tls-cert``/``--tls-key`` (or ``ONFILE_SMTPD_TLS_CERT``/``_KEY``);
  ``--require-tls`` refuses every mail command before STARTTLS.
- **Logs**: one line per mail — the peer (the gateway), size, number of recipients, outcome and
  ledger entry. No addresses: envelope and header addresses name clients and staff.
- **Shutdown** on SIGTERM/SIGINT: stop accepting, let mails being recorded finish (up to
  ``GRACE`` seconds), then close the remaining sessions (their mails were not acknowledged, so
  the gateway sends them again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP
from django.conf import settings

if TYPE_CHECKING:
    from onfile.channels.email.inbound import Outcome

log = logging.getLogger("onfile.email.smtpd")
GRACE = 30.0  # seconds a shutdown waits for mails being recorded
MAX_RECIPIENTS = 50
LINE_LIMIT = 1 << 16  # RFC 5321 says 1000 octets; sloppy mailers exceed it and their replies must not be lost
ADDRESS = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")

Receive = Callable[..., "Outcome"]


def reply_domain() -> str:
    """``ONFILE_EMAIL_REPLY_DOMAIN``, lower case; empty: replies by email are off."""
    return settings.EMAIL_REPLY_DOMAIN.strip().lower().rstrip(".")


def is_reply_address(address: str, domain: str) -> bool:
    """``reply+SOMETHING@domain``, case-insensitive. Whether SOMETHING is a valid token is the
    pipeline's business (it refuses and bounces); here we only refuse mail that is not ours."""
    local, at, host = address.strip().rpartition("@")
    local = local.lower()
    return (bool(at) and bool(domain) and host.lower().rstrip(".") == domain and local.startswith("reply+")
            and 6 < len(local) <= 64 and not any(c.isspace() or c in '"\\<>' for c in local))


def scrub(text: str) -> str:
    """For logs: addresses replaced (reasons and errors may quote one)."""
    return ADDRESS.sub("<address>", text)[:300]


def _default_receive(raw: bytes, **kwargs: Any) -> Outcome:
    from onfile.channels.email import inbound  # written beside this module; imported when a mail arrives

    return inbound.receive(raw, **kwargs)


def _receive_in_thread(receive: Receive, raw: bytes, envelope_from: str, recipients: list[str]) -> Outcome:
    from django.db import close_old_connections, connections

    close_old_connections()
    try:
        return receive(raw, via="smtpd", envelope_from=envelope_from, recipients=recipients)
    finally:
        connections.close_all()  # this thread's connections: the pool thread may idle for hours


class _Session(SMTP):
    line_length_limit = LINE_LIMIT

    def connection_lost(self, error: Exception | None) -> None:
        self.event_handler.server.forget(self)
        super().connection_lost(error)


class _Handler:
    """aiosmtpd's hooks: RCPT checks the address, DATA hands the mail to the pipeline."""

    def __init__(self, server: ReplyServer) -> None:
        self.server = server

    async def handle_RCPT(self, smtp: SMTP, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        domain = self.server.domain
        if not is_reply_address(address, domain):
            return (f"550 5.1.1 Recipient not accepted: this server only takes replies to "
                    f"reply+...@{domain} (no relaying)")
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) and session.peer else str(session.peer)
        return await self.server.deliver(bytes(raw), envelope.mail_from or "", list(envelope.rcpt_tos), peer,
                                         tls=session.ssl is not None)


class ReplyServer:
    """The SMTP server; ``start``/``stop`` inside an event loop, or ``run`` to serve until a signal."""

    def __init__(self, host: str, port: int, *, domain: str, max_bytes: int,
                 tls_context: ssl.SSLContext | None = None, require_tls: bool = False,
                 receive: Receive | None = None, workers: int = 4, hostname: str | None = None) -> None:
        if not domain:
            raise ValueError("no reply domain: set ONFILE_EMAIL_REPLY_DOMAIN")
        if require_tls and tls_context is None:
            raise ValueError("TLS is required but no certificate is configured (--tls-cert/--tls-key)")
        self.host, self.port, self.domain = host, port, domain.lower().rstrip(".")
        self.max_bytes, self.tls_context, self.require_tls = max_bytes, tls_context, require_tls
        self.hostname = hostname
        self._receive: Receive = receive or _default_receive
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smtpd-receive")
        self._server: asyncio.Server | None = None
        self._sessions: set[SMTP] = set()
        self._in_flight = 0
        self._idle: asyncio.Event | None = None
        # aiosmtpd logs every command with its addresses at INFO; our one line per mail says enough.
        aiosmtpd_log = logging.getLogger("mail.log")
        aiosmtpd_log.setLevel(max(logging.WARNING, aiosmtpd_log.getEffectiveLevel()))

    def _session(self) -> SMTP:
        session = _Session(_Handler(self), data_size_limit=self.max_bytes or None, enable_SMTPUTF8=True,
                           hostname=self.hostname, ident="onfile smtpd", tls_context=self.tls_context,
                           require_starttls=self.require_tls, timeout=300)
        self._sessions.add(session)
        return session

    def forget(self, session: SMTP) -> None:
        self._sessions.discard(session)

    async def start(self) -> None:
        self._idle = asyncio.Event()
        self._idle.set()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._session, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def deliver(self, raw: bytes, envelope_from: str, recipients: list[str], peer: str,
                      tls: bool = False) -> str:
        assert self._idle is not None
        self._in_flight += 1
        self._idle.clear()
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(self._executor, _receive_in_thread, self._receive, raw,
                                                 envelope_from, recipients)
        except Exception as exc:
            log.error("mail from %s: %d bytes, %d recipient(s): NOT accepted (451, the sender retries): %s: %s",
                      peer, len(raw), len(recipients), type(exc).__name__, scrub(str(exc)))
            log.debug("receive failed", exc_info=True)
            return "451 4.3.0 Temporary failure recording the mail; please try again later"
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()
        log.info("mail from %s%s: %d bytes, %d recipient(s): %s (%s), ledger entry %d", peer,
                 " (TLS)" if tls else "", len(raw), len(recipients), outcome.status, scrub(outcome.reason),
                 outcome.seq)
        return f"250 2.0.0 OK: recorded as entry {outcome.seq}"

    async def stop(self, grace: float = GRACE) -> None:
        """Stop accepting, let mails being recorded finish, close what is left."""
        if self._server is not None:
            self._server.close()
        if self._idle is not None and not self._idle.is_set():
            log.info("waiting up to %.0f s for %d mail(s) being recorded", grace, self._in_flight)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        await asyncio.sleep(0)  # let the sessions see their connections closed
        self._executor.shutdown(wait=False, cancel_futures=True)

    def run(self, ready: Callable[[ReplyServer], None] | None = None) -> None:
        """Serve until SIGTERM or SIGINT, then shut down gracefully."""

        async def main() -> None:
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stopping.set)
            await self.start()
            if ready is not None:
                ready(self)
            await stopping.wait()
            log.info("stopping: no new connections")
            await self.stop()

        asyncio.run(main())
        log.info("smtpd stopped")


def from_settings(host: str | None = None, port: int | None = None, *, tls_cert: str | None = None,
                  tls_key: str | None = None, require_tls: bool | None = None, max_mb: int | None = None,
                  receive: Receive | None = None) -> ReplyServer:
    """The server as configured (``ONFILE_SMTPD_*``), each value overridable (the command's options)."""
    from onfile.channels.email.tlsconf import server_context

    cert = settings.SMTPD_TLS_CERT if tls_cert is None else tls_cert
    key = settings.SMTPD_TLS_KEY if tls_key is None else tls_key
    if key and not cert:
        raise ValueError("a TLS key without a certificate: give --tls-cert too")
    context = server_context(cert, key) if cert else None
    mb = settings.SMTPD_MAX_MB if max_mb is None else max_mb
    return ReplyServer(settings.SMTPD_HOST if host is None else host,
                       settings.SMTPD_PORT if port is None else port, domain=reply_domain(),
                       max_bytes=max(0, mb) * 1024 * 1024, tls_context=context,
                       require_tls=settings.SMTPD_REQUIRE_TLS if require_tls is None else require_tls,
                       receive=receive, hostname=settings.EMAIL_DOMAIN or None)
