"""Read an export's text as decoded blocks of whole lines, with bounded memory.

Design: the stream is read ``BLOCK_SIZE`` bytes at a time and cut after the last complete
line. Each block is decoded in one C call and handed on as a single string that *starts
with* ``"\\n"``: every line, the first included, is then preceded by a newline, so the block
parsers can find line starts with one regex whose literal first character lets the C engine
skip from newline to newline. The block also keeps its UTF-8 and its line count (for byte
searches and line numbers without another pass over the text). Only a block that is not
valid UTF-8 is redone line by line, so the bad lines can be named (replacement characters are
substituted; the caller keeps the original bytes). Lines are split on ``\\n`` only, so U+2028
and friends inside a message stay inside it; one ``\\r`` before each ``\\n`` (and at the very
end) is dropped. A leading BOM is dropped; later BOMs stay in the text (the header grammar
tolerates them). A file's last line needs no ``\\n``; a final ``\\n`` does not start a line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

BLOCK_SIZE = 1 << 22  # 4 MiB: large enough that per-block costs vanish, small enough for memory
_BOM = b"\xef\xbb\xbf"


class Block:
    """Consecutive whole lines: ``text`` is ``"\\n" + "\\n".join(lines)``; ``first`` is the
    1-based number of the first line; ``bad`` the sorted numbers of lines that were not
    valid UTF-8."""

    __slots__ = ("bad", "count", "data", "first", "text")

    def __init__(self, text: str, first: int, bad: list[int], data: bytes, count: int) -> None:
        self.text = text
        self.first = first
        self.bad = bad
        self.count = count  # the number of lines
        # The UTF-8 the text was decoded from (CRLF already folded): substring searches on
        # it scan one byte per character instead of up to four.
        self.data = data

    @property
    def lines(self) -> list[str]:
        return self.text[1:].split("\n")


def read_blocks(stream: BinaryIO, size: int = 0) -> Iterator[Block]:
    """Yield the stream's lines from the current position, as blocks."""
    size = size or BLOCK_SIZE
    # ``pending`` holds the bytes after the last newline seen so far, starting with that
    # newline; a line longer than a block accumulates there as a list (no quadratic joins).
    pending: list[bytes] = [b"\n"]
    first = 1
    start = True
    while True:
        chunk = stream.read(size)
        if not chunk:
            break
        if start:
            start = False
            while len(chunk) < len(_BOM):  # tiny blocks: enough bytes to see a BOM
                more = stream.read(size)
                if not more:
                    break
                chunk += more
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        cut = chunk.rfind(b"\n")
        if cut < 0:
            pending.append(chunk)
            continue
        pending.append(chunk[:cut])
        data = b"".join(pending)
        pending = [chunk[cut:]]
        block = _decode(data, first)
        first += block.count
        yield block
    rest = b"".join(pending)
    if len(rest) > 1:  # a last line without a final newline
        yield _decode(rest, first)


def _decode(data: bytes, first: int) -> Block:
    """``data`` is ``b"\\n"`` + whole lines (the last one without its newline)."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        if data.endswith(b"\r"):  # the block was cut just before a "\n", or the file ends so
            data = data[:-1]
    try:
        return Block(data.decode("utf-8"), first, [], data, data.count(b"\n"))
    except UnicodeDecodeError:
        return _decode_lines(data, first)


def _decode_lines(data: bytes, first: int) -> Block:
    lines: list[str] = []
    bad: list[int] = []
    for number, raw in enumerate(data[1:].split(b"\n"), first):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(raw.decode("utf-8", errors="replace"))
            bad.append(number)
    text = "\n" + "\n".join(lines)
    return Block(text, first, bad, text.encode("utf-8"), len(lines))
