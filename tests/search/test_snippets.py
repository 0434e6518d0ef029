"""Snippets are escaped text with <mark> around the matches: safe to render as they are."""

from __future__ import annotations

import pytest
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
