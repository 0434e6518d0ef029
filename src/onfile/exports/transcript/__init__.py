"""A conversation as a PDF transcript: the human-readable rendition of REQ-SEC-8 (a).

HTML from a Django template (autoescaped: message text is data, never markup), laid out by
WeasyPrint as archival PDF/A-3b with a page x of y footer. See docs/decisions.md for why
WeasyPrint. This folder is the whole format: the data it shows (``data.py``), the template
and the stylesheet (``templates/``). Nothing here checks access or writes the ledger: the
caller (``onfile.exports.conversation``) does both, in one place.

Characters no installed font can draw are written out (``glyphs.py``), never drawn as boxes.
WeasyPrint fetches nothing: only ``data:`` URLs are allowed, so a message cannot make the
renderer read a local file or reach the network.
"""

from __future__ import annotations

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
    document = HTML(string=html, url_fetcher=fetcher)
    stylesheet = CSS(string=_stylesheet(), url_fetcher=fetcher)
    document.write_pdf(out, stylesheets=[stylesheet], pdf_variant=PDF_VARIANT)
