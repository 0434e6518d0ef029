"""A running onfile (``onfile serve`` in a subprocess, its worker included) wired to the WhatsApp
simulator in the test process, both on loopback: what a user gets from the README."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import Cli

from onfile.simulator import Simulator, parse_number

SECRET, VERIFY, TOKEN = "e2e-app-secret", "e2e-verify-token", "e2e-access-token"
PNID, NUMBER = "106540352242922", "+15550783881"
CLIENT = "+447700900123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Live:
    cli: Cli
    sim: Simulator
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "onfile.cli", "serve", "--port", str(self.port), "--workers", "1"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self._healthy, 60, "onfile serve to answer")

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)  # the web server and its worker child, like a power cut
            self.proc.wait(timeout=30)
        self.proc = None


def live_onfile(cli: Cli, tmp_path: Path, **sim_options: Any) -> Iterator[Live]:
    port = free_port()
    clock = tmp_path / "clock"
    sim = Simulator(port=0, webhook_url=f"http://127.0.0.1:{port}/webhooks/whatsapp", app_secret=SECRET,
                    verify_token=VERIFY, access_token=TOKEN, numbers=[parse_number(f"{PNID}:{NUMBER[1:]}:Example Law")],
                    clock_file=str(clock), status_delay_ms=50, retry_initial_seconds=0.1, retry_max_seconds=1.0,
                    **sim_options).start()
    env = {**cli.env, "ONFILE_WHATSAPP_GRAPH_URL": sim.url, "ONFILE_WHATSAPP_APP_SECRET": SECRET,
           "ONFILE_WHATSAPP_VERIFY_TOKEN": VERIFY, "ONFILE_WHATSAPP_ACCESS_TOKEN": TOKEN,
           "ONFILE_WHATSAPP_WABA_ID": "102290129340398", "ONFILE_WHATSAPP_NUMBERS": f"{PNID}:{NUMBER}:Example Law",
           "ONFILE_CLOCK_OFFSET_FILE": str(clock)}
    cli.env = env
    cli.init()
    live = Live(cli, sim, port, env)
    live.start()
    try:
        yield live
    finally:
        live.kill(signal.SIGTERM)
        sim.stop()
