"""Single sign-on and two-factor (issue 5): the provider's ``amr`` / ``acr`` decide whether a role
that requires two-factor still goes through onfile's own TOTP step.

REQ-GDPR-6 (compliance.md: "MFA for admins") drives these: an administrator, compliance officer or
auditor is never signed in on a single factor, whichever way they sign in. The provider is the real
one of tests/oidc_provider; ``add_account(..., amr=…, acr=…)`` sets what its ID tokens report.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.test import Client
from tests.accounts.ledgered import events
from tests.oidc import OidcProvider
from tests.signin import code_for, give_authenticator

from onfile.accounts import auth
from onfile.accounts import sso as sso_module
from onfile.accounts.models import User

pytestmark = pytest.mark.django_db

SETUP = "/account/two-factor/setup/"
CODE = "/login/code/"


def _sso(client: Client, provider: OidcProvider, login: str, next_url: str = "") -> Any:
    start = client.get("/sso/login/" + (f"?next={quote(next_url)}" if next_url else ""))
    assert start.status_code == 302, start.content
    parts = urlsplit(provider.sign_in(str(start["Location"]), login))
    return client.get(f"{parts.path}?{parts.query}")


def _blocked(client: Client, url: str = "/inbox/") -> bool:
    response = client.get(url)
    return response.status_code == 302 and str(response["Location"]).startswith("/login/")


def _secret_on_page(html: str) -> bytes:
    text = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', html)
    assert text is not None, html
    compact = text.group(1).replace(" ", "")
    return base64.b32decode(compact + "=" * (-len(compact) % 8))


def _last_sso_login() -> Any:
    return events("security.sso_login")[-1]


# ---- the provider did two-factor -------------------------------------------------------------------


def test_a_compliance_officer_whose_provider_did_mfa_is_signed_in_without_onfile_totp(
        sso: OidcProvider, client: Client) -> None:
    # REQ-GDPR-6: Entra ID's amr after MFA is ["pwd", "mfa"]; that is the second factor.
    sso.add_account("cora", "cora@firm.example", ["onfile-compliance"], amr=["pwd", "mfa"])
    response = _sso(client, sso, "cora")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/inbox/").status_code == 200 and client.get("/").status_code == 200
    assert client.session[auth.MFA] is True and client.session[auth.METHOD] == "sso"
    assert auth.PENDING not in client.session
    user = User.objects.get(email="cora@firm.example")
    assert _last_sso_login().attrs == {"user": user.pk, "issuer": sso.issuer, "role": "compliance",
                                       "provider_mfa": True}
    [succeeded] = events("security.login_succeeded")
    assert succeeded.attrs == {"user": user.pk, "method": "sso"}


def test_an_acr_listed_in_the_settings_counts_as_two_factor(sso: OidcProvider, client: Client,
                                                            settings: Any) -> None:
    settings.OIDC_MFA_ACR = ["urn:firm:loa:mfa"]
    sso.add_account("acra", "acra@firm.example", ["onfile-compliance"], amr=["pwd"], acr="urn:firm:loa:mfa")
    response = _sso(client, sso, "acra")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/inbox/").status_code == 200 and client.session[auth.MFA] is True
    assert _last_sso_login().attrs["provider_mfa"] is True


def test_an_acr_not_listed_does_not_count(sso: OidcProvider, client: Client, settings: Any) -> None:
    settings.OIDC_MFA_ACR = ["urn:firm:loa:mfa"]
    sso.add_account("acrb", "acrb@firm.example", ["onfile-compliance"], acr="urn:firm:loa:password")
    assert _sso(client, sso, "acrb")["Location"] == SETUP
    assert _blocked(client) and _last_sso_login().attrs["provider_mfa"] is False


# ---- the provider did not: onfile's own TOTP step --------------------------------------------------


@pytest.mark.parametrize("amr", [["pwd"], None], ids=["amr-pwd", "no-amr"])
def test_without_provider_mfa_a_compliance_officer_must_set_up_totp_first(
        sso: OidcProvider, client: Client, amr: list[str] | None) -> None:
    # REQ-GDPR-6: a password at the provider alone is one factor; as after a local password sign-in,
    # the person must set up onfile's authenticator before any page works.
    sso.add_account("cleo", "cleo@firm.example", ["onfile-compliance"], amr=amr)
    response = _sso(client, sso, "cleo")
    assert response.status_code == 302 and response["Location"] == SETUP
    for url in ("/", "/inbox/", "/account/security/"):
        assert _blocked(client, url), url
    user = User.objects.get(email="cleo@firm.example")
    assert _last_sso_login().attrs == {"user": user.pk, "issuer": sso.issuer, "role": "compliance",
                                       "provider_mfa": False}
    assert not events("security.login_succeeded")  # not signed in yet
    page = client.get(SETUP)
    assert page.status_code == 200 and 'id="setup-required"' in page.content.decode()
    secret = _secret_on_page(page.content.decode())
    assert client.post(SETUP, {"code": "000000" if code_for(secret) != "000000" else "111111"}).status_code == 400
    assert _blocked(client)
    done = client.post(SETUP, {"code": code_for(secret)})
    assert done.status_code == 200 and "recovery" in done.content.decode().lower()
    assert client.get("/inbox/").status_code == 200
    assert client.session[auth.MFA] is True
    assert [e.attrs for e in events("security.login_succeeded")] == [{"user": user.pk, "method": "sso+totp"}]
    assert client.session[auth.METHOD] == "sso+totp"


@pytest.mark.parametrize("amr", [["pwd"], None], ids=["amr-pwd", "no-amr"])
def test_without_provider_mfa_a_compliance_officer_with_an_authenticator_is_asked_for_the_code(
        sso: OidcProvider, client: Client, compliance: Any, amr: list[str] | None) -> None:
    secret = give_authenticator(compliance)
    sso.add_account("comp", compliance.email, ["onfile-compliance"], amr=amr)
    response = _sso(client, sso, "comp")
    assert response.status_code == 302 and response["Location"] == CODE
    assert _blocked(client)
    assert client.get(CODE).status_code == 200
    assert client.post(CODE, {"code": "not a code"}).status_code == 400
    assert _blocked(client)
    answered = client.post(CODE, {"code": code_for(secret, offset_steps=1)})
    assert answered.status_code == 302 and answered["Location"] == "/"
    assert client.get("/inbox/").status_code == 200
    assert client.session[auth.MFA] is True
    assert client.session[auth.METHOD] == "sso+totp"
    assert _last_sso_login().attrs["provider_mfa"] is False
    assert [e.attrs["reason"] for e in events("security.sso_refused")] == []


def test_the_next_page_survives_the_totp_step(sso: OidcProvider, client: Client, compliance: Any) -> None:
    secret = give_authenticator(compliance)
    sso.add_account("comp", compliance.email, ["onfile-compliance"], amr=["pwd"])
    assert _sso(client, sso, "comp", next_url="/inbox/")["Location"] == CODE
    assert client.post(CODE, {"code": code_for(secret, offset_steps=1)})["Location"] == "/inbox/"


def test_a_session_already_in_the_browser_does_not_carry_over(sso: OidcProvider, client: Client,
                                                              fee_earner: Any) -> None:
    client.force_login(fee_earner)
    assert client.get("/inbox/").status_code == 200
    sso.add_account("cleo", "cleo@firm.example", ["onfile-compliance"], amr=["pwd"])
    assert _sso(client, sso, "cleo")["Location"] == SETUP
    assert _blocked(client)  # the fee earner's session is gone, the officer's is not there yet
    assert "cleo@firm.example" in client.get(SETUP).content.decode()


# ---- roles that do not require two-factor ----------------------------------------------------------


def test_a_fee_earner_with_a_password_at_the_provider_is_signed_in_without_totp(
        sso: OidcProvider, client: Client) -> None:
    sso.add_account("fern", "fern@firm.example", ["onfile-staff"], amr=["pwd"])
    response = _sso(client, sso, "fern")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/inbox/").status_code == 200
    assert client.session[auth.MFA] is False and client.session[auth.METHOD] == "sso"
    assert _last_sso_login().attrs["provider_mfa"] is False


def test_a_single_factor_sso_session_ends_when_the_role_comes_to_require_two_factor(
        sso: OidcProvider, client: Client) -> None:
    # The session's MFA flag is what the session middleware checks (as for a local password session).
    sso.add_account("fern", "fern@firm.example", ["onfile-staff"], amr=["pwd"])
    _sso(client, sso, "fern")
    User.objects.filter(email="fern@firm.example").update(role="compliance")
    assert _blocked(client)
    assert [e.attrs["reason"] for e in events("security.session_expired")] == ["second_factor_required"]


def test_a_fee_earner_promoted_at_the_provider_goes_through_totp(sso: OidcProvider, client: Client) -> None:
    sso.add_account("fern", "fern@firm.example", ["onfile-staff"], amr=["pwd"])
    assert _sso(client, sso, "fern")["Location"] == "/"
    client.post("/logout/")
    sso.add_account("fern", "fern@firm.example", ["onfile-compliance"], amr=["pwd"])
    assert _sso(client, sso, "fern")["Location"] == SETUP
    assert User.objects.get(email="fern@firm.example").role == "compliance" and _blocked(client)


# ---- reading the claims ----------------------------------------------------------------------------


@pytest.mark.parametrize(("claims", "expected"), [
    ({"amr": ["pwd", "mfa"]}, True),
    ({"amr": "mfa"}, True),  # one string instead of a list
    ({"amr": ["pwd"]}, False),
    ({"amr": ["pwd", "otp"]}, False),  # each names one method; only "mfa" asserts two by default
    ({"amr": ["otp"]}, False),  # a passwordless one-time code is one factor
    ({"amr": ["kba", "pwd"]}, False),
    ({"amr": []}, False),
    ({"amr": None}, False),
    ({"amr": {"mfa": True}}, False),
    ({}, False),
    ({"acr": "urn:firm:loa:mfa"}, False),  # no acr is listed by default
])
def test_which_claims_mean_two_factor_by_default(claims: dict[str, Any], expected: bool) -> None:
    assert sso_module.provider_mfa(claims) is expected


def test_the_lists_come_from_the_settings(settings: Any) -> None:
    settings.OIDC_MFA_AMR = ["mfa", "hwk"]
    settings.OIDC_MFA_ACR = ["urn:firm:loa:mfa"]
    assert sso_module.provider_mfa({"amr": ["hwk"]}) and sso_module.provider_mfa({"acr": "urn:firm:loa:mfa"})
    assert not sso_module.provider_mfa({"acr": ["urn:firm:loa:mfa"]})  # acr is one string


def test_amr_from_the_userinfo_endpoint_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    meta = sso_module.ProviderMetadata("https://idp.example", "", "", "", "https://idp.example/userinfo", (), ())
    monkeypatch.setattr(sso_module, "_get_json", lambda url, bearer="": {
        "sub": "s1", "email": "x@firm.example", "groups": ["g"], "amr": ["mfa"], "acr": "urn:firm:loa:mfa"})
    claims = sso_module._with_userinfo(meta, {"sub": "s1", "amr": ["pwd"]}, "access-token")
    assert claims["amr"] == ["pwd"] and "acr" not in claims and claims["email"] == "x@firm.example"
