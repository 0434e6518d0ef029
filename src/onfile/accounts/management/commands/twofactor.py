"""``onfile twofactor EMAIL``: a user's two-factor state; ``--reset`` for a lost phone,
``--unlock`` to lift sign-in lockouts of the account. Both are ledgered."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onfile.accounts import throttle, twofactor
from onfile.accounts.events import do_auth_event
from onfile.accounts.models import User


class Command(BaseCommand):
    help = "Show a user's two-factor state; reset it (lost phone) or lift a sign-in lockout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--reset", action="store_true",
                            help="remove the authenticator and recovery codes; the user sets up a new one at "
                                 "next sign-in (required roles) or may (others)")
        parser.add_argument("--unlock", action="store_true", help="lift lockouts of this account's sign-in")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip().lower()
        user = User.objects.filter(email=email).first()
        if user is None:
            raise CommandError(f"no user with the email {email}")
        if options["reset"]:
            removed = twofactor.do_disable_two_factor(user, actor="system:cli", reason="reset")
            self.stdout.write("two-factor removed" if removed else "two-factor was not set up")
        if options["unlock"]:
            lifted = throttle.unlock(throttle.ACCOUNT, email) + throttle.unlock(throttle.TOTP, str(user.pk))
            do_auth_event("lockout_lifted", actor="system:cli", subject=user.actor, attrs={"user": user.pk})
            self.stdout.write(f"lifted {lifted} lockout{'s' if lifted != 1 else ''}")
        state = twofactor.confirmed(user)
        required = "required" if twofactor.requires_two_factor(user) else "optional"
        if state is None:
            self.stdout.write(f"{user.email} ({user.role}): two-factor off ({required})")
        else:
            self.stdout.write(f"{user.email} ({user.role}): two-factor on since {state.confirmed_at:%Y-%m-%d %H:%M} "
                              f"UTC, {twofactor.remaining_recovery_codes(user)} recovery codes left ({required})")
