"""Every corpus export parses to its hand-written ``<name>.expected.json``.

Fields a message's JSON leaves out take their defaults (kind "text", no event, not
deleted/edited, no attachments, no anomalies, no coordinates). ``raw`` is checked against
the file itself: the message's physical lines, decoded, joined with "\\n".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from onfile.imports.chatexport import NotAnExport, parse_export
from onfile.imports.records import ParsedChat, ParsedMessage

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.txt"))
DEFAULTS: dict[str, Any] = {
    "kind": "text",
    "system_event": None,
    "deleted": False,
    "edited": False,
    "attachments": [],
    "anomalies": [],
    "latitude": None,
    "longitude": None,
}


def chat_json(chat: ParsedChat) -> dict[str, Any]:
    return {
        "platform": chat.platform,
        "source_format": chat.source_format,
        "date_order": chat.date_order,
        "clock": chat.clock,
        "participants": chat.participants,
        "is_group": chat.is_group,
        "title": chat.title,
        "anomalies": chat.anomalies,
    }


def message_json(m: ParsedMessage) -> dict[str, Any]:
    return {
        "lines": [m.line_start, m.line_end],
        "timestamp": m.timestamp.isoformat(),
        "sender": m.sender,
        "kind": m.kind,
        "system_event": m.system_event,
        "text": m.text,
        "deleted": m.deleted,
        "edited": m.edited,
        "attachments": [
            {"filename": a.filename, "omitted": a.omitted, "caption": a.caption} for a in m.attachments
        ],
        "anomalies": m.anomalies,
        "latitude": m.latitude,
        "longitude": m.longitude,
    }


def physical_lines(path: Path) -> list[str]:
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    return [line.removesuffix(b"\r").decode("utf-8", errors="replace") for line in data.split(b"\n")]


def test_the_corpus_is_there() -> None:
    assert len(FILES) >= 20
    for path in FILES:
        assert (
            path.with_suffix("").with_suffix(".expected.json").exists()
            or (CORPUS / (path.stem + ".expected.json")).exists()
        ), path.name


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_corpus_file_parses_as_expected(path: Path) -> None:
    expected = json.loads((CORPUS / (path.stem + ".expected.json")).read_text(encoding="utf-8"))
    with open(path, "rb") as stream:
        if "error" in expected:
            with pytest.raises(NotAnExport):
                parse_export(stream)
            return
        chat, messages = parse_export(stream)
        got = [message_json(m) for m in messages]
    assert chat_json(chat) == expected["chat"]
    assert len(got) == len(expected["messages"]), [g["text"] for g in got]
    for index, (g, e) in enumerate(zip(got, expected["messages"], strict=True)):
        assert g == {**DEFAULTS, **e}, f"message {index}"


@pytest.mark.parametrize("path", [p for p in FILES if p.stem != "not_an_export"], ids=lambda p: p.stem)
def test_raw_is_the_physical_lines_and_indexes_follow_file_order(path: Path) -> None:
    lines = physical_lines(path)
    with open(path, "rb") as stream:
        _, messages = parse_export(stream)
        previous_end = 0
        for index, m in enumerate(messages):
            assert m.index == index
            assert m.line_start > previous_end
            assert m.raw == "\n".join(lines[m.line_start - 1 : m.line_end])
            previous_end = m.line_end
