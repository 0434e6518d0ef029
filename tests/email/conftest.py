"""The email bridge against real servers on loopback: an aiosmtpd SMTP server standing in for the
firm's relay, and the WhatsApp simulator playing the client's phone (its webhook bodies are posted
to onfile's real webhook endpoint, then processed as the worker does)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from onfile import clock as onfile_clock
from onfile.channels.whatsapp.processing import process_pending
from onfile.simulator import Simulator, parse_number

SECRET, TOKEN, PNID, WABA = "s-secret", "s-token", "106540352242922", "102290129340398"
CLIENT = "+447700900123"
FROM, FALLBACK, JOURNAL = "whatsapp@firm.example", "unassigned@firm.example", "journal@archive.example"
DOMAIN = "onfile.firm.example"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def email(self) -> EmailMessage:
        """Parsed strictly (REQ-EML-1): any defect raises."""
        parsed = BytesParser(policy=policy.strict).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Relay:
    """What the firm's relay received; ``refuse`` makes it answer RCPT with that reply."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    refuse: str = ""
    controller: Controller | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"

    def start(self, **options: Any) -> Relay:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [r.email for r in self.received if r.recipients == [address]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def relay_settings(settings: Any) -> Any:
    """onfile pointed at a relay on loopback (not started: ``relay`` starts it)."""
    settings.SMTP_HOST = "127.0.0.1"
    settings.SMTP_PORT = free_port()
    settings.SMTP_SECURITY = "none"
    settings.SMTP_USER = settings.SMTP_PASSWORD = ""
    settings.EMAIL_FROM = FROM
    settings.EMAIL_FALLBACK = FALLBACK
    settings.EMAIL_DOMAIN = DOMAIN
    settings.EMAIL_MAX_ATTACHMENT_MB = 10
    settings.JOURNAL_ADDRESS = JOURNAL
    settings.PUBLIC_URL = "https://onfile.firm.example"
    return settings


@pytest.fixture
def relay(relay_settings: Any) -> Iterator[Relay]:
    server = Relay(port=relay_settings.SMTP_PORT).start()
    yield server
    server.stop()


@pytest.fixture
def sim(settings: Any) -> Iterator[Simulator]:
    simulator = Simulator(port=0, webhook_url="", app_secret=SECRET, access_token=TOKEN, status_delay_ms=10,
                          numbers=[parse_number(f"{PNID}:15550783881:Example Law")]).start()
    settings.WHATSAPP_GRAPH_URL = simulator.url
    settings.WHATSAPP_ACCESS_TOKEN = TOKEN
    settings.WHATSAPP_APP_SECRET = SECRET
    settings.WHATSAPP_WABA_ID = WABA
    yield simulator
    simulator.stop()


def webhook_body(messages: list[dict[str, Any]] = (), statuses: list[dict[str, Any]] = (),  # type: ignore[assignment]
                 name: str = "Alice") -> bytes:
    value: dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID}}
    if messages:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": CLIENT[1:]}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [
        {"field": "messages", "value": value}]}]}).encode()


def post(client: Client, raw: bytes) -> None:
    sig = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert client.post("/webhooks/whatsapp", data=raw, content_type="application/json",
                       HTTP_X_HUB_SIGNATURE_256=sig).status_code == 200
    process_pending()


@dataclass
class Phone:
    """The client's phone: each message goes through the simulator, then to onfile's webhook."""

    sim: Simulator
    client: Client
    name: str = "Alice"

    def send(self, **spec: Any) -> tuple[str, bytes]:
        """Returns the wamid and the webhook body that was posted."""
        made = self.sim._core().inbound({"from": CLIENT, "name": self.name, **spec})
        raw = webhook_body([made["message"]], name=self.name)
        post(self.client, raw)
        return str(made["id"]), raw

    def echo(self, **spec: Any) -> str:
        """Staff send from the WhatsApp Business app on their phone (coexistence)."""
        made = self.sim._core().echo({"to": CLIENT, **spec})
        value = {"messaging_product": "whatsapp", "message_echoes": [made["message"]],
                 "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID}}
        post(self.client, json.dumps({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [
            {"field": "smb_message_echoes", "value": value}]}]}).encode())
        return str(made["id"])

    def status(self, wamid: str, status: str, **extra: Any) -> None:
        post(self.client, webhook_body(statuses=[{"id": wamid, "status": status, "timestamp": str(int(time.time())),
                                                  "recipient_id": CLIENT[1:], **extra}]))


@pytest.fixture
def phone(archive: None, sim: Simulator, client: Client) -> Phone:
    return Phone(sim, client)


# ---- moving time (journal days, burst windows) ----------------------------------------------------------------


@dataclass
class Clock:
    """onfile's clock (``ONFILE_CLOCK_OFFSET_FILE``, see onfile.clock) and the simulator's, moved together,
    so that passing a day's end or a burst window is a call, not a wait."""

    sim: Simulator
    path: Path

    def advance(self, seconds: float) -> None:
        offset = float(self.path.read_text(encoding="ascii")) + seconds
        self.path.write_text(repr(offset), encoding="ascii")
        self.sim.advance_clock(seconds)

    def now(self) -> datetime:
        return onfile_clock.now()

    def to(self, when: datetime) -> None:
        self.advance((when - onfile_clock.now()).total_seconds())


@pytest.fixture
def clock(settings: Any, sim: Simulator, tmp_path: Path) -> Clock:
    path = tmp_path / "clock-offset"
    path.write_text("0", encoding="ascii")
    settings.CLOCK_OFFSET_FILE = str(path)
    return Clock(sim, path)


@pytest.fixture
def midday_zone(settings: Any) -> str:
    """ONFILE_TIME_ZONE set to a zone where it is now between 02:00 and 22:00, so that a test's messages
    (sent now, or an hour ago) fall on one local day whenever the suite runs."""
    for name in ("UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"):
        if 2 <= datetime.now(ZoneInfo(name)).hour < 22:
            settings.TIME_ZONE = name
            return name
    raise AssertionError("no candidate time zone is between 02:00 and 22:00 now")


# ---- replies by email (replying.py: shared by test_email_replies.py and test_email_window.py) ----------------

from .replying import replies, thread  # noqa: E402, F401
