"""The automation API under ``/_sim/``: what tests, benchmarks and the phone page call.

Design: a table from (method, path) to a small function taking the core and the request
and returning a JSON-able dict (or a ``Response`` for bytes). Bad input raises
``SpecError`` (400, ``{"error": "..."}``); unknown things raise ``NotFound`` (404). No
authentication: the simulator is a loopback development tool.

    POST /_sim/api/inbound      the client sends something (a spec, or a list of specs)
    POST /_sim/api/echo         staff send from the WhatsApp Business app (smb_message_echoes)
    POST /_sim/api/history      a coexistence history chunk (or the declined variant)
    POST /_sim/api/errors       a value-level errors[] item
    POST /_sim/api/state-sync   a smb_app_state_sync contact change
    POST /_sim/api/raw          deliver the request body as-is, signed (?signature=invalid|missing)
    GET  /_sim/api/outbox       what onfile sent through the Graph API
    GET  /_sim/api/conversation ?as=<phone|BSUID>&number=<phone_number_id>&seen=1
    GET  /_sim/api/deliveries   webhook delivery log and handshake result (?bodies=1&limit=N)
    GET|POST /_sim/api/personas clients
    GET|POST /_sim/api/templates the template catalog / add a template
    POST /_sim/api/flush        wait until nothing is left to deliver ({"timeout": s})
    POST /_sim/api/verify       run the GET handshake now
    POST /_sim/api/webhook      change the webhook URL ({"url": ...}) and verify it
    GET  /_sim/api/status       configuration summary
    GET|POST /_sim/clock        the simulated clock ({"advance_seconds"} or {"offset_seconds"})
    GET|POST /_sim/faults       fault injection counters
    GET  /_sim/media/<id>       media bytes for the phone page (no token)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from onfile.simulator.core import NotFound, number_view, persona_view
from onfile.simulator.payloads import SpecError
from onfile.simulator.web import Request, Response, json_response

if TYPE_CHECKING:
    from onfile.simulator.core import SimCore

Handler = Callable[["SimCore", Request], Any]
MAX_FLUSH = 120.0


def handle(core: SimCore, req: Request) -> Response:
    if req.path.startswith("/_sim/media/") and req.method == "GET":
        return _media(core, req)
    route = ROUTES.get((req.method, req.path.rstrip("/")))
    if route is None:
        raise NotFound(f"no simulator route {req.method} {req.path}")
    result = route(core, req)
    if isinstance(result, Response):
        return result
    return json_response(result)


def _spec(req: Request) -> dict[str, Any]:
    body = req.json()
    if not isinstance(body, dict):
        raise SpecError("expected a JSON object")
    return body


def _inbound(core: SimCore, req: Request) -> dict[str, Any]:
    body = req.json()
    if isinstance(body, list):
        return {"ids": [core.inbound(_object(s))["id"] for s in body]}
    return core.inbound(_object(body))


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SpecError("expected a JSON object")
    return value


def _raw(core: SimCore, req: Request) -> dict[str, Any]:
    signature = req.query.get("signature", "valid")
    if signature not in ("valid", "invalid", "missing"):
        raise SpecError("signature must be valid, invalid or missing")
    return {"delivery_id": core.deliverer.submit_body(req.body, req.query.get("field", "raw"), signature)}


def _outbox(core: SimCore, req: Request) -> dict[str, Any]:
    to = req.query.get("to")
    with core.state.lock:
        entries = [dict(e, statuses=list(e["statuses"])) for e in core.state.outbox
                   if not to or to in (e.get("to"), e.get("recipient"))]
    limit = int(req.query.get("limit") or 0)
    return {"messages": entries[-limit:] if limit else entries}


def _conversation(core: SimCore, req: Request) -> dict[str, Any]:
    ident = req.query.get("as")
    if not ident:
        raise SpecError("say whose conversation: ?as=+447700900123")
    return core.conversation(ident, req.query.get("number"), seen=req.query.get("seen") in ("1", "true"))


def _deliveries(core: SimCore, req: Request) -> dict[str, Any]:
    limit = int(req.query.get("limit") or 500)
    return {"verification": core.verifier.result(), "pending": core.deliverer.pending(),
            "deliveries": core.deliverer.snapshot(req.query.get("bodies") in ("1", "true"), limit)}


def _personas(core: SimCore, req: Request) -> dict[str, Any]:
    with core.state.lock:
        people = [persona_view(p) for p in core.state.personas.values()]
    return {"personas": people, "numbers": [number_view(n) for n in core.cfg.numbers]}


def _add_persona(core: SimCore, req: Request) -> dict[str, Any]:
    spec = _spec(req)
    persona = core.persona_for({"from": spec.get("phone") or spec.get("from"), "name": spec.get("name"),
                                "user_id": spec.get("user_id")})
    return {"persona": persona_view(persona)}


def _add_template(core: SimCore, req: Request) -> dict[str, Any]:
    try:
        return {"template": core.catalog.add(_spec(req))}
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def _flush(core: SimCore, req: Request) -> Response:
    timeout = min(float(_spec(req).get("timeout", 10)), MAX_FLUSH)
    ok = core.deliverer.flush(timeout)
    return json_response({"ok": ok, "pending": core.deliverer.pending()}, 200 if ok else 504)


def _webhook(core: SimCore, req: Request) -> dict[str, Any]:
    url = _spec(req).get("url")
    if not isinstance(url, str):
        raise SpecError("give the new webhook url: {\"url\": \"http://…\"}")
    core.cfg.webhook_url = url
    return {"webhook_url": url, "verification": core.verifier.run_once() if url else None}


def _status(core: SimCore, req: Request) -> dict[str, Any]:
    cfg = core.cfg
    return {"url": core.base_url, "graph_url": f"{core.base_url}/{cfg.api_version}", "waba_id": cfg.waba_id,
            "api_version": cfg.api_version, "webhook_url": cfg.webhook_url,
            "numbers": [number_view(n) for n in cfg.numbers], "verification": core.verifier.result(),
            "pending_deliveries": core.deliverer.pending(), "clock": _clock_view(core)}


def _clock(core: SimCore, req: Request) -> dict[str, Any]:
    spec = _spec(req)
    try:
        if "advance_seconds" in spec:
            core.clock.advance(float(spec["advance_seconds"]))
        elif "offset_seconds" in spec:
            core.clock.set_offset(float(spec["offset_seconds"]))
        else:
            raise SpecError("give advance_seconds or offset_seconds")
    except (TypeError, ValueError) as exc:
        raise SpecError(f"bad clock value: {exc}") from None
    return _clock_view(core)


def _clock_view(core: SimCore) -> dict[str, Any]:
    now = core.clock.now()
    return {"now": int(now), "iso": datetime.fromtimestamp(now, UTC).isoformat(), "offset_seconds": core.clock.offset}


def _faults(core: SimCore, req: Request) -> dict[str, Any]:
    try:
        return core.faults.set(_spec(req))
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def _media(core: SimCore, req: Request) -> Response:
    media_id = req.path.rsplit("/", 1)[-1]
    item = core.media.get(media_id)
    if item is None:
        raise NotFound(f"no media {media_id}")
    name = (item.filename or media_id).replace('"', "")
    return Response(200, core.media.read(media_id), item.mime_type,
                    {"Content-Disposition": f'inline; filename="{name}"', "X-Content-Type-Options": "nosniff"})


ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/_sim/api/inbound"): _inbound,
    ("POST", "/_sim/api/echo"): lambda core, req: core.echo(_spec(req)),
    ("POST", "/_sim/api/history"): lambda core, req: core.history(_spec(req)),
    ("POST", "/_sim/api/errors"): lambda core, req: core.value_error(_spec(req)),
    ("POST", "/_sim/api/state-sync"): lambda core, req: core.state_sync(_spec(req)),
    ("POST", "/_sim/api/raw"): _raw,
    ("GET", "/_sim/api/outbox"): _outbox,
    ("GET", "/_sim/api/conversation"): _conversation,
    ("GET", "/_sim/api/deliveries"): _deliveries,
    ("GET", "/_sim/api/personas"): _personas,
    ("POST", "/_sim/api/personas"): _add_persona,
    ("GET", "/_sim/api/templates"): lambda core, req: {"data": core.catalog.listing()},
    ("POST", "/_sim/api/templates"): _add_template,
    ("POST", "/_sim/api/flush"): _flush,
    ("POST", "/_sim/api/verify"): lambda core, req: core.verifier.run_once(),
    ("POST", "/_sim/api/webhook"): _webhook,
    ("GET", "/_sim/api/status"): _status,
    ("GET", "/_sim/clock"): lambda core, req: _clock_view(core),
    ("POST", "/_sim/clock"): _clock,
    ("GET", "/_sim/faults"): lambda core, req: core.faults.snapshot(),
    ("POST", "/_sim/faults"): _faults,
}
