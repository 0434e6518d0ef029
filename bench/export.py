"""Conversation export: PDF transcript and zip of a 10,000-message conversation.

A seeded group chat export (``bench/gen_export.py``: multi-line messages, emoji, a name in
Chinese, attachments, deleted and edited messages, system lines) is imported into a fresh
archive, then exported as an administrator (who sees originals) through the same Python API
the web and the CLI use: access check, checkpoint, rendering, ledger entry.

Reported: wall and CPU seconds for the transcript's HTML alone, for the whole PDF and for the
whole zip (which renders the PDF again), pages, sizes, and the process's peak RSS after each
step. CPU seconds are the figure to compare on a shared machine.

    python bench/export.py [--messages 10000] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import atexit
import io
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def peak_rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--media", type=int, default=40, help="attachments that get a file in the export")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    from bench.archive import setup

    label = setup(args.database_url)
    from bench.gen_export import generate
    from onfile.accounts.actions import do_create_user
    from onfile.conversations.models import Conversation
    from onfile.exports import transcript
    from onfile.exports.conversation import _prepare, render_pdf, write_zip
    from onfile.imports.actions import do_import
    from onfile.imports.options import ImportOptions

    tmp = Path(tempfile.mkdtemp(prefix="onfile-bench-export-", dir=os.environ.get("BENCH_TMP")))
    atexit.register(shutil.rmtree, tmp, True)
    source = tmp / "WhatsApp Chat with Project Falcon.zip"
    generate("android24", args.messages, source, zip_media=args.media)
    started = time.perf_counter()
    [summary] = do_import([source], ImportOptions(me="Alice Johnson", tz="UTC"), actor="bench")
    imported = time.perf_counter() - started
    conversation = Conversation.objects.get(pk=summary.conversations[0])
    admin = do_create_user("bench@firm.example", None, "admin", "bench")
    report: dict[str, object] = {"database": label, "load_average": os.getloadavg()[0],
                                 "messages": summary.counts.get("messages_added"),
                                 "import_seconds": round(imported, 2), "rss_mb_before": peak_rss_mb()}

    started, cpu = time.perf_counter(), time.process_time()
    plan = _prepare(conversation, admin)
    html = transcript.render_html(plan.conversation, plan.header)
    report |= {"html_seconds": round(time.perf_counter() - started, 2),
               "html_cpu_seconds": round(time.process_time() - cpu, 2), "html_mb": round(len(html) / 2**20, 1)}
    del html

    pdf = io.BytesIO()
    started, cpu = time.perf_counter(), time.process_time()
    result = render_pdf(conversation, admin, pdf)
    report |= {"pdf_seconds": round(time.perf_counter() - started, 2),
               "pdf_cpu_seconds": round(time.process_time() - cpu, 2), "pdf_mb": round(result.size / 2**20, 2),
               "rss_mb_after_pdf": peak_rss_mb()}
    from pypdf import PdfReader

    report["pdf_pages"] = len(PdfReader(io.BytesIO(pdf.getvalue())).pages)

    started, cpu = time.perf_counter(), time.process_time()
    with open(tmp / "export.zip", "wb") as out:
        zipped = write_zip(conversation, admin, out)
    report |= {"zip_seconds": round(time.perf_counter() - started, 2),
               "zip_cpu_seconds": round(time.process_time() - cpu, 2), "zip_mb": round(zipped.size / 2**20, 2),
               "zip_files_missing": zipped.files_missing, "rss_mb_after_zip": peak_rss_mb()}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
