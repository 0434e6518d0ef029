"""IMAP polling against a REAL dovecot (``tests/email/dovecot.py``: its own instance, loopback,
TLS from a test CA). Mail is put in with IMAP APPEND; a poll hands each message to the real
``inbound.receive`` (raw first, ARCHITECTURE invariant 1) and only then moves or deletes it; a
message whose recording failed stays for the next poll; the same reply delivered twice is sent
once (ARCHITECTURE 7); a message over the limit is never fetched; a server that is down is a
clear error, ledgered as an alert, retried with backoff; a UIDVALIDITY change loses nothing."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.conftest import Cli

from onfile.channels.email import imap, inbound, tokens
from onfile.conversations.models import Conversation
from onfile.ledger.blobs import read_blob
from onfile.ledger.models import Entry
from onfile.outbox.models import OutboxItem
from onfile.status import collect_status

from .conftest import Phone
from .dovecot import Dovecot, free_port
from .tlsutil import LocalCA

REPLY_DOMAIN = "reply.firm.example"
DONE = "onfile-processed"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA(tmp_path_factory.mktemp("imap-ca"))


@pytest.fixture(scope="module")
def server(ca: LocalCA) -> Iterator[Dovecot]:
    dovecot = Dovecot(tls=ca.issue("localhost")).start()
    yield dovecot
    dovecot.remove()


@pytest.fixture
def dovecot(server: Dovecot) -> Dovecot:
    server.reset()
    return server


@pytest.fixture
def imap_settings(relay_settings: Any, archive: None, dovecot: Dovecot, ca: LocalCA) -> Iterator[Any]:
    s = relay_settings
    s.EMAIL_REPLY_DOMAIN = REPLY_DOMAIN
    s.SMTP_CA_FILE = str(ca.ca_file)
    s.IMAP_HOST, s.IMAP_PORT, s.IMAP_SECURITY = "127.0.0.1", dovecot.imap_port, "starttls"
    s.IMAP_USER, s.IMAP_PASSWORD = dovecot.user, dovecot.password
    s.IMAP_MAILBOX, s.IMAP_DONE_MAILBOX = "INBOX", DONE
    s.IMAP_POLL_SECONDS, s.IMAP_MAX_MB, s.IMAP_TIMEOUT = 60, 50, 10
    imap._poller = None
    yield s
    imap._poller = None


@dataclass
class Spy:
    """Wraps the real ``inbound.receive``: what it was given and what it answered."""

    calls: list[tuple[bytes, dict[str, Any]]] = field(default_factory=list)
    outcomes: list[inbound.Outcome] = field(default_factory=list)
    fail_when: Callable[[bytes], bool] = lambda raw: False

    def statuses(self) -> list[str]:
        return [o.status for o in self.outcomes]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    real, recorder = inbound.receive, Spy()

    def receive(raw: bytes, **kwargs: Any) -> inbound.Outcome:
        recorder.calls.append((raw, kwargs))
        if recorder.fail_when(raw):
            raise RuntimeError("the database went away (test)")
        outcome = real(raw, **kwargs)
        recorder.outcomes.append(outcome)
        return outcome

    monkeypatch.setattr(inbound, "receive", receive)
    return recorder


def mail(body: str = "Thursday is fine.", to: str = f"reply+{'b' * 48}@{REPLY_DOMAIN}",
         sender: str = "fee.earner@firm.example", size: int = 0) -> bytes:
    """A reply as the firm's server files it: Return-Path and Delivered-To added on delivery."""
    text = body + ("\r\n" + "z" * 998) * (size // 1000)
    return (f"Return-Path: <{sender}>\r\nDelivered-To: {to}\r\nX-Original-To: {to}\r\n"
            f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: Re: WhatsApp: Alice\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@firm.example>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n").encode()


def captured(seq: int) -> bytes:
    entry = Entry.objects.get(seq=seq)
    assert entry.kind == "capture.email" and entry.blob_id is not None
    return read_blob(entry.blob_id)


pytestmark = pytest.mark.django_db


def test_each_message_is_recorded_then_moved(imap_settings: Any, dovecot: Dovecot, spy: Spy) -> None:
    one, two = mail("first"), mail("second", to=f"Reply+{'c' * 48}@REPLY.firm.example")
    junk = b"this is not an email at all\r\n\x01\xff\r\n"  # bad input is still kept, then refused
    dovecot.append("INBOX", one, two, junk)
    result = imap.Poller().poll_once()
    assert result.found == 3 and result.processed == 3 and not result.left
    assert [raw for raw, _ in spy.calls] == [one, two, junk]  # byte for byte, oldest first
    assert spy.calls[0][1] == {"via": "imap:INBOX", "envelope_from": "fee.earner@firm.example",
                               "recipients": [f"reply+{'b' * 48}@{REPLY_DOMAIN}"]}
    assert spy.calls[2][1]["recipients"] == [] and spy.statuses() == ["refused"] * 3
    assert [captured(o.seq) for o in spy.outcomes] == [one, two, junk]  # on the record
    assert dovecot.messages("INBOX") == []
    assert dovecot.messages(DONE) == [one, two, junk]  # created when missing; kept as received


def test_without_a_done_mailbox_processed_mail_is_deleted(imap_settings: Any, dovecot: Dovecot, spy: Spy) -> None:
    imap_settings.IMAP_DONE_MAILBOX = ""
    dovecot.append("INBOX", mail("delete me"), mail("and me"))
    assert imap.Poller().poll_once().processed == 2
    assert dovecot.messages("INBOX") == []
    with dovecot.client() as client:
        assert [name for _, _, name in client.list_folders()] == ["INBOX"]
        client.select_folder("INBOX")
        assert client.search(["ALL"]) == []  # expunged, not just flagged


def test_a_message_whose_recording_failed_stays_for_the_next_poll(imap_settings: Any, dovecot: Dovecot,
                                                                  spy: Spy) -> None:
    ok, failing = mail("fine"), mail("FAIL-ME")
    dovecot.append("INBOX", failing, ok)
    spy.fail_when = lambda raw: b"FAIL-ME" in raw
    result = imap.Poller().poll_once()
    assert result.left == 1 and result.processed == 1 and "1 left for the next poll" in result.summary()
    assert dovecot.messages("INBOX") == [failing]  # not moved: nothing was recorded
    assert dovecot.messages(DONE) == [ok]
    assert not any(m.blob_id and read_blob(m.blob_id) == failing for m in Entry.objects.filter(kind="capture.email"))
    spy.fail_when = lambda raw: False  # the database is back
    assert imap.Poller().poll_once().processed == 1
    assert dovecot.messages("INBOX") == [] and dovecot.messages(DONE) == [ok, failing]
    assert captured(spy.outcomes[-1].seq) == failing


def test_a_reply_delivered_twice_is_sent_once(imap_settings: Any, dovecot: Dovecot, spy: Spy, phone: Phone,
                                              admin: Any) -> None:
    phone.send(type="text", text="Can we meet on Thursday?")
    conversation = Conversation.objects.get()
    address = tokens.reply_address(conversation, admin.email)
    reply = mail("Yes, Thursday at 10.", to=address, sender=admin.email)
    dovecot.append("INBOX", reply, reply)  # e.g. the gateway delivered it twice
    assert imap.Poller().poll_once().processed == 2
    assert spy.statuses() == ["sent", "duplicate"]
    assert OutboxItem.objects.filter(kind="whatsapp.send").count() == 1
    dovecot.append("INBOX", reply)  # and once more, in a later poll
    imap.Poller().poll_once()
    assert spy.statuses()[-1] == "duplicate" and OutboxItem.objects.filter(kind="whatsapp.send").count() == 1
    assert dovecot.messages("INBOX") == [] and len(dovecot.messages(DONE)) == 3


def test_a_message_over_the_limit_is_never_fetched(imap_settings: Any, dovecot: Dovecot, spy: Spy,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from imapclient import IMAPClient

    imap_settings.IMAP_MAX_MB = 1
    huge, small = mail("huge", size=1_200_000), mail("small")
    dovecot.append("INBOX", huge, small)
    fetched: list[tuple[list[int], list[str]]] = []
    real_fetch = IMAPClient.fetch

    def fetch(self: Any, messages: Any, data: Any, modifiers: Any = None) -> Any:
        fetched.append((list(messages), [str(d) for d in data]))
        return real_fetch(self, messages, data, modifiers)

    monkeypatch.setattr(IMAPClient, "fetch", fetch)
    poller = imap.Poller()
    result = poller.poll_once()
    assert result.too_large == 1 and result.processed == 1 and "1 too large" in result.summary()
    assert [raw for raw, _ in spy.calls] == [small]
    bodies = [uids for uids, data in fetched if "BODY.PEEK[]" in data]
    assert len(bodies) == 1 and len(bodies[0]) == 1  # only the small one's body was read
    assert dovecot.messages("INBOX") == [huge]  # left where it is
    alert = Entry.objects.get(kind="alert.email_too_large")
    assert f'"size":{len(huge)}' in alert.attrs and '"limit":1048576' in alert.attrs
    poller.poll_once()  # still there next time: no second alert
    assert Entry.objects.filter(kind="alert.email_too_large").count() == 1
    assert collect_status()["imap"]["too_large_alerts"] == 1


def test_a_uidvalidity_change_loses_nothing_and_records_nothing_twice(imap_settings: Any, dovecot: Dovecot,
                                                                     spy: Spy) -> None:
    imap_settings.IMAP_MAILBOX = "Replies"
    first = mail("before the mailbox was rebuilt")
    dovecot.append("Replies", first)
    poller = imap.Poller()
    assert poller.poll_once().processed == 1
    before = poller.uidvalidity
    # The administrator rebuilds the mailbox (a restore from backup, a migration): new UIDVALIDITY,
    # UIDs start again at 1, and an old message comes back beside a new one.
    with dovecot.client() as client:
        client.delete_folder("Replies")
    second = mail("after")
    dovecot.append("Replies", first, second)
    assert dovecot.uidvalidity("Replies") != before
    result = poller.poll_once()
    assert result.uidvalidity != before and result.processed == 2
    assert spy.statuses()[-2:] == ["duplicate", "refused"]  # the old one is recognised, the new one recorded
    assert captured(spy.outcomes[-1].seq) == second
    assert dovecot.messages("Replies") == [] and dovecot.messages(DONE) == [first, first, second]


def test_a_server_that_is_down_is_an_alert_and_retried(imap_settings: Any, ca: LocalCA, spy: Spy) -> None:
    later = Dovecot()  # a server of its own, not yet started
    try:
        imap_settings.IMAP_PORT, imap_settings.IMAP_SECURITY = later.imap_port, "none"
        poller = imap.Poller()
        assert poller.poll_if_due(now=1000.0) == 0
        assert "connection refused" in poller.last_error and poller.next_due == 1060.0
        alert = Entry.objects.get(kind="alert.imap_unavailable")
        assert "connection refused" in alert.attrs and str(later.imap_port) in alert.attrs
        status = collect_status()["imap"]
        assert status["available"] is False and "connection refused" in status["error"]
        assert poller.poll_if_due(now=1030.0) == 0  # not due: no attempt, no second alert
        assert poller.poll_if_due(now=1060.0) == 0 and poller.next_due == 1060.0 + 120  # backing off
        assert Entry.objects.filter(kind="alert.imap_unavailable").count() == 1

        later.start()  # the server is back
        later.append("INBOX", mail("waited for the server"))
        assert poller.poll_if_due(now=1180.0) == 1
        assert poller.failures == 0 and poller.next_due == 1240.0
        assert Entry.objects.filter(kind="email.imap_available").count() == 1
        assert collect_status()["imap"]["available"] is True
        assert later.messages("INBOX") == [] and len(spy.outcomes) == 1
    finally:
        later.remove()


def test_tls_settings(imap_settings: Any, dovecot: Dovecot, ca: LocalCA, spy: Spy) -> None:
    dovecot.append("INBOX", mail("over TLS"))
    # Implicit TLS (993-style) with the firm's CA.
    imap_settings.IMAP_PORT, imap_settings.IMAP_SECURITY = dovecot.imaps_port, "tls"
    assert imap.Poller().poll_once().processed == 1
    # The same server without the firm's CA: its certificate is not trusted, nothing is read.
    imap_settings.SMTP_CA_FILE = ""
    dovecot.append("INBOX", mail("not over an untrusted connection"))
    with pytest.raises(imap.ImapUnavailable, match="certificate not trusted"):
        imap.Poller().poll_once()
    imap_settings.IMAP_SECURITY, imap_settings.IMAP_PORT = "starttls", dovecot.imap_port
    with pytest.raises(imap.ImapUnavailable, match="certificate not trusted"):
        imap.Poller().poll_once()
    assert len(spy.calls) == 1 and len(dovecot.messages("INBOX")) == 1
    # A wrong password is a clear error too.
    imap_settings.SMTP_CA_FILE, imap_settings.IMAP_PASSWORD = str(ca.ca_file), "wrong"
    with pytest.raises(imap.ImapUnavailable, match=r"LoginError: \[AUTHENTICATIONFAILED\]"):
        imap.Poller().poll_once()


def test_starttls_is_required_when_configured(imap_settings: Any, spy: Spy) -> None:
    plain = Dovecot().start()  # no certificate: no STARTTLS offered
    try:
        plain.append("INBOX", mail("never in clear"))
        imap_settings.IMAP_PORT = plain.imap_port
        with pytest.raises(imap.ImapUnavailable, match="does not offer STARTTLS"):
            imap.Poller().poll_once()
        assert not spy.calls and len(plain.messages("INBOX")) == 1
    finally:
        plain.remove()


def test_a_server_without_move_gets_copy_delete_expunge(imap_settings: Any, dovecot: Dovecot, spy: Spy,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from imapclient import IMAPClient

    real = IMAPClient.has_capability
    monkeypatch.setattr(IMAPClient, "has_capability", lambda self, name: name.upper() != "MOVE" and real(self, name))
    kept = mail("copied, then deleted")
    dovecot.append("INBOX", kept)
    assert imap.Poller().poll_once().processed == 1
    assert dovecot.messages("INBOX") == [] and dovecot.messages(DONE) == [kept]


def test_the_worker_polls_when_due(imap_settings: Any, dovecot: Dovecot, spy: Spy) -> None:
    from onfile.ops.worker import Worker

    worker = Worker()
    dovecot.append("INBOX", mail("picked up by the worker"))
    assert worker.imap() == 1 and dovecot.messages("INBOX") == []
    dovecot.append("INBOX", mail("next poll"))
    assert worker.imap() == 0  # ONFILE_IMAP_POLL_SECONDS have not passed
    assert imap._poller is not None
    imap._poller.next_due = 0.0
    assert worker.imap() == 1
    imap_settings.IMAP_HOST = ""  # polling off
    assert worker.imap() == 0 and collect_status()["imap"] is None


def test_onfile_imap_poll_once(cli: Cli, dovecot: Dovecot, ca: LocalCA) -> None:
    cli.init()
    env = {"ONFILE_IMAP_HOST": "127.0.0.1", "ONFILE_IMAP_PORT": str(dovecot.imaps_port),
           "ONFILE_IMAP_SECURITY": "tls", "ONFILE_IMAP_USER": dovecot.user, "ONFILE_SMTP_CA_FILE": str(ca.ca_file),
           "ONFILE_EMAIL_REPLY_DOMAIN": REPLY_DOMAIN, "ONFILE_SMTP_HOST": "127.0.0.1",
           "ONFILE_SMTP_PORT": str(free_port()), "ONFILE_SMTP_SECURITY": "none",
           "ONFILE_EMAIL_FROM": "whatsapp@firm.example", "ONFILE_EMAIL_FALLBACK": "unassigned@firm.example",
           "ONFILE_EMAIL_AUTHSERV_ID": "mx.firm.example"}
    password_file = cli.data_dir.parent / "imap-password"
    password_file.write_text(dovecot.password + "\n")
    env["ONFILE_IMAP_PASSWORD_FILE"] = str(password_file)
    dovecot.append("INBOX", mail("one"), mail("two"))
    done = cli.run("imap-poll", "--once", extra_env=env)
    assert "2 message(s) in the mailbox: 2 refused" in done.stdout
    assert dovecot.messages("INBOX") == [] and len(dovecot.messages(DONE)) == 2

    down = cli.run("imap-poll", "--once", check=False, extra_env={**env, "ONFILE_IMAP_PORT": str(free_port())})
    assert down.returncode == 1 and "connection refused" in down.stderr
    status = cli.run("status", extra_env=env).stdout
    assert "imap polling (INBOX at 127.0.0.1:" in status and "UNAVAILABLE since" in status

    off = cli.run("imap-poll", "--once", check=False)
    assert off.returncode == 1 and "ONFILE_IMAP_HOST is not set" in off.stderr


def test_onfile_imap_poll_runs_until_sigterm(cli: Cli, dovecot: Dovecot) -> None:
    cli.init()
    env = {**cli.env, "ONFILE_IMAP_HOST": "127.0.0.1", "ONFILE_IMAP_PORT": str(dovecot.imap_port),
           "ONFILE_IMAP_SECURITY": "none", "ONFILE_IMAP_USER": dovecot.user, "ONFILE_IMAP_PASSWORD": dovecot.password,
           "ONFILE_IMAP_POLL_SECONDS": "1", "ONFILE_IMAP_DONE_MAILBOX": "",
           "ONFILE_EMAIL_REPLY_DOMAIN": REPLY_DOMAIN, "ONFILE_SMTP_HOST": "127.0.0.1",
           "ONFILE_SMTP_PORT": str(free_port()), "ONFILE_SMTP_SECURITY": "none",
           "ONFILE_EMAIL_FROM": "whatsapp@firm.example", "ONFILE_EMAIL_FALLBACK": "unassigned@firm.example",
           "ONFILE_EMAIL_AUTHSERV_ID": "mx.firm.example"}
    proc = subprocess.Popen([sys.executable, "-m", "onfile.cli", "imap-poll"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and "polling INBOX" in proc.stdout.readline()
        dovecot.append("INBOX", mail("while it runs"))
        deadline = time.monotonic() + 30
        while dovecot.messages("INBOX") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert dovecot.messages("INBOX") == []
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


def test_the_envelope_headers() -> None:
    raw = (b"Return-Path: <>\r\nDelivered-To: a@x.example\r\nDelivered-To: reply+t@y.example\r\n"
           b"X-Original-To: Reply+T@Y.example, a@x.example\r\nSubject: s\r\n\r\nbody\r\n")
    assert imap.envelope_of(raw) == ("<>", ["a@x.example", "reply+t@y.example", "Reply+T@Y.example"])
    assert imap.envelope_of(b"\xff\xfe not headers") == ("", [])


def test_the_inbound_settings_are_checked(settings: Any, tmp_path: Any, ca: LocalCA) -> None:
    from onfile.channels.email.checks import check_inbound_transports

    def ids() -> set[str]:
        return {m.id for m in check_inbound_transports() if m.id}

    settings.IMAP_HOST, settings.SMTPD_TLS_CERT, settings.SMTPD_TLS_KEY, settings.SMTP_CA_FILE = "", "", "", ""
    settings.SMTPD_REQUIRE_TLS = False
    assert ids() == set()  # nothing configured, nothing to say
    settings.IMAP_HOST, settings.IMAP_SECURITY, settings.IMAP_USER, settings.IMAP_PASSWORD = "imap.firm.example", \
        "ssl", "replies", ""
    settings.EMAIL_REPLY_DOMAIN, settings.IMAP_MAILBOX, settings.IMAP_DONE_MAILBOX = "", "INBOX", "inbox"
    settings.IMAP_POLL_SECONDS = 0
    assert ids() == {"onfile.E050", "onfile.E051", "onfile.E052", "onfile.E053", "onfile.E054"}
    settings.IMAP_SECURITY, settings.IMAP_PASSWORD, settings.EMAIL_REPLY_DOMAIN = "none", "pw", REPLY_DOMAIN
    settings.IMAP_DONE_MAILBOX, settings.IMAP_POLL_SECONDS = DONE, 60
    assert ids() == {"onfile.W050"}  # a password in clear across the network
    settings.IMAP_SECURITY = "tls"
    settings.SMTPD_REQUIRE_TLS = True
    assert ids() == {"onfile.E055"}  # TLS required, no certificate
    cert = ca.issue()
    settings.SMTPD_TLS_CERT, settings.SMTPD_TLS_KEY = str(cert.cert), str(tmp_path / "missing.key")
    assert ids() == {"onfile.E055"}
    settings.SMTPD_TLS_KEY = str(cert.key)
    assert ids() == set()
