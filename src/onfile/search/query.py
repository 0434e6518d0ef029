"""What a person types into the search box, turned into terms both engines understand.

The syntax is small on purpose: words (all must appear), ``"quoted phrases"``, ``prefix*``,
and ``OR`` between alternatives (``AND`` is allowed and means what a space means). Nothing a
person types reaches an engine as syntax: each term is handed over as a quoted string (FTS5)
or through ``plainto_tsquery``/``phraseto_tsquery`` (PostgreSQL), so a stray quote, bracket or
operator can never make a syntax error. A query with nothing searchable left in it is a
:class:`SearchError` with a sentence saying why.

A query that is, as a whole, a phone number ("+44 7700 900123", "07700900123",
"(0)7700-900 123") is a phone search: see :func:`phone_numbers`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers

MAX_QUERY_LENGTH = 500
MAX_TERMS = 32
CONNECTORS = {"AND", "OR"}
UNSUPPORTED = {"NOT", "NEAR"}


class SearchError(ValueError):
    """The search cannot run as asked (an empty query, a bad filter); the message says why."""


@dataclass(frozen=True)
class Term:
    """One thing that must appear: a word, a phrase, or the start of a word (``prefix``)."""

    text: str  # as typed, less the quotes and the star: each engine tokenises it its own way
    tokens: tuple[str, ...]  # the letters-and-digits runs in it, lower-cased
    phrase: bool = False
    prefix: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    text: str  # the query as received, cleaned of control characters
    groups: tuple[tuple[Term, ...], ...]  # alternatives (OR) of terms that must all appear (AND)
    phones: tuple[str, ...] = ()  # E.164 numbers when the whole query is a phone number
    phone_spellings: tuple[Term, ...] = ()  # how such a number may be written in a message

    @property
    def is_phone(self) -> bool:
        return bool(self.phones)


def tokens(text: str) -> tuple[str, ...]:
    """Runs of letters and digits, like the engines' tokenisers (unicode61: L*, N*, Co)."""
    out: list[str] = []
    current: list[str] = []
    for ch in text:
        if unicodedata.category(ch)[0] in "LN" or unicodedata.category(ch) == "Co":
            current.append(ch)
        elif current:
            out.append("".join(current).lower())
            current = []
    if current:
        out.append("".join(current).lower())
    return tuple(out)


def _clean(raw: str) -> str:
    # Lone surrogates (from a command line) cannot be sent to a database; NUL and other
    # control characters are never part of a word and PostgreSQL refuses NUL outright.
    text = raw.encode("utf-8", "replace").decode("utf-8")
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text).strip()


_CHUNK = re.compile(r'"([^"]*)"?|(\S+)')


def parse(raw: str, region: str | None = None) -> ParsedQuery:
    """The query's terms; :class:`SearchError` when nothing searchable is left."""
    if not isinstance(raw, str):
        raise SearchError("the query must be text")
    text = _clean(raw)
    if not text:
        raise SearchError("type something to search for: words, a \"phrase in quotes\", a prefix* or a phone number")
    if len(text) > MAX_QUERY_LENGTH:
        raise SearchError(f"the query is too long ({len(text)} characters; at most {MAX_QUERY_LENGTH})")
    phones = phone_numbers(text, region)
    if phones:
        return ParsedQuery(text, (), phones, _spellings(text, phones))
    groups = _groups(text)
    if not groups:
        raise SearchError(f"nothing to search for in {text!r}: give at least one word with letters or digits")
    if sum(len(g) for g in groups) > MAX_TERMS:
        raise SearchError(f"too many words (at most {MAX_TERMS})")
    return ParsedQuery(text, groups)


def _groups(text: str) -> tuple[tuple[Term, ...], ...]:
    groups: list[list[Term]] = [[]]
    for match in _CHUNK.finditer(text):
        quoted, bare = match.group(1), match.group(2)
        if quoted is not None:
            term = Term(quoted, tokens(quoted), phrase=True)
        else:
            assert bare is not None
            core = bare.strip("()")
            # Upper-case AND / OR are operators (lower-case ones are words); AND is what a
            # space already means, OR starts another alternative.
            if core in CONNECTORS:
                if core == "OR":
                    groups.append([])
                continue
            if core in UNSUPPORTED:
                raise SearchError(f"{core} is not supported (every word must appear): put it in quotes, "
                                  f"\"{core.lower()}\", to search for the word itself")
            prefix = bare.endswith("*")
            word = tokens(bare)
            if prefix and word and len(word[-1]) < 2:
                raise SearchError(f"{bare}: a prefix needs at least two letters (one would match almost everything)")
            term = Term(bare.rstrip("*") if prefix else bare, word, prefix=prefix and bool(word))
        if term.tokens:
            groups[-1].append(term)
    return tuple(tuple(g) for g in groups if g)


# ---- phone numbers -------------------------------------------------------------------------------

_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]+$")
_DATE_LIKE = re.compile(r"^(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}[/.-]\d{1,2}[/.-]\d{1,2})$")


def phone_numbers(text: str, region: str | None) -> tuple[str, ...]:
    """E.164 numbers the query may mean, when the whole query looks like a phone number.

    ``07700 900123`` is read in the default region; ``447700900123`` (no plus) is tried both
    as a national number and as an international one; ``(0)`` (the optional trunk prefix
    written in an international number) is ignored.
    """
    candidate = text.strip().strip('"').strip()
    if not _PHONE_LIKE.match(candidate) or _DATE_LIKE.match(candidate):
        return ()
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15:
        return ()
    spelled = candidate.replace("(0)", " ")
    attempts: list[tuple[str, str | None]] = []
    if spelled.startswith("+"):
        attempts.append((spelled, None))
    elif digits.startswith("00"):
        attempts.append(("+" + digits[2:], None))
    else:
        if region:
            attempts.append((spelled, region))
        if not digits.startswith("0"):
            attempts.append(("+" + digits, None))
    found: list[str] = []
    for value, where in attempts:
        try:
            number = phonenumbers.parse(value, where)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if e164 not in found:
                found.append(e164)
    return tuple(found)


def _spellings(text: str, phones: tuple[str, ...]) -> tuple[Term, ...]:
    """Ways the number may be written inside a message, each searched as a phrase."""
    forms: list[str] = [text.strip('"')]
    for e164 in phones:
        number = phonenumbers.parse(e164, None)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        forms += [national, international, e164[1:], re.sub(r"\D", "", national)]
    out: list[Term] = []
    seen: set[tuple[str, ...]] = set()
    for form in forms:
        toks = tokens(form)
        if toks and toks not in seen:
            seen.add(toks)
            out.append(Term(" ".join(toks), toks, phrase=True))
    return tuple(out)
