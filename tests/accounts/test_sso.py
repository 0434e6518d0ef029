"""Single sign-on against a real OpenID provider on loopback (panva's oidc-provider)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.test import Client
from tests.accounts.ledgered import events
from tests.conftest import PASSWORD
from tests.oidc import OidcProvider

from onfile.accounts import auth
from onfile.accounts import sso as sso_module
from onfile.accounts.models import SsoIdentity, User

pytestmark = pytest.mark.django_db


def _begin(client: Client) -> str:
    response = client.get("/sso/login/")
    assert response.status_code == 302, response.content
    return str(response["Location"])


def _callback(client: Client, redirect: str) -> Any:
    parts = urlsplit(redirect)
    return client.get(f"{parts.path}?{parts.query}")


def _sso(client: Client, provider: OidcProvider, login: str) -> Any:
    return _callback(client, provider.sign_in(_begin(client), login))


def test_the_authorization_request_uses_pkce_state_and_nonce(sso: OidcProvider, client: Client) -> None:
    query = parse_qs(urlsplit(_begin(client)).query)
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43 and len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/sso/callback"]
    flow = client.session[sso_module.SESSION]
    assert flow["state"] == query["state"][0] and flow["nonce"] == query["nonce"][0]


def test_a_new_person_is_created_with_the_role_of_their_group(sso: OidcProvider, client: Client) -> None:
    sso.add_account("carol", "Carol@Firm.example", ["everyone", "onfile-compliance"], name="Carol Jones",
                    amr=["pwd", "mfa"])
    response = _sso(client, sso, "carol")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    user = User.objects.get(email="carol@firm.example")
    assert user.role == "compliance" and user.name == "Carol Jones" and not user.has_usable_password()
    assert SsoIdentity.objects.get(user=user).issuer == sso.issuer
    [created] = events("user.created")
    assert created.actor == f"sso:{sso.issuer}" and created.attrs["role"] == "compliance"
    assert [e.attrs["role"] for e in events("security.sso_provisioned")] == ["compliance"]
    [login] = events("security.sso_login")
    assert login.attrs == {"user": user.pk, "issuer": sso.issuer, "role": "compliance", "provider_mfa": True}
    assert login.personal is not None and login.personal["groups"] == ["everyone", "onfile-compliance"]
    assert client.session[auth.METHOD] == "sso"


def test_a_compliance_officer_from_sso_needs_no_onfile_authenticator(sso: OidcProvider, client: Client) -> None:
    # When the provider did MFA (amr "mfa"); without it, see test_sso_mfa.py.
    sso.add_account("dora", "dora@firm.example", ["onfile-admins"], amr=["pwd", "mfa"])
    _sso(client, sso, "dora")
    assert client.get("/status/").status_code == 200  # an admin, signed in, no setup page


def test_the_role_follows_the_groups_at_every_sign_in(sso: OidcProvider, client: Client) -> None:
    sso.add_account("erin", "erin@firm.example", ["onfile-staff"])
    _sso(client, sso, "erin")
    assert User.objects.get(email="erin@firm.example").role == "fee_earner"
    client.post("/logout/")
    sso.add_account("erin", "erin@firm.example", ["onfile-staff", "onfile-admins"])
    _sso(client, sso, "erin")
    user = User.objects.get(email="erin@firm.example")
    assert user.role == "admin"  # the first mapping in ONFILE_OIDC_ROLE_MAP that matches wins
    [change] = events("user.role_changed")
    assert change.attrs == {"user": user.pk, "from": "fee_earner", "to": "admin", "source": "sso"}
    assert User.objects.filter(email="erin@firm.example").count() == 1


def test_a_person_in_no_mapped_group_is_refused_clearly(sso: OidcProvider, client: Client) -> None:
    sso.add_account("frank", "frank@firm.example", ["marketing", "everyone"])
    response = _sso(client, sso, "frank")
    html = response.content.decode()
    assert response.status_code == 403 and "none of your groups" in html.lower()
    assert "<code>marketing</code>" in html
    assert not User.objects.filter(email="frank@firm.example").exists()
    assert client.get("/").status_code == 302
    [refusal] = events("security.sso_refused")
    assert refusal.attrs["reason"] == "no_role" and "frank" not in refusal.raw


def test_an_unverified_email_is_refused(sso: OidcProvider, client: Client) -> None:
    sso.add_account("gail", "gail@firm.example", ["onfile-staff"], email_verified=False)
    response = _sso(client, sso, "gail")
    assert response.status_code == 403 and not User.objects.filter(email="gail@firm.example").exists()


def test_an_existing_local_account_is_linked_by_its_email(sso: OidcProvider, client: Client,
                                                         fee_earner: Any) -> None:
    sso.add_account("fe", fee_earner.email, ["onfile-staff"])
    assert _sso(client, sso, "fe").status_code == 302
    assert SsoIdentity.objects.get(subject="fe").user == fee_earner
    assert len(events("security.sso_linked")) == 1 and not events("security.sso_provisioned")
    # The local password still works as before.
    assert Client().post("/login/", {"username": fee_earner.email, "password": PASSWORD}).status_code == 302


def test_a_linked_account_is_not_taken_over_by_another_provider_account(sso: OidcProvider, client: Client,
                                                                        fee_earner: Any) -> None:
    sso.add_account("fe-original", fee_earner.email, ["onfile-staff"])
    _sso(client, sso, "fe-original")
    client.post("/logout/")
    sso.add_account("fe-impostor", fee_earner.email, ["onfile-admins"])  # the address reused at the provider
    response = _sso(client, sso, "fe-impostor")
    assert response.status_code == 403 and client.get("/").status_code == 302
    assert User.objects.get(pk=fee_earner.pk).role == "fee_earner"


def test_a_disabled_account_cannot_sign_in_with_sso(sso: OidcProvider, client: Client, fee_earner: Any) -> None:
    sso.add_account("fe", fee_earner.email, ["onfile-staff"])
    User.objects.filter(pk=fee_earner.pk).update(is_active=False)
    assert _sso(client, sso, "fe").status_code == 403


def test_a_forged_state_is_refused(sso: OidcProvider, client: Client) -> None:
    sso.add_account("hank", "hank@firm.example", ["onfile-staff"])
    redirect = sso.sign_in(_begin(client), "hank").replace("state=", "state=x")
    response = _callback(client, redirect)
    assert response.status_code == 400 and client.get("/").status_code == 302
    assert events("security.sso_refused")[0].attrs["reason"] == "state"


def test_an_answer_for_another_browser_session_is_refused(sso: OidcProvider, client: Client) -> None:
    sso.add_account("ivy", "ivy@firm.example", ["onfile-staff"])
    redirect = sso.sign_in(_begin(client), "ivy")
    victim = Client()  # login CSRF: the attacker's code in the victim's browser
    assert _callback(victim, redirect).status_code == 400
    assert victim.get("/").status_code == 302


def test_the_id_token_must_carry_our_nonce(sso: OidcProvider, client: Client) -> None:
    sso.add_account("jack", "jack@firm.example", ["onfile-staff"])
    redirect = sso.sign_in(_begin(client), "jack")
    session = client.session
    session[sso_module.SESSION] = {**session[sso_module.SESSION], "nonce": "another-nonce"}
    session.save()
    response = _callback(client, redirect)
    assert response.status_code == 400 and "nonce" in response.content.decode()
    assert events("security.sso_refused")[0].attrs["reason"] == "id_token_claims"


def test_an_authorization_code_works_once(sso: OidcProvider, client: Client) -> None:
    sso.add_account("kim", "kim@firm.example", ["onfile-staff"])
    verifier_flow_url = _begin(client)
    flow = dict(client.session[sso_module.SESSION])
    redirect = sso.sign_in(verifier_flow_url, "kim")
    assert _callback(client, redirect).status_code == 302
    # Replayed into a session that expects it, the provider itself refuses the used code.
    other = Client()
    session = other.session
    session[sso_module.SESSION] = flow
    session.save()
    other.cookies["sessionid"] = session.session_key  # type: ignore[assignment]
    response = _callback(other, redirect)
    assert response.status_code == 400 and "refused the authorization code" in response.content.decode()


def test_the_code_is_useless_without_the_pkce_verifier(sso: OidcProvider, client: Client) -> None:
    sso.add_account("lee", "lee@firm.example", ["onfile-staff"])
    redirect = sso.sign_in(_begin(client), "lee")
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    answer = httpx.post(f"{sso.issuer}/token", auth=(sso.client_id, sso.client_secret),
                        data={"grant_type": "authorization_code", "code": code,
                              "redirect_uri": "http://127.0.0.1:8000/sso/callback",
                              "code_verifier": "x" * 64})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_a_provider_error_is_shown_and_ledgered(sso: OidcProvider, client: Client) -> None:
    state = parse_qs(urlsplit(_begin(client)).query)["state"][0]
    response = client.get(f"/sso/callback?error=access_denied&error_description=nope&state={state}")
    assert response.status_code == 400 and "access_denied" in response.content.decode()
    assert events("security.sso_refused")[0].attrs["reason"] == "provider_error"


def test_a_discovery_document_naming_another_issuer_is_refused(sso: OidcProvider, client: Client,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    real = sso_module._get_json

    def lying(url: str, bearer: str = "") -> dict[str, Any]:
        doc = real(url, bearer)
        return {**doc, "issuer": "https://evil.example"} if url.endswith("openid-configuration") else doc

    monkeypatch.setattr(sso_module, "_get_json", lying)
    response = client.get("/sso/login/")
    assert response.status_code == 502 and "evil.example" in response.content.decode()


def test_an_answer_naming_another_issuer_is_refused(sso: OidcProvider, client: Client) -> None:
    sso.add_account("max", "max@firm.example", ["onfile-staff"])
    redirect = sso.sign_in(_begin(client), "max")
    response = _callback(client, redirect.replace("iss=http", "iss=https"))
    assert response.status_code == 400 and events("security.sso_refused")[0].attrs["reason"] == "issuer"


def test_sso_for_a_local_admin_with_a_password_account(sso: OidcProvider, client: Client, admin: Any) -> None:
    # An admin's local sign-in needs TOTP; through SSO the provider's own MFA applies (amr "mfa").
    sso.add_account("adm", admin.email, ["onfile-admins"], amr=["pwd", "mfa"])
    assert _sso(client, sso, "adm").status_code == 302
    assert client.get("/status/").status_code == 200


def test_the_first_mapping_whose_group_the_person_is_in_gives_the_role(sso: OidcProvider) -> None:
    assert sso_module.role_for(["onfile-staff"]) == "fee_earner"
    assert sso_module.role_for(["onfile-staff", "onfile-admins"]) == "admin"
    assert sso_module.role_for(["other"]) is None
