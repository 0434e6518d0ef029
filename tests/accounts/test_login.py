"""The password step: uniform errors, lockout per account and per address, what is ledgered."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from tests.accounts.ledgered import events
from tests.conftest import PASSWORD

from onfile.accounts.models import AuthFailure, AuthLock

pytestmark = pytest.mark.django_db
WRONG = "not the password 123"


def _post(client: Client, email: str, password: str, **extra: Any) -> Any:
    return client.post("/login/", {"username": email, "password": password}, **extra)


def _page_text(response: Any) -> str:
    html = response.content.decode()
    return re.sub(r"[A-Za-z0-9]{64}", "CSRF-TOKEN", html)  # the CSRF token differs per request


def test_a_fee_earner_signs_in_with_a_password(fee_earner: Any, client: Client) -> None:
    response = _post(client, "Fee.Earner@firm.example ", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    [event] = events("security.login_succeeded")
    assert event.attrs == {"user": fee_earner.pk, "method": "password"}
    assert event.personal is not None and event.personal["ip"] == "127.0.0.1"


def test_an_unknown_email_and_a_wrong_password_get_the_same_answer(fee_earner: Any, client: Client) -> None:
    wrong_password = _post(client, fee_earner.email, WRONG)
    unknown = _post(client, "nobody@firm.example", WRONG)
    assert wrong_password.status_code == unknown.status_code == 200
    # The same page, but for the address typed (kept in the field for the person's convenience).
    assert _page_text(wrong_password).replace(fee_earner.email, "EMAIL") == \
        _page_text(unknown).replace("nobody@firm.example", "EMAIL")
    assert "Your email or password is wrong" in _page_text(unknown)


def test_a_failure_is_ledgered_with_the_email_sealed_and_never_the_password(fee_earner: Any, client: Client) -> None:
    _post(client, "nobody@firm.example", WRONG)
    _post(client, fee_earner.email, WRONG)
    unknown, known = events("security.login_failed")
    assert unknown.attrs == {"reason": "unknown_account", "user": None}
    assert known.attrs == {"reason": "wrong_password", "user": fee_earner.pk}
    assert known.subject == fee_earner.actor and known.actor == "anonymous"
    assert unknown.personal is not None and unknown.personal["email"] == "nobody@firm.example"
    for event in (unknown, known):
        assert "@" not in event.raw  # the email is only in the sealed blob
        assert WRONG not in event.raw and WRONG not in str(event.personal)


def test_five_failures_lock_the_account_even_for_the_right_password(fee_earner: Any, client: Client) -> None:
    for _ in range(4):
        assert _post(client, fee_earner.email, WRONG).status_code == 200
    fifth = _post(client, fee_earner.email, WRONG)
    assert fifth.status_code == 429 and "blocked" in fifth.content.decode()
    refused = _post(client, fee_earner.email, PASSWORD)
    assert refused.status_code == 429
    assert client.get("/").status_code == 302
    [lock] = events("security.login_locked")
    assert lock.attrs["scope"] == "account" and lock.subject == fee_earner.actor
    assert len(events("security.login_failed")) == 5  # refusals while locked are not counted again


def test_an_unknown_email_is_locked_the_same_way(archive: None, client: Client) -> None:
    answers = [_post(client, "nobody@firm.example", WRONG).status_code for _ in range(6)]
    assert answers == [200, 200, 200, 200, 429, 429]


def test_the_lockout_ends_after_its_period(fee_earner: Any, client: Client) -> None:
    for _ in range(5):
        _post(client, fee_earner.email, WRONG)
    AuthLock.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    assert _post(client, fee_earner.email, PASSWORD).status_code == 302


def test_a_right_password_resets_the_count_of_the_account(fee_earner: Any, client: Client) -> None:
    for _ in range(4):
        _post(client, fee_earner.email, WRONG)
    assert _post(client, fee_earner.email, PASSWORD).status_code == 302
    Client().post("/logout/")
    other = Client()
    for _ in range(4):
        assert _post(other, fee_earner.email, WRONG).status_code == 200
    assert _post(other, fee_earner.email, PASSWORD).status_code == 302


def test_failures_outside_the_window_do_not_count(fee_earner: Any, client: Client) -> None:
    for _ in range(4):
        _post(client, fee_earner.email, WRONG)
    AuthFailure.objects.update(at=timezone.now() - timedelta(minutes=16))
    assert _post(client, fee_earner.email, WRONG).status_code == 200
    assert _post(client, fee_earner.email, PASSWORD).status_code == 302


def test_one_address_is_limited_across_accounts(fee_earner: Any, client: Client) -> None:
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for i in range(19):
        assert _post(client, f"guess{i}@firm.example", WRONG, **attacker).status_code == 200
    assert _post(client, "guess19@firm.example", WRONG, **attacker).status_code == 429
    # The right password of a real account from that address is refused too …
    assert _post(client, fee_earner.email, PASSWORD, **attacker).status_code == 429
    assert {e.attrs["scope"] for e in events("security.login_locked")} == {"ip"}
    # … but the account itself is not locked: its owner signs in from elsewhere.
    assert _post(Client(), fee_earner.email, PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_x_forwarded_for_counts_only_behind_a_proxy(fee_earner: Any, client: Client, settings: Any) -> None:
    settings.LOGIN_MAX_FAILURES_PER_IP = 2
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 100
    for i in range(2):  # a client cannot dodge the limit by inventing a forwarded address
        _post(client, f"x{i}@firm.example", WRONG, REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
    assert _post(client, fee_earner.email, PASSWORD, REMOTE_ADDR="203.0.113.1").status_code == 429
    settings.TRUST_X_FORWARDED_FOR = True
    proxy = {"REMOTE_ADDR": "192.0.2.1"}
    for i in range(2):  # behind the proxy the last forwarded address is the client
        _post(client, f"y{i}@firm.example", WRONG, HTTP_X_FORWARDED_FOR=f"forged, 198.51.100.{i}", **proxy)
    assert _post(Client(), fee_earner.email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.50", **proxy).status_code == 302


def test_the_limits_come_from_settings(fee_earner: Any, client: Client, settings: Any) -> None:
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 2
    assert [_post(client, fee_earner.email, WRONG).status_code for _ in range(2)] == [200, 429]


def test_locked_and_unlocked_answers_take_comparable_time(fee_earner: Any, client: Client) -> None:
    # The password is hashed on every path (unknown account, wrong password, locked), so the
    # answer time does not tell them apart; assert the hasher runs on the locked path too.
    import django.contrib.auth.hashers as hashers

    calls = []
    original = hashers.Argon2PasswordHasher.encode

    def counting(self: Any, password: str, salt: str) -> str:
        calls.append(1)
        return original(self, password, salt)

    hashers.Argon2PasswordHasher.encode = counting  # type: ignore[method-assign]
    try:
        for _ in range(5):
            _post(client, "nobody@firm.example", WRONG)
        calls.clear()
        assert _post(client, "nobody@firm.example", WRONG).status_code == 429
        assert calls, "the locked path must hash the password like the others"
        calls.clear()
        _post(client, "someone.else@firm.example", WRONG)
        assert calls, "an unknown account must hash the password too"
    finally:
        hashers.Argon2PasswordHasher.encode = original  # type: ignore[method-assign]


def test_next_is_followed_only_within_the_site(fee_earner: Any, client: Client) -> None:
    response = client.post("/login/", {"username": fee_earner.email, "password": PASSWORD, "next": "/status/"})
    assert response["Location"] == "/status/"
    other = Client()
    response = other.post("/login/", {"username": fee_earner.email, "password": PASSWORD,
                                      "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_sign_out_ends_the_session_and_is_ledgered(fee_earner: Any, client: Client) -> None:
    _post(client, fee_earner.email, PASSWORD)
    assert client.get("/logout/").status_code == 405  # a link cannot sign anyone out
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302
    [event] = events("security.logout")
    assert event.attrs == {"user": fee_earner.pk}


def test_the_session_key_changes_at_sign_in(fee_earner: Any, client: Client) -> None:
    client.get("/login/")
    session = client.session
    session["probe"] = 1
    session.save()
    before = client.cookies["sessionid"].value
    _post(client, fee_earner.email, PASSWORD)
    assert client.cookies["sessionid"].value != before


def test_the_sign_in_page_offers_single_sign_on_only_when_configured(archive: None, client: Client,
                                                                     settings: Any) -> None:
    assert "sso-button" not in client.get("/login/").content.decode()
    assert client.get("/sso/login/").status_code == 404
    settings.OIDC_ENABLED = True
    settings.OIDC_BUTTON_LABEL = "Microsoft"
    html = client.get("/login/").content.decode()
    assert 'id="sso-button"' in html and "Sign in with Microsoft" in html
