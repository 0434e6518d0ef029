"""Webhooks from the simulator: handshake, shapes, signatures, batching, duplicates, order, retries."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from onfile.simulator import Simulator

ALICE = "+447700900123"
PNID = "106540352242922"
PNID_2 = "106540352242923"
Receiver = Any  # the conftest fixture's class


def test_it_performs_the_verification_handshake(sim: Simulator, receiver: Receiver) -> None:
    receiver.wait(lambda: sim.core is not None and sim.core.verifier.result()["state"] == "verified")
    query = receiver.gets[0]
    assert query["hub.mode"] == "subscribe"
    assert query["hub.verify_token"] == "test-verify-token"
    assert query["hub.challenge"]
    assert sim.core is not None and sim.core.verifier.result()["echoed"] is True


def test_a_rejected_handshake_is_recorded_not_fatal(make_sim: Any, receiver: Receiver) -> None:
    sim = make_sim(verify_token="wrong")
    receiver.wait(lambda: sim.core.verifier.result()["state"] == "rejected")
    assert sim.core.verifier.result()["status"] == 403
    assert sim.core.verifier.result()["echoed"] is False


def test_a_client_text_becomes_a_signed_documented_webhook(sim: Simulator, receiver: Receiver) -> None:
    wamid = sim.inbound(**{"from": ALICE, "name": "Alice Example", "type": "text", "text": "Hello, it's Alice"})
    assert sim.flush()
    post = receiver.accepted()[-1]
    assert post.valid
    assert post.headers["content-type"] == "application/json"
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", post.headers["x-hub-signature-256"])
    body = post.json()
    assert body["object"] == "whatsapp_business_account"
    entry = body["entry"][0]
    assert entry["id"] == "102290129340398"
    change = entry["changes"][0]
    assert change["field"] == "messages"
    value = change["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"] == {"display_phone_number": "442079460000", "phone_number_id": PNID}
    assert value["contacts"] == [{"profile": {"name": "Alice Example"}, "wa_id": "447700900123"}]
    [message] = value["messages"]
    assert message["from"] == "447700900123"
    assert message["id"] == wamid and wamid.startswith("wamid.")
    assert message["type"] == "text" and message["text"] == {"body": "Hello, it's Alice"}
    assert isinstance(message["timestamp"], str) and message["timestamp"].isdigit()
    assert abs(int(message["timestamp"]) - sim.core.clock.now_s()) < 5


def test_non_ascii_is_escaped_as_lowercase_unicode_escapes(sim: Simulator, receiver: Receiver) -> None:
    sim.inbound(**{"from": ALICE, "type": "text", "text": "Zoë says 👍 — café"})
    assert sim.flush()
    raw = receiver.accepted()[-1].body
    assert raw.isascii()
    assert b"Zo\\u00eb" in raw and b"\\ud83d\\udc4d" in raw and b"caf\\u00e9" in raw
    assert json.loads(raw)["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] == "Zoë says 👍 — café"


def test_a_username_only_client_arrives_with_a_bsuid_and_no_phone(sim: Simulator, receiver: Receiver) -> None:
    sim.inbound(user_id="US.13491208655302741918", name="Casey", type="text", text="hi", to_number=PNID_2)
    assert sim.flush()
    value = receiver.values("messages")[-1]
    assert value["metadata"]["phone_number_id"] == PNID_2
    assert value["contacts"] == [{"profile": {"name": "Casey"}, "user_id": "US.13491208655302741918"}]
    message = value["messages"][0]
    assert "from" not in message and message["from_user_id"] == "US.13491208655302741918"


def test_replies_forwards_and_reaction_removal(sim: Simulator, receiver: Receiver) -> None:
    first = sim.inbound(**{"from": ALICE, "type": "text", "text": "one"})
    sim.inbound(**{"from": ALICE, "type": "text", "text": "two", "context": {"id": first}, "forwarded": True})
    sim.inbound(**{"from": ALICE, "type": "reaction", "reaction": {"message_id": first, "emoji": ""}})
    sim.inbound(**{"from": ALICE, "type": "audio", "voice": True})
    assert sim.flush()
    reply, reaction, voice = receiver.items("messages")[1:]
    assert reply["context"] == {"from": "447700900123", "id": first, "forwarded": True}
    assert reaction["reaction"] == {"message_id": first}
    assert voice["audio"]["voice"] is True and voice["audio"]["mime_type"] == "audio/ogg; codecs=opus"


def test_every_documented_inbound_type_can_be_sent(sim: Simulator, receiver: Receiver) -> None:
    specs: list[dict[str, Any]] = [
        {"type": "location", "latitude": 51.5, "longitude": -0.12, "name": "Office"},
        {"type": "contacts", "contacts": [{"name": {"formatted_name": "Bob"}, "phones": [{"phone": "+4477"}]}]},
        {"type": "interactive", "button_reply": {"id": "yes", "title": "Yes"}},
        {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "r1", "title": "Row"}}},
        {"type": "button", "button": {"payload": "ACK", "text": "Thanks"}},
        {"type": "order", "order": {"catalog_id": "1", "product_items": []}},
        {"type": "system", "system": {"body": "changed", "type": "user_changed_number", "wa_id": "447700900999"}},
        {"type": "sticker", "animated": True},
        {"type": "unsupported", "unsupported": {"type": "poll_creation"}},
        {"type": "revoke", "original_message_id": "wamid.X"},
        {"type": "edit", "original_message_id": "wamid.X", "text": "fixed"},
        {"type": "edit", "original_message_id": "wamid.X", "text": "fixed", "as_unsupported": True},
        {"type": "request_welcome"},
    ]
    for spec in specs:
        sim.inbound(**{"from": ALICE, **spec})
    assert sim.flush()
    got = receiver.items("messages")
    assert [m["type"] for m in got] == [s["type"] for s in specs[:-2]] + ["unsupported", "request_welcome"]
    assert got[1]["contacts"][0]["name"]["formatted_name"] == "Bob"
    assert got[8]["errors"][0]["code"] == 131051 and got[8]["unsupported"]["type"] == "poll_creation"
    assert got[10]["edit"] == {"original_message_id": "wamid.X", "message": {"type": "text", "text": {"body": "fixed"}}}
    assert got[11]["unsupported"] == {"type": "edit"}
    system_value = next(v for v in receiver.values() if v.get("messages", [{}])[0].get("type") == "system")
    assert "contacts" not in system_value


def test_batching_puts_several_updates_in_one_post(make_sim: Any, receiver: Receiver) -> None:
    sim = make_sim(batch_max=3, batch_window_ms=300)
    for i in range(5):
        sim.inbound(**{"from": ALICE, "type": "text", "text": f"m{i}"})
    assert sim.flush()
    sizes = [len(p.json()["entry"][0]["changes"][0]["value"]["messages"]) for p in receiver.accepted()]
    assert sizes == [3, 2]
    first = receiver.accepted()[0].json()["entry"][0]["changes"][0]["value"]
    assert len(first["contacts"]) == 1
    assert [m["text"]["body"] for m in first["messages"]] == ["m0", "m1", "m2"]


def test_duplicates_deliver_the_same_bytes_twice(make_sim: Any, receiver: Receiver) -> None:
    sim = make_sim(duplicate_rate=1.0)
    sim.inbound(**{"from": ALICE, "type": "text", "text": "dup"})
    assert sim.flush()
    posts = receiver.accepted()
    assert len(posts) == 2 and posts[0].body == posts[1].body
    assert posts[0].headers["x-hub-signature-256"] == posts[1].headers["x-hub-signature-256"]
    assert [d["duplicate_of"] for d in sim.deliveries()] == [None, 1]


def test_reordering_delivers_delivered_before_sent(make_sim: Any, receiver: Receiver, http: httpx.Client) -> None:
    sim = make_sim(reorder_statuses=True, reorder_rate=1.0)
    sim.inbound(**{"from": ALICE, "type": "text", "text": "open the window"})
    wamid = _send_text(http, sim, "reply")
    assert sim.flush()
    assert receiver.statuses(wamid) == ["delivered", "sent"]
    conversation = sim.conversation(ALICE)
    assert conversation["messages"][-1]["status"] == "delivered"


def test_a_non_200_answer_is_retried_until_accepted(sim: Simulator, receiver: Receiver) -> None:
    receiver.script.extend([500, 500])
    wamid = sim.inbound(**{"from": ALICE, "type": "text", "text": "retry me"})
    assert sim.flush()
    assert [p.status for p in receiver.posts] == [500, 500, 200]
    assert len({p.body for p in receiver.posts}) == 1
    [log] = sim.deliveries()
    assert log["state"] == "delivered" and [a["status"] for a in log["attempts"]] == [500, 500, 200]
    assert sim.conversation(ALICE)["messages"][-1]["id"] == wamid
    assert sim.conversation(ALICE)["messages"][-1]["status"] == "delivered"


def test_no_retry_gives_up_after_one_attempt(make_sim: Any, receiver: Receiver) -> None:
    sim = make_sim(retry=False)
    receiver.script.append(503)
    sim.inbound(**{"from": ALICE, "type": "text", "text": "once"})
    assert sim.flush()
    assert [d["state"] for d in sim.deliveries()] == ["gave_up"]


def test_dropped_webhooks_are_retried(sim: Simulator, receiver: Receiver) -> None:
    sim.set_faults(webhook_drop=2)
    sim.inbound(**{"from": ALICE, "type": "text", "text": "lost twice"})
    assert sim.flush()
    [log] = sim.deliveries()
    assert [a["error"] for a in log["attempts"]][:2] == ["dropped (fault injection)"] * 2
    assert len(receiver.posts) == 1 and log["state"] == "delivered"


def test_echo_payloads_follow_the_documented_shape(sim: Simulator, receiver: Receiver) -> None:
    wamid = sim.echo(to=ALICE, type="document", data_b64="JVBERi0xLjQK", mime_type="application/pdf",
                     filename="quote.pdf", caption="Our quote")
    sim.echo(to=ALICE, type="revoke", original_message_id=wamid)
    sim.echo(to=ALICE, type="edit", original_message_id=wamid, text="Our revised quote")
    assert sim.flush()
    values = receiver.values("smb_message_echoes")
    echoes = [e for v in values for e in v["message_echoes"]]
    doc = echoes[0]
    assert doc["from"] == "442079460000" and doc["to"] == "447700900123" and doc["id"] == wamid
    assert doc["type"] == "document" and doc["document"]["filename"] == "quote.pdf"
    assert set(doc["document"]) >= {"caption", "mime_type", "sha256", "id"}
    assert echoes[1]["revoke"] == {"original_message_id": wamid}
    assert echoes[2]["edit"]["message"] == {"type": "text", "text": {"body": "Our revised quote"}}
    assert all("contacts" not in v for v in values)


def test_history_chunks_and_the_declined_variant(sim: Simulator, receiver: Receiver) -> None:
    sim.history(phase=1, chunk_order=2, progress=40, threads=[{"id": ALICE, "messages": [
        {"type": "text", "text": "old question", "status": "READ"},
        {"type": "text", "text": "old answer", "from_me": True, "status": "DELIVERED"},
        {"type": "media_placeholder"}]}])
    sim.history(declined=True)
    assert sim.flush()
    chunk, declined = [h for v in receiver.values("history") for h in v["history"]]
    assert chunk["metadata"] == {"phase": 1, "chunk_order": 2, "progress": 40}
    thread = chunk["threads"][0]
    assert thread["id"] == "447700900123"
    question, answer, placeholder = thread["messages"]
    assert question["from"] == "447700900123" and "to" not in question
    assert answer["from"] == "442079460000" and answer["to"] == "447700900123"
    assert answer["history_context"] == {"status": "DELIVERED"}
    assert placeholder["type"] == "media_placeholder" and "media_placeholder" not in placeholder
    assert int(question["timestamp"]) < int(answer["timestamp"])
    assert declined["errors"][0]["code"] == 2593109


def test_raw_bodies_are_delivered_byte_for_byte(sim: Simulator, receiver: Receiver, api: Any) -> None:
    raw = b'{"object":"whatsapp_business_account","entry":[{"weird": "\\u00e9 spacing"}]}'
    assert api.post("/_sim/api/raw", content=raw).status_code == 200
    assert api.post("/_sim/api/raw?signature=missing", content=b"not json").status_code == 200
    assert api.post("/_sim/api/flush", json={"timeout": 5}).json()["ok"]
    first, second = receiver.posts
    assert first.body == raw and first.valid
    assert second.body == b"not json" and "x-hub-signature-256" not in second.headers


def _send_text(http: httpx.Client, sim: Simulator, text: str) -> str:
    r = http.post(f"{sim.graph_url}/{PNID}/messages", headers={"Authorization": "Bearer test-access-token"},
                   json={"messaging_product": "whatsapp", "to": ALICE, "type": "text", "text": {"body": text}})
    assert r.status_code == 200, r.text
    return str(r.json()["messages"][0]["id"])


def test_slashes_and_sha256_encoding_can_be_switched(make_sim: Any, receiver: Receiver) -> None:
    sim = make_sim(escape_slashes=True, webhook_sha256="base64")
    sim.inbound(**{"from": ALICE, "type": "image"})
    assert sim.flush()
    post = receiver.accepted()[-1]
    assert post.valid and b"http:\\/\\/127.0.0.1" in post.body and b"http://" not in post.body
    image = post.json()["entry"][0]["changes"][0]["value"]["messages"][0]["image"]
    assert len(image["sha256"]) == 44 and image["sha256"].endswith("=")
    assert image["url"].startswith(f"{sim.url}/media-download/{image['id']}?exp=")
