"""Staff actions on conversations, clients and matters from the web inbox and the CLI.

Each one validates, appends its ledger entry (personal content sealed) and projects it in
one transaction, through ``actions._record`` — the same path ``onfile rebuild`` replays.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from onfile.conversations.actions import ActionError, _record
from onfile.conversations.models import Client, ClientIdentity, Conversation, Matter
from onfile.conversations.phones import to_e164


def do_link_client(conversation: Conversation, client: Client | None, actor: str) -> Conversation:
    if client is not None and client.merged_into_id:
        raise ActionError(f"{client.name} was merged into another client; link that one")
    attrs = {"conversation": conversation.pk, "client": client.pk if client else None}
    with transaction.atomic():
        _record("conversation.client_linked", actor, f"conversation:{conversation.pk}", attrs, None)
    conversation.refresh_from_db()
    return conversation


def do_add_note(conversation: Conversation, text: str, actor: str, author_id: int | None) -> int:
    """An internal note: on the record, never sent to the client."""
    text = text.strip()
    if not text:
        raise ActionError("the note is empty")
    if len(text) > 20_000:
        raise ActionError("a note may have at most 20,000 characters")
    attrs = {"conversation": conversation.pk, "author": author_id, "at": timezone.now().isoformat()}
    with transaction.atomic():
        return _record("conversation.note_added", actor, f"conversation:{conversation.pk}", attrs, {"text": text})


def do_update_client(client: Client, actor: str, *, name: str, email: str = "", kind: str = "",
                     phone: str = "") -> Client:
    name = name.strip()
    if not name:
        raise ActionError("a client needs a name")
    kind = kind or client.kind
    if kind not in Client.Kind.values:
        raise ActionError(f"unknown client kind {kind!r}")
    phone_e164 = to_e164(phone) if phone.strip() else ""
    if phone_e164 and ClientIdentity.objects.filter(kind="phone", value=phone_e164).exclude(client=client).exists():
        raise ActionError(f"{phone_e164} belongs to another client: merge the two instead")
    content = {"name": name, "email": email.strip(), "kind": kind, "phone": phone_e164}
    with transaction.atomic():
        _record("client.updated", actor, f"client:{client.pk}", {"client": client.pk}, content)
    client.refresh_from_db()
    return client


def do_merge_clients(duplicate: Client, keep: Client, actor: str) -> Client:
    """Fold a duplicate client into the one kept: identities, conversations and matters move;
    the duplicate stays (marked merged) so every earlier ledger reference still resolves."""
    if duplicate.pk == keep.pk:
        raise ActionError("a client cannot be merged into itself")
    if duplicate.merged_into_id or keep.merged_into_id:
        raise ActionError("one of these clients was already merged")
    attrs = {"duplicate": duplicate.pk, "keep": keep.pk}
    with transaction.atomic():
        _record("client.merged", actor, f"client:{keep.pk}", attrs, None)
    keep.refresh_from_db()
    return keep


FILING_MODES = ("message", "day")


def _filing(matter: Matter, address: str | None, mode: str | None) -> tuple[str, str]:
    """The filing address and mode after an edit; None keeps the current value."""
    address = matter.filing_address if address is None else address.strip()
    mode = matter.filing_mode if mode is None else (mode.strip() or "message")
    if mode not in FILING_MODES:
        raise ActionError(f"unknown filing mode {mode!r}; use 'message' (each message) or 'day' (a daily digest)")
    if address:
        try:
            validate_email(address)
        except ValidationError:
            raise ActionError(f"{address!r} is not an email address: give the document system's filing "
                              "address for this matter, e.g. 1234.5678@filing.firm.example") from None
        allowed = [d.strip().lower() for d in settings.FILING_DOMAINS.split(",") if d.strip()]
        domain = address.rsplit("@", 1)[1].lower()
        if address != matter.filing_address and allowed and domain not in allowed:
            # Every message of the matter would go there: only the firm's document system may receive them.
            raise ActionError(f"{domain} is not a filing domain of the firm ({', '.join(allowed)}): "
                              "ONFILE_FILING_DOMAINS lists where matters may be filed")
    return address, mode


def do_update_matter(matter: Matter, actor: str, *, title: str, client: Client | None, responsible_id: int | None,
                     practice_area: str = "", filing_address: str | None = None,
                     filing_mode: str | None = None) -> Matter:
    """Edit a matter. The filing address (where channels/email/filing.py files its conversations'
    messages) names a mailbox, so it is sealed with the other content; the mode is in clear."""
    address, mode = _filing(matter, filing_address, filing_mode)
    attrs = {"matter": matter.pk, "client": client.pk if client else None, "responsible": responsible_id,
             "filing_mode": mode}
    with transaction.atomic():
        _record("matter.updated", actor, f"matter:{matter.pk}", attrs,
                {"title": title.strip(), "practice_area": practice_area.strip(), "filing_address": address})
    matter.refresh_from_db()
    return matter


def do_close_matter(matter: Matter, actor: str, *, reopen: bool = False) -> Matter:
    if reopen == (matter.closed_at is None):
        raise ActionError("the matter is already open" if reopen else "the matter is already closed")
    attrs = {"matter": matter.pk, "closed_at": None if reopen else timezone.now().isoformat()}
    with transaction.atomic():
        _record("matter.closed" if not reopen else "matter.reopened", actor, f"matter:{matter.pk}", attrs, None)
    matter.refresh_from_db()
    return matter
