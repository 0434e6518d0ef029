"""What the simulated platform remembers: personas, conversations, outbox, windows.

Design: one ``StateStore`` behind one re-entrant lock. Callers hold ``store.lock`` for
compound changes; single reads and writes lock themselves. Conversations are keyed by
``"<phone_number_id>|<person key>"`` where the person key is the wa_id (phone digits) or,
for a username-only user, the BSUID (whatsapp.md A4). Messages are plain JSON dicts:

    {"id", "direction": "in"|"out", "origin": "client"|"api"|"app", "type", "content",
     "timestamp", "status", "context"?, "reactions": {"client"?, "firm"?}, "rendered"?}

Persistence: with a state directory the whole store is written to ``state.json``
(atomically, tmp + rename) at most every half second by a background thread and on
stop, so a restart keeps conversations, the outbox, idempotency keys and windows.
Other components add their own sections through ``extras`` (media metadata, pending
webhook deliveries).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("onfile.simulator")
WINDOW_SECONDS = 24 * 3600
STATE_VERSION = 1


@dataclass
class Persona:
    """A client: a phone number, a BSUID, or both."""

    name: str
    phone: str | None = None  # "+447700900123"
    user_id: str | None = None  # "US.13491208655302741918"

    @property
    def wa_id(self) -> str | None:
        return self.phone.lstrip("+") if self.phone else None

    @property
    def key(self) -> str:
        return self.wa_id or self.user_id or ""

    def contact(self) -> dict[str, Any]:
        out: dict[str, Any] = {"profile": {"name": self.name}}
        if self.wa_id:
            out["wa_id"] = self.wa_id
        if self.user_id:
            out["user_id"] = self.user_id
        return out


def normalise_phone(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    return "+" + digits if digits else ""


def conv_key(phone_number_id: str, persona: Persona) -> str:
    return f"{phone_number_id}|{persona.key}"


class StateStore:
    def __init__(self, directory: Path | None) -> None:
        self.lock = threading.RLock()
        self.personas: dict[str, Persona] = {}
        self.conversations: dict[str, list[dict[str, Any]]] = {}
        self.outbox: list[dict[str, Any]] = []
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.last_inbound: dict[str, float] = {}
        self.typing: dict[str, float] = {}
        self.extras: Callable[[], dict[str, Any]] = dict
        self._by_wamid: dict[str, tuple[str, dict[str, Any]]] = {}
        self._outbox_by_wamid: dict[str, dict[str, Any]] = {}
        self._path = directory / "state.json" if directory else None
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._saver: threading.Thread | None = None

    # -- personas -------------------------------------------------------------------------------
    def persona(self, ident: str) -> Persona | None:
        """Find a persona by phone (with or without +) or BSUID."""
        ident = ident.strip()  # "?as=+44…" decodes to " 44…"
        with self.lock:
            if ident in self.personas:
                return self.personas[ident]
            digits = ident.lstrip("+")
            return next((p for p in self.personas.values() if p.wa_id == digits or p.user_id == ident), None)

    def ensure_persona(self, phone: str | None, name: str | None = None, user_id: str | None = None) -> Persona:
        with self.lock:
            found = (self.persona(phone) if phone else None) or (self.persona(user_id) if user_id else None)
            if found is None:
                found = Persona(name or "", normalise_phone(phone) if phone else None, user_id)
                self.personas[found.key] = found
            else:
                found.name = name or found.name
                if user_id and not found.user_id:
                    found.user_id = user_id
            self.mark_dirty()
            return found

    # -- conversations ------------------------------------------------------------------------------
    def add_message(self, phone_number_id: str, persona: Persona, msg: dict[str, Any]) -> None:
        key = conv_key(phone_number_id, persona)
        msg.setdefault("reactions", {})
        with self.lock:
            self.conversations.setdefault(key, []).append(msg)
            self._by_wamid[msg["id"]] = (key, msg)
        self.mark_dirty()

    def find_message(self, wamid: str) -> tuple[str, dict[str, Any]] | None:
        with self.lock:
            return self._by_wamid.get(wamid)

    def messages(self, phone_number_id: str, persona: Persona) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.conversations.get(conv_key(phone_number_id, persona), []))

    def set_status(self, wamid: str, status: str) -> None:
        with self.lock:
            found = self._by_wamid.get(wamid)
            if found is not None:
                found[1]["status"] = status
        self.mark_dirty()

    def note_inbound(self, phone_number_id: str, persona: Persona, when: float) -> None:
        with self.lock:
            self.last_inbound[conv_key(phone_number_id, persona)] = when
        self.mark_dirty()

    def window_open(self, phone_number_id: str, persona: Persona, now: float) -> bool:
        with self.lock:
            last = self.last_inbound.get(conv_key(phone_number_id, persona))
        return last is not None and now - last < WINDOW_SECONDS

    # -- outbox ---------------------------------------------------------------------------------------
    def add_outbox(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.outbox.append(entry)
            self._outbox_by_wamid[entry["wamid"]] = entry
        self.mark_dirty()

    def outbox_entry(self, wamid: str) -> dict[str, Any] | None:
        with self.lock:
            return self._outbox_by_wamid.get(wamid)

    # -- persistence ----------------------------------------------------------------------------------
    def mark_dirty(self) -> None:
        self._dirty.set()

    def start_autosave(self) -> None:
        if self._path is None:
            return
        self._stop.clear()
        self._saver = threading.Thread(target=self._autosave, name="sim-state-saver", daemon=True)
        self._saver.start()

    def stop(self) -> None:
        self._stop.set()
        if self._saver is not None:
            self._saver.join(timeout=5)
            self._saver = None
        self.save()

    def _autosave(self) -> None:
        interval = 0.5
        while not self._stop.wait(interval):
            if self._dirty.is_set():
                start = time.monotonic()
                self.save()
                # A big state (benchmarks) must not spend its life being serialised under the lock.
                interval = max(0.5, 10 * (time.monotonic() - start))

    def save(self) -> None:
        if self._path is None:
            return
        self._dirty.clear()
        with self.lock:
            data = {
                "version": STATE_VERSION,
                "personas": [asdict(p) for p in self.personas.values()],
                "conversations": self.conversations, "outbox": self.outbox, "idempotency": self.idempotency,
                "last_inbound": self.last_inbound, **self.extras(),
            }
            text = json.dumps(data, ensure_ascii=False)
        tmp = self._path.with_name("state.json.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self._path)

    def load(self) -> dict[str, Any]:
        """Load ``state.json`` if present; returns the whole document (for the extras)."""
        if self._path is None or not self._path.exists():
            return {}
        try:
            data: dict[str, Any] = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("simulator state %s unreadable (%s); starting empty", self._path, exc)
            return {}
        with self.lock:
            for p in data.get("personas", []):
                persona = Persona(**p)
                self.personas[persona.key] = persona
            self.conversations = data.get("conversations", {})
            self.outbox = data.get("outbox", [])
            self.idempotency = data.get("idempotency", {})
            self.last_inbound = data.get("last_inbound", {})
            self._reindex()
        return data

    def _reindex(self) -> None:
        self._by_wamid = {m["id"]: (k, m) for k, msgs in self.conversations.items() for m in msgs}
        self._outbox_by_wamid = {e["wamid"]: e for e in self.outbox}
