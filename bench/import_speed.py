"""Import speed: onfile's chat-export parser and full import against whatstk and chat-miner.

For each format (``android24``, ``android12`` with U+202F, ``ios``) a seeded export of N
messages is generated into ``bench/out/`` (``bench/gen_export.py``; reused when present), then
each step runs in its own subprocess, one after another, so that its peak RSS is its own
(``os.wait4`` returns the child's rusage):

    onfile-parse   iterate ``onfile.imports.chatexport.parse_export`` over the file, count
    onfile-import  ``onfile import FILE --json --tz UTC`` into a fresh SQLite archive
                   (``onfile init --generate-password`` in a temporary ONFILE_DATA_DIR first)
    whatstk        ``whatstk.df_from_whatsapp(FILE, max_size=None)``, header auto-detected
    chat-miner     ``chatminer.chatparsers.WhatsAppParser(FILE).parse_file()`` and ``get_df()``

"seconds" is the parse itself, timed inside the child (interpreter start-up and library
imports excluded) for the three parsers, and the whole command (Django start-up included)
for the import. "wall s" is the child's whole life. Message counts are shown beside the
number of messages in the file; a parser that counts differently is shown, not corrected.
An untimed check then compares onfile's parse with what the generator wrote (kinds,
multi-line, attachments, system lines, date order).

whatstk and chat-miner are installed in their own virtualenv, ``bench/.venv-peers``, created
on first run (``python3 -m venv`` + ``pip install whatstk chat-miner``). onfile runs with the
project's ``.venv/bin/python`` when it exists, else with the interpreter running this script.

    python bench/import_speed.py                              # 1,000,000 messages, all formats
    python bench/import_speed.py --messages 20000
    python bench/import_speed.py --formats android24 --skip-peers --skip-import
    python bench/import_speed.py --messages 20000 --repeat 3   # parsers: fastest of 3 runs (a busy machine)

Writes a Markdown table to stdout and everything to ``bench/out/import_speed.json``.
Goals (issue): parse >= 10x faster than whatstk; full import faster than whatstk's parse;
peak memory < 500 MB for the 1 M-message file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
PEERS_VENV = BENCH / ".venv-peers"
PEER_PACKAGES = ("whatstk", "chat-miner")
FORMATS = ("android24", "android12", "ios")
# Used only if whatstk's header auto-detection fails on a file (it has not on these).
WHATSTK_HFORMAT = {
    "android24": "%d/%m/%y, %H:%M - %name:",
    "android12": "%m/%d/%y, %I:%M %p - %name:",
    "ios": "[%d/%m/%y, %H:%M:%S] %name:",
}
MEMORY_GOAL_MB = 500
SPEEDUP_GOAL = 10


# --------------------------------------------------------------------------- results


@dataclass
class Step:
    """One measured step."""

    format: str
    step: str
    expected: int
    messages: int | None = None
    seconds: float | None = None
    wall: float | None = None
    peak_rss_mb: float | None = None
    notes: list[str] = field(default_factory=list)
    error: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        if self.messages and self.seconds:
            return self.messages / self.seconds
        return None


@dataclass
class Run:
    """A finished child process."""

    code: int
    stdout: str
    stderr: str
    wall: float
    peak_rss_mb: float
    timed_out: bool

    def result(self) -> dict[str, Any] | None:
        """The last JSON object the child printed on stdout."""
        for line in reversed(self.stdout.strip().splitlines()):
            if line.startswith("{"):
                try:
                    value = json.loads(line)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    return value
        return None

    def failure(self) -> str:
        if self.timed_out:
            return f"timed out after {self.wall:.0f} s"
        tail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-3:]
        return f"exit {self.code}: " + " | ".join(tail)


def run_measured(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 3600) -> Run:
    """Run ``cmd``; return its output, wall time and peak RSS (from ``wait4``, this child only)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        fired: list[bool] = []

        def kill() -> None:
            fired.append(True)
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            code=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            wall=wall,
            peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
            timed_out=bool(fired),
        )


# --------------------------------------------------------------------------- children


def child(mode: str, path: str, hformat: str = "") -> int:
    """Run one measured step in this (child) process; print its result as one JSON line."""
    runners = {"onfile-parse": _child_onfile, "onfile-check": _child_check, "whatstk": _child_whatstk,
               "chat-miner": _child_chatminer}
    result = runners[mode](path, hformat)
    print(json.dumps(result, default=str, ensure_ascii=False))
    return 0


def _child_onfile(path: str, _hformat: str) -> dict[str, Any]:
    from onfile.imports.chatexport import parse_export

    started = time.perf_counter()
    count = 0
    first = last = None
    with open(path, "rb") as stream:
        _chat, messages = parse_export(stream)
        for message in messages:
            count += 1
            last = message
            if first is None:
                first = message
    seconds = time.perf_counter() - started
    return {"messages": count, "seconds": seconds, "first": first and first.timestamp.isoformat(),
            "last": last and last.timestamp.isoformat()}


def _child_check(path: str, _hformat: str) -> dict[str, Any]:
    """Untimed: what onfile's parser made of the file, for comparison with the generator's stats."""
    from collections import Counter

    from onfile.imports.chatexport import parse_export

    kinds: Counter[str] = Counter()
    anomalies: Counter[str] = Counter()
    tally: Counter[str] = Counter()
    with open(path, "rb") as stream:
        chat, messages = parse_export(stream)
        for m in messages:
            tally["messages"] += 1
            kinds[m.kind] += 1
            tally["multiline"] += m.line_end > m.line_start
            tally["system"] += m.kind == "system"
            tally["deleted"] += m.deleted
            tally["edited"] += m.edited
            for a in m.attachments:
                tally["omitted" if a.omitted else "attached"] += 1
            for note in m.anomalies:
                anomalies[note[:80]] += 1
    return {**tally, "kinds": dict(kinds), "anomalies": dict(anomalies.most_common(10)),
            "chat": {"platform": chat.platform, "date_order": chat.date_order, "clock": chat.clock,
                     "is_group": chat.is_group, "participants": chat.participants, "anomalies": chat.anomalies}}


def _versions(*names: str) -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in names}


def _child_whatstk(path: str, hformat: str) -> dict[str, Any]:
    from whatstk import df_from_whatsapp

    note = ""
    started = time.perf_counter()
    try:
        df = df_from_whatsapp(path, max_size=None)  # default max_size is 50 MB: too small for 1 M messages
    except Exception as exc:  # fall back to the known header format, and say so
        note = f"auto-detection failed ({type(exc).__name__}: {exc}); used hformat {hformat!r}"
        started = time.perf_counter()
        df = df_from_whatsapp(path, hformat=hformat, auto_header=False, max_size=None)
    count = len(df)
    seconds = time.perf_counter() - started
    dates = df["date"]
    return {"messages": count, "seconds": seconds, "first": dates.min().isoformat(), "last": dates.max().isoformat(),
            "note": note, "versions": _versions("whatstk", "pandas")}


def _child_chatminer(path: str, _hformat: str) -> dict[str, Any]:
    import logging

    from chatminer.chatparsers import WhatsAppParser

    logging.disable(logging.INFO)  # it logs every system line it drops; that is not parsing
    started = time.perf_counter()
    parser = WhatsAppParser(path)
    parser.parse_file()
    df = parser.parsed_messages.get_df()
    count = len(df)
    seconds = time.perf_counter() - started
    stamps = df["timestamp"]
    return {"messages": count, "seconds": seconds, "first": stamps.min().isoformat(), "last": stamps.max().isoformat(),
            "versions": _versions("chat-miner", "polars", "pandas", "python-dateutil")}


# --------------------------------------------------------------------------- environment


def onfile_python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def onfile_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ONFILE_DATABASE_URL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH", "")]))
    env.setdefault("ONFILE_LOG_LEVEL", "WARNING")
    env.update(extra)
    return env


def peers_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["TQDM_DISABLE"] = "1"  # chat-miner draws a progress bar otherwise
    return env


def ensure_peers() -> tuple[str | None, str]:
    """The peers' virtualenv python (created and filled on first use), or None and why not."""
    python = PEERS_VENV / "bin" / "python"
    try:
        if not python.exists():
            print(f"creating {PEERS_VENV} with {', '.join(PEER_PACKAGES)} …", file=sys.stderr)
            subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"could not set up {PEERS_VENV}: {exc}"
    return str(python), ""


def import_available(python: str) -> tuple[bool, str]:
    """Whether this onfile has the ``import`` command yet."""
    with tempfile.TemporaryDirectory(prefix="onfile-bench-probe-") as data:
        done = subprocess.run([python, "-m", "onfile.cli", "import", "--help"], capture_output=True, text=True,
                              env=onfile_env(ONFILE_DATA_DIR=data), cwd=ROOT, timeout=120)
    if done.returncode == 0:
        return True, ""
    why = (done.stderr.strip() or done.stdout.strip()).splitlines()[:1]
    return False, f"skipped: 'onfile import' is not available yet ({why[0] if why else done.returncode})"


def machine() -> dict[str, Any]:
    cpu = ""
    mem_kb = 0
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                   "")
        meminfo = Path("/proc/meminfo").read_text().split()
        mem_kb = int(meminfo[meminfo.index("MemTotal:") + 1])
    except (OSError, ValueError):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu or platform.processor(), "memory_gb": round(mem_kb / 1024**2, 1),
            "python": platform.python_version(), "loadavg_at_start": os.getloadavg()}


# --------------------------------------------------------------------------- steps


def export_file(fmt: str, count: int, regen: bool, uniform: bool) -> tuple[Path, dict[str, Any]]:
    """The generated export for (fmt, count), with the generator's stats; generated if missing."""
    from gen_export import generate

    OUT.mkdir(parents=True, exist_ok=True)
    stem = f"{fmt}-{count}" + ("-uniform" if uniform else "")
    path, meta = OUT / f"{stem}.txt", OUT / f"{stem}.json"
    if regen or not (path.exists() and meta.exists()):
        print(f"generating {path.name} …", file=sys.stderr)
        started = time.perf_counter()
        stats = asdict(generate(fmt, count, path, bursty=not uniform))
        meta.write_text(json.dumps(stats, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"  {stats['bytes'] / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path, json.loads(meta.read_text(encoding="utf-8"))


def parse_step(name: str, python: str, env: dict[str, str], fmt: str, path: Path, stats: dict[str, Any],
               timeout: float, repeat: int = 1) -> Step:
    """A parser step (onfile-parse, whatstk, chat-miner), each run in its own child; the fastest of ``repeat``
    runs is kept (peak RSS: the highest)."""
    print(f"  {fmt}: {name} …", file=sys.stderr, flush=True)
    step = Step(fmt, name, stats["messages"])
    cmd = [python, str(Path(__file__).resolve()), "--child", name, str(path), WHATSTK_HFORMAT[fmt]]
    for _ in range(max(repeat, 1)):
        run = run_measured(cmd, env=env, timeout=timeout)
        step.peak_rss_mb = max(step.peak_rss_mb or 0.0, run.peak_rss_mb)
        result = run.result()
        if run.code != 0 or result is None:
            step.wall, step.error = run.wall, run.failure()
            return step
        if step.seconds is None or result["seconds"] < step.seconds:
            step.wall, step.detail = run.wall, result
            step.messages, step.seconds = result["messages"], result["seconds"]
    if repeat > 1:
        step.notes.append(f"best of {repeat}")
    if step.detail.get("note"):
        step.notes.append(step.detail["note"])
    step.notes += count_notes(step, stats, fmt)
    return step


def count_notes(step: Step, stats: dict[str, Any], fmt: str) -> list[str]:
    """Say how a count or the last timestamp differs from the file, and why when it is known."""
    notes = []
    missing = stats["messages"] - (step.messages or 0)
    if missing:
        why = " (= the system lines without 'Name: ')" if fmt != "ios" and missing == stats["system"] else ""
        notes.append(f"{-missing:+,} messages vs file{why}")
    last = step.detail.get("last")
    if last and last[:19] != stats["last"][:19]:
        notes.append(f"last timestamp {last} ≠ {stats['last']}")
    return notes


def import_step(python: str, fmt: str, path: Path, stats: dict[str, Any], timeout: float) -> Step:
    """``onfile init`` then a timed ``onfile import`` in a fresh temporary archive."""
    print(f"  {fmt}: onfile-import …", file=sys.stderr, flush=True)
    step = Step(fmt, "onfile-import", stats["messages"])
    data = tempfile.mkdtemp(prefix="onfile-bench-import-", dir=os.environ.get("BENCH_TMP"))
    try:
        env = onfile_env(ONFILE_DATA_DIR=data)
        init = run_measured([python, "-m", "onfile.cli", "init", "--generate-password", "--json"], env=env,
                            timeout=300)
        if init.code != 0:
            step.error = "onfile init " + init.failure()
            return step
        run = run_measured([python, "-m", "onfile.cli", "import", str(path), "--json", "--tz", "UTC"], env=env,
                           timeout=timeout)
        step.wall = step.seconds = run.wall
        step.peak_rss_mb = run.peak_rss_mb
        summary = run.result()
        if run.code != 0 or summary is None:
            step.error = run.failure()
            return step
        step.messages = summary_count(summary)
        step.detail = {"summary": summary, "archive_mb": round(tree_size(Path(data)) / 1e6, 1)}
        step.notes.append(f"archive {step.detail['archive_mb']:,} MB on disk")
        if step.messages is None:
            step.notes.append("no message count found in the JSON summary")
        else:
            step.notes += count_notes(step, stats, fmt)
        return step
    finally:
        shutil.rmtree(data, ignore_errors=True)


COUNT_KEYS = ("messages", "imported", "messages_imported", "parsed", "total", "new", "count")


def summary_count(summary: dict[str, Any]) -> int | None:
    """The message count in ``onfile import --json``'s summary (a number, or a number one level down)."""
    if isinstance(summary.get("messages_added"), int):  # onfile's own keys: new + already in the archive
        return int(summary["messages_added"]) + int(summary.get("messages_present") or 0)
    for key in COUNT_KEYS:
        value = summary.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    for key in COUNT_KEYS:
        value = summary.get(key)
        if isinstance(value, dict):
            found = summary_count(value)
            if found is not None:
                return found
    return None


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def check_step(python: str, fmt: str, path: Path, stats: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Untimed: compare onfile's parse with the generator's stats; return the differences."""
    run = run_measured([python, str(Path(__file__).resolve()), "--child", "onfile-check", str(path)],
                       env=onfile_env(), timeout=timeout)
    got = run.result()
    if run.code != 0 or got is None:
        return {"ok": False, "error": run.failure()}
    expected_order, expected_clock = ("mdy", "12h") if fmt == "android12" else ("dmy", "24h")
    wanted = {key: stats[key] for key in ("messages", "multiline", "attached", "omitted", "system", "deleted",
                                          "edited")}
    wanted |= {"date_order": expected_order, "clock": expected_clock, "participants": sorted(stats["senders"])}
    seen = {key: got.get(key, 0) for key in wanted} | {
        "date_order": got["chat"]["date_order"], "clock": got["chat"]["clock"],
        "participants": sorted(got["chat"]["participants"])}
    wrong = {key: {"expected": wanted[key], "got": seen[key]} for key in wanted if wanted[key] != seen[key]}
    return {"ok": not wrong and not got["anomalies"] and not got["chat"]["anomalies"], "differences": wrong,
            "kinds": got["kinds"], "anomalies": got["anomalies"], "chat_anomalies": got["chat"]["anomalies"]}


# --------------------------------------------------------------------------- report


def fmt_num(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def table(steps: list[Step]) -> str:
    rows = ["| format | step | messages | in file | seconds | msg/s | wall s | peak RSS MB | notes |",
            "|---|---|--:|--:|--:|--:|--:|--:|---|"]
    for s in steps:
        notes = "; ".join([f"**error**: {s.error}"] if s.error else s.notes)
        rows.append(f"| {s.format} | {s.step} | {fmt_num(s.messages)} | {s.expected:,} | {fmt_num(s.seconds, 2)} | "
                    f"{fmt_num(s.rate)} | {fmt_num(s.wall, 2)} | {fmt_num(s.peak_rss_mb, 0)} | {notes} |")
    return "\n".join(rows)


def goals(steps: list[Step]) -> dict[str, dict[str, Any]]:
    """Per format: parse speed-up over whatstk, import vs whatstk's parse, onfile's peak memory."""
    out: dict[str, dict[str, Any]] = {}
    for fmt in dict.fromkeys(s.format for s in steps):
        by = {s.step: s for s in steps if s.format == fmt and not s.error and s.seconds}
        parse, imp, whatstk = by.get("onfile-parse"), by.get("onfile-import"), by.get("whatstk")
        g: dict[str, Any] = {}
        if parse and whatstk:
            speedup = whatstk.seconds / parse.seconds  # type: ignore[operator]
            g["parse_speedup_vs_whatstk"] = {"value": round(speedup, 1), "met": speedup >= SPEEDUP_GOAL}
        if imp and whatstk:
            g["import_faster_than_whatstk_parse"] = {"import_s": round(imp.seconds or 0, 2),
                                                     "whatstk_s": round(whatstk.seconds or 0, 2),
                                                     "met": (imp.seconds or 0) < (whatstk.seconds or 0)}
        peaks = {s.step: round(s.peak_rss_mb or 0) for s in (parse, imp) if s}
        if peaks:
            g["peak_memory_mb"] = {**peaks, "met": max(peaks.values()) < MEMORY_GOAL_MB}
        out[fmt] = g
    return out


def print_goals(result: dict[str, dict[str, Any]]) -> None:
    print("\nGoals (parse >= 10x whatstk; import faster than whatstk's parse; onfile peak RSS < 500 MB):")
    for fmt, g in result.items():
        parts = []
        if "parse_speedup_vs_whatstk" in g:
            s = g["parse_speedup_vs_whatstk"]
            parts.append(f"parse {s['value']}x whatstk {'MET' if s['met'] else 'NOT MET'}")
        if "import_faster_than_whatstk_parse" in g:
            s = g["import_faster_than_whatstk_parse"]
            parts.append(f"import {s['import_s']} s vs whatstk {s['whatstk_s']} s {'MET' if s['met'] else 'NOT MET'}")
        if "peak_memory_mb" in g:
            s = g["peak_memory_mb"]
            mem = ", ".join(f"{k} {v} MB" for k, v in s.items() if k != "met")
            parts.append(f"peak {mem} {'MET' if s['met'] else 'NOT MET'}")
        print(f"- {fmt}: " + ("; ".join(parts) or "not measured"))


# --------------------------------------------------------------------------- main


def bench_format(fmt: str, args: argparse.Namespace, peers: str | None, peer_error: str,
                 can_import: tuple[bool, str]) -> tuple[list[Step], dict[str, Any], dict[str, Any]]:
    path, stats = export_file(fmt, args.messages, args.regen, args.uniform_times)
    py = onfile_python()
    steps = [parse_step("onfile-parse", py, onfile_env(), fmt, path, stats, args.timeout, args.repeat)]
    if not args.skip_import:
        if can_import[0]:
            steps.append(import_step(py, fmt, path, stats, args.timeout))
        else:
            steps.append(Step(fmt, "onfile-import", stats["messages"], notes=[can_import[1]]))
    if not args.skip_peers:
        for name in ("whatstk", "chat-miner"):
            if peers is None:
                steps.append(Step(fmt, name, stats["messages"], error=peer_error))
            else:
                steps.append(parse_step(name, peers, peers_env(), fmt, path, stats, args.timeout, args.repeat))
    check = {} if args.skip_check else check_step(py, fmt, path, stats, args.timeout)
    return steps, check, stats


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(*argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--formats", default=",".join(FORMATS), help="comma-separated: " + ", ".join(FORMATS))
    ap.add_argument("--skip-peers", action="store_true", help="do not run whatstk and chat-miner")
    ap.add_argument("--skip-import", action="store_true", help="do not run 'onfile import'")
    ap.add_argument("--skip-check", action="store_true", help="do not check onfile's parse against the generator")
    ap.add_argument("--regen", action="store_true", help="regenerate the export files even if present")
    ap.add_argument("--uniform-times", action="store_true",
                    help="generate with evenly spread timestamps instead of conversation bursts")
    ap.add_argument("--repeat", type=int, default=1, help="run each parser step N times, keep the fastest")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed to each step")
    ap.add_argument("--json", type=Path, default=OUT / "import_speed.json", help="where to write the results")
    args = ap.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if unknown := set(formats) - set(FORMATS):
        ap.error(f"unknown format(s): {', '.join(sorted(unknown))}")

    info = machine()
    peers, peer_error = (None, "skipped") if args.skip_peers else ensure_peers()
    can_import = (False, "") if args.skip_import else import_available(onfile_python())
    steps: list[Step] = []
    checks: dict[str, Any] = {}
    files: dict[str, Any] = {}
    for fmt in formats:
        fmt_steps, checks[fmt], stats = bench_format(fmt, args, peers, peer_error, can_import)
        steps += fmt_steps
        files[fmt] = {k: stats[k] for k in stats if k not in {"media_files"}}
    report(info, args, steps, checks, files)
    return 0


def report(info: dict[str, Any], args: argparse.Namespace, steps: list[Step], checks: dict[str, Any],
           files: dict[str, Any]) -> None:
    versions: dict[str, str] = {}
    for s in steps:
        versions |= s.detail.get("versions", {})
    print(f"\n## onfile import speed — {args.messages:,} messages per file\n")
    print(f"Machine: {info['nproc']} CPU ({info['cpu']}), {info['memory_gb']} GB RAM, Python {info['python']}, "
          f"load average at start {', '.join(f'{x:.2f}' for x in info['loadavg_at_start'])}")
    if versions:
        print("Peers: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    print()
    print(table(steps))
    goal = goals(steps)
    print_goals(goal)
    if checks:
        print("\nonfile parser vs generator (untimed):")
        for fmt, c in checks.items():
            if c:
                print(f"- {fmt}: " + ("ok" if c.get("ok") else json.dumps({k: v for k, v in c.items() if v},
                                                                         ensure_ascii=False)))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"messages": args.messages, "machine": info, "versions": versions, "files": files,
               "steps": [asdict(s) | {"rate": s.rate} for s in steps], "goals": goal, "checks": checks}
    args.json.write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"\nwritten: {args.json}")


if __name__ == "__main__":
    sys.exit(main())
