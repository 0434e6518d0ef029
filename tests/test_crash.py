"""Kill onfile with SIGKILL, repeatedly, while the simulator delivers webhooks and the worker
sends replies; after the last restart every acknowledged wamid is in the archive exactly
once, every queued reply was sent exactly once, and ``onfile verify`` passes (issue 4)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import Cli
from tests.e2e import CLIENT, Live, live_onfile, wait_for

from onfile.outbox import queue

pytestmark = pytest.mark.cli
MESSAGES = 240
KILLS = 3


@pytest.fixture
def live(cli: Cli, tmp_path: Path) -> Iterator[Live]:
    yield from live_onfile(cli, tmp_path, duplicate_rate=0.1, batch_max=4, batch_window_ms=20)


def _archive_ids(live: Live) -> list[str]:
    rows = json.loads(live.cli.run("conversations", "--json").stdout)
    ids: list[str] = []
    for row in rows:
        out = live.cli.run("export", "--conversation", str(row["id"]), "--format", "jsonl",
                           "--as", "admin@firm.example").stdout
        ids += [json.loads(line)["id"] for line in out.splitlines()]
    return ids


def test_nothing_acknowledged_is_lost_or_duplicated_across_kills(live: Live) -> None:
    sim = live.sim
    wamids: list[str] = []

    def client_writes() -> None:
        for n in range(MESSAGES):
            wamids.append(sim.inbound(**{"from": CLIENT, "name": "Alice", "type": "text", "text": f"message {n}"}))
            time.sleep(0.01)

    writer = threading.Thread(target=client_writes)
    writer.start()
    rng = random.Random(4)
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.5, 1.5))
        live.kill()  # SIGKILL to the server and its worker, mid-load
        time.sleep(0.3)
        live.start()
    writer.join()
    assert sim.flush(120), "the simulator could not deliver everything"
    expected = {f"wa:{w}" for w in wamids}
    ids = wait_for(lambda: (lambda got: got if set(got) >= expected else None)(_archive_ids(live)), 120,
                   "every acknowledged message in the archive")
    assert len(ids) == len(set(ids)) == MESSAGES  # exactly once
    assert live.cli.run("verify").returncode == 0


def test_a_reply_interrupted_by_a_kill_is_sent_exactly_once(live: Live) -> None:
    sim = live.sim
    sim.inbound(**{"from": CLIENT, "name": "Alice", "type": "text", "text": "please reply"})
    cid = wait_for(lambda: json.loads(live.cli.run("conversations", "--json").stdout), 30, "conversation")[0]["id"]
    # Queue replies from one process (faster than one CLI call each), then kill while they go out.
    script = ("import django; django.setup()\n"
              "from onfile.conversations.models import Conversation\n"
              "from onfile.channels.whatsapp.sending import Outgoing, do_send\n"
              f"c = Conversation.objects.get(pk={cid})\n"
              "for n in range(30):\n"
              "    do_send(c, Outgoing(text=f'reply {n}'), 'test')\n")
    subprocess.run([sys.executable, "-c", script], env={**live.env, "DJANGO_SETTINGS_MODULE": "onfile.settings"},
                   check=True, timeout=120)
    sim.set_faults(graph_timeout=1)  # one send is accepted by the API but its answer never arrives
    for delay in (0.2, 0.5, 0.3):
        time.sleep(delay)
        live.kill()
        live.start()
    # A reply claimed by a killed worker is claimed again when its lease runs out (45 s): move the
    # clock onfile and the simulator share past it rather than wait (the lease itself is real).
    Path(live.env["ONFILE_CLOCK_OFFSET_FILE"]).write_text(str(queue.LEASE.total_seconds() + 5), encoding="ascii")

    def all_sent() -> bool:
        texts = [m["body"].get("text", {}).get("body") for m in sim.outbox() if m["type"] == "text"]
        return len({t for t in texts if t and t.startswith("reply ")}) == 30

    wait_for(all_sent, 180, "every reply sent")
    sent = [m["body"]["text"]["body"] for m in sim.outbox() if m["type"] == "text"]
    assert sorted(sent) == sorted(f"reply {n}" for n in range(30))  # none twice
    keys = [m["idempotency_key"] for m in sim.outbox()]
    assert len(keys) == len(set(keys))
    assert live.cli.run("verify").returncode == 0
