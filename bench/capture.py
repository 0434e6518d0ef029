"""Raw capture throughput: durable captures per second of 1 KB payloads (issue 2).

Each capture is what a webhook does before answering 200: seal the bytes under a fresh
data key, insert the blob and its ledger entry, commit (fsync). One writer process, then
two at once (the machine has two cores), then 32 threads through the webhook path's group
commit (each capture still waits for the durable commit that holds it).

    python bench/capture.py [--count 5000] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _capture_loop(count: int, payload: bytes) -> float:
    from onfile.ledger.actions import do_capture

    started = time.perf_counter()
    for i in range(count):
        do_capture(payload, kind="capture.bench", actor="bench", attrs={"i": i})
    return time.perf_counter() - started


def _child(count: int, payload: bytes, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import django
    from django.db import connections

    django.setup()
    connections.close_all()
    queue.put(_capture_loop(count, payload))


def _group_commit(count: int, payload: bytes) -> int:
    import threading

    from django.conf import settings
    from django.db import connections

    from onfile.channels.whatsapp.webhook import capture

    settings.WEBHOOK_GROUP_COMMIT = True
    per_thread = count // 32

    def work() -> None:
        for _ in range(per_thread):
            capture(payload, "sha256=bench", "application/json")
        connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(32)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return round(per_thread * 32 / (time.perf_counter() - started))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    from bench.archive import setup

    label = setup(args.database_url)
    payload = os.urandom(512).hex().encode()  # 1 KB
    _capture_loop(200, payload)  # warm up
    single = _capture_loop(args.count, payload)
    from django.db import connections

    connections.close_all()
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child, args=(args.count // 2, payload, queue)) for _ in range(2)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    wall = time.perf_counter() - started
    group = _group_commit(args.count, payload)
    from onfile.ledger.verify import verify

    report = verify()
    result = {
        "database": label,
        "payload_bytes": len(payload),
        "one_writer_captures_per_s": round(args.count / single),
        "two_writers_captures_per_s": round((args.count // 2) * 2 / wall),
        "group_commit_32_threads_captures_per_s": group,
        "verify_ok_afterwards": report.ok,
        "entries": report.entries,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
