"""Signing in through the real pages in Django test-client tests, second factor included.

``sign_in(client, user)`` posts the sign-in form; when the user's role requires two-factor
authentication (admin, compliance, auditor) it first gives them an authenticator
(``give_authenticator``) and then answers the code page, as a person with the app would.
For tests about a page and not about signing in, ``client.force_login(user)`` is enough.
"""

from __future__ import annotations

import time
from typing import Any

from django.test import Client
from tests.conftest import PASSWORD

from onfile.accounts import twofactor


def code_for(secret: bytes, offset_steps: int = 0, now: float | None = None) -> str:
    """The TOTP code of ``secret``, ``offset_steps`` steps from now."""
    step = int(time.time() if now is None else now) // twofactor.STEP_SECONDS + offset_steps
    return twofactor.code_at(secret, step).decode()


def give_authenticator(user: Any) -> bytes:
    """Set up and confirm TOTP for ``user``; returns the secret (what the person's app holds)."""
    pending = twofactor.begin_enrolment(user)
    secret = twofactor.open_secret(pending)
    twofactor.do_confirm_enrolment(user, code_for(secret))
    return secret


def sign_in(client: Client, user: Any, password: str = PASSWORD) -> None:
    secret = None
    if twofactor.requires_two_factor(user) and twofactor.confirmed(user) is None:
        secret = give_authenticator(user)
    response = client.post("/login/", {"username": user.email, "password": password})
    assert response.status_code == 302, response.content
    if response["Location"] == "/login/code/":
        if secret is None:
            raise AssertionError(f"{user.email} has an authenticator this helper did not set up; use answer_code()")
        answer_code(client, secret)


def answer_code(client: Client, secret: bytes) -> None:
    # The confirmation used this step's code and a code works once: the next step's is within
    # the accepted clock skew.
    response = client.post("/login/code/", {"code": code_for(secret, offset_steps=1)})
    assert response.status_code == 302, response.content
