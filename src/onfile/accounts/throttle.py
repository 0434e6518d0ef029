"""Counting failed sign-in steps, and lockouts.

Three scopes, each with its own limit within ``LOGIN_FAILURE_WINDOW_SECONDS``:

- ``account``: the email tried, whether or not such an account exists (so a lockout says
  nothing about which emails are real) — ``LOGIN_MAX_FAILURES_PER_ACCOUNT``;
- ``ip``: the client address, against one address trying many accounts —
  ``LOGIN_MAX_FAILURES_PER_IP``;
- ``totp``: wrong codes for one user at the second step — ``TOTP_MAX_FAILURES``.

Reaching the limit locks the key for ``LOGIN_LOCKOUT_SECONDS``. Counting happens in the
database, so it holds across web server processes and restarts. Keys are stored as keyed
hashes (HMAC under a sub-key of the master key): the tables hold no email or address.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from onfile.accounts.models import AuthFailure, AuthLock
from onfile.ledger.crypto import keyed_hash
from onfile.ledger.keys import master_key

ACCOUNT, IP, TOTP = "account", "ip", "totp"


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or behind a trusted proxy the address it appended to X-Forwarded-For.

    Only the last address of X-Forwarded-For was written by our proxy; anything before it
    came from the client and can be forged.
    """
    address = request.META.get("REMOTE_ADDR", "") or ""
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            address = forwarded[-1]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "unknown"


@cache
def _key_for_throttle(key_id: str) -> bytes:
    return master_key().derive(b"accounts throttle v1")


def throttle_key(scope: str, value: str) -> str:
    return keyed_hash(_key_for_throttle(master_key().key_id), f"{scope}\x00{value}".encode())


def limit_for(scope: str) -> int:
    limits = {ACCOUNT: settings.LOGIN_MAX_FAILURES_PER_ACCOUNT, IP: settings.LOGIN_MAX_FAILURES_PER_IP,
              TOTP: settings.TOTP_MAX_FAILURES}
    return int(limits[scope])


def locked_until(scope: str, value: str) -> datetime | None:
    lock = AuthLock.objects.filter(scope=scope, key=throttle_key(scope, value),
                                   locked_until__gt=timezone.now()).first()
    return lock.locked_until if lock else None


def record_failure(scope: str, value: str) -> datetime | None:
    """Count one failure; returns the end of the lockout when this failure started one.

    Runs inside the caller's transaction (the ledger entry of the failure commits with it).
    """
    now = timezone.now()
    window_start = now - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    key = throttle_key(scope, value)
    with transaction.atomic():
        # Old rows are no use to anyone: keep the tables as small as the window.
        AuthFailure.objects.filter(at__lt=window_start).delete()
        AuthLock.objects.filter(locked_until__lt=now).delete()
        AuthFailure.objects.create(scope=scope, key=key, at=now)
        failures = AuthFailure.objects.filter(scope=scope, key=key, at__gte=window_start).count()
        if failures < limit_for(scope):
            return None
        until = now + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
        AuthLock.objects.update_or_create(scope=scope, key=key, defaults={"locked_until": until})
        # The count starts again when the lockout ends.
        AuthFailure.objects.filter(scope=scope, key=key).delete()
        return until


def clear_failures(scope: str, value: str) -> None:
    AuthFailure.objects.filter(scope=scope, key=throttle_key(scope, value)).delete()


def unlock(scope: str, value: str) -> int:
    """Lift a lockout (an administrator's decision, e.g. from the command line)."""
    key = throttle_key(scope, value)
    AuthFailure.objects.filter(scope=scope, key=key).delete()
    deleted, _ = AuthLock.objects.filter(scope=scope, key=key).delete()
    return deleted
