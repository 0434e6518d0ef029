"""A phone number finds its conversations whichever way it is written."""

from __future__ import annotations

from typing import Any

import pytest
from tests.search.conftest import World

from onfile.conversations.actions import do_set_wall
from onfile.search import search

pytestmark = pytest.mark.django_db

ALICE = ["+44 7700 900123", "07700900123", "447700900123", "(0)7700-900 123", "+44 (0)7700 900123",
         "0044 7700 900123", "07700 900 123"]


def hits(user: Any, query: str) -> list[Any]:
    return search(user, query, per_page=100).hits


def test_the_clients_number_finds_their_conversation_in_any_spelling(world: World) -> None:
    for spelling in ALICE:
        found = hits(world.compliance, spelling)
        assert {h.conversation_id for h in found} == {world.lease.pk}, spelling
        assert len(found) == 10  # every message of the conversation, deleted one included for compliance
        assert search(world.compliance, spelling).phone_numbers == ("+447700900123",)


def test_a_participants_number_finds_the_group_chat(world: World) -> None:
    assert {h.conversation_id for h in hits(world.compliance, "+447700900456")} == {world.group.pk}
    assert {h.conversation_id for h in hits(world.compliance, "07700 900 456")} == {world.group.pk}


def test_a_number_written_in_a_message_is_found_in_other_spellings(world: World) -> None:
    for spelling in ("07700 900999", "+44 7700 900999", "447700900999", "07700900999"):
        [hit] = hits(world.compliance, spelling)
        assert hit.snippet_text.startswith("Could you call me back on")


def test_an_unknown_number_finds_nothing(world: World) -> None:
    page = search(world.compliance, "+44 7700 900000")
    assert page.hits == [] and page.total == 0 and page.phone_numbers == ("+447700900000",)


def test_walls_and_roles_apply_to_phone_searches(world: World) -> None:
    assert len(hits(world.fee_earner, "07700 900123")) == 9  # not the message its sender deleted
    assert hits(world.outsider, "07700 900123") == []
    do_set_wall(world.m1, "except", [world.fee_earner.pk], actor="test")
    assert hits(world.fee_earner, "07700 900123") == []
    assert hits(world.fee_earner, "07700 900999") == []
    assert len(hits(world.compliance, "07700 900123")) == 10


def test_a_phone_search_pages_through_the_number_and_the_text_alike(world: World) -> None:
    # The conversation of the number and the messages that spell it out are two parts of one
    # result (PostgreSQL asks for them apart and unites them): pages must follow each other.
    for user in (world.compliance, world.fee_earner):
        everything = [h.message_id for h in hits(user, "07700 900123")]
        paged = [h.message_id for page in range(1, 5) for h in search(user, "07700 900123", page=page,
                                                                        per_page=3).hits]
        assert paged == everything and len(set(everything)) == len(everything)
        assert search(user, "07700 900123", per_page=3).total == len(everything)
