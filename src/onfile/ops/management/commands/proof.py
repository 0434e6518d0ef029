from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onfile.ledger.checkpoints import CheckpointRefused
from onfile.ledger.proofs import ProofError, consistency, inclusion_bundle


class Command(BaseCommand):
    help = "Inclusion proof of one entry (a C2SP tlog-proof) or consistency proof between two checkpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="which", required=True)
        inc = sub.add_parser("inclusion", help="prove that entry SEQ is in the signed log")
        inc.add_argument("seq", type=int)
        inc.add_argument("-o", "--output", type=Path, help="write the .tlog-proof here (default: stdout)")
        inc.add_argument("--leaf-output", type=Path, help="write the exact leaf bytes here")
        con = sub.add_parser("consistency", help="prove that signed size OLD is a prefix of signed size NEW")
        con.add_argument("old", type=int)
        con.add_argument("new", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["which"] == "inclusion":
                self._inclusion(options)
            else:
                self._consistency(options["old"], options["new"])
        except (ProofError, CheckpointRefused, ValueError) as exc:
            raise CommandError(str(exc)) from None

    def _inclusion(self, options: dict[str, Any]) -> None:
        bundle = inclusion_bundle(options["seq"])
        if options["leaf_output"]:
            options["leaf_output"].write_bytes(bundle.leaf)
        if options["output"]:
            options["output"].write_text(bundle.tlog_proof, encoding="utf-8")
        else:
            self.stdout.write(bundle.tlog_proof, ending="")

    def _consistency(self, old_size: int, new_size: int) -> None:
        old, new, proof = consistency(old_size, new_size)
        self.stdout.write(json.dumps({
            "old_size": old_size, "new_size": new_size,
            "proof": [base64.b64encode(node).decode("ascii") for node in proof],
            "old_checkpoint": old.note, "new_checkpoint": new.note,
        }, indent=2))
