"""``search()``: the one way into the index, for the web UI, the CLI and the API.

It reads the query (query.py), asks the access layer which conversations the person may
see (``onfile.access.visible_conversations_sql`` — never a rule of its own), adds the filters,
lets the database's engine find one page with each hit's details and snippet (engines.py),
and records the search in the ledger (who, what, how many).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from onfile import access
from onfile.accounts.models import User
from onfile.conversations.models import (
    Attachment,
    ClientIdentity,
    Conversation,
    Message,
    MessageRevision,
    Participant,
)
from onfile.search import snippets
from onfile.search.engines import Engine, Found, Plan, Where, engine_for
from onfile.search.query import ParsedQuery, SearchError, parse
from onfile.search.types import ORDERS, SearchFilters, SearchHit, SearchPage

COUNT_LIMIT = 1000  # results are counted up to this many ("1,000+"): counting every hit costs
MAX_PER_PAGE = 100
LISTED_CONVERSATIONS = 2000  # up to this many visible conversations are named in the query, not sub-selected
MAX_OFFSET = 10_000
_TYPE = re.compile(r"^[a-z_]{1,20}$")


def search(user: Any, query: str, filters: SearchFilters | None = None, *, page: int = 1, per_page: int = 25,
           order: str = "newest", count: bool = True) -> SearchPage:
    """One page of the messages ``user`` may see that match ``query`` and ``filters``.

    ``count=False`` skips counting the matches beyond this page when that would take a query
    of its own (the web page shows its results first and asks :func:`count_matches` after):
    ``total`` is then what is known — at least the hits so far — and ``counted`` is False.

    Raises :class:`SearchError` (a message to show the person) for an empty or unusable
    query, a bad filter or page; raises ``access.AccessDenied`` for someone not signed in.
    """
    _signed_in(user)
    _check_paging(page, per_page, order)
    filters, parsed, engine = _begin(user, query, filters)
    plan = _plan(user, filters, parsed, order, page, per_page, engine)
    if plan is not None and count:
        plan.count_limit = COUNT_LIMIT + 1
    found = engine.find(parsed, plan) if plan is not None else Found([], 0)
    has_next = len(found.rows) > per_page
    rows = found.rows[:per_page]
    counted = count or found.total is not None or not has_next
    total, exact = (_total(found, plan, has_next, engine, parsed, len(rows)) if counted
                    else (plan.offset + len(rows) if plan else 0, False))
    earlier = _earlier_texts(engine, parsed, rows) if plan is not None and plan.earlier else {}
    hits = [_hit(row, earlier.get(row[0])) for row in rows]
    access.audit(user, "search", "search", {"query": parsed.text, "filters": filters.as_dict(), "results": total,
                                             "page": page, **({} if counted else {"counted": False})})
    return SearchPage(query=parsed.text, filters=filters, order=order, page=page, per_page=per_page, hits=hits,
                      total=total, total_is_exact=exact, counted=counted, has_next=has_next, engine=engine.name,
                      phone_numbers=parsed.phones)


def count_matches(user: Any, query: str, filters: SearchFilters | None = None) -> tuple[int, bool]:
    """``(total, exact)``: how many messages ``user`` may see match, counted up to COUNT_LIMIT
    (exact False: more than that). A search of its own: checked, narrowed and ledgered the same way."""
    filters, parsed, engine = _begin(user, query, filters)
    plan = _plan(user, filters, parsed, "newest", 1, 1, engine)
    if plan is None:
        total, exact = 0, True
    else:
        n = engine.count(parsed, plan, COUNT_LIMIT + 1)
        total, exact = min(n, COUNT_LIMIT), n <= COUNT_LIMIT
    access.audit(user, "search", "search", {"query": parsed.text, "filters": filters.as_dict(), "results": total,
                                             "count_only": True})
    return total, exact


def _signed_in(user: Any) -> None:
    if not getattr(user, "is_authenticated", False):
        raise access.AccessDenied("sign in to search")


def _begin(user: Any, query: str, filters: SearchFilters | None) -> tuple[SearchFilters, ParsedQuery, Engine]:
    """What every search starts with: someone signed in, the query read, the database's engine."""
    _signed_in(user)
    return filters or SearchFilters(), parse(query, settings.DEFAULT_REGION or None), engine_for(connection)


def _check_paging(page: int, per_page: int, order: str) -> None:
    if order not in ORDERS:
        raise SearchError(f"unknown order {order!r}: use {', '.join(ORDERS)}")
    if not isinstance(page, int) or page < 1:
        raise SearchError("the page must be a whole number from 1")
    if not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
        raise SearchError(f"results per page must be from 1 to {MAX_PER_PAGE}")
    if (page - 1) * per_page > MAX_OFFSET:
        raise SearchError(f"only the first {MAX_OFFSET:,} results can be paged through: narrow the search")


def _total(found: Found, plan: Plan | None, has_next: bool, engine: Any, parsed: ParsedQuery,
           on_page: int) -> tuple[int, bool]:
    if plan is None:
        return 0, True
    if found.total is not None:
        return found.total, found.exact
    if not has_next:  # this page is the last: everything is before or on it
        return plan.offset + on_page, True
    n = found.count if found.count is not None else engine.count(parsed, plan, COUNT_LIMIT + 1)
    if n > COUNT_LIMIT:
        return max(COUNT_LIMIT, plan.offset + on_page), False
    return max(n, plan.offset + on_page), True


# ---- what may be searched ----------------------------------------------------------------------


def _plan(user: Any, filters: SearchFilters, parsed: ParsedQuery, order: str, page: int,
          per_page: int, engine: Engine) -> Plan | None:
    """Conditions on the message row ``m``; None when nothing can match (e.g. no access)."""
    _check_types(filters)
    where = Where()
    visible = access.visible_conversations_sql(user)  # None: every conversation
    narrowed = _narrowed(filters, where)  # the conversations the filters name, if they name a few
    ids: list[int] | None = None
    if visible is not None:
        with connection.cursor() as cursor:
            cursor.execute(f"{visible[0]} LIMIT {LISTED_CONVERSATIONS + 1}", visible[1])
            ids = [row[0] for row in cursor.fetchall()]
        if len(ids) > LISTED_CONVERSATIONS:  # too many to name: the access query becomes a sub-select
            where.add(f"m.conversation_id IN ({visible[0]})", *visible[1])
            ids = None
    if narrowed is not None:
        ids = narrowed if ids is None else sorted(set(ids).intersection(narrowed))
    if ids is not None:
        if not ids:
            return None
        # A few conversations (a fee earner's, a client's) are written out: the planner then knows
        # how many messages they hold and picks its plan by that; behind a sub-select it guesses
        # (PostgreSQL, fee earner "contract" on 1 M messages: 29 → 6 ms; docs/benchmarks.md).
        where.add(f"m.conversation_id IN ({', '.join(str(int(i)) for i in ids)})")
    restricted = bool(where.parts)
    if not access.can_see_originals(user):
        # Deleted by their sender: only compliance roles see the text (and so may find it).
        where.add("NOT m.deleted")
    _staff(where, filters.staff)
    _dates(where, filters.sent_from, filters.sent_to)
    _message_filters(where, filters)
    plan = Plan(where, restricted, order, per_page + 1, (page - 1) * per_page)
    phone_conversations = _phone_conversations(parsed) if parsed.is_phone else []
    if phone_conversations and ids is not None:  # only those the person may see (and the filters name)
        phone_conversations = sorted(set(phone_conversations).intersection(ids))
    if phone_conversations:
        plan.also.append((f"m.conversation_id IN ({_marks(phone_conversations)})", list(phone_conversations)))
    if access.can_see_originals(user):
        # They may read what a message said before it was edited or deleted (REQ-SEC-4), so they
        # find it by that too. One look at the small index of earlier texts when there is none.
        arm = engine.earlier(parsed)
        if arm is not None:
            plan.also.append(arm)
            plan.earlier = True
    return plan


def _narrowed(filters: SearchFilters, where: Where) -> list[int] | None:
    """The conversations of the client, matter and firm number filters; None when there are no such
    filters, or too many conversations to name (then they become a sub-select in ``where``)."""
    named = {name: value for name, value in (("client_id", filters.client), ("matter_id", filters.matter),
                                             ("firm_number_id", filters.firm_number)) if value is not None}
    if not named:
        return None
    conversations = Conversation.objects.filter(**named).order_by().values_list("pk", flat=True)
    ids = list(conversations[:LISTED_CONVERSATIONS + 1])
    if len(ids) <= LISTED_CONVERSATIONS:
        return ids
    sql, params = conversations.query.sql_with_params()
    where.add(f"m.conversation_id IN ({sql})", *params)
    return None


def _check_types(filters: SearchFilters) -> None:
    # The web UI passes what a form gave it: say what is wrong rather than fail in the ORM.
    for name in ("client", "matter", "staff", "firm_number"):
        value = getattr(filters, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise SearchError(f"the {name.replace('_', ' ')} filter must be an id (a whole number), not {value!r}")
    for name in ("sent_from", "sent_to"):
        if getattr(filters, name) is not None and not isinstance(getattr(filters, name), date):
            raise SearchError(f"{name.replace('_', ' ')} must be a date or a date and time")
    if filters.has_attachment is not None and not isinstance(filters.has_attachment, bool):
        raise SearchError("has attachment must be true, false or not given")


def _staff(where: Where, staff: int | None) -> None:
    if staff is None:
        return
    person = User.objects.filter(pk=staff).first()
    if person is None:
        raise SearchError(f"there is no staff member {staff}")
    assigned = Conversation.objects.filter(assignee_id=person.pk).values("pk")
    theirs = Participant.objects.filter(staff_id=person.pk).values("pk")
    a_sql, a_params = assigned.query.sql_with_params()
    t_sql, t_params = theirs.query.sql_with_params()
    # Messages staff sent from onfile carry their ledger actor; imported ones their participant.
    where.add(f"m.conversation_id IN ({a_sql}) OR (m.direction = 'out' AND (m.sender_id IN ({t_sql}) "
              "OR m.sender_name = %s))", *a_params, *t_params, person.actor)


def _moment(value: date | datetime, end: bool) -> datetime:
    if isinstance(value, datetime):
        moment = value if timezone.is_aware(value) else timezone.make_aware(value)
        return moment + timedelta(microseconds=1) if end else moment
    day = value + timedelta(days=1) if end else value
    return timezone.make_aware(datetime.combine(day, time.min))


def _dates(where: Where, start: date | datetime | None, end: date | datetime | None) -> None:
    lower = _moment(start, end=False) if start is not None else None
    upper = _moment(end, end=True) if end is not None else None  # exclusive
    if lower is not None and upper is not None and lower >= upper:
        raise SearchError("the date range is empty: 'from' is after 'to'")
    ops = connection.ops
    if lower is not None:
        where.add("m.sent_at >= %s", ops.adapt_datetimefield_value(lower))
    if upper is not None:
        where.add("m.sent_at < %s", ops.adapt_datetimefield_value(upper))


def _message_filters(where: Where, filters: SearchFilters) -> None:
    if filters.direction is not None:
        if filters.direction not in Message.Direction.values:
            raise SearchError(f"unknown direction {filters.direction!r}: use {', '.join(Message.Direction.values)}")
        where.add("m.direction = %s", filters.direction)
    if filters.type is not None:
        if not _TYPE.match(filters.type):
            raise SearchError(f"unknown message type {filters.type!r} (text, image, document, voice …)")
        where.add("m.type = %s", filters.type)
    if filters.has_attachment is not None:
        exists = f"EXISTS (SELECT 1 FROM {Attachment._meta.db_table} a WHERE a.message_id = m.id)"  # noqa: S608
        where.add(exists if filters.has_attachment else f"NOT {exists}")


def _phone_conversations(parsed: ParsedQuery) -> list[int]:
    """Conversations with the number: the client's, the one we write to, or a participant's."""
    phones = list(parsed.phones)
    if not phones:
        return []
    numbers = phones + [p.lstrip("+") for p in phones]
    # Three indexed lookups united (an OR over them would read every conversation).
    sql = (f"SELECT id FROM {Conversation._meta.db_table} WHERE client_id IN (SELECT client_id FROM "  # noqa: S608
           f"{ClientIdentity._meta.db_table} WHERE kind = %s AND value IN ({_marks(phones)})) "
           f"UNION SELECT id FROM {Conversation._meta.db_table} WHERE recipient IN ({_marks(numbers)}) "
           f"UNION SELECT conversation_id FROM {Participant._meta.db_table} WHERE phone IN ({_marks(numbers)})")
    with connection.cursor() as cursor:
        cursor.execute(sql, [ClientIdentity.Kind.PHONE.value, *phones, *numbers, *numbers])
        return sorted(row[0] for row in cursor.fetchall())


def _marks(values: list[Any]) -> str:
    return ", ".join(["%s"] * len(values))


# ---- the hits ------------------------------------------------------------------------------------


def _earlier_texts(engine: Engine, parsed: ParsedQuery, rows: list[tuple[Any, ...]]) -> dict[int, tuple[str, Any]]:
    """For hits whose text as it is now does not match: the newest earlier text that does (its
    snippet, and when it was replaced), by message id."""
    unmatched = [row[0] for row in rows if row[-1] is None]
    if not unmatched:
        return {}
    with connection.cursor() as cursor:  # plain SQL: the ORM's query cost more than its answer
        cursor.execute(f"SELECT id, message_id, body, at FROM {MessageRevision._meta.db_table} "  # noqa: S608
                       f"WHERE message_id IN ({_marks(unmatched)}) ORDER BY at DESC, id DESC", unmatched)
        revisions = cursor.fetchall()
    marked = engine.mark(parsed, [(pk, body) for pk, _, body, _ in revisions])
    out: dict[int, tuple[str, Any]] = {}
    for pk, message_id, _, at in revisions:
        if pk in marked and message_id not in out:
            out[message_id] = (marked[pk], at)
    return out


def _hit(row: tuple[Any, ...], earlier: tuple[str, Any] | None = None) -> SearchHit:
    (message_id, conversation_id, sent_at, direction, type_, body, sender_name, sender_phone, title, client_id,
     client_name, matter_id, reference, has_attachment, marked) = row
    if earlier is not None:
        marked, replaced_at = earlier
    html, text = snippets.render(marked or snippets.plain(body))
    return SearchHit(
        message_id=message_id, conversation_id=conversation_id, conversation_title=title, client_id=client_id,
        client_name=client_name or "", matter_id=matter_id, matter_reference=reference or "",
        sent_at=_aware(sent_at), direction=direction, type=type_, sender=sender_name or sender_phone,
        has_attachment=bool(has_attachment), snippet_html=html, snippet_text=text,
        earlier_text_replaced_at=_aware(replaced_at) if earlier is not None else None)


def _aware(value: datetime | str) -> datetime:
    # The engines read rows with plain SQL: SQLite gives the stored UTC time without its zone.
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"not a time: {value!r}")
        value = parsed
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value
