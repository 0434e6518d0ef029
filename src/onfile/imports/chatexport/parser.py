"""Pass 2 and the public entry point: an export's text -> ParsedChat + lazy ParsedMessages.

Design
- ``parse_export`` runs pass 1 (``survey``) to learn the header style, the date order, the
  clock and the participants, then returns the chat and a generator for pass 2. The stream
  is read twice and never held: memory is bounded by one block plus the longest message.
- Pass 2 is the hot loop, written inline on purpose (local names, no per-line calls on the
  common path): a header line costs a first-character test, a ``str.find`` and a cache
  lookup (``HeaderScanner``); a plain message costs one ``split_sender`` and the
  ``is_plain`` gate. Only marked bodies reach ``classify``.
- A line starts a message only if it is a header of the file's style with a valid timestamp
  in the file's date order. Anything else continues the previous message; a line that
  looked like a header but was refused is kept as text and noted on the message.
- Nothing is reordered or dropped after the first header. Problems become anomaly notes on
  the message (or on the chat, for file-level ones), never exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from onfile.imports.records import KIND_TEXT, KIND_UNSUPPORTED, ParsedChat, ParsedMessage

from .bodies import QUOTE, SHORTEST_QUOTING, classify, is_plain, split_sender, system_event
from .headers import (
    HEAD_START,
    INVALID,
    ORDERS,
    STYLE,
    STYLE_END,
    STYLE_PLATFORM,
    WHEN,
    HeaderScanner,
    TimestampBuilder,
    detect_order,
)
from .reader import read_batches
from .survey import MAX_ANOMALY_LINES, Survey, survey_export

AMBIGUOUS = "date order ambiguous: assumed dmy"
BACKWARDS = "timestamp earlier than previous message"
_MAX_BARE_SENDER = 80  # "Name:." only counts as a sender when "Name" is this short


def parse_export(
    stream: BinaryIO, *, date_order: str | None = None, title: str = ""
) -> tuple[ParsedChat, Iterator[ParsedMessage]]:
    """Parse a seekable binary stream holding an export's chat text.

    Raises NotAnExport (before returning) when the text holds no message header. The
    returned iterator re-reads ``stream`` from the start; keep it open until exhausted.
    """
    if date_order is not None and date_order not in ORDERS:
        raise ValueError(f"date_order must be one of {ORDERS}, not {date_order!r}")
    stream.seek(0)
    survey = survey_export(stream)
    chat = _chat(survey, date_order, title)
    assert chat.date_order is not None
    return chat, iter_messages(stream, survey.style, chat.date_order)


def _chat(survey: Survey, date_order: str | None, title: str) -> ParsedChat:
    st = survey.stats
    anomalies: list[str] = []
    if date_order is None:
        date_order, ambiguous = detect_order(st.dates)
        if ambiguous:
            anomalies.append(AMBIGUOUS)
    if survey.skipped_lines:
        anomalies.append(
            f"{survey.skipped_lines} non-empty line(s) before the first message header were skipped"
        )
    if survey.other_styles:
        anomalies.append(
            f"{survey.other_styles} header-like line(s) in another format were kept as message text"
        )
    anomalies.extend(f"invalid UTF-8 at line {n}" for n in survey.invalid_lines)
    if survey.invalid_count > len(survey.invalid_lines):
        anomalies.append(f"invalid UTF-8 on {survey.invalid_count - MAX_ANOMALY_LINES} more line(s)")
    platform = STYLE_PLATFORM[survey.style]
    participants = list(st.senders)
    return ParsedChat(
        title=title or st.group_name or "",
        is_group=len(participants) > 2 or st.group_event,
        participants=participants,
        platform=platform,
        source_format=f"{platform}-export",
        date_order=date_order,
        clock="12h" if st.ampm * 2 > st.count else "24h",
        anomalies=anomalies,
    )


def iter_messages(stream: BinaryIO, style: str, order: str) -> Iterator[ParsedMessage]:
    """Pass 2: yield the messages of ``stream`` (read from its start) in file order."""
    stream.seek(0)
    scanner = HeaderScanner(TimestampBuilder(order))
    cache_get, scan = scanner.cache.get, scanner.scan
    end = STYLE_END.get(style, "\0")  # a bare-space header has no end marker: regex path only
    endlen = len(end)
    index = 0
    previous = INVALID
    # The open message, as locals rather than an object: this loop runs per line.
    when = INVALID
    first = ""
    offset = start = last = 0
    extra: list[str] | None = None
    notes: list[str] | None = None
    for batch in read_batches(stream):
        bad = batch.bad
        lineno = batch.first - 1
        for line in batch.lines:
            lineno += 1
            head = None
            if line and line[0] in HEAD_START:
                k = line.find(end, 0, 96)
                if k >= 0:
                    head = cache_get(line[: k + endlen])
                    at = k + endlen
                if head is None:
                    found = scan(line, end)
                    if found is not None:
                        head, at = found
            if head is not None and head[STYLE] == style and head[WHEN] is not INVALID:
                if start:
                    yield _build(index, when, first, offset, start, last, extra, notes)
                    index += 1
                when, first, offset = head[WHEN], line, at
                start = last = lineno
                extra = notes = None
                if when < previous:
                    notes = [BACKWARDS]
                previous = when
            elif start:
                last = lineno
                if extra is None:
                    extra = [line]
                else:
                    extra.append(line)
                if head is not None:
                    notes = _note(notes, f"line {lineno} looks like a message header but could not be parsed")
            else:
                continue  # before the first header: reported on the chat by pass 1
            if bad and lineno in bad:
                notes = _note(notes, f"invalid UTF-8 at line {lineno}")
    if start:
        yield _build(index, when, first, offset, start, last, extra, notes)


def _note(notes: list[str] | None, note: str) -> list[str]:
    if notes is None:
        return [note]
    notes.append(note)
    return notes


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
    if extra is not None:
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
