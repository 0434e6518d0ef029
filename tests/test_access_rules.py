"""The access layer's queries against the rules written out plainly (ARCHITECTURE 6, REQ-SEC-11).

``access.visible_conversations`` is written for speed (each grant an indexed lookup, walls taken
off each, united), and ``access.visible_conversations_sql`` is that query compiled once per person.
Here both are checked against the rules of access.py's docstring, evaluated in Python row by
row, on random firms: teams, firm numbers (a team's, a person's), matters (responsible people,
"only" and "except" walls with members), conversations (assigned or not, on a number or not, on a
matter or not) and every role, active or not. A difference is a wall that leaks or a person who
loses their clients.
"""

from __future__ import annotations

import random
from typing import Any

from django.db import connection, transaction

from onfile import access
from onfile.accounts.models import Role, Team, User
from onfile.conversations.models import Conversation, FirmNumber, Matter

ROLES = [Role.ADMIN, Role.COMPLIANCE, Role.AUDITOR, Role.SUPERVISOR, Role.FEE_EARNER, Role.FEE_EARNER,
         Role.FEE_EARNER]


def _firm(rng: random.Random, n: int) -> list[User]:
    teams = [Team.objects.create(name=f"T{n}-{i}") for i in range(rng.randint(1, 3))]
    users = [User.objects.create(email=f"u{n}-{i}@f.example", role=rng.choice(ROLES),
                                 team=rng.choice([*teams, None]), is_active=rng.random() > 0.1)
             for i in range(rng.randint(3, 9))]
    numbers = [FirmNumber.objects.create(phone_number_id=f"{n}-{i}", number=f"+44{n:03}{i:04}",
                                         team=rng.choice([*teams, None]), staff=rng.choice([*users, None, None]))
               for i in range(rng.randint(1, 4))]
    matters = []
    for i in range(rng.randint(1, 6)):
        matter = Matter.objects.create(reference=f"M{n}-{i}", opened_at="2026-01-01T00:00:00Z",
                                       responsible=rng.choice([*users, None]),
                                       wall_mode=rng.choice(["", "", "only", "except"]))
        if matter.wall_mode:
            matter.wall_members.set(rng.sample(users, rng.randint(1, min(3, len(users)))))
        matters.append(matter)
    for i in range(rng.randint(5, 25)):
        Conversation.objects.create(key=f"c{n}-{i}", source="live", created_seq=0,
                                    firm_number=rng.choice([*numbers, None]), assignee=rng.choice([*users, None]),
                                    matter=rng.choice([*matters, None, None]))
    return users


def _rules(user: User) -> set[int]:
    """access.py's docstring, row by row."""
    seen = set()
    for c in Conversation.objects.select_related("firm_number", "matter", "assignee"):
        if not user.is_active:
            continue
        number, matter, team = c.firm_number, c.matter, user.team_id
        if user.role in (Role.COMPLIANCE, Role.AUDITOR):
            seen.add(c.pk)
            continue
        if user.role == Role.ADMIN:
            granted = True
        elif user.role == Role.SUPERVISOR:
            granted = (c.assignee_id == user.pk
                       or (bool(team) and c.assignee is not None and c.assignee.team_id == team)
                       or (bool(team) and number is not None and number.team_id == team))
        elif user.role == Role.FEE_EARNER:
            granted = (c.assignee_id == user.pk
                       or (number is not None and number.staff_id == user.pk)
                       or (matter is not None and matter.responsible_id == user.pk)
                       or (bool(team) and c.assignee_id is None and number is not None and number.team_id == team))
        else:
            granted = False
        if granted and matter is not None and matter.wall_mode:
            member = matter.wall_members.filter(pk=user.pk).exists()
            granted = member if matter.wall_mode == "only" else not member
        if granted:
            seen.add(c.pk)
    return seen


def _ids_by_sql(user: Any) -> set[int]:
    compiled = access.visible_conversations_sql(user)
    if compiled is None:
        return set(Conversation.objects.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(*compiled)
        return {row[0] for row in cursor.fetchall()}


def test_the_access_queries_agree_with_the_rules_on_random_firms(archive: None) -> None:
    checked = 0
    for n in range(40):
        rng = random.Random(n)
        with transaction.atomic():
            users = _firm(rng, n)
            for user in users:
                expected = _rules(user)
                assert set(access.visible_conversations(user).values_list("pk", flat=True)) == expected, (n, user.role)
                assert _ids_by_sql(user) == expected, (n, user.role)
                checked += 1
            transaction.set_rollback(True)
    assert checked > 150


def test_the_compiled_query_sees_a_wall_set_after_it_was_compiled(archive: None) -> None:
    alice = User.objects.create(email="alice@f.example", role=Role.FEE_EARNER)
    matter = Matter.objects.create(reference="M-1", opened_at="2026-01-01T00:00:00Z")
    conversation = Conversation.objects.create(key="c", source="live", created_seq=0, assignee=alice, matter=matter)
    assert _ids_by_sql(alice) == {conversation.pk}
    Matter.objects.filter(pk=matter.pk).update(wall_mode="except")
    matter.wall_members.set([alice])
    assert _ids_by_sql(alice) == set()
    # A role change is a different query, not a stale one.
    User.objects.filter(pk=alice.pk).update(role=Role.COMPLIANCE)
    alice.refresh_from_db()
    assert _ids_by_sql(alice) == {conversation.pk}
    User.objects.filter(pk=alice.pk).update(is_active=False)
    alice.refresh_from_db()
    assert _ids_by_sql(alice) == set()
