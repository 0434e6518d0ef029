"""Fault injection counters: the next n Graph calls fail, the next n webhook POSTs are lost.

Design: a dict of counters behind a lock. ``take(kind)`` consumes one if any is left and
says whether this call must fail. ``POST /_sim/faults`` sets the counters (absent keys
are left alone); ``GET /_sim/faults`` shows what is left.
"""

from __future__ import annotations

import threading

KINDS = ("graph_500", "graph_429", "graph_timeout", "webhook_drop")


class Faults:
    def __init__(self) -> None:
        self._left = dict.fromkeys(KINDS, 0)
        self._lock = threading.Lock()

    def set(self, values: dict[str, object]) -> dict[str, int]:
        unknown = set(values) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {', '.join(sorted(unknown))}; known: {', '.join(KINDS)}")
        with self._lock:
            for kind, n in values.items():
                if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                    raise ValueError(f"{kind} must be a non-negative integer")
                self._left[kind] = n
            return dict(self._left)

    def take(self, kind: str) -> bool:
        with self._lock:
            if self._left[kind] > 0:
                self._left[kind] -= 1
                return True
            return False

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._left)
