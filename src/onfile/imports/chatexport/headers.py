"""Message-header grammar: recognise a header, decide the date order, build timestamps.

Design
- One compiled regex (``HEADER``) recognises every header variant WhatsApp has used:
  Android ``date, time - `` and iOS ``[date, time] ``, any d/m/y order, the separators
  ``/ . -`` (and ``". "`` as in ``13. 6. 2018.``), 2- or 4-digit years, 12 h and 24 h clocks,
  localized AM/PM markers, optional seconds, ``.`` in the time (Finnish ``klo 21.25.15``).
- The invisible marks (U+200E, U+202A…, BOM) and odd spaces (U+202F, U+00A0, U+2009) that
  WhatsApp puts into headers are allowed *by the pattern itself*. The common path therefore
  never builds a normalised copy of a line, and match offsets point into the raw text (which
  is stored unchanged). A header with marks in unexpected places (inside the date, say) takes
  the slow path: a copy of the line start without marks is matched, and the end offset is
  mapped back to the raw line.
- The regex only recognises. The date order is decided once per file (``detect_order``)
  from every header date, because one line rarely disambiguates it; ``TimestampBuilder``
  then turns a captured date and ``Clock`` into a datetime.
- ``HeaderScanner`` avoids the regex (about 2 µs a line) on almost every line, with two
  caches. (1) Per header text: on Android every message of a minute starts with the same
  ``"30/06/2023, 16:15 - "``. (2) Per *piece*: a header is date piece + joiner + time piece
  + end marker, and the regex parses each piece independently of the others (the joiner's
  spaces force the split), so a new header whose date piece and time piece were both seen
  in earlier valid headers of the same style is valid, with the same date and clock. There
  are only as many date pieces as days and time pieces as minutes (or seconds) of a day.
- The terminator alternative that matched (``m.lastgroup``) is the header *style*: ``tb``
  (iOS ``] ``), ``td`` (Android `` - ``), ``tc`` (``: ``) or ``tsp`` (a bare space). A file
  uses one style; lines of another style are treated as text that merely looks like a header.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

# Marks that carry no text: LRM/RLM, the U+202A–U+202E embeddings, the U+2066–U+2069
# isolates and the BOM (which some editors leave mid-file).
INVISIBLE = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
INVISIBLE_SET = frozenset(INVISIBLE)
_I = "[" + INVISIBLE + "]"
_S = "[ \u00a0\u202f\u2009]"  # space, NBSP (Spanish "p. m."), NNBSP (2023+ exports), thin space

# Markers after the time. Localized words are listed explicitly; "a. m." etc. are covered
# by the first alternative.
_AMPM = rf"[AaPp]\.?{_S}?[Mm]\.?|vorm\.|nachm\.|π\.{_S}?μ\.|μ\.{_S}?μ\.|午前|午後|오전|오후"

HEADER = re.compile(
    rf"{_I}*(?P<br>\[)?{_I}*"
    rf"(?:(?P<date>\d{{1,4}}(?P<sep>[/.\-]){_S}?\d{{1,2}}(?P=sep){_S}?\d{{1,4}}\.?)"
    # A short word may sit between date and time ("klo", a leading 午後), captured as "pre".
    rf",?{_S}+(?:(?P<pre>[^\W\d_]{{1,5}})\.?{_S}*)?"
    rf"(?P<h>\d{{1,2}})[:.](?P<mi>\d{{2}})(?:[:.](?P<sec>\d{{2}}))?"
    rf"(?:{_S}*(?P<ampm>{_AMPM}))?(?!\w))"
    rf"{_I}*"
    rf"(?(br)(?P<tb>{_I}*\]{_S}?)|(?:(?P<td>{_S}*{_I}*[-–]{_S}?)|(?P<tc>:{_S})|(?P<tsp>{_S})))"
)

# Characters a header line can start with; anything else skips the regex entirely.
HEAD_START = frozenset("0123456789[" + INVISIBLE)

STYLE_PLATFORM = {"tb": "ios", "td": "android", "tc": "android", "tsp": "android"}

_SLOW_SPAN = 96  # a header is never longer than this, even with marks sprinkled in
_DIGITS = re.compile(r"\d+")
_AMPM_WORDS = {
    "am": False,
    "pm": True,
    "vorm": False,
    "nachm": True,
    "πμ": False,
    "μμ": True,
    "午前": False,
    "午後": True,
    "오전": False,
    "오후": True,
}
_AMPM_STRIP = str.maketrans("", "", ". \u00a0\u202f\u2009")

# Stored in caches for "this header does not make a valid timestamp" so that the cache
# type stays dict[str, datetime]; no WhatsApp message is dated in year 1.
INVALID = datetime.min

ORDERS = ("dmy", "mdy", "ymd")


def match_header(line: str) -> tuple[re.Match[str], int] | None:
    """Match a header at the start of ``line``; return the match and the body offset in ``line``."""
    m = HEADER.match(line)
    if m is not None:
        return m, m.end()
    return _match_without_marks(line)


def _match_without_marks(line: str) -> tuple[re.Match[str], int] | None:
    head = line[:_SLOW_SPAN]
    if INVISIBLE_SET.isdisjoint(head):
        return None
    keep = [i for i, c in enumerate(head) if c not in INVISIBLE_SET]
    m = HEADER.match("".join(head[i] for i in keep))
    if m is None or m.end() == 0:
        return None
    # Marks right after the header stay in the body: an LRM there signals a system line.
    return m, keep[m.end() - 1] + 1


def ampm_is_pm(marker: str) -> bool | None:
    """True for PM, False for AM, None when ``marker`` is not an AM/PM word (e.g. "klo")."""
    return _AMPM_WORDS.get(marker.translate(_AMPM_STRIP).lower())


def date_parts(date: str) -> tuple[int, int, int, int]:
    """The three numbers of a header date, plus the digit count of the first one."""
    a, b, c = _DIGITS.findall(date)
    return int(a), int(b), int(c), len(a)


def to_ymd(a: int, b: int, c: int, order: str) -> tuple[int, int, int] | None:
    """Interpret three date numbers in ``order``; None when that makes no calendar date."""
    if order == "dmy":
        y, m, d = c, b, a
    elif order == "mdy":
        y, m, d = c, a, b
    else:
        y, m, d = a, b, c
    if y < 100:
        y += 2000  # two-digit years are 20YY in every export seen
    if not (1 <= m <= 12 and 1 <= d <= 31 and 2000 <= y <= 2100):
        return None
    try:
        datetime(y, m, d)
    except ValueError:
        return None
    return y, m, d


def detect_order(dates: list[str]) -> tuple[str, bool]:
    """Decide the date order from header dates in file order; return (order, ambiguous).

    Year-first when most first numbers have 4 digits or are >= 100. Otherwise dmy and mdy
    are scored over all dates: fewer impossible dates first (a value > 12 decides), then
    fewer steps backwards in time, since exports are written chronologically (this is the
    "decreasing first component within a year" test, generalised across years). A tie is
    ambiguous unless both orders give the same dates (every day equals its month).
    """
    parts = [date_parts(d) for d in dates]
    if not parts:
        return "dmy", False
    if sum(1 for a, _, _, n in parts if n >= 3 or a >= 100) * 2 > len(parts):
        return "ymd", False
    scores = {order: _order_score(parts, order) for order in ("dmy", "mdy")}
    if scores["dmy"] != scores["mdy"]:
        return min(("dmy", "mdy"), key=lambda o: scores[o]), False
    return "dmy", any(a != b for a, b, _, _ in parts)


def _order_score(parts: list[tuple[int, int, int, int]], order: str) -> tuple[int, int]:
    invalid = backwards = 0
    previous: tuple[int, int, int] | None = None
    for a, b, c, _ in parts:
        ymd = to_ymd(a, b, c, order)
        if ymd is None:
            invalid += 1
            continue
        if previous is not None and ymd < previous:
            backwards += 1
        previous = ymd
    return invalid, backwards


# The time part of a header: (hour, minute, second, pm), pm None on a 24 h clock. Plain
# tuples, not NamedTuples: building one is ten times cheaper, and these are built per header.
Clock = tuple[int, int, int, bool | None]


def clock_of(m: re.Match[str]) -> Clock:
    """The clock of header match ``m``."""
    sec = m.group("sec")
    marker = m.group("ampm") or m.group("pre")
    return (
        int(m.group("h")),
        int(m.group("mi")),
        int(sec) if sec else 0,
        ampm_is_pm(marker) if marker else None,
    )


INVALID_DATE = (0, 0, 0)  # date-cache sentinel: "not computed yet"


class TimestampBuilder:
    """Header date + clock -> naive local datetime for one date order (dates cached)."""

    def __init__(self, order: str) -> None:
        if order not in ORDERS:
            raise ValueError(f"date_order must be one of {ORDERS}, not {order!r}")
        self.order = order
        self._dates: dict[str, tuple[int, int, int] | None] = {}

    def when(self, date: str, clock: Clock) -> datetime:
        """The timestamp, or INVALID when the date or the time is impossible."""
        ymd = self._dates.get(date, INVALID_DATE)
        if ymd is INVALID_DATE:
            a, b, c, _ = date_parts(date)
            ymd = self._dates[date] = to_ymd(a, b, c, self.order)
        if ymd is None:
            return INVALID
        hour, minute, second, pm = clock
        if pm is not None:
            if hour > 12:
                return INVALID
            hour = hour % 12 + (12 if pm else 0)
        if hour > 23 or minute > 59 or second > 59:
            return INVALID
        return datetime(ymd[0], ymd[1], ymd[2], hour, minute, second)


# What a header line says, cached per distinct header text: (style, date, ampm, when).
# style: "tb" | "td" | "tc" | "tsp" (see the module docstring); date: as written, for
# date-order detection; ampm: a marker was present; when: INVALID when impossible in the
# date order, or when no order is known yet (pass 1). A plain tuple, as for Clock.
Head = tuple[str, str, bool, datetime]
# Final literals, so that type checkers know what head[STYLE] etc. hold.
STYLE: Final = 0
DATE: Final = 1
AMPM: Final = 2
WHEN: Final = 3


# The text that ends a header of each style (the cache keys end with it), and back.
STYLE_END = {"tb": "] ", "td": " - ", "tc": ": "}
END_STYLE = {v: k for k, v in STYLE_END.items()}
_CACHE_LIMIT = 100_000


class _Pieces:
    """Date and time pieces seen in valid headers of one style (see the module docstring)."""

    __slots__ = ("dates", "joiners", "style", "times")

    def __init__(self, style: str) -> None:
        self.style = style
        self.dates: dict[str, str] = {}  # raw text up to the date's end -> the date as captured
        self.times: dict[str, Clock] = {}  # raw text from the time to the end marker -> clock
        self.joiners: list[str] = []  # raw text between the two


class HeaderScanner:
    """Find the header at the start of a line: header-text cache, then pieces, then regex."""

    def __init__(self, builder: TimestampBuilder | None = None) -> None:
        self.builder = builder
        self.cache: dict[str, Head] = {}
        self._pieces: dict[str, _Pieces] = {}

    def scan(self, line: str, end: str) -> tuple[Head, int] | None:
        """(head, body offset) for ``line``, or None; ``end`` is the expected header end.

        One function on purpose: it runs for every new minute of a file, and calls are dear.
        """
        k = line.find(end, 0, _SLOW_SPAN)
        pieces = self._pieces.get(end)
        if k >= 0 and pieces is not None:
            at = k + len(end)
            key = line[:at]
            head = self.cache.get(key)
            if head is not None:
                return head, at
            for joiner in pieces.joiners:
                j = line.find(joiner, 0, k)
                if j < 0:
                    continue
                date = pieces.dates.get(line[:j])
                clock = pieces.times.get(line[j + len(joiner) : k])
                if date is not None and clock is not None:
                    when = self.builder.when(date, clock) if self.builder is not None else INVALID
                    head = (pieces.style, date, clock[3] is not None, when)
                    self._store(key, head)
                    return head, at
        return self.scan_slow(line)

    def scan_slow(self, line: str) -> tuple[Head, int] | None:
        """The regex path; teaches both caches when the header ends at its style's marker."""
        found = match_header(line)
        if found is None:
            return None
        m, offset = found
        style = m.lastgroup or "tsp"
        date, clock = m.group("date"), clock_of(m)
        head = self._head(style, date, clock)
        end = STYLE_END.get(style)
        # Only a match on the line itself (not on the copy without marks) has usable spans.
        if end is not None and m.string is line and line.find(end, 0, _SLOW_SPAN) + len(end) == offset:
            self._store(line[:offset], head)
            self._learn(m, offset - len(end), end, date, clock)
        return head, offset

    def _head(self, style: str, date: str, clock: Clock) -> Head:
        when = self.builder.when(date, clock) if self.builder is not None else INVALID
        return style, date, clock[3] is not None, when

    def _store(self, key: str, head: Head) -> None:
        if len(self.cache) > _CACHE_LIMIT:
            self.cache.clear()  # bounded memory on second-resolution iOS files
        self.cache[key] = head

    def _learn(self, m: re.Match[str], k: int, end: str, date: str, clock: Clock) -> None:
        line = m.string
        d_end = m.end("date")
        t_start = m.start("pre") if m.group("pre") else m.start("h")
        pieces = self._pieces.get(end)
        if pieces is None:
            pieces = self._pieces[end] = _Pieces(END_STYLE[end])
        joiner = line[d_end:t_start]
        if joiner not in pieces.joiners and len(pieces.joiners) < 4:
            pieces.joiners.append(joiner)
        if len(pieces.dates) < _CACHE_LIMIT:
            pieces.dates[line[:d_end]] = date
        if len(pieces.times) < _CACHE_LIMIT:
            pieces.times[line[t_start:k]] = clock
