"""The email bridge (issue 6): forwarding throughput and reply latency, against real servers on loopback.

**Forwarding throughput** (goal ≥ 200 emails/s). A throw-away archive (a temporary data
directory; SQLite, or the PostgreSQL database given) gets N inbound WhatsApp messages the normal
way: the WhatsApp simulator (in this process) makes each client message, its signed webhook body
goes through the webhook capture (``webhook.receive``, what ``/webhooks/whatsapp`` calls), then
``process_pending`` records the items and queues their ``email.forward`` (and, with
ONFILE_JOURNAL_ADDRESS, ``email.journal``) outbox items, and ``fetch_media`` fetches images from the
simulator's Graph API. Then the worker's email step, ``deliver_emails()``, runs in a loop until it
finds nothing left, against a local SMTP sink (aiosmtpd in a process of its own, accepting and
discarding, counting) — only that drain is timed. One run per scenario: text only, with journal
copies, with a 200 KB image on every ``--media-every``-th message, and both.

**Reply latency** (goal p95 < 2 s). The real ``onfile smtpd`` (a subprocess) on the same archive;
a member of staff assigned to ``--conversations`` conversations whose 24-hour window is open (the
clients wrote minutes ago) replies by email to ``reply+TOKEN@…`` with valid tokens, through
smtplib: ``--replies`` at a steady ``--rate`` (open loop, over ``--connections`` SMTP connections),
then a burst of ``--burst`` at once (over ``--burst-connections``), then ``--pdf-replies`` replies
with a 1 MB PDF attached, one after the other. Latency runs from the start of the client's SMTP
transaction (MAIL FROM, the start of what ``sendmail`` does) to the ``whatsapp.send_requested``
ledger entry of that reply: (a) first seen by a poller in this process (a query every
``--poll-ms``), (b) the entry's own timestamp (written by smtpd before its commit), and (c) the
SMTP transaction alone (smtpd answers 250 only after the commit). The reply's 250 names its capture
entry, which ``email.reply_sent`` links to its ``whatsapp.send_requested`` entries.

    python bench/email_bridge.py                                    # SQLite, 2,000 messages per scenario
    python bench/email_bridge.py --messages 500 --replies 100 --burst 50
    python bench/email_bridge.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

With ``--database-url``, a new database is made beside the one named (and dropped at exit), as
``bench/archive.py`` does for every benchmark. Prints Markdown tables; writes everything to
``bench/out/email-<database>.json``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import hashlib
import hmac
import json
import platform
import queue
import random
import re
import shutil
import signal
import smtplib
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
SECRET, TOKEN, PNID, WABA = "bench-app-secret", "bench-token", "106540352242922", "102290129340398"
FROM, FALLBACK, JOURNAL = "whatsapp@firm.example", "unassigned@firm.example", "journal@archive.example"
DOMAIN, REPLY_DOMAIN = "onfile.firm.example", "reply.firm.example"
STAFF = "fee.earner@firm.example"

# The firm's relay: accepts everything, keeps nothing, counts (a process of its own, so that it does
# not share the benchmark's interpreter). The counts are rewritten before each 250.
SINK = r"""
import asyncio, json, signal, sys
from aiosmtpd.smtp import SMTP

port, path = int(sys.argv[1]), sys.argv[2]


class Sink:
    def __init__(self):
        self.stats = {"emails": 0, "bytes": 0, "recipients": {}}

    async def handle_DATA(self, server, session, envelope):
        s = self.stats
        s["emails"] += 1
        s["bytes"] += len(envelope.content)
        for r in envelope.rcpt_tos:
            s["recipients"][r] = s["recipients"].get(r, 0) + 1
        with open(path, "w") as f:
            json.dump(s, f)
        return "250 2.0.0 Ok: queued as S%d" % s["emails"]


async def main():
    sink = Sink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink, hostname="relay.bench", ident="bench sink"),
                                      "127.0.0.1", port)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(-(-p * len(ordered) // 100)) - 1))]


def png(width: int = 256, height: int = 267, seed: int = 5) -> bytes:
    """A real PNG of random pixels (does not compress): 256 × 267 RGB ≈ 200 KB."""
    rng = random.Random(seed)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b""))


def pdf(size: int = 1_000_000, seed: int = 7) -> bytes:
    body = random.Random(seed).randbytes(size - 40)
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + body + b"\n%%EOF\n"


class LoadSampler:
    """The 1-minute load average every few seconds while the benchmark runs."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(every)

    def start(self) -> LoadSampler:
        self._thread.start()
        return self

    def window(self, since: int) -> list[float]:
        return self.samples[since:] or self.samples[-1:]

    def stop(self) -> None:
        self._stop.set()


# ---- the archive ---------------------------------------------------------------------------------------------


def setup(args: argparse.Namespace, sink_port: int, sim_url: str) -> str:
    """onfile configured for the relay on loopback, then a throw-away archive (``bench.archive``:
    a temporary data directory and, on PostgreSQL, a new database, both removed at exit)."""
    os.environ.update({
        "ONFILE_SMTP_HOST": "127.0.0.1", "ONFILE_SMTP_PORT": str(sink_port), "ONFILE_SMTP_SECURITY": "none",
        "ONFILE_EMAIL_FROM": FROM, "ONFILE_EMAIL_FALLBACK": FALLBACK, "ONFILE_EMAIL_DOMAIN": DOMAIN,
        "ONFILE_EMAIL_REPLY_DOMAIN": REPLY_DOMAIN, "ONFILE_EMAIL_MAX_ATTACHMENT_MB": "10",
        "ONFILE_EMAIL_BURST_SECONDS": "0", "ONFILE_JOURNAL_MODE": "message", "ONFILE_JOURNAL_ADDRESS": "",
        "ONFILE_PUBLIC_URL": "https://onfile.firm.example", "ONFILE_WHATSAPP_GRAPH_URL": sim_url,
        "ONFILE_WHATSAPP_APP_SECRET": SECRET, "ONFILE_WHATSAPP_ACCESS_TOKEN": TOKEN,
        "ONFILE_WHATSAPP_WABA_ID": WABA})
    for name in ("ONFILE_CLOCK_OFFSET_FILE", "ONFILE_EMAIL_AUTHSERV_ID", "ONFILE_EMAIL_WINDOW_TEMPLATE"):
        os.environ.pop(name, None)
    from bench import archive

    return archive.setup(args.database_url)


def webhook_body(message: dict[str, Any], wa_id: str, name: str) -> bytes:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
             "contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [
        {"field": "messages", "value": value}]}]}).encode()


@dataclass
class Scenario:
    name: str
    journal: bool
    media_every: int  # every n-th message carries the image; 0: none


@dataclass
class Build:
    messages: int
    images: int
    seconds: float
    forwards: int
    journals: int


def make_messages(sim: Any, count: int, first_client: int, clients: int, media_every: int,
                  image_id: str) -> tuple[int, float]:
    """``count`` client messages through the webhook capture and the worker's processing; images
    fetched from the simulator. Returns (images, seconds)."""
    from onfile.channels.whatsapp.processing import fetch_media, process_pending
    from onfile.channels.whatsapp.webhook import receive

    started = time.perf_counter()
    images = 0
    for i in range(count):
        client = first_client + i % clients
        phone, name = f"+4477009{client:05d}", f"Client {client}"
        if media_every and i % media_every == media_every - 1:
            spec = {"type": "image", "media_id": image_id, "caption": f"photo {i} of the signed page"}
            images += 1
        else:
            spec = {"type": "text", "text": f"Message {i}: I have read the draft lease and have a question about "
                                            f"clause {i % 40 + 1} and the deposit. " + "Regards. " * (i % 5)}
        made = sim._core().inbound({"from": phone, "name": name, **spec})
        raw = webhook_body(made["message"], phone[1:], name)
        signature = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        status, text = receive(raw, signature, "application/json", "127.0.0.1")
        if status != 200:
            raise SystemExit(f"webhook refused: {status} {text}")
        if i % 50 == 49:
            process_pending(100)
        if (i + 1) % 200 == 0:
            print(f"\r  {i + 1:,} messages", end="", file=sys.stderr, flush=True)
    while process_pending(100):
        pass
    while fetch_media(50):
        pass
    print(file=sys.stderr)
    return images, time.perf_counter() - started


def outbox_counts() -> dict[str, dict[str, int]]:
    from django.db.models import Count

    from onfile.outbox.models import OutboxItem

    out: dict[str, dict[str, int]] = {}
    for row in OutboxItem.objects.values("kind", "status").annotate(n=Count("pk")):
        out.setdefault(row["kind"], {})[row["status"]] = row["n"]
    return out


def entry_count(kind: str) -> int:
    from onfile.ledger.models import Entry

    return Entry.objects.filter(kind=kind).count()


def sink_stats(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {"emails": 0, "bytes": 0, "recipients": {}}


def forwarding(args: argparse.Namespace, sim: Any, stats_path: Path, load: LoadSampler) -> list[dict[str, Any]]:
    from django.conf import settings

    from onfile.channels.email.delivery import deliver_emails

    image = sim._core().media.add(png(), "image/png", origin="client", now=time.time(), phone_number_id=PNID)
    scenarios = [Scenario("text", False, 0), Scenario("text + journal copies", True, 0),
                 Scenario(f"1 in {args.media_every} with a 200 KB image", False, args.media_every),
                 Scenario(f"1 in {args.media_every} with a 200 KB image + journal copies", True, args.media_every)]
    if args.no_media:
        scenarios = scenarios[:2]
    rows = []
    for n, sc in enumerate(scenarios):
        print(f"forwarding, {sc.name}: building {args.messages:,} messages", file=sys.stderr)
        settings.JOURNAL_ADDRESS = JOURNAL if sc.journal else ""
        images, build_s = make_messages(sim, args.messages, 1000 * (n + 1), args.clients, sc.media_every, image.id)
        queued = outbox_counts()
        pending = {k: v.get("pending", 0) for k, v in queued.items() if v.get("pending")}
        before_sink = sink_stats(stats_path)
        before_sent = {k: entry_count(k) for k in ("email.forward_sent", "email.journal_sent")}
        time.sleep(1)
        mark = len(load.samples)
        loads = [os.getloadavg()[0]]
        started, cpu = time.perf_counter(), time.process_time()
        rounds = delivered = 0
        while True:
            did = deliver_emails()
            if not did:
                break
            delivered += did
            rounds += 1
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        loads += [*load.window(mark), os.getloadavg()[0]]
        after_sink = sink_stats(stats_path)
        sent = {k: entry_count(k) - before_sent[k] for k in before_sent}
        left = {k: v for k, v in outbox_counts().items() if k.startswith("email.")}
        received = after_sink["emails"] - before_sink["emails"]
        row = {"scenario": sc.name, "messages": args.messages, "images": images, "build_seconds": round(build_s, 1),
               "queued": pending, "delivered_items": delivered, "forward_sent": sent["email.forward_sent"],
               "journal_sent": sent["email.journal_sent"], "seconds": round(seconds, 3),
               "emails_per_s": round((sent["email.forward_sent"] + sent["email.journal_sent"]) / seconds, 1),
               "worker_cpu_seconds": round(cpu, 2),
               "emails_per_worker_cpu_s": round((sent["email.forward_sent"] + sent["email.journal_sent"]) / cpu, 1),
               "relay_received": received, "relay_mb": round((after_sink["bytes"] - before_sink["bytes"]) / 1e6, 1),
               "outbox_after": left, "load": [round(min(loads), 2), round(max(loads), 2)]}
        row["every_email_arrived"] = received == row["forward_sent"] + row["journal_sent"] and not any(
            v.get("pending") or v.get("failed") or v.get("leased") for v in left.values())
        rows.append(row)
        print(f"  {row['forward_sent'] + row['journal_sent']:,} emails in {seconds:.2f} s = "
              f"{row['emails_per_s']:,.0f}/s; relay received {received:,}; load {row['load']}", file=sys.stderr)
    settings.JOURNAL_ADDRESS = ""
    return rows


# ---- replies by email ----------------------------------------------------------------------------------------


@dataclass
class Job:
    raw: bytes
    to: str
    label: str


@dataclass
class Result:
    label: str
    due: float  # wall clock
    started: float  # wall clock, MAIL FROM
    smtp_seconds: float
    code: int
    reply: str
    capture: int | None


@dataclass
class Poller:
    """Notes, from this process, when each ``whatsapp.send_requested`` entry becomes visible."""

    every: float
    seen: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Poller:
        from onfile.ledger.models import Entry

        last = Entry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

        def run() -> None:
            from django.db import connection

            nonlocal last
            try:
                while not self._stop.is_set():
                    rows = list(Entry.objects.filter(seq__gt=last).values_list("seq", "kind"))
                    now = time.time()
                    for seq, kind in rows:
                        last = max(last, seq)
                        if kind == "whatsapp.send_requested":
                            self.seen[seq] = now
                    self._stop.wait(self.every)
            finally:
                connection.close()

        self._thread = threading.Thread(target=run, daemon=True, name="poller")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def reply_mail(token: str, n: int, label: str, attachment: bytes | None = None) -> Job:
    to = f"reply+{token}@{REPLY_DOMAIN}"
    msg = EmailMessage()
    msg["From"] = f"Fee Earner <{STAFF}>"
    msg["To"] = to
    msg["Subject"] = "Re: WhatsApp: Client (+447700900123)"
    msg["Date"] = formatdate()
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@firm.example>"
    msg["In-Reply-To"] = f"<wa.{n}@{DOMAIN}>"
    quoted = "".join(f"> {line}\n" for line in (
        "Message 12: I have read the draft lease and have a question about clause 13", "and the deposit.",
        "", "--", f"Reply to this email to answer on WhatsApp. https://onfile.firm.example/conversations/{n}/"))
    msg.set_content(f"Thank you. Reply {n} ({label}): clause 13 is standard; the deposit is held by us until "
                    f"completion.\n\nKind regards,\nFee Earner\n\nOn Monday, Client via WhatsApp wrote:\n{quoted}")
    if attachment is not None:
        msg.add_attachment(attachment, "application", "pdf", filename="signed-lease.pdf")
    return Job(msg.as_bytes(policy=policy.SMTP), to, label)


RECORDED = re.compile(r"recorded as entry (\d+)")


def transaction_(smtp: smtplib.SMTP, job: Job, due: float) -> Result:
    started = time.time()
    t0 = time.perf_counter()
    code, reply = smtp.mail(STAFF)
    if code == 250:
        code, reply = smtp.rcpt(job.to)
    if code in (250, 251):
        code, reply = smtp.data(job.raw)
    seconds = time.perf_counter() - t0
    text = reply.decode("utf-8", "replace")
    found = RECORDED.search(text)
    if code != 250:
        smtp.rset()
    return Result(job.label, due, started, seconds, code, text, int(found.group(1)) if found else None)


def drive(port: int, jobs: list[Job], connections: int, rate: float | None) -> list[Result]:
    """Send ``jobs`` over ``connections`` SMTP sessions: at ``rate`` per second (open loop: each
    one is due at its time whoever is free), or all at once (``rate=None``)."""
    todo: queue.Queue[tuple[float, Job]] = queue.Queue()
    begin = time.time() + 0.3
    for i, job in enumerate(jobs):
        todo.put((begin + (i / rate if rate else 0.0), job))
    results: list[Result] = []
    lock = threading.Lock()
    sessions = []
    for _ in range(min(connections, len(jobs))):
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=120)
        smtp.ehlo("gateway.firm.example")
        sessions.append(smtp)

    def worker(smtp: smtplib.SMTP) -> None:
        while True:
            try:
                due, job = todo.get_nowait()
            except queue.Empty:
                break
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            result = transaction_(smtp, job, due)
            with lock:
                results.append(result)
        smtp.quit()

    threads = [threading.Thread(target=worker, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def start_smtpd(port: int, log_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "ONFILE_LOG_LEVEL": "WARNING", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, "-m", "onfile.cli", "smtpd", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=log_path.open("w"), text=True)
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    if "listening" not in banner:
        proc.kill()
        raise SystemExit(f"onfile smtpd did not start: {banner}\n{log_path.read_text()}")
    return proc


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen[Any]) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def links() -> tuple[dict[int, list[int]], dict[int, float], dict[str, int]]:
    """capture seq → its send_requested seqs; send_requested seq → entry time; reply outcomes."""
    from onfile.ledger.models import Entry

    keys: dict[str, tuple[int, float]] = {}
    for seq, attrs, when in Entry.objects.filter(kind="whatsapp.send_requested").values_list("seq", "attrs", "time"):
        keys[json.loads(attrs)["key"]] = (seq, datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp())
    by_capture: dict[int, list[int]] = {}
    for attrs in Entry.objects.filter(kind="email.reply_sent").values_list("attrs", flat=True):
        a = json.loads(attrs)
        by_capture[int(a["capture"])] = [keys[k.removeprefix("out:")][0] for k in a["messages"]
                                         if k.removeprefix("out:") in keys]
    times = {seq: at for seq, at in keys.values()}
    outcomes = {kind: entry_count(kind) for kind in ("email.reply_sent", "email.reply_held", "email.reply_refused",
                                                       "email.reply_ignored", "email.reply_duplicate")}
    return by_capture, times, outcomes


def summarise(name: str, results: list[Result], by_capture: dict[int, list[int]], entry_time: dict[int, float],
              seen: dict[int, float], burst_start: float | None = None) -> dict[str, Any]:
    visible, stamped, smtp, from_due, late, missing = [], [], [], [], [], 0
    for r in results:
        seqs = by_capture.get(r.capture or -1, [])
        if r.code != 250 or not seqs or any(s not in seen for s in seqs):
            missing += 1
            continue
        at_seen = max(seen[s] for s in seqs)
        visible.append(at_seen - r.started)
        stamped.append(max(entry_time[s] for s in seqs) - r.started)
        smtp.append(r.smtp_seconds)
        from_due.append(at_seen - r.due)
        late.append(r.started - r.due)

    def stats(values: list[float]) -> dict[str, float]:
        return {"p50": round(pct(values, 50) * 1000, 1), "p95": round(pct(values, 95) * 1000, 1),
                "p99": round(pct(values, 99) * 1000, 1), "max": round(max(values, default=float("nan")) * 1000, 1)}

    out = {"scenario": name, "replies": len(results), "ok": len(visible), "missing": missing,
           "to_visible_ms": stats(visible), "to_entry_time_ms": stats(stamped), "smtp_ms": stats(smtp),
           "late_start_ms_max": round(max(late, default=0.0) * 1000, 1),
           "codes": sorted({r.code for r in results})}
    if burst_start is not None:
        out["from_burst_start_ms"] = stats(from_due)
        out["burst_seconds"] = round(max((r.started + r.smtp_seconds for r in results), default=0) - burst_start, 2)
    return out


def replies(args: argparse.Namespace, load: LoadSampler) -> dict[str, Any]:
    from django.db import connections

    from onfile.accounts.actions import do_create_user
    from onfile.channels.email import tokens
    from onfile.channels.whatsapp.sending import window_open
    from onfile.conversations.actions import do_assign
    from onfile.conversations.models import Conversation

    staff = do_create_user(STAFF, None, "fee_earner", actor="bench")
    chosen = [c for c in Conversation.objects.order_by("-pk")[: args.conversations * 3] if window_open(c)]
    chosen = chosen[: args.conversations]
    if not chosen:
        raise SystemExit("no conversation with an open window")
    for c in chosen:
        do_assign(c, staff.pk, "bench")
    issued = [tokens.issue(c.pk, staff.pk) for c in chosen]
    steady = [reply_mail(issued[i % len(issued)], i, "steady") for i in range(args.replies)]
    burst = [reply_mail(issued[i % len(issued)], 10_000 + i, "burst") for i in range(args.burst)]
    big = pdf()
    with_pdf = [reply_mail(issued[i % len(issued)], 20_000 + i, "pdf", big) for i in range(args.pdf_replies)]
    warm = [reply_mail(issued[i % len(issued)], 30_000 + i, "warm-up") for i in range(3)]
    print(f"replies: {len(chosen)} conversations; onfile smtpd starting", file=sys.stderr)
    connections.close_all()
    port = free_port()
    log_path = Path(os.environ["ONFILE_DATA_DIR"]) / "smtpd.log"
    proc = start_smtpd(port, log_path)
    poller = Poller(args.poll_ms / 1000).start()
    mark = len(load.samples)
    loads = [os.getloadavg()[0]]
    try:
        warmed = drive(port, warm, 1, None)
        cpu = {"warm-up": proc_cpu(proc.pid)}
        time.sleep(0.5)
        print(f"  steady: {len(steady)} at {args.rate}/s over {args.connections} connections", file=sys.stderr)
        steady_results = drive(port, steady, args.connections, args.rate)
        cpu["steady"] = proc_cpu(proc.pid)
        time.sleep(1)
        loads.append(os.getloadavg()[0])
        print(f"  burst: {len(burst)} at once over {args.burst_connections} connections", file=sys.stderr)
        burst_start = time.time() + 0.3
        burst_results = drive(port, burst, args.burst_connections, None)
        cpu["burst"] = proc_cpu(proc.pid)
        time.sleep(1)
        print(f"  {len(with_pdf)} replies with a 1 MB PDF, one after the other", file=sys.stderr)
        pdf_results = []
        for job in with_pdf:
            pdf_results += drive(port, [job], 1, None)
            time.sleep(0.2)
        cpu["pdf"] = proc_cpu(proc.pid)
        deadline = time.time() + 30
        expected = len(warm) + len(steady) + len(burst) + len(with_pdf) * 2
        while len(poller.seen) < expected and time.time() < deadline:
            time.sleep(0.1)
    finally:
        poller.stop()
        code = stop(proc)
        loads += [*load.window(mark), os.getloadavg()[0]]
    by_capture, entry_time, outcomes = links()
    seen = poller.seen
    rows = [summarise(f"steady, {args.rate:g}/s over {args.connections} connections", steady_results, by_capture,
                      entry_time, seen),
            summarise(f"burst of {len(burst)} at once over {args.burst_connections} connections", burst_results,
                      by_capture, entry_time, seen, burst_start),
            summarise("1 MB PDF attached (text + document), one at a time", pdf_results, by_capture, entry_time,
                      seen),
            summarise("warm-up: first 3 after smtpd started", warmed, by_capture, entry_time, seen)]
    spent = {"steady": cpu["steady"] - cpu["warm-up"], "burst": cpu["burst"] - cpu["steady"],
             "pdf": cpu["pdf"] - cpu["burst"]}
    for row, key, count in zip(rows, ("steady", "burst", "pdf"), (len(steady), len(burst), len(with_pdf)),
                               strict=False):
        row["smtpd_cpu_ms_per_reply"] = round(spent[key] / max(1, count) * 1000, 1)
    log_tail = log_path.read_text()[-2000:]
    return {"rows": rows, "outcomes": outcomes, "smtpd_exit": code, "load": [round(min(loads), 2),
                                                                               round(max(loads), 2)],
            "conversations": len(chosen), "smtpd_log_tail": log_tail if code else ""}


# ---- report --------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    return {"nproc": os.cpu_count(), "lscpu": [line for line in lscpu if line.split(":")[0].strip() in (
        "Architecture", "CPU(s)", "Model name", "Thread(s) per core", "Core(s) per socket", "Socket(s)")],
        "platform": platform.platform(), "python": platform.python_version()}


def report(label: str, fwd: list[dict[str, Any]], rep: dict[str, Any] | None, command: str,
           info: dict[str, Any]) -> str:
    model = ", ".join(x.split(":", 1)[1].strip() for x in info["lscpu"] if x.startswith("Model name"))
    lines = [f"{label}; {info['nproc']} CPUs ({model}); command: `{command}`", ""]
    if fwd:
        lines += ["Forwarding: `deliver_emails()` in a loop until the queue is empty, relay = aiosmtpd sink "
                  "(own process) on loopback", "",
                  "| scenario | messages (images) | forwards + journal copies | drain | emails/s | emails per worker "
                  "CPU-second | relay received (MB) | all arrived | load |",
                  "|---|---:|---:|---:|---:|---:|---:|---|---|"]
        for r in fwd:
            lines.append(f"| {r['scenario']} | {r['messages']:,} ({r['images']:,}) | {r['forward_sent']:,} + "
                         f"{r['journal_sent']:,} | {r['seconds']:.2f} s | **{r['emails_per_s']:,.0f}** | "
                         f"{r['emails_per_worker_cpu_s']:,.0f} | "
                         f"{r['relay_received']:,} ({r['relay_mb']:,.1f}) | "
                         f"{'yes' if r['every_email_arrived'] else 'NO'} | {r['load'][0]}–{r['load'][1]} |")
        lines.append("")
    if rep:
        lines += ["Replies: smtplib → `onfile smtpd` (subprocess) → `whatsapp.send_requested`; ms from MAIL FROM "
                  "(p50 / p95 / p99 / max)", "",
                  "| scenario | replies (ok) | to the entry, seen by a poller | to the entry's timestamp | "
                  "SMTP transaction (250 after commit) | from the burst's start | smtpd CPU per reply |",
                  "|---|---:|---:|---:|---:|---:|---:|"]

        def fmt(s: dict[str, float] | None) -> str:
            return "—" if not s else f"{s['p50']:,.0f} / **{s['p95']:,.0f}** / {s['p99']:,.0f} / {s['max']:,.0f}"

        for r in rep["rows"]:
            lines.append(f"| {r['scenario']} | {r['replies']} ({r['ok']}) | {fmt(r['to_visible_ms'])} | "
                         f"{fmt(r['to_entry_time_ms'])} | {fmt(r['smtp_ms'])} | {fmt(r.get('from_burst_start_ms'))} | "
                         f"{r.get('smtpd_cpu_ms_per_reply', '—')} ms |")
        lines += ["", f"reply outcomes in the ledger: {rep['outcomes']}; smtpd exit {rep['smtpd_exit']}; "
                      f"load {rep['load'][0]}–{rep['load'][1]}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="inbound messages per forwarding scenario")
    parser.add_argument("--clients", type=int, default=50, help="clients (conversations) per scenario")
    parser.add_argument("--media-every", type=int, default=10, help="every n-th message carries a 200 KB image")
    parser.add_argument("--no-media", action="store_true", help="skip the two scenarios with images")
    parser.add_argument("--replies", type=int, default=300, help="replies sent at the steady rate")
    parser.add_argument("--rate", type=float, default=20.0, help="replies per second, steady part")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections, steady part")
    parser.add_argument("--burst", type=int, default=100, help="replies sent at once")
    parser.add_argument("--burst-connections", type=int, default=10)
    parser.add_argument("--pdf-replies", type=int, default=5, help="replies with a 1 MB PDF, one at a time")
    parser.add_argument("--conversations", type=int, default=10, help="conversations the replies answer")
    parser.add_argument("--poll-ms", type=float, default=10.0, help="how often the poller looks for new entries")
    parser.add_argument("--skip-forwarding", action="store_true",
                        help="only build a small archive (--messages) and measure replies")
    parser.add_argument("--skip-replies", action="store_true")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    from onfile.simulator import Simulator, parse_number

    load = LoadSampler().start()
    load_at_start = os.getloadavg()
    stats_path = Path(tempfile.mkdtemp(prefix="onfile-email-sink-")) / "stats.json"
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(sink_port), str(stats_path)], stdout=subprocess.PIPE,
                            text=True)
    assert sink.stdout is not None
    if sink.stdout.readline().strip() != "ready":
        raise SystemExit("the SMTP sink did not start")
    sim = Simulator(port=0, webhook_url="", app_secret=SECRET, access_token=TOKEN, status_delay_ms=10,
                    numbers=[parse_number(f"{PNID}:15550783881:Example Law")]).start()
    try:
        label = setup(args, sink_port, sim.url)
        fwd: list[dict[str, Any]] = []
        if args.skip_forwarding:
            make_messages(sim, args.messages, 1000, args.clients, 0, "")
        else:
            fwd = forwarding(args, sim, stats_path, load)
        rep = None if args.skip_replies else replies(args, load)
    finally:
        sim.stop()
        stop(sink)
        load.stop()
    command = "python " + " ".join(sys.argv)
    info = machine()
    text = report(label, fwd, rep, command, info)
    print(text)
    OUT.mkdir(exist_ok=True)
    name = "postgresql" if args.database_url else "sqlite"
    (OUT / f"email-{name}.json").write_text(json.dumps({
        "label": label, "args": vars(args), "machine": info, "load_at_start": load_at_start,
        "load_samples": load.samples, "forwarding": fwd, "replies": rep, "report": text,
        "image_bytes": len(png()), "pdf_bytes": len(pdf()), "when": datetime.now().isoformat(timespec="seconds"),
        "relay": sink_stats(stats_path)}, indent=1))
    shutil.rmtree(stats_path.parent, ignore_errors=True)

if __name__ == "__main__":
    main()
