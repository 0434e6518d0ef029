from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from onfile.projection import rebuild


class Command(BaseCommand):
    help = "Drop the projection (conversations, messages …) and recompute it from the ledger and blobs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        report = rebuild()
        if options["json"]:
            self.stdout.write(json.dumps({"entries_replayed": report.entries_replayed, "rows": report.rows,
                                          "seconds": round(report.seconds, 3)}))
            return
        self.stdout.write(f"replayed {report.entries_replayed} entries in {report.seconds:.2f} s")
        for label, n in report.rows.items():
            self.stdout.write(f"  {label}: {n}")
