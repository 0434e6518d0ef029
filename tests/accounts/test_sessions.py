"""Session limits: idle timeout and absolute lifetime, enforced on every request."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from tests.accounts.ledgered import events
from tests.conftest import PASSWORD

from onfile.accounts import auth

pytestmark = pytest.mark.django_db


def _signed_in(client: Client, user: Any) -> None:
    assert client.post("/login/", {"username": user.email, "password": PASSWORD}).status_code == 302


def _shift(client: Client, **ago: float) -> None:
    """Pretend the sign-in / the last request happened ``ago`` seconds before now."""
    session = client.session
    for key, seconds in ago.items():
        session[{"signed_in": auth.AUTH_AT, "seen": auth.SEEN_AT}[key]] = time.time() - seconds
    session.save()


def test_an_idle_session_ends_after_thirty_minutes(fee_earner: Any, client: Client) -> None:
    _signed_in(client, fee_earner)
    _shift(client, seen=31 * 60)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "signed out after a period of inactivity" in client.get("/login/").content.decode()
    assert client.get("/").status_code == 302  # and it stays ended
    [event] = events("security.session_expired")
    assert event.attrs == {"user": fee_earner.pk, "reason": "idle"} and event.subject == fee_earner.actor


def test_activity_keeps_a_session_alive(fee_earner: Any, client: Client) -> None:
    _signed_in(client, fee_earner)
    _shift(client, seen=29 * 60)
    assert client.get("/").status_code == 200
    assert time.time() - client.session[auth.SEEN_AT] < 5  # the idle clock restarted
    assert client.get("/").status_code == 200


def test_a_session_ends_twelve_hours_after_sign_in_however_active(fee_earner: Any, client: Client) -> None:
    _signed_in(client, fee_earner)
    _shift(client, signed_in=12 * 3600 + 1, seen=10)
    response = client.get("/")
    assert response.status_code == 302
    assert "maximum length" in client.get("/login/").content.decode()
    [event] = events("security.session_expired")
    assert event.attrs["reason"] == "absolute"


def test_the_limits_come_from_settings(fee_earner: Any, client: Client, settings: Any) -> None:
    settings.SESSION_IDLE_SECONDS = 60
    _signed_in(client, fee_earner)
    _shift(client, seen=61)
    assert client.get("/").status_code == 302


def test_the_expired_session_is_gone_from_the_database(fee_earner: Any, client: Client) -> None:
    from django.contrib.sessions.models import Session

    _signed_in(client, fee_earner)
    key = client.session.session_key
    _shift(client, seen=31 * 60)
    client.get("/")
    assert not Session.objects.filter(session_key=key).exists()


def test_a_session_made_without_the_sign_in_page_gets_the_limits_too(fee_earner: Any, client: Client) -> None:
    client.force_login(fee_earner)
    assert client.get("/").status_code == 200
    assert auth.AUTH_AT in client.session
    _shift(client, signed_in=13 * 3600)
    assert client.get("/").status_code == 302
