"""The GET verification handshake Meta performs when a callback URL is saved (whatsapp.md A1).

Design: ``Verifier.start()`` runs the handshake in a background thread so the simulator
starts even when onfile is not up yet: a connection error or a 5xx is retried with
backoff (0.5 s doubling to 30 s) until an answer comes or the simulator stops. A 2xx or
4xx is final. The result records whether the body echoed the challenge exactly. It does
not gate webhook delivery; it is there to be read (``GET /_sim/api/deliveries``).
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

import httpx

from onfile.simulator.config import SimConfig
from onfile.simulator.delivery import tls_context


class Verifier:
    def __init__(self, cfg: SimConfig) -> None:
        self._cfg = cfg
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._result: dict[str, Any] = {"state": "not-run", "attempts": 0}

    def result(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._result)

    def start(self) -> None:
        if not self._cfg.webhook_url:
            self._set(state="skipped", error="no webhook url")
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sim-verify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._cfg.webhook_timeout_seconds + 2)

    def run_once(self) -> dict[str, Any]:
        """One handshake attempt; returns (and records) its result."""
        challenge = secrets.token_hex(8)
        params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": self._cfg.verify_token}
        start = time.monotonic()
        with self._lock:
            attempts = int(self._result.get("attempts", 0)) + 1
        try:
            r = httpx.get(self._cfg.webhook_url, params=params, timeout=self._cfg.webhook_timeout_seconds,
                          verify=tls_context())
        except httpx.HTTPError as exc:
            return self._set(state="unreachable", attempts=attempts, status=None, echoed=False,
                             error=f"{type(exc).__name__}: {exc}")
        echoed = r.status_code == 200 and r.text == challenge
        state = "verified" if echoed else ("retrying" if r.status_code >= 500 else "rejected")
        return self._set(state=state, attempts=attempts, status=r.status_code, echoed=echoed, error=None,
                         latency_ms=round((time.monotonic() - start) * 1000, 1))

    def _loop(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            result = self.run_once()
            if result["state"] in ("verified", "rejected"):
                return
            self._stop.wait(delay)
            delay = min(delay * 2, 30.0)

    def _set(self, **values: Any) -> dict[str, Any]:
        with self._lock:
            self._result.update(values, at=time.time())
            return dict(self._result)
