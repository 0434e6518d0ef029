"""Whole-block header recognition: one C-level ``re.split`` per block instead of a loop per line.

Design
- ``splitter(style)`` compiles, for the file's header style, a regex whose every match starts
  at a ``"\\n"`` (a block is ``"\\n" + lines``, see ``reader``), so the C engine jumps from
  newline to newline and Python never loops over lines. ``split`` returns, per match, the
  groups ``(head, date piece, time piece, sender)`` and the text up to the next match — for
  a message, the body with its continuation lines. The list is read column-wise with slices
  (``parts[COL_DATE::STRIDE]`` …), which costs nothing per message. Two more groups carry
  body facts the C engine sees in passing (a refused last character, a whole-text marker),
  so that deciding which messages are plain needs no pass over the bodies.
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
from collections.abc import Iterable, Sequence
from itertools import repeat

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


def _trie(words: Iterable[str]) -> str:
    """An alternation of ``words`` factored by common prefixes: the engine then rejects a
    non-matching text on its first character or so instead of trying every word."""
    tree: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:  # type: ignore[type-arg]
        alts = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 and "" not in node else "(?:" + "|".join(alts) + ")"
        return body + "?" if "" in node else body

    return emit(tree)


# After "Name: ": a body that can be neither a marker nor system text (bodies.is_plain's first
# tests). Other body facts are cheaper to test in bulk than in this regex.
_PLAIN_BODY = "(?![" + INVISIBLE + "<]|" + _trie(locales.SYSTEM_PREFIXES) + ")"
# A line match_header might accept: a date-like start, or a mark within its first 96 characters.
_MAYBE = rf"(?=[0-9\[{INVISIBLE}])(?={_I}*\[?{_I}*\d{{1,4}}[/.\-]{_S}?\d|[^\n]{{0,95}}?{_I})"
_NEVER = r"(?!)()()()()"  # same groups as the fast alternative, for styles without one

# split() columns: parts[k::STRIDE] for each group, the text that follows a match last.
STRIDE = 5
COL_HEAD, COL_DATE, COL_TIME, COL_SENDER, COL_SEGMENT = range(1, STRIDE + 1)

_CACHE_LIMIT = 200_000
_ZEROS = str.maketrans("0123456789", "0000000000")
_SPLITTERS: dict[tuple[str, bool, tuple[str, ...]], re.Pattern[str]] = {}
MAX_KNOWN = 200  # senders named in a block regex; beyond, the generic sender pattern


def splitter(style: str, head: bool = True, known: tuple[str, ...] = ()) -> re.Pattern[str]:
    """The block regex for header style ``style``. Groups (see the column constants): the
    header line up to the body (for ``raw`` without joining pieces; with ``head=False`` an
    empty group, which costs less), date piece, time piece, sender.

    ``known`` senders (at most ``MAX_KNOWN``) replace the generic sender pattern by their
    alternation, factored into a trie: cheaper for the engine than scanning up to ": " with
    a character class. A sender holds no ": ", so a known sender followed by ": " is exactly
    the text before the line's first ": ". Any other sender leaves the group empty, and the
    caller takes the exact path for that line (and may learn the sender for later blocks).
    """
    key = (style, head, known)
    pattern = _SPLITTERS.get(key)
    if pattern is None:
        pieces = _FAST.get(style)
        sender = _trie(known) if known else _SENDER
        fast = rf"({pieces[0]})({pieces[1]})(?:({sender}): {_PLAIN_BODY})?" if pieces else _NEVER
        fast = f"({fast})" if pieces and head else f"(){fast}" if pieces else fast
        if len(_SPLITTERS) >= 16:
            _SPLITTERS.pop(next(iter(_SPLITTERS)))
        pattern = _SPLITTERS[key] = re.compile(rf"\n(?:{fast}|{_MAYBE})")
    return pattern


class Pieces:
    """Trusted date and time pieces of one header style (see the module docstring)."""

    __slots__ = ("ampm", "dates", "refuted", "shapes", "style", "times")

    def __init__(self, style: str) -> None:
        self.style = style
        self.dates: dict[str, str | None] = {}  # date piece -> the date as written, or BAD
        self.times: dict[str, Clock | None] = {}  # time piece -> clock, or BAD
        # Trusted time pieces with their digits zeroed -> where hour, minute and second are
        # (and AM/PM). The regex treats all ASCII digits alike, so a time piece of a known
        # shape parses the same way: iOS files have up to 86,400 time pieces (seconds), and
        # this spares the full regex for all but one of each shape.
        self.shapes: dict[str, tuple[int, int, int, int, int, int, bool | None]] = {}
        # Sets beside the dicts, so that callers test whole columns with set operations:
        self.ampm: set[str] = set()  # trusted time pieces with an AM/PM marker
        self.refuted: set[str] = set()  # pieces mapped to BAD

    def trim(self) -> bool:
        """Forget everything when the caches grew too big (adversarial input); call between
        blocks only, so that a block's lookups stay consistent. True when it did."""
        if len(self.dates) + len(self.times) <= _CACHE_LIMIT:
            return False
        for cache in (self.dates, self.times, self.shapes, self.ampm, self.refuted):
            cache.clear()
        return True

    def learn_block(
        self,
        ds: Sequence[str | None],
        ts: Sequence[str | None],
        ss: Sequence[str | None],
        segs: Sequence[str],
        distinct: tuple[set[str | None], set[str | None]] | None = None,
    ) -> bool:
        """Try every piece of a split block (columns) never tried before, each once, on its
        first line. Set operations find them (``distinct``: the columns' sets, if the caller
        has them), so a block of known pieces costs no loop; True if there was any."""
        dset, tset = distinct or (set(ds), set(ts))
        new_dates = dset - self.dates.keys()
        new_times = tset - self.times.keys()
        new_dates.discard(None)
        new_times.discard(None)
        if not new_dates and not new_times:
            return False
        self._by_shape(new_times)
        for i in sorted(_first_indices(ds, new_dates)):
            d, t = ds[i], ts[i]
            assert d is not None and t is not None
            self.learn(first_line(d, t, ss[i], segs[i]), d, t)
        self._by_shape(new_times)
        while new_times:  # of new shapes: learn one on its line, and its shape for the rest
            t = new_times.pop()
            i = ts.index(t)
            d = ds[i]
            assert t is not None and d is not None
            if t not in self.times:
                self.learn(first_line(d, t, ss[i], segs[i]), d, t)
            self._by_shape(new_times)
        return True

    def _by_shape(self, new_times: set[str | None]) -> None:
        """Trust the time pieces of a known shape (see __init__); remove them from the set."""
        shapes, times, ampm = self.shapes, self.times, self.ampm
        todo = [t for t in new_times if t is not None and t not in times]
        for t, shape in zip(todo, map(shapes.get, map(str.translate, todo, repeat(_ZEROS))), strict=True):
            if shape is not None:
                times[t] = clock = _clock(t, shape)
                if clock[3] is not None:
                    ampm.add(t)
        for t in [t for t in new_times if t in times]:
            new_times.discard(t)

    def learn(self, line: str, d: str, t: str) -> None:
        """Check pieces ``d`` + ``t`` (which start ``line``) against the full header regex.

        A refuted pair is blamed on one piece only when the other is already trusted (then
        that one piece is wrong whatever it is paired with); otherwise nothing is cached and
        the line simply takes the exact path.
        """
        if self.dates.get(d) is not None and t not in self.times:
            shape = self.shapes.get(t.translate(_ZEROS))
            if shape is not None:
                self.times[t] = clock = _clock(t, shape)
                if clock[3] is not None:
                    self.ampm.add(t)
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
            if clock[3] is not None:
                self.ampm.add(t)
            k = len(d)
            (h0, h1), (m0, m1) = m.span("h"), m.span("mi")
            s0, s1 = m.span("sec") if m.group("sec") else (k, k)
            zeroed = t.translate(_ZEROS)
            digits = zeroed[h0 - k : h1 - k] + zeroed[m0 - k : m1 - k] + zeroed[s0 - k : s1 - k]
            if digits == "0" * len(digits):  # ASCII digits only (\d takes others): _clock reads them
                self.shapes[zeroed] = (h0 - k, h1 - k, m0 - k, m1 - k, s0 - k, s1 - k, clock[3])
        elif self.dates.get(d) is not None:
            self.times[t] = BAD
            self.refuted.add(t)
        elif self.times.get(t) is not None:
            self.dates[d] = BAD
            self.refuted.add(d)


def first_line(d: str | None, t: str | None, s: str | None, seg: str) -> str:
    """The first line of a ``split`` match, put together again."""
    first = seg.partition("\n")[0]
    if d is None:
        return first  # a "maybe" line: no groups
    return f"{d}{t}{s}: {first}" if s is not None else f"{d}{t}{first}"


def _clock(t: str, shape: tuple[int, int, int, int, int, int, bool | None]) -> Clock:
    h0, h1, m0, m1, s0, s1, pm = shape
    return _NUMBER[t[h0:h1]], _NUMBER[t[m0:m1]], _NUMBER[t[s0:s1]] if s1 > s0 else 0, pm


# The values of one- and two-digit numbers (a shape's digits are ASCII, see Pieces): a dict
# lookup is several times cheaper than int().
_NUMBER = {**{str(i): i for i in range(10)}, **{f"{i:02d}": i for i in range(100)}}



def _first_indices(column: Sequence[str | None], values: set[str | None]) -> set[int]:
    """The index of the first occurrence of each of ``values`` in ``column``: ``list.index``
    for a few values; for many, one C-level pass that maps every value to its first index
    (dict() keeps the last value given for a key, so the indices are fed backwards)."""
    if len(values) < 32:
        return {column.index(v) for v in values}
    firsts = dict(zip(reversed(column), range(len(column) - 1, -1, -1), strict=True))
    return {firsts[v] for v in values}


def where(seq: Sequence[object], value: object) -> set[int]:
    """The indices of ``value`` in ``seq``: a C-level search per hit (hits are few)."""
    found: set[int] = set()
    i = -1
    try:
        while True:
            i = seq.index(value, i + 1)
            found.add(i)
    except ValueError:
        return found
