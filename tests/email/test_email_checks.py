"""Half-configured email is reported by system checks with stable ids."""

from __future__ import annotations

from typing import Any

from onfile.channels.email.checks import check_email


def ids(settings: Any, **values: Any) -> set[str]:
    base = {"SMTP_HOST": "", "SMTP_PORT": 587, "SMTP_SECURITY": "starttls", "SMTP_USER": "", "SMTP_PASSWORD": "",
            "EMAIL_FROM": "", "EMAIL_FALLBACK": "", "JOURNAL_ADDRESS": "", "EMAIL_MAX_ATTACHMENT_MB": 10}
    for name, value in {**base, **values}.items():
        setattr(settings, name, value)
    return {m.id for m in check_email()}


def test_nothing_configured_is_fine(settings: Any) -> None:
    assert ids(settings) == set()


def test_a_complete_configuration_is_fine(settings: Any) -> None:
    assert ids(settings, SMTP_HOST="smtp.firm.example", SMTP_USER="onfile", SMTP_PASSWORD="pw",
               EMAIL_FROM="whatsapp@firm.example", EMAIL_FALLBACK="desk@firm.example") == set()


def test_a_journal_address_without_a_relay_is_an_error(settings: Any) -> None:
    assert ids(settings, JOURNAL_ADDRESS="journal@archive.example") == {"onfile.E030"}


def test_settings_without_a_host_warn(settings: Any) -> None:
    assert ids(settings, EMAIL_FROM="whatsapp@firm.example") == {"onfile.W030"}


def test_half_configured_relays_are_errors(settings: Any) -> None:
    found = ids(settings, SMTP_HOST="smtp.firm.example", SMTP_SECURITY="ssl", SMTP_USER="onfile",
                EMAIL_FALLBACK="not an address")
    assert found == {"onfile.E031", "onfile.E032", "onfile.E033", "onfile.E035"}


def test_a_password_in_clear_over_the_network_warns(settings: Any) -> None:
    found = ids(settings, SMTP_HOST="smtp.firm.example", SMTP_SECURITY="none", SMTP_USER="u", SMTP_PASSWORD="p",
                EMAIL_FROM="whatsapp@firm.example")
    assert found == {"onfile.W031", "onfile.W032"}
