"""Fixtures for the simulator tests: a simulator on a free port and a stand-in webhook receiver.

The receiver is a real stdlib HTTP server playing onfile's webhook endpoint: it answers
the GET handshake, checks ``X-Hub-Signature-256`` over the raw body with the app secret,
records every POST, and answers with scripted status codes (200 once the script is used up).

These tests need neither Django nor the archive keys, so the root conftest's session
fixture ``_keys`` is shadowed here; that lets ``pytest -p no:django tests/simulator`` run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from onfile.simulator import SimConfig, Simulator, parse_number

SECRET = "test-app-secret"
VERIFY = "test-verify-token"
TOKEN = "test-access-token"
PNID = "106540352242922"
PNID_2 = "106540352242923"
ALICE = "+447700900123"
TLS = ssl.create_default_context()  # one per session: each new one loads the CA bundle (~0.1 s)


@pytest.fixture(scope="session", autouse=True)
def _keys() -> Iterator[None]:
    """Shadows the root fixture: no archive keys (and no Django) needed here."""
    yield


@dataclass
class Post:
    body: bytes
    headers: dict[str, str]
    valid: bool
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.gets: list[dict[str, str]] = []
        self.script: deque[int] = deque()
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                receiver.gets.append(query)
                ok = query.get("hub.mode") == "subscribe" and query.get("hub.verify_token") == VERIFY
                body = query.get("hub.challenge", "").encode() if ok else b"forbidden"
                self._answer(200 if ok else 403, body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(expected, self.headers.get("X-Hub-Signature-256", ""))
                with receiver.cond:
                    status = receiver.script.popleft() if receiver.script else 200
                    receiver.posts.append(Post(body, {k.lower(): v for k, v in self.headers.items()}, valid, status))
                    receiver.cond.notify_all()
                self._answer(status, b"ok")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/whatsapp"

    def accepted(self) -> list[Post]:
        with self.cond:
            return [p for p in self.posts if p.status == 200]

    def values(self, field: str | None = None) -> list[dict[str, Any]]:
        """Every change value of every accepted POST (duplicates included)."""
        out = []
        for post in self.accepted():
            for entry in post.json()["entry"]:
                out += [c["value"] for c in entry["changes"] if field is None or c["field"] == field]
        return out

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [item for value in self.values() for item in value.get(kind, [])]

    def statuses(self, wamid: str) -> list[str]:
        return [s["status"] for s in self.items("statuses") if s["id"] == wamid]

    def wait(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the receiver")
            time.sleep(0.02)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def make_sim(receiver: Receiver) -> Iterator[Callable[..., Simulator]]:
    started: list[Simulator] = []

    def make(**overrides: Any) -> Simulator:
        config = SimConfig(
            port=0, webhook_url=receiver.url, app_secret=SECRET, verify_token=VERIFY, access_token=TOKEN,
            numbers=[parse_number(f"{PNID}:+442079460000:Example Law LLP"),
                     parse_number(f"{PNID_2}:+442079460001:Example Law Private Client")],
            seed=7, status_delay_ms=20, batch_window_ms=60, retry_initial_seconds=0.05, retry_max_seconds=0.2,
        )
        sim = Simulator(config, **overrides).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: Callable[..., Simulator]) -> Simulator:
    return make_sim()


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """A plain client for absolute URLs."""
    with httpx.Client(timeout=15, verify=TLS) as client:
        yield client


@pytest.fixture
def graph(sim: Simulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=sim.graph_url, headers=headers, timeout=10, verify=TLS) as client:
        yield client


@pytest.fixture
def api(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=15, verify=TLS) as client:
        yield client
