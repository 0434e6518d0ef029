"""The long-running worker makes exports on a thread of their own: a transcript that takes
WeasyPrint a minute must not hold up captured messages, sends and emails (the worker's round)."""

from __future__ import annotations

import threading
import time
from typing import Any

from onfile.ops.worker import Worker


def test_a_long_export_does_not_hold_up_the_workers_round(monkeypatch: Any) -> None:
    monkeypatch.setattr("signal.signal", lambda *args: None)  # run() is not on the main thread here
    exporting, release = threading.Event(), threading.Event()
    rounds: list[float] = []
    exports_on: list[str] = []

    def long_export(self: Worker) -> int:
        exports_on.append(threading.current_thread().name)
        exporting.set()
        release.wait(10)  # a long PDF
        return 1

    def one_round(self: Worker) -> int:
        rounds.append(time.monotonic())
        assert self.exports_on_thread  # the round leaves exports to their thread
        return 1

    monkeypatch.setattr(Worker, "exports", long_export)
    monkeypatch.setattr(Worker, "run_once", one_round)
    worker = Worker()
    runner = threading.Thread(target=worker.run, kwargs={"poll_seconds": 0.05}, daemon=True)
    runner.start()
    try:
        assert exporting.wait(5)
        before = len(rounds)
        deadline = time.monotonic() + 8  # the export is held for 10 s
        while len(rounds) - before < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(rounds) - before >= 3  # rounds went on while the export was being made
        assert not release.is_set()
    finally:
        release.set()
        worker.stopping = True
        runner.join(5)
    assert not runner.is_alive()
    assert exports_on and set(exports_on) == {"onfile-exports"}


def test_a_single_round_makes_an_export_in_turn(monkeypatch: Any) -> None:
    calls: list[str] = []

    def step(name: str, work: int) -> Any:
        def run(self: Worker) -> int:
            calls.append(name)
            return work
        return run

    for name in ("whatsapp", "email", "imap", "wal_checkpoint", "checkpoint_if_due", "verify_if_due",
                 "reconcile_if_due"):
        monkeypatch.setattr(Worker, name, step(name, 0))
    monkeypatch.setattr(Worker, "exports", step("exports", 1))
    monkeypatch.setattr("onfile.ops.worker.close_old_connections", lambda: None)
    assert Worker().run_once() == 1  # `onfile worker --once`: nothing on a thread
    assert "exports" in calls
