"""Whole-block header recognition: one C-level ``re.split`` per block instead of a loop per line.

Design
- ``splitter(style)`` compiles, for the file's header style, a regex whose every match starts
  at a ``"\\n"`` (a block is ``"\\n" + lines``, see ``reader``), so the C engine jumps from
  newline to newline and Python never loops over lines. ``split`` returns, per match, the
  groups ``(date piece, time piece, sender)`` and the text up to the next match — for a
  message, the body with its continuation lines. The list is read column-wise with slices
  (``parts[1::4]`` …), which costs nothing per message.
- The fast alternative recognises only the common shapes (ASCII digits, a plain space, the
  usual end markers) and is deliberately loose inside them: it is not trusted. A *piece*
  (the text up to the date's end, or from there to the end marker) is trusted once the full
  ``headers.HEADER`` regex has parsed a line containing it to exactly the same split, and the
  result (the date as written; the clock) is cached. This is the piece argument of
  ``headers`` made block-wide: the header grammar parses the date piece and the time piece
  independently (the joiner's comma or space forces the split, and every end marker used
  here — ``" - "``, ``"] "``, ``": "`` — is closed, so nothing after it can change the
  match). There are only as many pieces as days and minutes (or seconds) of a day.
- Every other line that *could* be a header — it starts with a character of ``HEAD_START``
  and either has a date-like start or an invisible mark in its first 96 characters (the two
  ways ``match_header`` can succeed) — matches the empty ``maybe`` alternative, with no
  groups, so the caller re-checks that one line with the exact per-line code. Lines that can
  be neither stay inside the segment text, as continuation lines.
- The sender group is the text before the first ``": "`` of the header line, captured only
  when the body cannot be a marker or system text (no leading invisible mark or ``<``, no
  known system prefix): exactly the condition under which both passes take their plain path.
"""

from __future__ import annotations

import re

from . import locales
from .headers import _I, _S, HEADER, INVISIBLE, Clock, clock_of

# A trusted piece maps to its value; a refuted one to BAD; an unknown one is absent.
BAD = None

_DATE = r"[0-9][0-9/.\-]{3,11}"
_FAST = {
    # style: (date piece, time piece). The time piece ends with the style's end marker.
    "td": (_DATE, r",? [^\n]{3,40}? - "),
    "tc": (_DATE, r",? [^\n]{3,40}?: "),
    "tb": (r"\u200e?\[" + _DATE, r",? [^\n\]]{3,40}\] "),
}
_SENDER = r"(?>[^\n:]*(?::(?! )[^\n:]*)*)"  # up to the first ": " of the line (atomic: no retries)
_PLAIN_BODY = "(?![" + INVISIBLE + "<]|" + "|".join(re.escape(p) for p in locales.SYSTEM_PREFIXES) + ")"
# A line match_header might accept: a date-like start, or a mark within its first 96 characters.
_MAYBE = rf"(?=[0-9\[{INVISIBLE}])(?={_I}*\[?{_I}*\d{{1,4}}[/.\-]{_S}?\d|[^\n]{{0,95}}?{_I})"
_NEVER = r"(?!)()()()"  # same groups as the fast alternative, for styles without one

_CACHE_LIMIT = 200_000
_ZEROS = str.maketrans("0123456789", "0000000000")
_SPLITTERS: dict[str, re.Pattern[str]] = {}


def splitter(style: str) -> re.Pattern[str]:
    """The block regex for header style ``style`` (groups: date piece, time piece, sender)."""
    pattern = _SPLITTERS.get(style)
    if pattern is None:
        pieces = _FAST.get(style)
        fast = rf"({pieces[0]})({pieces[1]})(?:({_SENDER}): {_PLAIN_BODY})?" if pieces else _NEVER
        pattern = _SPLITTERS[style] = re.compile(rf"\n(?:{fast}|{_MAYBE})")
    return pattern


class Pieces:
    """Trusted date and time pieces of one header style (see the module docstring)."""

    __slots__ = ("dates", "shapes", "style", "times")

    def __init__(self, style: str) -> None:
        self.style = style
        self.dates: dict[str, str | None] = {}  # date piece -> the date as written, or BAD
        self.times: dict[str, Clock | None] = {}  # time piece -> clock, or BAD
        # Trusted time pieces with their digits zeroed -> where hour, minute and second are
        # (and AM/PM). The regex treats all ASCII digits alike, so a time piece of a known
        # shape parses the same way: iOS files have up to 86,400 time pieces (seconds), and
        # this spares the full regex for all but one of each shape.
        self.shapes: dict[str, tuple[int, int, int, int, int, int, bool | None]] = {}

    def trim(self) -> bool:
        """Forget everything when the caches grew too big (adversarial input); call between
        blocks only, so that a block's lookups stay consistent. True when it did."""
        if len(self.dates) + len(self.times) <= _CACHE_LIMIT:
            return False
        self.dates.clear()
        self.times.clear()
        self.shapes.clear()
        return True

    def learn_block(self, ds: list[str], ts: list[str], ss: list[str], segs: list[str]) -> bool:
        """Try each piece of a split block not seen before once, on its first line (set
        operations find them without a loop over the lines); True if there was any."""
        new_dates = dict.fromkeys(ds).keys() - self.dates.keys()
        new_dates.discard(None)  # type: ignore[arg-type]
        new_times = dict.fromkeys(ts).keys() - self.times.keys()
        new_times.discard(None)  # type: ignore[arg-type]
        if not new_dates and not new_times:
            return False
        # The first line of each new piece: dict() keeps the last value given for a key, so
        # feeding the indices backwards leaves the first one (all in C).
        first_d = dict(zip(reversed(ds), range(len(ds) - 1, -1, -1)))
        first_t = dict(zip(reversed(ts), range(len(ts) - 1, -1, -1)))
        for i in sorted({first_d[d] for d in new_dates} | {first_t[t] for t in new_times}):
            d, t = ds[i], ts[i]
            if d not in self.dates or t not in self.times:
                self.learn(first_line(d, t, ss[i], segs[i]), d, t)
        return True

    def learn(self, line: str, d: str, t: str) -> None:
        """Check pieces ``d`` + ``t`` (which start ``line``) against the full header regex.

        A refuted pair is blamed on one piece only when the other is already trusted (then
        that one piece is wrong whatever it is paired with); otherwise nothing is cached and
        the line simply takes the exact path.
        """
        if self.dates.get(d) is not None and t not in self.times:
            shape = self.shapes.get(t.translate(_ZEROS))
            if shape is not None:
                self.times[t] = _clock(t, shape)
                return
        m = HEADER.match(line)
        if (
            m is not None
            and m.end() == len(d) + len(t)
            and m.end("date") == len(d)
            and (m.lastgroup or "tsp") == self.style
        ):
            self.dates[d] = m.group("date")
            self.times[t] = clock = clock_of(m)
            k = len(d)
            sec = m.span("sec") if m.group("sec") else (k, k)
            h, mi = m.span("h"), m.span("mi")
            self.shapes[t.translate(_ZEROS)] = (h[0] - k, h[1] - k, mi[0] - k, mi[1] - k, sec[0] - k, sec[1] - k, clock[3])
        elif self.dates.get(d) is not None:
            self.times[t] = BAD
        elif self.times.get(t) is not None:
            self.dates[d] = BAD


def first_line(d: str | None, t: str | None, s: str | None, seg: str) -> str:
    """The first line of a ``split`` match, put together again."""
    first = seg.partition("\n")[0]
    if d is None:
        return first  # a "maybe" line: no groups
    return f"{d}{t}{s}: {first}" if s is not None else f"{d}{t}{first}"


def _clock(t: str, shape: tuple[int, int, int, int, int, int, bool | None]) -> Clock:
    h0, h1, m0, m1, s0, s1, pm = shape
    return int(t[h0:h1]), int(t[m0:m1]), int(t[s0:s1]) if s1 > s0 else 0, pm
