"""Reading back what sign-in wrote to the ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from onfile.ledger.actions import read_content
from onfile.ledger.models import Entry


@dataclass
class Event:
    kind: str
    actor: str
    subject: str
    attrs: dict[str, Any]
    personal: dict[str, Any] | None
    raw: str  # the leaf's columns as stored, to show what is readable without the master key


def events(kind: str) -> list[Event]:
    found = []
    for entry in Entry.objects.filter(kind=kind).order_by("seq"):
        personal = read_content(entry.blob_id) if entry.blob_id is not None else None
        found.append(Event(entry.kind, entry.actor, entry.subject, json.loads(entry.attrs), personal,
                           f"{entry.actor} {entry.subject} {entry.attrs}"))
    return found
