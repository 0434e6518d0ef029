"""TLS to the firm's relay, for real: aiosmtpd servers on loopback with a certificate from a CA made
in the test (``ONFILE_SMTP_CA_FILE``, a firm's internal CA). STARTTLS and implicit TLS with AUTH
deliver; a certificate nobody vouches for, or a relay that does not offer STARTTLS, leaves the
email pending with the error visible and retries it — never a fall back to plain text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from onfile import clock
from onfile.channels.email.delivery import deliver_emails
from onfile.channels.email.forwarding import FORWARD, JOURNAL
from onfile.ledger.models import Entry
from onfile.outbox.models import OutboxItem

from .conftest import FALLBACK, Phone, Relay
from .tlsutil import LocalCA, ServerCert

pytestmark = [pytest.mark.django_db,
              # implicit TLS: aiosmtpd counts only STARTTLS as TLS for AUTH, and warns
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")]
USER, SECRET = "onfile", "relay-password"


class TlsRelay(Relay):
    """The test relay, also noting for each email whether the session was encrypted and logged in."""

    def __init__(self, port: int) -> None:
        super().__init__(port=port)
        self.sessions: list[tuple[bool, bool]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.sessions.append((encrypted, session.authenticated))
        return await super().handle_DATA(server, session, envelope)


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    return AuthResult(success=auth_data.login == USER.encode() and auth_data.password == SECRET.encode(),
                      handled=False)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA(tmp_path_factory.mktemp("relay-ca"))


@pytest.fixture(scope="module")
def cert(ca: LocalCA) -> ServerCert:
    return ca.issue("localhost")


@pytest.fixture
def tls_settings(relay_settings: Any, ca: LocalCA) -> Any:
    relay_settings.SMTP_CA_FILE = str(ca.ca_file)
    relay_settings.SMTP_USER, relay_settings.SMTP_PASSWORD = USER, SECRET
    return relay_settings


def start_relay(settings: Any, **options: Any) -> TlsRelay:
    relay = TlsRelay(settings.SMTP_PORT)
    relay.start(authenticator=authenticator, auth_required=True, **options)
    return relay


@pytest.fixture
def stopper() -> Iterator[list[TlsRelay]]:
    relays: list[TlsRelay] = []
    yield relays
    for relay in relays:
        relay.stop()


def _items() -> list[OutboxItem]:
    return list(OutboxItem.objects.filter(kind__in=[FORWARD, JOURNAL]).order_by("pk"))


def test_starttls_with_the_firms_ca_and_login(tls_settings: Any, cert: ServerCert, phone: Phone,
                                             stopper: list[TlsRelay]) -> None:
    tls_settings.SMTP_SECURITY = "starttls"
    relay = start_relay(tls_settings, tls_context=cert.server_context(), require_starttls=True)
    stopper.append(relay)
    phone.send(type="text", text="over STARTTLS")
    assert deliver_emails() == 2
    assert [i.status for i in _items()] == ["done", "done"]
    assert relay.sessions == [(True, True), (True, True)]  # encrypted and logged in, for both emails
    assert len(relay.to(FALLBACK)) == 1


def test_implicit_tls_with_the_firms_ca_and_login(tls_settings: Any, cert: ServerCert, phone: Phone,
                                                 stopper: list[TlsRelay]) -> None:
    tls_settings.SMTP_SECURITY = "tls"
    relay = start_relay(tls_settings, ssl_context=cert.server_context(), auth_require_tls=False)
    stopper.append(relay)
    phone.send(type="text", text="over implicit TLS")
    assert deliver_emails() == 2
    assert [i.status for i in _items()] == ["done", "done"]
    assert relay.sessions == [(True, True), (True, True)]
    assert Entry.objects.filter(kind="email.forward_sent").count() == 1


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_an_untrusted_certificate_leaves_the_email_pending(tls_settings: Any, ca: LocalCA, phone: Phone,
                                                          stopper: list[TlsRelay], security: str) -> None:
    tls_settings.SMTP_SECURITY = security
    stranger = ca.issue("localhost", self_signed=True)  # not signed by the firm's CA
    options = {"tls_context": stranger.server_context(), "require_starttls": True} if security == "starttls" else {
        "ssl_context": stranger.server_context(), "auth_require_tls": False}
    relay = start_relay(tls_settings, **options)
    stopper.append(relay)
    phone.send(type="text", text="must not go out unencrypted")
    deliver_emails()
    for item in _items():
        assert item.status == "pending" and item.attempts == 1
        assert "CERTIFICATE_VERIFY_FAILED" in item.last_error and item.next_attempt_at > clock.now()
    assert not relay.received and not Entry.objects.filter(kind="email.forward_sent").exists()

    # The firm fixes the relay's certificate: the retry goes out.
    relay.stop()
    stopper.remove(relay)
    fixed = start_relay(tls_settings, **{k: (ca.issue().server_context() if k.endswith("context") else v)
                                         for k, v in options.items()})
    stopper.append(fixed)
    OutboxItem.objects.update(next_attempt_at=clock.now())
    assert deliver_emails() == 2
    assert [i.status for i in _items()] == ["done", "done"] and len(fixed.received) == 2


def test_a_certificate_for_another_name_is_refused(tls_settings: Any, ca: LocalCA, phone: Phone,
                                                  stopper: list[TlsRelay]) -> None:
    tls_settings.SMTP_SECURITY = "starttls"
    other = ca.issue("mail.other.example", local=False)  # signed by the firm's CA, but not for this host
    relay = start_relay(tls_settings, tls_context=other.server_context(), require_starttls=True)
    stopper.append(relay)
    phone.send(type="text", text="wrong name")
    deliver_emails()
    for item in _items():
        assert item.status == "pending" and "CERTIFICATE_VERIFY_FAILED" in item.last_error
        assert "mismatch" in item.last_error
    assert not relay.received


def test_a_relay_without_starttls_is_an_error_and_retried(tls_settings: Any, phone: Phone,
                                                          stopper: list[TlsRelay]) -> None:
    tls_settings.SMTP_SECURITY = "starttls"
    relay = TlsRelay(tls_settings.SMTP_PORT).start(auth_require_tls=False, authenticator=authenticator,
                                                    auth_required=True)  # no certificate: no STARTTLS
    stopper.append(relay)
    phone.send(type="text", text="no plain text please")
    deliver_emails()
    for item in _items():
        assert item.status == "pending" and "STARTTLS extension not supported" in item.last_error
    assert not relay.received  # the login (and its password) comes after STARTTLS: never sent
    OutboxItem.objects.update(next_attempt_at=clock.now())
    deliver_emails()
    assert all(i.status == "pending" and i.attempts == 2 for i in _items())


def test_an_unreadable_ca_file_is_a_visible_error(tls_settings: Any, tmp_path: Path, phone: Phone,
                                                 cert: ServerCert, stopper: list[TlsRelay]) -> None:
    tls_settings.SMTP_SECURITY = "starttls"
    tls_settings.SMTP_CA_FILE = str(tmp_path / "no-such-ca.pem")
    stopper.append(start_relay(tls_settings, tls_context=cert.server_context(), require_starttls=True))
    phone.send(type="text", text="bad CA bundle")
    deliver_emails()
    assert all(i.status == "pending" and "ONFILE_SMTP_CA_FILE" in i.last_error for i in _items())


def test_the_ca_file_is_checked(settings: Any, tmp_path: Path, ca: LocalCA) -> None:
    from django.core.checks import run_checks

    settings.SMTP_CA_FILE = str(ca.ca_file)
    assert not [m for m in run_checks(tags=["onfile"]) if m.id == "onfile.E056"]
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    settings.SMTP_CA_FILE = str(bad)
    assert [m for m in run_checks(tags=["onfile"]) if m.id == "onfile.E056"]
