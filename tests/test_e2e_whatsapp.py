"""Issue 4 end to end: the client writes (text, a photo, a PDF) on the simulator, the messages
and their media land in the archive; replies (text and a document) reach the client's phone
with ticks; past the 24-hour window a free-form send is refused and a template goes through."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Cli
from tests.e2e import CLIENT, Live, live_onfile, wait_for

pytestmark = pytest.mark.cli
PHOTO = b"\xff\xd8\xff\xe0" + b"photo of the signed page " * 40
PDF = b"%PDF-1.4\n" + b"signed contract " * 200 + b"\n%%EOF\n"


@pytest.fixture
def live(cli: Cli, tmp_path: Path) -> Iterator[Live]:
    yield from live_onfile(cli, tmp_path)


def conversation_id(live: Live) -> int:
    rows = json.loads(live.cli.run("conversations", "--json").stdout)
    return int(rows[0]["id"]) if rows else 0


def exported(live: Live, cid: int) -> list[dict[str, Any]]:
    out = live.cli.run("export", "--conversation", str(cid), "--format", "jsonl", "--as", "admin@firm.example").stdout
    return [json.loads(line) for line in out.splitlines()]


def test_the_client_writes_and_the_firm_answers(live: Live, tmp_path: Path) -> None:
    sim = live.sim
    sim.inbound(**{"from": CLIENT, "name": "Alice Example", "type": "text", "text": "Hello, is the contract ready?"})
    sim.inbound(**{"from": CLIENT, "name": "Alice Example", "type": "image", "mime_type": "image/jpeg",
                   "data_b64": base64.b64encode(PHOTO).decode(), "caption": "signed page"})
    sim.inbound(**{"from": CLIENT, "name": "Alice Example", "type": "document", "mime_type": "application/pdf",
                   "filename": "contract.pdf", "data_b64": base64.b64encode(PDF).decode()})
    assert sim.flush(20)
    cid = wait_for(lambda: conversation_id(live), 30, "the conversation")

    def media_fetched() -> list[dict[str, Any]] | None:
        records = exported(live, cid)
        done = [a for r in records for a in r["attachments"] if a["sha256"]]
        return records if len(records) == 3 and len(done) == 2 else None

    records = wait_for(media_fetched, 60, "the messages and their media")
    assert [r["type"] for r in records] == ["text", "image", "document"]
    assert records[0]["text"] == "Hello, is the contract ready?" and records[0]["direction"] == "in"
    assert records[1]["attachments"][0]["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert records[2]["attachments"][0]["filename"] == "contract.pdf"
    assert records[2]["attachments"][0]["sha256"] == hashlib.sha256(PDF).hexdigest()

    reply = tmp_path / "engagement-letter.pdf"
    reply.write_bytes(PDF.replace(b"signed", b"letter"))
    live.cli.run("send", "--conversation", str(cid), "--text", "Yes, attached is our letter.")
    live.cli.run("send", "--conversation", str(cid), "--file", str(reply), "--caption", "Engagement letter")

    def delivered() -> list[dict[str, Any]] | None:
        sent = sim.conversation(CLIENT, seen=True)["messages"]
        firm = [m for m in sent if m.get("direction") in ("out", "firm", "outbound") or m.get("from_firm")]
        return firm if len(firm) == 2 else None

    wait_for(delivered, 60, "both replies on the client's phone")
    outbox = sim.outbox()
    assert {m["type"] for m in outbox} == {"text", "document"}
    assert all(m["idempotency_key"] for m in outbox)

    def read_ticks() -> bool:
        sim.conversation(CLIENT, seen=True)  # the client has the chat open
        return all(any(s["status"] == "read" for s in m["statuses"]) for m in sim.outbox())

    assert wait_for(read_ticks, 30, "blue ticks")
    # The archive records the replies with their wamids and the statuses the phone reported.
    records = wait_for(lambda: (lambda r: r if len(r) == 5 and all(x["id"] for x in r) else None)(
        exported(live, cid)), 30, "replies in the archive")
    assert [r["direction"] for r in records][-2:] == ["out", "out"]

    # Past the 24-hour window (simulated clock): free-form refused, a template goes through.
    sim.advance_clock(25 * 3600)
    refused = live.cli.run("send", "--conversation", str(cid), "--text", "Are you there?", check=False)
    assert refused.returncode == 1 and "24-hour" in refused.stderr and "please_reply" in refused.stderr
    live.cli.run("send", "--conversation", str(cid), "--template", "please_reply", "--language", "en_GB",
                 "--param", "Alice")
    wait_for(lambda: any(m["type"] == "template" for m in sim.outbox()), 30, "the template")
    assert live.cli.run("verify").returncode == 0
    gaps = json.loads(live.cli.run("reconcile", "--json").stdout)
    assert gaps["media_not_fetched"]["count"] == 0 and gaps["statuses_without_message"]["count"] == 0
