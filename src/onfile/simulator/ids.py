"""Identifiers the Cloud API hands out: wamids, media ids, challenges.

Design: one ``IdFactory`` per simulator, seeded by ``--seed`` and guarded by a lock, so a
seeded run produces the same ids in the same order. A wamid is ``wamid.`` followed by
base64 of a small binary record that embeds the user's wa_id, mimicking the real ones;
consumers must treat it as opaque (whatsapp.md A4). Media ids are 15-16 digit strings.
"""

from __future__ import annotations

import base64
import random
import threading


class IdFactory:
    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def random(self) -> float:
        with self.lock:
            return self.rng.random()

    def wamid(self, wa_id: str, outbound: bool) -> str:
        with self.lock:
            tail = "".join(self.rng.choice("0123456789ABCDEF") for _ in range(20)).encode()
        user = (wa_id or "0").encode()[:40]
        raw = b"\x1c\x18" + bytes([len(user)]) + user + b"\x15\x02\x00" + (b"\x11" if outbound else b"\x12")
        raw += b"\x18" + bytes([len(tail)]) + tail + b"\x00"
        return "wamid." + base64.b64encode(raw).decode("ascii")

    def media_id(self) -> str:
        with self.lock:
            return str(self.rng.randrange(10**15, 10**16))

    def token(self, n: int = 16) -> str:
        with self.lock:
            return "".join(self.rng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(n))
