"""Reading what people type: terms, operators, garbage, phone numbers (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from onfile.search.engines import PostgresEngine, SqliteEngine
from onfile.search.query import SearchError, parse, phone_numbers


def test_words_phrases_and_prefixes_become_terms() -> None:
    q = parse('lease "clause 4" sign*')
    [group] = q.groups
    assert [(t.tokens, t.phrase, t.prefix) for t in group] == [
        (("lease",), False, False), (("clause", "4"), True, False), (("sign",), False, True)]


def test_upper_case_or_separates_alternatives_and_and_is_a_space() -> None:
    q = parse("warehouse OR zürich AND café")
    assert [[t.tokens for t in g] for g in q.groups] == [[("warehouse",)], [("zürich",), ("café",)]]
    assert [[t.tokens for t in g] for g in parse("cats or dogs").groups] == [[("cats",), ("or",), ("dogs",)]]


@pytest.mark.parametrize("garbage", ['"', "AND OR", "*", "NEAR(", "'", "", "   ", "()", "- -", "OR", '""', "\x00",
                                     "NOT", "a*", "x" * 501])
def test_garbage_is_a_search_error_with_a_reason(garbage: str) -> None:
    with pytest.raises(SearchError) as caught:
        parse(garbage)
    assert str(caught.value)


@pytest.mark.parametrize("raw", ['"unbalanced', 'say "hi', "(lease)", "lease)", "NEAR", "col:lease", "^lease",
                                 "lease AND", "OR lease", 'a""b', "{lease}", "lease -clause", "lease + clause"])
def test_fts_syntax_typed_by_a_person_is_only_text(raw: str) -> None:
    q = parse(raw) if raw != "NEAR" else None
    if q is None:
        with pytest.raises(SearchError):
            parse(raw)
        return
    match = SqliteEngine.match(q)
    # Every term reaches FTS5 as one quoted string: outside quotes only our own operators.
    outside = "".join(part for i, part in enumerate(match.split('"')) if i % 2 == 0)
    assert set(outside.replace("AND", "").replace("OR", "").replace("*", "")) <= set("() ")
    sql, params = PostgresEngine.tsquery(q)
    assert "%s" in sql and all(isinstance(p, str) for p in params)


def test_control_characters_and_broken_unicode_are_cleaned() -> None:
    q = parse("lea\x00se \ud800clause")
    assert "\x00" not in q.text and "\ud800" not in q.text
    assert [t.tokens for t in q.groups[0]] == [("lea",), ("se",), ("clause",)]


@pytest.mark.parametrize("spelling", ["+44 7700 900123", "07700900123", "447700900123", "(0)7700-900 123",
                                      "+44 (0)7700 900123", "0044 7700 900123", "07700 900 123", '"07700 900123"',
                                      "+447700900123"])
def test_every_common_spelling_of_a_phone_number_is_the_same_number(spelling: str) -> None:
    q = parse(spelling, "GB")
    assert q.phones == ("+447700900123",)
    spelled = {" ".join(t.tokens) for t in q.phone_spellings}
    assert {"07700 900123", "44 7700 900123", "447700900123", "07700900123"} <= spelled


@pytest.mark.parametrize("text", ["invoice 2024", "12/01/2024", "2024-01-12", "£25,000", "123", "lease 07700900123"])
def test_things_that_are_not_phone_numbers_stay_text(text: str) -> None:
    assert phone_numbers(text, "GB") == ()
    assert not parse(text, "GB").is_phone


def test_a_national_number_needs_a_region_and_an_international_one_does_not() -> None:
    assert phone_numbers("07700 900123", None) == ()
    assert phone_numbers("+1 202 555 0143", None) == ("+12025550143",)
    assert phone_numbers("030 1234567", "DE") == ("+49301234567",)


def test_an_unknown_default_region_is_a_configuration_error(settings: Any) -> None:
    from onfile.search.checks import check_default_region

    settings.DEFAULT_REGION = "XX"
    [error] = check_default_region()
    assert error.id == "onfile.E040" and "ONFILE_DEFAULT_REGION" in error.msg
    settings.DEFAULT_REGION = "DE"
    assert check_default_region() == []
