"""Administering staff accounts: role, team, deactivation — each change ledgered."""

from __future__ import annotations

from django.db import transaction

from onfile.accounts.models import Role, Team, User
from onfile.ledger.log import NewEntry, append


class StaffError(ValueError):
    pass


def do_update_staff(user: User, actor: str, *, role: str, team_id: int | None, active: bool) -> User:
    if role not in Role.values:
        raise StaffError(f"unknown role {role!r}")
    if team_id is not None and not Team.objects.filter(pk=team_id).exists():
        raise StaffError("no such team")
    if actor == user.actor and (role != Role.ADMIN or not active):
        raise StaffError("you cannot remove your own administrator rights; ask another administrator")
    demoted = user.role == Role.ADMIN and (role != Role.ADMIN or not active)
    if demoted and not User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk).exists():
        raise StaffError("this is the last active administrator")
    changes = {k: v for k, v in {"role": role, "team": team_id, "active": active}.items()
               if v != {"role": user.role, "team": user.team_id, "active": user.is_active}[k]}
    if not changes:
        return user
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(role=role, team_id=team_id, is_active=active)
        append(NewEntry("user.updated", actor, user.actor, {"user": user.pk, **changes}))
    user.refresh_from_db()
    return user


def do_create_team(name: str, actor: str, mailbox: str = "") -> Team:
    name = name.strip()
    if not name:
        raise StaffError("a team needs a name")
    if Team.objects.filter(name=name).exists():
        raise StaffError(f"a team called {name} exists")
    with transaction.atomic():
        team = Team.objects.create(name=name, mailbox=mailbox.strip())
        append(NewEntry("team.created", actor, f"team:{team.pk}", {"team": team.pk, "name": name}))
    return team
