"""Actions on clients, matters, firm numbers and conversations.

Each action validates its input, seals the personal content, appends its ledger entry and
applies the projector — all in one transaction — and returns the projected row.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from onfile.conversations.models import Client, ClientIdentity, Conversation, FirmNumber, Matter
from onfile.conversations.phones import to_e164
from onfile.ledger.actions import commit_sealed, seal_content
from onfile.ledger.log import NewEntry, append
from onfile.projection import EntryView, project


class ActionError(ValueError):
    """Bad input for an action; nothing was written."""


def _record(kind: str, actor: str, subject: str, attrs: dict[str, Any], content: dict[str, Any] | None) -> int:
    """Append (with sealed content when given) and project; inside the caller's transaction."""
    if content is None:
        seq = append(NewEntry(kind, actor, subject, attrs)).seq
        project(EntryView(seq, kind, actor, subject, attrs, None))
        return seq
    sealed = seal_content(content)
    appended, blob_id = commit_sealed(sealed, kind=kind, actor=actor, subject=subject, attrs=attrs)
    project(EntryView(appended.seq, kind, actor, subject, attrs, blob_id, content))
    return appended.seq


def do_create_client(name: str, actor: str, *, phone: str = "", email: str = "", bsuid: str = "",
                     kind: str = Client.Kind.PERSON) -> Client:
    if not name.strip():
        raise ActionError("a client needs a name")
    if kind not in Client.Kind.values:
        raise ActionError(f"unknown client kind {kind!r}")
    content = {"name": name.strip(), "email": email.strip(), "phone": to_e164(phone) if phone else "",
               "bsuid": bsuid.strip(), "kind": kind}
    for identity in ("phone", "bsuid", "email"):
        taken = content[identity] and ClientIdentity.objects.filter(kind=identity, value=content[identity]).first()
        if taken:
            raise ActionError(f"{content[identity]} already belongs to the client {taken.client.name}: link that "
                              "client instead (or merge the two)")
    with transaction.atomic():
        seq = _record("client.created", actor, "", {}, content)
        return Client.objects.get(created_seq=seq)


def do_create_matter(reference: str, actor: str, *, title: str = "", client: Client | None = None,
                     responsible_id: int | None = None, practice_area: str = "") -> Matter:
    reference = reference.strip()
    if not reference:
        raise ActionError("a matter needs a reference")
    if Matter.objects.filter(reference=reference).exists():
        raise ActionError(f"a matter with the reference {reference} already exists")
    attrs = {"client": client.pk if client else None, "responsible": responsible_id,
             "opened_at": timezone.now().isoformat()}
    with transaction.atomic():
        _record("matter.created", actor, f"matter:{reference}", attrs,
                {"reference": reference, "title": title, "practice_area": practice_area})
        return Matter.objects.get(reference=reference)


def do_register_firm_number(phone_number_id: str, number: str, actor: str, *, display_name: str = "",
                            team_id: int | None = None) -> FirmNumber:
    if not phone_number_id.strip():
        raise ActionError("a firm number needs its phone_number_id")
    attrs = {"phone_number_id": phone_number_id.strip(), "number": to_e164(number),
             "display_name": display_name, "team": team_id}
    with transaction.atomic():
        _record("firm_number.registered", actor, f"firm_number:{phone_number_id}", attrs, None)
        return FirmNumber.objects.get(phone_number_id=phone_number_id.strip())


def do_link_matter(conversation: Conversation, matter: Matter | None, actor: str) -> Conversation:
    attrs = {"conversation": conversation.pk, "matter": matter.pk if matter else None}
    with transaction.atomic():
        _record("conversation.matter_linked", actor, f"conversation:{conversation.pk}", attrs, None)
    conversation.refresh_from_db()
    return conversation


def do_assign(conversation: Conversation, assignee_id: int | None, actor: str) -> Conversation:
    attrs = {"conversation": conversation.pk, "assignee": assignee_id}
    with transaction.atomic():
        _record("conversation.assigned", actor, f"conversation:{conversation.pk}", attrs, None)
    conversation.refresh_from_db()
    return conversation


WALL_MODES = ("", "only", "except")


def do_set_wall(matter: Matter, mode: str, member_ids: list[int], actor: str) -> Matter:
    """Put up, change or take down an ethical wall on a matter (invariant 6).

    ``only``: only the listed people may see the matter's conversations; ``except``: the listed
    people may not; ``""``: no wall. Compliance and auditors always see through (access.py).
    """
    if mode not in WALL_MODES:
        raise ActionError(f"unknown wall mode {mode!r}; use 'only', 'except' or '' (none)")
    members = sorted(set(member_ids))
    from onfile.accounts.models import User

    known = set(User.objects.filter(pk__in=members).values_list("pk", flat=True))
    if unknown := [m for m in members if m not in known]:
        raise ActionError(f"unknown users {unknown}")
    if mode and not members:
        raise ActionError("a wall needs at least one person listed")
    attrs = {"matter": matter.pk, "mode": mode, "members": members if mode else []}
    with transaction.atomic():
        _record("matter.wall_set", actor, f"matter:{matter.pk}", attrs, None)
    matter.refresh_from_db()
    return matter
