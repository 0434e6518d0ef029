"""The staff inbox: what is waiting, for whom, and for how long.

One query over the conversations the access layer lets the person see, annotated with
what the inbox needs (the newest message's direction, the newest inbound position, the
person's read marker) by correlated subqueries that each walk the (conversation, position)
index backwards — no aggregation over all messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from onfile import access, clock
from onfile.accounts.models import Role
from onfile.conversations.models import Message, ReadMarker

WINDOW = timedelta(hours=24)
CLOSING_SOON = timedelta(hours=4)


@dataclass(frozen=True)
class Filter:
    key: str
    label: str


FILTERS = [Filter("", "Everything"), Filter("unread", "Unread"), Filter("waiting", "Waiting for our reply"),
           Filter("closing", "Window closing soon"), Filter("unassigned", "Unassigned"),
           Filter("unlinked", "Not linked to a matter")]


def scopes(user: Any) -> list[tuple[str, str]]:
    out = [("mine", "Mine")]
    if user.role == Role.SUPERVISOR:
        out.append(("team", "My team's"))
    elif user.role == Role.FEE_EARNER:
        out.append(("team", "Team inbox"))
    else:
        out.append(("all", "All"))
    return out


def annotated(user: Any) -> QuerySet[Any]:
    newest = Message.objects.filter(conversation=OuterRef("pk")).order_by("-position")
    newest_in = newest.filter(direction=Message.Direction.IN)
    marker = ReadMarker.objects.filter(conversation=OuterRef("pk"), user=user).values("position")[:1]
    return (access.visible_conversations(user)
            .select_related("client", "matter", "assignee", "firm_number")
            .annotate(last_direction=Subquery(newest.values("direction")[:1]),
                      last_in_position=Coalesce(Subquery(newest_in.values("position")[:1]), Value(-1)),
                      read_position=Coalesce(Subquery(marker), Value(-1))))


def apply(qs: QuerySet[Any], user: Any, scope: str, key: str) -> QuerySet[Any]:
    if scope == "mine":
        qs = qs.filter(assignee=user)
    now = clock.now()
    if key == "unread":
        qs = qs.filter(last_in_position__gt=F("read_position"))
    elif key == "waiting":
        qs = qs.filter(last_direction=Message.Direction.IN)
    elif key == "closing":
        qs = qs.filter(last_direction=Message.Direction.IN, last_inbound_at__gt=now - WINDOW,
                       last_inbound_at__lte=now - WINDOW + CLOSING_SOON)
    elif key == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    elif key == "unlinked":
        qs = qs.filter(matter__isnull=True)
    return qs.order_by(F("last_message_at").desc(nulls_last=True), "-pk")


def row(c: Any) -> dict[str, Any]:
    now = clock.now()
    waiting = c.last_direction == Message.Direction.IN
    closes = c.last_inbound_at + WINDOW if c.last_inbound_at else None
    return {"c": c, "unread": c.last_in_position > c.read_position, "waiting": waiting,
            "waiting_for": (now - c.last_inbound_at) if waiting and c.last_inbound_at else None,
            "window_open": bool(closes and closes > now), "closes_in": (closes - now) if closes and closes > now
            else None, "closing_soon": bool(waiting and closes and now < closes <= now + CLOSING_SOON)}


def counts(user: Any, scope: str) -> dict[str, int]:
    base = annotated(user)
    return {f.key: apply(base, user, scope, f.key).count() for f in FILTERS if f.key}


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    user = request.user
    allowed = dict(scopes(user))
    scope = request.GET.get("scope", "")
    if scope not in allowed:
        scope = list(allowed)[-1]  # the widest view this person has
    key = request.GET.get("filter", "")
    if key not in {f.key for f in FILTERS}:
        key = ""
    qs = apply(annotated(user), user, scope, key)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "web/inbox.html", {
        "rows": [row(c) for c in page.object_list], "page": page, "scope": scope, "scopes": scopes(user),
        "filter": key, "filters": FILTERS, "counts": counts(user, scope)})
