"""``onfile twofactor``: an administrator's way out for a lost phone or a locked account."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from tests.accounts.ledgered import events
from tests.conftest import PASSWORD
from tests.signin import give_authenticator

from onfile.accounts import twofactor

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("twofactor", *args, stdout=out)
    return out.getvalue()


def test_reset_removes_the_authenticator_and_the_next_sign_in_sets_up_a_new_one(admin: Any, client: Client) -> None:
    give_authenticator(admin)
    assert "two-factor on since" in _run(admin.email)
    assert "two-factor removed" in _run(admin.email, "--reset")
    assert twofactor.confirmed(admin) is None
    [event] = events("security.two_factor_disabled")
    assert event.attrs == {"user": admin.pk, "reason": "reset"} and event.actor == "system:cli"
    response = client.post("/login/", {"username": admin.email, "password": PASSWORD})
    assert response["Location"] == "/account/two-factor/setup/"


def test_unlock_lifts_a_lockout(fee_earner: Any, client: Client) -> None:
    for _ in range(5):
        client.post("/login/", {"username": fee_earner.email, "password": "wrong password 1"})
    assert client.post("/login/", {"username": fee_earner.email, "password": PASSWORD}).status_code == 429
    assert "lifted 1 lockout" in _run(fee_earner.email, "--unlock")
    assert client.post("/login/", {"username": fee_earner.email, "password": PASSWORD}).status_code == 302
    assert len(events("security.lockout_lifted")) == 1


def test_an_unknown_email_is_an_error(archive: None) -> None:
    with pytest.raises(CommandError):
        _run("nobody@firm.example")
