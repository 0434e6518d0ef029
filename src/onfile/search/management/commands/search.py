"""``onfile search QUERY --as EMAIL``: the search facade on the command line."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onfile import access
from onfile.accounts.models import User
from onfile.conversations.models import FirmNumber
from onfile.search import ORDERS, SearchError, SearchFilters, SearchPage, search


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD") from None


class Command(BaseCommand):
    help = ("Search every message you may see: words (all must appear), \"a phrase\", prefix*, OR, "
            "or a phone number in any spelling. Every search is recorded in the ledger.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("query", help='what to look for, e.g. lease "clause 4" sign*')
        parser.add_argument("--as", dest="as_user", required=True, metavar="EMAIL",
                            help="the staff member whose access applies (roles, ethical walls)")
        parser.add_argument("--client", type=int, help="only this client's conversations (client id)")
        parser.add_argument("--matter", type=int, help="only this matter's conversations (matter id)")
        parser.add_argument("--staff", metavar="EMAIL", help="conversations assigned to, or messages sent by, them")
        parser.add_argument("--number", metavar="PHONE_NUMBER_ID", help="only conversations on this firm number")
        parser.add_argument("--from", dest="sent_from", type=_date, metavar="DATE",
                            help="sent on or after (YYYY-MM-DD)")
        parser.add_argument("--to", dest="sent_to", type=_date, metavar="DATE", help="sent on or before (YYYY-MM-DD)")
        parser.add_argument("--direction", choices=["in", "out", "system"], help="in: from clients; out: from the firm")
        parser.add_argument("--type", help="message type: text, image, document, voice, …")
        parser.add_argument("--has-attachment", action="store_true", help="only messages with an attachment")
        parser.add_argument("--order", choices=ORDERS, default="newest")
        parser.add_argument("--page", type=int, default=1)
        parser.add_argument("--per-page", type=int, default=25)
        parser.add_argument("--json", action="store_true", help="one JSON document")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = access.cli_user(options["as_user"])
            filters = SearchFilters(
                client=options["client"], matter=options["matter"], staff=_staff(options["staff"]),
                firm_number=_firm_number(options["number"]), sent_from=options["sent_from"],
                sent_to=options["sent_to"], direction=options["direction"], type=options["type"],
                has_attachment=True if options["has_attachment"] else None)
            page = search(user, options["query"], filters, page=options["page"], per_page=options["per_page"],
                          order=options["order"])
        except (SearchError, access.AccessDenied) as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(page.as_dict(), ensure_ascii=False))
            return
        self._print(page)

    def _print(self, page: SearchPage) -> None:
        total = f"{page.total:,}" + ("" if page.total_is_exact else "+")
        if page.phone_numbers:
            self.stdout.write(f"phone number {', '.join(page.phone_numbers)}")
        self.stdout.write(f"{total} messages; page {page.page}{' (more follow)' if page.has_next else ''}")
        for h in page.hits:
            where = h.client_name or h.conversation_title
            if h.matter_reference:
                where += f" [{h.matter_reference}]"
            self.stdout.write(f"{h.sent_at:%Y-%m-%d %H:%M}  {h.direction:<3}  conversation {h.conversation_id}  "
                              f"message {h.message_id}  {where}  {h.sender}")
            if h.earlier_text_replaced_at:
                replaced = f"{h.earlier_text_replaced_at:%Y-%m-%d %H:%M}"
                self.stdout.write(f"    (found in an earlier text of the message, replaced {replaced})")
            self.stdout.write(f"    {h.snippet_text}")


def _staff(email: str | None) -> int | None:
    if not email:
        return None
    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None:
        raise CommandError(f"--staff: no staff member with the email {email!r}")
    return user.pk


def _firm_number(phone_number_id: str | None) -> int | None:
    if not phone_number_id:
        return None
    number = FirmNumber.objects.filter(phone_number_id=phone_number_id.strip()).first()
    if number is None:
        raise CommandError(f"--number: no firm number with the phone_number_id {phone_number_id!r} "
                           "(see 'onfile numbers')")
    return number.pk
