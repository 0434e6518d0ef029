"""A relay that is down, or refuses: queued, retried with backoff, visible, nothing lost."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from django.core.management import call_command

from onfile import clock
from onfile.channels.email.delivery import deliver_emails
from onfile.channels.email.forwarding import FORWARD, JOURNAL
from onfile.ledger.models import Entry
from onfile.outbox import queue
from onfile.outbox.models import OutboxItem
from onfile.status import collect_status

from .conftest import FALLBACK, Phone, Relay
from .conftest import JOURNAL as JOURNAL_ADDRESS

pytestmark = pytest.mark.django_db


def test_a_relay_that_is_down_is_retried_later_then_delivered(relay_settings: Any, phone: Phone) -> None:
    phone.send(type="text", text="while the relay is down")
    assert deliver_emails() == 2
    for item in OutboxItem.objects.filter(kind__in=[FORWARD, JOURNAL]):
        assert item.status == "pending" and item.attempts == 1
        assert "unavailable" in item.last_error and item.next_attempt_at > clock.now()
    assert not Entry.objects.filter(kind__in=["email.forward_sent", "email.forward_failed"]).exists()
    assert deliver_emails() == 0  # backing off: not due yet
    waiting = collect_status()["outbox"]["kinds"][FORWARD]  # visible: onfile status and the status page
    assert waiting["pending"] == 1 and waiting["failed"] == 0
    assert waiting["oldest_pending"]["attempts"] == 1 and "unavailable" in waiting["oldest_pending"]["last_error"]
    out = StringIO()
    call_command("status", stdout=out)
    assert f"outbox {FORWARD}: 1 waiting" in out.getvalue() and "unavailable" in out.getvalue()

    server = Relay(port=relay_settings.SMTP_PORT).start()
    try:
        OutboxItem.objects.update(next_attempt_at=clock.now())
        assert deliver_emails() == 2
    finally:
        server.stop()
    assert [r.recipients for r in server.received] == [[FALLBACK], [JOURNAL_ADDRESS]]
    assert set(OutboxItem.objects.filter(kind__in=[FORWARD, JOURNAL]).values_list("status", flat=True)) == {"done"}
    sent = Entry.objects.get(kind="email.forward_sent")
    assert server.received[0].email["Message-ID"] in sent.attrs


def test_a_refusal_is_final_and_recorded(relay: Relay, phone: Phone) -> None:
    relay.refuse = "550 5.1.1 <unassigned@firm.example>: Recipient address rejected"
    phone.send(type="text", text="nobody home")
    deliver_emails()
    item = OutboxItem.objects.get(kind=FORWARD)
    assert item.status == "failed" and "550" in item.last_error
    failed = Entry.objects.get(kind="email.forward_failed")
    assert '"code":550' in failed.attrs and FALLBACK not in failed.attrs
    shown = collect_status()["outbox"]
    assert shown["kinds"][FORWARD]["failed"] == 1
    forward = [f for f in shown["latest_failed"] if f["kind"] == FORWARD]
    assert len(forward) == 1 and "550" in forward[0]["error"] and forward[0]["attempts"] == 1


def test_a_temporary_refusal_is_retried(relay: Relay, phone: Phone) -> None:
    relay.refuse = "451 4.3.0 try again later"
    phone.send(type="text", text="later")
    deliver_emails()
    assert OutboxItem.objects.get(kind=FORWARD).status == "pending"
    relay.refuse = ""
    OutboxItem.objects.update(next_attempt_at=clock.now())
    deliver_emails()
    assert OutboxItem.objects.get(kind=FORWARD).status == "done" and len(relay.to(FALLBACK)) == 1


def test_running_out_of_attempts_is_recorded_in_the_ledger(relay_settings: Any, phone: Phone) -> None:
    phone.send(type="text", text="never delivered")
    OutboxItem.objects.filter(kind=FORWARD).update(attempts=queue.MAX_ATTEMPTS - 1)
    deliver_emails()
    assert OutboxItem.objects.get(kind=FORWARD).status == "failed"
    assert '"error":"relay unavailable"' in Entry.objects.get(kind="email.forward_failed").attrs


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_the_relay_login_is_used_and_a_refused_login_is_retried(relay_settings: Any, phone: Phone) -> None:
    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = auth_data.login == b"onfile" and auth_data.password == b"relay-password"
        return AuthResult(success=ok, handled=False)

    server = Relay(port=relay_settings.SMTP_PORT).start(auth_require_tls=False, authenticator=authenticator,
                                                        auth_required=True)
    try:
        relay_settings.SMTP_USER, relay_settings.SMTP_PASSWORD = "onfile", "wrong"
        phone.send(type="text", text="authenticated")
        deliver_emails()
        item = OutboxItem.objects.get(kind=FORWARD)
        assert item.status == "pending" and "refused the login" in item.last_error and not server.received
        relay_settings.SMTP_PASSWORD = "relay-password"
        OutboxItem.objects.update(next_attempt_at=clock.now())
        deliver_emails()
    finally:
        server.stop()
    assert len(server.to(FALLBACK)) == 1


def test_several_relay_sessions_keep_each_thread_in_order(relay: Relay, phone: Phone, settings: Any) -> None:
    """ONFILE_SMTP_CONNECTIONS sessions send at once, but a conversation's emails to one mailbox
    always take the same session: they arrive in the order the client wrote them."""
    from onfile.channels.email import compose
    from onfile.channels.email.delivery import _Senders

    settings.SMTP_CONNECTIONS = 4
    texts = [f"message {n}" for n in range(12)]
    for text in texts:
        phone.send(type="text", text=text)
    assert deliver_emails(limit=50) == 24
    forwards = relay.to(FALLBACK)
    assert [m.get_body(("plain",)).get_content().count(t) > 0 for m, t in zip(forwards, texts, strict=True)] == \
        [True] * 12
    assert len(relay.to(JOURNAL_ADDRESS)) == 12
    # Different threads spread over the sessions; one thread always takes the same one.
    senders = _Senders(4)
    try:
        lanes = {senders.lane(compose.Built("", "", ["x@firm.example"], b"", f"<thread.{n}@firm>")) for n in range(40)}
        same = {senders.lane(compose.Built("", "", [f"{n}@firm.example"], b"", "<one@firm>")) for n in range(10)}
    finally:
        senders.close()
    assert len(lanes) > 1 and len(same) == 1


def test_a_slow_batch_gives_back_what_it_has_not_started(relay: Relay, phone: Phone,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Past BATCH_SECONDS a batch takes no new item: the rest go back to the queue untried (no
    attempt used), before their lease could run out and another worker claim them twice."""
    from onfile.channels.email import delivery
    from onfile.outbox.models import OutboxItem

    monkeypatch.setattr(delivery, "BATCH_SECONDS", 0.0)
    for n in range(3):
        phone.send(type="text", text=f"slow {n}")
    delivery.deliver(FORWARD)
    states = sorted(OutboxItem.objects.filter(kind=FORWARD).values_list("status", "attempts", "lease_until"))
    assert states == [("done", 1, None), ("pending", 0, None), ("pending", 0, None)]
    delivery.deliver(FORWARD)
    delivery.deliver(FORWARD)
    assert set(OutboxItem.objects.filter(kind=FORWARD).values_list("status", flat=True)) == {"done"}
    assert len(relay.to(FALLBACK)) == 3
