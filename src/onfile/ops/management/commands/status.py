from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from onfile.status import collect_status


class Command(BaseCommand):
    help = "Counts, the last checkpoint and the last verify."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        status = collect_status()
        if options["json"]:
            self.stdout.write(json.dumps(status, default=str))
            return
        ledger, cp, verify = status["ledger"], status["last_checkpoint"], status["last_verify"]
        self.stdout.write(f"ledger entries: {ledger['entries']}   blobs: {status['blobs']['count']}"
                          f" ({status['blobs']['bytes']} bytes sealed)")
        self.stdout.write("last checkpoint: " + ("none" if cp is None else f"size {cp['size']} at {cp['at']}"))
        self.stdout.write("last verify: " + ("never" if verify is None else
                                              f"{'passed' if verify['ok'] else 'FAILED'} at {verify['at']}"))
        imap = status.get("imap")
        if imap is not None:
            self.stdout.write(f"imap polling ({imap['mailbox']} at {imap['server']}): " + (
                "available" if imap["available"] else f"UNAVAILABLE since {imap['since']}: {imap['error']}") + (
                f"; {imap['too_large_alerts']} mail(s) too large, left on the server" if imap["too_large_alerts"]
                else ""))
        outbox = status["outbox"]
        for kind, c in outbox["kinds"].items():
            line = f"outbox {kind}: {c['pending']} waiting, {c['sending']} being sent, {c['failed']} FAILED"
            oldest = c["oldest_pending"]
            if oldest is not None:
                line += f"; oldest waiting since {oldest['since']} ({oldest['attempts']} attempts)"
                if oldest["last_error"]:
                    line += f", last error: {oldest['last_error']}"
            self.stdout.write(line)
        for f in outbox["latest_failed"]:
            self.stdout.write(f"  failed {f['kind']} {f['key']} after {f['attempts']} attempts: {f['error']}")
        for name, n in status["counts"].items():
            if name != "conversations_by_source":
                self.stdout.write(f"{name}: {n}")
