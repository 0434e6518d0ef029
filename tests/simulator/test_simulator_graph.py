"""The Graph API stand-in: auth, media, sends, statuses, read receipts, window, templates, faults."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import httpx

from onfile.simulator import Simulator

ALICE = "+447700900123"
PNID = "106540352242922"
TOKEN = "test-access-token"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
Receiver = Any


def _text(to: str = ALICE, body: str = "Thanks, we have it.", **extra: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}, **extra}


def _error(r: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = r.json()["error"]
    assert error["type"] == "OAuthException"
    assert error["error_data"]["messaging_product"] == "whatsapp" and error["error_data"]["details"]
    assert error["fbtrace_id"] and error["message"]
    return error


def test_a_missing_or_wrong_bearer_token_is_401_code_190(sim: Simulator, http: httpx.Client) -> None:
    r = http.post(f"{sim.graph_url}/{PNID}/messages", json=_text())
    assert r.status_code == 401 and _error(r)["code"] == 190
    r = http.get(f"{sim.graph_url}/{PNID}", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and _error(r)["code"] == 190


def test_an_unknown_phone_number_id_is_error_100(graph: httpx.Client) -> None:
    r = graph.post("/999/messages", json=_text())
    assert r.status_code == 400
    error = _error(r)
    assert error["code"] == 100 and error["error_subcode"] == 33


def test_inbound_image_can_be_fetched_through_the_media_endpoints(sim: Simulator, graph: httpx.Client,
                                                                   http: httpx.Client, receiver: Receiver) -> None:
    data = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
    sim.inbound(**{"from": ALICE, "type": "image", "data_b64": base64.b64encode(data).decode(),
                   "mime_type": "image/jpeg", "caption": "Signed copy"})
    assert sim.flush()
    image = receiver.items("messages")[-1]["image"]
    assert image["caption"] == "Signed copy" and image["mime_type"] == "image/jpeg"
    assert image["sha256"] == hashlib.sha256(data).hexdigest()
    meta = graph.get(f"/{image['id']}").json()
    assert meta == {"messaging_product": "whatsapp", "url": meta["url"], "mime_type": "image/jpeg",
                    "sha256": hashlib.sha256(data).hexdigest(), "file_size": len(data), "id": image["id"]}
    assert meta["url"].startswith(f"{sim.url}/media-download/{image['id']}?exp=")
    assert http.get(meta["url"]).status_code == 401
    download = http.get(meta["url"], headers={"Authorization": f"Bearer {TOKEN}"})
    assert download.status_code == 200 and download.content == data
    assert hashlib.sha256(download.content).hexdigest() == meta["sha256"]
    sim.advance_clock(301)
    assert http.get(meta["url"], headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    assert graph.get("/123456789").status_code == 400 and _error(graph.get("/123456789"))["code"] == 100


def test_upload_then_send_a_document_by_id_gets_sent_and_delivered(sim: Simulator, graph: httpx.Client,
                                                                    receiver: Receiver) -> None:
    sim.inbound(**{"from": ALICE, "type": "text", "text": "Please send the letter"})
    up = graph.post(f"/{PNID}/media", data={"messaging_product": "whatsapp", "type": "application/pdf"},
                    files={"file": ("letter.pdf", PDF, "application/pdf")})
    assert up.status_code == 200, up.text
    media_id = up.json()["id"]
    assert media_id.isdigit()
    body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": ALICE, "type": "document",
            "document": {"id": media_id, "filename": "letter.pdf", "caption": "Engagement letter"},
            "biz_opaque_callback_data": "case-4471"}
    r = graph.post(f"/{PNID}/messages", json=body)
    assert r.status_code == 200, r.text
    wamid = r.json()["messages"][0]["id"]
    assert r.json() == {"messaging_product": "whatsapp", "contacts": [{"input": ALICE, "wa_id": "447700900123"}],
                        "messages": [{"id": wamid}]}
    assert sim.flush()
    assert receiver.statuses(wamid) == ["sent", "delivered"]
    sent = next(s for s in receiver.items("statuses") if s["id"] == wamid and s["status"] == "sent")
    assert sent["recipient_id"] == "447700900123" and sent["biz_opaque_callback_data"] == "case-4471"
    assert sent["pricing"] == {"billable": False, "pricing_model": "PMP", "type": "free_customer_service",
                               "category": "service"}
    [entry] = sim.outbox()
    assert entry["body"] == body and [s["status"] for s in entry["statuses"]] == ["sent", "delivered"]
    shown = sim.conversation(ALICE)["messages"][-1]
    assert shown["status"] == "delivered" and shown["media_url"] == f"/_sim/media/{media_id}"


def test_uploads_are_checked_against_type_and_size(graph: httpx.Client) -> None:
    r = graph.post(f"/{PNID}/media", data={"messaging_product": "whatsapp", "type": "image/jpeg"},
                   files={"file": ("x.jpg", PDF, "image/jpeg")})
    assert r.status_code == 400 and _error(r)["code"] == 131053
    r = graph.post(f"/{PNID}/media", data={"messaging_product": "whatsapp", "type": "application/zip"},
                   files={"file": ("x.zip", b"PK\x03\x04", "application/zip")})
    assert _error(r)["code"] == 131053
    big = b"\x89PNG" + bytes(5 * 1024 * 1024)
    r = graph.post(f"/{PNID}/media", data={"messaging_product": "whatsapp", "type": "image/png"},
                   files={"file": ("x.png", big, "image/png")})
    assert _error(r)["code"] == 131053


def test_mark_as_read_turns_the_clients_ticks_blue(sim: Simulator, graph: httpx.Client) -> None:
    first = sim.inbound(**{"from": ALICE, "type": "text", "text": "one"})
    second = sim.inbound(**{"from": ALICE, "type": "text", "text": "two"})
    third = sim.inbound(**{"from": ALICE, "type": "text", "text": "three"})
    assert sim.flush()
    r = graph.post(f"/{PNID}/messages", json={"messaging_product": "whatsapp", "status": "read",
                                              "message_id": second, "typing_indicator": {"type": "text"}})
    assert r.status_code == 200 and r.json() == {"success": True}
    statuses = {m["id"]: m["status"] for m in sim.conversation(ALICE)["messages"]}
    assert statuses == {first: "read", second: "read", third: "delivered"}
    assert sim.conversation(ALICE)["typing"] is True
    r = graph.post(f"/{PNID}/messages", json={"messaging_product": "whatsapp", "status": "read",
                                              "message_id": "wamid.unknown"})
    assert _error(r)["code"] == 100


def test_the_client_reading_sends_a_read_status(sim: Simulator, graph: httpx.Client, api: httpx.Client,
                                                receiver: Receiver) -> None:
    sim.inbound(**{"from": ALICE, "type": "text", "text": "hello"})
    wamid = graph.post(f"/{PNID}/messages", json=_text()).json()["messages"][0]["id"]
    assert sim.flush()
    assert api.get("/_sim/api/conversation", params={"as": ALICE}).json()["messages"][-1]["status"] == "delivered"
    assert receiver.statuses(wamid) == ["sent", "delivered"]
    api.get("/_sim/api/conversation", params={"as": ALICE, "seen": "1"})
    assert sim.flush()
    assert receiver.statuses(wamid) == ["sent", "delivered", "read"]


def test_auto_read_reads_everything(make_sim: Any, receiver: Receiver, http: httpx.Client) -> None:
    sim = make_sim(auto_read=True)
    sim.inbound(**{"from": ALICE, "type": "text", "text": "hello"})
    r = http.post(f"{sim.graph_url}/{PNID}/messages", json=_text(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert sim.flush()
    assert receiver.statuses(r.json()["messages"][0]["id"]) == ["sent", "delivered", "read"]


def test_free_form_outside_the_window_fails_with_131047(sim: Simulator, graph: httpx.Client,
                                                         receiver: Receiver) -> None:
    never_wrote = graph.post(f"/{PNID}/messages", json=_text("+447700900555"))
    assert never_wrote.status_code == 200
    sim.inbound(**{"from": ALICE, "type": "text", "text": "hi"})
    sim.advance_clock(25 * 3600)
    late = graph.post(f"/{PNID}/messages", json=_text())
    assert late.status_code == 200
    assert sim.flush()
    for r in (never_wrote, late):
        wamid = r.json()["messages"][0]["id"]
        [failed] = [s for s in receiver.items("statuses") if s["id"] == wamid]
        assert failed["status"] == "failed"
        error = failed["errors"][0]
        assert error["code"] == 131047 and error["title"] == "Re-engagement message"
        assert error["error_data"]["details"] and error["href"]
    assert all(m["direction"] == "in" for m in sim.conversation(ALICE)["messages"])


def test_sync_window_errors_are_a_400(make_sim: Any, http: httpx.Client) -> None:
    sim = make_sim(window_error="sync")
    r = http.post(f"{sim.graph_url}/{PNID}/messages", json=_text(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 400 and _error(r)["code"] == 131047
    assert sim.outbox() == []


def test_templates_are_listed_and_can_be_sent_outside_the_window(sim: Simulator, graph: httpx.Client,
                                                                 receiver: Receiver) -> None:
    listing = graph.get("/102290129340398/message_templates").json()
    assert listing["paging"] == {}
    by_name = {(t["name"], t["language"]): t for t in listing["data"]}
    assert by_name[("hello_world", "en_US")]["status"] == "APPROVED"
    please = by_name[("please_reply", "en_GB")]
    assert "{{1}}" in next(c for c in please["components"] if c["type"] == "BODY")["text"]
    template = {"name": "please_reply", "language": {"code": "en_GB"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Alice"}]}]}
    body = {"messaging_product": "whatsapp", "to": ALICE, "type": "template", "template": template}
    r = graph.post(f"/{PNID}/messages", json=body)
    assert r.status_code == 200, r.text
    wamid = r.json()["messages"][0]["id"]
    assert sim.flush()
    assert receiver.statuses(wamid) == ["sent", "delivered"]
    sent = next(s for s in receiver.items("statuses") if s["id"] == wamid)
    assert sent["pricing"]["category"] == "utility" and sent["pricing"]["type"] == "regular"
    shown = sim.conversation(ALICE)["messages"][-1]
    assert shown["rendered"]["body"].startswith("Hello Alice, we have a message for you.")
    hello = graph.post(f"/{PNID}/messages", json={**body, "template": {"name": "hello_world",
                                                                        "language": {"code": "en_US"}}})
    assert hello.status_code == 200


def test_template_errors(graph: httpx.Client) -> None:
    base = {"messaging_product": "whatsapp", "to": ALICE, "type": "template"}
    r = graph.post(f"/{PNID}/messages", json={**base, "template": {"name": "nope", "language": {"code": "en_GB"}}})
    assert _error(r)["code"] == 132001
    r = graph.post(f"/{PNID}/messages", json={**base, "template": {"name": "please_reply",
                                                                   "language": {"code": "en_GB"}}})
    assert _error(r)["code"] == 132000


def test_an_idempotency_key_seen_twice_sends_once(sim: Simulator, graph: httpx.Client, receiver: Receiver) -> None:
    sim.inbound(**{"from": ALICE, "type": "text", "text": "hi"})
    first = graph.post(f"/{PNID}/messages", json=_text(), headers={"Idempotency-Key": "outbox-1"})
    again = graph.post(f"/{PNID}/messages", json=_text(), headers={"Idempotency-Key": "outbox-1"})
    other = graph.post(f"/{PNID}/messages", json=_text(), headers={"Idempotency-Key": "outbox-2"})
    assert first.json() == again.json()
    assert other.json()["messages"][0]["id"] != first.json()["messages"][0]["id"]
    assert sim.flush()
    assert receiver.statuses(first.json()["messages"][0]["id"]) == ["sent", "delivered"]
    outbox = sim.outbox()
    assert [e["idempotency_key"] for e in outbox] == ["outbox-1", "outbox-2"]
    assert outbox[0]["replays"] == 1


def test_faults_answer_500_and_429_then_recover(sim: Simulator, graph: httpx.Client, api: httpx.Client) -> None:
    assert api.post("/_sim/faults", json={"graph_500": 1, "graph_429": 1}).json()["graph_500"] == 1
    sim.inbound(**{"from": ALICE, "type": "text", "text": "hi"})
    r = graph.post(f"/{PNID}/messages", json=_text())
    assert r.status_code == 500 and _error(r)["code"] == 1
    r = graph.post(f"/{PNID}/messages", json=_text())
    assert r.status_code == 429 and _error(r)["code"] == 130429
    assert graph.post(f"/{PNID}/messages", json=_text()).status_code == 200
    assert api.get("/_sim/faults").json() == {"graph_500": 0, "graph_429": 0, "graph_timeout": 0, "webhook_drop": 0}


def test_a_timed_out_call_was_still_accepted(make_sim: Any, http: httpx.Client) -> None:
    sim = make_sim(graph_timeout_seconds=1.0)
    sim.inbound(**{"from": ALICE, "type": "text", "text": "hi"})
    sim.set_faults(graph_timeout=1)
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "k-1"}
    start = time.monotonic()
    try:
        http.post(f"{sim.graph_url}/{PNID}/messages", json=_text(), headers=headers, timeout=0.3)
        raise AssertionError("expected a timeout")
    except httpx.TimeoutException:
        pass
    retry = http.post(f"{sim.graph_url}/{PNID}/messages", json=_text(), headers=headers)
    assert time.monotonic() - start < 1.0
    assert retry.status_code == 200
    assert [e["wamid"] for e in sim.outbox()] == [retry.json()["messages"][0]["id"]]


def test_sends_are_validated(sim: Simulator, graph: httpx.Client) -> None:
    sim.inbound(**{"from": ALICE, "type": "text", "text": "hi"})
    cases = [
        ({"to": ALICE, "type": "text", "text": {"body": "x"}}, 100),  # no messaging_product
        (_text(to="447700900123"), 100),  # no "+"
        ({"messaging_product": "whatsapp", "to": ALICE, "type": "text", "text": {}}, 131008),
        ({"messaging_product": "whatsapp", "to": ALICE, "type": "image", "image": {"id": "42"}}, 100),
        ({"messaging_product": "whatsapp", "to": ALICE, "type": "carousel", "carousel": {}}, 100),
        ({"messaging_product": "whatsapp", "to": ALICE, "type": "location", "location": {"latitude": 1}}, 131008),
    ]
    for body, code in cases:
        r = graph.post(f"/{PNID}/messages", json=body)
        assert r.status_code == 400 and _error(r)["code"] == code, (body, r.text)
    good = [
        {"type": "image", "image": {"link": "https://example.org/a.jpg", "caption": "c"}},
        {"type": "location", "location": {"latitude": 51.5, "longitude": -0.1, "name": "Office"}},
        {"type": "contacts", "contacts": [{"name": {"formatted_name": "Bob"}}]},
        {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Pick"}, "action": {
            "buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]}}},
        {"type": "text", "text": {"body": "quoted"}, "context": {"message_id": "wamid.X"}},
    ]
    for extra in good:
        r = graph.post(f"/{PNID}/messages", json={"messaging_product": "whatsapp", "to": ALICE, **extra})
        assert r.status_code == 200, r.text


def test_a_reaction_gets_only_a_sent_status(sim: Simulator, graph: httpx.Client, receiver: Receiver) -> None:
    target = sim.inbound(**{"from": ALICE, "type": "text", "text": "hi"})
    r = graph.post(f"/{PNID}/messages", json={"messaging_product": "whatsapp", "to": ALICE, "type": "reaction",
                                              "reaction": {"message_id": target, "emoji": "👍"}})
    assert sim.flush()
    assert receiver.statuses(r.json()["messages"][0]["id"]) == ["sent"]
    assert sim.conversation(ALICE)["messages"][0]["reactions"] == {"firm": "👍"}


def test_a_bsuid_recipient_can_be_sent_to(sim: Simulator, graph: httpx.Client, receiver: Receiver) -> None:
    bsuid = "US.13491208655302741918"
    sim.inbound(user_id=bsuid, name="Casey", type="text", text="hi")
    r = graph.post(f"/{PNID}/messages", json={"messaging_product": "whatsapp", "recipient": bsuid, "type": "text",
                                              "text": {"body": "hello Casey"}})
    assert r.status_code == 200, r.text
    assert r.json()["contacts"] == [{"input": bsuid, "user_id": bsuid}]
    assert sim.flush()
    status = next(s for s in receiver.items("statuses") if s["id"] == r.json()["messages"][0]["id"])
    assert status["recipient_user_id"] == bsuid and "recipient_id" not in status
