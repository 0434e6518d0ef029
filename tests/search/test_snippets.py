"""Snippets are escaped text with <mark> around the matches: safe to render as they are."""

from __future__ import annotations

import pytest
from django.db import connection
from django.template import Context, Template
from tests.search.conftest import World

from onfile.search import search
from onfile.search.snippets import plain, render


def test_markup_in_a_message_is_escaped_and_matches_are_marked() -> None:
    html, text = render('<script>alert("x")</script> \x01nephew\x02 & co')
    assert html == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; <mark>nephew</mark> &amp; co"
    assert text == '<script>alert("x")</script> [[nephew]] & co'


def test_marker_characters_typed_into_a_message_cannot_unbalance_the_tags() -> None:
    assert render("a\x02b \x01c\x01d\x02 e\x01f")[0] == "ab <mark>cd</mark> e<mark>f</mark>"
    assert render("\x02\x02x")[0] == "x"


def test_a_hit_without_matched_words_shows_the_start_of_the_message() -> None:
    assert plain("short") == "short"
    long = "word " * 100
    assert plain(long).endswith("…") and len(plain(long)) <= 161
    assert render(plain("<b>\x01x\x02</b>"))[0] == "&lt;b&gt; x &lt;/b&gt;"


@pytest.mark.django_db
def test_a_script_in_a_message_comes_back_escaped_in_a_rendered_page(world: World) -> None:
    [hit] = search(world.compliance, "nephew").hits
    assert "<script" not in hit.snippet_html and "<b>" not in hit.snippet_html
    assert "&lt;script&gt;" in hit.snippet_html and "<mark>nephew</mark>" in hit.snippet_html
    rendered = Template("{{ hit.snippet_html }}").render(Context({"hit": hit}))
    assert rendered == str(hit.snippet_html)  # already safe: not escaped twice
    assert "[[nephew]]" in hit.snippet_text and "<script>" in hit.snippet_text


@pytest.mark.django_db
def test_words_inside_angle_brackets_are_found_and_shown(world: World) -> None:
    [hit] = search(world.compliance, "script alert").hits
    assert "<mark>script</mark>" in hit.snippet_html and "<mark>alert</mark>" in hit.snippet_html
    [omitted] = search(world.compliance, '"media omitted"').hits
    assert omitted.type == "media" and omitted.has_attachment


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "marked"), [
    ("sign*", {"<mark>signed</mark>", "<mark>signature</mark>"}),
    ('"rent review"', {"<mark>rent", "review</mark>"}),  # one mark (FTS5) or two (PostgreSQL)
    ("cafe", {"<mark>Café</mark>"}),
    ("warehouse OR zurich", {"<mark>warehouse</mark>", "<mark>Zürich</mark>"}),
])
def test_prefixes_phrases_accents_and_alternatives_are_marked(world: World, query: str, marked: set[str]) -> None:
    html = " ".join(str(hit.snippet_html) for hit in search(world.compliance, query, per_page=100).hits)
    assert all(m in html for m in marked), html


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's snippets are made on a table of the page")
@pytest.mark.parametrize("query", ["sign*", "lease", '"rent review"', "cafe muller", "warehouse OR zurich",
                                   "25,000 deposit", "se*"])
def test_sqlite_snippets_are_those_the_index_itself_would_give(world: World, query: str) -> None:
    """The page's snippets come from a temporary FTS5 table holding only the page's messages
    (a prefix asked of the whole index is expanded again for every message): the same tokeniser
    and query, so exactly what snippet() on the index gives; and the table is left empty."""
    from onfile.search.engines import SqliteEngine
    from onfile.search.query import parse
    from onfile.search.schema import FTS_TABLE

    page = search(world.compliance, query, per_page=100)
    assert page.hits
    match = SqliteEngine.match(parse(query))
    ids = [hit.message_id for hit in page.hits]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT rowid, snippet({FTS_TABLE}, 0, char(1), char(2), '…', 24) FROM {FTS_TABLE} "
                       f"WHERE {FTS_TABLE} MATCH %s AND rowid IN ({', '.join(['%s'] * len(ids))})", [match, *ids])
        from_index = dict(cursor.fetchall())
        cursor.execute(f"SELECT count(*) FROM temp.{SqliteEngine.SNIPPET_TABLE}")
        assert cursor.fetchone()[0] == 0  # no message text stays behind in the connection
    assert {hit.message_id: render(from_index[hit.message_id])[0] for hit in page.hits} == {
        hit.message_id: str(hit.snippet_html) for hit in page.hits}


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's snippets are made on a table of the page")
def test_a_search_opens_no_transaction_which_would_take_the_write_lock(world: World) -> None:
    """Our SQLite transactions begin IMMEDIATE (settings.py): one around the snippets' temporary
    table would make every search queue for the database's write lock behind imports and captures."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        page = search(world.compliance, "sign*")
    assert page.hits and all(h.snippet_html for h in page.hits)
    search_sql = [q["sql"] for q in queries.captured_queries]
    # Up to the snippets' last statement (the ledger entry after them is a write of its own).
    last = max(i for i, sql in enumerate(search_sql) if "search_page_snippets" in sql)
    reading = search_sql[:last + 1]
    assert not any(sql.upper().startswith(("SAVEPOINT", "BEGIN")) for sql in reading), reading
