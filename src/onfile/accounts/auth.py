"""Sign-in in steps, and the end of a session.

1. Password (:func:`do_password_step`). Failures count towards the lockouts of
   ``onfile.accounts.throttle``; the person is told only "wrong email or password" (or
   "temporarily blocked", for real and unknown emails alike), never which part was wrong.
2. A second factor, when the account has one, or enrolment, when the role requires one and
   the account has none (``TOTP_REQUIRED_ROLES``).
3. Only then :func:`django.contrib.auth.login` (:func:`complete_login`), which gives the
   session a new key.

Between the steps the session holds a *pending* sign-in (user id, stage, time) and
``request.user`` stays anonymous: every page except the next step's still sends the person
to the sign-in page. A pending sign-in lapses after ``PENDING_SECONDS``.

Single sign-on (onfile.accounts.sso) ends in :func:`complete_login` too when the identity
provider says it did two-factor (the ID token's ``amr``/``acr``), or the role does not require
it; otherwise the provider's sign-in is the first factor and onfile's own TOTP step follows
(:func:`start_second_step`), recorded as ``sso+totp``.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.db import transaction
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from onfile.accounts import throttle, twofactor
from onfile.accounts.events import do_auth_event, request_details
from onfile.accounts.models import User

PENDING = "onfile.auth.pending"
AUTH_AT = "onfile.auth.at"
SEEN_AT = "onfile.auth.seen"
MFA = "onfile.auth.mfa"
METHOD = "onfile.auth.method"
EXPIRED = "onfile.auth.expired"
PENDING_SECONDS = 300
BACKEND = "django.contrib.auth.backends.ModelBackend"

requires_two_factor = twofactor.requires_two_factor


class Outcome(StrEnum):
    SIGNED_IN = "signed_in"
    NEEDS_CODE = "needs_code"
    NEEDS_ENROLMENT = "needs_enrolment"
    INVALID = "invalid"
    LOCKED = "locked"


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``next`` only when it stays on this site."""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return ""


def _locked_out(email: str, ip: str) -> bool:
    return (throttle.locked_until(throttle.ACCOUNT, email) is not None
            or throttle.locked_until(throttle.IP, ip) is not None)


def do_password_step(request: HttpRequest, email: str, password: str, next_url: str = "") -> Outcome:
    email = email.strip().lower()[:254]
    ip = throttle.client_ip(request)
    if _locked_out(email, ip):
        # Hash the password anyway: the answer takes as long as a real check.
        User().set_password(password)
        return Outcome.LOCKED
    user = authenticate(request, username=email, password=password)
    if not isinstance(user, User):
        return Outcome.LOCKED if _password_failed(request, email, ip) else Outcome.INVALID
    throttle.clear_failures(throttle.ACCOUNT, email)
    if twofactor.confirmed(user) is not None:
        _set_pending(request, user, "code", next_url)
        return Outcome.NEEDS_CODE
    if requires_two_factor(user):
        _set_pending(request, user, "enrol", next_url)
        return Outcome.NEEDS_ENROLMENT
    complete_login(request, user, method="password", mfa=False, next_url=next_url)
    return Outcome.SIGNED_IN


def _password_failed(request: HttpRequest, email: str, ip: str) -> bool:
    """Count and ledger a failed password step; True when it started a lockout."""
    known = User.objects.filter(email=email).first()
    reason = "unknown_account" if known is None else ("inactive" if not known.is_active else "wrong_password")
    personal = {"email": email, **request_details(request)}
    with transaction.atomic():
        account_lock = throttle.record_failure(throttle.ACCOUNT, email)
        ip_lock = throttle.record_failure(throttle.IP, ip)
        do_auth_event("login_failed", actor="anonymous", subject=known.actor if known else "",
                      attrs={"reason": reason, "user": known.pk if known else None}, personal=personal)
        for scope, until in ((throttle.ACCOUNT, account_lock), (throttle.IP, ip_lock)):
            if until is not None:
                subject = known.actor if known is not None and scope == throttle.ACCOUNT else ""
                do_auth_event("login_locked", actor="system", subject=subject,
                              attrs={"scope": scope, "until": until.isoformat()}, personal=personal)
    return account_lock is not None or ip_lock is not None


def _set_pending(request: HttpRequest, user: User, stage: str, next_url: str,
                 first: str = "password") -> None:
    # A new session key before anything about the person is in the session (session fixation).
    request.session.cycle_key()
    request.session[PENDING] = {"user": user.pk, "stage": stage, "at": time.time(), "next": next_url,
                                "first": first}


def start_second_step(request: HttpRequest, user: User, next_url: str, first: str) -> str:
    """After a first factor that was not two-factor (``first``: "password", "sso"), for a role that
    requires it: a pending sign-in at the code step, or at enrolment when no authenticator is set
    up. Returns the stage ("code" or "enrol")."""
    stage = "code" if twofactor.confirmed(user) is not None else "enrol"
    _set_pending(request, user, stage, next_url, first)
    return stage


def _first_factor(request: HttpRequest) -> str:
    pending: dict[str, Any] = request.session.get(PENDING) or {}
    return str(pending.get("first") or "password")


def pending_user(request: HttpRequest, stage: str) -> User | None:
    """The user of the pending sign-in at ``stage`` (``code`` or ``enrol``), if still valid."""
    pending: dict[str, Any] | None = request.session.get(PENDING)
    if not pending or pending.get("stage") != stage:
        return None
    if time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def pending_next(request: HttpRequest) -> str:
    pending: dict[str, Any] = request.session.get(PENDING) or {}
    return str(pending.get("next") or "")


def do_second_step(request: HttpRequest, code: str) -> twofactor.Verified:
    """Check the code of a pending sign-in and complete it (raises TwoFactorError)."""
    user = pending_user(request, "code")
    if user is None:
        raise twofactor.TwoFactorError("your sign-in took too long; start again")
    verified = twofactor.do_verify_second_factor(user, code, request)
    complete_login(request, user, method=f"{_first_factor(request)}+{verified.method}", mfa=True,
                   next_url=pending_next(request))
    return verified


def do_enrolment_step(request: HttpRequest, user: User, code: str) -> list[str]:
    """Confirm a new authenticator; a pending sign-in is completed by it (the code is the second
    factor). Returns the recovery codes to show once."""
    codes = twofactor.do_confirm_enrolment(user, code, request)
    if not request.user.is_authenticated:
        complete_login(request, user, method=f"{_first_factor(request)}+totp", mfa=True, next_url=pending_next(request))
    else:
        request.session[MFA] = True
    return codes


def complete_login(request: HttpRequest, user: User, *, method: str, mfa: bool, next_url: str = "") -> None:
    login(request, user, backend=BACKEND)
    now = time.time()
    session = request.session
    session.pop(PENDING, None)
    session.pop(EXPIRED, None)
    session.update({AUTH_AT: now, SEEN_AT: now, MFA: mfa, METHOD: method})
    if next_url:
        session["onfile.auth.next"] = next_url
    do_auth_event("login_succeeded", actor=user.actor, subject=user.actor, attrs={"user": user.pk, "method": method},
                  personal=request_details(request))


def take_next(request: HttpRequest, default: str = "/") -> str:
    """Where to go after sign-in (once)."""
    return safe_next(request, request.session.pop("onfile.auth.next", "")) or default


def do_logout(request: HttpRequest) -> None:
    user = request.user
    if isinstance(user, User):
        do_auth_event("logout", actor=user.actor, subject=user.actor, attrs={"user": user.pk})
    logout(request)


def do_expire_session(request: HttpRequest, reason: str) -> None:
    """End a session that outlived its limits; the sign-in page will say why."""
    user = request.user
    if isinstance(user, User):
        do_auth_event("session_expired", actor="system", subject=user.actor, attrs={"user": user.pk, "reason": reason},
                      personal=request_details(request))
    logout(request)
    request.session[EXPIRED] = reason
