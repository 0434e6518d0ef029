"""``onfile import PATH…``: WhatsApp chat exports (.txt, .zip, folders) and device databases."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onfile.imports.actions import do_import
from onfile.imports.options import ImportError_, ImportOptions


class Command(BaseCommand):
    help = ("Import WhatsApp 'Export chat' files (.txt, .zip, a folder of them) or a decrypted msgstore.db / "
            "ChatStorage.sqlite, with provenance, into the record.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--matter", default="", help="the matter reference to link the conversation to")
        parser.add_argument("--client", default="", help="the client: name or phone number (an existing client)")
        parser.add_argument("--custodian", default="", help="email of the staff member whose phone it came from")
        parser.add_argument("--me", default="", help="the display name that means the custodian in the file")
        parser.add_argument("--tz", default="", help="the phone's time zone (exports carry none); IANA name")
        parser.add_argument("--date-order", default="", choices=["", "dmy", "mdy", "ymd"],
                            help="override the detected date order")
        parser.add_argument("--chat", default="", help="device databases: only the chat with this JID/number/title")
        parser.add_argument("--device", default="", help="a description of the device it was collected from")
        parser.add_argument("--wa-db", default="", help="Android wa.db (contact names), next to msgstore.db")
        parser.add_argument("--media-root", default="", help="device databases: the folder media paths are under")
        parser.add_argument("--actor", default="", help="who collected it (default: the OS user)")
        parser.add_argument("--json", action="store_true", help="machine-readable summary")

    def handle(self, *args: Any, **options: Any) -> None:
        opts = ImportOptions(matter=options["matter"], client=options["client"], custodian=options["custodian"],
                             me=options["me"], tz=options["tz"], date_order=options["date_order"],
                             chat=options["chat"], device=options["device"], wa_db=options["wa_db"],
                             media_root=options["media_root"])
        actor = options["actor"] or f"cli:{getpass.getuser()}"
        try:
            with _progress(enabled=sys.stderr.isatty() and not options["json"]) as progress:
                summaries = do_import(options["paths"], opts, actor, progress)
        except ImportError_ as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            payload = [s.as_dict() for s in summaries]
            self.stdout.write(json.dumps(payload[0] if len(payload) == 1 else payload, default=str))
            return
        for s in summaries:
            c = s.counts
            state = "already imported" if s.already_imported else "imported"
            self.stdout.write(
                f"{s.source}: {state} into conversation(s) {', '.join(map(str, s.conversations)) or '-'}: "
                f"{c.get('messages_added', 0)} messages added, {c.get('messages_present', 0)} already present, "
                f"{c.get('attachments', 0)} attachments, {c.get('placeholders', 0)} media placeholders, "
                f"{c.get('system_events', 0)} system events, {c.get('anomalies', 0)} anomalies")
            for note in c.get("chat_anomalies", []):
                self.stdout.write(f"  note: {note}")


class _progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn

        self.bar = Progress(SpinnerColumn(), "[progress.description]{task.description}", BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), transient=True)
        self.bar.start()
        task = self.bar.add_task("importing messages", total=None)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
