"""Property tests: conversations rendered in every header format parse back exactly.

``render_header``/``render_export`` below are a small export *writer* (test-only): they
produce what WhatsApp writes for a given platform, date order, separator, year width,
padding, clock, AM/PM marker style, space character, seconds and time separator.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from onfile.imports.chatexport import locales, parse_export
from onfile.imports.chatexport.headers import HeaderScanner, TimestampBuilder, match_header

MARKERS = {  # style -> (AM, PM); "{s}" is the space inside "a. m."
    "AM": ("AM", "PM"),
    "am": ("am", "pm"),
    "a.m.": ("a.m.", "p.m."),
    "a. m.": ("a.{s}m.", "p.{s}m."),
    "vorm.": ("vorm.", "nachm."),
}
SPACES = (" ", "\u202f", "\u00a0")


@dataclass(frozen=True)
class HeaderFormat:
    platform: str  # "android" | "ios"
    order: str  # "dmy" | "mdy" | "ymd"
    sep: str  # "/" | "." | "-"
    year4: bool
    pad: bool  # zero-padded day, month and hour
    comma: bool  # "," after the date
    clock: str  # "24h" | "12h"
    marker: str  # a key of MARKERS
    space: str  # before the marker (and inside "a. m.")
    seconds: bool
    time_sep: str  # ":" | "." (Finnish)
    word: str  # "" or "klo " between date and time
    lrm: bool  # iOS: U+200E before "["
    crlf: bool


def render_header(ts: datetime, f: HeaderFormat) -> str:
    """The header WhatsApp would write for ``ts`` in format ``f``."""
    year = f"{ts.year:04d}" if f.year4 else f"{ts.year % 100:02d}"
    day, month = (f"{ts.day:02d}", f"{ts.month:02d}") if f.pad else (str(ts.day), str(ts.month))
    date = f.sep.join(
        {"dmy": (day, month, year), "mdy": (month, day, year), "ymd": (year, month, day)}[f.order]
    )
    hour = ts.hour if f.clock == "24h" else ts.hour % 12 or 12
    clock = (f"{hour:02d}" if f.pad else str(hour)) + f"{f.time_sep}{ts.minute:02d}"
    if f.seconds:
        clock += f"{f.time_sep}{ts.second:02d}"
    if f.clock == "12h":
        clock += f.space + MARKERS[f.marker][ts.hour >= 12].format(s=f.space)
    stamp = f"{date}{',' if f.comma else ''} {f.word}{clock}"
    if f.platform == "ios":
        return ("\u200e" if f.lrm else "") + f"[{stamp}] "
    return f"{stamp} - "


def render_export(messages: list[tuple[datetime, str, str]], f: HeaderFormat) -> bytes:
    lines = [render_header(ts, f) + f"{sender}: {body}" for ts, sender, body in messages]
    return ("\r\n" if f.crlf else "\n").join(lines).encode() + b"\n"


@st.composite
def header_formats(draw: st.DrawFn) -> HeaderFormat:
    platform = draw(st.sampled_from(["android", "ios"]))
    order = draw(st.sampled_from(["dmy", "mdy", "ymd"]))
    clock = draw(st.sampled_from(["24h", "12h"]))
    time_sep = draw(st.sampled_from([":", "."]))
    return HeaderFormat(
        platform=platform,
        order=order,
        sep=draw(st.sampled_from(["/", ".", "-"])),
        year4=order == "ymd" or draw(st.booleans()),
        pad=draw(st.booleans()),
        comma=draw(st.booleans()),
        clock=clock,
        marker=draw(st.sampled_from(sorted(MARKERS))),
        space=draw(st.sampled_from(SPACES)),
        seconds=platform == "ios" or draw(st.booleans()),
        time_sep=time_sep,
        word="klo " if platform == "android" and time_sep == "." and draw(st.booleans()) else "",
        lrm=platform == "ios" and draw(st.booleans()),
        crlf=draw(st.booleans()),
    )


AWKWARD_NAMES = [
    "~\u202fPush Name",
    "+1 555 010 0199",
    "Ann-Marie",
    "José 🚀",
    "a:b",
    "O'Brien",
    "李小龍",
    "Bob [work]",
    "Dr. No - Office",
    "x",
    "Ünal ÇALIŞKAN",
    "Name:",
]
_TEXT = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"], exclude_characters='\n\r<>()•"“”„«»'),
    max_size=40,
)
senders = st.one_of(st.sampled_from(AWKWARD_NAMES), _TEXT.filter(lambda s: s and ": " not in s))
continuation = _TEXT.filter(lambda s: not s[:1].isdigit() and not s.startswith("["))


# Whole bodies that are markers, not text (hypothesis likes to try the module's literals).
MARKER_BODIES = {
    s.lower().rstrip(".")
    for s in (
        *locales.DELETED,
        *locales.OMITTED_ANDROID,
        *locales.OMITTED_IOS,
        *locales.LIVE_LOCATION,
        "null",
    )
}


@st.composite
def bodies(draw: st.DrawFn) -> str:
    first = draw(_TEXT.map(lambda s: s + draw(st.sampled_from(["", ": colon inside", " 🙂", "\u2028sep"]))))
    rest = draw(st.lists(continuation, max_size=3))
    body = "\n".join([first, *rest])
    marker = body.strip().lower().rstrip(".") in MARKER_BODIES or body.startswith(locales.SYSTEM_PREFIXES)
    return "x" + body if marker else body


@st.composite
def conversations(draw: st.DrawFn, *, late_day: bool) -> list[tuple[datetime, str, str]]:
    """Messages with non-decreasing timestamps; ``late_day`` puts the first on a day > 12."""
    start = draw(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 1)))
    if late_day:
        start = start.replace(day=draw(st.integers(13, 28)))
    steps = draw(st.lists(st.integers(0, 3 * 86400), min_size=1, max_size=8))
    people = draw(st.lists(senders, min_size=1, max_size=4, unique=True))
    messages = []
    ts = start.replace(microsecond=0)
    for i, step in enumerate(steps):
        ts += timedelta(seconds=step if i else 0)  # the first message keeps the drawn day
        messages.append((ts, draw(st.sampled_from(people)), draw(bodies())))
    return messages


def expected_time(ts: datetime, f: HeaderFormat) -> datetime:
    return ts if f.seconds else ts.replace(second=0)


@settings(max_examples=60, deadline=None)
@given(header_formats(), conversations(late_day=False))
def test_every_format_round_trips_when_the_order_is_given(
    f: HeaderFormat, messages: list[tuple[datetime, str, str]]
) -> None:
    chat, parsed = parse_export(io.BytesIO(render_export(messages, f)), date_order=f.order)
    got = list(parsed)
    assert [(m.timestamp, m.sender, m.text) for m in got] == [
        (expected_time(ts, f), sender, body) for ts, sender, body in messages
    ]
    assert all(m.kind == "text" and not m.anomalies for m in got)
    assert chat.platform == f.platform
    assert chat.clock == f.clock
    assert chat.participants == list(dict.fromkeys(sender for _, sender, _ in messages))
    assert chat.anomalies == []


@settings(max_examples=60, deadline=None)
@given(header_formats(), conversations(late_day=True))
def test_auto_detection_finds_the_order_when_a_day_exceeds_twelve(
    f: HeaderFormat, messages: list[tuple[datetime, str, str]]
) -> None:
    chat, parsed = parse_export(io.BytesIO(render_export(messages, f)))
    assert chat.date_order == f.order
    assert "date order ambiguous: assumed dmy" not in chat.anomalies
    assert [m.timestamp for m in parsed] == [expected_time(ts, f) for ts, _, _ in messages]


@settings(max_examples=40, deadline=None)
@given(
    header_formats(),
    st.lists(
        st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 1)), min_size=1, max_size=12
    ),
)
def test_the_header_caches_agree_with_the_regex(f: HeaderFormat, stamps: list[datetime]) -> None:
    scanner = HeaderScanner(TimestampBuilder(f.order))
    end = "] " if f.platform == "ios" else " - "
    for ts in stamps:
        line = render_header(ts, f) + "Sender: body"
        cached = scanner.scan(line, end)
        fresh = HeaderScanner(TimestampBuilder(f.order)).scan_slow(line)
        assert cached == fresh
        assert cached is not None and cached[0][3] == expected_time(ts.replace(microsecond=0), f)
        assert match_header(line) is not None
