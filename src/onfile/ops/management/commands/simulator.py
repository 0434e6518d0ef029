"""``onfile simulator``: the local WhatsApp Cloud API simulator (see onfile.simulator)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the local WhatsApp Cloud API simulator; 'onfile simulator --help' lists its options."
    requires_system_checks: list[str] = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("args", nargs="*")
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        pass

    def run_from_argv(self, argv: list[str]) -> None:
        # Pass every option through untouched: the simulator owns its command line.
        from onfile.simulator.__main__ import main

        sys.exit(main(argv[2:]))

    def handle(self, *args: Any, **options: Any) -> None:  # pragma: no cover - run_from_argv handles it
        pass
