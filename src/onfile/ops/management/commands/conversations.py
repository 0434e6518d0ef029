from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count

from onfile.conversations.models import Conversation


class Command(BaseCommand):
    help = "List conversations: id, source, title, client, matter, message count, provenance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = []
        for c in (Conversation.objects.annotate(n=Count("messages")).select_related("client", "matter", "custodian")
                  .order_by("pk")):
            rows.append({
                "id": c.pk, "source": c.source, "title": c.title, "is_group": c.is_group, "messages": c.n,
                "client": c.client.name if c.client else None, "matter": c.matter.reference if c.matter else None,
                "custodian": c.custodian.email if c.custodian else None, "collected_by": c.collected_by or None,
                "collected_at": c.collected_at.isoformat() if c.collected_at else None, "device": c.device or None,
                "last_message_at": c.last_message_at.isoformat() if c.last_message_at else None, "flags": c.flags,
            })
        if options["json"]:
            self.stdout.write(json.dumps(rows))
            return
        for r in rows:
            self.stdout.write(f"{r['id']:>5}  {r['source']:<6}  {r['messages']:>8} msgs  {r['title']}"
                              f"{'  [' + r['matter'] + ']' if r['matter'] else ''}")
