"""System checks for single sign-on and two-factor settings (onfile.E020–E024, W020–W022)."""

from __future__ import annotations

from typing import Any

from django.test import override_settings

from onfile import checks

SSO = {"OIDC_ISSUER": "https://login.microsoftonline.com/tenant-id/v2.0", "OIDC_CLIENT_ID": "app-id",
       "OIDC_CLIENT_SECRET": "secret", "OIDC_ROLE_MAP": ["g1=admin", "g2=fee_earner"],
       "OIDC_EMAIL_VERIFIED_CLAIM": "email_verified"}


def _ids(**overrides: Any) -> list[str]:
    with override_settings(**{**SSO, **overrides}):
        return [m.id for m in checks.check_sign_in()] + [m.id for m in checks.check_two_factor()]


def test_a_complete_configuration_is_clean() -> None:
    assert _ids() == []


def test_no_single_sign_on_at_all_is_clean() -> None:
    assert _ids(OIDC_ISSUER="", OIDC_CLIENT_ID="", OIDC_CLIENT_SECRET="", OIDC_ROLE_MAP=[]) == []


def test_half_a_configuration_is_an_error() -> None:
    assert _ids(OIDC_CLIENT_ID="") == ["onfile.E020"]
    assert _ids(OIDC_ISSUER="") == ["onfile.E020"]
    assert _ids(OIDC_ISSUER="", OIDC_CLIENT_ID="") == ["onfile.E020"]  # a secret alone


def test_a_role_map_entry_that_names_no_role_is_an_error() -> None:
    assert _ids(OIDC_ROLE_MAP=["g1=admin", "g2=superuser"]) == ["onfile.E021"]
    assert _ids(OIDC_ROLE_MAP=["=admin"]) == ["onfile.E021"]


def test_an_empty_role_map_is_an_error() -> None:
    assert _ids(OIDC_ROLE_MAP=[]) == ["onfile.E022"]


def test_a_plain_http_issuer_is_an_error_except_on_loopback() -> None:
    assert _ids(OIDC_ISSUER="http://idp.firm.example") == ["onfile.E023"]
    assert _ids(OIDC_ISSUER="http://127.0.0.1:9000") == []


def test_warnings_for_a_public_client_and_unverified_emails() -> None:
    assert _ids(OIDC_CLIENT_SECRET="") == ["onfile.W020"]
    assert _ids(OIDC_EMAIL_VERIFIED_CLAIM="") == ["onfile.W021"]


def test_two_factor_role_settings() -> None:
    assert _ids(TOTP_REQUIRED_ROLES=["admin", "boss"]) == ["onfile.E024"]
    assert _ids(TOTP_REQUIRED_ROLES=["compliance"]) == ["onfile.W022"]
