"""What the user said about an import, validated before anything is written."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from onfile.accounts.models import User
from onfile.conversations.models import Client, Matter
from onfile.conversations.phones import maybe_e164


class ImportError_(Exception):
    """The import cannot go ahead; nothing was written."""


@dataclass
class ImportOptions:
    matter: str = ""
    client: str = ""
    custodian: str = ""
    me: str = ""
    tz: str = ""
    date_order: str = ""
    chat: str = ""
    device: str = ""
    wa_db: str = ""
    media_root: str = ""


@dataclass
class Resolved:
    """Options turned into ids, as recorded in the ``import.started`` entry."""

    matter_id: int | None
    client_id: int | None
    custodian_id: int | None
    me: str
    tz: str
    date_order: str
    chat: str
    device: str

    def as_attrs(self) -> dict[str, object]:
        return asdict(self)


def resolve(options: ImportOptions) -> Resolved:
    tz = options.tz or settings.TIME_ZONE
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportError_(f"unknown time zone {tz!r} (use an IANA name such as Europe/London)") from None
    if options.date_order and options.date_order not in ("dmy", "mdy", "ymd"):
        raise ImportError_("--date-order must be dmy, mdy or ymd")
    matter = _matter(options.matter)
    client = _client(options.client)
    if matter is not None and client is None and matter.client_id is not None:
        client = matter.client
    custodian = _custodian(options.custodian)
    me = options.me or (custodian.name if custodian is not None else "")
    return Resolved(matter.pk if matter else None, client.pk if client else None,
                    custodian.pk if custodian else None, me, tz, options.date_order, options.chat, options.device)


def _matter(ref: str) -> Matter | None:
    if not ref:
        return None
    matter = Matter.objects.filter(reference=ref).first()
    if matter is None:
        raise ImportError_(f"no matter with the reference {ref!r} (create it first)")
    return matter


def _client(value: str) -> Client | None:
    if not value:
        return None
    phone = maybe_e164(value)
    if phone:
        found = Client.objects.filter(identities__kind="phone", identities__value=phone).first()
    else:
        matches = list(Client.objects.filter(name__iexact=value.strip())[:2])
        if len(matches) > 1:
            raise ImportError_(f"more than one client is called {value!r}; give their phone number instead")
        found = matches[0] if matches else None
    if found is None:
        raise ImportError_(f"no client {value!r} (create the client first, or leave --client out)")
    return found


def _custodian(value: str) -> User | None:
    if not value:
        return None
    user = User.objects.filter(email__iexact=value.strip()).first()
    if user is None:
        raise ImportError_(f"no staff user with the email {value!r} (--custodian takes a staff email)")
    return user
