"""WhatsApp "Export chat" files -> onfile import records (pure Python, no Django).

    with open_export(path) as source:                 # .txt, .zip or folder, checked for safety
        chat, messages = parse_source(source)          # or parse_export(source.open_chat())
        for message in messages:                       # lazy, file order, bounded memory
            ...

Modules: ``archive`` (opening safely), ``headers`` (header grammar, date order, timestamps),
``blocks`` (whole-block header recognition), ``survey`` (pass 1), ``messages`` (pass 2),
``parser`` (the entry point), ``bodies`` (markers and system lines), ``locales`` (the
localized strings), ``reader`` (decoding).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from onfile.imports.records import ParsedChat, ParsedMessage

from .archive import ExportSource, open_export, title_from_name
from .errors import ExportError, NotAnExport
from .parser import AMBIGUOUS, BACKWARDS, parse_export

__all__ = [
    "AMBIGUOUS",
    "BACKWARDS",
    "ExportError",
    "ExportSource",
    "NotAnExport",
    "open_export",
    "parse_export",
    "parse_source",
    "title_from_name",
]


def parse_source(
    source: ExportSource, *, date_order: str | None = None
) -> tuple[ParsedChat, Iterator[ParsedMessage]]:
    """Parse an opened export, with its title, and each attachment's ``path``/``size`` filled
    in from the export's media (an attachment whose file is absent is marked ``omitted``).

    The chat stream is closed when the iterator is exhausted or closed (an iterator that is
    never started leaves it to the garbage collector).
    """
    stream = source.open_chat()
    try:
        chat, messages = parse_export(stream, date_order=date_order, title=source.title)
    except BaseException:
        stream.close()
        raise
    return chat, _with_media(source, messages, stream)


def _with_media(
    source: ExportSource, messages: Iterator[ParsedMessage], stream: BinaryIO
) -> Iterator[ParsedMessage]:
    try:
        for message in messages:
            for attachment in message.attachments:
                if attachment.omitted or attachment.filename is None:
                    continue
                attachment.path = source.find_media(attachment.filename)
                if attachment.path is None:
                    attachment.omitted = True  # named in the text, absent from the export
                else:
                    attachment.size = source.media_size(attachment.path)
            yield message
    finally:
        stream.close()
