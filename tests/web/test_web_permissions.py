"""Every URL, three outsiders: anonymous, a fee earner of another team, and a deactivated user.

The URL list is read from the resolver, so a page added later without protection fails
here (``PUBLIC`` names the few that must answer without signing in).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from tests.web.helpers import FIXTURES, as_, deliver

from onfile.accounts.models import User
from onfile.conversations.actions import do_create_matter, do_link_matter, do_set_wall
from onfile.conversations.models import Attachment, Message
from onfile.conversations.workflow import do_link_client
from onfile.exports.jobs import do_request_export, work

pytestmark = pytest.mark.django_db

# Answer without a session, by design: signing in itself, health, Meta's webhook, the SSO
# round trip, and the public proofs' own authentication (the API checks its own login).
PUBLIC = {"login", "logout", "healthz", "whatsapp-webhook", "sso-login", "sso-callback", "login-totp",
          "two-factor", "two-factor-verify"}


def patterns(resolver: URLResolver | None = None, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            out += patterns(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern) and p.name:
            out.append((p.name, prefix + str(p.pattern)))
    return out


def concrete(route: str, ids: dict[str, int], name: str) -> str:
    target = ("media" if name == "media" else "client" if name.startswith("client") else
              "matter" if name.startswith("matter") else "export" if name.startswith("export-") else
              "conversation")
    # A second id in the route (a held reply …) is any number: the conversation decides first.
    return "/" + route.replace("<int:pk>", str(ids[target])).replace("<int:held>", "1").lstrip("^").rstrip("$")


@pytest.fixture
def ids(world: dict[str, Any], client: Client) -> dict[str, int]:
    c = world["c"]
    deliver(client, (FIXTURES / "document.json").read_bytes())
    matter = do_create_matter("P-1", "test", client=c.client)
    do_link_matter(c, matter, "test")
    if c.client is not None:
        do_link_client(c, c.client, "test")
    attachment = Attachment.objects.filter(message__in=Message.objects.filter(conversation=c)).first()
    assert attachment is not None and c.client_id is not None
    export, _ = do_request_export(world["people"]["alice"], c, "pdf")  # alice's, on the team's conversation
    return {"conversation": c.pk, "matter": matter.pk, "client": c.client_id, "media": attachment.pk,
            "export": export.pk}


def test_every_page_sends_the_anonymous_to_sign_in(ids: dict[str, int]) -> None:
    anonymous = Client()
    checked = 0
    for name, route in patterns():
        if name in PUBLIC or route.startswith("static"):
            continue
        url = concrete(route, ids, name)
        r = anonymous.get(url)
        assert r.status_code in (302, 401, 403), (name, url, r.status_code)
        if r.status_code == 302:
            assert r["Location"].startswith("/login/"), (name, r["Location"])
        checked += 1
    assert checked > 25


def test_a_fee_earner_of_another_team_sees_none_of_it(world: dict[str, Any], ids: dict[str, int]) -> None:
    bob = as_(world["people"]["bob"])
    checked = 0
    for name, route in patterns():
        if name in PUBLIC or route.startswith("static") or "<int:pk>" not in route or name.startswith("client"):
            continue
        url = concrete(route, ids, name)
        get = bob.get(url)
        post = bob.post(url, {"text": "x", "assignee": "", "mode": ""})
        assert get.status_code in (404, 405), (name, url, get.status_code)
        assert post.status_code in (403, 404, 405), (name, url, post.status_code)
        checked += 1
    assert checked >= 12
    for url in ["/manage/numbers", "/manage/users", "/manage/ledger", "/manage/walls", "/status/"]:
        assert bob.get(url).status_code == 403, url
    for url in ["/inbox/", "/matters/", "/clients/", "/exports/"]:
        page = bob.get(url).content.decode()
        assert f"/conversations/{ids['conversation']}/" not in page and ">P-1</a>" not in page, url


def test_an_export_is_for_the_person_who_asked_alone(world: dict[str, Any], ids: dict[str, int], settings: Any,
                                                    tmp_path: Path) -> None:
    settings.EXPORT_DIR = tmp_path / "exports"
    work()  # the worker makes alice's export
    url = f"/exports/{ids['export']}/download"
    mine = as_(world["people"]["alice"]).get(url)
    assert mine.status_code == 200 and b"".join(mine.streaming_content).startswith(b"%PDF-")
    # Her supervisor, compliance, the auditor and the administrator all see the conversation;
    # the export is still not theirs.
    for name in ("bob", "sam", "colp", "audrey", "ada"):
        assert as_(world["people"][name]).get(url).status_code == 404, name
    assert Client().get(url)["Location"].startswith("/login/")


def test_a_walled_clients_name_is_hidden_too(world: dict[str, Any], ids: dict[str, int]) -> None:
    alice = world["people"]["alice"]
    from onfile.conversations.models import Matter

    do_set_wall(Matter.objects.get(pk=ids["matter"]), "except", [alice.pk], "test")
    assert as_(alice).get(f"/clients/{ids['client']}/").status_code == 404


def test_a_deactivated_account_is_signed_out_everywhere(world: dict[str, Any], ids: dict[str, int]) -> None:
    alice = world["people"]["alice"]
    session = as_(alice)
    assert session.get(f"/conversations/{ids['conversation']}/").status_code == 200
    User.objects.filter(pk=alice.pk).update(is_active=False)
    r = session.get(f"/conversations/{ids['conversation']}/")
    assert r.status_code == 302 and r["Location"].startswith("/login/")
