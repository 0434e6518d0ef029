from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from onfile.accounts.actions import AccountError, do_create_user
from onfile.accounts.models import Role


class Command(BaseCommand):
    help = "Create a staff user with a role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", default="")
        parser.add_argument("--password-file", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            password = options["password_file"].read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise CommandError(f"cannot read --password-file: {exc.strerror}") from None
        try:
            user = do_create_user(options["email"], password, options["role"], actor="system:cli",
                                  name=options["name"])
        except AccountError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"created {user.email} ({user.role})")
