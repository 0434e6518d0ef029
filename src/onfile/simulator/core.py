"""The simulated platform in one object: what clients do, and what they see.

Design: ``SimCore`` wires the parts (state, media, clock, templates, delivery, handshake,
faults) and carries the client-side actions that are shared by the automation API, the
phone page and the Python API: ``inbound`` (a client sends something), ``echo`` (staff
send from the Business app), ``history``, ``value_error``, ``state_sync``, and the
conversation view the phone page polls. HTTP lives elsewhere (``server.py``, ``graph.py``,
``api.py``); nothing here parses requests.

Every client message is recorded in the conversation, resets that user's 24-hour window
(``system`` messages excepted), and is queued as one webhook update; when onfile answers
a POST carrying it with 200, its status becomes ``delivered`` (two grey ticks on the
page), and onfile's mark-as-read turns it ``read`` (blue ticks). Reactions, revokes and
edits are recorded but shown on the message they target, not as bubbles.
"""

from __future__ import annotations

import base64
import copy
import threading
from pathlib import Path
from typing import Any

from onfile.simulator import outbound, payloads
from onfile.simulator.clock import SimClock
from onfile.simulator.config import BusinessNumber, SimConfig
from onfile.simulator.delivery import Deliverer, Update
from onfile.simulator.faults import Faults
from onfile.simulator.handshake import Verifier
from onfile.simulator.ids import IdFactory
from onfile.simulator.media import MediaStore
from onfile.simulator.payloads import SpecError
from onfile.simulator.state import Persona, StateStore
from onfile.simulator.templates import TemplateCatalog

DEFAULT_PERSONA = ("+447700900123", "Alice Example")
HIDDEN_TYPES = ("reaction", "revoke", "edit")


class NotFound(SpecError):
    pass


class SimCore:
    def __init__(self, cfg: SimConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        directory = Path(cfg.state_dir) if cfg.state_dir else None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self.ids = IdFactory(cfg.seed)
        self.faults = Faults()
        self.state = StateStore(directory)
        loaded = self.state.load()
        self.clock = SimClock(cfg.clock_file, float(loaded.get("clock_offset", 0.0)))
        self.media = MediaStore(directory / "media" if directory else None, self.ids, cfg.app_secret.encode())
        self.media.load(loaded.get("media", {}))
        self.catalog = TemplateCatalog(loaded.get("templates"))
        self.deliverer = Deliverer(cfg, self.ids, self.faults)
        self.verifier = Verifier(cfg)
        self.stopping = threading.Event()
        self.base_url = cfg.public_url or f"http://{cfg.host}:{cfg.port}"
        self._leftovers: list[dict[str, str]] = loaded.get("pending_deliveries", [])
        self.state.extras = self._extras
        if not self.state.personas:
            self.state.ensure_persona(DEFAULT_PERSONA[0], DEFAULT_PERSONA[1])

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.stopping.clear()
        self.deliverer.start()
        for left in self._leftovers:
            self.deliverer.submit_body(base64.b64decode(left["body_b64"]), left.get("field", "raw"),
                                       left.get("signature", "valid"))
        self._leftovers = []
        if self.cfg.verify_on_start:
            self.verifier.start()
        self.state.start_autosave()

    def stop(self) -> None:
        self.stopping.set()
        self.verifier.stop()
        self._leftovers = self.deliverer.stop()
        self.state.stop()

    def _extras(self) -> dict[str, Any]:
        return {"clock_offset": self.clock.offset, "media": self.media.dump(), "templates": self.catalog.added(),
                "pending_deliveries": self._leftovers}

    # -- lookups ----------------------------------------------------------------------------------------
    def number(self, ident: Any = None) -> BusinessNumber:
        if ident in (None, ""):
            return self.cfg.numbers[0]
        text = str(ident).lstrip("+")
        for n in self.cfg.numbers:
            if text in (n.phone_number_id, n.display_phone_number):
                return n
        raise SpecError(f"unknown firm number {ident!r}; configured: "
                        f"{', '.join(n.phone_number_id for n in self.cfg.numbers)}")

    def persona_for(self, spec: dict[str, Any]) -> Persona:
        phone = str(spec.get("from") or spec.get("phone") or "").strip()
        user_id = spec.get("user_id")
        if not phone and not user_id:
            raise SpecError("say who the client is: 'from' (+E.164) and/or 'user_id' (BSUID)")
        if phone and not phone.lstrip("+").isdigit():
            raise SpecError(f"'from' must be a phone number like +447700900123, got {phone!r}")
        return self.state.ensure_persona(phone or None, spec.get("name"), user_id)

    def env(self, number: BusinessNumber) -> payloads.Env:
        return payloads.Env(self.media, self.clock.now_s(), self.media_url, self.cfg.webhook_sha256,
                            number.phone_number_id)

    def media_url(self, media_id: str) -> str:
        return self.media.download_url(self.base_url, media_id, self.clock.now())

    # -- client actions ---------------------------------------------------------------------------------
    def inbound(self, spec: dict[str, Any]) -> dict[str, Any]:
        number = self.number(spec.get("to_number"))
        persona = self.persona_for(spec)
        wamid = spec.get("id") or self.ids.wamid(persona.key, outbound=False)
        context = self._context(spec, number)
        item = payloads.inbound_message(spec, persona, wamid, self.env(number), context)
        kind = item["type"]
        self._record_inbound(number, persona, item, context)
        contact = None if kind == "system" else persona.contact()

        def delivered() -> None:
            outbound.record_status(self, wamid, "delivered", self.clock.now_s())

        self.deliverer.submit(Update("messages", number, "messages", item, contact, on_delivered=delivered))
        content = item.get(kind)
        media_id = content.get("id") if isinstance(content, dict) and kind in payloads.MEDIA_KINDS else None
        return {"id": wamid, "media_id": media_id, "message": item}

    def _record_inbound(self, number: BusinessNumber, persona: Persona, item: dict[str, Any],
                        context: dict[str, Any] | None) -> None:
        kind = item["type"]
        content = item.get(kind)
        msg = {"id": item["id"], "direction": "in", "origin": "client", "type": kind, "content": content,
               "timestamp": int(item["timestamp"]), "status": "sent", "context": context}
        if kind in HIDDEN_TYPES:
            msg["hidden"] = True
            self._apply_change(kind, content or {}, "client")
        self.state.add_message(number.phone_number_id, persona, msg)
        if kind != "system":
            self.state.note_inbound(number.phone_number_id, persona, float(item["timestamp"]))

    def _apply_change(self, kind: str, content: dict[str, Any], who: str) -> None:
        if kind == "reaction":
            self.react(content.get("message_id", ""), who, content.get("emoji", ""))
            return
        found = self.state.find_message(content.get("original_message_id", ""))
        if found is None:
            return
        with self.state.lock:
            if kind == "revoke":
                found[1]["revoked"] = True
            else:
                found[1].setdefault("previous", []).append(found[1]["content"])
                message = content.get("message", {})
                found[1]["content"] = message.get(message.get("type", ""), found[1]["content"])
        self.state.mark_dirty()

    def react(self, target: str, who: str, emoji: str) -> None:
        found = self.state.find_message(target)
        if found is None:
            return
        with self.state.lock:
            reactions = found[1].setdefault("reactions", {})
            if emoji:
                reactions[who] = emoji
            else:
                reactions.pop(who, None)
        self.state.mark_dirty()

    def _context(self, spec: dict[str, Any], number: BusinessNumber) -> dict[str, Any] | None:
        given: dict[str, Any] = spec["context"] if isinstance(spec.get("context"), dict) else {}
        context: dict[str, Any] = {}
        if given.get("id"):
            context["from"] = given.get("from") or self._author(given["id"], number)
            context["id"] = given["id"]
        if spec.get("forwarded") or given.get("forwarded"):
            context["forwarded"] = True
        if spec.get("frequently_forwarded") or given.get("frequently_forwarded"):
            context["frequently_forwarded"] = True
        if isinstance(given.get("referred_product"), dict):
            context["referred_product"] = given["referred_product"]
        return context or None

    def _author(self, wamid: str, number: BusinessNumber) -> str:
        found = self.state.find_message(wamid)
        if found is None or found[1]["direction"] == "out":
            return number.display_phone_number
        return found[0].split("|", 1)[1]

    # -- business app, history, errors -------------------------------------------------------------------
    def echo(self, spec: dict[str, Any]) -> dict[str, Any]:
        number = self.number(spec.get("to_number") or spec.get("from_number"))
        persona = self.persona_for({**spec, "from": spec.get("to"), "user_id": spec.get("to_user_id")})
        wamid = spec.get("id") or self.ids.wamid(persona.key, outbound=True)
        item = payloads.echo_message(spec, persona, number, wamid, self.env(number))
        kind = item["type"]
        msg = {"id": wamid, "direction": "out", "origin": "app", "type": kind, "content": item[kind],
               "timestamp": int(item["timestamp"]), "status": "delivered", "context": None}
        if kind in HIDDEN_TYPES:
            msg["hidden"] = True
            self._apply_change(kind, item[kind], "firm")
        self.state.add_message(number.phone_number_id, persona, msg)
        self.deliverer.submit(Update("smb_message_echoes", number, "message_echoes", item))
        if spec.get("with_statuses"):
            for i, status in enumerate(("sent", "delivered")):
                update = outbound.status_update(self, number, persona, wamid, status, None)
                self.deliverer.submit(update, (i + 1) * self.cfg.status_delay_ms / 1000)
        return {"id": wamid, "message": item}

    def history(self, spec: dict[str, Any]) -> dict[str, Any]:
        number = self.number(spec.get("to_number"))
        chunk = payloads.history_chunk(spec, number, self.env(number), self.ids.wamid)
        self.deliverer.submit(Update("history", number, "history", chunk))
        return {"history": chunk}

    def value_error(self, spec: dict[str, Any]) -> dict[str, Any]:
        number = self.number(spec.get("to_number"))
        item = payloads.value_error(spec)
        self.deliverer.submit(Update("messages", number, "errors", item))
        return {"error": item}

    def state_sync(self, spec: dict[str, Any]) -> dict[str, Any]:
        number = self.number(spec.get("to_number"))
        item = payloads.state_sync_item(spec, self.clock.now_s())
        self.deliverer.submit(Update("smb_app_state_sync", number, "state_sync", item))
        return {"state_sync": item}

    # -- what the phone page shows ---------------------------------------------------------------------
    def conversation(self, ident: str, number_ident: Any = None, seen: bool = False) -> dict[str, Any]:
        persona = self.state.persona(ident)
        if persona is None:
            raise NotFound(f"no client {ident!r}; create one with POST /_sim/api/personas")
        number = self.number(number_ident)
        if seen:
            outbound.client_saw(self, number, persona)
        now = self.clock.now()
        with self.state.lock:  # a deep copy: statuses and reactions change on other threads
            messages = [self._view(m) for m in self.state.messages(number.phone_number_id, persona)
                        if not m.get("hidden")]
        return {
            "persona": persona_view(persona), "number": number_view(number),
            "window_open": self.state.window_open(number.phone_number_id, persona, now),
            "typing": outbound.typing(self, number, persona), "now": int(now), "messages": messages,
        }

    def _view(self, msg: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(msg)
        content = msg.get("content")
        if msg["type"] in payloads.MEDIA_KINDS and isinstance(content, dict):
            out["media_url"] = f"/_sim/media/{content['id']}" if content.get("id") else content.get("link")
        media = (msg.get("rendered") or {}).get("header_media") or {}
        if media.get("id"):
            out["header_media_url"] = f"/_sim/media/{media['id']}"
        elif media.get("link"):
            out["header_media_url"] = media["link"]
        return out


def persona_view(p: Persona) -> dict[str, Any]:
    return {"key": p.key, "name": p.name, "phone": p.phone, "wa_id": p.wa_id, "user_id": p.user_id}


def number_view(n: BusinessNumber) -> dict[str, Any]:
    return {"phone_number_id": n.phone_number_id, "display_phone_number": n.display_phone_number, "name": n.name}
