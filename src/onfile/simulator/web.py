"""Plain request and response values shared by the HTTP handlers.

Design: handlers are functions from ``Request`` to ``Response`` so they can be called
without a socket; ``server.py`` does the socket work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from onfile.simulator.payloads import SpecError


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON; an empty body is ``{}``. Raises ``SpecError`` when it is not JSON."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise SpecError(f"body is not JSON: {exc}") from None

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return self.query.get("access_token")


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def json_response(doc: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(doc, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")
