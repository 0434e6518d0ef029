"""Signing in, in a real browser: two-factor setup forced on an admin, password + TOTP,
lockout, and single sign-on against a real OpenID provider with group → role mapping."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
from tests.browser.conftest import LiveOnfile
from tests.conftest import PASSWORD

Shot = Callable[[Any, str], Path]


def _csp_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    return errors


def _password_step(page: Any, server: LiveOnfile, email: str, password: str = PASSWORD) -> None:
    page.goto(server.url + "/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def _authenticator_from_setup_page(page: Any) -> pyotp.TOTP:
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    return pyotp.TOTP(secret)  # what the person's phone app computes


def test_an_admin_without_two_factor_must_set_it_up(onfile_server: LiveOnfile, page: Any, screenshot: Shot) -> None:
    email = onfile_server.create_user("new.admin@firm.example", "admin")
    csp = _csp_errors(page)
    _password_step(page, onfile_server, email)
    assert page.url.endswith("/account/two-factor/setup/")
    assert page.locator("#setup-required").is_visible()
    assert page.locator(".qr svg").is_visible()
    screenshot(page, "two-factor-setup-required")
    # Nothing else is reachable until it is done.
    page.goto(onfile_server.url + "/status/")
    assert "/login/" in page.url
    page.goto(onfile_server.url + "/account/two-factor/setup/")
    app = _authenticator_from_setup_page(page)
    page.get_by_label("Code from the app").fill("000000" if app.now() != "000000" else "111111")
    with page.expect_navigation():
        page.get_by_role("button", name="Turn on two-factor authentication").click()
    assert page.locator("#setup-error").is_visible()
    page.get_by_label("Code from the app").fill(app.now())
    with page.expect_navigation():
        page.get_by_role("button", name="Turn on two-factor authentication").click()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    screenshot(page, "two-factor-recovery-codes")
    with page.expect_navigation():
        page.get_by_role("link", name="I have saved them — continue").click()
    page.goto(onfile_server.url + "/status/")
    assert page.url.endswith("/status/") and page.get_by_role("heading", name="Archive status").is_visible()
    assert csp == []


def test_sign_in_with_password_and_authenticator_code(onfile_server: LiveOnfile, page: Any, screenshot: Shot) -> None:
    email = onfile_server.create_user("totp.user@firm.example", "fee_earner")
    csp = _csp_errors(page)
    _password_step(page, onfile_server, email)
    with page.expect_navigation():
        page.get_by_role("link", name="Security").click()
    screenshot(page, "security-page-two-factor-off")
    with page.expect_navigation():
        page.get_by_role("link", name="Set up two-factor authentication").click()
    app = _authenticator_from_setup_page(page)
    page.get_by_label("Code from the app").fill(app.now())
    with page.expect_navigation():
        page.get_by_role("button", name="Turn on two-factor authentication").click()
    with page.expect_navigation():
        page.get_by_role("link", name="I have saved them — continue").click()
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("Sign out")).click()
    assert page.url.endswith("/login/")

    _password_step(page, onfile_server, email)
    assert page.url.endswith("/login/code/")
    field = page.get_by_label("Code", exact=True)
    assert field.get_attribute("autocomplete") == "one-time-code" and field.get_attribute("inputmode") == "numeric"
    screenshot(page, "two-factor-code")
    # The setup used this step's code, and a code works once: the app's next code is in the window.
    field.fill(app.at(time.time() + 30))
    with page.expect_navigation():
        page.get_by_role("button", name="Verify").click()
    assert not page.url.endswith("/login/code/"), page.content()[:2000]
    assert page.get_by_role("button", name=re.compile(f"Sign out {re.escape(email)}")).is_visible()
    page.goto(onfile_server.url + "/account/security/")
    assert "On since" in page.locator("#two-factor-status").inner_text()
    screenshot(page, "security-page-two-factor-on")
    assert csp == []


def test_repeated_failures_lock_the_account(onfile_server: LiveOnfile, page: Any, screenshot: Shot) -> None:
    email = onfile_server.create_user("locked.out@firm.example", "fee_earner")
    for attempt in range(4):
        _password_step(page, onfile_server, email, f"wrong password {attempt}")
        assert "Your email or password is wrong" in page.locator("#login-error").inner_text()
    screenshot(page, "sign-in-wrong-password")
    _password_step(page, onfile_server, email, "wrong password 5")
    assert "blocked" in page.locator("#login-error").inner_text()
    _password_step(page, onfile_server, email, PASSWORD)  # the right password no longer helps
    assert "blocked" in page.locator("#login-error").inner_text() and page.url.endswith("/login/")
    screenshot(page, "sign-in-locked-out")


def test_single_sign_on_maps_groups_to_roles(sso_server: LiveOnfile, page: Any, screenshot: Shot) -> None:
    assert sso_server.oidc is not None
    sso_server.oidc.add_account("olivia", "olivia@firm.example", ["all-staff", "onfile-admins"], name="Olivia Admin",
                                amr=["pwd", "mfa"])
    csp = _csp_errors(page)
    page.goto(sso_server.url + "/login/")
    screenshot(page, "sign-in-with-sso-button")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.wait_for_url(re.compile(re.escape(sso_server.oidc.issuer) + "/"))
    page.locator("input[name=login]").fill("olivia")
    page.locator("input[name=password]").fill("anything")
    page.locator("button[type=submit]").click()
    page.locator("button[type=submit]", has_text="Continue").click()  # the provider's consent page
    page.wait_for_url(re.compile(re.escape(sso_server.url) + r"/$"))
    # An admin, signed in through the provider (whose own MFA applies): no onfile setup page.
    assert page.get_by_role("link", name="Status").is_visible()
    screenshot(page, "home-after-sso")
    page.goto(sso_server.url + "/account/security/")
    assert sso_server.oidc.issuer in page.locator("main").inner_text()
    assert csp == []


def test_single_sign_on_refuses_a_person_without_a_mapped_group(sso_server: LiveOnfile, page: Any,
                                                                screenshot: Shot) -> None:
    assert sso_server.oidc is not None
    sso_server.oidc.add_account("mallory", "mallory@firm.example", ["marketing"])
    page.goto(sso_server.url + "/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.locator("input[name=login]").fill("mallory")
    page.locator("input[name=password]").fill("anything")
    page.locator("button[type=submit]").click()
    page.locator("button[type=submit]", has_text="Continue").click()
    page.wait_for_url(re.compile(re.escape(sso_server.url) + "/sso/callback"))
    assert "none of your groups" in page.locator("#sso-error").inner_text().lower()
    screenshot(page, "sso-refused-no-role")
    page.goto(sso_server.url + "/")
    assert "/login/" in page.url


pytestmark = pytest.mark.browser
