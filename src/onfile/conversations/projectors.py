"""Projectors for the conversation domain: one function per ledger kind."""

from __future__ import annotations

from datetime import datetime

from onfile.conversations.models import Client, ClientIdentity, Conversation, FirmNumber, Matter
from onfile.projection import EntryView, projector


@projector("client.created")
def client_created(entry: EntryView) -> None:
    content = entry.content()
    # Top-level rows take the seq of the entry that created them as their id: ids then stay
    # the same through every rebuild on every database (a PostgreSQL sequence keeps the gaps
    # of rolled-back transactions), so URLs and audit subjects ("conversation:42") stay valid.
    client = Client.objects.create(id=entry.seq, kind=content["kind"], name=content["name"], email=content["email"],
                                   created_seq=entry.seq)
    for kind in ("phone", "bsuid", "email"):
        if content.get(kind):
            ClientIdentity.objects.create(client=client, kind=kind, value=content[kind])


@projector("matter.created")
def matter_created(entry: EntryView) -> None:
    content = entry.content()
    Matter.objects.create(id=entry.seq, reference=content["reference"], title=content["title"],
                          practice_area=content["practice_area"], client_id=entry.attrs["client"],
                          responsible_id=entry.attrs["responsible"],
                          opened_at=datetime.fromisoformat(entry.attrs["opened_at"]))


@projector("firm_number.registered")
def firm_number_registered(entry: EntryView) -> None:
    a = entry.attrs
    values = {"number": a["number"], "display_name": a["display_name"], "team_id": a["team"],
              "staff_id": a.get("staff"), "configured": True}
    number, created = FirmNumber.objects.update_or_create(
        phone_number_id=a["phone_number_id"], defaults=values, create_defaults={"id": entry.seq, **values})
    if not created:
        # A number first seen in a webhook is now configured: its conversations lose the flag.
        for conversation in Conversation.objects.filter(firm_number=number):
            if "unconfigured-number" in conversation.flags:
                conversation.flags = [f for f in conversation.flags if f != "unconfigured-number"]
                conversation.save(update_fields=["flags"])


@projector("conversation.matter_linked")
def matter_linked(entry: EntryView) -> None:
    Conversation.objects.filter(pk=entry.attrs["conversation"]).update(matter_id=entry.attrs["matter"])


@projector("conversation.assigned")
def assigned(entry: EntryView) -> None:
    Conversation.objects.filter(pk=entry.attrs["conversation"]).update(assignee_id=entry.attrs["assignee"])
