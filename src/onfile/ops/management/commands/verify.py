from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, transaction

from onfile.ledger.keys import KeyError_
from onfile.ledger.log import NewEntry, append
from onfile.ledger.verify import Report, verify


class Command(BaseCommand):
    help = "Recompute every leaf, blob hash, root, checkpoint signature and consistency; exit 1 on any mismatch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--no-record", action="store_true", help="do not record the result in the ledger")
        parser.add_argument("--limit", type=int, default=50, help="list at most this many problems")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = verify(limit=options["limit"])
        except KeyError_ as exc:
            self.stderr.write(f"verify FAILED: {exc}")
            raise SystemExit(1) from None
        if not options["no_record"]:
            self._record(report)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        else:
            self._print(report)
        if not report.ok:
            raise SystemExit(1)

    def _record(self, report: Report) -> None:
        attrs = {"ok": report.ok, "entries": report.entries, "first_bad_seq": report.first_bad_seq,
                 "problems": len(report.problems), "root": report.root}
        try:
            with transaction.atomic():
                append(NewEntry("verify.completed", "system:verify", "", attrs))
        except DatabaseError as exc:
            self.stderr.write(f"(the result could not be recorded in the ledger: {exc})")

    def _print(self, report: Report) -> None:
        mb = report.bytes_hashed / 1e6
        rate = mb / report.seconds if report.seconds else 0.0
        self.stdout.write(
            f"{report.entries} entries, {report.blobs} blobs ({report.blobs_disposed} disposed), "
            f"{report.checkpoints} checkpoints; {mb:.1f} MB hashed in {report.seconds:.2f} s ({rate:.0f} MB/s)"
        )
        self.stdout.write(f"root {report.root}")
        if report.ok:
            self.stdout.write("verify OK")
            return
        self.stdout.write(f"verify FAILED: first bad entry {report.first_bad_seq}")
        for problem in report.problems:
            self.stdout.write(f"  - {problem}")
