"""System checks for misconfiguration, with stable ids (``onfile.E…`` errors, ``onfile.W…``
warnings). ``onfile check --deploy`` runs them with Django's own deployment checks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from onfile.ledger.keys import KeyError_, master_key, master_key_path, signing_key_path


@register("onfile")
def check_data_dir(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    data_dir = Path(settings.DATA_DIR)
    if data_dir.exists() and not data_dir.is_dir():
        return [Error(f"ONFILE_DATA_DIR {data_dir} is not a directory", id="onfile.E001",
                      hint="Point ONFILE_DATA_DIR at a directory (it is created by 'onfile init').")]
    if data_dir.exists() and os.statvfs(data_dir).f_flag & os.ST_RDONLY:
        return [Error(f"ONFILE_DATA_DIR {data_dir} is on a read-only file system", id="onfile.E002",
                      hint="Mount it read-write; onfile must be able to record what it receives.")]
    if data_dir.exists() and not os.access(data_dir, os.R_OK | os.W_OK | os.X_OK):
        return [Error(f"ONFILE_DATA_DIR {data_dir} is not readable and writable by this user", id="onfile.E005",
                      hint="Fix its owner or permissions, or mount it read-write.")]
    return []


@register("onfile")
def check_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    initialised = master_key_path().exists() or signing_key_path().exists() or bool(settings.MASTER_KEY)
    if not initialised:
        return [Warning("onfile is not initialised: no keys directory", id="onfile.W001",
                        hint="Run 'onfile init'.")]
    try:
        master_key()
    except KeyError_ as exc:
        messages.append(Error(str(exc), id="onfile.E003",
                              hint=f"Restore {master_key_path()} from your key backup, or set ONFILE_MASTER_KEY."))
    if not signing_key_path().exists():
        messages.append(Error(f"no checkpoint signing key at {signing_key_path()}", id="onfile.E004",
                              hint="Restore it from backup, or run 'onfile init' to create one."))
    elif signing_key_path().stat().st_mode & 0o077:
        messages.append(Warning(f"{signing_key_path()} is readable by other users", id="onfile.W002",
                                hint="chmod 600 it."))
    if master_key_path().exists() and master_key_path().stat().st_mode & 0o077:
        messages.append(Warning(f"{master_key_path()} is readable by other users", id="onfile.W003",
                                hint="chmod 600 it."))
    return messages


@register("onfile", deploy=True)
def check_production(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if settings.DEBUG:
        messages.append(Error("ONFILE_DEBUG is on: error pages would show code and data", id="onfile.E010",
                              hint="Unset ONFILE_DEBUG in production."))
    if str(settings.SECRET_KEY).startswith("ephemeral-"):
        messages.append(Warning("no secret key configured; sessions end at every restart", id="onfile.W010",
                                hint="Run 'onfile init' or set ONFILE_SECRET_KEY."))
    if "*" in settings.ALLOWED_HOSTS:
        messages.append(Warning("ONFILE_ALLOWED_HOSTS contains '*'", id="onfile.W011",
                                hint="List the host names onfile is served under."))
    if not settings.BEHIND_TLS:
        messages.append(Warning("ONFILE_PUBLIC_URL is not https: cookies are not marked secure", id="onfile.W012",
                                hint="Serve onfile behind TLS and set ONFILE_PUBLIC_URL=https://…"))
    return messages


@register("onfile")
def check_sign_in(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Single sign-on half configured, role maps that name no role, two-factor rules."""
    from onfile.accounts.models import Role
    from onfile.accounts.sso import issuer_is_secure

    messages: list[CheckMessage] = []
    issuer, client_id = settings.OIDC_ISSUER, settings.OIDC_CLIENT_ID
    if bool(issuer) != bool(client_id) or (settings.OIDC_CLIENT_SECRET and not (issuer and client_id)):
        missing = [name for name, value in (("ONFILE_OIDC_ISSUER", issuer), ("ONFILE_OIDC_CLIENT_ID", client_id))
                   if not value]
        messages.append(Error(f"single sign-on is half configured: {', '.join(missing)} not set", id="onfile.E020",
                              hint="Set ONFILE_OIDC_ISSUER and ONFILE_OIDC_CLIENT_ID (and the client secret), "
                                   "or unset every ONFILE_OIDC_* variable."))
    for item in settings.OIDC_ROLE_MAP:
        group, _, role = item.rpartition("=")
        if not group.strip() or role.strip() not in Role.values:
            messages.append(Error(f"ONFILE_OIDC_ROLE_MAP entry {item!r} is not GROUP=ROLE with a known role",
                                  id="onfile.E021", hint=f"Roles: {', '.join(Role.values)}."))
    if not (issuer and client_id):
        return messages
    if not settings.OIDC_ROLE_MAP:
        messages.append(Error("single sign-on is configured but ONFILE_OIDC_ROLE_MAP is empty: every sign-in "
                              "would be refused", id="onfile.E022",
                              hint="Map the provider's groups to roles, e.g. ONFILE_OIDC_ROLE_MAP="
                                   "onfile-admins=admin,onfile-staff=fee_earner."))
    if not issuer_is_secure(issuer):
        messages.append(Error(f"ONFILE_OIDC_ISSUER {issuer} is not https", id="onfile.E023",
                              hint="The issuer must be an https URL (plain http is accepted on loopback only, "
                                   "for tests)."))
    if not settings.OIDC_CLIENT_SECRET:
        messages.append(Warning("single sign-on has no client secret: onfile signs in as a public client "
                                "(PKCE only)", id="onfile.W020",
                                hint="Set ONFILE_OIDC_CLIENT_SECRET or ONFILE_OIDC_CLIENT_SECRET_FILE unless the "
                                     "provider registers onfile as a public client."))
    if not settings.OIDC_EMAIL_VERIFIED_CLAIM:
        messages.append(Warning("ONFILE_OIDC_EMAIL_VERIFIED_CLAIM is empty: the provider's email addresses are "
                                "trusted unverified when linking accounts", id="onfile.W021",
                                hint="Only for a single-tenant provider whose addresses the firm assigns."))
    return messages


@register("onfile")
def check_two_factor(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from onfile.accounts.models import Role

    roles = set(settings.TOTP_REQUIRED_ROLES)
    messages: list[CheckMessage] = []
    unknown = sorted(roles - set(Role.values))
    if unknown:
        messages.append(Error(f"ONFILE_TOTP_REQUIRED_ROLES names unknown roles: {', '.join(unknown)}",
                              id="onfile.E024", hint=f"Roles: {', '.join(Role.values)}."))
    if Role.ADMIN not in roles:
        messages.append(Warning("two-factor authentication is not required for administrators", id="onfile.W022",
                                hint="REQ-GDPR-6 asks for MFA for admins: keep 'admin' in ONFILE_TOTP_REQUIRED_ROLES."))
    return messages
