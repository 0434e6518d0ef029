"""Read an export's text as decoded lines, in batches, with bounded memory.

Design: the stream is read in 1 MiB blocks cut at the last newline, and each block is
decoded and split in one C call each. That is several times cheaper than decoding line by
line, which matters because a parse reads the file twice. Only a block that is not valid
UTF-8 is redone line by line, so the bad lines can be named (replacement characters are
substituted; the caller keeps the original bytes). Lines are split on ``\\n`` only, so
U+2028 and friends inside a message stay inside it; a ``\\r`` before ``\\n`` is dropped.
A leading BOM is dropped; later BOMs stay in the text (the header grammar tolerates them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

BLOCK_SIZE = 1 << 20
_BOM = b"\xef\xbb\xbf"


class Batch:
    """Consecutive lines; ``first`` is the 1-based number of ``lines[0]``."""

    __slots__ = ("bad", "first", "lines")

    def __init__(self, lines: list[str], first: int, bad: frozenset[int]) -> None:
        self.lines = lines
        self.first = first
        self.bad = bad  # 1-based numbers of lines that were not valid UTF-8


def read_batches(stream: BinaryIO) -> Iterator[Batch]:
    """Yield the stream's lines from the current position, in batches."""
    parts: list[bytes] = []
    first = 1
    start = True
    while True:
        block = stream.read(BLOCK_SIZE)
        if start:
            start = False
            if block.startswith(_BOM):
                block = block[len(_BOM) :]
        if not block:
            break
        cut = block.rfind(b"\n")
        if cut < 0:
            parts.append(block)  # a line longer than a block: keep collecting
            continue
        parts.append(block[:cut])
        batch = _decode(b"".join(parts), first)
        parts = [block[cut + 1 :]]
        first += len(batch.lines)
        yield batch
    rest = b"".join(parts)
    if rest:
        yield _decode(rest, first)


def _decode(data: bytes, first: int) -> Batch:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_lines(data, first)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if text.endswith("\r"):  # the block was cut just before its last "\n"
            text = text[:-1]
    return Batch(text.split("\n"), first, frozenset())


def _decode_lines(data: bytes, first: int) -> Batch:
    lines: list[str] = []
    bad: set[int] = set()
    for number, raw in enumerate(data.split(b"\n"), first):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(raw.decode("utf-8", errors="replace"))
            bad.add(number)
    return Batch(lines, first, frozenset(bad))
