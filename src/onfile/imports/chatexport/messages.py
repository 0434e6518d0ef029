"""Pass 2: an export's text -> lazy ``ParsedMessage``s, a block at a time.

Design
- Each block is cut with one ``blocks.splitter`` regex (date piece, time piece, sender,
  body-with-continuation-lines per match) and read column-wise. The per-message work is done
  by C-level ``map`` calls over whole columns: piece caches -> day and time of day ->
  timestamp, a few tests that decide which messages are *plain* (one ``str`` test each), the
  line numbers (``itertools.accumulate`` over line counts), and finally ``ParsedMessage``
  itself, called by ``map`` with positional arguments (fresh empty lists come from
  ``iter(list, 1)``, which calls ``list()`` each time). A plain message has a trusted header of
  the file's style with a valid timestamp, a sender, a body ``bodies.is_plain`` would pass,
  no continuation line that needs a second look, no invalid UTF-8, and a timestamp that does
  not go backwards.
- Everything else goes through the exact line-level code (``_build``, as before this module
  existed): lines the regex could not vouch for are re-checked with ``HeaderScanner``; a line
  that looked like a header but was refused is kept as text and noted on the message.
- The last message of a block stays *open* (it may continue in the next block, possibly
  across many blocks); it is built when the next message starts or the file ends. Memory is
  one block plus the longest message.
- Nothing is reordered or dropped after the first header. Problems become anomaly notes on
  the message, never exceptions.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import accumulate, compress, repeat
from operator import add, contains, is_, le, or_, sub
from typing import BinaryIO

from onfile.imports.records import KIND_TEXT, KIND_UNSUPPORTED, ParsedMessage

from .blocks import Pieces, first_line, splitter
from .bodies import _EXACT, QUOTE, SHORTEST_QUOTING, classify, is_plain, split_sender, system_event
from .headers import INVALID, STYLE, STYLE_END, WHEN, HeaderScanner, TimestampBuilder, date_parts, to_ymd
from .reader import Block, read_blocks

BACKWARDS = "timestamp earlier than previous message"
_MAX_BARE_SENDER = 80  # "Name:." only counts as a sender when "Name" is this short
_NEEDLES = ("maps.google", "•", ")\n")  # substrings bodies.is_plain refuses anywhere in a body
_PLACEHOLDER = datetime(2000, 1, 1)
_ZERO = timedelta(0)
# Infinite iterators for map(ParsedMessage, ...); stateless, so shared by every call.
_NONE, _FALSE, _TEXT, _ONE, _NL = repeat(None), repeat(False), repeat(KIND_TEXT), repeat(1), repeat("\n")
_COLON, _TAIL = repeat(": "), repeat((">", ")"))

# How a line the regex could not vouch for was judged by the exact code.
_TEXT_LINE, _REFUSED, _ACCEPTED = 0, 1, 2


class _Open:
    """The message being built while it may still grow."""

    __slots__ = ("at", "end", "extra", "first", "index", "notes", "start", "when")

    def __init__(
        self, index: int, when: datetime, first: str, at: int, start: int, end: int, extra: list[str], notes: list[str]
    ) -> None:
        self.index, self.when, self.first, self.at = index, when, first, at
        self.start, self.end, self.extra, self.notes = start, end, extra, notes

    def build(self) -> ParsedMessage:
        return _build(self.index, self.when, self.first, self.at, self.start, self.end, self.extra, self.notes)


def iter_messages(
    stream: BinaryIO, style: str, order: str, pieces: Pieces | None = None
) -> Iterator[ParsedMessage]:
    """Pass 2: yield the messages of ``stream`` (read from its start) in file order;
    ``pieces`` are pass 1's trusted pieces, reused when they are of the same style."""
    stream.seek(0)
    reader = _Pass2(style, order, pieces if pieces is not None and pieces.style == style else None)
    for block in read_blocks(stream):
        for item in reader.block(block):
            if type(item) is ParsedMessage:
                yield item
            else:
                yield from item  # type: ignore[misc]
    if reader.open is not None:
        yield reader.open.build()


class _Pass2:
    def __init__(self, style: str, order: str, pieces: Pieces | None) -> None:
        self.style = style
        self.order = order
        self.split = splitter(style)
        self.pieces = pieces or Pieces(style)
        self.scanner = HeaderScanner(TimestampBuilder(order))
        self.end = STYLE_END.get(style, "\0")  # a bare-space header has no end marker: regex path only
        self.days: dict[str, datetime | None] = {}  # date piece -> midnight, None: not fast
        self.times: dict[str, timedelta | None] = {}  # time piece -> time of day, None: not fast
        self.senders: dict[str | None, None] = {None: None}  # would-be senders seen
        self.quoted: set[str | None] = set()  # ... that hold a quote and are long
        self.open: _Open | None = None
        self.index = 0
        self.previous = INVALID

    def block(self, block: Block) -> list[ParsedMessage | Iterable[ParsedMessage]]:
        """The messages completed by ``block``, in order: built ones and lazy runs."""
        if self.pieces.trim():
            self.days.clear()
            self.times.clear()
        out: list[ParsedMessage | Iterable[ParsedMessage]] = []
        text, bad = block.text, block.bad
        parts = self.split.split(text)
        pre = parts[0]
        ds, ts, ss, segs = parts[1::4], parts[2::4], parts[3::4], parts[4::4]
        n = len(ds)
        line0 = block.first + pre.count("\n")
        if pre and self.open is not None:  # continuation lines of the open message
            self._extend(self.open, pre[1:], block.first, line0 - 1, False, bad)
        if not n:
            return out
        # Line numbers: starts[i] is the first line of match i, starts[n] the next block's.
        starts: range | list[int] = range(line0, line0 + n + 1)
        multi = list(map(contains, segs, _NL))
        if True in multi:
            counts = [1] * n
            for i in compress(range(n), multi):
                counts[i] += segs[i].count("\n")
            starts = list(accumulate(counts, initial=line0))
        # Timestamps from the piece caches; lines they cannot vouch for are judged one by one.
        days = list(map(self.days.get, ds))
        deltas = list(map(self.times.get, ts))
        special: dict[int, tuple[int, datetime, int, str]] = {}
        if None in days or None in deltas:
            if self._learn(ds, ts, ss, segs):
                days = list(map(self.days.get, ds))
                deltas = list(map(self.times.get, ts))
            for i in compress(range(n), map(or_, map(is_, days, _NONE), map(is_, deltas, _NONE))):
                special[i] = self._special(ds[i], ts[i], ss[i], segs[i])
                days[i], deltas[i] = _PLACEHOLDER, _ZERO
        whens = list(map(add, days, deltas))
        acc = [True] * n
        slow = {n - 1}  # the last message may go on in the next block
        for i, (kind, when, _, _) in special.items():
            slow.add(i)
            if kind == _ACCEPTED:
                whens[i] = when
            else:
                acc[i] = False
                if i:
                    slow.add(i - 1)  # the message before it goes on
        # Backwards timestamps (rare): a note, so the exact code.
        seq = list(compress(whens, acc)) if special else whens
        if seq and (seq[0] < self.previous or not all(map(le, seq, seq[1:]))):
            previous = self.previous
            for i in compress(range(n), acc):
                if whens[i] < previous:
                    slow.add(i)
                previous = whens[i]
        # Which bodies are not plain: no sender, quoted sender, marker-like ends or texts.
        if None in ss:
            slow.update(compress(range(n), map(is_, ss, _NONE)))
        quoted = self.quoted
        for s in dict.fromkeys(ss).keys() - self.senders.keys():
            if s is not None:
                self.senders[s] = None
                if len(s) > SHORTEST_QUOTING and QUOTE.search(s) is not None:
                    quoted.add(s)  # probably system text quoting a name (bodies.quoted_sender)
        if quoted and not quoted.isdisjoint(ss):
            slow.update(i for i, s in enumerate(ss) if s in quoted)
        tails = list(map(str.endswith, segs, _TAIL))
        if True in tails:
            slow.update(compress(range(n), tails))
        if not _EXACT.isdisjoint(segs):
            slow.update(i for i, seg in enumerate(segs) if seg in _EXACT)
        for needle in _NEEDLES:
            if needle in text:
                slow.update(compress(range(n), map(contains, segs, repeat(needle))))
        for line in bad:  # invalid UTF-8: a note, so the exact code
            i = bisect_right(starts, line) - 1
            if i >= 0:
                slow.add(i)
        # Runs of plain messages between the others.
        k = 0
        for j in [*sorted(slow), n]:
            if j > k:
                if self.open is not None:
                    out.append(self.open.build())
                    self.open = None
                out.append(self._run(k, j, ds, ts, ss, segs, whens, starts))
            if j < n:
                self._one(j, ds[j], ts[j], ss[j], segs[j], special.get(j), whens[j], starts, bad, out)
            k = j + 1
        return out

    def _run(
        self,
        k: int,
        j: int,
        ds: list[str],
        ts: list[str],
        ss: list[str],
        segs: list[str],
        whens: list[datetime],
        starts: range | list[int],
    ) -> Iterable[ParsedMessage]:
        """Plain messages k..j-1, built lazily by ``map`` (see the module docstring)."""
        index = self.index
        self.index += j - k
        self.previous = whens[j - 1]
        raws = map(add, map(add, map(add, map(add, ds[k:j], ts[k:j]), ss[k:j]), _COLON), segs[k:j])
        # fmt: off
        return map(
            ParsedMessage,
            range(index, index + j - k), whens[k:j], ss[k:j], segs[k:j], _TEXT,
            _NONE, _NONE, _NONE,  # system_event, from_me, sender_id
            _FALSE, _FALSE, _FALSE, iter(list, 1),  # deleted, edited, forwarded, attachments
            _NONE, _NONE, _NONE, iter(list, 1),  # key, reply_to_key, reply_to_text, reactions
            _NONE, _NONE, _NONE,  # latitude, longitude, status
            starts[k:j], map(sub, starts[k + 1 : j + 1], _ONE), raws, iter(list, 1),
        )
        # fmt: on

    def _learn(self, ds: list[str], ts: list[str], ss: list[str], segs: list[str]) -> bool:
        """Learn the block's new pieces (``Pieces.learn_block``); True if there were any."""
        new_days = dict.fromkeys(ds).keys() - self.days.keys()
        new_times = dict.fromkeys(ts).keys() - self.times.keys()
        if not (new_days - {None} or new_times - {None}):
            return False
        pieces = self.pieces
        pieces.learn_block(ds, ts, ss, segs)
        for d in new_days:
            if d in pieces.dates:
                self.days[d] = self._day(pieces.dates[d])
        for t in new_times:
            if t in pieces.times:
                self.times[t] = self._time(pieces.times[t])
        return True

    def _special(self, d: str | None, t: str | None, s: str | None, seg: str) -> tuple[int, datetime, int, str]:
        """Judge a line the caches cannot vouch for with the exact line-level code."""
        line = first_line(d, t, s, seg)
        found = self.scanner.scan(line, self.end)
        if found is None:
            return _TEXT_LINE, INVALID, 0, line
        head, at = found
        if head[STYLE] == self.style and head[WHEN] is not INVALID:
            return _ACCEPTED, head[WHEN], at, line
        return _REFUSED, INVALID, at, line

    def _day(self, date: str | None) -> datetime | None:
        if date is None:
            return None
        a, b, c, _ = date_parts(date)
        ymd = to_ymd(a, b, c, self.order)
        return None if ymd is None else datetime(*ymd)

    @staticmethod
    def _time(clock: tuple[int, int, int, bool | None] | None) -> timedelta | None:
        """The rules of ``TimestampBuilder.when`` for the time of day."""
        if clock is None:
            return None
        hour, minute, second, pm = clock
        if pm is not None:
            if hour > 12:
                return None
            hour = hour % 12 + (12 if pm else 0)
        if hour > 23 or minute > 59 or second > 59:
            return None
        return timedelta(hours=hour, minutes=minute, seconds=second)

    def _one(
        self,
        j: int,
        d: str | None,
        t: str | None,
        s: str | None,
        seg: str,
        judged: tuple[int, datetime, int, str] | None,
        when: datetime,
        starts: range | list[int],
        bad: list[int],
        out: list[ParsedMessage | Iterable[ParsedMessage]],
    ) -> None:
        """Match ``j`` the exact way: a message start, or lines of the open message."""
        if judged is None:
            assert d is not None and t is not None
            kind, at, line = _ACCEPTED, len(d) + len(t), first_line(d, t, s, seg)
        else:
            kind, when, at, line = judged
        nl = seg.find("\n")
        rest = seg[nl + 1 :] if nl >= 0 else None
        start, end = starts[j], starts[j + 1] - 1
        if kind == _ACCEPTED:
            if self.open is not None:
                out.append(self.open.build())
            notes = [BACKWARDS] if when < self.previous else []
            self.previous = when
            self.open = _Open(self.index, when, line, at, start, start, [], notes)
            self.index += 1
            self._extend(self.open, rest, start, end, False, bad)
        elif self.open is not None:
            self._extend(self.open, line if rest is None else f"{line}\n{rest}", start, end, kind == _REFUSED, bad)

    @staticmethod
    def _extend(o: _Open, lines: str | None, start: int, end: int, refused: bool, bad: list[int]) -> None:
        """Lines ``start``..``end`` belong to ``o``; ``lines`` is the part of them not yet in
        ``o`` (None: none). Notes for a refused header on ``start`` and for invalid UTF-8, in
        line order, as the line-by-line parser wrote them."""
        if lines is not None:
            o.extra.append(lines)
        o.end = end
        if refused:
            o.notes.append(f"line {start} looks like a message header but could not be parsed")
        if bad:
            o.notes.extend(f"invalid UTF-8 at line {n}" for n in bad[bisect_left(bad, start) : bisect_right(bad, end)])


def _build(
    index: int,
    when: datetime,
    first: str,
    offset: int,
    start: int,
    end: int,
    extra: list[str] | None,
    notes: list[str] | None,
) -> ParsedMessage:
    i = first.find(": ", offset)
    if i >= 0 and (i - offset <= SHORTEST_QUOTING or QUOTE.search(first, offset, i) is None):  # quoted_sender
        sender: str | None = first[offset:i]
        body = first[i + 2 :]
    else:
        sender, body = split_sender(first[offset:])
    raw = first
    if extra:
        tail = "\n".join(extra)
        body = f"{body}\n{tail}"
        raw = f"{first}\n{tail}"
    if sender is not None and is_plain(body):
        # Positional arguments: measurably cheaper than keywords on this path.
        # fmt: off
        return ParsedMessage(
            index, when, sender, body, KIND_TEXT,
            None, None, None,  # system_event, from_me, sender_id
            False, False, False, [],  # deleted, edited, forwarded, attachments
            None, None, None, [],  # key, reply_to_key, reply_to_text, reactions
            None, None, None,  # latitude, longitude, status
            start, end, raw, notes if notes is not None else [],
        )
        # fmt: on
    return _build_marked(index, when, sender, body, first[offset:], raw, start, end, notes or [])


def _build_marked(
    index: int,
    when: datetime,
    sender: str | None,
    body: str,
    rest: str,
    raw: str,
    start: int,
    end: int,
    notes: list[str],
) -> ParsedMessage:
    bare = sender is None and _bare_sender(rest)
    if bare:
        sender, body = _split_bare(rest, body)
        notes.append(
            f"body {body[:1]!r} after 'Name:' without a space (disappearing message placeholder?)"
            if rest.endswith(":.")
            else "empty message body ('Name:' without text)"
        )
    info = classify(body, sender is not None)
    return ParsedMessage(
        index=index,
        timestamp=when,
        sender=sender,
        text=info.text,
        kind=KIND_UNSUPPORTED if bare and rest.endswith(":.") else info.kind,
        system_event=info.system_event,
        deleted=info.deleted,
        edited=info.edited,
        attachments=info.attachments,
        latitude=info.latitude,
        longitude=info.longitude,
        line_start=start,
        line_end=end,
        raw=raw,
        anomalies=notes + info.anomalies,
    )


def _bare_sender(rest: str) -> bool:
    """``Name:.`` / ``Name:`` (no space after the colon) rather than a system line."""
    if not (rest.endswith(":.") or rest.endswith(":")):
        return False
    name = rest[: rest.rfind(":")]
    return 0 < len(name) <= _MAX_BARE_SENDER and ": " not in name and system_event(rest) is None


def _split_bare(rest: str, body: str) -> tuple[str, str]:
    colon = rest.rfind(":")
    tail = body[len(rest) :]  # continuation lines, starting with "\n" when present
    if rest.endswith(":."):
        return rest[:colon], "." + tail
    return rest[:colon], tail[1:] if tail.startswith("\n") else tail
