"""Webhook load test: signed POSTs at ``onfile serve`` over loopback from a separate process.

Starts onfile (SQLite by default, a fresh archive, no worker so that only the capture path is
measured — the worker's processing is asynchronous by design) and drives it with signed
webhook bodies of one text message each, first closed-loop (N connections as fast as they
go: the ceiling), then open-loop at a fixed rate (the latency an arrival rate sees). Every 200
must correspond to a durable capture: after the run the number of ``capture.webhook``
entries is compared with the number of 200s.

    python bench/webhooks.py [--seconds 15] [--rate 1000] [--connections 32] [--workers 2] [--database-url …]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SECRET = "bench-app-secret"
ROOT = Path(__file__).resolve().parents[1]


def body(n: int) -> bytes:
    doc = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Load Test"}, "wa_id": f"4477009{n % 100000:05d}"}],
            "messages": [{"from": f"4477009{n % 100000:05d}", "id": f"wamid.BENCH{n:012d}", "timestamp": "1767261600",
                          "type": "text", "text": {"body": f"load test message {n} " + "x" * 600}}]}}]}]}
    return json.dumps(doc).encode()


def signed(n: int) -> tuple[bytes, dict[str, str]]:
    data = body(n)
    sig = "sha256=" + hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()
    return data, {"X-Hub-Signature-256": sig, "Content-Type": "application/json"}


async def closed_loop(url: str, seconds: float, connections: int) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    ok = errors = 0
    counter = iter(range(10**9))
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def one_connection() -> None:
            nonlocal ok, errors
            while time.perf_counter() < stop:
                data, headers = signed(next(counter))
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=data, headers=headers)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                ok, errors = (ok + 1, errors) if response.status_code == 200 else (ok, errors + 1)
        await asyncio.gather(*(one_connection() for _ in range(connections)))
    return latencies, ok, errors


async def open_loop(url: str, seconds: float, rate: float, start_at: int) -> tuple[list[float], int, int, float]:
    latencies: list[float] = []
    ok = errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def one(n: int, due: float) -> None:
            nonlocal ok, errors
            data, headers = signed(n)
            try:
                response = await client.post(url, content=data, headers=headers)
            except httpx.HTTPError:
                errors += 1
                return
            latencies.append(time.perf_counter() - due)  # from when it should have been sent
            ok, errors = (ok + 1, errors) if response.status_code == 200 else (ok, errors + 1)
        tasks = []
        begin = time.perf_counter()
        total = int(seconds * rate)
        for i in range(total):
            due = begin + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(start_at + i, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    return latencies, ok, errors, elapsed


def write_wrk_script(path: Path) -> None:
    """A wrk script posting one signed body: Python cannot generate this load on two cores."""
    data, headers = signed(777)
    body_path = path.with_suffix(".json")
    body_path.write_bytes(data)
    path.write_text(f'wrk.method = "POST"\nwrk.body = io.open("{body_path}"):read("*a")\n'
                    f'wrk.headers["Content-Type"] = "application/json"\n'
                    f'wrk.headers["X-Hub-Signature-256"] = "{headers["X-Hub-Signature-256"]}"\n')


def run_wrk(url: str, seconds: float, connections: int) -> dict[str, object]:
    """Closed loop with wrk (C, two threads): N connections posting as fast as answers come."""
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "-s", "/tmp/wh.lua", "--latency",
                          url], check=True, capture_output=True, text=True).stdout

    def ms(label: str) -> float:
        for line in out.splitlines():
            parts = line.split()
            if parts and parts[0] == label:
                value = parts[1]
                factor = 1000.0 if value.endswith("s") and not value.endswith("ms") and not value.endswith("us") \
                    else 0.001 if value.endswith("us") else 1.0
                return round(float(value.rstrip("mus")) * factor, 1)
        return float("nan")

    total = int(next(line.split()[0] for line in out.splitlines() if "requests in" in line))
    non2xx = sum(int(line.split()[-1]) for line in out.splitlines() if "Non-2xx" in line)
    errors = sum(int(n) for line in out.splitlines() if line.strip().startswith("Socket errors")
                 for n in [p.split()[-1] for p in line.split(",")])
    return {"requests_per_s": round(total / seconds), "p50_ms": ms("50%"), "p90_ms": ms("90%"), "p99_ms": ms("99%"),
            "ok": total - non2xx, "errors": non2xx + errors, "connections": connections, "tool": "wrk"}


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))] * 1000 if values else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_onfile(data_dir: str, port: int, workers: int, database_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ONFILE_DATA_DIR": data_dir, "ONFILE_WHATSAPP_APP_SECRET": SECRET,
           "ONFILE_WHATSAPP_ACCESS_TOKEN": "bench", "ONFILE_LOG_LEVEL": "WARNING"}
    if database_url:
        env["ONFILE_DATABASE_URL"] = database_url
    onfile = [sys.executable, "-m", "onfile.cli"]
    subprocess.run([*onfile, "init", "--generate-password"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([*onfile, "serve", "--port", str(port), "--workers", str(workers), "--no-worker",
                             "--no-access-log"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("onfile did not start")


def captured(data_dir: str, database_url: str) -> int:
    env = {**os.environ, "ONFILE_DATA_DIR": data_dir}
    if database_url:
        env["ONFILE_DATABASE_URL"] = database_url
    out = subprocess.run([sys.executable, "-c", "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE',"
                          "'onfile.settings'); django.setup(); from onfile.ledger.models import Entry; "
                          "print(Entry.objects.filter(kind='capture.webhook').count())"],
                         env=env, check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--tool", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python",
                        help="closed-loop driver: wrk (apt install wrk; default when present) or httpx")
    parser.add_argument("--no-open-loop", action="store_true", help="skip the Python fixed-rate run")
    args = parser.parse_args()
    write_wrk_script(Path("/tmp/wh.lua"))
    data_dir = tempfile.mkdtemp(prefix="onfile-webhook-bench-")
    port = free_port()
    proc = start_onfile(data_dir, port, args.workers, args.database_url)
    url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
    try:
        if args.tool == "wrk":
            closed = run_wrk(url, args.seconds, args.connections)
            ok = int(closed["ok"])  # type: ignore[call-overload]
        else:
            lat, ok, errors = asyncio.run(closed_loop(url, args.seconds, args.connections))
            closed = {"requests_per_s": round(ok / args.seconds), "p50_ms": round(pct(lat, 0.5), 1),
                      "p99_ms": round(pct(lat, 0.99), 1), "ok": ok, "errors": errors, "tool": "httpx"}
        ok2, opened = 0, {}
        if not args.no_open_loop:
            lat2, ok2, errors2, elapsed = asyncio.run(open_loop(url, args.seconds, args.rate, 10**8))
            opened = {"target_per_s": args.rate, "achieved_per_s": round(ok2 / elapsed),
                      "p50_ms": round(pct(lat2, 0.5), 1), "p99_ms": round(pct(lat2, 0.99), 1), "ok": ok2,
                      "errors": errors2}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    stored = captured(data_dir, args.database_url)
    print(json.dumps({"database": "PostgreSQL" if args.database_url else "SQLite", "web_workers": args.workers,
                      "closed_loop": closed, "open_loop": opened, "acknowledged": ok + ok2,
                      "captured": stored, "every_200_captured": stored >= ok + ok2}, indent=1))
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
