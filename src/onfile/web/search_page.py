"""The search page: the search facade (onfile.search) with its filters, one page at a time."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET

from onfile import access
from onfile.accounts.models import User
from onfile.conversations.models import FirmNumber, Message
from onfile.search.facade import count_matches, search
from onfile.search.query import SearchError
from onfile.search.types import ORDERS, SearchFilters


def _int(q: QueryDict, name: str) -> int | None:
    value = q.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise SearchError(f"{name} must be a number")
    return int(value)


def _date(q: QueryDict, name: str) -> date | None:
    value = q.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SearchError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def filters_from(q: QueryDict) -> SearchFilters:
    attachment = q.get("has_attachment", "")
    return SearchFilters(
        client=_int(q, "client"), matter=_int(q, "matter"), staff=_int(q, "staff"),
        firm_number=_int(q, "firm_number"), sent_from=_date(q, "from"), sent_to=_date(q, "to"),
        direction=q.get("direction") or None, type=q.get("type") or None,
        has_attachment=True if attachment == "yes" else False if attachment == "no" else None)


@login_required
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    q = request.GET
    query = q.get("q", "").strip()
    context: dict[str, Any] = {
        "q": query, "args": q, "orders": ORDERS, "directions": Message.Direction.choices,
        "clients": access.visible_clients(request.user).filter(merged_into__isnull=True).order_by("name")[:500],
        "matters": access.visible_matters(request.user).order_by("reference")[:500],
        "staff": User.objects.filter(is_active=True).order_by("name", "email"),
        "numbers": FirmNumber.objects.order_by("display_name", "number")}
    if query:
        try:
            page = int(q.get("page", "1") or 1)
            # The results first; the number of matches is asked for by the page itself (search_count),
            # so a search that has to count many matches does not hold the results back.
            context["result"] = search(request.user, query, filters_from(q), page=page,
                                       order=q.get("order") or "newest", count=False)
        except (SearchError, ValueError) as exc:
            context["error"] = str(exc)
    return render(request, "web/search.html", context, status=400 if "error" in context else 200)


@login_required
@require_GET
def search_count(request: HttpRequest) -> HttpResponse:
    """How many messages match (up to 1,000): fetched by the search page after its results."""
    q = request.GET
    query = q.get("q", "").strip()
    try:
        total, exact = count_matches(request.user, query, filters_from(q))
    except (SearchError, ValueError) as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    return render(request, "web/search_count.html", {"total": total, "exact": exact})
