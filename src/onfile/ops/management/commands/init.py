from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onfile.ops.install import InitError, initialise


class Command(BaseCommand):
    help = "Create the data directory, the master and checkpoint keys, the database and the first admin."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default="", help="email of the first administrator")
        parser.add_argument("--password-file", type=Path, help="file holding the administrator's password")
        parser.add_argument("--generate-password", action="store_true",
                            help="generate the admin password and print it once (and keep it in keys/)")
        parser.add_argument("--json", action="store_true", help="machine-readable summary")

    def handle(self, *args: Any, **options: Any) -> None:
        email: str = options["email"]
        password = self._password(options)
        try:
            result = initialise(email, password, generate=options["generate_password"])
        except InitError as exc:
            raise CommandError(str(exc)) from None
        summary = {"data_dir": str(result.data_dir), "created": result.created, "admin": result.admin_email,
                   "already_initialised": result.already}
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        self.stdout.write(f"onfile data directory: {result.data_dir}")
        for path in result.created:
            self.stdout.write(f"  created {path}")
        if result.admin_email:
            self.stdout.write(f"  administrator: {result.admin_email}")
        if result.admin_password:
            self.stdout.write(f"  password (shown once; also in keys/initial-admin-password): {result.admin_password}")
        self.stdout.write("Back up the keys directory now: without the master key no blob can be opened.")

    def _password(self, options: dict[str, Any]) -> str | None:
        path: Path | None = options["password_file"]
        if path is not None:
            try:
                return path.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise CommandError(f"cannot read --password-file {path}: {exc.strerror}") from None
        if options["email"] and not options["generate_password"]:
            if not sys.stdin.isatty():
                raise CommandError("--email needs --password-file (or --generate-password) when not on a terminal")
            first = getpass.getpass(f"Password for {options['email']}: ")
            if first != getpass.getpass("Again: "):
                raise CommandError("the passwords differ")
            return first
        return None
