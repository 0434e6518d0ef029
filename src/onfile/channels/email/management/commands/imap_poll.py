"""``onfile imap-poll``: fetch staff replies from an IMAP mailbox (see ``onfile.channels.email.imap``)."""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from onfile.channels.email import imap


class Command(BaseCommand):
    help = ("Fetch staff replies from the IMAP mailbox (ONFILE_IMAP_*) every ONFILE_IMAP_POLL_SECONDS, or once "
            "with --once. The worker does the same when ONFILE_IMAP_HOST is set: run one or the other.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="poll once, print what was done, then exit "
                                                                "(exit status 1 if the server cannot be used)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.IMAP_HOST:
            raise CommandError("ONFILE_IMAP_HOST is not set: there is no mailbox to poll")
        poller = imap.Poller()
        if options["once"]:
            try:
                result = poller.poll_once()
            except imap.ImapUnavailable as exc:
                imap.record_state(poller.config, False, str(exc))
                raise CommandError(str(exc)) from None
            imap.record_state(poller.config, True)
            self.stdout.write(f"{poller.config.mailbox} at {poller.config.where}: {result.summary()}")
            return
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"polling {poller.config.mailbox} at {poller.config.where} every "
                          f"{settings.IMAP_POLL_SECONDS} s")
        self.stdout.flush()
        while not stopping:
            close_old_connections()
            poller.poll_if_due()
            while not stopping and time.monotonic() < poller.next_due:
                time.sleep(0.2)
