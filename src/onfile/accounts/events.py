"""Security events of sign-in, ledgered (REQ-GDPR-6: who signed in, who failed, who was locked out).

Entries are ``security.<event>``, like :func:`onfile.ledger.actions.do_security_event`, but
what identifies a person (the email tried, the client address, the browser) is personal
data, so it never goes in a leaf in clear: it is sealed in a blob the entry commits to
(ARCHITECTURE invariant 4). Passwords and codes are never recorded, not even wrong ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from onfile.ledger.actions import commit_sealed, seal_content
from onfile.ledger.log import NewEntry, append


def request_details(request: HttpRequest | None) -> dict[str, str]:
    """The client address and browser of a request, for the sealed part of an event."""
    if request is None:
        return {}
    from onfile.accounts.throttle import client_ip

    return {"ip": client_ip(request), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300]}


def do_auth_event(
    event: str,
    *,
    actor: str,
    subject: str = "",
    attrs: Mapping[str, Any] | None = None,
    personal: Mapping[str, Any] | None = None,
) -> int:
    """Append ``security.<event>``; ``personal`` is sealed, ``attrs`` stays readable in the leaf.

    Joins the caller's transaction when there is one (a lockout and its event commit together).
    """
    kind = f"security.{event}"
    if personal:
        sealed = seal_content(dict(personal))
        with transaction.atomic():
            appended, _ = commit_sealed(sealed, kind=kind, actor=actor, subject=subject, attrs=attrs)
        return appended.seq
    with transaction.atomic():
        return append(NewEntry(kind, actor, subject, dict(attrs or {}))).seq
