"""TOTP two-factor: required roles, setup, codes once only, skew, recovery codes, lockout."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import pyotp
import pytest
from django.test import Client
from tests.accounts.ledgered import events
from tests.conftest import PASSWORD
from tests.signin import code_for, give_authenticator

from onfile.accounts import auth, twofactor
from onfile.accounts.models import RecoveryCode, TwoFactor

pytestmark = pytest.mark.django_db


def _password(client: Client, user: Any) -> Any:
    return client.post("/login/", {"username": user.email, "password": PASSWORD})


def _secret_on_page(html: str) -> bytes:
    text = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', html)
    assert text is not None, html
    compact = text.group(1).replace(" ", "")
    return base64.b32decode(compact + "=" * (-len(compact) % 8))


def test_an_admin_without_two_factor_must_set_it_up_before_anything_else(admin: Any, client: Client) -> None:
    response = _password(client, admin)
    assert response.status_code == 302 and response["Location"] == "/account/two-factor/setup/"
    for url in ("/", "/status/", "/account/security/", "/api/v1/ledger/checkpoint"):
        blocked = client.get(url)
        assert blocked.status_code == 302 and blocked["Location"].startswith("/login/"), url
    page = client.get("/account/two-factor/setup/")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="setup-required"' in html
    assert "<svg" in html and "<script" not in html.split("</head>")[1]
    assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    assert '<label for="id_code">' in html
    # A reload shows the same secret (the person may be half-way through scanning it).
    assert _secret_on_page(client.get("/account/two-factor/setup/").content.decode()) == _secret_on_page(html)


@pytest.mark.parametrize("role", ["admin", "compliance", "auditor"])
def test_each_required_role_is_sent_to_setup(archive: None, client: Client, role: str) -> None:
    from onfile.accounts.actions import do_create_user

    user = do_create_user(f"{role}@firm.example", PASSWORD, role, actor="test")
    assert _password(client, user)["Location"] == "/account/two-factor/setup/"


def test_setting_up_completes_the_sign_in_and_shows_ten_recovery_codes(admin: Any, client: Client) -> None:
    _password(client, admin)
    secret = _secret_on_page(client.get("/account/two-factor/setup/").content.decode())
    response = client.post("/account/two-factor/setup/", {"code": code_for(secret)})
    html = response.content.decode()
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", html)
    assert response.status_code == 200 and len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/status/").status_code == 200
    # Stored as keyed hashes only.
    stored = list(RecoveryCode.objects.filter(user=admin).values_list("digest", flat=True))
    assert len(stored) == 10 and not any(c.replace("-", "") in d for c in codes for d in stored)
    [event] = events("security.two_factor_enrolled")
    assert event.attrs == {"user": admin.pk, "method": "totp", "recovery_codes": 10}
    [login] = events("security.login_succeeded")
    assert login.attrs["method"] == "password+totp"


def test_the_qr_code_uri_works_in_a_standard_authenticator(fee_earner: Any) -> None:
    pending = twofactor.begin_enrolment(fee_earner)
    uri = twofactor.provisioning_uri(pending, fee_earner)
    app = pyotp.parse_uri(uri)  # an independent RFC 6238 implementation
    assert isinstance(app, pyotp.TOTP) and app.issuer == "onfile" and app.name == fee_earner.email
    twofactor.do_confirm_enrolment(fee_earner, app.now())
    assert twofactor.confirmed(fee_earner) is not None


def test_the_secret_is_sealed_at_rest(fee_earner: Any, admin: Any) -> None:
    pending = twofactor.begin_enrolment(fee_earner)
    secret = twofactor.open_secret(pending)
    sealed = bytes(pending.sealed_secret)
    assert len(secret) == 20 and secret not in sealed
    assert base64.b32encode(secret) not in sealed
    moved = TwoFactor(user=admin, sealed_secret=sealed)  # copied to another user's row, it does not open
    with pytest.raises(twofactor.TwoFactorError):
        twofactor.open_secret(moved)


def test_a_wrong_setup_code_is_refused(admin: Any, client: Client) -> None:
    _password(client, admin)
    secret = _secret_on_page(client.get("/account/two-factor/setup/").content.decode())
    wrong = f"{(int(code_for(secret)) + 1) % 1000000:06d}"
    response = client.post("/account/two-factor/setup/", {"code": wrong})
    assert response.status_code == 400 and 'id="setup-error"' in response.content.decode()
    assert client.get("/").status_code == 302
    assert twofactor.confirmed(admin) is None


def test_with_two_factor_the_password_alone_does_not_sign_in(admin: Any, client: Client) -> None:
    secret = give_authenticator(admin)
    response = _password(client, admin)
    assert response["Location"] == "/login/code/"
    assert client.get("/").status_code == 302
    page = client.get("/login/code/").content.decode()
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert client.post("/login/code/", {"code": code_for(secret, 1)}).status_code == 302
    assert client.get("/").status_code == 200


def test_a_code_works_only_once(admin: Any, client: Client) -> None:
    secret = give_authenticator(admin)
    code = code_for(secret, 1)
    _password(client, admin)
    assert client.post("/login/code/", {"code": code}).status_code == 302
    client.post("/logout/")
    _password(client, admin)
    again = client.post("/login/code/", {"code": code})
    assert again.status_code == 400 and "used already" in again.content.decode()
    assert client.get("/").status_code == 302


def test_codes_within_one_step_either_side_are_accepted_and_no_further(fee_earner: Any) -> None:
    secret = give_authenticator(fee_earner)
    now = time.time() + 600  # well after the setup's step
    for offset, accepted in ((-2, False), (2, False), (-1, True), (0, True), (1, True)):
        code = code_for(secret, offset, now=now)
        if accepted:
            assert twofactor.do_verify_second_factor(fee_earner, code, now=now).method == "totp"
        else:
            with pytest.raises(twofactor.TwoFactorError):
                twofactor.do_verify_second_factor(fee_earner, code, now=now)
        # A step at or before the last accepted one never works again, even within the window.
    with pytest.raises(twofactor.TwoFactorError):
        twofactor.do_verify_second_factor(fee_earner, code_for(secret, 0, now=now), now=now)


def test_a_recovery_code_signs_in_once(admin: Any, client: Client) -> None:
    give_authenticator(admin)
    codes = twofactor.do_regenerate_recovery_codes(admin, actor="test")
    _password(client, admin)
    used = client.post("/login/code/", {"code": codes[3].upper().replace("-", " ")})
    assert used.status_code == 200 and "9 recovery codes left" in used.content.decode()
    assert client.get("/").status_code == 200
    client.post("/logout/")
    _password(client, admin)
    assert client.post("/login/code/", {"code": codes[3]}).status_code == 400
    [event] = events("security.recovery_code_used")
    assert event.attrs == {"user": admin.pk, "remaining": 9}


def test_too_many_wrong_codes_lock_the_second_step(admin: Any, client: Client) -> None:
    secret = give_authenticator(admin)
    _password(client, admin)
    for _ in range(5):
        assert client.post("/login/code/", {"code": "000000"}).status_code == 400
    refused = client.post("/login/code/", {"code": code_for(secret, 1)})
    assert refused.status_code == 400 and "too many wrong codes" in refused.content.decode().lower()
    assert client.get("/").status_code == 302
    assert len(events("security.second_factor_failed")) == 5
    [lock] = events("security.second_factor_locked")
    assert lock.attrs["user"] == admin.pk


def test_a_pending_sign_in_lapses(admin: Any, client: Client) -> None:
    secret = give_authenticator(admin)
    _password(client, admin)
    session = client.session
    session[auth.PENDING] = {**session[auth.PENDING], "at": time.time() - auth.PENDING_SECONDS - 1}
    session.save()
    response = client.post("/login/code/", {"code": code_for(secret, 1)})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_a_fee_earner_may_turn_two_factor_on_and_off(fee_earner: Any, client: Client) -> None:
    client.post("/login/", {"username": fee_earner.email, "password": PASSWORD})
    page = client.get("/account/security/").content.decode()
    assert 'id="enable-two-factor"' in page
    secret = _secret_on_page(client.get("/account/two-factor/setup/").content.decode())
    assert client.post("/account/two-factor/setup/", {"code": code_for(secret)}).status_code == 200
    assert "Turn off two-factor" in client.get("/account/security/").content.decode()
    # Turning it off needs a current code, not only the session.
    assert client.post("/account/security/", {"action": "disable", "code": "123456"}).status_code == 400
    assert twofactor.confirmed(fee_earner) is not None
    assert client.post("/account/security/", {"action": "disable", "code": code_for(secret, 1)}).status_code == 302
    assert twofactor.confirmed(fee_earner) is None and not RecoveryCode.objects.filter(user=fee_earner).exists()
    [event] = events("security.two_factor_disabled")
    assert event.attrs == {"user": fee_earner.pk, "reason": "user"} and event.actor == fee_earner.actor
    # From now on their sign-in asks for a code only if they set it up again.
    client.post("/logout/")
    assert client.post("/login/", {"username": fee_earner.email, "password": PASSWORD})["Location"] == "/"


def test_an_admin_cannot_turn_two_factor_off(admin: Any, client: Client) -> None:
    from tests.signin import sign_in

    sign_in(client, admin)
    assert "cannot be turned off" in client.get("/account/security/").content.decode()
    secret = twofactor.open_secret(twofactor.confirmed(admin))  # type: ignore[arg-type]
    response = client.post("/account/security/", {"action": "disable", "code": code_for(secret, 1)})
    assert response.status_code == 400 and twofactor.confirmed(admin) is not None


def test_new_recovery_codes_replace_the_old_ones(fee_earner: Any, client: Client) -> None:
    secret = give_authenticator(fee_earner)
    old = twofactor.do_regenerate_recovery_codes(fee_earner, actor="test")
    client.post("/login/", {"username": fee_earner.email, "password": PASSWORD})
    client.post("/login/code/", {"code": code_for(secret, 1)})
    response = client.post("/account/security/", {"action": "regenerate", "code": old[0]})
    new = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", response.content.decode())
    assert response.status_code == 200 and len(new) == 10 and not set(new) & set(old)
    with pytest.raises(twofactor.TwoFactorError):
        twofactor.do_verify_second_factor(fee_earner, old[1])
    assert twofactor.do_verify_second_factor(fee_earner, new[0]).method == "recovery_code"
    assert len(events("security.recovery_codes_regenerated")) == 2


def test_a_role_that_now_requires_two_factor_ends_a_password_only_session(fee_earner: Any, client: Client) -> None:
    client.post("/login/", {"username": fee_earner.email, "password": PASSWORD})
    assert client.get("/").status_code == 200
    type(fee_earner).objects.filter(pk=fee_earner.pk).update(role="compliance")
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "requires two-factor" in client.get("/login/").content.decode()
    [event] = events("security.session_expired")
    assert event.attrs == {"user": fee_earner.pk, "reason": "second_factor_required"}
