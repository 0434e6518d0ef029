"""The webhook's WSGI fast path: signed POSTs to ``/webhooks/whatsapp`` skip Django's stack.

Meta delivers webhooks in bursts, and each one must be answered only after a durable commit
(ARCHITECTURE invariant 1). On a two-core machine the capture itself (HMAC, sealing, group
commit) costs well under a millisecond of CPU, but Django's request cycle — request object,
eleven middlewares with sessions, CSRF, auth and messages, URL resolution, response object —
cost about as much again, for a request that needs none of it: no session, no user, no
template. So the WSGI entry point (``onfile.wsgi``) hands these POSTs straight to
:func:`webhook.receive`, the same function the Django view calls, and answers with the same
status codes, texts and security headers. Everything else — the GET handshake, other
methods, bodies without a Content-Length — goes through Django as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from onfile.channels.whatsapp.webhook import receive
from onfile.web.middleware import CSP

log = logging.getLogger(__name__)

PATH = "/webhooks/whatsapp"
REASONS = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 413: "Payload Too Large",
           503: "Service Unavailable"}
# What SecurityMiddleware, XFrameOptionsMiddleware and SecurityHeadersMiddleware add to a
# Django response (tests/channels/whatsapp/test_fastpath.py compares the two).
HEADERS = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
           ("Cross-Origin-Opener-Policy", "same-origin"), ("X-Frame-Options", "DENY"),
           ("Content-Security-Policy", CSP),
           ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
           ("Cache-Control", "no-store")]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _secure(environ: dict[str, Any]) -> bool:
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy and environ.get(proxy[0]) == proxy[1]:
        return True
    return bool(environ.get("wsgi.url_scheme") == "https")


def handles(environ: dict[str, Any]) -> bool:
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != PATH:
        return False
    if settings.SECURE_SSL_REDIRECT and not _secure(environ):
        return False  # Django answers with its redirect
    return str(environ.get("CONTENT_LENGTH") or "").isdigit()


def _answer(environ: dict[str, Any], start_response: StartResponse, status: int, text: str) -> list[bytes]:
    data = text.encode()
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(data))), *HEADERS]
    if settings.SECURE_HSTS_SECONDS and _secure(environ):
        headers.append(("Strict-Transport-Security", f"max-age={settings.SECURE_HSTS_SECONDS}"))
    start_response(f"{status} {REASONS.get(status, '')}".rstrip(), headers)
    return [data]


def webhook(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    length = int(environ["CONTENT_LENGTH"])
    if length > settings.WHATSAPP_MAX_BODY:
        return _answer(environ, start_response, 413, "body too large")
    body = environ["wsgi.input"].read(length)
    try:
        status, text = receive(body, environ.get("HTTP_X_HUB_SIGNATURE_256", ""),
                               environ.get("CONTENT_TYPE", "").split(";")[0].strip(),
                               environ.get("REMOTE_ADDR", ""))
    except Exception:
        # Not acknowledged, so Meta (or the simulator) delivers it again: nothing is lost.
        log.exception("webhook capture failed")
        status, text = 503, "capture failed; retry"
    finally:
        # What Django's request_finished signal does: drop a connection that is broken or old.
        close_old_connections()
    return _answer(environ, start_response, status, text)


def wrap(django_app: WSGIApp) -> WSGIApp:
    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if handles(environ):
            return webhook(environ, start_response)
        return django_app(environ, start_response)
    return application
