"""Webhook delivery: envelopes, signatures, batching, retries, duplicates, a delivery log.

Design: everything that happens on the simulated platform and must reach onfile becomes an
``Update`` (one inbound message, one status, one echo, one history chunk, one error). A
single background thread owns three queues under one condition variable:

1. ``scheduled``: updates with a due time (statuses come a little after the send). When
   due, ``on_emit`` runs (the event "happens": the outbox records the status) and the
   update moves to ``ready``.
2. ``ready``: updates waiting to be packed. With ``batch_max > 1`` the thread waits up to
   ``batch_window_ms`` after the first ready update to gather more with the same
   (field, phone_number_id); one POST then carries them all, with one ``change`` per kind
   (``messages``/``statuses``/…) so ``value.contacts`` sits next to ``messages``.
3. ``due``: ``Delivery`` objects (a body plus its attempts) by next-attempt time. Anything
   but HTTP 200 (or a connection error or timeout) is retried with backoff, 0.2 s doubling
   to 5 s, until ``retry_limit_seconds`` after the first attempt; then it is given up and
   logged. A failed delivery never blocks the ones behind it, which matches Meta's
   at-least-once, unordered delivery (whatsapp.md A3).

Bodies are serialised like Meta's: compact JSON with ``ensure_ascii=True`` (non-ASCII as
lowercase ``\\uXXXX``), optionally with ``/`` escaped, and signed with
``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, body)>``. With
``duplicate_rate`` a POST is queued a second time (the same bytes) 50 ms later.

POSTs are sent one at a time; the log keeps the last 5000 deliveries with every attempt.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import ssl
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from onfile.simulator.config import BusinessNumber, SimConfig
from onfile.simulator.faults import Faults
from onfile.simulator.ids import IdFactory

log = logging.getLogger("onfile.simulator")
LOG_SIZE = 5000
DUPLICATE_DELAY = 0.05


@dataclass
class Update:
    field: str  # "messages" | "smb_message_echoes" | "history" | "smb_app_state_sync"
    number: BusinessNumber
    kind: str  # "messages" | "statuses" | "message_echoes" | "history" | "errors" | "state_sync"
    item: dict[str, Any]
    contact: dict[str, Any] | None = None
    on_emit: Callable[[], None] | None = None
    on_delivered: Callable[[], None] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.field, self.number.phone_number_id)

    def summary(self) -> str:
        if self.kind == "statuses":
            return f"status:{self.item.get('status')}:{self.item.get('id')}"
        return f"{self.kind}:{self.item.get('id', self.item.get('type', ''))}"


@dataclass
class Delivery:
    id: int
    body: bytes
    field: str
    items: list[str]
    signature: str = "valid"  # "valid" | "invalid" | "missing"
    duplicate_of: int | None = None
    state: str = "pending"  # pending | delivered | gave_up | skipped
    attempts: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    created: float = dataclasses.field(default_factory=time.time)
    first_attempt: float | None = None
    next_delay: float = 0.0
    callbacks: list[Callable[[], None]] = dataclasses.field(default_factory=list)

    def as_dict(self, with_body: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "field": self.field, "items": self.items, "state": self.state, "size": len(self.body),
            "signature": self.signature, "duplicate_of": self.duplicate_of, "created": self.created,
            "attempts": list(self.attempts),
        }
        if with_body:
            out["body"] = self.body.decode("utf-8", "replace")
        return out


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle, ~0.1 s each time."""
    return ssl.create_default_context()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def serialise(doc: Any, escape_slashes: bool = False) -> bytes:
    text = json.dumps(doc, ensure_ascii=True, separators=(",", ":"))
    if escape_slashes:
        text = text.replace("/", "\\/")
    return text.encode("ascii")


def envelope(waba_id: str, updates: list[Update]) -> dict[str, Any]:
    """The documented envelope (whatsapp.md A4) around updates of one field and one number."""
    changes: list[dict[str, Any]] = []
    for kind in dict.fromkeys(u.kind for u in updates):
        group = [u for u in updates if u.kind == kind]
        value: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": group[0].number.metadata()}
        contacts = _unique_contacts(group)
        if contacts:
            value["contacts"] = contacts
        value[kind] = [u.item for u in group]
        changes.append({"value": value, "field": group[0].field})
    return {"object": "whatsapp_business_account", "entry": [{"id": waba_id, "changes": changes}]}


def _unique_contacts(group: list[Update]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for u in group:
        if u.contact is not None:
            seen.setdefault(json.dumps(u.contact, sort_keys=True), u.contact)
    return list(seen.values())


class Deliverer:
    def __init__(self, cfg: SimConfig, ids: IdFactory, faults: Faults) -> None:
        self._cfg = cfg
        self._ids = ids
        self._faults = faults
        self._cond = threading.Condition()
        self._scheduled: list[tuple[float, int, Update]] = []
        self._ready: deque[tuple[float, Update]] = deque()
        self._due: list[tuple[float, int, Delivery]] = []
        self._log: OrderedDict[int, Delivery] = OrderedDict()
        self._seq = itertools.count()
        self._delivery_ids = itertools.count(1)
        self._inflight = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    # -- public ---------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping = False
        self._client = httpx.Client(timeout=self._cfg.webhook_timeout_seconds, verify=tls_context(),
                                    headers={"User-Agent": "facebookexternalua"})
        self._thread = threading.Thread(target=self._run, name="sim-webhook-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> list[dict[str, str]]:
        """Stop the thread; returns what was not delivered yet (bodies), for persistence."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self._cfg.webhook_timeout_seconds + 5)
        if self._client is not None:
            self._client.close()
        return self._leftovers()

    def submit(self, update: Update, delay: float = 0.0) -> None:
        with self._cond:
            heapq.heappush(self._scheduled, (time.monotonic() + delay, next(self._seq), update))
            self._cond.notify_all()

    def submit_body(self, body: bytes, field_name: str = "raw", signature: str = "valid") -> int:
        """Deliver ``body`` exactly as given (raw API, restored leftovers)."""
        d = Delivery(next(self._delivery_ids), body, field_name, [field_name], signature=signature)
        with self._cond:
            self._push(d, 0.0)
        return d.id

    def flush(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(self._idle, timeout=timeout)

    def pending(self) -> int:
        with self._cond:
            return len(self._scheduled) + len(self._ready) + len(self._due) + self._inflight

    def snapshot(self, with_body: bool = False, limit: int = 500) -> list[dict[str, Any]]:
        with self._cond:
            items = list(self._log.values())[-limit:]
            return [d.as_dict(with_body) for d in items]

    # -- the thread -------------------------------------------------------------------------------------
    def _idle(self) -> bool:
        return not (self._scheduled or self._ready or self._due or self._inflight)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = time.monotonic()
                emitted = self._promote(now)
                batch = self._take_batch(now)
                delivery = None if batch else self._pop_due(now)
                if not (emitted or batch or delivery):
                    self._cond.wait(self._next_wake(now))
                    continue
                self._inflight += 1
            try:
                self._work(emitted, batch, delivery)
            except Exception:
                log.exception("simulator delivery thread error")
            finally:
                with self._cond:
                    self._inflight -= 1
                    self._cond.notify_all()

    def _work(self, emitted: list[Update], batch: list[Update] | None, delivery: Delivery | None) -> None:
        for u in emitted:
            if u.on_emit is not None:
                u.on_emit()
        if batch:
            self._make_delivery(batch)
        if delivery is not None:
            self._attempt(delivery)

    def _promote(self, now: float) -> list[Update]:
        out = []
        while self._scheduled and self._scheduled[0][0] <= now:
            _, _, u = heapq.heappop(self._scheduled)
            self._ready.append((now, u))
            out.append(u)
        return out

    def _take_batch(self, now: float) -> list[Update] | None:
        if not self._ready:
            return None
        first_at, first = self._ready[0]
        limit = self._cfg.batch_max
        same = [u for _, u in self._ready if u.key == first.key]
        window = self._cfg.batch_window_ms / 1000 if limit > 1 else 0.0
        if len(same) < limit and now < first_at + window and not self._stopping:
            return None
        taken = same[:limit]
        ids = {id(u) for u in taken}
        self._ready = deque((t, u) for t, u in self._ready if id(u) not in ids)
        return taken

    def _pop_due(self, now: float) -> Delivery | None:
        if self._due and self._due[0][0] <= now:
            return heapq.heappop(self._due)[2]
        return None

    def _next_wake(self, now: float) -> float | None:
        times = []
        if self._scheduled:
            times.append(self._scheduled[0][0])
        if self._due:
            times.append(self._due[0][0])
        if self._ready:
            times.append(self._ready[0][0] + self._cfg.batch_window_ms / 1000)
        return max(0.001, min(times) - now) if times else None

    def _push(self, d: Delivery, delay: float) -> None:
        self._log[d.id] = d
        while len(self._log) > LOG_SIZE:
            self._log.popitem(last=False)
        heapq.heappush(self._due, (time.monotonic() + delay, next(self._seq), d))
        self._cond.notify_all()

    def _make_delivery(self, batch: list[Update]) -> None:
        body = serialise(envelope(self._cfg.waba_id, batch), self._cfg.escape_slashes)
        d = Delivery(next(self._delivery_ids), body, batch[0].field, [u.summary() for u in batch])
        d.callbacks = [u.on_delivered for u in batch if u.on_delivered is not None]
        with self._cond:
            self._push(d, 0.0)
            if self._cfg.duplicate_rate and self._ids.random() < self._cfg.duplicate_rate:
                dup = Delivery(next(self._delivery_ids), body, d.field, d.items, duplicate_of=d.id)
                self._push(dup, DUPLICATE_DELAY)

    # -- one attempt ---------------------------------------------------------------------------------------
    def _attempt(self, d: Delivery) -> None:
        start = time.monotonic()
        if d.first_attempt is None:
            d.first_attempt = start
        if not self._cfg.webhook_url:
            d.state = "skipped"
            d.attempts.append({"at": time.time(), "status": None, "latency_ms": 0.0, "error": "no webhook url"})
            return
        status: int | None
        error: str | None
        if self._faults.take("webhook_drop"):
            status, error = None, "dropped (fault injection)"
        else:
            status, error = self._post(d)
        latency = round((time.monotonic() - start) * 1000, 1)
        d.attempts.append({"at": time.time(), "status": status, "latency_ms": latency, "error": error})
        if status == 200:
            d.state = "delivered"
            for callback in d.callbacks:
                callback()
        else:
            self._retry_or_give_up(d)

    def _post(self, d: Delivery) -> tuple[int | None, str | None]:
        headers = {"Content-Type": "application/json"}
        if d.signature != "missing":
            secret = self._cfg.app_secret if d.signature == "valid" else self._cfg.app_secret + "-wrong"
            headers["X-Hub-Signature-256"] = sign(secret, d.body)
        assert self._client is not None
        try:
            response = self._client.post(self._cfg.webhook_url, content=d.body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None if response.status_code == 200 else response.text[:200]

    def _retry_or_give_up(self, d: Delivery) -> None:
        elapsed = time.monotonic() - (d.first_attempt or time.monotonic())
        if self._stopping:  # keep it for the next run (persisted as a leftover)
            with self._cond:
                heapq.heappush(self._due, (time.monotonic(), next(self._seq), d))
            return
        if not self._cfg.retry or elapsed > self._cfg.retry_limit_seconds:
            d.state = "gave_up"
            log.warning("webhook delivery %s given up after %d attempts", d.id, len(d.attempts))
            return
        cfg = self._cfg
        d.next_delay = min(d.next_delay * 2, cfg.retry_max_seconds) if d.next_delay else cfg.retry_initial_seconds
        with self._cond:
            self._push(d, d.next_delay)

    def _leftovers(self) -> list[dict[str, str]]:
        with self._cond:
            updates = [u for _, _, u in sorted(self._scheduled)] + [u for _, u in self._ready]
            deliveries = [d for _, _, d in sorted(self._due, key=lambda x: x[0])]
            self._scheduled, self._ready, self._due = [], deque(), []
        for u in updates:
            if u.on_emit is not None:
                u.on_emit()
        out = [{"field": d.field, "body_b64": base64.b64encode(d.body).decode(), "signature": d.signature}
               for d in deliveries if d.duplicate_of is None]
        for u in updates:
            body = serialise(envelope(self._cfg.waba_id, [u]), self._cfg.escape_slashes)
            out.append({"field": u.field, "body_b64": base64.b64encode(body).decode(), "signature": "valid"})
        return out
