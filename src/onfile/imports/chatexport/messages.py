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
- ``block`` returns a *plan*: built messages, and runs of plain ones as index ranges. A run's
  ``map`` is made only when the consumer reaches it, and the block's columns are tuples
  (untracked by the cyclic collector once seen): with everything made up front, every
  collection triggered by the new messages walked hundreds of thousands of live objects.
- The last message of a block stays *open* (it may continue in the next block, possibly
  across many blocks); it is built when the next message starts or the file ends. Memory is
  one block plus the longest message.
- Nothing is reordered or dropped after the first header. Problems become anomaly notes on
  the message, never exceptions.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import accumulate, compress, islice, repeat
from operator import add, contains, le, sub
from typing import BinaryIO

from onfile.imports.records import KIND_TEXT, KIND_UNSUPPORTED, ParsedMessage

from .blocks import (
    COL_DATE,
    COL_HEAD,
    COL_SEGMENT,
    COL_SENDER,
    COL_TIME,
    MAX_KNOWN,
    STRIDE,
    Pieces,
    first_line,
    splitter,
    where,
)
from .bodies import EXACT as _EXACT
from .bodies import QUOTE, SHORTEST_QUOTING, classify, is_plain, split_sender, system_event
from .headers import INVALID, STYLE, STYLE_END, WHEN, HeaderScanner, TimestampBuilder, date_parts, to_ymd
from .reader import Block, read_blocks

BACKWARDS = "timestamp earlier than previous message"
_MAX_BARE_SENDER = 80  # "Name:." only counts as a sender when "Name" is this short
_PLACEHOLDER = datetime(2000, 1, 1)
_ZERO = timedelta(0)
# Infinite iterators for map(ParsedMessage, ...); stateless, so shared by every call.
_NONE, _FALSE, _TEXT, _ONE, _NL = repeat(None), repeat(False), repeat(KIND_TEXT), repeat(1), repeat("\n")
_COLON, _TAIL = repeat(": "), repeat((">", ")"))

# How a line the regex could not vouch for was judged by the exact code.
_TEXT_LINE, _REFUSED, _ACCEPTED = 0, 1, 2


class _Columns:
    """Iterators over a block's columns, shared by its runs (consumed in order)."""

    __slots__ = ("bodies", "ends", "heads", "raw_bodies", "senders", "starts", "whens")

    def __init__(
        self,
        whens: tuple[datetime, ...],
        senders: tuple[str | None, ...],
        bodies: tuple[str, ...],
        heads: tuple[str | None, ...],
        starts: range | tuple[int, ...],
        ends: range | tuple[int, ...],
    ) -> None:
        self.whens, self.senders, self.bodies, self.heads = iter(whens), iter(senders), iter(bodies), iter(heads)
        self.raw_bodies, self.starts, self.ends = iter(bodies), iter(starts), iter(ends)


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
    stream: BinaryIO, style: str, order: str, pieces: Pieces | None = None, senders: Iterable[str] = ()
) -> Iterator[ParsedMessage]:
    """Pass 2: yield the messages of ``stream`` (read from its start) in file order;
    ``pieces`` are pass 1's trusted pieces, reused when they are of the same style, and
    ``senders`` the participants it found (named in the block regex, see blocks.splitter)."""
    stream.seek(0)
    reader = _Pass2(style, order, pieces if pieces is not None and pieces.style == style else None)
    known = tuple(senders)
    if len(known) <= MAX_KNOWN:
        # Only these senders can be captured now, so they are all the would-be senders seen.
        reader.split = splitter(style, known=known)
        reader.note_senders(known)
        reader.closed = True
    for block in read_blocks(stream):
        for item in reader.block(block):
            if type(item) is ParsedMessage:
                yield item
            else:
                # A run's map is made only now: few objects the collector must walk are alive
                # at any time (making them all up front made every collection slower).
                yield from reader.run(*item)  # type: ignore[misc]
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
        self.days: dict[str | None, datetime | None] = {}  # date piece -> midnight, None: not fast
        self.times: dict[str | None, timedelta | None] = {}  # time piece -> time of day, None: not fast
        self.senders: dict[str, None] = {}  # would-be senders seen
        self.quoted: set[str] = set()  # ... that hold a quote and are long
        self.closed = False  # no other sender can be captured (see iter_messages)
        # Pass 1's pieces, derived once (a few thousand; iOS: up to 86,400 times of day).
        self.derived = pieces is not None
        if pieces is not None:
            self.days.update((d, self._day(date)) for d, date in pieces.dates.items())
            self.times.update((t, self._time(clock)) for t, clock in pieces.times.items())
        self.open: _Open | None = None
        self.cols = _Columns((), (), (), (), (), ())
        self.index = 0
        self.previous = INVALID

    def block(self, block: Block) -> list[ParsedMessage | tuple[int, int, int]]:
        """The messages completed by ``block``, in order: built ones, and runs of plain ones
        as ``(skip, count, first index)`` for ``run``."""
        if self.pieces.trim():
            self.days.clear()
            self.times.clear()
            self.derived = False
        out: list[ParsedMessage | tuple[int, int, int]] = []
        text, bad = block.text, block.bad
        parts = self.split.split(text)
        pre = parts[0]
        # Columns (see blocks). The ones the runs keep are tuples, not lists: the collector
        # untracks a tuple of strings the first time it sees it, instead of walking every
        # element of every list at every collection while messages are being made.
        heads: tuple[str | None, ...] = tuple(parts[COL_HEAD::STRIDE])
        ds: tuple[str | None, ...] = tuple(parts[COL_DATE::STRIDE])
        ts: tuple[str | None, ...] = tuple(parts[COL_TIME::STRIDE])
        ss: tuple[str | None, ...] = tuple(parts[COL_SENDER::STRIDE])
        segs: tuple[str, ...] = tuple(parts[COL_SEGMENT::STRIDE])
        del parts
        n = len(ds)
        line0 = block.first + pre.count("\n")
        if pre and self.open is not None:  # continuation lines of the open message
            self._extend(self.open, pre[1:], block.first, line0 - 1, False, bad)
        if not n:
            return out
        # Line numbers: starts[i] is the first line of match i, starts[n] the next block's.
        starts: range | tuple[int, ...] = range(line0, line0 + n + 1)
        ends: range | tuple[int, ...] = starts
        multi: tuple[bool, ...] | None = None  # bodies with continuation lines
        if block.count != n + line0 - block.first:
            multi = tuple(map(contains, segs, _NL))
            counts = [1] * n
            for i in compress(range(n), multi):
                counts[i] += segs[i].count("\n")
            starts = tuple(accumulate(counts, initial=line0))
            del counts
            ends = tuple(map(sub, starts[1:], _ONE))
        # Timestamps from the piece caches; lines they cannot vouch for are judged one by one.
        days = list(map(self.days.get, ds))
        deltas = list(map(self.times.get, ts))
        nones: set[int] = set()
        if None in days or None in deltas:
            # With pass 1's pieces all derived up front, a None is nearly always a line the
            # regex could not vouch for: find them one by one rather than building sets.
            nones = where(days, None) | where(deltas, None) if self.derived else set()
            new = (ds[i] not in self.days or ts[i] not in self.times for i in nones if ds[i] is not None)
            if (not self.derived or any(new)) and self._learn(ds, ts, ss, segs):
                days = list(map(self.days.get, ds))
                deltas = list(map(self.times.get, ts))
                nones = set()
            nones = nones or where(days, None) | where(deltas, None)
        special: dict[int, tuple[int, datetime, int, str]] = {}
        for i in sorted(nones):
            special[i] = self._special(ds[i], ts[i], ss[i], segs[i])
            days[i], deltas[i] = _PLACEHOLDER, _ZERO
        whens = list(map(add, days, deltas))
        del days, deltas
        slow = {n - 1}  # the last message may go on in the next block
        acc = None
        if special:
            acc = [True] * n
            for i, (kind, when, _, _) in special.items():
                slow.add(i)
                if kind == _ACCEPTED:
                    whens[i] = when
                else:
                    acc[i] = False
                    if i:
                        slow.add(i - 1)  # the message before it goes on
        times = tuple(whens)
        del whens
        # Backwards timestamps (rare): a note, so the exact code.
        seq = times if acc is None else tuple(compress(times, acc))
        if seq and (seq[0] < self.previous or not all(map(le, seq, seq[1:]))):
            previous = self.previous
            for i in range(n) if acc is None else compress(range(n), acc):
                if times[i] < previous:
                    slow.add(i)
                previous = times[i]
        del seq, acc
        # Bodies that are not plain (bodies.is_plain): no sender (or a marked body, see
        # blocks), a marker-like last character or whole text, a quoted would-be sender, a
        # telling substring. Each test is one C-level pass, or fewer; hits are few.
        slow |= where(ss, None)
        slow |= where(tuple(map(str.endswith, segs, _TAIL)), True)
        if not _EXACT.isdisjoint(segs):
            for body in _EXACT.intersection(segs):
                slow |= where(segs, body)
        if not self.closed:
            if len(self.senders) > 100_000:  # a cache only: bounded memory on adversarial input
                self.senders.clear()
                self.quoted.clear()
            self.note_senders(set(ss) - self.senders.keys())
        for quoted in self.quoted.intersection(ss):
            slow |= where(ss, quoted)
        data = block.data
        if data.find(b"maps.google") >= 0 or data.find(b"\xe2\x80\xa2") >= 0:  # "•"; rare: every body
            slow.update(i for i in range(n) if "maps.google" in segs[i] or "•" in segs[i] or ")\n" in segs[i])
        elif multi is not None:  # ")\n" needs a line break, so only bodies with continuation lines
            slow.update(i for i in compress(range(n), multi) if ")\n" in segs[i])
        for line in bad:  # invalid UTF-8: a note, so the exact code
            i = bisect_right(starts, line) - 1
            if i >= 0:
                slow.add(i)
        slow.discard(-1)
        # Runs of plain messages between the others, pulled lazily from shared iterators over
        # the columns (a run is a map over islices: no copies, nothing per message here).
        plan = (*sorted(slow), n)
        del slow, multi
        self.cols = _Columns(times, ss, segs, heads, starts, ends)
        k = at = 0
        for j in plan:
            if j > k:
                if self.open is not None:
                    out.append(self.open.build())
                    self.open = None
                out.append((k - at, j - k, self.index))
                self.index += j - k
                self.previous = times[j - 1]
                at = j
            if j < n:
                self._one(j, heads[j], ds[j], ts[j], ss[j], segs[j], special.get(j), times[j], starts, bad, out)
            k = j + 1
        return out

    def note_senders(self, names: Iterable[str | None]) -> None:
        """Remember would-be senders, and which hold a quote and are long: probably system
        text quoting a name (bodies.quoted_sender), so never plain."""
        for name in names:
            if name is not None and name not in self.senders:
                self.senders[name] = None
                if len(name) > SHORTEST_QUOTING and QUOTE.search(name) is not None:
                    self.quoted.add(name)

    def run(self, skip: int, count: int, index: int) -> Iterator[ParsedMessage]:
        """Plain messages, built by ``map`` from the current block's shared column iterators
        (islices: no copies); ``skip`` steps over the messages built one by one."""
        cols, stop = self.cols, skip + count
        # fmt: off
        return map(
            ParsedMessage,
            range(index, index + count), islice(cols.whens, skip, stop), islice(cols.senders, skip, stop),
            islice(cols.bodies, skip, stop), _TEXT,
            _NONE, _NONE, _NONE,  # system_event, from_me, sender_id
            _FALSE, _FALSE, _FALSE, iter(list, 1),  # deleted, edited, forwarded, attachments
            _NONE, _NONE, _NONE, iter(list, 1),  # key, reply_to_key, reply_to_text, reactions
            _NONE, _NONE, _NONE,  # latitude, longitude, status
            islice(cols.starts, skip, stop), islice(cols.ends, skip, stop),
            map(add, islice(cols.heads, skip, stop), islice(cols.raw_bodies, skip, stop)), iter(list, 1),
        )
        # fmt: on

    def _learn(
        self, ds: Sequence[str | None], ts: Sequence[str | None], ss: Sequence[str | None], segs: Sequence[str]
    ) -> bool:
        """Day and time of day of the block's new pieces (learnt first if pass 1 has not);
        set operations, so the lines of a new day cost nothing each. True if any."""
        new_days = set(ds) - self.days.keys()
        new_times = set(ts) - self.times.keys()
        new_days.discard(None)
        new_times.discard(None)
        if not new_days and not new_times:
            return False
        pieces = self.pieces
        if not (new_days <= pieces.dates.keys() and new_times <= pieces.times.keys()):
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
        head: str | None,
        d: str | None,
        t: str | None,
        s: str | None,
        seg: str,
        judged: tuple[int, datetime, int, str] | None,
        when: datetime,
        starts: range | tuple[int, ...],
        bad: list[int],
        out: list[ParsedMessage | tuple[int, int, int]],
    ) -> None:
        """Match ``j`` the exact way: a message start, or lines of the open message."""
        if judged is None:
            assert head is not None and d is not None and t is not None
            kind, at, line = _ACCEPTED, len(d) + len(t), head + seg.partition("\n")[0]
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
