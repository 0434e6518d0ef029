"""A conversation as a PDF transcript: the human-readable rendition of REQ-SEC-8 (a).

HTML from a Django template (autoescaped: message text is data, never markup), laid out by
WeasyPrint as archival PDF/A-3b with a page x of y footer. See docs/decisions.md for why
WeasyPrint. This folder is the whole format: the data it shows (``data.py``), the template
and the stylesheet (``templates/``). Nothing here checks access or writes the ledger: the
caller (``onfile.exports.conversation``) does both, in one place.

Characters no installed font can draw are written out (``glyphs.py``), never drawn as boxes.
WeasyPrint fetches nothing: only ``data:`` URLs are allowed, so a message cannot make the
renderer read a local file or reach the network.

Nearly all the time goes to WeasyPrint, in Python, per element and per line of text
(docs/benchmarks.md, issue 5): the template gives a plain message one element, and the cycle
collector rests while WeasyPrint works.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from django.template import Context, Engine

from onfile.conversations.models import Conversation
from onfile.exports.common import utc_text
from onfile.exports.transcript.data import Header, MessageView, messages
from onfile.exports.transcript.glyphs import printable

TEMPLATES = Path(__file__).with_name("templates")
PDF_VARIANT = "pdf/a-3b"

__all__ = ["PDF_VARIANT", "Header", "MessageView", "render_html", "write_pdf"]


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


@cache
def _engine() -> Engine:
    return Engine(dirs=[str(TEMPLATES)], autoescape=True, debug=False)


@cache
def _stylesheet() -> str:
    return (TEMPLATES / "transcript.css").read_text(encoding="utf-8")


def render_html(conversation: Conversation, header: Header, *, in_bundle: bool = False,
                missing: dict[int, str] | None = None) -> str:
    """The transcript's HTML; ``missing`` as in ``data.messages``."""
    views = messages(conversation, originals=header.originals, in_bundle=in_bundle, missing=missing)
    context: dict[str, Any] = {
        "h": header, "messages": views, "last_seq": max(header.seal.size - 1, 0),
        "seal_at": utc_text(header.seal.made_at), "created": header.generated_at.replace(" ", "T"),
    }
    return printable(_engine().get_template("transcript.html").render(Context(context)))


def write_pdf(html: str, out: Writable) -> None:
    """Lay out ``html`` and write the PDF/A to ``out`` (only ``write`` is used)."""
    try:
        from weasyprint import CSS, HTML
        from weasyprint.urls import URLFetcher
    except OSError as exc:  # WeasyPrint loads Pango with ctypes when first imported
        raise RuntimeError(f"PDF transcripts need the Pango library (Debian: apt-get install libpango-1.0-0 "
                           f"libpangoft2-1.0-0 fonts-dejavu-core): {exc}") from None

    fetcher = URLFetcher(allowed_protocols={"data"})
    with _no_cyclic_gc():
        document = HTML(string=html, url_fetcher=fetcher)
        stylesheet = CSS(string=_stylesheet(), url_fetcher=fetcher)
        document.write_pdf(out, stylesheets=[stylesheet], pdf_variant=PDF_VARIANT)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cycle collector while WeasyPrint lays out and draws.

    It allocates millions of objects (boxes, styles) that stay alive until the PDF is written,
    and each automatic collection walks them again: 13-14 % of the CPU time of a large
    transcript, for nothing (reference counting frees them afterwards). The few cycles among
    them are collected once collection resumes; peak memory grows by about 3 %. The switch is
    process-wide: other threads' cycles wait too, for the length of one rendering. Overlapping
    renderings leave it as they found it: only one that found it on turns it back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
