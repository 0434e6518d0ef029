"""A small client for the WhatsApp Cloud API (Graph API) and the request bodies it sends.

Design (whatsapp.md B1–B6):

- One ``httpx.Client`` per ``GraphClient``, with the bearer token as a default header; the
  ``transport`` argument lets tests and the local simulator stand in for graph.facebook.com.
- Every failure is a ``GraphError`` that says whether trying again can help
  (``retryable``) and how long to wait at least (``retry_after``). The outbox decides
  *when*; this module only classifies, following the B6 table.
- Sending is at-least-once at best: a timeout after the request left may still have sent
  the message. Meta has no idempotency header, so exactly-once is the job of onfile's
  outbox (one key per outbound message, the returned wamid recorded). ``send`` passes the
  key as ``Idempotency-Key`` (honoured only by the local simulator) and as
  ``biz_opaque_callback_data``, which Meta echoes on every status of the message, so a
  status can be matched to its outbox item even when the send response was lost.
- Body builders refuse what Meta would mis-handle rather than silently fixing it: a phone
  number without ``+`` would get the business number's country code prepended (B1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = [
    "GraphClient",
    "GraphError",
    "MediaInfo",
    "MediaTooLargeError",
    "SendResult",
    "media_body",
    "reaction_body",
    "recipient",
    "template_body",
    "text_body",
]

# B6: worth retrying. 4/80007 app or WABA rate limits, 130429 throughput, 131056 pair rate,
# 131000 unknown, 131016 service unavailable, 131057 maintenance or throughput upgrade, 135000
# generic error: Meta's advice is "maybe, once", so it carries retry_limit 1 for the outbox.
RETRYABLE_CODES = frozenset({4, 80007, 130429, 131056, 131000, 131016, 131057, 135000})
# The shortest sensible wait: the pair rate allows one message every ~6 s to the same user,
# and a throughput upgrade takes about a minute.
MIN_WAIT = {131056: 6.0, 131057: 60.0}
RETRY_LIMIT = {135000: 1}
# Known to be permanent even if Meta answered them with a 5xx: auth, permissions, parameters,
# the 24-hour window, undeliverable, templates (132xxx), identity checks.
PERMANENT_CODES = frozenset({0, 3, 10, 100, 190, 368, 130472, 130497, 131008, 131009, 131021, 131026, 131030,
                             131031, 131042, 131047, 131048, 131049, 131050, 131051, 131052, 131053, 131062, 137000})
MEDIA_KINDS = frozenset({"image", "video", "audio", "document", "sticker"})
E164 = re.compile(r"\+[1-9]\d{6,14}")
BSUID = re.compile(r"[A-Z]{2}(\.[A-Za-z0-9]+)+")
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 512  # Meta's limit for biz_opaque_callback_data
MAX_TEMPLATE_PAGES = 100


class GraphError(Exception):
    """A failed Graph API call, classified for the retry policy of B6."""

    def __init__(self, message: str, *, http_status: int | None = None, code: int | None = None,
                 subcode: int | None = None, title: str | None = None, details: str | None = None,
                 fbtrace_id: str | None = None, error_type: str | None = None, retryable: bool = False,
                 retry_after: float | None = None, retry_limit: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code
        self.subcode = subcode
        self.title = title
        self.details = details
        self.fbtrace_id = fbtrace_id
        self.error_type = error_type
        self.retryable = retryable
        self.retry_after = retry_after
        self.retry_limit = retry_limit  # None: the caller's own policy; 1: try once more at most

    def __str__(self) -> str:
        where = ", ".join(p for p in (f"code {self.code}" if self.code is not None else "",
                                      f"HTTP {self.http_status}" if self.http_status is not None else "") if p)
        text = f"{self.message} ({where})" if where else self.message
        return f"{text}: {self.details}" if self.details and self.details not in self.message else text


class MediaTooLargeError(GraphError):
    """A download bigger than the caller allows; not retryable."""


@dataclass(frozen=True, slots=True)
class SendResult:
    wamid: str
    wa_id: str | None
    raw: dict[str, Any]
    message_status: str | None = None  # template pacing ("accepted", "held_for_quality_assessment")


@dataclass(frozen=True, slots=True)
class MediaInfo:
    url: str
    mime_type: str | None
    sha256: str | None  # hex here, unlike some webhooks (A5)
    file_size: int | None
    id: str | None = None


# ---- error classification --------------------------------------------------------------------------------


def classify(http_status: int | None, code: int | None,
             retry_after_header: float | None = None) -> tuple[bool, float | None, int | None]:
    """(retryable, retry_after, retry_limit) for an answer, following B6."""
    if code in RETRYABLE_CODES:
        retryable = True
    elif code is not None and (code in PERMANENT_CODES or 132000 <= code <= 132999 or 200 <= code <= 299):
        retryable = False
    else:
        retryable = http_status is not None and (http_status >= 500 or http_status == 429)
    if not retryable:
        return False, None, None
    waits = [w for w in (retry_after_header, MIN_WAIT.get(code) if code is not None else None) if w is not None]
    return True, max(waits) if waits else None, RETRY_LIMIT.get(code) if code is not None else None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _retry_after(response: httpx.Response) -> float | None:
    # Graph rarely sends Retry-After; the simulator and proxies may. Seconds only: an
    # HTTP-date form is ignored rather than misread.
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def error_from_response(response: httpx.Response) -> GraphError:
    """The documented ``{"error": {...}}`` body, or whatever else came back (HTML from a proxy …)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    status = response.status_code
    if not isinstance(error, dict):
        snippet = response.text[:200].strip() if response.content else ""
        retryable, wait, limit = classify(status, None, _retry_after(response))
        return GraphError(f"HTTP {status} from the Graph API" + (f": {snippet}" if snippet else ""),
                          http_status=status, retryable=retryable, retry_after=wait, retry_limit=limit)
    code = _as_int(error.get("code"))
    data = error.get("error_data")
    details = _as_str(data.get("details")) if isinstance(data, dict) else _as_str(data)
    retryable, wait, limit = classify(status, code, _retry_after(response))
    return GraphError(
        _as_str(error.get("message")) or f"HTTP {status} from the Graph API", http_status=status, code=code,
        subcode=_as_int(error.get("error_subcode")),
        title=_as_str(error.get("error_user_title")) or _as_str(error.get("title")), details=details,
        fbtrace_id=_as_str(error.get("fbtrace_id")), error_type=_as_str(error.get("type")),
        retryable=retryable, retry_after=wait, retry_limit=limit)


# ---- the client ------------------------------------------------------------------------------------------


class GraphClient:
    def __init__(self, base_url: str, access_token: str, api_version: str = "v25.0", timeout: float = 15.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not access_token:
            raise ValueError("a Graph API access token is required")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version.strip("/")
        self._client = httpx.Client(headers={"Authorization": f"Bearer {access_token}"}, timeout=timeout,
                                    transport=transport)

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{self.api_version}/{path.lstrip('/')}"

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, url, **kwargs)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _transport_error(exc, method, url) from exc

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, self._url(path), **kwargs)
        if response.is_error:
            raise error_from_response(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            # Accepted or not, we cannot tell: not retryable, so a message is not sent twice.
            raise GraphError(f"{method} {path}: the answer is not a JSON object", http_status=response.status_code)
        return body

    def send(self, phone_number_id: str, body: dict[str, Any], idempotency_key: str | None = None) -> SendResult:
        """POST /{phone-number-id}/messages. Accepted is not delivered: statuses follow (B1)."""
        payload = dict(body)  # the caller's dict stays as it was (the outbox stores it)
        headers = {}
        if idempotency_key is not None:
            _check_callback_data(payload, idempotency_key)
            payload["biz_opaque_callback_data"] = idempotency_key
            # Meta ignores this header; only the local simulator honours it (see the module docstring).
            headers["Idempotency-Key"] = idempotency_key
        answer = self._json("POST", f"{phone_number_id}/messages", json=payload, headers=headers)
        messages = answer.get("messages")
        first = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
        wamid = _as_str(first.get("id"))
        if not wamid:
            raise GraphError("the send was answered without a message id", http_status=200)
        contacts = answer.get("contacts")
        contact = contacts[0] if isinstance(contacts, list) and contacts and isinstance(contacts[0], dict) else {}
        return SendResult(wamid=wamid, wa_id=_as_str(contact.get("wa_id")), raw=answer,
                          message_status=_as_str(first.get("message_status")))

    def upload_media(self, phone_number_id: str, data: bytes, mime_type: str, filename: str) -> str:
        """POST /{phone-number-id}/media (multipart); the media id lasts 30 days (B3)."""
        answer = self._json("POST", f"{phone_number_id}/media",
                            data={"messaging_product": "whatsapp", "type": mime_type},
                            files={"file": (filename, data, mime_type)})
        media_id = answer.get("id")
        if not isinstance(media_id, str | int) or isinstance(media_id, bool) or not str(media_id):
            raise GraphError("the upload was answered without a media id", http_status=200)
        return str(media_id)

    def media_info(self, media_id: str) -> MediaInfo:
        """GET /{media-id}: a download URL valid for 5 minutes (B3)."""
        answer = self._json("GET", media_id)
        url = _as_str(answer.get("url"))
        if not url:
            raise GraphError(f"media {media_id}: the answer has no url", http_status=200)
        return MediaInfo(url=url, mime_type=_as_str(answer.get("mime_type")), sha256=_as_str(answer.get("sha256")),
                         file_size=_as_int(answer.get("file_size")), id=_as_str(answer.get("id")))

    def download(self, url: str, max_bytes: int) -> bytes:
        """GET a media URL with the bearer token, refusing anything over ``max_bytes``.

        Only pass URLs from ``media_info`` or a verified webhook: the token goes with the
        request (httpx drops it if a redirect leaves the host). A 404 means the URL expired:
        ask ``media_info`` for a fresh one rather than retrying this one.
        """
        try:
            with self._client.stream("GET", url, follow_redirects=True) as response:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                _check_declared_size(response, max_bytes)
                return _read_capped(response, max_bytes)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _transport_error(exc, "GET", url) from exc

    def templates(self, waba_id: str) -> list[dict[str, Any]]:
        """GET /{waba-id}/message_templates, every page (following the ``after`` cursor)."""
        found: list[dict[str, Any]] = []
        params: dict[str, str | int] = {"limit": 100}
        for _ in range(MAX_TEMPLATE_PAGES):
            answer = self._json("GET", f"{waba_id}/message_templates", params=params)
            data = answer.get("data")
            found.extend(t for t in (data if isinstance(data, list) else []) if isinstance(t, dict))
            after = _next_cursor(answer)
            if after is None:
                break
            params = {"limit": 100, "after": after}
        return found

    def mark_read(self, phone_number_id: str, wamid: str) -> None:
        """Blue ticks for the user: POST /{phone-number-id}/messages with status "read" (B2)."""
        self._json("POST", f"{phone_number_id}/messages",
                   json={"messaging_product": "whatsapp", "status": "read", "message_id": wamid})


def _transport_error(exc: httpx.HTTPError | httpx.InvalidURL, method: str, url: str) -> GraphError:
    where = f"{method} {url.split('?', 1)[0][:200]}"  # media URLs carry a signed query: keep it out of logs
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return GraphError(f"{where}: not a usable URL: {exc}")
    if isinstance(exc, httpx.TimeoutException):
        # For a send this is ambiguous: the message may have been accepted. The outbox retries with
        # the same key; statuses carry it back in biz_opaque_callback_data.
        return GraphError(f"{where}: timed out", retryable=True)
    if isinstance(exc, httpx.TransportError):
        return GraphError(f"{where}: connection failed: {exc or type(exc).__name__}", retryable=True)
    return GraphError(f"{where}: {type(exc).__name__}: {exc}")  # too many redirects, undecodable body


def _check_declared_size(response: httpx.Response, max_bytes: int) -> None:
    declared = _as_int(response.headers.get("Content-Length"))
    if declared is not None and declared > max_bytes:
        raise MediaTooLargeError(f"media is {declared} bytes, more than the {max_bytes} allowed",
                                 http_status=response.status_code)


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    # Counted as it arrives: a missing or lying Content-Length must not let it grow unbounded.
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise MediaTooLargeError(f"media is more than the {max_bytes} bytes allowed",
                                     http_status=response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def _next_cursor(answer: dict[str, Any]) -> str | None:
    paging = answer.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    return _as_str(cursors.get("after")) if isinstance(cursors, dict) else None


def _check_callback_data(payload: dict[str, Any], key: str) -> None:
    if len(key) > MAX_CALLBACK_DATA:
        raise ValueError(f"idempotency key is longer than {MAX_CALLBACK_DATA} characters")
    existing = payload.get("biz_opaque_callback_data")
    if existing is not None and existing != key:
        # Overwriting it would silently break whatever correlation the caller set up.
        raise ValueError("the body already has a different biz_opaque_callback_data than the idempotency key")


# ---- bodies (B1, B2) -------------------------------------------------------------------------------------


def recipient(to: str) -> dict[str, str]:
    """``{"to": "+E164"}`` for a phone number, ``{"recipient": BSUID}`` for a business-scoped user id."""
    if E164.fullmatch(to):
        return {"to": to}
    if BSUID.fullmatch(to):
        return {"recipient": to}
    raise ValueError(f"refusing to send to {to!r}: give +E.164 with the country code (without '+', Meta prepends "
                     "the business number's country code) or a business-scoped user id such as 'US.1349…'")


def _base(to: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", **recipient(to)}


def _with_reply(body: dict[str, Any], reply_to: str | None) -> dict[str, Any]:
    if reply_to:
        body["context"] = {"message_id": reply_to}
    return body


def text_body(to: str, body: str, reply_to: str | None = None, preview_url: bool = False) -> dict[str, Any]:
    if not body or len(body) > MAX_TEXT:
        raise ValueError(f"a text message needs 1 to {MAX_TEXT} characters, not {len(body)}")
    return _with_reply({**_base(to), "type": "text", "text": {"body": body, "preview_url": preview_url}}, reply_to)


def media_body(to: str, kind: str, media_id: str, caption: str | None = None, filename: str | None = None,
               reply_to: str | None = None) -> dict[str, Any]:
    """A media message by uploaded id. Audio and stickers take no caption; only documents a filename."""
    if kind not in MEDIA_KINDS:
        raise ValueError(f"unknown media kind {kind!r}; one of {sorted(MEDIA_KINDS)}")
    if caption is not None and kind in ("audio", "sticker"):
        raise ValueError(f"{kind} messages take no caption")
    if filename is not None and kind != "document":
        raise ValueError("only documents take a filename")
    media: dict[str, str] = {"id": media_id}
    if caption is not None:
        media["caption"] = caption
    if filename is not None:
        media["filename"] = filename
    return _with_reply({**_base(to), "type": kind, kind: media}, reply_to)


def reaction_body(to: str, message_id: str, emoji: str) -> dict[str, Any]:
    """A reaction; an empty ``emoji`` removes ours. Reactions cannot quote (no context)."""
    return {**_base(to), "type": "reaction", "reaction": {"message_id": message_id, "emoji": emoji}}


def template_body(to: str, name: str, language: str, body_params: Sequence[str] = (),
                  header: dict[str, Any] | None = None) -> dict[str, Any]:
    """An approved template. ``header`` is one header *parameter*, e.g.
    ``{"type": "document", "document": {"id": "…", "filename": "x.pdf"}}``."""
    components: list[dict[str, Any]] = []
    if header is not None:
        components.append({"type": "header", "parameters": [header]})
    if body_params:
        components.append({"type": "body", "parameters": [{"type": "text", "text": p} for p in body_params]})
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        template["components"] = components
    return {**_base(to), "type": "template", "template": template}
