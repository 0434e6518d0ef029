"""Conversations to export, made the way real ones are.

``whatsapp_chat``: the client writes through the WhatsApp simulator (text, a photo, a
document, a location, a contact card, a reply, a forward, a reaction, an edit, a deletion),
the firm answers from the Business app (an echo with delivery statuses); the signed webhook
bodies the simulator sends are posted to onfile's real endpoint, processed by the worker's
code, and the media are fetched from the simulator's Graph API — all in this process, on
loopback. ``imported_chat``: a chat export with attachments, one of them omitted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from onfile.channels.whatsapp.processing import fetch_media, process_pending
from onfile.conversations.actions import do_register_firm_number
from onfile.conversations.models import Conversation
from onfile.imports.actions import do_import
from onfile.imports.options import ImportOptions
from onfile.simulator import Simulator, parse_number

SECRET, TOKEN = "exports-app-secret", "exports-access-token"
PNID, NUMBER = "106540352242922", "+15550783881"
CLIENT = "+447700900123"
PHOTO = b"\xff\xd8\xff\xe0" + b"photo of the signed page " * 400
CONTRACT = b"%PDF-1.4\n" + b"signed contract " * 3000 + b"\n%%EOF\n"
CARD = {"name": {"formatted_name": "João Silva", "first_name": "João"},
        "phones": [{"phone": "+55 11 98765-4321", "type": "CELL"}], "org": {"company": "Silva & Filhos"}}


class Receiver:
    """Plays onfile's webhook URL for the simulator: keeps every signed body, answers 200."""

    def __init__(self) -> None:
        self.bodies: list[tuple[bytes, str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.bodies.append((body, self.headers.get("X-Hub-Signature-256", "")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/whatsapp"

    def take(self) -> list[tuple[bytes, str]]:
        with self.lock:
            bodies, self.bodies = self.bodies, []
        return bodies

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Phone:
    """The client's phone (the simulator) wired to onfile's webhook endpoint in this process."""

    sim: Simulator
    receiver: Receiver
    web: Client
    wamids: dict[str, str] = field(default_factory=dict)

    def send(self, label: str, **spec: Any) -> str:
        spec = {"from": CLIENT, "name": "Alice Example", **spec}
        wamid = self.sim.inbound(**spec)
        self.wamids[label] = wamid
        self.deliver()
        return wamid

    def echo(self, label: str, **spec: Any) -> str:
        wamid = self.sim.echo(to=CLIENT, **spec)
        self.wamids[label] = wamid
        self.deliver()
        return wamid

    def deliver(self) -> None:
        """Post what the simulator sent, in order, to onfile's endpoint; process it."""
        assert self.sim.flush(20), "the simulator could not deliver"
        for body, signature in self.receiver.take():
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(signature, expected)
            response = self.web.post("/webhooks/whatsapp", data=body, content_type="application/json",
                                     HTTP_X_HUB_SIGNATURE_256=signature)
            assert response.status_code == 200
        process_pending()


@pytest.fixture
def phone(archive: None, settings: Any) -> Iterator[Phone]:
    receiver = Receiver()
    sim = Simulator(port=0, webhook_url=receiver.url, app_secret=SECRET, access_token=TOKEN, verify_on_start=False,
                    numbers=[parse_number(f"{PNID}:{NUMBER[1:]}:Example Law")], status_delay_ms=20,
                    retry_initial_seconds=0.1, retry_max_seconds=1.0).start()
    settings.WHATSAPP_APP_SECRET = SECRET
    settings.WHATSAPP_ACCESS_TOKEN = TOKEN
    settings.WHATSAPP_GRAPH_URL = sim.url
    do_register_firm_number(PNID, NUMBER, "test", display_name="Example Law")
    try:
        yield Phone(sim, receiver, Client())
    finally:
        sim.stop()
        receiver.close()


@dataclass
class Chat:
    conversation: Conversation
    wamids: dict[str, str]


@pytest.fixture
def whatsapp_chat(phone: Phone) -> Chat:
    p = phone
    hello = p.send("hello", type="text", text="Hello, is the contract ready? Grüße 🙂 — 你好")
    p.send("photo", type="image", mime_type="image/jpeg", data_b64=base64.b64encode(PHOTO).decode(),
           caption="signed page")
    p.send("contract", type="document", mime_type="application/pdf", filename="contract.pdf",
           data_b64=base64.b64encode(CONTRACT).decode())
    p.send("place", type="location", location={"latitude": 51.5033635, "longitude": -0.1276248,
                                                "name": "Law Courts", "address": "Strand, London WC2A 2LL"})
    p.send("card", type="contacts", contacts=[CARD])
    p.send("reply", type="text", text="About my first message", context={"id": hello})
    p.send("fwd", type="text", text="forwarded text", forwarded=True)
    p.send("react", type="reaction", message_id=hello, emoji="👍")
    typo = p.send("typo", type="text", text="The meeting is on Tusday")
    p.send("edit", type="edit", original_message_id=typo, text="The meeting is on Tuesday")
    secret = p.send("oops", type="text", text="My PIN is 7319")
    p.send("revoke", type="revoke", original_message_id=secret)
    p.send("inject", type="text", text='<img src=x onerror="alert(1)"> & <b>bold</b>')
    p.echo("answer", type="text", text="Yes, it is attached.", with_statuses=True)
    p.deliver()
    assert fetch_media(10) == 2
    conversation = Conversation.objects.get()
    return Chat(conversation, p.wamids)


ALICE = """12/01/2024, 09:16 - Alice Smith: Hello, I have a question about the lease
it is about clause 4
13/01/2024, 10:00 - Bob Solicitor: Sure: send it over
13/01/2024, 10:01 - Alice Smith: IMG-20240113-WA0001.jpg (file attached)
the page
13/01/2024, 10:02 - Alice Smith: <Media omitted>
13/01/2024, 10:03 - Alice Smith: scan.pdf (file attached)
"""
JPEG = b"\xff\xd8\xff\xe0 a photo of page 4"
SCAN = b"%PDF-1.4 scan " * 100


def chat_zip(path: Path, text: str, media: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("WhatsApp Chat with Alice Smith.txt", text)
        for name, data in media.items():
            z.writestr(name, data)
    return path


@pytest.fixture
def import_chat(admin: Any, tmp_path: Path) -> Callable[..., Conversation]:
    def run(text: str = ALICE, media: dict[str, bytes] | None = None, **options: Any) -> Conversation:
        files = {"IMG-20240113-WA0001.jpg": JPEG, "scan.pdf": SCAN} if media is None else media
        path = chat_zip(tmp_path / f"export-{len(list(tmp_path.iterdir()))}.zip", text, files)
        [summary] = do_import([path], ImportOptions(me="Bob Solicitor", tz="UTC", **options), actor="test")
        return Conversation.objects.get(pk=summary.conversations[0])

    return run


def long_chat(n: int) -> str:
    lines = []
    for i in range(n):
        day, minute = 1 + i // 600, i % 600
        who = "Alice Smith" if i % 3 else "Bob Solicitor"
        lines.append(f"{day:02d}/02/2024, {minute // 60 + 8:02d}:{minute % 60:02d} - {who}: message number {i} "
                     f"about the lease, clause {i % 40}")
    return "\n".join(lines) + "\n"
