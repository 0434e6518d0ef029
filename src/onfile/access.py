"""The one access layer (ARCHITECTURE invariant 6).

Every read of client content — web pages, search, downloads, exports, the API and the CLI —
asks this module which conversations a person may see, and every change asks whether the
person may change things at all. Nothing else decides. Keep it that way: a second, private
copy of these rules somewhere in a view is how an ethical wall leaks.

The rules:

- **compliance** and **auditor** see every conversation, walled or not (they supervise the
  walls; every read they make is ledgered). The auditor changes nothing (REQ-SEC-11).
- **admin** sees every conversation that no wall keeps from them.
- **supervisor** sees their own, those assigned to members of their team and those on their
  team's firm numbers.
- **fee earner** sees those assigned to them, those on a firm number that is theirs
  (coexistence), those of matters they are responsible for, and the unassigned ones on their
  team's firm numbers (the team inbox).
- An **ethical wall** on a matter then removes its conversations: ``only`` — from everyone not
  listed; ``except`` — from everyone listed. Walls bind admins, supervisors and fee earners.
- **Clients** are firm-wide, except a client of a matter walled against the person.

What is not visible is reported as *not found* (404), never *forbidden*: a walled person
must not learn that the matter exists.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from onfile.accounts.models import Role, User
from onfile.conversations.models import Client, Conversation, FirmNumber, Matter, Message
from onfile.ledger.actions import commit_sealed, do_record_access, seal_content
from onfile.projection import EntryView, project

SEE_THROUGH_WALLS = frozenset({Role.COMPLIANCE, Role.AUDITOR})
SEE_ORIGINALS = frozenset({Role.COMPLIANCE, Role.AUDITOR, Role.ADMIN})


class AccessDenied(PermissionDenied):
    """The person may not do this (a 403 on the web, an error on the CLI)."""


def _active(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def walled_matters(user: User) -> QuerySet[Matter]:
    """Matters whose wall keeps ``user`` out."""
    if user.role in SEE_THROUGH_WALLS:
        return Matter.objects.none()
    member = Matter.wall_members.through.objects.filter(user_id=user.pk).values("matter_id")
    # wall_mode is indexed (matter_walled): walled matters are found without reading every matter.
    return Matter.objects.filter(
        Q(wall_mode="only") & ~Q(pk__in=member) | Q(wall_mode="except") & Q(pk__in=member))


def visible_conversations(user: Any) -> QuerySet[Conversation]:
    """The conversations ``user`` may read; an empty set for anyone inactive or anonymous."""
    qs = Conversation.objects.all()
    if not _active(user):
        return qs.none()
    if user.role in SEE_THROUGH_WALLS:
        return qs
    ids = _visible_ids(user)
    return qs.none() if ids is None else qs.filter(pk__in=ids)


def _visible_ids(user: User) -> QuerySet[Any] | None:
    """The ids of the conversations ``user`` may read, as a query (a role below compliance); None
    when the role sees nothing."""
    grants = _grants(user)
    if grants is None:
        return None
    walled = walled_matters(user).values("pk")
    if not grants:
        return Conversation.objects.exclude(matter__in=walled).values("pk")
    # Each grant is one indexed lookup, walls taken off each, and they are united — rather than
    # one OR over joined tables, which the database can only answer by reading every
    # conversation (PostgreSQL, a fee earner among 3,000 conversations: 4.5 → 0.5 ms to run).
    first, *rest = (g.exclude(matter__in=walled).values("pk") for g in grants)
    return first.union(*rest) if rest else first


def _grants(user: User) -> list[QuerySet[Conversation]] | None:
    """What the role grants before walls, as sets of conversations: [] = all, None = nothing."""
    mine = Conversation.objects.filter
    team = user.team_id
    if user.role == Role.SUPERVISOR:
        grants = [mine(assignee=user)]
        if team:
            grants += [mine(assignee__in=User.objects.filter(team_id=team).values("pk")),
                       mine(firm_number__in=FirmNumber.objects.filter(team_id=team).values("pk"))]
        return grants
    if user.role == Role.FEE_EARNER:
        grants = [mine(assignee=user), mine(firm_number__in=FirmNumber.objects.filter(staff=user).values("pk")),
                  mine(matter__in=Matter.objects.filter(responsible=user).values("pk"))]
        if team:  # the team inbox: unassigned conversations on the team's numbers
            grants.append(mine(assignee__isnull=True,
                               firm_number__in=FirmNumber.objects.filter(team_id=team).values("pk")))
        return grants
    return [] if user.role == Role.ADMIN else None


def visible_conversations_sql(user: Any) -> tuple[str, tuple[Any, ...]] | None:
    """``visible_conversations(user)`` as SQL selecting their ids; None when ``user`` sees every
    conversation (compliance, auditor).

    For the search, which names them in its own statement. The statement is compiled once per
    person, role and team (building it through the ORM costs more than running it); the rules
    are still evaluated when it runs, so a wall set a moment ago counts.
    """
    if not _active(user):
        return _NOTHING, ()
    if user.role in SEE_THROUGH_WALLS:
        return None
    return _compiled_visible(connection.alias, user.pk, user.role, user.team_id)


_NOTHING = f"SELECT id FROM {Conversation._meta.db_table} WHERE 1 = 0"  # noqa: S608 (constant)


@lru_cache(maxsize=4096)
def _compiled_visible(alias: str, user_id: int, role: str, team_id: int | None) -> tuple[str, tuple[Any, ...]]:
    ids = _visible_ids(User(pk=user_id, role=role, team_id=team_id, is_active=True))  # all the rules read of a user
    try:
        if ids is None:
            raise EmptyResultSet
        sql, params = ids.query.get_compiler(alias).as_sql()
    except EmptyResultSet:
        return _NOTHING, ()
    return sql, tuple(params)


def visible_matters(user: Any) -> QuerySet[Matter]:
    if not _active(user):
        return Matter.objects.none()
    if user.role in SEE_THROUGH_WALLS or user.role == Role.ADMIN:
        return Matter.objects.exclude(pk__in=walled_matters(user).values("pk"))
    mine = Q(responsible=user) | Q(pk__in=visible_conversations(user).values("matter_id"))
    return Matter.objects.filter(mine).exclude(pk__in=walled_matters(user).values("pk"))


def visible_clients(user: Any) -> QuerySet[Client]:
    """Clients are firm-wide (anyone may need to find one before a matter exists), except a
    client of a matter walled against the person: a wall hides whom the firm acts for."""
    if not _active(user):
        return Client.objects.none()
    walled = walled_matters(user).exclude(client__isnull=True).values("client_id")
    return Client.objects.exclude(pk__in=walled)


def visible_messages(user: Any) -> QuerySet[Message]:
    return Message.objects.filter(conversation__in=visible_conversations(user).values("pk"))


def get_conversation(user: Any, pk: Any) -> Conversation:
    """The conversation if ``user`` may read it, else 404 (never 403: walls hide existence)."""
    try:
        return visible_conversations(user).get(pk=int(pk))
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise Http404("no such conversation") from None


def get_matter(user: Any, pk: Any) -> Matter:
    try:
        return visible_matters(user).get(pk=int(pk))
    except (Matter.DoesNotExist, ValueError, TypeError):
        raise Http404("no such matter") from None


def get_client(user: Any, pk: Any) -> Client:
    try:
        return visible_clients(user).get(pk=int(pk))
    except (Client.DoesNotExist, ValueError, TypeError):
        raise Http404("no such client") from None


def can_change(user: Any) -> bool:
    """May ``user`` change anything (reply, assign, link, note, edit)? The auditor never may."""
    return _active(user) and user.role != Role.AUDITOR


def require_change(user: Any) -> None:
    if not can_change(user):
        raise AccessDenied("your role is read-only")


def can_see_originals(user: Any) -> bool:
    """The original text of edited and deleted messages is shown to compliance roles."""
    return _active(user) and user.role in SEE_ORIGINALS


def can_administer(user: Any) -> bool:
    return _active(user) and user.role == Role.ADMIN


def can_manage_walls(user: Any) -> bool:
    return _active(user) and user.role in (Role.ADMIN, Role.COMPLIANCE)


def require(allowed: bool, why: str) -> None:
    if not allowed:
        raise AccessDenied(why)


# Detail that can name a person (what was searched for, a file's name) is sealed, never put in
# the entry's plain attributes: the ledger is append-only, so plain personal data could never be
# erased (ARCHITECTURE 4; REQ-GDPR-6 asks for the record of access, not for the text in clear).
SEALED_DETAIL = frozenset({"query", "filters", "filename"})


def audit(user: Any, subject: str, action: str = "view", detail: dict[str, Any] | None = None) -> int:
    """Record a read of client content in the ledger (who, what, when; REQ-GDPR-6).

    A view of a conversation with ``upto`` (the last position shown) also moves the reader's
    read marker, through the projector of ``access.view``.
    """
    detail = dict(detail or {})
    sealed = {k: detail.pop(k) for k in sorted(SEALED_DETAIL & detail.keys())}
    with transaction.atomic():
        if "upto" in detail:
            detail["at"] = timezone.now().isoformat()
        if sealed:
            appended, blob_id = commit_sealed(seal_content(sealed), kind=f"access.{action}", actor=user.actor,
                                              subject=subject, attrs=detail)
            seq = appended.seq
        else:
            seq = do_record_access(user.actor, subject, action, detail)
            blob_id = None
        project(EntryView(seq, f"access.{action}", user.actor, subject, detail, blob_id, sealed or None))
    return seq


def me(request: HttpRequest) -> User:
    """The signed-in staff member of a view behind ``login_required``."""
    user = request.user
    if not isinstance(user, User) or not user.is_active:
        raise AccessDenied("sign in first")
    return user


def cli_user(email: str) -> User:
    """The staff member whose access a CLI read runs under (``--as EMAIL``)."""
    user = User.objects.filter(email=email.strip().lower(), is_active=True).first()
    if user is None:
        raise AccessDenied(f"no active user {email!r}: give --as with a staff member's email")
    return user
