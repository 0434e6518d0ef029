"""Who may answer a conversation by email: the token's member of staff, the access layer, the gateway's verdicts.

**The sender.** A token bound to a member of staff accepts only that person's address in
``From`` (compared case-insensitively with the account's current address). A team/fallback
token accepts any member of staff whose address it is. Either way the account must be active
and may change the conversation according to ``onfile.access`` — its role may change things
(never an auditor, REQ-SEC-11) and the conversation is visible to them, ethical walls included
(REQ-SRA-3). The same rules are checked again when a held reply is released.

**Authentication-Results (RFC 8601).** ``From`` is easy to forge, so the verdicts of the firm's
mail gateway count: a reply is refused when a trusted verdict *for the From domain* is

- ``dmarc=fail``,
- ``dkim=fail`` (a signature by the From domain, or a parent/sub-domain of it, did not verify),
- ``spf=fail`` or ``spf=softfail`` (the envelope domain, when it is the From domain or aligned with it).

Nothing else refuses: ``none``, ``neutral``, ``temperror`` and ``permerror`` say that the check
could not be made, not that the mail is forged; verdicts about other domains (a mailing list's
signature, a forwarder's envelope) say nothing about the sender. Verdicts are only ever used to
refuse, never to accept — the token and the From address decide who may reply — so a forged
header can at most get its own email refused.

Which headers are trusted: with ``ONFILE_EMAIL_AUTHSERV_ID`` set, those whose authserv-id is one
of its values (the gateway's own name; RFC 8601 §5 requires a gateway to remove headers that
claim its id from incoming mail). Without it, only the topmost ``Authentication-Results`` header:
each receiving server adds its header on top, so the topmost one was written by the last hop,
normally the firm's gateway handing the mail to onfile, while lower ones were written earlier on
the way, or by the sender, and may record checks of a forwarder that failed for innocent reasons.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from onfile import access
from onfile.accounts.models import User
from onfile.channels.email.tokens import ReplyToken
from onfile.conversations.models import Conversation

REFUSING = {"dmarc": frozenset({"fail"}), "dkim": frozenset({"fail"}), "spf": frozenset({"fail", "softfail"})}


class SenderRefused(ValueError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def may_answer(user: User | None, conversation: Conversation) -> str:
    """Why ``user`` may not answer ``conversation`` now, or "" when they may."""
    if user is None:
        return "the member of staff no longer exists"
    if not user.is_active:
        return f"the account of {user.email} is deactivated"
    if not access.can_change(user):
        return f"{user.email} has a read-only role and may not answer clients"
    if not access.visible_conversations(user).filter(pk=conversation.pk).exists():
        return (f"{user.email} may not answer this conversation (it is not among theirs, or an ethical wall keeps "
                f"them out)")
    return ""


def sender(token: ReplyToken, address: str, conversation: Conversation) -> User:
    """The member of staff this reply is from, or ``SenderRefused``."""
    address = address.strip().lower()
    if not address:
        raise SenderRefused("the email has no sender address (From)", "wrong-sender")
    if token.user_id is not None:
        user = User.objects.filter(pk=token.user_id).first()
        if user is None or user.email.strip().lower() != address:
            raise SenderRefused(f"it was sent from {address}, which is not the address of the member of staff this "
                                f"reply address was issued to", "wrong-sender")
    else:
        user = User.objects.filter(email__iexact=address).first()
        if user is None:
            raise SenderRefused(f"{address} is not the address of a member of staff", "wrong-sender")
    why = may_answer(user, conversation)
    if why:
        raise SenderRefused(why, "inactive" if not user.is_active else "no-access")
    return user


def trusted(verdicts: list[Any]) -> list[Any]:
    """The verdicts that count (see the module docstring)."""
    if not verdicts:
        return []
    ids = settings.EMAIL_AUTHSERV_ID
    if ids:
        return [v for v in verdicts if (v.authserv_id or "").strip().lower() in ids]
    # The topmost header is index 0; when it could not be read, no verdict is trusted (a lower,
    # possibly sender-written header never moves up to take its place).
    return [v for v in verdicts if v.header_index == 0]


def _aligned(domain: str, from_domain: str) -> bool:
    domain = domain.strip().lower().rstrip(".")
    return bool(domain) and (domain == from_domain or domain.endswith("." + from_domain)
                             or from_domain.endswith("." + domain))


def auth_failures(verdicts: list[Any], from_address: str) -> list[str]:
    """The trusted verdicts that refuse this email, as "method=result (domain)"."""
    from_domain = from_address.strip().lower().rpartition("@")[2].rstrip(".")
    failed = []
    for v in trusted(verdicts):
        method, result = (v.method or "").strip().lower(), (v.result or "").strip().lower()
        if result not in REFUSING.get(method, ()):
            continue
        domain = (v.domain or "").strip().lower()
        # A DMARC verdict is about the From domain by definition, even when it does not name it.
        if _aligned(domain, from_domain) or (method == "dmarc" and not domain):
            failed.append(f"{method}={result}" + (f" ({domain})" if domain else ""))
    return failed
