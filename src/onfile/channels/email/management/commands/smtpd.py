"""``onfile smtpd``: receive staff replies by SMTP (see ``onfile.channels.email.smtpd``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from onfile.channels.email import smtpd
from onfile.channels.email.tlsconf import TlsConfigError


class Command(BaseCommand):
    help = ("Receive staff replies by SMTP: the firm's mail gateway routes the reply domain "
            "(ONFILE_EMAIL_REPLY_DOMAIN) here. Stops gracefully on SIGTERM/SIGINT.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=None, help=f"address to listen on (ONFILE_SMTPD_HOST, now "
                                                         f"{settings.SMTPD_HOST})")
        parser.add_argument("--port", type=int, default=None,
                            help=f"port (ONFILE_SMTPD_PORT, now {settings.SMTPD_PORT}; 0: any free port)")
        parser.add_argument("--tls-cert", default=None, help="PEM certificate chain for STARTTLS "
                                                             "(ONFILE_SMTPD_TLS_CERT)")
        parser.add_argument("--tls-key", default=None, help="its private key (ONFILE_SMTPD_TLS_KEY)")
        parser.add_argument("--require-tls", action="store_true", default=None,
                            help="refuse mail before STARTTLS (ONFILE_SMTPD_REQUIRE_TLS)")
        parser.add_argument("--max-mb", type=int, default=None,
                            help=f"largest mail accepted, in MB (ONFILE_SMTPD_MAX_MB, now {settings.SMTPD_MAX_MB})")

    def handle(self, *args: Any, **options: Any) -> None:
        if not smtpd.reply_domain():
            raise CommandError("ONFILE_EMAIL_REPLY_DOMAIN is not set: replies by email are off, so there is "
                               "nothing to receive (set it to the domain the gateway routes here)")
        try:
            server = smtpd.from_settings(options["host"], options["port"], tls_cert=options["tls_cert"],
                                         tls_key=options["tls_key"], require_tls=options["require_tls"],
                                         max_mb=options["max_mb"])
        except (ValueError, TlsConfigError) as exc:
            raise CommandError(str(exc)) from None

        def ready(s: smtpd.ReplyServer) -> None:
            tls = "STARTTLS required" if s.require_tls else "STARTTLS offered" if s.tls_context else "no TLS"
            limit = f"{s.max_bytes // (1024 * 1024)} MB" if s.max_bytes else "no size limit"
            self.stdout.write(f"onfile smtpd listening on {s.host}:{s.port} for reply+…@{s.domain} "
                              f"({tls}, {limit})")
            self.stdout.flush()

        try:
            server.run(ready)
        except OSError as exc:  # e.g. the port is taken
            raise CommandError(f"cannot listen on {server.host}:{server.port}: {exc.strerror or exc}") from None
