"""The client's phone page, the automation JSON API, the clock, persistence and the command line."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from onfile.simulator import SimConfig, Simulator
from onfile.simulator.__main__ import main
from onfile.simulator.config import build_parser, config_from_args

ALICE = "+447700900123"
PNID = "106540352242922"
Receiver = Any


def test_the_phone_page_renders_an_accessible_form(api: httpx.Client) -> None:
    r = api.get("/", params={"as": ALICE})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="en">' in html
    assert '<form id="composer">' in html and '<label for="text">' in html and '<label for="file">' in html
    assert 'aria-live="polite"' in html and ">Send</button>" in html
    assert "http://" not in html.replace("http://…", "") and "https://" not in html  # no external assets


def test_the_page_api_sends_as_the_client_and_shows_the_conversation(sim: Simulator, api: httpx.Client,
                                                                     receiver: Receiver) -> None:
    people = api.get("/_sim/api/personas").json()
    assert {"key": "447700900123", "name": "Alice Example", "phone": ALICE, "wa_id": "447700900123",
            "user_id": None} in people["personas"]
    assert people["numbers"][0]["phone_number_id"] == PNID
    added = api.post("/_sim/api/personas", json={"phone": "+447700900456", "name": "Bob Example"}).json()
    assert added["persona"]["wa_id"] == "447700900456"
    pdf = base64.b64encode(b"%PDF-1.4 contract").decode()
    r = api.post("/_sim/api/inbound", json={"from": "+447700900456", "type": "document", "data_b64": pdf,
                                            "mime_type": "application/pdf", "filename": "contract.pdf",
                                            "caption": "signed", "to_number": PNID})
    assert r.status_code == 200, r.text
    wamid = r.json()["id"]
    assert api.post("/_sim/api/flush", json={"timeout": 5}).json() == {"ok": True, "pending": 0}
    doc = receiver.items("messages")[-1]
    assert doc["id"] == wamid and doc["document"]["filename"] == "contract.pdf"
    assert receiver.values("messages")[-1]["contacts"][0]["profile"]["name"] == "Bob Example"
    view = api.get("/_sim/api/conversation", params={"as": "+447700900456"}).json()
    assert view["persona"]["name"] == "Bob Example" and view["window_open"] is True
    [shown] = view["messages"]
    assert shown["status"] == "delivered" and shown["media_url"] == f"/_sim/media/{r.json()['media_id']}"
    media = api.get(shown["media_url"])
    assert media.content == b"%PDF-1.4 contract" and media.headers["content-type"] == "application/pdf"
    # "+" in a hand-typed query string arrives as a space
    assert api.get("/_sim/api/conversation?as=+447700900456").status_code == 200


def test_the_automation_api_rejects_bad_specs_clearly(api: httpx.Client) -> None:
    r = api.post("/_sim/api/inbound", json={"type": "text", "text": "who am I"})
    assert r.status_code == 400 and "from" in r.json()["error"]
    r = api.post("/_sim/api/inbound", json={"from": ALICE, "type": "hologram"})
    assert r.status_code == 400
    r = api.post("/_sim/api/inbound", json={"from": ALICE, "type": "text", "text": "x", "to_number": "1"})
    assert r.status_code == 400 and "unknown firm number" in r.json()["error"]
    assert api.get("/_sim/api/conversation", params={"as": "+10000000000"}).status_code == 404
    assert api.post("/_sim/faults", json={"graph_999": 1}).status_code == 400
    assert api.get("/_sim/api/nothing").status_code == 404


def test_bulk_inbound_and_the_delivery_log(api: httpx.Client, receiver: Receiver) -> None:
    specs = [{"from": ALICE, "type": "text", "text": f"n{i}"} for i in range(3)]
    ids = api.post("/_sim/api/inbound", json=specs).json()["ids"]
    assert len(set(ids)) == 3
    api.post("/_sim/api/flush", json={"timeout": 5})
    log = api.get("/_sim/api/deliveries", params={"bodies": "1"}).json()
    assert log["pending"] == 0 and len(log["deliveries"]) == 3
    first = log["deliveries"][0]
    assert first["state"] == "delivered" and first["attempts"][0]["status"] == 200
    assert first["attempts"][0]["latency_ms"] >= 0 and json.loads(first["body"])["object"]
    assert log["verification"]["state"] in ("verified", "retrying", "unreachable", "not-run")


def test_the_outbox_lists_what_onfile_sent(sim: Simulator, api: httpx.Client, http: httpx.Client) -> None:
    sim.inbound(**{"from": ALICE, "type": "text", "text": "hi"})
    body = {"messaging_product": "whatsapp", "to": ALICE, "type": "text", "text": {"body": "hello"}}
    r = http.post(f"{sim.graph_url}/{PNID}/messages", json=body,
                   headers={"Authorization": "Bearer test-access-token", "Idempotency-Key": "o-9"})
    sim.flush()
    [entry] = api.get("/_sim/api/outbox").json()["messages"]
    assert entry["wamid"] == r.json()["messages"][0]["id"] and entry["body"] == body
    assert entry["idempotency_key"] == "o-9" and entry["window_open"] is True
    assert [s["status"] for s in entry["statuses"]] == ["sent", "delivered"]


def test_the_clock_can_be_advanced_and_is_shared_through_a_file(make_sim: Any, tmp_path: Path,
                                                                 http: httpx.Client) -> None:
    clock_file = tmp_path / "clock"
    sim = make_sim(clock_file=str(clock_file))
    before = http.get(f"{sim.url}/_sim/clock").json()
    after = http.post(f"{sim.url}/_sim/clock", json={"advance_seconds": 90000}).json()
    assert after["offset_seconds"] == 90000 and after["now"] - before["now"] >= 89999
    assert clock_file.read_text().strip() == "90000"
    clock_file.write_text("60\n")  # someone else moved it
    assert http.get(f"{sim.url}/_sim/clock").json()["offset_seconds"] == 60
    assert http.post(f"{sim.url}/_sim/clock", json={"tomorrow": True}).status_code == 400


def test_state_survives_a_restart(make_sim: Any, tmp_path: Path, http: httpx.Client) -> None:
    state = tmp_path / "state"
    sim = make_sim(state_dir=str(state))
    wamid = sim.inbound(**{"from": ALICE, "type": "image"})
    r = http.post(f"{sim.graph_url}/{PNID}/messages", headers={"Authorization": "Bearer test-access-token",
                                                                "Idempotency-Key": "keep-me"},
                   json={"messaging_product": "whatsapp", "to": ALICE, "type": "text", "text": {"body": "hello"}})
    sim.flush()
    sim.stop()
    again = make_sim(state_dir=str(state))
    messages = again.conversation(ALICE)["messages"]
    assert [m["id"] for m in messages] == [wamid, r.json()["messages"][0]["id"]]
    assert again.conversation(ALICE)["window_open"] is True
    media_id = messages[0]["content"]["id"]
    assert http.get(f"{again.url}/_sim/media/{media_id}").status_code == 200
    replay = http.post(f"{again.graph_url}/{PNID}/messages", headers={"Authorization": "Bearer test-access-token",
                                                                       "Idempotency-Key": "keep-me"},
                        json={"messaging_product": "whatsapp", "to": ALICE, "type": "text", "text": {"body": "x"}})
    assert replay.json() == r.json()


def test_undelivered_webhooks_are_kept_across_a_restart(make_sim: Any, receiver: Receiver, tmp_path: Path) -> None:
    state = tmp_path / "state"
    sim = make_sim(state_dir=str(state), webhook_url="http://127.0.0.1:9/nowhere")
    sim.inbound(**{"from": ALICE, "type": "text", "text": "while onfile was down"})
    assert not sim.flush(0.3)
    sim.stop()
    again = make_sim(state_dir=str(state))
    assert again.flush()
    assert receiver.items("messages")[-1]["text"]["body"] == "while onfile was down"


def test_echo_and_history_endpoints(api: httpx.Client, receiver: Receiver) -> None:
    r = api.post("/_sim/api/echo", json={"to": ALICE, "type": "text", "text": "from my phone"})
    assert r.status_code == 200 and r.json()["message"]["from"] == "442079460000"
    r = api.post("/_sim/api/history", json={"declined": True})
    assert r.json()["history"]["errors"][0]["code"] == 2593109
    r = api.post("/_sim/api/errors", json={"code": 131000, "details": "Unsupported webhook payload"})
    assert r.json()["error"]["code"] == 131000
    r = api.post("/_sim/api/state-sync", json={"phone_number": ALICE, "full_name": "Alice Example"})
    assert r.json()["state_sync"]["contact"] == {"full_name": "Alice Example", "first_name": "Alice",
                                                  "phone_number": "447700900123"}
    api.post("/_sim/api/flush", json={"timeout": 5})
    fields = [c["field"] for p in receiver.accepted() for c in p.json()["entry"][0]["changes"]]
    assert fields == ["smb_message_echoes", "history", "messages", "smb_app_state_sync"]
    assert receiver.values("messages")[-1]["errors"][0]["code"] == 131000


def test_the_command_line_parses_into_a_config() -> None:
    args = build_parser().parse_args([
        "--port", "0", "--number", "111:+15550783881:Firm", "--number", "222:15550783882", "--batch-max", "10",
        "--duplicate-rate", "0.1", "--reorder-statuses", "--no-retry", "--seed", "3", "--window-error", "sync"])
    cfg = config_from_args(args)
    assert isinstance(cfg, SimConfig)
    assert [(n.phone_number_id, n.display_phone_number, n.name) for n in cfg.numbers] == [
        ("111", "15550783881", "Firm"), ("222", "15550783882", "")]
    assert cfg.batch_max == 10 and cfg.reorder_statuses and not cfg.retry and cfg.window_error == "sync"
    with pytest.raises(SystemExit):
        main(["--number", "not-a-number"])


def test_it_runs_as_a_module() -> None:
    out = subprocess.run([sys.executable, "-m", "onfile.simulator", "--help"], capture_output=True, text=True,
                         timeout=30, check=True)
    assert "--webhook-url" in out.stdout and "--clock-file" in out.stdout
