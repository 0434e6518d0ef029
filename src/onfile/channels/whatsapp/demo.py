"""Demo mode: onfile with the local WhatsApp simulator instead of Meta.

Chosen by ``onfile serve --demo``, or automatically when no WhatsApp access token is
configured. The simulator's secrets are generated once and kept in the data directory,
so a restart keeps working with the same simulated account; the environment is set before
Django reads its settings, so the web server, the worker and the simulator agree.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

DEMO_NUMBER_ID = "106540352242922"
DEMO_NUMBER = "+15550783881"
DEMO_NAME = "onfile demo firm"
DEMO_WABA = "102290129340398"


def wanted(args: list[str]) -> bool:
    if "--demo" in args:
        return True
    return not (os.environ.get("ONFILE_WHATSAPP_ACCESS_TOKEN") or os.environ.get("ONFILE_WHATSAPP_ACCESS_TOKEN_FILE"))


def _secrets(data_dir: Path) -> dict[str, str]:
    path = data_dir / "keys" / "simulator.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    values = {name: secrets.token_urlsafe(24) for name in ("app_secret", "verify_token", "access_token")}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    return values


def environment(data_dir: Path, sim_port: int) -> dict[str, str]:
    s = _secrets(data_dir)
    return {
        "ONFILE_WHATSAPP_GRAPH_URL": f"http://127.0.0.1:{sim_port}",
        "ONFILE_WHATSAPP_APP_SECRET": s["app_secret"],
        "ONFILE_WHATSAPP_VERIFY_TOKEN": s["verify_token"],
        "ONFILE_WHATSAPP_ACCESS_TOKEN": s["access_token"],
        "ONFILE_WHATSAPP_WABA_ID": DEMO_WABA,
        "ONFILE_WHATSAPP_NUMBERS": f"{DEMO_NUMBER_ID}:{DEMO_NUMBER}:{DEMO_NAME}",
        "ONFILE_CLOCK_OFFSET_FILE": str(data_dir / "simulator-clock"),
    }


def simulator_argv(env: dict[str, str], sim_port: int, webhook_url: str, data_dir: Path) -> list[str]:
    # "--name=value": a generated secret may begin with "-" (token_urlsafe), which argparse would
    # otherwise take for an option and refuse ("expected one argument") — the simulator would not start.
    return [sys.executable, "-m", "onfile.simulator", "--host", "127.0.0.1", "--port", str(sim_port),
            f"--webhook-url={webhook_url}", f"--app-secret={env['ONFILE_WHATSAPP_APP_SECRET']}",
            f"--verify-token={env['ONFILE_WHATSAPP_VERIFY_TOKEN']}",
            f"--access-token={env['ONFILE_WHATSAPP_ACCESS_TOKEN']}",
            "--number", f"{DEMO_NUMBER_ID}:{DEMO_NUMBER.lstrip('+')}:{DEMO_NAME}", "--waba-id", DEMO_WABA,
            "--state-dir", str(data_dir / "simulator"), "--clock-file", env["ONFILE_CLOCK_OFFSET_FILE"]]
