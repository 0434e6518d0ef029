"""The WSGI fast path for webhook POSTs answers exactly as the Django view does.

``onfile.wsgi`` hands signed POSTs to ``/webhooks/whatsapp`` to ``fastpath.webhook`` (no
sessions, CSRF or URL resolution — issue 4's load goal); these tests run the same requests
through both and compare status, body, security headers and what reached the ledger.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections

from onfile.channels.whatsapp import fastpath
from onfile.channels.whatsapp.models import WebhookJob
from onfile.ledger.models import Entry

pytestmark = pytest.mark.django_db
SECRET = "test-app-secret"
BODY = (Path(__file__).with_name("fixtures") / "text.json").read_bytes()


@pytest.fixture(autouse=True)
def whatsapp_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings.WHATSAPP_APP_SECRET = SECRET
    settings.WHATSAPP_VERIFY_TOKEN = "verify-me"
    # Closing the connection would end the test's transaction (Django's test client does the same).
    monkeypatch.setattr(fastpath, "close_old_connections", lambda: None)
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def environ(body: bytes, signature: str | None, method: str = "POST", length: bool = True) -> dict[str, Any]:
    env: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": "/webhooks/whatsapp",
                           "CONTENT_TYPE": "application/json", "wsgi.input": io.BytesIO(body),
                           "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost", "HTTP_HOST": "localhost"}
    if length:
        env["CONTENT_LENGTH"] = str(len(body))
    if signature is not None:
        env["HTTP_X_HUB_SIGNATURE_256"] = signature
    setup_testing_defaults(env)
    return env


def call(app: Any, env: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)

    body = b"".join(app(env, start_response))
    return seen["status"], seen["headers"], body


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


SECURITY_HEADERS = ["Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                    "Cross-Origin-Opener-Policy", "Permissions-Policy", "Cache-Control", "Content-Type"]


@pytest.mark.parametrize("case", ["signed", "bad signature", "missing signature", "too large"])
def test_the_fast_path_answers_as_the_django_view_does(archive: None, settings: Any, case: str) -> None:
    body = BODY
    signature: str | None = sign(body)
    if case == "bad signature":
        signature = "sha256=" + "0" * 64
    elif case == "missing signature":
        signature = None
    elif case == "too large":
        settings.WHATSAPP_MAX_BODY = 100
    def kinds_since(n: int) -> list[str]:
        return list(Entry.objects.order_by("seq").values_list("kind", flat=True)[n:])

    before = Entry.objects.count()
    assert fastpath.handles(environ(body, signature))
    fast = call(fastpath.webhook, environ(body, signature))
    after_fast = kinds_since(before)
    slow = call(WSGIHandler(), environ(body, signature))
    after_slow = kinds_since(before + len(after_fast))
    assert fast[0] == slow[0]
    assert fast[2] == slow[2]
    for name in SECURITY_HEADERS:
        assert fast[1].get(name) == slow[1].get(name), name
    assert after_fast == after_slow  # the same ledger entries, e.g. one capture or one security event
    expected = {"signed": (200, ["capture.webhook"]), "bad signature": (403, ["security.webhook_signature"]),
                "missing signature": (401, ["security.webhook_signature"]), "too large": (413, [])}[case]
    assert (fast[0], after_fast) == expected


def test_a_signed_post_through_the_wsgi_entry_point_is_captured_before_the_answer(archive: None) -> None:
    from onfile.wsgi import application

    status, _, text = call(application, environ(BODY, sign(BODY)))
    assert (status, text) == (200, b"OK")
    entry = Entry.objects.get(kind="capture.webhook")
    assert WebhookJob.objects.filter(capture_seq=entry.seq).exists()


def test_requests_the_fast_path_leaves_to_django(settings: Any) -> None:
    assert not fastpath.handles(environ(BODY, sign(BODY), method="GET"))
    assert not fastpath.handles(environ(BODY, sign(BODY), length=False))  # chunked: Django reads it
    settings.SECURE_SSL_REDIRECT = True
    assert not fastpath.handles(environ(BODY, sign(BODY)))  # plain http: Django redirects


def test_a_capture_that_fails_is_not_acknowledged(archive: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> int:
        raise OSError("disk full")

    monkeypatch.setattr("onfile.channels.whatsapp.webhook.capture", broken)
    status, _, text = call(fastpath.webhook, environ(BODY, sign(BODY)))
    assert (status, text) == (503, b"capture failed; retry")  # Meta retries; nothing was acknowledged
    assert not Entry.objects.filter(kind="capture.webhook").exists()
