"""The simulated clock: real time plus an offset.

Design: the offset (seconds) is the only state. When ``--clock-file`` is set, the file is
the source of truth and is shared with onfile in demo mode (``ONFILE_CLOCK_OFFSET_FILE``):
it holds one ASCII number. The simulator writes it atomically when the clock is advanced,
and re-reads it whenever its mtime changes, so an edit made by someone else is seen too.
Every timestamp the simulator emits (webhooks, the 24-hour window, media URL expiry)
comes from ``now()``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


class SimClock:
    def __init__(self, clock_file: str | None = None, offset: float = 0.0) -> None:
        self._path = Path(clock_file) if clock_file else None
        self._offset = float(offset)
        self._mtime: float | None = None
        self._lock = threading.Lock()
        if self._path is not None:
            if self._path.exists():
                self._reload()
            else:
                self._write()

    @property
    def offset(self) -> float:
        with self._lock:
            self._reload_if_changed()
            return self._offset

    def now(self) -> float:
        return time.time() + self.offset

    def now_s(self) -> int:
        return int(self.now())

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._reload_if_changed()
            self._offset += float(seconds)
            self._write()
            return self._offset

    def set_offset(self, seconds: float) -> float:
        with self._lock:
            self._offset = float(seconds)
            self._write()
            return self._offset

    def _reload_if_changed(self) -> None:
        if self._path is None:
            return
        try:
            mtime = self._path.stat().st_mtime
        except OSError:
            return
        if mtime != self._mtime:
            self._reload()

    def _reload(self) -> None:
        assert self._path is not None
        try:
            self._mtime = self._path.stat().st_mtime
            self._offset = float(self._path.read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError):
            pass

    def _write(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        text = str(int(self._offset)) if self._offset == int(self._offset) else repr(self._offset)
        tmp.write_text(text + "\n", encoding="ascii")
        os.replace(tmp, self._path)
        self._mtime = self._path.stat().st_mtime
