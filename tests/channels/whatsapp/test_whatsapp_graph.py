"""``GraphClient`` against a real HTTP server on loopback (stdlib ``http.server`` in a thread):
the requests it sends (bodies exactly as whatsapp.md B2 shows them, multipart uploads, the
bearer header) and how it classifies every kind of failure (B6)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from onfile.channels.whatsapp.graph import (
    GraphClient,
    GraphError,
    MediaTooLargeError,
    classify,
    media_body,
    reaction_body,
    recipient,
    template_body,
    text_body,
)

TOKEN = "EAAG-test-token"
PNID = "106540352242922"
WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3MTE5MjVB"
ACCEPTED = {"messaging_product": "whatsapp", "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
            "messages": [{"id": WAMID}]}


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] | list[Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    send_length: bool = True


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeGraph:
    """Records every request and answers with the next queued reply (200 {} when none is queued)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.replies: deque[Reply] = deque()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                fake.seen.append(Seen(self.command, parts.path, parse_qs(parts.query),
                                      {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)))
                reply = fake.replies.popleft() if fake.replies else Reply()
                time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    if reply.send_length:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: shutdown() waits for it, and every test stops its own server.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def reply(self, status: int = 200, body: bytes | dict[str, Any] | list[Any] | None = None, **kw: Any) -> None:
        self.replies.append(Reply(status, {} if body is None else body, **kw))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# One server and one client per module (an httpx.Client costs ~0.1 s to build: its SSL context);
# each test starts with nothing recorded and nothing queued.
@pytest.fixture(scope="module")
def _server() -> Iterator[FakeGraph]:
    server = FakeGraph()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def _client(_server: FakeGraph) -> Iterator[GraphClient]:
    with GraphClient(_server.url + "/", TOKEN, timeout=5.0) as graph:
        yield graph


@pytest.fixture
def fake(_server: FakeGraph) -> FakeGraph:
    _server.seen.clear()
    _server.replies.clear()
    return _server


@pytest.fixture
def client(_client: GraphClient, fake: FakeGraph) -> GraphClient:
    return _client


def graph_error(status: int, code: int | None, message: str = "boom", **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "fbtrace_id": "AbCdEf123", **extra}
    if code is not None:
        error["code"] = code
    return {"error": error}


# ---- bodies as B2 shows them ----------------------------------------------------------------------------

COMMON = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234"}
BODIES = [
    pytest.param(text_body("+16505551234", "Your documents are ready.", preview_url=True),
                 {**COMMON, "type": "text", "text": {"body": "Your documents are ready.", "preview_url": True}},
                 id="text"),
    pytest.param(text_body("+16505551234", "Yes, received.", reply_to=WAMID),
                 {**COMMON, "type": "text", "text": {"body": "Yes, received.", "preview_url": False},
                  "context": {"message_id": WAMID}}, id="reply"),
    pytest.param(media_body("+16505551234", "image", "1479537139650973", caption="Signed page"),
                 {**COMMON, "type": "image", "image": {"id": "1479537139650973", "caption": "Signed page"}},
                 id="image"),
    pytest.param(media_body("+16505551234", "video", "765756756001", reply_to=WAMID),
                 {**COMMON, "type": "video", "video": {"id": "765756756001"}, "context": {"message_id": WAMID}},
                 id="video-reply"),
    pytest.param(media_body("+16505551234", "audio", "1234567890987001"),
                 {**COMMON, "type": "audio", "audio": {"id": "1234567890987001"}}, id="audio"),
    pytest.param(media_body("+16505551234", "sticker", "1234567890987003"),
                 {**COMMON, "type": "sticker", "sticker": {"id": "1234567890987003"}}, id="sticker"),
    pytest.param(media_body("+16505551234", "document", "24230790383178626", caption="Invoice",
                            filename="invoice-77.pdf"),
                 {**COMMON, "type": "document", "document": {"id": "24230790383178626", "caption": "Invoice",
                                                             "filename": "invoice-77.pdf"}}, id="document"),
    pytest.param(reaction_body("+16505551234", WAMID, "\U0001f600"),
                 {**COMMON, "type": "reaction", "reaction": {"message_id": WAMID, "emoji": "\U0001f600"}},
                 id="reaction"),
    pytest.param(reaction_body("+16505551234", WAMID, ""),
                 {**COMMON, "type": "reaction", "reaction": {"message_id": WAMID, "emoji": ""}},
                 id="reaction-removed"),
    pytest.param(template_body("+16505551234", "order_update", "en_US", body_params=["A-1022"],
                               header={"type": "document", "document": {"id": "77", "filename": "x.pdf"}}),
                 {**COMMON, "type": "template", "template": {
                     "name": "order_update", "language": {"code": "en_US"}, "components": [
                         {"type": "header", "parameters": [{"type": "document",
                                                            "document": {"id": "77", "filename": "x.pdf"}}]},
                         {"type": "body", "parameters": [{"type": "text", "text": "A-1022"}]}]}}, id="template"),
    pytest.param(template_body("+16505551234", "hello_world", "en_US"),
                 {**COMMON, "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}},
                 id="template-plain"),
    pytest.param(text_body("US.13491208655302741918", "Hi"),
                 {"messaging_product": "whatsapp", "recipient_type": "individual",
                  "recipient": "US.13491208655302741918", "type": "text", "text": {"body": "Hi", "preview_url": False}},
                 id="bsuid"),
]


@pytest.mark.parametrize(("body", "expected"), BODIES)
def test_send_puts_the_body_on_the_wire_exactly(fake: FakeGraph, client: GraphClient, body: dict[str, Any],
                                                expected: dict[str, Any]) -> None:
    fake.reply(body=ACCEPTED)
    result = client.send(PNID, body, idempotency_key="outbox:41")
    (seen,) = fake.seen
    assert (seen.method, seen.path) == ("POST", f"/v25.0/{PNID}/messages")
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["idempotency-key"] == "outbox:41"
    assert seen.json() == {**expected, "biz_opaque_callback_data": "outbox:41"}
    assert "biz_opaque_callback_data" not in body  # the caller's dict is left alone
    assert (result.wamid, result.wa_id, result.raw) == (WAMID, "16505551234", ACCEPTED)


def test_send_without_key_adds_nothing(fake: FakeGraph, client: GraphClient) -> None:
    fake.reply(body={"messages": [{"id": WAMID, "message_status": "accepted"}]})
    result = client.send(PNID, text_body("+16505551234", "x"))
    assert "idempotency-key" not in fake.seen[0].headers
    assert "biz_opaque_callback_data" not in fake.seen[0].json()
    assert result.wa_id is None and result.message_status == "accepted"


def test_send_refuses_a_conflicting_callback_data(client: GraphClient) -> None:
    body = {**text_body("+16505551234", "x"), "biz_opaque_callback_data": "case-4471"}
    with pytest.raises(ValueError, match="biz_opaque_callback_data"):
        client.send(PNID, body, idempotency_key="outbox:1")


@pytest.mark.parametrize("to", ["16505551234", "0650555123", "+0123456789", "+1 650 555 1234", "us.123", "", "+1"])
def test_recipient_refuses_ambiguous_numbers(to: str) -> None:
    with pytest.raises(ValueError, match="refusing"):
        recipient(to)


def test_recipient_forms() -> None:
    assert recipient("+16505551234") == {"to": "+16505551234"}
    assert recipient("BR.7730012946610043") == {"recipient": "BR.7730012946610043"}


def test_builders_refuse_what_meta_would_reject() -> None:
    with pytest.raises(ValueError, match="caption"):
        media_body("+16505551234", "audio", "1", caption="no")
    with pytest.raises(ValueError, match="caption"):
        media_body("+16505551234", "sticker", "1", caption="no")
    with pytest.raises(ValueError, match="filename"):
        media_body("+16505551234", "image", "1", filename="a.jpg")
    with pytest.raises(ValueError, match="kind"):
        media_body("+16505551234", "gif", "1")
    with pytest.raises(ValueError):
        text_body("+16505551234", "")
    with pytest.raises(ValueError):
        text_body("+16505551234", "x" * 4097)


# ---- media ------------------------------------------------------------------------------------------------


def test_upload_media_is_multipart(fake: FakeGraph, client: GraphClient) -> None:
    fake.reply(body={"id": "1037543291543636"})
    data = b"%PDF-1.7\n\x00\xff binary"
    assert client.upload_media(PNID, data, "application/pdf", "engagement letter.pdf") == "1037543291543636"
    (seen,) = fake.seen
    assert (seen.method, seen.path) == ("POST", f"/v25.0/{PNID}/media")
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    message = BytesParser(policy=email_policy).parsebytes(
        b"Content-Type: " + seen.headers["content-type"].encode() + b"\r\n\r\n" + seen.body)
    parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
    assert set(parts) == {"messaging_product", "type", "file"}
    assert parts["messaging_product"].get_content() == "whatsapp"
    assert parts["type"].get_content() == "application/pdf"
    assert parts["file"].get_filename() == "engagement letter.pdf"
    assert parts["file"].get_content_type() == "application/pdf"
    assert parts["file"].get_payload(decode=True) == data


def test_media_info_then_download_with_the_bearer_token(fake: FakeGraph, client: GraphClient) -> None:
    data = bytes(range(256)) * 40
    fake.reply(body={"messaging_product": "whatsapp", "url": f"{fake.url}/whatsapp_business/attachments/?mid=1&ext=2",
                     "mime_type": "image/jpeg", "sha256": "3f9d94d3", "file_size": len(data), "id": "1479537139650973"})
    fake.reply(body=data, headers={"Content-Type": "image/jpeg"})
    info = client.media_info("1479537139650973")
    assert (info.mime_type, info.sha256, info.file_size, info.id) == ("image/jpeg", "3f9d94d3", len(data),
                                                                      "1479537139650973")
    assert client.download(info.url, max_bytes=len(data)) == data  # exactly at the limit is fine
    lookup, download = fake.seen
    assert (lookup.method, lookup.path) == ("GET", "/v25.0/1479537139650973")
    assert (download.path, download.query) == ("/whatsapp_business/attachments/", {"mid": ["1"], "ext": ["2"]})
    assert lookup.headers["authorization"] == download.headers["authorization"] == f"Bearer {TOKEN}"


def test_download_follows_a_redirect(fake: FakeGraph, client: GraphClient) -> None:
    fake.reply(302, b"", headers={"Location": f"{fake.url}/real"})
    fake.reply(body=b"payload")
    assert client.download(f"{fake.url}/first", max_bytes=100) == b"payload"
    assert [s.path for s in fake.seen] == ["/first", "/real"]


def test_download_refuses_a_declared_size_over_the_limit(fake: FakeGraph, client: GraphClient) -> None:
    fake.reply(body=b"x" * 1001)
    with pytest.raises(MediaTooLargeError) as caught:
        client.download(f"{fake.url}/big", max_bytes=1000)
    assert not caught.value.retryable


def test_download_refuses_an_undeclared_size_over_the_limit(fake: FakeGraph, client: GraphClient) -> None:
    fake.reply(body=b"x" * 200_000, send_length=False)  # HTTP/1.0, no Content-Length: read until close
    with pytest.raises(MediaTooLargeError):
        client.download(f"{fake.url}/big", max_bytes=100_000)


def test_download_of_an_expired_url(fake: FakeGraph, client: GraphClient) -> None:
    fake.reply(404, graph_error(404, 100, "Unsupported get request"))
    with pytest.raises(GraphError) as caught:
        client.download(f"{fake.url}/gone", max_bytes=10)
    assert (caught.value.http_status, caught.value.code, caught.value.retryable) == (404, 100, False)


def test_download_of_a_bad_url(client: GraphClient) -> None:
    for url in ("not a url", "ftp://example.com/x"):
        with pytest.raises(GraphError) as caught:
            client.download(url, max_bytes=10)
        assert not caught.value.retryable


# ---- templates, mark_read ----------------------------------------------------------------------------------


def test_templates_follows_the_cursor(fake: FakeGraph, client: GraphClient) -> None:
    first = {"data": [{"name": "order_update", "language": "en_US", "status": "APPROVED"}],
             "paging": {"cursors": {"before": "A", "after": "B"}, "next": f"{fake.url}/ignored"}}
    second = {"data": [{"name": "hello_world", "language": "en_US", "status": "APPROVED"}],
              "paging": {"cursors": {"before": "B", "after": "C"}}}
    fake.reply(body=first)
    fake.reply(body=second)
    assert [t["name"] for t in client.templates("102290129340398")] == ["order_update", "hello_world"]
    assert [s.path for s in fake.seen] == ["/v25.0/102290129340398/message_templates"] * 2
    assert fake.seen[0].query == {"limit": ["100"]}
    assert fake.seen[1].query == {"limit": ["100"], "after": ["B"]}


def test_mark_read(fake: FakeGraph, client: GraphClient) -> None:
    fake.reply(body={"success": True})
    client.mark_read(PNID, WAMID)
    (seen,) = fake.seen
    assert (seen.method, seen.path) == ("POST", f"/v25.0/{PNID}/messages")
    assert seen.json() == {"messaging_product": "whatsapp", "status": "read", "message_id": WAMID}


# ---- errors (B6) ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code", "retryable", "retry_after"), [
    (400, 131047, False, None),  # outside the 24-hour window: send a template
    (400, 131026, False, None),
    (400, 132001, False, None),  # template does not exist
    (401, 190, False, None),  # expired token
    (400, 100, False, None),
    (400, 131048, False, None),  # spam rate limit: not automatically
    (500, 131047, False, None),  # a permanent code stays permanent whatever the HTTP status
    (429, 130429, True, None),
    (400, 4, True, None),
    (400, 80007, True, None),
    (400, 131056, True, 6.0),
    (503, 131057, True, 60.0),
    (500, 131000, True, None),
    (503, 131016, True, None),
    (500, 135000, True, None),
    (500, 2, True, None),  # unknown code on a 5xx
    (429, None, True, None),
])
def test_error_classes(fake: FakeGraph, client: GraphClient, status: int, code: int | None, retryable: bool,
                       retry_after: float | None) -> None:
    fake.reply(status, graph_error(status, code))
    with pytest.raises(GraphError) as caught:
        client.send(PNID, text_body("+16505551234", "hi"))
    err = caught.value
    assert (err.http_status, err.code, err.retryable, err.retry_after) == (status, code, retryable, retry_after)
    assert err.retry_limit == (1 if code == 135000 else None)


def test_error_fields_are_parsed(fake: FakeGraph, client: GraphClient) -> None:
    fake.reply(400, {"error": {
        "message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
        "error_subcode": 2494010, "error_user_title": "Re-engagement message",
        "error_data": {"messaging_product": "whatsapp",
                       "details": "Message failed to send because more than 24 hours have passed."},
        "fbtrace_id": "A8yc1Zq-7cXUJvzW2BrRqLk"}})
    with pytest.raises(GraphError) as caught:
        client.send(PNID, text_body("+16505551234", "hi"))
    err = caught.value
    assert (err.code, err.subcode, err.title, err.error_type, err.fbtrace_id) == (
        131047, 2494010, "Re-engagement message", "OAuthException", "A8yc1Zq-7cXUJvzW2BrRqLk")
    assert err.message == "(#131047) Re-engagement message"
    assert err.details == "Message failed to send because more than 24 hours have passed."
    assert "131047" in str(err) and "24 hours" in str(err)


def test_retry_after_header_is_honoured_but_not_below_the_minimum(fake: FakeGraph, client: GraphClient) -> None:
    fake.reply(429, graph_error(429, 131056), headers={"Retry-After": "20"})
    fake.reply(429, graph_error(429, 131056), headers={"Retry-After": "1"})
    fake.reply(429, graph_error(429, 130429), headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})
    waits = []
    for _ in range(3):
        with pytest.raises(GraphError) as caught:
            client.send(PNID, text_body("+16505551234", "hi"))
        waits.append(caught.value.retry_after)
    assert waits == [20.0, 6.0, None]


@pytest.mark.parametrize(("status", "retryable"), [(502, True), (400, False)])
def test_non_json_error_body(fake: FakeGraph, client: GraphClient, status: int, retryable: bool) -> None:
    fake.reply(status, b"<html><body>Bad Gateway</body></html>", headers={"Content-Type": "text/html"})
    with pytest.raises(GraphError) as caught:
        client.templates("102290129340398")
    err = caught.value
    assert (err.http_status, err.code, err.retryable) == (status, None, retryable)
    assert "Bad Gateway" in err.message


def test_error_with_odd_shapes(fake: FakeGraph, client: GraphClient) -> None:
    fake.reply(400, {"error": {"code": "131047", "error_data": "details as a string"}})
    fake.reply(400, {"error": "just a string"})
    fake.reply(400, [1, 2])
    errors = []
    for _ in range(3):
        with pytest.raises(GraphError) as caught:
            client.mark_read(PNID, WAMID)
        errors.append(caught.value)
    assert (errors[0].code, errors[0].details, errors[0].retryable) == (131047, "details as a string", False)
    assert errors[1].code is None and errors[2].code is None


def test_success_that_is_not_json_or_has_no_id(fake: FakeGraph, client: GraphClient) -> None:
    fake.reply(200, b"OK", headers={"Content-Type": "text/plain"})
    fake.reply(200, {"messages": []})
    for _ in range(2):
        with pytest.raises(GraphError) as caught:
            client.send(PNID, text_body("+16505551234", "hi"))
        assert not caught.value.retryable  # it may have been accepted: do not send twice blindly


def test_timeout_is_retryable(fake: FakeGraph) -> None:
    fake.reply(body=ACCEPTED, delay=1.0)
    with GraphClient(fake.url, TOKEN, timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(GraphError) as caught:
            client.send(PNID, text_body("+16505551234", "hi"))
    assert time.monotonic() - started < 0.9
    err = caught.value
    assert (err.code, err.http_status, err.retryable) == (None, None, True)
    assert "timed out" in str(err)


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    with GraphClient(f"http://127.0.0.1:{port}", TOKEN, timeout=2.0) as client:
        with pytest.raises(GraphError) as caught:
            client.media_info("1")
        with pytest.raises(GraphError) as caught_download:
            client.download(f"http://127.0.0.1:{port}/file", max_bytes=10)
    for err in (caught.value, caught_download.value):
        assert (err.code, err.http_status, err.retryable) == (None, None, True)
        assert "connection failed" in str(err)


def test_classify_is_pure() -> None:
    assert classify(200, None) == (False, None, None)
    assert classify(None, None) == (False, None, None)
    assert classify(400, 131056, 3.0) == (True, 6.0, None)
    assert classify(503, None, 30.0) == (True, 30.0, None)


def test_client_needs_a_token() -> None:
    with pytest.raises(ValueError, match="token"):
        GraphClient("http://127.0.0.1:1", "")
