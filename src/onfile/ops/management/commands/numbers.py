from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onfile.channels.whatsapp.numbers import do_configure_number, sync_configured_numbers
from onfile.conversations.actions import ActionError
from onfile.conversations.models import FirmNumber
from onfile.conversations.phones import PhoneError


class Command(BaseCommand):
    help = "List the firm's WhatsApp numbers, or add/update one (phone_number_id → number, name, team, staff)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action")
        sub.add_parser("list", help="list the numbers (default)")
        add = sub.add_parser("add", help="add or update a number")
        add.add_argument("phone_number_id")
        add.add_argument("number", help="E.164, e.g. +442079460000")
        add.add_argument("--name", default="")
        add.add_argument("--team", default="")
        add.add_argument("--staff", default="", help="email of the staff member whose Business app shares it")
        sub.add_parser("sync", help="apply ONFILE_WHATSAPP_NUMBERS")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "add":
                do_configure_number(options["phone_number_id"], options["number"], "system:cli",
                                    display_name=options["name"], team=options["team"], staff_email=options["staff"])
            elif options["action"] == "sync":
                sync_configured_numbers()
        except (ActionError, PhoneError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        rows = [{"phone_number_id": n.phone_number_id, "number": n.number, "name": n.display_name,
                 "team": n.team.name if n.team else None, "configured": n.configured,
                 "staff": n.staff.email if n.staff else None} for n in FirmNumber.objects.order_by("pk")]
        if options["json"]:
            self.stdout.write(json.dumps(rows))
            return
        for r in rows:
            flag = "" if r["configured"] else "  (NOT CONFIGURED: seen in a webhook)"
            self.stdout.write(f"{r['phone_number_id']}  {r['number']}  {r['name']}{flag}")
