"""IMAP polling: replies by email from a mailbox, for firms whose gateway cannot route a domain
to ``onfile smtpd``.

One poll (``poll_once``): connect (``ONFILE_IMAP_SECURITY`` tls | starttls | none; the certificate
is checked, with ``ONFILE_SMTP_CA_FILE`` for an internal CA; a server without STARTTLS is an
error, never plain text), select ``ONFILE_IMAP_MAILBOX``, ``UID SEARCH`` every message not
flagged deleted, read the sizes (``RFC822.SIZE``), then for each message by UID:

- larger than ``ONFILE_IMAP_MAX_MB``: not fetched (a gigabyte is never read into memory), left in
  the mailbox, and an ``alert.email_too_large`` ledger entry is appended once per message (a
  capture gap raises an alert, REQ-SEC-6);
- else ``BODY.PEEK[]`` (leaves ``\\Seen`` alone) and ``inbound.receive(raw, via="imap:<mailbox>",
  envelope_from=<Return-Path>, recipients=<Delivered-To and X-Original-To>)``;
- only once ``receive`` returned (any outcome — it captured the raw bytes first, ARCHITECTURE
  invariant 1, REQ-SEC-1) is the message moved to ``ONFILE_IMAP_DONE_MAILBOX`` (created when
  missing; MOVE, else COPY + delete + expunge), or deleted and expunged when that setting is
  empty. If ``receive`` raised, the message stays for the next poll; the others go on.

Nothing is remembered by UID between polls: processed mail leaves the mailbox, and ``receive`` is
idempotent, so a message seen twice (a crash between ``receive`` and the move, a second poller,
a UIDVALIDITY change that renumbers the mailbox) is recorded once ("duplicate") and then moved.
A UIDVALIDITY change is logged; the too-large alerts name the UIDVALIDITY with the UID.

A server that cannot be reached or refuses the login: the poll fails with ``ImapUnavailable``,
the worker backs off (``POLL_SECONDS`` doubling, at most ``MAX_BACKOFF``), and the change of
state is ledgered — ``alert.imap_unavailable`` when it goes down, ``email.imap_available`` when
it is back — which ``onfile status`` shows (REQ-SEC-6: a channel that is not being captured is
an alert, not silence).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from onfile.ledger.log import NewEntry, append

if TYPE_CHECKING:
    from onfile.channels.email.inbound import Outcome

log = logging.getLogger("onfile.email.imap")
ACTOR = "system:imap"
MAX_BACKOFF = 1800.0  # seconds between attempts while the server stays down
SIZE_BATCH = 500  # UIDs per FETCH RFC822.SIZE
ALERT_DOWN, AVAILABLE, ALERT_TOO_LARGE = "alert.imap_unavailable", "email.imap_available", "alert.email_too_large"
SECURITY = ("tls", "starttls", "none")

Receive = Callable[..., "Outcome"]


class ImapUnavailable(Exception):
    """The server cannot be reached, secured, logged into, or the mailbox selected."""


@dataclass
class ImapConfig:
    host: str
    port: int
    security: str
    user: str
    password: str
    mailbox: str = "INBOX"
    done_mailbox: str = ""
    max_bytes: int = 50 << 20
    timeout: float = 30.0

    @classmethod
    def from_settings(cls) -> ImapConfig:
        return cls(settings.IMAP_HOST, settings.IMAP_PORT, settings.IMAP_SECURITY, settings.IMAP_USER,
                   settings.IMAP_PASSWORD, settings.IMAP_MAILBOX or "INBOX", settings.IMAP_DONE_MAILBOX,
                   max(0, settings.IMAP_MAX_MB) << 20, float(settings.IMAP_TIMEOUT))

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class PollResult:
    found: int = 0  # messages in the mailbox
    received: dict[str, int] = field(default_factory=dict)  # outcome status -> count
    left: int = 0  # receive raised: left for the next poll
    too_large: int = 0
    uidvalidity: int | None = None

    @property
    def processed(self) -> int:
        return sum(self.received.values())

    def summary(self) -> str:
        done = ", ".join(f"{n} {status}" for status, n in sorted(self.received.items())) or "none processed"
        text = f"{self.found} message(s) in the mailbox: {done}"
        if self.left:
            text += f"; {self.left} left for the next poll (recording failed)"
        if self.too_large:
            text += f"; {self.too_large} too large, left in the mailbox"
        return text


def _default_receive(raw: bytes, **kwargs: Any) -> Outcome:
    from onfile.channels.email import inbound  # written beside this module; imported when mail arrives

    return inbound.receive(raw, **kwargs)


def envelope_of(raw: bytes) -> tuple[str, list[str]]:
    """(Return-Path, Delivered-To + X-Original-To addresses) from the headers; never raises.
    A null sender (``Return-Path: <>``, a bounce) is ``"<>"``, as ``onfile smtpd`` passes it."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
        paths = [str(v).strip() for v in headers.get_all("Return-Path", [])]
        return_path = [a for _, a in getaddresses(paths) if a] or (["<>"] if "<>" in paths else [])
        values = [str(v) for name in ("Delivered-To", "X-Original-To") for v in headers.get_all(name, [])]
        recipients = list(dict.fromkeys(a.strip() for _, a in getaddresses(values) if "@" in a))
    except Exception:  # malformed headers: the pipeline still gets the raw bytes and decides
        log.debug("could not read the envelope headers", exc_info=True)
        return "", []
    return (return_path[0] if return_path else ""), recipients


def _tls_context() -> ssl.SSLContext:
    from onfile.channels.email.tlsconf import client_context

    return client_context()


@contextmanager
def connect(config: ImapConfig) -> Iterator[Any]:
    """A logged-in IMAPClient; any failure to get there is ``ImapUnavailable`` with the reason."""
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError

    from onfile.channels.email.tlsconf import TlsConfigError

    if config.security not in SECURITY:
        raise ImapUnavailable(f"ONFILE_IMAP_SECURITY={config.security!r} is not one of {', '.join(SECURITY)}")
    client = None
    try:
        context = _tls_context() if config.security != "none" else None
        client = IMAPClient(config.host, port=config.port, ssl=config.security == "tls", ssl_context=context,
                            timeout=config.timeout)
        if config.security == "starttls":
            if not client.has_capability("STARTTLS"):
                raise ImapUnavailable(f"IMAP server {config.where} does not offer STARTTLS (refusing to log in "
                                      f"in plain text; use ONFILE_IMAP_SECURITY=tls or fix the server)")
            client.starttls(context)
        client.login(config.user, config.password)
    except ImapUnavailable:
        _close(client)
        raise
    except (OSError, IMAPClientError, TlsConfigError) as exc:  # refused, timeout, TLS, bad login …
        _close(client)
        raise ImapUnavailable(f"IMAP server {config.where}: {_describe(exc)}") from None
    try:
        yield client
    finally:
        try:
            client.logout()
        except Exception:  # the connection may already be gone; nothing to save
            _close(client)


def _close(client: Any) -> None:
    if client is None:
        return
    try:
        client.shutdown()
    except Exception:  # closing only
        log.debug("closing the IMAP connection failed", exc_info=True)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = exc.args[0] if exc.args and isinstance(exc.args[0], bytes | str) else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if len(text) > 2 and text[:2] in ("b'", 'b"') and text[-1] == text[1]:  # imaplib's bytes, as a repr
        text = text[2:-1]
    return f"{type(exc).__name__}: {text}"[:300]


def _ensure_mailbox(client: Any, name: str) -> None:
    if not client.folder_exists(name):
        client.create_folder(name)
        try:
            client.subscribe_folder(name)
        except Exception:  # subscribing is a convenience for mail clients
            log.debug("could not subscribe %s", name, exc_info=True)
        log.info("created IMAP mailbox %s for processed mail", name)


def _finish(client: Any, uid: int, done_mailbox: str) -> None:
    """Move a processed message out of the polled mailbox (or delete it)."""
    if done_mailbox:
        if client.has_capability("MOVE"):
            client.move([uid], done_mailbox)
            return
        client.copy([uid], done_mailbox)
    client.delete_messages([uid])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])
    else:
        client.expunge()


def _alert_too_large(config: ImapConfig, uidvalidity: int, uid: int, size: int) -> None:
    subject = f"email:imap:{config.mailbox}:{uidvalidity}:{uid}"
    from onfile.ledger.models import Entry

    if Entry.objects.filter(kind=ALERT_TOO_LARGE, subject=subject).exists():
        return
    log.error("IMAP %s UID %d is %d bytes, over the limit of %d: left in the mailbox, not recorded", config.mailbox,
              uid, size, config.max_bytes)
    with transaction.atomic():
        append(NewEntry(ALERT_TOO_LARGE, ACTOR, subject, {
            "mailbox": config.mailbox, "uid": uid, "uidvalidity": uidvalidity, "size": size,
            "limit": config.max_bytes, "via": "imap"}))


class Poller:
    """Polls one mailbox; keeps the backoff and the last UIDVALIDITY seen (in memory only)."""

    def __init__(self, config: ImapConfig | None = None, receive: Receive | None = None) -> None:
        self.config = config or ImapConfig.from_settings()
        self.receive: Receive = receive or _default_receive
        self.failures = 0
        self.next_due = 0.0  # time.monotonic()
        self.last_error = ""
        self.uidvalidity: int | None = None

    def poll_once(self) -> PollResult:
        """One poll; raises ``ImapUnavailable`` when the server or the mailbox cannot be used."""
        from imapclient.exceptions import IMAPClientError

        config, result = self.config, PollResult()
        with connect(config) as client:
            try:
                selected = client.select_folder(config.mailbox)
                uidvalidity = int(selected.get(b"UIDVALIDITY", 0))
                if config.done_mailbox:
                    _ensure_mailbox(client, config.done_mailbox)
                uids = sorted(client.search(["NOT", "DELETED"]))
            except (OSError, IMAPClientError) as exc:
                raise ImapUnavailable(f"IMAP mailbox {config.mailbox!r} at {config.where}: {_describe(exc)}") from None
            if self.uidvalidity is not None and uidvalidity != self.uidvalidity:
                log.warning("IMAP %s: UIDVALIDITY changed from %d to %d (mailbox recreated or renumbered); "
                            "every message is looked at again, duplicates are recognised", config.mailbox,
                            self.uidvalidity, uidvalidity)
            self.uidvalidity = result.uidvalidity = uidvalidity
            result.found = len(uids)
            sizes: dict[int, int] = {}
            try:
                for start in range(0, len(uids), SIZE_BATCH):
                    for uid, data in client.fetch(uids[start:start + SIZE_BATCH], ["RFC822.SIZE"]).items():
                        sizes[int(uid)] = int(data.get(b"RFC822.SIZE", 0))
                for uid in uids:
                    if uid not in sizes:  # expunged meanwhile (another poller)
                        continue
                    if config.max_bytes and sizes[uid] > config.max_bytes:
                        result.too_large += 1
                        _alert_too_large(config, uidvalidity, uid, sizes[uid])
                        continue
                    self._one(client, uid, result)
            except (OSError, IMAPClientError) as exc:
                raise ImapUnavailable(f"IMAP server {config.where} during the poll: {_describe(exc)}") from None
        return result

    def _one(self, client: Any, uid: int, result: PollResult) -> None:
        config = self.config
        fetched = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
        raw = fetched.get(b"BODY[]") if fetched else None
        if raw is None:  # gone meanwhile
            return
        envelope_from, recipients = envelope_of(raw)
        try:
            outcome = self.receive(bytes(raw), via=f"imap:{config.mailbox}", envelope_from=envelope_from,
                                   recipients=recipients)
        except Exception as exc:
            result.left += 1
            log.error("IMAP %s UID %d (%d bytes): NOT recorded, left for the next poll: %s: %s", config.mailbox,
                      uid, len(raw), type(exc).__name__, _scrub(str(exc)))
            log.debug("receive failed", exc_info=True)
            return
        result.received[outcome.status] = result.received.get(outcome.status, 0) + 1
        log.info("IMAP %s UID %d: %d bytes, %d recipient(s): %s (%s), ledger entry %d", config.mailbox, uid,
                 len(raw), len(recipients), outcome.status, _scrub(outcome.reason), outcome.seq)
        _finish(client, uid, config.done_mailbox)

    def poll_if_due(self, now: float | None = None) -> int:
        """The worker's step: poll when due; back off while the server is down. Returns mails processed."""
        now = time.monotonic() if now is None else now
        if now < self.next_due:
            return 0
        try:
            result = self.poll_once()
        except ImapUnavailable as exc:
            self.failures += 1
            delay = min(self.config_poll_seconds * 2 ** (self.failures - 1), max(MAX_BACKOFF,
                                                                                self.config_poll_seconds))
            self.next_due = now + delay
            self.last_error = str(exc)
            log.warning("%s; next attempt in %.0f s", exc, delay)
            record_state(self.config, False, str(exc))
            return 0
        except Exception:
            # Not the server (e.g. the database): the mail stays on the server; try again next time.
            self.next_due = now + self.config_poll_seconds
            log.exception("IMAP poll of %s failed", self.config.mailbox)
            return 0
        self.failures, self.last_error = 0, ""
        self.next_due = now + self.config_poll_seconds
        record_state(self.config, True)
        if result.found:
            log.info("IMAP %s: %s", self.config.mailbox, result.summary())
        return result.processed

    @property
    def config_poll_seconds(self) -> float:
        return float(max(1, settings.IMAP_POLL_SECONDS))


def _scrub(text: str) -> str:
    from onfile.channels.email.smtpd import scrub

    return scrub(text)


def last_state() -> dict[str, Any] | None:
    """The latest availability entry (down or back), for ``onfile status``."""
    import json

    from onfile.ledger.models import Entry

    entry = Entry.objects.filter(kind__in=[ALERT_DOWN, AVAILABLE]).order_by("-seq").first()
    if entry is None:
        return None
    attrs: dict[str, Any] = json.loads(entry.attrs)
    return {"available": entry.kind == AVAILABLE, "since": entry.time, "seq": entry.seq, **attrs}


def record_state(config: ImapConfig, available: bool, error: str = "") -> None:
    """Ledger a change of availability (only a change: a server down for a day is one alert)."""
    try:
        state = last_state()
        if (state is None and available) or (state is not None and state["available"] == available):
            return
        subject = f"email:imap:{config.mailbox}"
        with transaction.atomic():
            if available:
                append(NewEntry(AVAILABLE, ACTOR, subject, {"server": config.where}))
            else:
                append(NewEntry(ALERT_DOWN, ACTOR, subject, {"server": config.where, "error": _scrub(error)}))
    except Exception:  # the database may be what is down; the log line above says enough
        log.exception("could not record the IMAP server's state in the ledger")


def imap_status() -> dict[str, Any] | None:
    """For ``onfile status``: None when IMAP polling is off."""
    if not settings.IMAP_HOST:
        return None
    from onfile.ledger.models import Entry

    state = last_state()
    return {"server": f"{settings.IMAP_HOST}:{settings.IMAP_PORT}", "mailbox": settings.IMAP_MAILBOX,
            "available": True if state is None else state["available"],
            "since": None if state is None else state["since"],
            "error": "" if state is None or state["available"] else state.get("error", ""),
            "too_large_alerts": Entry.objects.filter(kind=ALERT_TOO_LARGE).count()}


_poller: Poller | None = None


def poll_if_due() -> int:
    """The worker's step (``Worker.run_once``): nothing while ``ONFILE_IMAP_HOST`` is empty."""
    global _poller
    if not settings.IMAP_HOST:
        return 0
    config = ImapConfig.from_settings()
    if _poller is None or _poller.config != config:
        _poller = Poller(config)
    return _poller.poll_if_due()
