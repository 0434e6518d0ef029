from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from onfile.channels.whatsapp.reconcile import reconcile
from onfile.ledger.log import NewEntry, append


class Command(BaseCommand):
    help = "Report completeness gaps: statuses without messages, messages without statuses, media not fetched, …"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--no-record", action="store_true", help="do not record the result in the ledger")

    def handle(self, *args: Any, **options: Any) -> None:
        report = reconcile()
        if not options["no_record"]:
            with transaction.atomic():
                append(NewEntry("reconcile.completed", "system:reconcile", "", {"gaps": report["gaps"]}))
        if options["json"]:
            self.stdout.write(json.dumps(report, default=str))
            return
        self.stdout.write(f"completeness gaps: {report['gaps']}")
        for name, value in report.items():
            if name != "gaps":
                self.stdout.write(f"  {name}: {json.dumps(value, default=str)}")
