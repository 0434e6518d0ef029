"""Single sign-on with OpenID Connect (Core 1.0): the authorization code flow with PKCE.

The flow, and what each step guards against:

1. :func:`begin` — the provider's endpoints come from discovery
   (``ONFILE_OIDC_ISSUER/.well-known/openid-configuration``; the document's ``issuer`` must be
   the configured one exactly, OIDC Discovery §4.3). A random ``state`` (binds the answer to
   this browser session: login CSRF), ``nonce`` (binds the ID token to this request: replay)
   and PKCE ``code_verifier`` (S256; an intercepted code is useless) are kept in the session
   and the browser is sent to the provider.
2. :func:`do_sso_callback` — ``state`` must match (once: the flow is removed from the session
   first); the code is exchanged at the token endpoint (client secret + verifier); the ID
   token's signature is checked against the provider's JWKS (asymmetric algorithms only:
   never ``none``, never HMAC), then ``iss``, ``aud``/``azp``, ``exp``/``iat`` (60 s leeway),
   ``nonce`` and ``at_hash``. Claims missing from the ID token are taken from the userinfo
   endpoint when its ``sub`` is the same.
3. :func:`do_sso_login` — the person is mapped to a role from their groups
   (``ONFILE_OIDC_ROLE_MAP``, first match wins); no role, no entry. The account is found by
   (issuer, sub) — the provider's stable id — or, the first time, by verified email; it is
   created on first sign-in (just-in-time, ledgered); its role follows the groups at every
   sign-in (ledgered when it changes).
4. Two-factor (:func:`provider_mfa`): the ID token's ``amr`` (RFC 8176) or ``acr`` says whether
   the provider did it (``ONFILE_OIDC_MFA_AMR`` / ``ONFILE_OIDC_MFA_ACR``). When it did not and the
   role requires two-factor (``TOTP_REQUIRED_ROLES``), the sign-in continues exactly as a local
   password sign-in does: onfile's own TOTP step, or enrolment, before the session is signed in.

Authlib does the OAuth 2.0 client work (the authorization URL, the PKCE challenge, the token
request and its client authentication) and the ID token claim rules (``CodeIDToken``);
joserfc (by Authlib's author, Authlib's own JOSE layer) checks the signature; the project's
httpx carries the requests. See docs/decisions.md.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from django.conf import settings
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from onfile.accounts import auth
from onfile.accounts.actions import do_create_user
from onfile.accounts.events import do_auth_event, request_details
from onfile.accounts.models import Role, SsoIdentity, User
from onfile.ledger.log import NewEntry, append

SESSION = "onfile.sso"
FLOW_SECONDS = 600
LEEWAY_SECONDS = 60
METADATA_SECONDS = 3600
JWKS_REFRESH_SECONDS = 60
HTTP_TIMEOUT = 10.0
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519")


class SsoError(Exception):
    """Single sign-on failed; ``reason`` is a stable word for the ledger, the message is for people."""

    def __init__(self, reason: str, message: str, groups: Collection[str] = ()) -> None:
        super().__init__(message)
        self.reason = reason
        self.groups = list(groups)


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    algorithms: tuple[str, ...]
    token_auth_methods: tuple[str, ...]


_lock = threading.Lock()
_metadata: dict[str, tuple[float, ProviderMetadata]] = {}
_jwks: dict[str, tuple[float, KeySet]] = {}


def enabled() -> bool:
    return bool(settings.OIDC_ENABLED)


def forget_cached_metadata() -> None:
    with _lock:
        _metadata.clear()
        _jwks.clear()


def _get_json(url: str, bearer: str = "") -> dict[str, Any]:
    headers = {"Accept": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    try:
        response = httpx.get(url, headers=headers, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        value = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SsoError("provider_unreachable", f"the sign-in provider did not answer properly ({exc})") from None
    if not isinstance(value, dict):
        raise SsoError("provider_unreachable", f"{url} did not return a JSON object")
    return value


def metadata() -> ProviderMetadata:
    issuer = settings.OIDC_ISSUER
    with _lock:
        cached = _metadata.get(issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    doc = _get_json(f"{issuer}/.well-known/openid-configuration")
    if str(doc.get("issuer", "")).rstrip("/") != issuer:
        raise SsoError("discovery", f"the provider's discovery document names issuer {doc.get('issuer')!r}, "
                                    f"not the configured {issuer!r}")
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
    if missing:
        raise SsoError("discovery", f"the provider's discovery document lacks {', '.join(missing)}")
    offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
    meta = ProviderMetadata(
        issuer=str(doc["issuer"]),
        authorization_endpoint=str(doc["authorization_endpoint"]),
        token_endpoint=str(doc["token_endpoint"]),
        jwks_uri=str(doc["jwks_uri"]),
        userinfo_endpoint=str(doc.get("userinfo_endpoint") or ""),
        algorithms=tuple(a for a in offered if a in ASYMMETRIC),
        token_auth_methods=tuple(doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]),
    )
    with _lock:
        _metadata[issuer] = (time.monotonic() + METADATA_SECONDS, meta)
    return meta


def key_set(meta: ProviderMetadata, refresh: bool = False) -> KeySet:
    """The provider's signing keys; fetched again (at most once a minute) for an unknown key id,
    which is how a provider's key rotation reaches us."""
    with _lock:
        cached = _jwks.get(meta.jwks_uri)
    if cached and not (refresh and time.monotonic() - cached[0] > JWKS_REFRESH_SECONDS):
        return cached[1]
    keys = KeySet.import_key_set(_get_json(meta.jwks_uri))  # type: ignore[arg-type]
    with _lock:
        _jwks[meta.jwks_uri] = (time.monotonic(), keys)
    return keys


def redirect_uri() -> str:
    return f"{settings.PUBLIC_URL}{reverse('sso-callback')}"


def _token_auth_method(meta: ProviderMetadata) -> str:
    if not settings.OIDC_CLIENT_SECRET:
        return "none"
    if "client_secret_basic" in meta.token_auth_methods:
        return "client_secret_basic"
    return "client_secret_post"


def begin(request: HttpRequest, next_url: str = "") -> str:
    """Start a sign-in; returns the provider URL to send the browser to."""
    meta = metadata()
    state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
    url = prepare_grant_uri(meta.authorization_endpoint, client_id=settings.OIDC_CLIENT_ID, response_type="code",
                            redirect_uri=redirect_uri(), scope=settings.OIDC_SCOPES, state=state, nonce=nonce,
                            code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256")
    request.session[SESSION] = {"state": state, "nonce": nonce, "verifier": verifier, "next": next_url,
                                "at": time.time()}
    return str(url)


def exchange_code(meta: ProviderMetadata, code: str, verifier: str) -> dict[str, Any]:
    """The token request (RFC 6749 4.1.3 with the PKCE verifier, RFC 7636 4.5), authenticated
    as the provider prefers."""
    body = prepare_token_request("authorization_code", code=code, redirect_uri=redirect_uri(),
                                 code_verifier=verifier)
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    auth = ClientAuth(settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET or None, _token_auth_method(meta))
    url, headers, body = auth.prepare("POST", meta.token_endpoint, headers, body)
    try:
        response = httpx.post(url, headers=headers, content=body, timeout=HTTP_TIMEOUT)
        token = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SsoError("token_exchange", f"the sign-in provider's token endpoint did not answer properly ({exc})") \
            from None
    if response.status_code != 200 or not isinstance(token, dict) or "error" in token:
        error = token.get("error", response.status_code) if isinstance(token, dict) else response.status_code
        raise SsoError("token_exchange", f"the sign-in provider refused the authorization code ({error})")
    return token


def validate_id_token(id_token: str, *, keys: KeySet, issuer: str, client_id: str, nonce: str,
                      algorithms: Collection[str], access_token: str | None = None,
                      now: int | None = None) -> dict[str, Any]:
    """The claims of ``id_token`` once its signature and claims are checked (OIDC Core 3.1.3.7)."""
    allowed = [a for a in algorithms if a in ASYMMETRIC]
    try:
        token = jwt.decode(id_token, keys, algorithms=allowed)
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError) as exc:
        raise SsoError("id_token_signature", f"the ID token's signature does not verify ({exc})") from None
    claims = CodeIDToken(
        token.claims, token.header,
        {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": client_id},
         "sub": {"essential": True}, "nonce": {"essential": True, "value": nonce}},
        {"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    try:
        claims.validate(now=now, leeway=LEEWAY_SECONDS)
    except JoseError as exc:
        raise SsoError("id_token_claims", f"the ID token was refused ({exc})") from None
    return dict(claims)


def _finish(request: HttpRequest) -> tuple[dict[str, Any], str]:
    flow: dict[str, Any] | None = request.session.pop(SESSION, None)
    if not flow or time.time() - float(flow.get("at", 0)) > FLOW_SECONDS:
        raise SsoError("no_flow", "this sign-in was not started here, or took too long; start again")
    if request.GET.get("error"):
        description = request.GET.get("error_description", "")[:300]
        raise SsoError("provider_error", f"the sign-in provider said: {request.GET['error']} {description}".strip())
    if not secrets.compare_digest(request.GET.get("state", ""), str(flow["state"])):
        raise SsoError("state", "the answer from the sign-in provider does not belong to this sign-in; start again")
    code = request.GET.get("code", "")
    if not code:
        raise SsoError("no_code", "the sign-in provider sent no authorization code")
    meta = metadata()
    if "iss" in request.GET and request.GET["iss"] != meta.issuer:
        # RFC 9207: the answer names another issuer (a mix-up attack between providers).
        raise SsoError("issuer", "the answer comes from another sign-in provider than the one configured")
    token = exchange_code(meta, code, str(flow["verifier"]))
    if not token.get("id_token"):
        raise SsoError("no_id_token", "the sign-in provider returned no ID token (is the 'openid' scope requested?)")
    # The issuer in tokens is the discovery document's, character for character (a trailing slash counts).
    params: dict[str, Any] = {"issuer": meta.issuer, "client_id": settings.OIDC_CLIENT_ID,
                              "nonce": str(flow["nonce"]), "algorithms": meta.algorithms,
                              "access_token": token.get("access_token")}
    try:
        claims = validate_id_token(token["id_token"], keys=key_set(meta), **params)
    except InvalidKeyIdError:
        try:
            claims = validate_id_token(token["id_token"], keys=key_set(meta, refresh=True), **params)
        except InvalidKeyIdError:
            raise SsoError("id_token_signature", "the ID token is signed with a key the provider does not publish") \
                from None
    return _with_userinfo(meta, claims, token.get("access_token") or ""), str(flow.get("next") or "")


def _with_userinfo(meta: ProviderMetadata, claims: dict[str, Any], access_token: str) -> dict[str, Any]:
    """Claims the ID token lacks, from the userinfo endpoint (many providers put only ``sub``
    in the ID token when an access token is issued)."""
    wanted = (settings.OIDC_EMAIL_CLAIM, settings.OIDC_GROUPS_CLAIM)
    if all(k in claims for k in wanted) or not meta.userinfo_endpoint or not access_token:
        return claims
    info = _get_json(meta.userinfo_endpoint, bearer=access_token)
    if info.get("sub") != claims.get("sub"):
        raise SsoError("userinfo", "the userinfo answer is about someone else (its sub differs from the ID token's)")
    # How the person authenticated is the ID token's to say (amr and acr are ID token claims).
    return {**{k: v for k, v in info.items() if k not in ("amr", "acr")}, **claims}


# ---- roles and accounts ----------------------------------------------------------------------------


def role_map() -> list[tuple[str, str]]:
    pairs = []
    for item in settings.OIDC_ROLE_MAP:
        group, _, role = item.rpartition("=")
        if group.strip() and role.strip() in Role.values:
            pairs.append((group.strip(), role.strip()))
    return pairs


def groups_of(claims: Mapping[str, Any]) -> list[str]:
    value = claims.get(settings.OIDC_GROUPS_CLAIM)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def role_for(groups: Collection[str]) -> str | None:
    for group, role in role_map():
        if group in groups:
            return role
    return None


def _email_of(claims: Mapping[str, Any]) -> str:
    email = str(claims.get(settings.OIDC_EMAIL_CLAIM) or "").strip().lower()
    if "@" not in email:
        raise SsoError("no_email", f"the sign-in provider sent no email address (claim {settings.OIDC_EMAIL_CLAIM!r})")
    verified_claim = settings.OIDC_EMAIL_VERIFIED_CLAIM
    if verified_claim and claims.get(verified_claim) not in (True, "true", "True", "1", 1):
        raise SsoError("email_not_verified", "the sign-in provider does not vouch for this email address "
                                             f"(claim {verified_claim!r} is not true)")
    return email


def provider_mfa(claims: Mapping[str, Any]) -> bool:
    """Whether the ID token says the provider did two-factor: an ``amr`` value (a list, or one
    string) in ``ONFILE_OIDC_MFA_AMR``, or an ``acr`` in ``ONFILE_OIDC_MFA_ACR``."""
    amr = claims.get("amr")
    if isinstance(amr, str):
        methods = {amr}
    elif isinstance(amr, list | tuple):
        methods = {m for m in amr if isinstance(m, str)}
    else:
        methods = set()
    if methods & set(settings.OIDC_MFA_AMR):
        return True
    acr = claims.get("acr")
    return isinstance(acr, str) and acr in settings.OIDC_MFA_ACR


def do_sso_login(request: HttpRequest, claims: Mapping[str, Any], next_url: str = "") -> User:
    """Sign in the person the (validated) claims describe, creating or updating their account.

    Without two-factor at the provider, a role that requires it is sent on to onfile's own
    second step (the pending sign-in of :mod:`onfile.accounts.auth`) instead of being signed in."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    mfa = provider_mfa(claims)
    groups = groups_of(claims)
    email = _email_of(claims)
    role = role_for(groups)
    if role is None:
        raise SsoError("no_role", "none of your groups at the sign-in provider has a role in onfile", groups)
    personal = {"email": email, "sub": subject, "groups": groups, **request_details(request)}
    with transaction.atomic():
        identity = SsoIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        if identity is not None:
            user = identity.user
        else:
            user, identity = _link_or_create(issuer, subject, email, role, str(claims.get("name") or ""), personal)
        if not user.is_active:
            raise SsoError("inactive", "your onfile account is disabled")
        if user.role != role:
            _role_changed(user, role, issuer)
        identity.last_login_at = timezone.now()
        identity.save(update_fields=["last_login_at"])
        do_auth_event("sso_login", actor=user.actor, subject=user.actor,
                      attrs={"user": user.pk, "issuer": issuer, "role": role, "provider_mfa": mfa},
                      personal=personal)
        if mfa or not auth.requires_two_factor(user):
            auth.complete_login(request, user, method="sso", mfa=mfa, next_url=next_url)
        else:
            _onfile_second_factor(request, user, next_url)
    return user


def _onfile_second_factor(request: HttpRequest, user: User, next_url: str) -> None:
    """As after a local password step: a pending sign-in at the code step (an authenticator is set
    up) or at enrolment; ``request.user`` stays anonymous until it is completed, and the callback
    view's redirect (``auth.take_next``) goes to that step."""
    if request.user.is_authenticated:
        # Someone else's session in this browser must not carry over into this person's pending
        # sign-in (the setup page would otherwise be for the signed-in user).
        logout(request)
    stage = auth.start_second_step(request, user, next_url, first="sso")
    request.session["onfile.auth.next"] = reverse("login-code" if stage == "code" else "two-factor-setup")


def _link_or_create(issuer: str, subject: str, email: str, role: str, name: str,
                    personal: Mapping[str, Any]) -> tuple[User, SsoIdentity]:
    user = User.objects.filter(email=email).first()
    if user is not None and SsoIdentity.objects.filter(user=user, issuer=issuer).exists():
        # The email now belongs to another account at the provider (a reused address): the
        # onfile account stays with the provider account it was first linked to.
        raise SsoError("linked_elsewhere", "this onfile account is linked to another account at the sign-in "
                                           "provider; ask an administrator")
    if user is None:
        user = do_create_user(email, None, role, actor=f"sso:{issuer}", name=name)
        do_auth_event("sso_provisioned", actor=f"sso:{issuer}", subject=user.actor,
                      attrs={"user": user.pk, "issuer": issuer, "role": role}, personal=personal)
    identity = SsoIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    do_auth_event("sso_linked", actor=f"sso:{issuer}", subject=user.actor,
                  attrs={"user": user.pk, "issuer": issuer}, personal=personal)
    return user, identity


def _role_changed(user: User, role: str, issuer: str) -> None:
    before = user.role
    user.role = role
    user.save(update_fields=["role"])
    append(NewEntry("user.role_changed", f"sso:{issuer}", user.actor,
                    {"user": user.pk, "from": before, "to": role, "source": "sso"}))


def do_sso_callback(request: HttpRequest) -> tuple[User, str]:
    """The provider's answer: check it, sign the person in; every refusal is ledgered."""
    try:
        claims, next_url = _finish(request)
        return do_sso_login(request, claims, next_url), next_url
    except SsoError as exc:
        do_auth_event("sso_refused", actor="anonymous", subject="",
                      attrs={"reason": exc.reason, "issuer": settings.OIDC_ISSUER},
                      personal={"detail": str(exc), "groups": exc.groups, **request_details(request)})
        raise


def issuer_is_secure(issuer: str) -> bool:
    parts = urlsplit(issuer)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"})
