"""Search goes through the one access layer: roles, ethical walls, deleted text; and is ledgered."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from tests.search.conftest import World

from onfile.access import AccessDenied
from onfile.conversations.actions import do_set_wall
from onfile.ledger.actions import read_content
from onfile.ledger.models import Entry
from onfile.search import SearchFilters, search

pytestmark = pytest.mark.django_db


def conversations(user: Any, query: str, **filters: Any) -> set[int]:
    return {h.conversation_id for h in search(user, query, SearchFilters(**filters), per_page=100).hits}


def test_a_fee_earner_finds_only_what_is_theirs(world: World) -> None:
    assert conversations(world.fee_earner, "lease") == {world.lease.pk, world.acme.pk}
    assert conversations(world.compliance, "lease") == {world.lease.pk, world.acme.pk, world.group.pk}
    assert conversations(world.outsider, "lease") == set()


def test_a_walled_fee_earner_gets_nothing_from_the_walled_matter(world: World) -> None:
    do_set_wall(world.m2, "except", [world.fee_earner.pk], actor="test")
    assert conversations(world.fee_earner, "lease") == {world.lease.pk}
    assert conversations(world.fee_earner, "warehouse") == set()
    assert conversations(world.fee_earner, "lease", matter=world.m2.pk) == set()
    assert conversations(world.fee_earner, "lease", client=world.acme_id) == set()
    page = search(world.fee_earner, "warehouse OR renewal OR settlement")
    assert page.total == 0 and page.hits == []
    # Compliance supervises the walls and sees through them.
    assert conversations(world.compliance, "warehouse") == {world.acme.pk}


def test_an_only_wall_keeps_out_even_an_admin(world: World) -> None:
    assert world.acme.pk in conversations(world.admin, "lease")
    do_set_wall(world.m2, "only", [world.fee_earner.pk], actor="test")
    assert world.acme.pk not in conversations(world.admin, "lease")
    assert world.acme.pk in conversations(world.fee_earner, "lease")


def test_deleted_text_is_found_only_by_those_who_may_see_originals(world: World) -> None:
    from onfile.conversations.models import Message

    Message.objects.filter(pk__in=[h.message_id for h in search(world.compliance, "deposit").hits]).update(
        deleted=True)
    assert conversations(world.compliance, "deposit") == {world.lease.pk}
    assert conversations(world.admin, "deposit") == {world.lease.pk}
    assert conversations(world.fee_earner, "deposit") == set()


def test_every_search_is_in_the_ledger_with_who_what_and_how_many(world: World) -> None:
    before = Entry.objects.filter(kind="access.search").count()
    search(world.fee_earner, "lease", SearchFilters(matter=world.m1.pk, direction="in"), page=1)
    search(world.outsider, "lease")
    entries = list(Entry.objects.filter(kind="access.search").order_by("seq"))[before:]
    assert [e.actor for e in entries] == [world.fee_earner.actor, world.outsider.actor]
    first = json.loads(entries[0].attrs)
    assert first == {"results": 1, "page": 1}  # what was searched for is sealed, not in clear
    assert read_content(entries[0].blob_id) == {"query": "lease",
                                                "filters": {"matter": world.m1.pk, "direction": "in"}}
    assert json.loads(entries[1].attrs)["results"] == 0
    assert entries[0].subject == "search"


def test_a_refused_query_is_not_ledgered_and_anonymous_people_cannot_search(world: World) -> None:
    from onfile.search import SearchError

    before = Entry.objects.count()
    with pytest.raises(SearchError):
        search(world.fee_earner, "AND OR")
    with pytest.raises(AccessDenied):
        search(AnonymousUser(), "lease")
    assert Entry.objects.count() == before


def test_an_inactive_user_finds_nothing(world: World) -> None:
    world.fee_earner.is_active = False
    assert search(world.fee_earner, "lease").hits == []
