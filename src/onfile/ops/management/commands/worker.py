from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from onfile.ops.worker import Worker


class Command(BaseCommand):
    help = "Run the background worker (scheduled checkpoints and verifies; queued work)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="do what is due now, then exit")
        parser.add_argument("--poll", type=float, default=0.5, help="seconds between idle rounds")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = Worker()
        if options["once"]:
            worker.run_once()
        else:
            worker.run(options["poll"])
