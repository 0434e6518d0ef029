"""TOTP two-factor authentication (RFC 6238) and recovery codes.

- Codes: 6 digits, 30-second steps, HMAC-SHA1 — what every authenticator app supports.
  The RFC algorithm is ``cryptography``'s (``hazmat.primitives.twofactor.totp``); nothing
  is hand-written here but the choice of which step to try.
- Clock skew: a code of the step before or after the current one is accepted too.
- No reuse: the highest accepted step is stored and a code for that step or an earlier one
  is refused. The row is locked while checking, so two requests cannot both use one code.
- The secret (160 random bits) is sealed with AES-256-GCM under a sub-key of the master key,
  with the user id as associated data (a sealed secret copied to another user's row does
  not open).
- Recovery codes: 10 one-time codes of 10 characters (~49 bits each), shown once, stored as
  keyed hashes (HMAC-SHA256 under another sub-key). High-entropy codes need no slow hash;
  guessing is bounded by the TOTP lockout.
- Wrong codes count towards the ``totp`` lockout (onfile.accounts.throttle).
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote, urlencode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import constant_time
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from onfile.accounts import throttle
from onfile.accounts.events import do_auth_event, request_details
from onfile.accounts.models import RecoveryCode, TwoFactor, User
from onfile.ledger.crypto import keyed_hash
from onfile.ledger.keys import master_key

DIGITS = 6
STEP_SECONDS = 30
SKEW_STEPS = 1
SECRET_BYTES = 20
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud and typed by people
RECOVERY_LENGTH = 10


class TwoFactorError(Exception):
    """A two-factor action cannot be done; the message says why, for the person."""


@dataclass(frozen=True)
class Verified:
    method: str  # "totp" or "recovery_code"
    remaining_recovery_codes: int | None = None


# ---- the secret ------------------------------------------------------------------------------------


@cache
def _secret_key(key_id: str) -> bytes:
    return master_key().derive(b"accounts totp secret v1")


def _aad(user_id: int) -> bytes:
    return f"onfile totp secret user:{user_id}".encode()


def seal_secret(user_id: int, secret: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_secret_key(master_key().key_id)).encrypt(nonce, secret, _aad(user_id))


def open_secret(two_factor: TwoFactor) -> bytes:
    sealed = bytes(two_factor.sealed_secret)
    try:
        return AESGCM(_secret_key(master_key().key_id)).decrypt(sealed[:12], sealed[12:], _aad(two_factor.user_id))
    except InvalidTag:
        raise TwoFactorError("the two-factor secret cannot be opened with this master key") from None


def secret_text(two_factor: TwoFactor) -> str:
    """Base32, in groups of four, for typing into an authenticator app by hand."""
    text = base64.b32encode(open_secret(two_factor)).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def provisioning_uri(two_factor: TwoFactor, user: User) -> str:
    """The ``otpauth://`` URI of the Key Uri Format that authenticator apps read from a QR code."""
    issuer = settings.TOTP_ISSUER
    secret = base64.b32encode(open_secret(two_factor)).decode("ascii").rstrip("=")
    label = f"{quote(issuer, safe='')}:{quote(user.email, safe='@')}"  # "Issuer:account", as apps expect
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS,
                       "period": STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG markup (no image file, no script: the CSP stays strict)."""
    import segno

    return str(segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff",
                                                        title="QR code for your authenticator app"))


def _totp(secret: bytes) -> TOTP:
    # SHA-1 as HMAC in RFC 6238 is sound, and the only algorithm every authenticator app supports.
    return TOTP(secret, DIGITS, SHA1(), STEP_SECONDS, enforce_key_length=True)  # noqa: S303


def code_at(secret: bytes, step: int) -> bytes:
    return _totp(secret).generate(step * STEP_SECONDS)


def _matching_step(secret: bytes, code: str, last_step: int, now: float) -> int | None:
    """The step whose code ``code`` is, within the skew window and after ``last_step``."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = int(now) // STEP_SECONDS
    given = code.encode("ascii")
    match = None
    for step in range(current - SKEW_STEPS, current + SKEW_STEPS + 1):
        # Compare every candidate (constant time), whichever matched.
        if constant_time.bytes_eq(code_at(secret, step), given) and step > last_step:
            match = step
    return match


# ---- who needs it ----------------------------------------------------------------------------------


def requires_two_factor(user: object) -> bool:
    return getattr(user, "role", None) in set(settings.TOTP_REQUIRED_ROLES)


def confirmed(user: User) -> TwoFactor | None:
    return TwoFactor.objects.filter(user=user, confirmed_at__isnull=False).first()


def remaining_recovery_codes(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


# ---- recovery codes --------------------------------------------------------------------------------


@cache
def _recovery_key(key_id: str) -> bytes:
    return master_key().derive(b"accounts recovery code v1")


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def recovery_digest(user_id: int, code: str) -> str:
    return keyed_hash(_recovery_key(master_key().key_id), f"{user_id}:{normalise_recovery_code(code)}".encode())


def _new_recovery_codes(user: User) -> list[str]:
    """Inside the caller's transaction: replace every recovery code of ``user``."""
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
             for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, digest=recovery_digest(user.pk, c)) for c in codes])
    return [f"{c[:5]}-{c[5:]}" for c in codes]


# ---- actions ---------------------------------------------------------------------------------------


def begin_enrolment(user: User) -> TwoFactor:
    """The authenticator being set up: a new secret, or the one shown before (a page reload
    must not change the QR code the person is scanning)."""
    with transaction.atomic():
        existing = TwoFactor.objects.select_for_update().filter(user=user).first()
        if existing is not None and existing.confirmed_at is not None:
            raise TwoFactorError("two-factor authentication is already set up; turn it off first to replace it")
        if existing is not None:
            return existing
        return TwoFactor.objects.create(user=user, sealed_secret=seal_secret(user.pk, os.urandom(SECRET_BYTES)),
                                        key_id=master_key().key_id)


def _locked(user: User) -> bool:
    return throttle.locked_until(throttle.TOTP, str(user.pk)) is not None


def _failed(user: User, request: HttpRequest | None, stage: str) -> None:
    """A wrong code: counted towards the lockout and ledgered, in one transaction."""
    with transaction.atomic():
        until = throttle.record_failure(throttle.TOTP, str(user.pk))
        do_auth_event("second_factor_failed", actor="anonymous" if stage == "sign-in" else user.actor,
                      subject=user.actor, attrs={"user": user.pk, "stage": stage}, personal=request_details(request))
        if until is not None:
            do_auth_event("second_factor_locked", actor="system", subject=user.actor,
                          attrs={"user": user.pk, "until": until.isoformat()})


def do_confirm_enrolment(user: User, code: str, request: HttpRequest | None = None,
                         now: float | None = None) -> list[str]:
    """Check the first code from the new authenticator; on success it counts from now on.

    Returns the recovery codes, to be shown once.
    """
    if _locked(user):
        raise TwoFactorError("too many wrong codes: try again later")
    with transaction.atomic():
        two_factor = TwoFactor.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
        if two_factor is None:
            raise TwoFactorError("there is no authenticator being set up; start again")
        step = _matching_step(open_secret(two_factor), code.strip().replace(" ", ""), two_factor.last_step,
                              time.time() if now is None else now)
        if step is not None:
            two_factor.confirmed_at = timezone.now()
            two_factor.last_step = step
            two_factor.save(update_fields=["confirmed_at", "last_step"])
            codes = _new_recovery_codes(user)
            throttle.clear_failures(throttle.TOTP, str(user.pk))
            do_auth_event("two_factor_enrolled", actor=user.actor, subject=user.actor,
                          attrs={"user": user.pk, "method": "totp", "recovery_codes": len(codes)},
                          personal=request_details(request))
            return codes
    _failed(user, request, "enrolment")
    raise TwoFactorError("that code is not right; check the time on your phone and try the next code")


def do_verify_second_factor(user: User, code: str, request: HttpRequest | None = None,
                            now: float | None = None) -> Verified:
    """The second step of sign-in: a TOTP code, or one of the recovery codes."""
    if _locked(user):
        raise TwoFactorError("too many wrong codes: try again later")
    given = code.strip().replace(" ", "")
    with transaction.atomic():
        two_factor = TwoFactor.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
        if two_factor is None:
            raise TwoFactorError("two-factor authentication is not set up for this account")
        if given.isdigit() and len(given) == DIGITS:
            step = _matching_step(open_secret(two_factor), given, two_factor.last_step,
                                  time.time() if now is None else now)
            if step is not None:
                two_factor.last_step = step
                two_factor.save(update_fields=["last_step"])
                throttle.clear_failures(throttle.TOTP, str(user.pk))
                return Verified("totp")
        elif given:
            # A conditional update: of two requests with the same code, one wins.
            used = RecoveryCode.objects.filter(user=user, digest=recovery_digest(user.pk, given),
                                               used_at__isnull=True).update(used_at=timezone.now())
            if used:
                remaining = remaining_recovery_codes(user)
                throttle.clear_failures(throttle.TOTP, str(user.pk))
                do_auth_event("recovery_code_used", actor=user.actor, subject=user.actor,
                              attrs={"user": user.pk, "remaining": remaining}, personal=request_details(request))
                return Verified("recovery_code", remaining)
    _failed(user, request, "sign-in")
    raise TwoFactorError("that code is not right, or it was used already")


def do_regenerate_recovery_codes(user: User, actor: str, request: HttpRequest | None = None) -> list[str]:
    with transaction.atomic():
        if confirmed(user) is None:
            raise TwoFactorError("two-factor authentication is not set up")
        codes = _new_recovery_codes(user)
        do_auth_event("recovery_codes_regenerated", actor=actor, subject=user.actor,
                      attrs={"user": user.pk, "recovery_codes": len(codes)}, personal=request_details(request))
    return codes


def do_disable_two_factor(user: User, actor: str, reason: str, request: HttpRequest | None = None) -> bool:
    """Remove the authenticator and the recovery codes. ``reason``: ``user`` (their own
    choice, on the security page) or ``reset`` (an administrator, for a lost phone)."""
    with transaction.atomic():
        deleted, _ = TwoFactor.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        throttle.unlock(throttle.TOTP, str(user.pk))
        if deleted:
            do_auth_event("two_factor_disabled", actor=actor, subject=user.actor,
                          attrs={"user": user.pk, "reason": reason}, personal=request_details(request))
    return bool(deleted)
