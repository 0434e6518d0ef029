from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onfile.conversations.models import Conversation
from onfile.exports.jsonl import export_lines
from onfile.ledger.actions import do_record_access


class Command(BaseCommand):
    help = "Write a conversation's messages (JSON lines: one message per line) to stdout or a file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--conversation", type=int, required=True, help="the conversation id")
        parser.add_argument("--format", default="jsonl", choices=["jsonl"])
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
        parser.add_argument("--actor", default="", help="who is exporting (default: the OS user)")

    def handle(self, *args: Any, **options: Any) -> None:
        conversation = Conversation.objects.filter(pk=options["conversation"]).first()
        if conversation is None:
            raise CommandError(f"there is no conversation {options['conversation']} (see 'onfile conversations')")
        actor = options["actor"] or f"cli:{getpass.getuser()}"
        do_record_access(actor, f"conversation:{conversation.pk}", "export", {"format": options["format"]})
        out = options["output"].open("w", encoding="utf-8") if options["output"] else sys.stdout
        try:
            for line in export_lines(conversation):
                out.write(line)
        finally:
            if options["output"]:
                out.close()
