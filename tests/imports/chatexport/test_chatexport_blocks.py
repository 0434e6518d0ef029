"""The block-wise parser: block boundaries anywhere, the regex's trust in header pieces, and
the exact line-level path for everything the block regex cannot vouch for.

The reference is always the same text parsed as one block (the default block size is larger
than any of these files): cutting a file into blocks, wherever the cuts fall, must not change
a single field.
"""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onfile.imports.chatexport import parse_export, reader
from onfile.imports.chatexport.blocks import COL_DATE, COL_SENDER, COL_TIME, STRIDE, Pieces, first_line, splitter
from onfile.imports.chatexport.bodies import _EDITED, _edited
from onfile.imports.chatexport.headers import HEADER, clock_of
from onfile.imports.records import ParsedMessage

CORPUS = Path(__file__).parent / "corpus"
FILES = [p for p in sorted(CORPUS.glob("*.txt")) if p.stem != "not_an_export"]


def parse(data: bytes, block_size: int | None = None, **kw: Any) -> tuple[Any, list[Any]]:
    """(chat fields, message fields) of ``data``, read ``block_size`` bytes at a time."""
    saved = reader.BLOCK_SIZE
    try:
        if block_size:
            reader.BLOCK_SIZE = block_size
        chat, messages = parse_export(io.BytesIO(data), **kw)
        return dataclasses.astuple(chat), [dataclasses.astuple(m) for m in messages]
    finally:
        reader.BLOCK_SIZE = saved


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
@pytest.mark.parametrize("size", [1, 7, 64, 301])
def test_block_boundaries_do_not_change_the_parse(path: Path, size: int) -> None:
    data = path.read_bytes()
    assert parse(data, size) == parse(data)


def test_every_cut_inside_headers_crlf_and_a_long_message() -> None:
    data = (
        "\ufeff30/06/2023, 16:15 - Dave: first\r\n"
        "30/06/2023, 16:16 - Erin: a message\r\nwith a second line\r\n2. and a numbered one\r\n"
        "30/06/2023, 16:17 - Dave: IMG-20230630-WA0001.jpg (file attached)\r\ncaption\r\n"
        "[30/06/2023, 16:15:59] Erin: an iPhone line pasted in\r\n"
        "30/06/2023, 16:18 - Erin: last\r"
    ).encode()
    reference = parse(data)
    assert len(reference[1]) == 4
    for size in range(1, len(data) + 2):
        assert parse(data, size) == reference, size


def test_a_message_longer_than_many_blocks() -> None:
    body = "\n".join(f"line {i} of a very long message" for i in range(500))
    data = f"1/2/2023, 10:00 - Ann: start\n1/2/2023, 10:01 - Bob: {body}\n1/2/2023, 10:02 - Ann: end\n".encode()
    _, messages = parse_export(io.BytesIO(data))
    _, long, last = messages
    assert (long.text, long.line_start, long.line_end) == (body, 2, 501)
    assert (last.text, last.line_start) == ("end", 502)
    assert parse(data, 100) == parse(data)


def test_invalid_utf8_inside_a_large_block() -> None:
    stamps = [f"{1 + i // 1440}/01/2023, {i // 60 % 24:02d}:{i % 60:02d}" for i in range(20_000)]
    lines = [f"{stamp} - Dave: message {i}".encode() for i, stamp in enumerate(stamps)]
    lines[12_345] = lines[12_345].replace(b"message 12345", b"bad \xff byte")
    lines[15_000] = b"\xfe continuation"
    data = b"\n".join(lines)
    assert len(data) < reader.BLOCK_SIZE  # one block, decoded line by line because of the bad bytes
    chat, messages = parse_export(io.BytesIO(data))
    assert chat.anomalies == ["invalid UTF-8 at line 12346", "invalid UTF-8 at line 15001"]
    got = list(messages)
    assert len(got) == 19_999
    assert got[12_345].text == "bad \ufffd byte" and got[12_345].anomalies == ["invalid UTF-8 at line 12346"]
    assert got[14_999].raw.endswith("\n\ufffd continuation")
    assert got[14_999].anomalies == ["invalid UTF-8 at line 15001"]
    assert all(not m.anomalies for i, m in enumerate(got) if i not in (12_345, 14_999))
    assert [m.line_start for m in got[:3]] == [1, 2, 3] and got[-1].line_end == 20_000


def test_lines_the_block_regex_cannot_vouch_for_take_the_exact_path() -> None:
    data = (
        "1/29/18, 11:46 PM - Alice: plain\n"
        "1/29/18,\u202a 11:47 PM\u202c - Alice: marks inside the header\n"  # "maybe" line, a header
        "1/29/18, 11:48 PM – Bob: an en dash\n"  # the fast regex finds no " - ", the grammar does
        "1/2.20, 11:49 PM - Bob: mixed separators, not a header\n"  # fast shape, refuted
        "1/32/18, 11:50 PM - Bob: no such day\n"  # a header, refused: kept as text, noted
        "1/29/18, 11:51 PM - Alice: back to plain\n"
    ).encode()
    chat, messages = parse_export(io.BytesIO(data))
    got = [(m.timestamp.minute, m.sender, m.text, m.anomalies) for m in messages]
    assert got == [
        (46, "Alice", "plain", []),
        (47, "Alice", "marks inside the header", []),
        (
            48,
            "Bob",
            "an en dash\n1/2.20, 11:49 PM - Bob: mixed separators, not a header\n"
            "1/32/18, 11:50 PM - Bob: no such day",
            ["line 5 looks like a message header but could not be parsed"],
        ),
        (51, "Alice", "back to plain", []),
    ]
    assert chat.date_order == "mdy"


def test_a_style_without_a_fast_regex() -> None:
    data = b"13. 6. 2018. 21:25:15 a: one\n13. 6. 2018. 21:25:16 b: two\nmore\n"
    chat, messages = parse_export(io.BytesIO(data))
    assert chat.participants == ["a", "b"]
    assert [(m.timestamp, m.text) for m in messages] == [
        (datetime(2018, 6, 13, 21, 25, 15), "one"),
        (datetime(2018, 6, 13, 21, 25, 16), "two\nmore"),
    ]


@pytest.mark.parametrize("size", [None, 40])
def test_participants_in_order_of_first_appearance_across_rare_lines(size: int | None) -> None:
    data = (
        "\u200e[01/02/2023, 10:00:00] Zed: \u200e<attached: 00000001-PHOTO-2023-02-01-10-00-00.jpg>\n"
        "[01/02/2023, 10:00:01] Amy: hi\n"
        "[01/02/2023, 10:00:02] Zed: hello\n"
        "\u200e[01/02/2023, 10:00:03] Kim: \u200eimage omitted\n"
        "[01/02/2023, 10:00:04] Bea: yo\n"
        "\u200e[01/02/2023, 10:00:05] Room: \u200eAmy added Kim\n"
    ).encode()
    chat, _ = parse(data, size)
    assert chat[3] == ["Zed", "Amy", "Kim", "Bea"]  # participants; "Room" only speaks system text
    assert chat[0] == "Room" and chat[2] is True  # title and is_group from the system line


def test_a_quoted_would_be_sender_is_system_text() -> None:
    data = b'01/02/2023, 10:00 - Ann: hi\n01/02/2023, 10:01 - Ann changed the subject to "Re: plans"\n'
    chat, messages = parse_export(io.BytesIO(data))
    second = list(messages)[1]
    assert (second.sender, second.kind, second.system_event) == (None, "system", "group_renamed")
    assert chat.participants == ["Ann"] and chat.title == "Re: plans"


def test_the_block_regex_columns() -> None:
    text = "\n1/2/20, 10:00 - Bob: hi: there\nmore\n1/2/20, 10:01 - Ann added Bob\n1/2 cup\n[link]"
    parts = splitter("td").split(text)
    assert parts[COL_DATE::STRIDE] == ["1/2/20", "1/2/20", None]
    assert parts[COL_TIME::STRIDE] == [", 10:00 - ", ", 10:01 - ", None]
    assert parts[COL_SENDER::STRIDE] == ["Bob", None, None]  # no sender; "1/2 cup" may be a header
    assert parts[STRIDE::STRIDE] == ["hi: there\nmore", "Ann added Bob", "1/2 cup\n[link]"]
    lines = text[1:].split("\n")
    for k, expected in zip(range(0, 3), (lines[0], lines[2], lines[3]), strict=True):
        at = k * STRIDE
        d, t, s, seg = parts[COL_DATE + at], parts[COL_TIME + at], parts[COL_SENDER + at], parts[STRIDE + at]
        assert first_line(d, t, s, seg) == expected


def test_pieces_are_trusted_only_as_the_full_grammar_parses_them() -> None:
    pieces = Pieces("td")
    pieces.learn("1/2/20, 10:00 - Bob: hi", "1/2/20", ", 10:00 - ")
    assert pieces.dates == {"1/2/20": "1/2/20"} and pieces.times == {", 10:00 - ": (10, 0, 0, None)}
    pieces.learn("1/2/20, 10:00 x - Bob: hi", "1/2/20", ", 10:00 x - ")  # trusted date: the time is wrong
    assert pieces.times[", 10:00 x - "] is None
    pieces.learn("1/2.20, 10:00 - Bob: hi", "1/2.20", ", 10:00 - ")  # trusted time: the date is wrong
    assert pieces.dates["1/2.20"] is None
    pieces.learn("1/2.21, 10:00 y - Bob: hi", "1/2.21", ", 10:00 y - ")  # neither known: no blame
    assert "1/2.21" not in pieces.dates and ", 10:00 y - " not in pieces.times


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.sampled_from(["{h}:{m:02d}:{s:02d}", "{h:02d}:{m:02d}:{s:02d}", "{h}.{m:02d}", "{h12}:{m:02d}\u202f{ap}"]),
)
def test_a_time_piece_of_a_known_shape_parses_as_the_grammar_would(h: int, m: int, s: int, fmt: str) -> None:
    """Shapes (digits zeroed) stand in for the regex on iOS files' 86,400 time pieces."""
    pieces = Pieces("tb")
    seed = "[1/2/20, " + fmt.format(h=1, m=2, s=3, h12=1, ap="AM") + "] "
    pieces.learn(seed + "a: b", "[1/2/20", seed[len("[1/2/20") :])
    t = ", " + fmt.format(h=h, m=m, s=s, h12=h % 12 or 12, ap="PM" if h >= 12 else "AM") + "] "
    pieces.learn_block(["[1/2/20"], [t], ["a"], ["b"])
    match = HEADER.match("[1/2/20" + t)
    assert match is not None and pieces.times[t] == clock_of(match)


_EDIT_BITS = ["<", ">", " ", "\u200e", "\n", "a", "This message was edited", "<Mensagem editada>"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_EDIT_BITS)).map("".join))
def test_the_edited_tag_is_found_as_the_regex_search_finds_it(body: str) -> None:
    a, b = _EDITED.search(body), _edited(body)
    assert (a and a.span()) == (b and b.span())


def test_messages_are_parsed_message_instances_with_fresh_lists() -> None:
    data = "".join(f"1/2/2023, 10:{i:02d} - Ann: m{i}\n" for i in range(50)).encode()
    _, messages = parse_export(io.BytesIO(data))
    got = list(messages)
    assert all(type(m) is ParsedMessage for m in got)
    got[0].attachments.append(None)  # type: ignore[arg-type]
    got[0].anomalies.append("x")
    assert got[1].attachments == [] and got[1].anomalies == [] and got[1].reactions == []
    assert [m.index for m in got] == list(range(50))
    assert all(re.fullmatch(r"1/2/2023, 10:\d\d - Ann: m\d+", m.raw) for m in got)


def test_time_pieces_with_other_digits_are_learnt_one_by_one() -> None:
    """\\d takes Arabic-Indic digits too; such a time piece never stands for a shape."""
    data = "1/2/2020, 10:00 - a: x\n1/2/2020, ١٠:01 - a: y\n1/2/2020, 10:02 - a: z\n1/2/2020, ١٠:03 - a: w\n".encode()
    for size in (None, 30):
        _, messages = parse(data, size)
        assert [m[1].minute for m in messages] == [0, 1, 2, 3]
        assert [m[1].hour for m in messages] == [10, 10, 10, 10]
