"""``onfile export``: one conversation as JSON lines, a PDF transcript or a zip with everything.

Every format is read as a staff member (``--as EMAIL``), through the same access layer as
the web: a conversation they may not see is "no conversation N", and nothing is written.
There is no default person: an export without one would be a read nobody answers for.
Files are written next to their target under a temporary name and renamed when complete,
so a failed export leaves nothing behind.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from onfile import access
from onfile.exports import conversation as exports
from onfile.ledger.checkpoints import CheckpointRefused

FORMATS = ("jsonl", "pdf", "zip")


class Command(BaseCommand):
    help = "Write a conversation as JSON lines, a PDF transcript or a zip (JSON lines, media, transcript, manifest)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--conversation", type=int, required=True, help="the conversation id")
        parser.add_argument("--format", default="jsonl", choices=FORMATS)
        parser.add_argument("--as", dest="as_user", metavar="EMAIL",
                            help="the staff member exporting: their access applies and the export is recorded "
                                 "as theirs (required)")
        parser.add_argument("-o", "--output", help="file to write; '-' for standard output (pdf and zip only to a "
                                                   "pipe, never a terminal); jsonl defaults to standard output")
        parser.add_argument("--actor", help="removed: use --as EMAIL")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["actor"] is not None:
            raise CommandError("--actor is gone: give --as EMAIL, the staff member whose access applies")
        if not options["as_user"]:
            raise CommandError("give --as EMAIL: the staff member whose access applies (the export is ledgered "
                               "as theirs)")
        fmt, target = options["format"], options["output"]
        if fmt != "jsonl" and not target:
            raise CommandError(f"give -o FILE for a {fmt} export (or -o - to write to a pipe)")
        if fmt != "jsonl" and target == "-" and sys.stdout.isatty():
            raise CommandError(f"refusing to write a binary {fmt} to a terminal: give -o FILE or pipe the output")
        try:
            user = access.cli_user(options["as_user"])
            self._export(fmt, options["conversation"], user, target)
        except (access.AccessDenied, CheckpointRefused) as exc:
            raise CommandError(str(exc)) from None
        except Http404:
            raise CommandError(f"there is no conversation {options['conversation']} that {user.email} may see "
                               "(see 'onfile conversations')") from None

    def _export(self, fmt: str, pk: int, user: Any, target: str | None) -> None:
        produce = {"jsonl": exports.write_jsonl, "pdf": exports.render_pdf, "zip": exports.write_zip}[fmt]
        results: list[exports.ExportResult] = []
        _write(target, lambda out: results.append(produce(pk, user, out)))
        r = results[0]
        if target and target != "-":
            missing = f", {r.files_missing} file(s) missing (listed in it)" if r.files_missing else ""
            self.stderr.write(f"wrote {target}: {fmt} of conversation {pk}, {r.messages} messages, {r.size} bytes, "
                              f"sha256 {r.sha256}{missing}; ledger checkpoint at size {r.checkpoint_size}, root "
                              f"{r.checkpoint_root}")


def _write(target: str | None, produce: Callable[[BinaryIO], None]) -> None:
    if not target or target == "-":
        produce(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    path = Path(target)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            produce(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
