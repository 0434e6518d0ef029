# ruff: noqa: S608  (SQL is built from constant table and column names; values are bound parameters)
"""The two engines behind the facade: SQLite FTS5 and PostgreSQL full-text search.

Both get the same :class:`Plan` — conditions on the message row (alias ``m``) that the
facade built from the access layer and the filters — and answer two questions: which
messages are on this page (with what a hit shows: the DETAILS columns and the snippet), and
how many match (counted up to a limit). Everything the person typed reaches SQL as a bound
parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

from onfile.conversations.models import Attachment, Client, Conversation, Matter
from onfile.search import snippets
from onfile.search.query import ParsedQuery, Term
from onfile.search.schema import (
    FTS_TABLE,
    MESSAGE_TABLE,
    ORDER_INDEX,
    ORDER_INDEX_COLUMNS,
    PG_COLUMN,
    PG_CONFIG,
    REVISION_FTS_TABLE,
    REVISION_TABLE,
    SQLITE_TOKENIZE,
    pg_document,
    sqlite_order_index_exists,
)

T = TypeVar("T")
_COLUMN = re.compile(r"\bm\.(\w+)")  # a column of the message row in a plan's conditions
ORDER_SQL = {"newest": "m.sent_at DESC, m.id DESC", "oldest": "m.sent_at ASC, m.id ASC"}

# What a hit shows: the message's own columns, read with the page (PostgreSQL: in the page's
# statement, the snippet too; SQLite: right after it), then its conversation's, for the few
# conversations on the page (a join in the page's statement cost more to plan than it saved).
DETAILS = ("id", "conversation_id", "sent_at", "direction", "type", "body", "sender_name", "sender_phone",
           "conversation_title", "client_id", "client_name", "matter_id", "matter_reference", "has_attachment")
_MESSAGE_COLUMNS = ("id", "conversation_id", "sent_at", "direction", "type", "body", "sender_name", "sender_phone")
_MESSAGE_SQL = ", ".join(f"m.{c}" for c in _MESSAGE_COLUMNS)
_HAS_ATTACHMENT = f"EXISTS (SELECT 1 FROM {Attachment._meta.db_table} a WHERE a.message_id = {{}}.id)"
# Scalar sub-selects, not joins: a statement about a page's few conversations is planned in less time.
_CONVERSATIONS_SQL = (
    f"SELECT c.id, c.title, c.client_id, (SELECT name FROM {Client._meta.db_table} WHERE id = c.client_id), "
    f"c.matter_id, (SELECT reference FROM {Matter._meta.db_table} WHERE id = c.matter_id) "
    f"FROM {Conversation._meta.db_table} c WHERE c.id IN ({{}})")


def _with_conversations(connection: BaseDatabaseWrapper, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows of (the _MESSAGE_SQL columns, marked snippet) → rows of DETAILS and the marked snippet."""
    if not rows:
        return []
    ids = sorted({row[1] for row in rows})
    with connection.cursor() as cursor:
        cursor.execute(_CONVERSATIONS_SQL.format(", ".join(["%s"] * len(ids))), ids)
        conversations = {row[0]: row[1:] for row in cursor.fetchall()}
    return [(*row[:8], *conversations.get(row[1], ("", None, "", None, "")), row[8], row[9]) for row in rows]


@dataclass
class Where:
    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, *params: Any) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return " AND ".join(f"({p})" for p in self.parts) or "1 = 1"


@dataclass
class Plan:
    where: Where  # on the message row ``m``: access, filters
    restricted: bool  # True when the conversations are narrowed (role, walls, client …)
    order: str
    limit: int  # rows to fetch: a page plus one, to know whether there is a next page
    offset: int
    # Further arms: conditions on ``m`` whose rows are hits too, whatever their text says (a phone
    # number's conversations; messages whose earlier text matches). Each also meets ``where``.
    also: list[tuple[str, list[Any]]] = field(default_factory=list)
    earlier: bool = False  # one of them is Engine.earlier's: compliance roles find earlier texts too
    # The caller will want ``count(…, count_limit)`` if there is a next page: an engine that can
    # work it out alongside the page (for less than a statement of its own) puts it in Found.count.
    count_limit: int | None = None


@dataclass
class Found:
    rows: list[tuple[Any, ...]]  # one per hit, in order: the DETAILS columns, then the marked snippet
    total: int | None = None  # None: not counted here
    exact: bool = True
    count: int | None = None  # what count(query, plan, plan.count_limit) answers, when worked out here


class Engine(Protocol):
    name: str

    def find(self, query: ParsedQuery, plan: Plan) -> Found:
        """The page: each hit's DETAILS and its snippet (matches between snippets.START and STOP;
        None when the text did not match, e.g. a hit found by phone number)."""
        ...

    def count(self, query: ParsedQuery, plan: Plan, limit: int) -> int: ...

    def earlier(self, query: ParsedQuery) -> tuple[str, list[Any]] | None:
        """An arm for ``Plan.also``: the messages with an earlier text (edited, deleted) that matches;
        None when there is none."""
        ...

    def mark(self, query: ParsedQuery, texts: list[tuple[int, str]]) -> dict[int, str]:
        """Snippets of any texts, by key, for the texts that match."""
        ...


def engine_for(connection: BaseDatabaseWrapper) -> Engine:
    if connection.vendor == "sqlite":
        return SqliteEngine(connection)
    if connection.vendor == "postgresql":
        return PostgresEngine(connection)
    raise RuntimeError(f"full-text search is not available on {connection.vendor}")


def _groups(query: ParsedQuery) -> tuple[tuple[Term, ...], ...]:
    # A phone search looks for the number written in the text too, in any of its spellings.
    return tuple((t,) for t in query.phone_spellings) if query.is_phone else query.groups


# ---- SQLite FTS5 -----------------------------------------------------------------------------------


class SqliteEngine:
    name = "sqlite-fts5"
    # Above this share of all messages matching, walking the messages newest first and asking
    # the index about each beats reading and sorting every match (a word in most messages).
    DENSE_SHARE = 0.05
    MMAP_BYTES = 1 << 30  # address space, not memory: pages come from the OS page cache
    CACHE_KIB = 32 * 1024
    SNIPPET_TABLE = "search_page_snippets"  # temporary, per connection: see mark()

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection

    @staticmethod
    def match(query: ParsedQuery) -> str:
        """An FTS5 query in which every term is a quoted string: no syntax can get through."""

        def one(term: Term) -> str:
            quoted = '"' + term.text.replace('"', '""') + '"'
            return quoted + " *" if term.prefix else quoted

        return " OR ".join("(" + " AND ".join(one(t) for t in group) + ")" for group in _groups(query))

    def _rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def _match_count(self, match: str) -> int:
        return int(self._rows(f"SELECT count(*) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [match])[0][0])

    def _approx_messages(self) -> int:
        return int(self._rows(f"SELECT coalesce(max(id), 0) FROM {MESSAGE_TABLE}", [])[0][0])

    def find(self, query: ParsedQuery, plan: Plan) -> Found:
        ids, total, counted = self._find_ids(query, plan)
        return Found(self._details(query, ids), total, count=counted)

    def _find_ids(self, query: ParsedQuery, plan: Plan) -> tuple[list[int], int | None, int | None]:
        """The page's ids, the total when known, and count()'s answer when worked out alongside."""
        self._tune()
        match = self.match(query)
        known: int | None = None
        words: int | None = None  # how many messages the words match, once known
        if not plan.restricted and plan.order in ORDER_SQL:
            # Counting in the index alone is cheap; it is the total when nothing else narrows
            # the search, and it says whether the words are in most messages.
            n = self._match_count(match)
            if n == 0 and not plan.also:
                return [], 0, None
            words = None if plan.where.parts else n
            known = None if plan.also else words
            prefix = any(t.prefix for group in query.groups for t in group)
            # Not for prefixes: FTS5 expands a prefix again for every message it is asked about.
            if not prefix and n > self.DENSE_SHARE * self._approx_messages() and plan.offset < 1000:
                return self._ids_dense(match, plan), known, None
        if plan.also:
            return self._covered(plan, lambda covering: self._page_of_arms(match, plan, covering, words))
        order = ORDER_SQL.get(plan.order, f"{FTS_TABLE}.rank, m.sent_at DESC, m.id DESC")
        rank = f", {FTS_TABLE}.rank AS rank" if plan.order == "relevance" else ""
        head = f"SELECT m.id AS id, m.sent_at AS sent_at{rank} FROM {FTS_TABLE} CROSS JOIN {MESSAGE_TABLE} m"
        tail = f" ON m.id = {FTS_TABLE}.rowid WHERE {FTS_TABLE} MATCH %s AND {plan.where.sql}"
        found = self._covered(plan, lambda covering: self._page(
            (head + covering + tail, [match, *plan.where.params]), plan, order, count=known is None))
        return (found[0], known if known is not None else found[1], None)

    def _covered(self, plan: Plan, run: Callable[[str], T]) -> T:
        """``run(INDEXED BY …)`` when the covering index serves the plan, else ``run("")``."""
        covering = self._covering(plan)
        try:
            return run(covering)
        except OperationalError as exc:
            if not covering or "no such index" not in str(exc):
                raise
            # Dropped since this connection looked (a table rebuild; the next migrate puts it back).
            self.connection._onfile_order_index = False  # type: ignore[attr-defined]
            return run("")

    def _page_of_arms(self, match: str, plan: Plan, covering: str,
                      words: int | None) -> tuple[list[int], None, int | None]:
        """The page of the words' matches and the plan's further arms together: each arm's first
        offset + limit rows, then the page of their union (a union of every match, deduplicated
        and sorted, cost a word in 60,000 messages twice what its own page did).

        The total is not known here; count()'s answer is, when the plan asks for it and has one
        further arm: the words' matches (``words``, or counted here), plus the further arm's rows
        the words did not find. With filters, the words' arm counts its matches as it sorts them
        (a window: the page of a client's "contract", compliance, counted, was the page plus a
        second pass over every match); without, ``words`` is the index's own count (a window would
        sort every match, where the page keeps only the first: 60 ms more for 38,000).
        """
        order = ORDER_SQL.get(plan.order, ORDER_SQL["newest"])  # relevance: by time, as its arms have no rank
        first = plan.offset + plan.limit
        counting = plan.count_limit is not None and len(plan.also) == 1
        window = counting and words is None
        arm_sql = (f"SELECT m.id AS id, m.sent_at AS sent_at{', count(*) OVER () AS n' if window else ''} "
                   f"FROM {FTS_TABLE} CROSS JOIN {MESSAGE_TABLE} m{covering} ON m.id = {FTS_TABLE}.rowid "
                   f"WHERE {FTS_TABLE} MATCH %s AND {plan.where.sql} ORDER BY {order} LIMIT %s")
        arms = [(arm_sql, [match, *plan.where.params, first])]
        arms += [(f"SELECT m.id AS id, m.sent_at AS sent_at FROM {MESSAGE_TABLE} m WHERE ({cond}) AND {plan.where.sql} "
                  f"ORDER BY {order} LIMIT %s", [*cond_params, *plan.where.params, first])
                 for cond, cond_params in plan.also]
        params = [v for _, arm_params in arms for v in arm_params]
        page = f"ORDER BY {order.replace('m.', '')} LIMIT %s OFFSET %s"
        if window:  # the words' arm, worked out once (MATERIALIZED), gives its rows and its count
            union = " UNION ".join(["SELECT id, sent_at FROM w", *(f"SELECT * FROM ({sql})" for sql, _ in arms[1:])])
            sql = f"WITH w AS MATERIALIZED ({arms[0][0]}) SELECT id, (SELECT n FROM w LIMIT 1) FROM ({union}) {page}"
        else:  # (a CTE costs more: its rows are written out first, 16 ms for "contract")
            sql = f"SELECT id FROM ({' UNION '.join(f'SELECT * FROM ({sql})' for sql, _ in arms)}) {page}"
        rows = self._rows(sql, [*params, plan.limit, plan.offset])
        ids = [r[0] for r in rows]
        if not counting or len(rows) < plan.limit:  # the last page: the facade counts what is on it
            return ids, None, None
        assert plan.count_limit is not None
        found = int(rows[0][1] or 0) if window else int(words or 0)
        if found >= plan.count_limit:
            return ids, None, found
        return ids, None, found + self._rest(match, plan, plan.count_limit - found)

    def _rest(self, match: str, plan: Plan, limit: int) -> int:
        """How many rows of the plan's one further arm the words do not match (up to ``limit``):
        their ids are read from the index once, rather than the words' matches again."""
        cond, cond_params = plan.also[0]
        sql = (f"SELECT count(*) FROM (SELECT 1 FROM {MESSAGE_TABLE} m WHERE ({cond}) AND {plan.where.sql} "
               f"AND m.id NOT IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s) LIMIT %s)")
        return int(self._rows(sql, [*cond_params, *plan.where.params, match, limit])[0][0])

    def _page(self, source: tuple[str, list[Any]], plan: Plan, order: str,
              count: bool = True) -> tuple[list[int], int | None]:
        """One page of ``source`` (rows of id, sent_at …) and, alongside, how many rows it has.

        Every match has to be read and sorted for the page anyway; counting them in the same
        statement (a window) costs far less than a second pass over the index would.
        """
        sql, params = source
        total = ", count(*) OVER ()" if count else ""
        order = order.replace("m.", "").replace(f"{FTS_TABLE}.", "")
        page = f"SELECT id{total} FROM ({sql}) ORDER BY {order} LIMIT %s OFFSET %s"
        rows = self._rows(page, [*params, plan.limit, plan.offset])
        return [r[0] for r in rows], int(rows[0][1]) if count and rows else None

    def _covering(self, plan: Plan) -> str:
        """``INDEXED BY`` the covering index when the conditions need no other column of the message:
        the matches are then sorted without reading their rows (SQLite would look each row up by id)."""
        if not getattr(self.connection, "_onfile_order_index", False):
            return ""
        used = set(_COLUMN.findall(plan.where.sql)) - {"id"}
        return f" INDEXED BY {ORDER_INDEX}" if used <= set(ORDER_INDEX_COLUMNS) else ""

    def _tune(self) -> None:
        # The join from the index to the message rows reads pages all over a large file: map
        # it into memory and keep more pages in the cache (per connection; a few µs once).
        raw = self.connection.connection
        if getattr(self.connection, "_onfile_search_tuned", None) == id(raw):
            return
        with self.connection.cursor() as cursor:
            cursor.execute(f"PRAGMA mmap_size = {self.MMAP_BYTES}")
            cursor.execute(f"PRAGMA cache_size = -{self.CACHE_KIB}")
        self.connection._onfile_order_index = sqlite_order_index_exists(self.connection)  # type: ignore[attr-defined]
        self.connection._onfile_search_tuned = id(raw)  # type: ignore[attr-defined]

    def _ids_dense(self, match: str, plan: Plan) -> list[int]:
        # Messages in time order (the sent_at index), each checked against the index (and the
        # further arms: an IN (sub-select) is worked out once): stops after a page's worth when
        # most messages match.
        also = "".join(f" OR ({cond})" for cond, _ in plan.also)
        sql = (f"SELECT m.id FROM {MESSAGE_TABLE} m WHERE (EXISTS (SELECT 1 FROM {FTS_TABLE} "
               f"WHERE {FTS_TABLE} MATCH %s AND {FTS_TABLE}.rowid = m.id){also}) AND {plan.where.sql} "
               f"ORDER BY {ORDER_SQL[plan.order]} LIMIT %s OFFSET %s")
        params = [match, *(v for _, cond_params in plan.also for v in cond_params), *plan.where.params]
        return [r[0] for r in self._rows(sql, [*params, plan.limit, plan.offset])]

    def _union(self, match: str, plan: Plan) -> tuple[str, list[Any]]:
        sql = (f"SELECT m.id AS id, m.sent_at AS sent_at FROM {FTS_TABLE} CROSS JOIN {MESSAGE_TABLE} m "
               f"ON m.id = {FTS_TABLE}.rowid WHERE {FTS_TABLE} MATCH %s AND {plan.where.sql}")
        params = [match, *plan.where.params]
        for cond, cond_params in plan.also:
            sql += f" UNION SELECT m.id, m.sent_at FROM {MESSAGE_TABLE} m WHERE ({cond}) AND {plan.where.sql}"
            params += [*cond_params, *plan.where.params]
        return sql, params

    def count(self, query: ParsedQuery, plan: Plan, limit: int) -> int:
        match = self.match(query)
        sql = (f"SELECT count(*) FROM (SELECT 1 FROM {FTS_TABLE} CROSS JOIN {MESSAGE_TABLE} m "
               f"ON m.id = {FTS_TABLE}.rowid WHERE {FTS_TABLE} MATCH %s AND {plan.where.sql} LIMIT %s)")
        words = int(self._rows(sql, [match, *plan.where.params, limit])[0][0])
        if not plan.also or words >= limit:
            # The words alone reach the limit: no need to unite them with the other arms (a union
            # is deduplicated only once every row of it is read; counting stops at the limit).
            return words
        if len(plan.also) == 1:  # fewer than the limit: add the other arm's rows the words did not find
            return words + self._rest(match, plan, limit - words)
        union, params = self._union(match, plan)
        return int(self._rows(f"SELECT count(*) FROM (SELECT 1 FROM ({union}) LIMIT %s)", [*params, limit])[0][0])

    def _details(self, query: ParsedQuery, ids: list[int]) -> list[tuple[Any, ...]]:
        if not ids:
            return []
        marks = ", ".join(["%s"] * len(ids))
        sql = f"SELECT {_MESSAGE_SQL}, {_HAS_ATTACHMENT.format('m')} FROM {MESSAGE_TABLE} m WHERE m.id IN ({marks})"
        rows = {r[0]: r for r in self._rows(sql, ids)}
        marked = self.mark(query, [(i, r[5]) for i, r in rows.items()])
        # A message deleted since the page was found (a disposition) is not a hit any more.
        return _with_conversations(self.connection, [(*rows[i], marked.get(i)) for i in ids if i in rows])


    def earlier(self, query: ParsedQuery) -> tuple[str, list[Any]] | None:
        match = self.match(query)
        if not self._rows(f"SELECT 1 FROM {REVISION_FTS_TABLE} WHERE {REVISION_FTS_TABLE} MATCH %s LIMIT 1",
                          [match]):
            return None
        return (f"m.id IN (SELECT r.message_id FROM {REVISION_FTS_TABLE} CROSS JOIN {REVISION_TABLE} r "
                f"ON r.id = {REVISION_FTS_TABLE}.rowid WHERE {REVISION_FTS_TABLE} MATCH %s)", [match])

    def mark(self, query: ParsedQuery, texts: list[tuple[int, str]]) -> dict[int, str]:
        """Snippets, marked, by key, of the texts that match.

        snippet() runs on a small FTS5 table of this connection's own (in memory, like all
        temporary tables here: temp_store=MEMORY) that holds only the page's texts: the same
        tokeniser and the same query as the index, so the same snippets. Asked of the index,
        FTS5 expands a prefix over the whole index again for every message of the page ("sign*"
        on 1 M messages: 160 ms; here 2 ms; docs/benchmarks.md). Writing a temporary table
        takes no lock on the database — as long as no transaction is opened for it: ours begin
        IMMEDIATE (settings.py), which takes the database's write lock. So the statements run
        on their own (or in the caller's transaction), and the table is emptied before this returns.
        """
        if not texts:
            return {}
        match = self.match(query)
        table = self.SNIPPET_TABLE
        sql = (f"SELECT rowid, snippet({table}, 0, %s, %s, %s, 24) FROM temp.{table} WHERE {table} MATCH %s")
        with self.connection.cursor() as cursor:
            cursor.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table} USING fts5(body, "
                           f"tokenize='{SQLITE_TOKENIZE}')")
            cursor.execute(f"DELETE FROM temp.{table}")
            try:
                cursor.execute(f"INSERT INTO temp.{table}(rowid, body) VALUES "
                               + ", ".join(["(%s, %s)"] * len(texts)), [v for pair in texts for v in pair])
                cursor.execute(sql, [snippets.START, snippets.STOP, snippets.ELLIPSIS, match])
                marked = dict(cursor.fetchall())
            finally:
                cursor.execute(f"DELETE FROM temp.{table}")
        return marked


# ---- PostgreSQL ------------------------------------------------------------------------------------

# ts_headline drops what its parser takes for HTML tags; hide < and > from it, then put them back.
_PG_HIDE = "\x03\x04"
_HEADLINE = f"StartSel={snippets.START}, StopSel={snippets.STOP}, MaxWords=30, MinWords=15, ShortWord=0"


class PostgresEngine:
    name = "postgresql"

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection

    @staticmethod
    def tsquery(query: ParsedQuery) -> tuple[str, list[Any]]:
        """A tsquery built by PostgreSQL's own functions from bound text: no syntax gets through."""
        params: list[Any] = []

        def one(term: Term) -> str:
            text = term.text.replace("<", " ").replace(">", " ")  # as the index reads them (schema.py)
            if term.prefix:
                # Tokens are letters and digits only, so quoting them is enough.
                *head, last = term.tokens
                params.append(" <-> ".join([*(f"'{t}'" for t in head), f"'{last}':*"]))
                return f"to_tsquery('{PG_CONFIG}', %s)"
            params.append(text)
            return f"{'phraseto_tsquery' if term.phrase else 'plainto_tsquery'}('{PG_CONFIG}', %s)"

        sql = " || ".join("(" + " && ".join(one(t) for t in group) + ")" for group in _groups(query))
        return f"({sql})", params

    def _rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def _arms(self, query: ParsedQuery, plan: Plan) -> list[tuple[str, list[Any]]]:
        """Conditions whose matches together are the hits: the words, then the plan's further arms
        (a phone number's conversations, messages whose earlier text matches) — arms of a union,
        not an OR, so that each is answered by its own index (an OR read every message of a fee
        earner's conversations)."""
        tsq, params = self.tsquery(query)
        arms = [(f"m.{PG_COLUMN} @@ {tsq} AND {plan.where.sql}", [*params, *plan.where.params])]
        arms += [(f"({cond}) AND {plan.where.sql}", [*cond_params, *plan.where.params])
                 for cond, cond_params in plan.also]
        return arms

    def find(self, query: ParsedQuery, plan: Plan) -> Found:
        arms = self._arms(query, plan)
        # The snippet is a column of the page's statement: PostgreSQL works such an expensive column
        # out after the sort and the limit, for the page's rows only.
        tsq, headline_params = self.tsquery(query)
        # ts_headline marks the query's words wherever they are, also in a text that does not match
        # (a phrase's words apart; a hit of another arm): only a match gets marks.
        columns = (f"{_MESSAGE_SQL}, CASE WHEN m.{PG_COLUMN} @@ {tsq} THEN ts_headline('{PG_CONFIG}', "
                   f"translate(m.body, '<>', %s), {tsq}, %s) END AS marked")
        params: list[Any] = [*headline_params, _PG_HIDE, *headline_params, _HEADLINE]
        order = ORDER_SQL.get(plan.order, ORDER_SQL["newest"])
        if len(arms) == 1 and plan.order not in ORDER_SQL:  # relevance
            rank_sql, rank_params = self.tsquery(query)
            cond, cond_params = arms[0]
            page = (f"SELECT {columns}, ts_rank_cd(m.{PG_COLUMN}, {rank_sql}) AS rank FROM {MESSAGE_TABLE} m "
                    f"WHERE {cond} ORDER BY rank DESC, {order} LIMIT %s OFFSET %s")
            params += [*rank_params, *cond_params, plan.limit, plan.offset]
            order = f"rank DESC, {order}"
        elif len(arms) == 1:
            cond, cond_params = arms[0]
            page = f"SELECT {columns} FROM {MESSAGE_TABLE} m WHERE {cond} ORDER BY {order} LIMIT %s OFFSET %s"
            params += [*cond_params, plan.limit, plan.offset]
        else:  # each arm's first rows, then the page of their union
            union = (" UNION ".join(f"(SELECT m.id, m.sent_at FROM {MESSAGE_TABLE} m WHERE {cond} ORDER BY {order} "
                                    "LIMIT %s)" for cond, _ in arms)
                     + f" ORDER BY {order.replace('m.', '')} LIMIT %s OFFSET %s")
            page = f"SELECT {columns} FROM ({union}) u JOIN {MESSAGE_TABLE} m ON m.id = u.id"
            params += [v for _, arm_params in arms for v in (*arm_params, plan.limit + plan.offset)]
            params += [plan.limit, plan.offset]
        # Whether each has an attachment, asked of the page's rows only (inside, PostgreSQL would
        # read every attachment to answer it for every match).
        sql = (f"SELECT {', '.join(f'p.{c}' for c in _MESSAGE_COLUMNS)}, {_HAS_ATTACHMENT.format('p')}, p.marked "
               f"FROM ({page}) p ORDER BY {order.replace('m.', 'p.').replace('rank', 'p.rank')}")
        rows = [(*row[:9], self._marked(row[9], row[5]) if row[9] is not None else None)
                for row in self._rows(sql, params)]
        return Found(_with_conversations(self.connection, rows))

    EARLIER_LISTED = 10_000  # messages whose earlier text matches, named in the arm up to this many

    def earlier(self, query: ParsedQuery) -> tuple[str, list[Any]] | None:
        # The messages are named: behind a sub-select the planner guessed them spread evenly
        # over time and walked the messages newest first looking for them ("the": 390 ms, with
        # one message in a hundred edited; named: a few ms).
        tsq, params = self.tsquery(query)
        rows = self._rows(f"SELECT DISTINCT message_id FROM {REVISION_TABLE} WHERE {PG_COLUMN} @@ {tsq} LIMIT %s",
                          [*params, self.EARLIER_LISTED + 1])
        if not rows:
            return None
        if len(rows) <= self.EARLIER_LISTED:
            return "m.id = ANY(%s)", [[row[0] for row in rows]]
        return f"m.id IN (SELECT r.message_id FROM {REVISION_TABLE} r WHERE r.{PG_COLUMN} @@ {tsq})", params

    def mark(self, query: ParsedQuery, texts: list[tuple[int, str]]) -> dict[int, str]:
        if not texts:
            return {}
        tsq, params = self.tsquery(query)
        keys, bodies = [k for k, _ in texts], [t for _, t in texts]
        sql = (f"SELECT t.key, t.body, ts_headline('{PG_CONFIG}', translate(t.body, '<>', %s), {tsq}, %s) "
               f"FROM unnest(%s::bigint[], %s::text[]) AS t(key, body) WHERE {pg_document('t.body')} @@ {tsq}")
        rows = self._rows(sql, [_PG_HIDE, *params, _HEADLINE, keys, bodies, *params])
        return {key: marked for key, body, headline in rows if (marked := self._marked(headline, body)) is not None}

    @staticmethod
    def _marked(headline: str, body: str) -> str | None:
        if snippets.START not in headline:
            return None  # nothing matched (a hit by phone number): the facade shows the start
        text = headline.replace(_PG_HIDE[0], "<").replace(_PG_HIDE[1], ">")
        return _ellipses(text, body)

    def count(self, query: ParsedQuery, plan: Plan, limit: int) -> int:
        arms = self._arms(query, plan)
        if len(arms) > 1:
            # The words alone reach the limit: no need to unite them with the other arms (a union
            # is deduplicated only once every row of it is read; counting stops at the limit).
            cond, params = arms[0]
            words = self._rows(f"SELECT count(*) FROM (SELECT 1 FROM {MESSAGE_TABLE} m WHERE {cond} LIMIT %s) AS w",
                               [*params, limit])[0][0]
            if int(words) >= limit:
                return int(words)
        union = " UNION ".join(f"(SELECT m.id FROM {MESSAGE_TABLE} m WHERE {cond})" for cond, _ in arms)
        sql = f"SELECT count(*) FROM ({union} LIMIT %s) AS hits"
        return int(self._rows(sql, [*(v for _, params in arms for v in params), limit])[0][0])


def _ellipses(marked: str, body: str) -> str:
    """ts_headline does not say when it cut the text; FTS5's snippet() does (with …)."""
    bare = marked.replace(snippets.START, "").replace(snippets.STOP, "").strip()
    if not bare:
        return marked
    flat = " ".join(body.split())
    words = bare.split()
    head, tail = " ".join(words[:3]), " ".join(words[-3:])
    if not flat.startswith(head):
        marked = snippets.ELLIPSIS + marked.lstrip()
    if not flat.endswith(tail):
        marked = marked.rstrip() + snippets.ELLIPSIS
    return marked
