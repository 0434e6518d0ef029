"""The one access layer (ARCHITECTURE 6): who sees which conversation, and walls.

Personas: admin, compliance, auditor, a supervisor of team A, fee earners in teams A and B,
and an outsider (deactivated). Conversations are plain projection rows here: the rules are
about rows, not about how they were captured.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.http import Http404

from onfile import access
from onfile.accounts.actions import do_create_user
from onfile.accounts.models import Team, User
from onfile.conversations.actions import ActionError, do_create_matter, do_link_matter, do_set_wall
from onfile.conversations.models import Conversation, FirmNumber
from onfile.ledger.models import Entry
from onfile.projection import rebuild

PW = "correct horse battery staple 42"


@pytest.fixture
def world(archive: None) -> dict[str, Any]:
    team_a, team_b = Team.objects.create(name="A"), Team.objects.create(name="B")
    users = {
        "admin": do_create_user("admin@f.example", PW, "admin", "test"),
        "compliance": do_create_user("colp@f.example", PW, "compliance", "test"),
        "auditor": do_create_user("auditor@f.example", PW, "auditor", "test"),
        "supervisor": do_create_user("sup@f.example", PW, "supervisor", "test"),
        "alice": do_create_user("alice@f.example", PW, "fee_earner", "test"),
        "bob": do_create_user("bob@f.example", PW, "fee_earner", "test"),
        "outsider": do_create_user("gone@f.example", PW, "fee_earner", "test"),
    }
    User.objects.filter(pk__in=[users["supervisor"].pk, users["alice"].pk]).update(team=team_a)
    User.objects.filter(pk=users["bob"].pk).update(team=team_b)
    User.objects.filter(pk=users["outsider"].pk).update(team=team_a, is_active=False)
    for u in users.values():
        u.refresh_from_db()
    number_a = FirmNumber.objects.create(id=900, phone_number_id="1", number="+441", team=team_a)
    number_b = FirmNumber.objects.create(id=901, phone_number_id="2", number="+442", team=team_b)

    def conv(key: str, number: FirmNumber, assignee: User | None) -> Conversation:
        return Conversation.objects.create(key=key, source="live", firm_number=number, assignee=assignee,
                                           created_seq=0)

    convs = {"alice": conv("c-alice", number_a, users["alice"]), "bob": conv("c-bob", number_b, users["bob"]),
             "team_a_unassigned": conv("c-a", number_a, None), "team_b_unassigned": conv("c-b", number_b, None)}
    return {"users": users, "convs": convs}


def seen(world: dict[str, Any], who: str) -> set[str]:
    names = {c.pk: name for name, c in world["convs"].items()}
    return {names[pk] for pk in access.visible_conversations(world["users"][who]).values_list("pk", flat=True)}


def test_each_role_sees_what_the_rules_say(world: dict[str, Any]) -> None:
    everything = {"alice", "bob", "team_a_unassigned", "team_b_unassigned"}
    assert seen(world, "admin") == everything
    assert seen(world, "compliance") == everything
    assert seen(world, "auditor") == everything
    assert seen(world, "supervisor") == {"alice", "team_a_unassigned"}
    assert seen(world, "alice") == {"alice", "team_a_unassigned"}
    assert seen(world, "bob") == {"bob", "team_b_unassigned"}
    assert seen(world, "outsider") == set()
    assert access.visible_conversations(None).count() == 0


def test_an_invisible_conversation_is_not_found_not_forbidden(world: dict[str, Any]) -> None:
    with pytest.raises(Http404):
        access.get_conversation(world["users"]["bob"], world["convs"]["alice"].pk)
    with pytest.raises(Http404):
        access.get_conversation(world["users"]["bob"], "not-a-number")
    assert access.get_conversation(world["users"]["alice"], world["convs"]["alice"].pk).key == "c-alice"


def test_an_except_wall_hides_a_matter_from_the_listed_people_only(world: dict[str, Any]) -> None:
    users = world["users"]
    matter = do_create_matter("M-1", "test")
    do_link_matter(world["convs"]["alice"], matter, "test")
    do_set_wall(matter, "except", [users["supervisor"].pk, users["admin"].pk], "test")
    assert "alice" not in seen(world, "supervisor")
    assert "alice" not in seen(world, "admin")
    assert "alice" in seen(world, "alice")
    assert "alice" in seen(world, "compliance") and "alice" in seen(world, "auditor")  # they supervise walls
    with pytest.raises(Http404):
        access.get_matter(users["admin"], matter.pk)
    assert access.get_matter(users["alice"], matter.pk) == matter


def test_an_only_wall_lets_in_the_listed_people_alone(world: dict[str, Any]) -> None:
    users = world["users"]
    matter = do_create_matter("M-2", "test")
    do_link_matter(world["convs"]["team_a_unassigned"], matter, "test")
    do_set_wall(matter, "only", [users["supervisor"].pk], "test")
    assert "team_a_unassigned" in seen(world, "supervisor")
    assert "team_a_unassigned" not in seen(world, "alice")
    assert "team_a_unassigned" not in seen(world, "admin")
    do_set_wall(matter, "", [], "test")  # taken down
    assert "team_a_unassigned" in seen(world, "alice")


def test_walls_are_ledgered_and_rebuilt(world: dict[str, Any]) -> None:
    users = world["users"]
    matter = do_create_matter("M-3", "test")
    do_set_wall(matter, "except", [users["bob"].pk], "user:1")
    entry = Entry.objects.get(kind="matter.wall_set")
    assert entry.actor == "user:1"
    # Rebuild replays the ledger: the wall comes back (the plain rows of this test do not).
    Conversation.objects.all().delete()
    rebuild()
    matter.refresh_from_db()
    assert matter.wall_mode == "except"
    assert list(matter.wall_members.values_list("pk", flat=True)) == [users["bob"].pk]


def test_bad_walls_are_refused_and_change_nothing(world: dict[str, Any]) -> None:
    matter = do_create_matter("M-4", "test")
    for mode, members, why in [("sideways", [1], "unknown wall mode"), ("only", [], "at least one"),
                               ("except", [987654], "unknown users")]:
        with pytest.raises(ActionError, match=why):
            do_set_wall(matter, mode, members, "test")
    assert not Entry.objects.filter(kind="matter.wall_set").exists()


def test_the_auditor_reads_but_changes_nothing(world: dict[str, Any]) -> None:
    users = world["users"]
    assert not access.can_change(users["auditor"])
    assert access.can_change(users["alice"])
    assert not access.can_change(users["outsider"])
    with pytest.raises(access.AccessDenied):
        access.require_change(users["auditor"])
    assert access.can_see_originals(users["auditor"]) and not access.can_see_originals(users["alice"])


def test_reads_are_audited(world: dict[str, Any]) -> None:
    user = world["users"]["compliance"]
    access.audit(user, f"conversation:{world['convs']['bob'].pk}", "view")
    entry = Entry.objects.get(kind="access.view")
    assert (entry.actor, entry.subject) == (user.actor, f"conversation:{world['convs']['bob'].pk}")


def test_cli_reads_run_as_a_named_active_user(world: dict[str, Any]) -> None:
    assert access.cli_user("ALICE@f.example") == world["users"]["alice"]
    with pytest.raises(access.AccessDenied, match="no active user"):
        access.cli_user("gone@f.example")
