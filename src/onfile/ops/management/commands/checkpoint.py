from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onfile.ledger.checkpoints import CheckpointRefused, do_checkpoint, latest_checkpoint
from onfile.ledger.keys import KeyError_, signer


class Command(BaseCommand):
    help = "Sign a checkpoint of the ledger now (C2SP tlog-checkpoint, Ed25519) and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--show", action="store_true", help="print the latest checkpoint, sign nothing")
        parser.add_argument("--public-key", action="store_true", help="print the verifier key")
        parser.add_argument("--force", action="store_true", help="sign even if nothing changed")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["public_key"]:
                self.stdout.write(signer().verifier_key())
                return
            cp = latest_checkpoint() if options["show"] else do_checkpoint("on-demand", force=options["force"])
            if cp is None:
                cp = latest_checkpoint()
        except (CheckpointRefused, KeyError_) as exc:
            raise CommandError(f"no checkpoint signed: {exc}") from None
        if cp is None:
            raise CommandError("there is no checkpoint yet")
        if options["json"]:
            self.stdout.write(json.dumps({"size": cp.size, "root": cp.root, "note": cp.note,
                                          "at": cp.created_at.isoformat()}))
        else:
            self.stdout.write(cp.note, ending="")
