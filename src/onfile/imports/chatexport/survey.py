"""Pass 1: look at every header once, before any message is built.

Design: the facts a parse needs up front cannot be known from the first lines — the date
order may only be settled by a day > 12 in month nine, and ``ParsedChat.participants`` lists
senders in order of first appearance. So the whole file is read once, cheaply. Statistics are
kept per header *style* (see ``headers``) because a file has one; the dominant style wins, and
lines of other styles are text in pass 2.

Speed: up to the first header, lines are examined one by one (that is also where a file is
declared not an export: ``NotAnExport`` when none of its first ``HEAD_LINES`` non-empty lines
is a header, without reading further). From there on each block is cut with one
``blocks.splitter`` regex (naming the senders known so far), and the common lines — a trusted
header of the file's style, a known sender, a body that cannot be system text — are
summarised column-wise in C: set operations find new pieces and odd lines, ``map`` over a set
counts the AM/PM clocks, ``itertools.groupby`` gives the dates as they change. Python looks
only at the few other lines ("events": system lines, marked bodies, quoted or new senders,
lines the regex could not vouch for), one by one, in file order, with the same code as the
first lines. When an event could change an order-dependent result (a header of this style
the regex missed, a new plain sender), the block is summarised run by run between events
instead, so date changes and first appearances are exactly those of a line-by-line reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import BinaryIO

from onfile.imports.records import KIND_SYSTEM

from . import locales
from .blocks import COL_DATE, COL_SEGMENT, COL_SENDER, COL_TIME, MAX_KNOWN, STRIDE, Pieces, first_line, splitter, where
from .bodies import MARK_START, PREFIX_HEADS, QUOTE, SHORTEST_QUOTING, classify, split_sender
from .errors import NotAnExport
from .headers import AMPM, DATE, HEAD_START, STYLE, STYLE_END, Head, HeaderScanner, match_header
from .locales import SYSTEM_PREFIXES
from .reader import read_blocks

HEAD_LINES = 200  # non-empty lines searched for a first header before giving up
MAX_ANOMALY_LINES = 50  # invalid-UTF-8 line numbers listed one by one on the chat
_MAX_DATES = 1_000_000  # date changes kept for order detection (days, in practice)
_MAX_SENDERS = 100_000
_QUOTED = re.compile(r"[\"“„«]([^\"“”„«»]+)[\"”“»]")


@dataclass(slots=True)
class StyleStats:
    """What pass 1 learnt from the headers of one style."""

    count: int = 0
    ampm: int = 0
    dates: list[str] = field(default_factory=list)  # the date each time it changes, file order
    last_date: str = ""  # the last date appended to ``dates``
    senders: dict[str, None] = field(default_factory=dict)  # participants, first appearance order
    group_event: bool = False
    group_name: str | None = None  # from an iOS pseudo-sender or a quoted group name


@dataclass(slots=True)
class Survey:
    """Pass 1's result."""

    style: str
    stats: StyleStats
    first_header_line: int
    skipped_lines: int  # non-empty lines before the first header
    other_styles: int  # header-like lines in another style (text in pass 2)
    invalid_lines: list[int]
    invalid_count: int
    pieces: Pieces | None = None  # the trusted header pieces, for pass 2 to reuse


class _Surveyor:
    def __init__(self) -> None:
        self.scanner = HeaderScanner()
        self.stats: dict[str, StyleStats] = {}
        self.first_header = 0
        self.skipped = 0
        self.fast = ""  # the style the block regex is built for: the first header's
        self.pieces = Pieces("")

    def header(self, head: Head, line: str, at: int) -> None:
        """One header line, the exact way (also the reference for the block summaries)."""
        st = self.stats.get(head[STYLE])
        if st is None:
            st = self.stats[head[STYLE]] = StyleStats()
        st.count += 1
        if head[AMPM]:
            st.ampm += 1
        if head[DATE] != st.last_date and len(st.dates) < _MAX_DATES:
            st.last_date = head[DATE]
            st.dates.append(head[DATE])
        self.sender(st, line, at)

    @staticmethod
    def sender(st: StyleStats, line: str, at: int) -> None:
        i = line.find(": ", at)
        # The common case, tested without slicing the body: a sender (no quote in it, see
        # bodies.quoted_sender), and a body that cannot be system text (no iOS mark, no
        # known prefix). ``blocks`` encodes the same test in its regex.
        if (
            i >= 0
            and (i - at <= SHORTEST_QUOTING or QUOTE.search(line, at, i) is None)
            and line[i + 2 : i + 3] not in MARK_START
            and (line[i + 2 : i + 6] not in PREFIX_HEADS or not line.startswith(SYSTEM_PREFIXES, i + 2))
        ):
            sender = line[at:i]
            if sender not in st.senders and len(st.senders) < _MAX_SENDERS:
                st.senders[sender] = None
        else:
            _rare_line(st, line[at:])

    def scan(self, line: str) -> tuple[Head, int] | None:
        if line and line[0] in HEAD_START:
            return self.scanner.scan(line, STYLE_END.get(self.fast, " - "))
        return None

    def head(self, lines: list[str], first: int) -> int:
        """Lines before the first header, one by one; the index of the first header, or -1."""
        for k, line in enumerate(lines):
            found = self.scan(line)
            if found is None:
                if line.strip():
                    self.skipped += 1
                    if self.skipped >= HEAD_LINES:
                        raise NotAnExport(f"no WhatsApp message header in the first {HEAD_LINES} lines")
                continue
            self.first_header = first + k
            self.fast = found[0][STYLE]
            self.pieces = Pieces(self.fast)
            self.header(found[0], line, found[1])
            return k
        return -1

    def block(self, text: str) -> None:
        """Summarise a block of lines after the first header (see the module docstring)."""
        pieces = self.pieces
        pieces.trim()
        st = self.stats[self.fast]
        known = tuple(st.senders) if len(st.senders) <= MAX_KNOWN else ()
        parts = splitter(self.fast, head=False, known=known).split(text)
        ds: list[str | None] = parts[COL_DATE::STRIDE]
        ts: list[str | None] = parts[COL_TIME::STRIDE]
        ss: list[str | None] = parts[COL_SENDER::STRIDE]
        segs: list[str] = parts[COL_SEGMENT::STRIDE]
        del parts
        n = len(ds)
        dset, tset, sset = set(ds), set(ts), set(ss)  # each column's values, once
        pieces.learn_block(ds, ts, ss, segs, (dset, tset))
        # Lines the pieces cannot vouch for ("maybe" lines, refuted pieces): judged one by
        # one, first, and out of the column summaries. Most are not headers at all, and a
        # header of another style has statistics of its own, so order does not matter for
        # them; a header of this file's style does (dates, senders), see ``ordered``.
        odd = where(ds, None) | where(ts, None)
        for piece, column in (((dset - pieces.dates.keys()) | (dset & pieces.refuted), ds),
                              ((tset - pieces.times.keys()) | (tset & pieces.refuted), ts)):
            for x in piece - {None}:
                odd |= where(column, x)
        ordered: list[tuple[int, str, Head | None, int]] = []  # this style's, in order
        for i in sorted(odd):
            line = first_line(ds[i], ts[i], ss[i], segs[i])
            ds[i] = ts[i] = ss[i] = None
            found = self.scan(line)
            if found is not None:
                if found[0][STYLE] == self.fast:
                    ordered.append((i, line, found[0], found[1]))
                else:
                    self.header(found[0], line, found[1])
        # Trusted headers without a plain sender (system lines, marked bodies, quoted would-be
        # senders): their sender part is judged one by one.
        rare = where(ss, None) - odd
        for s in [s for s in sset if s is not None and _is_quoted(s)]:
            rare |= where(ss, s)
        for i in rare:
            d, t = ds[i], ts[i]
            assert d is not None and t is not None
            ordered.append((i, first_line(d, t, ss[i], segs[i]), None, len(d) + len(t)))
            ss[i] = None
        ordered.sort(key=itemgetter(0))
        # Order-free sums (rare lines included: they are trusted headers of this style).
        st.count += n - len(odd)
        if not pieces.ampm.isdisjoint(tset):
            st.ampm += sum(map(pieces.ampm.__contains__, ts))
        if not any(head for _, _, head, _ in ordered) and sset <= st.senders.keys() | {None}:
            # No header of this style to fit in and no new plain sender: the dates of the whole
            # block at once, then the rare lines' senders in their order.
            self.dates(st, ds)
            for _, line, _, at in ordered:
                self.sender(st, line, at)
            return
        # Otherwise run by run between those lines, so every first appearance is in order.
        a = 0
        for e, line, head, at in [*ordered, (n, "", None, 0)]:
            if e > a:
                self.dates(st, ds[a:e])
                for name in dict.fromkeys(ss[a:e]):
                    if name is not None and name not in st.senders and len(st.senders) < _MAX_SENDERS:
                        st.senders[name] = None
            if e < n:
                if head is not None:
                    self.header(head, line, at)
                else:
                    d = ds[e]
                    assert d is not None
                    self.dates(st, [d])
                    self.sender(st, line, at)
            a = e + 1

    def dates(self, st: StyleStats, ds: list[str | None]) -> None:
        """The date changes among the trusted date pieces ``ds`` (None: skipped)."""
        dates = self.pieces.dates
        for d, _ in groupby(ds):
            date = dates.get(d) if d is not None else None
            if date is not None and date != st.last_date and len(st.dates) < _MAX_DATES:
                st.last_date = date
                st.dates.append(date)


def _is_quoted(sender: str) -> bool:
    return len(sender) > SHORTEST_QUOTING and QUOTE.search(sender) is not None


def survey_export(stream: BinaryIO) -> Survey:
    """Read the whole stream once (from its current position) and summarise its headers."""
    surveyor = _Surveyor()
    invalid: list[int] = []
    invalid_count = 0
    for block in read_blocks(stream):
        if block.bad:
            invalid_count += len(block.bad)
            invalid.extend(block.bad[: max(0, MAX_ANOMALY_LINES - len(invalid))])
        text = block.text
        if not surveyor.first_header:
            lines = block.lines
            k = surveyor.head(lines, block.first)
            if k < 0:
                continue
            text = "\n" + "\n".join(lines[k + 1 :]) if k + 1 < len(lines) else ""
        if text:
            surveyor.block(text)
    if not surveyor.first_header:
        raise NotAnExport("no WhatsApp message header found")
    stats = surveyor.stats
    style = max(stats, key=lambda s: stats[s].count)
    return Survey(
        style=style,
        stats=stats[style],
        first_header_line=surveyor.first_header,
        skipped_lines=surveyor.skipped,
        other_styles=sum(s.count for k, s in stats.items() if k != style),
        invalid_lines=invalid,
        invalid_count=invalid_count,
        pieces=surveyor.pieces,
    )


# What a rare line says, by its text after the header: the same few texts ("image omitted",
# "This message was deleted.") come back all the time, and classifying one costs dozens of µs.
_RARE: dict[str, tuple[str | None, bool, str | None, str]] = {}


def _rare_line(st: StyleStats, rest: str) -> None:
    """A header line without a plain sender: system text, or a sender with a marked body."""
    known = _RARE.get(rest)
    if known is None:
        sender, body = split_sender(rest)
        info = classify(body, sender is not None)
        if len(_RARE) >= 4096:
            _RARE.clear()
        known = _RARE[rest] = (sender, info.kind == KIND_SYSTEM, info.system_event, info.text)
    sender, system, event, text = known
    if system:
        _system_line(st, sender, event, text)
    elif sender is not None and sender not in st.senders:
        st.senders[sender] = None  # a call, an attachment: a real participant


def _system_line(st: StyleStats, sender: str | None, event: str | None, text: str) -> None:
    if event not in locales.GROUP_EVENTS:
        return
    st.group_event = True
    if sender is not None:
        st.group_name = sender  # iOS attributes group system lines to the group's name
    elif event in ("group_created", "group_renamed"):
        names = _QUOTED.findall(text)
        if names:
            st.group_name = names[-1].strip()


def has_header(stream: BinaryIO) -> bool:
    """Whether one of the first ``HEAD_LINES`` non-empty lines of ``stream`` is a message header."""
    seen = 0
    for block in read_blocks(stream, 1 << 16):
        for line in block.lines:
            if line and line[0] in HEAD_START and match_header(line) is not None:
                return True
            if line.strip():
                seen += 1
                if seen >= HEAD_LINES:
                    return False
    return False


__all__ = ["StyleStats", "Survey", "has_header", "survey_export"]
