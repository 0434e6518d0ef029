"""The public entry point: an export's text -> ParsedChat + lazy ParsedMessages.

Design
- ``parse_export`` runs pass 1 (``survey``) to learn the header style, the date order, the
  clock and the participants, then returns the chat and a generator for pass 2
  (``messages``). The stream is read twice and never held: memory is bounded by one block
  plus the longest message.
- Both passes cut each multi-megabyte block with one regex (``blocks``) and do their
  per-message work column-wise in C (``map``, sets, ``groupby``); Python looks only at the
  few lines that need the exact line-level code. Pass 2 reuses the header pieces pass 1
  has already checked against the full header grammar.
- A line starts a message only if it is a header of the file's style with a valid timestamp
  in the file's date order. Anything else continues the previous message; a line that
  looked like a header but was refused is kept as text and noted on the message.
- Nothing is reordered or dropped after the first header. Problems become anomaly notes on
  the message (or on the chat, for file-level ones), never exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from onfile.imports.records import ParsedChat, ParsedMessage

from .headers import ORDERS, STYLE_PLATFORM, detect_order
from .messages import BACKWARDS, iter_messages
from .survey import MAX_ANOMALY_LINES, Survey, survey_export

AMBIGUOUS = "date order ambiguous: assumed dmy"
__all__ = ["AMBIGUOUS", "BACKWARDS", "iter_messages", "parse_export"]


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
    return chat, iter_messages(stream, survey.style, chat.date_order, survey.pieces, chat.participants)


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
