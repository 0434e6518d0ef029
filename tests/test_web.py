"""The login page, the admin status page, the ledger API, and secure defaults."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from django.test import Client
from tests.signin import sign_in

from onfile.ledger.checkpoint import open_checkpoint
from onfile.ledger.checkpoints import do_checkpoint
from onfile.ledger.keys import verifier_keys
from onfile.ledger.merkle import verify_consistency, verify_inclusion

pytestmark = pytest.mark.django_db


def _login(client: Client, user: Any) -> None:
    sign_in(client, user)  # the sign-in form, with the second factor an admin needs


def test_the_login_page_renders_with_labels(archive: None, client: Client) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_username">Email</label>' in html and 'autocomplete="current-password"' in html


def test_passwords_are_hashed_with_argon2(admin: Any) -> None:
    assert admin.password.startswith("argon2$argon2id$")


def test_the_product_hashes_passwords_at_django_s_argon2_cost(admin: Any) -> None:
    # The in-process tests hash at Argon2id's least cost (tests/hashers.py); the product must not.
    from django.contrib.auth.hashers import Argon2PasswordHasher, check_password

    import onfile.settings as product

    assert product.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    hasher = Argon2PasswordHasher()
    assert (hasher.memory_cost, hasher.time_cost) >= (102_400, 2)
    stored = hasher.encode("correct horse battery staple 42", hasher.salt())
    assert stored.startswith("argon2$argon2id$v=19$m=102400,t=2,p=8$")
    assert check_password("correct horse battery staple 42", stored)  # what the tests' hasher still verifies


def test_a_wrong_password_is_refused(admin: Any, client: Client) -> None:
    response = client.post("/login/", {"username": admin.email, "password": "wrong password 123"})
    assert response.status_code == 200 and "wrong" in response.content.decode()
    assert client.get("/").status_code == 302


def test_pages_need_login(archive: None, client: Client) -> None:
    for url in ("/", "/status/", "/api/v1/ledger/checkpoint", "/api/v1/ledger/proof/inclusion?seq=0"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_an_admin_sees_the_status_page(admin: Any, client: Client) -> None:
    do_checkpoint(force=True)
    _login(client, admin)
    html = client.get("/status/").content.decode()
    assert 'id="ledger-entries"' in html and 'id="checkpoint-size"' in html
    assert "Nothing waiting to leave, nothing failed." in html


def test_the_status_page_shows_what_waits_in_the_outbox_and_what_failed(admin: Any, client: Client) -> None:
    from onfile import clock
    from onfile.outbox import queue
    from onfile.outbox.models import OutboxItem

    waiting = queue.enqueue("t-1", "email.forward", {}, 0, clock.now())
    queue.retry_later(waiting, "relay unavailable: connection refused", clock.now())
    queue.fail(queue.enqueue("t-2", "whatsapp.send", {}, 0, clock.now()), "131026: message undeliverable", clock.now())
    _login(client, admin)
    html = client.get("/status/").content.decode()
    assert 'id="outbox"' in html and "relay unavailable: connection refused" in html
    assert "131026: message undeliverable" in html and OutboxItem.objects.count() == 2


def test_a_fee_earner_may_not_see_the_status_page(fee_earner: Any, client: Client) -> None:
    _login(client, fee_earner)
    assert client.get("/status/").status_code == 403
    assert client.get("/").status_code == 200


def test_security_headers_are_set(archive: None, client: Client) -> None:
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]
    assert response.cookies["csrftoken"]["httponly"]


@pytest.mark.parametrize("url", ["/admin/", "/__debug__/", "/api/schema", "/graphql"])
def test_there_are_no_debug_or_introspection_endpoints(archive: None, client: Client, url: str) -> None:
    assert client.get(url).status_code == 404


def test_the_api_serves_checkpoints_and_proofs_that_verify(admin: Any, client: Client) -> None:
    from onfile.ledger.actions import do_record_access

    for i in range(5):
        do_record_access("user:1", f"conversation:{i}")
    first = do_checkpoint()
    for i in range(4):
        do_record_access("user:1", f"conversation:{i}")
    second = do_checkpoint()
    assert first is not None and second is not None
    _login(client, admin)
    cp = client.get("/api/v1/ledger/checkpoint").json()
    signed = open_checkpoint(cp["note"], verifier_keys())
    inc = client.get("/api/v1/ledger/proof/inclusion?seq=3").json()
    leaf = base64.b64decode(inc["leaf"])
    assert b'"seq":3' in leaf
    lines = inc["tlog_proof"].split("\n\n")[0].splitlines()
    proof = [base64.b64decode(x) for x in lines[2:]]
    digest = hashlib.sha256(b"\x00" + leaf).digest()
    bundle_cp = open_checkpoint(inc["tlog_proof"].split("\n\n", 1)[1], verifier_keys())
    assert verify_inclusion(digest, 3, bundle_cp.size, proof, bundle_cp.root)
    con = client.get(f"/api/v1/ledger/proof/consistency?old={first.size}&new={second.size}").json()
    old = open_checkpoint(con["old_checkpoint"], verifier_keys())
    new = open_checkpoint(con["new_checkpoint"], verifier_keys())
    assert verify_consistency(old.size, new.size, old.root, new.root, [base64.b64decode(p) for p in con["proof"]])
    assert signed.size == second.size
    assert client.get("/api/v1/ledger/proof/inclusion?seq=x").status_code == 400
    assert client.get("/api/v1/ledger/proof/consistency?old=1&new=2").status_code == 400


def test_healthz_says_nothing_about_content(archive: None, client: Client) -> None:
    assert client.get("/healthz").json() == {"ok": True}
