"""The firm's WhatsApp numbers: from ``ONFILE_WHATSAPP_NUMBERS`` and ``onfile numbers add``."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from onfile.accounts.models import Team, User
from onfile.channels.whatsapp.config import parse_numbers
from onfile.conversations.actions import ActionError, _record
from onfile.conversations.models import FirmNumber
from onfile.conversations.phones import to_e164


def do_configure_number(phone_number_id: str, number: str, actor: str, *, display_name: str = "",
                        team: str = "", staff_email: str = "") -> FirmNumber:
    """Register a number, or update one seen in a webhook before it was configured."""
    if not phone_number_id.strip():
        raise ActionError("a firm number needs its phone_number_id")
    team_id = Team.objects.get_or_create(name=team)[0].pk if team else None
    staff_id = None
    if staff_email:
        staff = User.objects.filter(email__iexact=staff_email).first()
        if staff is None:
            raise ActionError(f"no staff user {staff_email}")
        staff_id = staff.pk
    attrs = {"phone_number_id": phone_number_id.strip(), "number": to_e164(number), "display_name": display_name,
             "team": team_id, "staff": staff_id}
    with transaction.atomic():
        _record("firm_number.registered", actor, f"firm_number:{phone_number_id}", attrs, None)
    return FirmNumber.objects.get(phone_number_id=phone_number_id.strip())


def sync_configured_numbers(actor: str = "system:config") -> list[FirmNumber]:
    """Make the projection match ONFILE_WHATSAPP_NUMBERS; unchanged numbers add no entry."""
    out = []
    for spec in parse_numbers(settings.WHATSAPP_NUMBERS):
        current = FirmNumber.objects.filter(phone_number_id=spec.phone_number_id).first()
        wanted = to_e164(spec.number)
        if (current is not None and current.configured and current.number == wanted
                and current.display_name == spec.display_name):
            out.append(current)
            continue
        out.append(do_configure_number(spec.phone_number_id, spec.number, actor, display_name=spec.display_name,
                                       team=spec.team))
    return out
