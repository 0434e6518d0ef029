"""Pass 1: look at every header line once, before any message is built.

Design: the facts a parse needs up front cannot be known from the first lines — the date
order may only be settled by a day > 12 in month nine, and ``ParsedChat.participants`` lists
senders in order of first appearance. So the whole file is read once, cheaply: only header
lines are examined, bodies are not classified unless they may be system text, and nothing
is kept per message. Statistics are kept per header *style* (see ``headers``) because a
file has one; the dominant style wins, and lines of other styles are text in pass 2.

The file is declared not an export (``NotAnExport``) when none of its first
``HEAD_LINES`` non-empty lines is a header, without reading further.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO

from onfile.imports.records import KIND_SYSTEM

from . import locales
from .bodies import MARK_START, PREFIX_HEADS, QUOTE, SHORTEST_QUOTING, classify, split_sender
from .errors import NotAnExport
from .headers import AMPM, DATE, HEAD_START, STYLE, STYLE_END, HeaderScanner, match_header
from .locales import SYSTEM_PREFIXES
from .reader import read_batches

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
    last_date: str = ""  # (only up to date when the style changes; pass 1 keeps it in a local)
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


def survey_export(stream: BinaryIO) -> Survey:
    """Read the whole stream once (from its current position) and summarise its headers.

    The loop is inlined (header-cache lookup, counting) because it runs for every line.
    """
    scanner = HeaderScanner()
    cache_get = scanner.cache.get
    stats: dict[str, StyleStats] = {}
    st = StyleStats()
    style = ""
    senders = st.senders
    dates = st.dates
    # The expected header end, from the latest header's style; a wrong guess only costs the
    # regex path, which recognises every style.
    end, endlen = " - ", 3
    invalid: list[int] = []
    invalid_count = first_header = skipped = lineno = at = 0
    last_date = ""
    for batch in read_batches(stream):
        if batch.bad:
            invalid_count += len(batch.bad)
            invalid.extend(sorted(batch.bad)[: max(0, MAX_ANOMALY_LINES - len(invalid))])
        for line in batch.lines:
            lineno += 1
            head = None
            if line and line[0] in HEAD_START:
                k = line.find(end, 0, 96)
                if k >= 0:
                    at = k + endlen
                    head = cache_get(line[:at])
                if head is None:
                    found = scanner.scan(line, end)
                    if found is not None:
                        head, at = found
            if head is None:
                if not first_header and line.strip():
                    skipped += 1
                    if skipped >= HEAD_LINES:
                        raise NotAnExport(f"no WhatsApp message header in the first {HEAD_LINES} lines")
                continue
            if head[STYLE] != style:
                first_header = first_header or lineno
                st.last_date = last_date
                style = head[STYLE]
                st = stats.setdefault(style, StyleStats())
                senders, dates, last_date = st.senders, st.dates, st.last_date
                end = STYLE_END.get(style, " - ")
                endlen = len(end)
            st.count += 1
            if head[AMPM]:
                st.ampm += 1
            if head[DATE] != last_date and len(dates) < _MAX_DATES:
                last_date = head[DATE]
                dates.append(last_date)
            i = line.find(": ", at)
            # The common case, tested without slicing the body: a sender (no quote in it, see
            # bodies.quoted_sender), and a body that cannot be system text (no iOS mark, no
            # known prefix).
            if (
                i >= 0
                and (i - at <= SHORTEST_QUOTING or QUOTE.search(line, at, i) is None)
                and line[i + 2 : i + 3] not in MARK_START
                and (line[i + 2 : i + 6] not in PREFIX_HEADS or not line.startswith(SYSTEM_PREFIXES, i + 2))
            ):
                sender = line[at:i]
                if sender not in senders and len(senders) < _MAX_SENDERS:
                    senders[sender] = None
            else:
                _rare_line(st, line[at:])
    if not first_header:
        raise NotAnExport("no WhatsApp message header found")
    style = max(stats, key=lambda s: stats[s].count)
    return Survey(
        style=style,
        stats=stats[style],
        first_header_line=first_header,
        skipped_lines=skipped,
        other_styles=sum(s.count for k, s in stats.items() if k != style),
        invalid_lines=invalid,
        invalid_count=invalid_count,
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
    for batch in read_batches(stream):
        for line in batch.lines:
            if line and line[0] in HEAD_START and match_header(line) is not None:
                return True
            if line.strip():
                seen += 1
                if seen >= HEAD_LINES:
                    return False
    return False
