"""Pass 1: look at every header once, before any message is built.

Design: the facts a parse needs up front cannot be known from the first lines — the date
order may only be settled by a day > 12 in month nine, and ``ParsedChat.participants`` lists
senders in order of first appearance. So the whole file is read once, cheaply. Statistics are
kept per header *style* (see ``headers``) because a file has one; the dominant style wins, and
lines of other styles are text in pass 2.

Speed: up to the first header, lines are examined one by one (that is also where a file is
declared not an export: ``NotAnExport`` when none of its first ``HEAD_LINES`` non-empty lines
is a header, without reading further). From there on each block is cut with one
``blocks.splitter`` regex, and the common lines — a trusted header of the file's style, a
plain sender, a body that cannot be system text — are summarised column-wise with C-level
tools: ``collections.Counter`` for the clock, ``itertools.groupby`` for the dates as they
change, ``dict.fromkeys`` for senders in order of appearance. Python looks only at the few
other lines ("events": system lines, marked bodies, quoted senders, lines the regex could not
vouch for), one by one, in file order, with the same code as the first lines; the plain runs
between two events are summarised in between, so every order-dependent result (date changes,
first appearances) is exactly what a line-by-line reading gives.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import compress, groupby, repeat
from operator import is_, or_
from typing import BinaryIO

from onfile.imports.records import KIND_SYSTEM

from . import locales
from .blocks import Pieces, first_line, splitter
from .bodies import MARK_START, PREFIX_HEADS, QUOTE, SHORTEST_QUOTING, classify, split_sender
from .errors import NotAnExport
from .headers import AMPM, DATE, HEAD_START, INVALID, STYLE, STYLE_END, Head, HeaderScanner, match_header
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
        parts = splitter(self.fast).split(text)
        ds, ts, ss, segs = parts[1::4], parts[2::4], parts[3::4], parts[4::4]
        n = len(ds)
        # Events: (index, line, trusted header?) for the lines read one by one, in order.
        events: list[tuple[int, str, bool]] = []
        dd = list(map(pieces.dates.get, ds))
        tt = list(map(pieces.times.get, ts))
        if None in dd or None in tt:  # new pieces, refuted pieces, or a "maybe" line
            if pieces.learn_block(ds, ts, ss, segs):
                dd = list(map(pieces.dates.get, ds))
                tt = list(map(pieces.times.get, ts))
            for i in compress(range(n), map(or_, map(is_, dd, repeat(None)), map(is_, tt, repeat(None)))):
                events.append((i, first_line(ds[i], ts[i], ss[i], segs[i]), False))
                ds[i] = ts[i] = ss[i] = None  # out of the column summaries
        if None in ss:  # trusted headers without a plain sender: system lines, marked bodies
            rare = compress(range(n), map(is_, ss, repeat(None)))
            events.extend((i, first_line(ds[i], ts[i], None, segs[i]), True) for i in rare if ds[i] is not None)
        plain = self.stats[self.fast]
        for s in [s for s in dict.fromkeys(ss) if s is not None and _is_quoted(s)]:
            # A quoted would-be sender: probably system text (see bodies.split_sender).
            at = [i for i, x in enumerate(ss) if x == s]
            events.extend((i, first_line(ds[i], ts[i], s, segs[i]), True) for i in at)
            for i in at:
                ss[i] = None
        events.sort()
        # Order-free sums over the whole block (events that are trusted headers included).
        clocks = Counter(ts)
        clocks.pop(None, None)
        plain.count += sum(clocks.values())
        times = pieces.times
        plain.ampm += sum(c for t, c in clocks.items() if times[t][3] is not None)  # type: ignore[index]
        # Order-dependent summaries, run by run between events.
        a = 0
        for e, line, trusted in [*events, (n, "", False)]:
            if e > a:
                self.run(plain, ds[a:e], ss[a:e])
            if e < n:
                self.event(line, ds[e] if trusted else None, ts[e] if trusted else None)
            a = e + 1

    def run(self, st: StyleStats, ds: list[str | None], ss: list[str | None]) -> None:
        dates = self.pieces.dates
        for d, _ in groupby(ds):
            date = dates.get(d) if d is not None else None
            if date is not None and date != st.last_date and len(st.dates) < _MAX_DATES:
                st.last_date = date
                st.dates.append(date)
        for s in dict.fromkeys(ss):
            if s is not None and s not in st.senders and len(st.senders) < _MAX_SENDERS:
                st.senders[s] = None

    def event(self, line: str, d: str | None, t: str | None) -> None:
        if d is not None and t is not None:
            # A trusted header (already counted) whose sender part needs the exact code.
            st = self.stats[self.fast]
            date = self.pieces.dates[d]
            if date is not None and date != st.last_date and len(st.dates) < _MAX_DATES:
                st.last_date = date
                st.dates.append(date)
            self.sender(st, line, len(d) + len(t))
            return
        found = self.scan(line)
        if found is not None:
            self.header(found[0], line, found[1])


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


def _rare_line(st: StyleStats, rest: str) -> None:
    """A header line without a plain sender: system text, or a sender with a marked body."""
    sender, body = split_sender(rest)
    info = classify(body, sender is not None)
    if info.kind == KIND_SYSTEM:
        _system_line(st, sender, info.system_event, info.text)
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


__all__ = ["INVALID", "Survey", "StyleStats", "has_header", "survey_export"]
