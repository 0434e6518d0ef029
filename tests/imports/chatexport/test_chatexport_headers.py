"""Header grammar, date-order detection, the body gate, and streaming behaviour."""

from __future__ import annotations

import io
from datetime import datetime

import pytest

from onfile.imports.chatexport import AMBIGUOUS, NotAnExport, locales, parse_export
from onfile.imports.chatexport.bodies import classify, is_plain
from onfile.imports.chatexport.headers import HeaderScanner, TimestampBuilder, detect_order, match_header
from onfile.imports.chatexport.reader import BLOCK_SIZE

# Every example of docs/whatsapp.md D2 and of the peer parsers' fixtures:
# (line, date order, timestamp, text after the header)
D2_EXAMPLES = [
    ("1/29/18, 11:46\u202fPM - Alice: hello", "mdy", datetime(2018, 1, 29, 23, 46), "Alice: hello"),
    (
        "6/30/23, 16:14 - Aaaaa: and these messages",
        "mdy",
        datetime(2023, 6, 30, 16, 14),
        "Aaaaa: and these messages",
    ),
    (
        "30/6/2023, 16:15 - +123 45 6789: <Media omitted>",
        "dmy",
        datetime(2023, 6, 30, 16, 15),
        "+123 45 6789: <Media omitted>",
    ),
    ("29.01.18, 12:24 - Bob: x", "dmy", datetime(2018, 1, 29, 12, 24), "Bob: x"),
    ("20/6/2017 8:28 p.\u00a0m. - Michelle: test", "dmy", datetime(2017, 6, 20, 20, 28), "Michelle: test"),
    ("2018/06/13, 21:25 - a: m", "ymd", datetime(2018, 6, 13, 21, 25), "a: m"),
    ("2018-06-13, 9:15 p.m. - a: m", "ymd", datetime(2018, 6, 13, 21, 15), "a: m"),
    ("13.6.2018 klo 21.25.15 - a: m", "dmy", datetime(2018, 6, 13, 21, 25, 15), "a: m"),
    ("13. 6. 2018. 21:25:15 a: m", "dmy", datetime(2018, 6, 13, 21, 25, 15), "a: m"),
    ("[1/29/18, 11:46:03\u202fPM] Alice: x", "mdy", datetime(2018, 1, 29, 23, 46, 3), "Alice: x"),
    ("[14/02/2025, 4:06:10 PM] Rex: y", "dmy", datetime(2025, 2, 14, 16, 6, 10), "Rex: y"),
    ("[29.01.18, 12:24:03] Mallory: Hey! :)", "dmy", datetime(2018, 1, 29, 12, 24, 3), "Mallory: Hey! :)"),
    ("[2018/06/13, 21:25:15] a: m", "ymd", datetime(2018, 6, 13, 21, 25, 15), "a: m"),
    ("13.06.18 21.25.15: a: m", "dmy", datetime(2018, 6, 13, 21, 25, 15), "a: m"),
    ("[3/6/18 1:55:00 p. m.] a: m", "dmy", datetime(2018, 6, 3, 13, 55), "a: m"),
    ("03-06-2018, 01.55 PM - a: m", "dmy", datetime(2018, 6, 3, 13, 55), "a: m"),
    ("\u200e[3/6/18 1:55:00 p. m.] a: m", "dmy", datetime(2018, 6, 3, 13, 55), "a: m"),
    ("29.01.18, 12:24 vorm. - Bob: x", "dmy", datetime(2018, 1, 29, 0, 24), "Bob: x"),
    ("29.01.18, 1:24 nachm. - Bob: x", "dmy", datetime(2018, 1, 29, 13, 24), "Bob: x"),
    ("\ufeff12/1/20, 10:00 - You added Bob", "dmy", datetime(2020, 1, 12, 10, 0), "You added Bob"),
    # Marks inside the header take the slow path.
    ("[1\u200e/29/18, 11:46:03 PM] Alice: x", "mdy", datetime(2018, 1, 29, 23, 46, 3), "Alice: x"),
    ("1/29/18,\u202a 11:46 PM\u202c - Alice: x", "mdy", datetime(2018, 1, 29, 23, 46), "Alice: x"),
]


@pytest.mark.parametrize(("line", "order", "when", "rest"), D2_EXAMPLES)
def test_header_variants(line: str, order: str, when: datetime, rest: str) -> None:
    found = HeaderScanner(TimestampBuilder(order)).scan(line, "] " if "[" in line[:2] else " - ")
    assert found is not None
    head, offset = found
    assert head[3] == when
    assert line[offset:] == rest


@pytest.mark.parametrize("line", ["2 apples", "12/1/20 is a date", "[link] here", "10:00 - meeting", "1/2/3"])
def test_text_is_not_a_header(line: str) -> None:
    assert match_header(line) is None


@pytest.mark.parametrize(
    ("dates", "order", "ambiguous"),
    [
        (["13/01/20", "14/01/20"], "dmy", False),  # a first number > 12
        (["01/13/20", "01/14/20"], "mdy", False),  # a second number > 12
        (["5/1/20", "3/2/20"], "dmy", False),  # the day resets when the month moves on
        (["1/5/20", "2/3/20"], "mdy", False),
        (["11/12/19", "2/1/20", "1/2/20"], "dmy", False),  # mdy would go Nov -> Feb -> Jan: backwards
        (["2018/06/13", "2018/06/14"], "ymd", False),
        (["2018-01-02", "2018-01-03"], "ymd", False),
        (["01/02/21", "03/04/21"], "dmy", True),  # nothing decides
        (["05/05/21", "06/06/21"], "dmy", False),  # both orders give the same dates
        ([], "dmy", False),
    ],
)
def test_detect_order(dates: list[str], order: str, ambiguous: bool) -> None:
    assert detect_order(dates) == (order, ambiguous)


def test_ambiguous_order_is_noted_and_can_be_overridden() -> None:
    data = b"01/02/2021, 10:00 - Ann: hi\n03/04/2021, 10:00 - Bob: hello\n"
    chat, messages = parse_export(io.BytesIO(data))
    assert chat.anomalies == [AMBIGUOUS]
    assert [m.timestamp.month for m in messages] == [2, 4]
    chat, messages = parse_export(io.BytesIO(data), date_order="mdy")
    assert chat.anomalies == [] and chat.date_order == "mdy"
    assert [m.timestamp.month for m in messages] == [1, 3]


def test_unknown_date_order_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="date_order"):
        parse_export(io.BytesIO(b"1/2/20, 10:00 - a: b\n"), date_order="dym")


def test_empty_stream_is_not_an_export() -> None:
    with pytest.raises(NotAnExport):
        parse_export(io.BytesIO(b""))


def test_header_after_many_lines_of_text_is_not_an_export() -> None:
    data = b"preamble\n" * 250 + b"1/2/20, 10:00 - a: b\n"
    with pytest.raises(NotAnExport):
        parse_export(io.BytesIO(data))


MARKER_BODIES = [
    *locales.DELETED,
    *(d + "." for d in locales.DELETED),
    *locales.OMITTED_ANDROID,
    *locales.OMITTED_IOS,
    *locales.LIVE_LOCATION,
    "null",
    "\u200eanything",
    "<attached: 00000001-PHOTO-2020-01-01-10-00-00.jpg>",
    "IMG-20200101-WA0001.jpg (file attached)\ncaption",
    "Report.pdf • 3 pages document omitted",
    "text <This message was edited>",
    "location: https://maps.google.com/?q=1.5,2.5",
    *locales.SYSTEM_PREFIXES,
]


@pytest.mark.parametrize("body", MARKER_BODIES)
def test_the_cheap_gate_never_skips_a_marker(body: str) -> None:
    assert not is_plain(body)


@pytest.mark.parametrize("body", ["hello", "Time: 10:00 - ok?", "line one\nline two", "a (b) c", "🙂", ""])
def test_the_cheap_gate_passes_plain_text(body: str) -> None:
    assert is_plain(body) or classify(body, True).kind == "text"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("STK-20200101-WA0001.webp (file attached)", "sticker"),
        ("AUD-20200101-WA0001.m4a (file attached)", "audio"),
        ("contact.vcf (file attached)", "contact"),
        ("\u200e<attached: 00000001-GIF-2020-01-01-10-00-00.mp4>", "gif"),
        ("\u200e<attached: 00000001-STICKER-2020-01-01-10-00-00.webp>", "sticker"),
        ("2015-08-04-PHOTO-00004762.jpg <attached>", "image"),
        ("<Video message omitted>", "video"),
        ("\u200eGIF omitted", "gif"),
        ("live location shared", "location"),
    ],
)
def test_media_kinds(body: str, kind: str) -> None:
    assert classify(body, True).kind == kind


class ReadSpy(io.BytesIO):
    """Records the sizes asked of read(), to show the parser never slurps the file."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.sizes.append(-1 if size is None else size)
        return super().read(size)


def test_the_stream_is_read_in_bounded_blocks() -> None:
    line = b"30/06/2023, 16:15 - Dave: " + b"x" * 60 + b"\n"
    spy = ReadSpy(line * (3 * BLOCK_SIZE // len(line)))
    _, messages = parse_export(spy)
    assert sum(1 for _ in messages) == 3 * BLOCK_SIZE // len(line)
    assert spy.sizes and all(0 < size <= BLOCK_SIZE for size in spy.sizes)


def test_a_line_longer_than_a_block() -> None:
    body = "y" * (BLOCK_SIZE + 10)
    data = f"30/06/2023, 16:15 - Dave: {body}\n30/06/2023, 16:16 - Erin: ok\n".encode()
    _, messages = parse_export(io.BytesIO(data))
    assert [(m.text, m.line_start) for m in messages] == [(body, 1), ("ok", 2)]


def test_no_trailing_newline_and_a_block_boundary_inside_crlf() -> None:
    line = "30/06/2023, 16:15 - Dave: hello\r\n"
    count = BLOCK_SIZE // len(line) + 2
    data = (line * count).rstrip("\r\n").encode()
    _, messages = parse_export(io.BytesIO(data))
    assert [m.text for m in messages] == ["hello"] * count


def test_ios_document_with_title_and_page_count_before_the_tag() -> None:
    body = "\u200eReport Q2.pdf • \u200e3 pages \u200e<attached: 00000005-Report Q2.pdf>"
    info = classify(body, True)
    assert info.kind == "document"
    assert info.attachments[0].filename == "00000005-Report Q2.pdf"
    assert info.text == body[1:]  # only the leading LRM goes


def test_name_colon_without_text_is_an_empty_message() -> None:
    _, messages = parse_export(io.BytesIO(b"30/06/2023, 16:15 - Dave:\n30/06/2023, 16:16 - Erin: x\n"))
    first = next(messages)
    assert (first.sender, first.text, first.kind) == ("Dave", "", "text")
    assert first.anomalies == ["empty message body ('Name:' without text)"]


def test_a_header_in_another_format_is_kept_as_text() -> None:
    data = (
        b"30/06/2023, 16:15 - Dave: see the log:\n"
        b"[30/06/2023, 16:15:59] Erin: pasted from an iPhone export\n"
        b"30/06/2023, 16:16 - Erin: ok\n"
    )
    chat, messages = parse_export(io.BytesIO(data), title="Dave")
    assert chat.title == "Dave"
    assert chat.anomalies == ["1 header-like line(s) in another format were kept as message text"]
    first, second = messages
    assert first.text == "see the log:\n[30/06/2023, 16:15:59] Erin: pasted from an iPhone export"
    assert first.anomalies == ["line 2 looks like a message header but could not be parsed"]
    assert (second.sender, second.line_start) == ("Erin", 3)
