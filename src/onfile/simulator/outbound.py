"""The life of a message onfile sends: accept, window check, statuses, reading, mark-as-read.

Design: ``accept_send`` runs under the state lock so that an ``Idempotency-Key`` seen
twice (even by two concurrent requests) yields one wamid and one set of statuses. The
key is scoped to the phone number id. A sync-mode window error is raised before anything
is stored, so a later retry with the same key is evaluated afresh.

After acceptance the statuses are scheduled on the delivery thread (whatsapp.md A6):
``sent`` (with ``pricing``) after ``status_delay_ms`` and ``delivered`` (with ``pricing``)
after twice that, swapped at random with ``reorder_statuses``; a reaction gets ``sent``
only. A free-form message to a user whose 24-hour window is closed gets one ``failed``
status with error 131047 instead and never reaches the client's phone. ``read`` comes
when the client's page shows the message (``client_saw``) or, with ``auto_read``, right
after ``delivered``. Each status is written to the outbox entry when it happens
(``on_emit``), not when onfile acknowledges it. The conversation's status never moves
backwards, whatever order the updates are emitted in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onfile.simulator.config import BusinessNumber
from onfile.simulator.delivery import Update
from onfile.simulator.errors import WINDOW_DETAILS, GraphError, status_error
from onfile.simulator.payloads import pricing, status_item
from onfile.simulator.sending import ReadReceipt, SendRequest
from onfile.simulator.state import Persona, conv_key

if TYPE_CHECKING:
    from onfile.simulator.core import SimCore

RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 5}
TYPING_SECONDS = 25


def accept_send(core: SimCore, number: BusinessNumber, req: SendRequest, body: dict[str, Any],
                idempotency_key: str | None, api_version: str) -> dict[str, Any]:
    state = core.state
    with state.lock:
        scoped = f"{number.phone_number_id}|{idempotency_key}" if idempotency_key else None
        if scoped and scoped in state.idempotency:
            return _replay(core, scoped)
        persona = _recipient(core, req)
        now = core.clock.now_s()
        window = state.window_open(number.phone_number_id, persona, now)
        if req.free_form and not window and core.cfg.window_error == "sync":
            raise GraphError(131047, WINDOW_DETAILS)
        wamid = core.ids.wamid(persona.key, outbound=True)
        response = _response(req, persona, wamid)
        entry: dict[str, Any] = {
            "wamid": wamid, "phone_number_id": number.phone_number_id, "to": req.to, "recipient": req.recipient,
            "type": req.type, "body": body, "idempotency_key": idempotency_key, "accepted_at": now,
            "window_open": window, "api_version": api_version, "statuses": [], "replays": 0}
        state.add_outbox(entry)
        if scoped:
            state.idempotency[scoped] = {"wamid": wamid, "response": response}
        failing = req.free_form and not window
        if not failing:
            _to_phone(core, number, persona, req, wamid, now)
    _schedule(core, number, persona, req, wamid, window, failing)
    return response


def _replay(core: SimCore, scoped: str) -> dict[str, Any]:
    prior = core.state.idempotency[scoped]
    entry = core.state.outbox_entry(prior["wamid"])
    if entry is not None:
        entry["replays"] = entry.get("replays", 0) + 1
    response: dict[str, Any] = prior["response"]
    return response


def _recipient(core: SimCore, req: SendRequest) -> Persona:
    if req.to:
        return core.state.ensure_persona(req.to.replace(" ", ""))
    assert req.recipient is not None
    return core.state.persona(req.recipient) or core.state.ensure_persona(None, "", user_id=req.recipient)


def _response(req: SendRequest, persona: Persona, wamid: str) -> dict[str, Any]:
    contact: dict[str, Any] = {"input": req.input}
    if persona.wa_id:
        contact["wa_id"] = persona.wa_id
    if req.recipient:
        contact["user_id"] = req.recipient
    message: dict[str, Any] = {"id": wamid}
    if req.type == "template":
        message["message_status"] = "accepted"
    return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}


def _to_phone(core: SimCore, number: BusinessNumber, persona: Persona, req: SendRequest, wamid: str, now: int) -> None:
    """What the client's phone will show (once ``delivered`` is emitted)."""
    if req.type == "reaction":
        core.react(req.content.get("message_id", ""), "firm", req.content.get("emoji", ""))
    msg: dict[str, Any] = {"id": wamid, "direction": "out", "origin": "api", "type": req.type,
                           "content": req.content, "timestamp": now, "status": "accepted",
                           "context": {"id": req.context_id} if req.context_id else None}
    if req.rendered:
        msg["rendered"] = req.rendered
    if req.type == "reaction":
        msg["hidden"] = True
    core.state.add_message(number.phone_number_id, persona, msg)


def _schedule(core: SimCore, number: BusinessNumber, persona: Persona, req: SendRequest, wamid: str,
              window: bool, failing: bool) -> None:
    step = core.cfg.status_delay_ms / 1000
    if failing:
        errors = [status_error(131047, WINDOW_DETAILS)]
        core.deliverer.submit(status_update(core, number, persona, wamid, "failed", req.callback_data, errors=errors),
                              step)
        return
    price = pricing(req.rendered.get("category") if req.type == "template" and req.rendered else None, window)
    sent_at, delivered_at = step, 2 * step
    if core.cfg.reorder_statuses and core.ids.random() < core.cfg.reorder_rate:
        sent_at, delivered_at = delivered_at, sent_at
    core.deliverer.submit(status_update(core, number, persona, wamid, "sent", req.callback_data, price), sent_at)
    if req.type == "reaction":
        return
    core.deliverer.submit(status_update(core, number, persona, wamid, "delivered", req.callback_data, price),
                          delivered_at)
    if core.cfg.auto_read:
        core.deliverer.submit(status_update(core, number, persona, wamid, "read", req.callback_data), 3 * step)


def status_update(core: SimCore, number: BusinessNumber, persona: Persona, wamid: str, status: str,
                  callback_data: str | None, price: dict[str, Any] | None = None,
                  errors: list[dict[str, Any]] | None = None) -> Update:
    item = status_item(wamid, status, core.clock.now_s(), persona, callback_data, price, errors)

    def emitted() -> None:
        record_status(core, wamid, status, int(item["timestamp"]))

    return Update("messages", number, "statuses", item, on_emit=emitted)


def record_status(core: SimCore, wamid: str, status: str, timestamp: int) -> None:
    with core.state.lock:
        entry = core.state.outbox_entry(wamid)
        if entry is not None:
            entry["statuses"].append({"status": status, "timestamp": timestamp})
        found = core.state.find_message(wamid)
        if found is not None and RANK.get(status, 0) > RANK.get(found[1].get("status", ""), 0):
            found[1]["status"] = status
    core.state.mark_dirty()


def client_saw(core: SimCore, number: BusinessNumber, persona: Persona) -> int:
    """The client's page shows the conversation: every delivered firm message becomes read."""
    newly: list[dict[str, Any]] = []
    with core.state.lock:
        for msg in core.state.messages(number.phone_number_id, persona):
            if msg["direction"] == "out" and msg.get("status") == "delivered" and not msg.get("hidden"):
                msg["status"] = "read"
                newly.append(msg)
    for msg in newly:
        entry = core.state.outbox_entry(msg["id"])
        callback = entry["body"].get("biz_opaque_callback_data") if entry else None
        core.deliverer.submit(status_update(core, number, persona, msg["id"], "read", callback))
    return len(newly)


def mark_read(core: SimCore, number: BusinessNumber, receipt: ReadReceipt) -> dict[str, Any]:
    """onfile's mark-as-read: blue ticks on that message and every earlier one from the client."""
    found = core.state.find_message(receipt.message_id)
    if found is None or found[1]["direction"] != "in" or not found[0].startswith(number.phone_number_id + "|"):
        raise GraphError(100, f"Invalid message_id {receipt.message_id!r}: no inbound message with that id "
                              f"on {number.phone_number_id}.")
    key, target = found
    with core.state.lock:
        for msg in core.state.conversations.get(key, []):
            if msg["direction"] == "in" and msg.get("status") != "read":
                msg["status"] = "read"
            if msg is target:
                break
        if receipt.typing:
            core.state.typing[key] = core.clock.now() + TYPING_SECONDS
    core.state.mark_dirty()
    return {"success": True}


def typing(core: SimCore, number: BusinessNumber, persona: Persona) -> bool:
    until = core.state.typing.get(conv_key(number.phone_number_id, persona), 0.0)
    return until > core.clock.now()
