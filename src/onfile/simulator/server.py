"""The HTTP side: a stdlib ThreadingHTTPServer and a router.

Design: the handler reads the request into a small ``Request`` value (method, path,
query, lower-cased headers, body bytes, chunked bodies included), hands it to
``dispatch``, and writes the ``Response`` it gets back. Routes:

    /                      the client's phone page            (phone.py)
    /_sim/...              automation API and page JSON       (api.py)
    /v<N>.<M>/...          the Graph API                      (graph.py)
    /media-download/<id>   signed media URLs (like lookaside)  (graph.py)

Handlers raise ``GraphError`` (Graph-shaped error) or ``SpecError`` (simulator API
error, ``{"error": "..."}``, 400 or 404); anything else is a 500 and is logged. A
response may carry a ``delay`` (fault injection: a hanging Graph call), waited out on the
core's stop event so ``stop()`` never hangs. HTTP/1.1 keep-alive is on; the server does
not wait for handler threads when it closes.
"""

from __future__ import annotations

import logging
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from onfile.simulator import api, graph, phone
from onfile.simulator.core import NotFound, SimCore
from onfile.simulator.errors import GraphError
from onfile.simulator.payloads import SpecError
from onfile.simulator.web import Request, Response, json_response

log = logging.getLogger("onfile.simulator")
GRAPH_PATH = re.compile(r"^/v\d+\.\d+/")
MAX_BODY = 110 * 1024 * 1024


def dispatch(core: SimCore, req: Request) -> Response:
    try:
        return _route(core, req)
    except GraphError as err:
        return json_response(err.body(), err.status)
    except NotFound as err:
        return json_response({"error": str(err)}, 404)
    except SpecError as err:
        return json_response({"error": str(err)}, 400)
    except Exception:
        log.exception("simulator error on %s %s", req.method, req.path)
        return json_response({"error": "internal simulator error (see its log)"}, 500)


def _route(core: SimCore, req: Request) -> Response:
    path = req.path
    if path == "/" and req.method == "GET":
        return Response(200, phone.page().encode("utf-8"), "text/html; charset=utf-8")
    if path.startswith("/_sim/"):
        return api.handle(core, req)
    if path.startswith("/media-download/"):
        return graph.download(core, req)
    if GRAPH_PATH.match(path):
        return graph.handle(core, req)
    if path == "/favicon.ico":
        return Response(204, b"", "image/x-icon")
    raise NotFound(f"no route for {req.method} {path}")


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], core: SimCore) -> None:
        self.core = core
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "onfile-simulator"
    timeout = 120
    server: SimHTTPServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _handle(self) -> None:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = self._read_body(headers)
        except ValueError as exc:
            self._write(json_response({"error": str(exc)}, 413))
            return
        response = dispatch(self.server.core, Request(self.command, split.path, query, headers, body))
        if response.delay and self.server.core.stopping.wait(response.delay):
            return
        self._write(response)

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            raise ValueError(f"body larger than {MAX_BODY} bytes")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline()
            if len(out) > MAX_BODY:
                self.close_connection = True
                raise ValueError(f"body larger than {MAX_BODY} bytes")

    def _write(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
