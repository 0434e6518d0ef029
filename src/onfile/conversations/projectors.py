"""Projectors for the conversation domain: one function per ledger kind."""

from __future__ import annotations

from datetime import datetime

from onfile.conversations.models import (
    Client,
    ClientIdentity,
    Conversation,
    FirmNumber,
    Matter,
    Note,
    Participant,
    ReadMarker,
)
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


@projector("matter.wall_set")
def wall_set(entry: EntryView) -> None:
    matter = Matter.objects.get(pk=entry.attrs["matter"])
    matter.wall_mode = entry.attrs["mode"]
    matter.save(update_fields=["wall_mode"])
    matter.wall_members.set(entry.attrs["members"])


@projector("conversation.client_linked")
def client_linked(entry: EntryView) -> None:
    Conversation.objects.filter(pk=entry.attrs["conversation"]).update(client_id=entry.attrs["client"])


@projector("conversation.note_added")
def note_added(entry: EntryView) -> None:
    Note.objects.create(conversation_id=entry.attrs["conversation"], author_id=entry.attrs["author"],
                        body=entry.content()["text"], at=datetime.fromisoformat(entry.attrs["at"]),
                        source_seq=entry.seq)


@projector("client.updated")
def client_updated(entry: EntryView) -> None:
    c = entry.content()
    client_id = entry.attrs["client"]
    Client.objects.filter(pk=client_id).update(name=c["name"], email=c["email"], kind=c["kind"])
    if c["phone"]:
        ClientIdentity.objects.get_or_create(kind="phone", value=c["phone"], defaults={"client_id": client_id})


@projector("client.merged")
def client_merged(entry: EntryView) -> None:
    dup, keep = entry.attrs["duplicate"], entry.attrs["keep"]
    ClientIdentity.objects.filter(client_id=dup).update(client_id=keep)
    Conversation.objects.filter(client_id=dup).update(client_id=keep)
    Matter.objects.filter(client_id=dup).update(client_id=keep)
    Participant.objects.filter(client_id=dup).update(client_id=keep)
    Client.objects.filter(pk=dup).update(merged_into_id=keep)


@projector("matter.updated")
def matter_updated(entry: EntryView) -> None:
    c = entry.content()
    # Entries made before file-by-email carry no filing fields: the matter had none then.
    Matter.objects.filter(pk=entry.attrs["matter"]).update(
        title=c["title"], practice_area=c["practice_area"], client_id=entry.attrs["client"],
        responsible_id=entry.attrs["responsible"], filing_address=c.get("filing_address", ""),
        filing_mode=entry.attrs.get("filing_mode", "message"))


@projector("matter.closed")
@projector("matter.reopened")
def matter_closed(entry: EntryView) -> None:
    closed = entry.attrs["closed_at"]
    Matter.objects.filter(pk=entry.attrs["matter"]).update(
        closed_at=datetime.fromisoformat(closed) if closed else None)


@projector("access.view")
def conversation_viewed(entry: EntryView) -> None:
    """A staff member was shown a conversation up to a position: their read marker moves."""
    upto = entry.attrs.get("upto")
    if upto is None or "at" not in entry.attrs:
        return
    if not entry.subject.startswith("conversation:") or not entry.actor.startswith("user:"):
        return
    conversation_id, user_id = int(entry.subject.split(":", 1)[1]), int(entry.actor.split(":", 1)[1])
    at = datetime.fromisoformat(entry.attrs["at"])
    marker = ReadMarker.objects.filter(user_id=user_id, conversation_id=conversation_id).first()
    if marker is None:
        if Conversation.objects.filter(pk=conversation_id).exists():
            ReadMarker.objects.create(user_id=user_id, conversation_id=conversation_id, position=upto, at=at)
    elif upto > marker.position:
        ReadMarker.objects.filter(pk=marker.pk).update(position=upto, at=at)
