"""``Simulator``: the whole thing in-process, for the command line and for tests.

Design: ``Simulator(config, **overrides)`` builds a ``SimCore``; ``start()`` binds the HTTP
server (port 0 picks a free port), serves it on a daemon thread, and starts delivery,
the handshake and autosave; ``stop()`` undoes all of it and persists the state. The
convenience methods are thin wrappers over the same core actions the JSON API uses, so
a Python test and an HTTP client see the same behaviour.
"""

from __future__ import annotations

import dataclasses
import threading
from types import TracebackType
from typing import Any

from onfile.simulator.config import SimConfig
from onfile.simulator.core import SimCore
from onfile.simulator.server import SimHTTPServer


class Simulator:
    def __init__(self, config: SimConfig | None = None, **overrides: Any) -> None:
        self.config = dataclasses.replace(config or SimConfig(), **overrides)
        self.config.validate()
        self.core: SimCore | None = None
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> Simulator:
        if self._server is not None:
            return self
        self._server = SimHTTPServer((self.config.host, self.config.port), SimCore(self.config))
        self.core = self._server.core
        self.config.port = self._server.server_address[1]
        self.core.base_url = self.config.public_url or self.url
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sim-http", daemon=True)
        self._thread.start()
        self.core.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        assert self.core is not None
        self.core.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self.core.stop()
        self._server = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://host:port`` — onfile's ``ONFILE_WHATSAPP_GRAPH_URL`` when pointed at the simulator."""
        host = self.config.host if self.config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"  # noqa: S104
        return f"http://{host}:{self.config.port}"

    @property
    def graph_url(self) -> str:
        return f"{self.url}/{self.config.api_version}"

    # -- conveniences (same as the JSON API) -----------------------------------------------------------------
    def _core(self) -> SimCore:
        if self.core is None:
            raise RuntimeError("simulator not started")
        return self.core

    def inbound(self, **spec: Any) -> str:
        """The client sends something (``/_sim/api/inbound`` spec); returns the wamid."""
        return str(self._core().inbound(spec)["id"])

    def echo(self, **spec: Any) -> str:
        return str(self._core().echo(spec)["id"])

    def history(self, **spec: Any) -> dict[str, Any]:
        return self._core().history(spec)

    def flush(self, timeout: float = 10.0) -> bool:
        return self._core().deliverer.flush(timeout)

    def advance_clock(self, seconds: float) -> float:
        return self._core().clock.advance(seconds)

    def outbox(self) -> list[dict[str, Any]]:
        core = self._core()
        with core.state.lock:
            return [dict(e, statuses=list(e["statuses"])) for e in core.state.outbox]

    def conversation(self, who: str, number: str | None = None, seen: bool = False) -> dict[str, Any]:
        return self._core().conversation(who, number, seen)

    def deliveries(self, with_body: bool = False) -> list[dict[str, Any]]:
        return self._core().deliverer.snapshot(with_body)

    def set_faults(self, **counts: int) -> dict[str, int]:
        return self._core().faults.set(dict(counts))

    def set_webhook_url(self, url: str, verify: bool = True) -> dict[str, Any] | None:
        core = self._core()
        core.cfg.webhook_url = url
        return core.verifier.run_once() if verify and url else None
