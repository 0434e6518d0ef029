"""Snippets: a piece of the message around what matched, safe to put in a page.

The engines mark matches with two control characters (never markup), the text is then
escaped, and only then are the marks turned into ``<mark>`` tags — so nothing in a message,
``<script>`` included, can reach the page as markup. A message may itself contain the marker
characters; they are dropped unless they open and close a mark in order, so the tags are
always balanced.
"""

from __future__ import annotations

import re

from django.utils.safestring import SafeString, mark_safe

START = "\x01"
STOP = "\x02"
ELLIPSIS = "…"
PLAIN_LENGTH = 160


_MARKS = re.compile("([\x01\x02])")
# django.utils.html.escape's table, applied to the whole text at once (a page has 25 snippets).
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def render(marked: str) -> tuple[SafeString, str]:
    """``(html, text)``: matches as ``<mark>…</mark>`` in the HTML and ``[[…]]`` in the text."""
    if START in marked or STOP in marked:
        marked = _balanced(marked)
    text = _flat(marked)
    html = text.translate(_ESCAPE).replace(START, "<mark>").replace(STOP, "</mark>")
    return mark_safe(html), text.replace(START, "[[").replace(STOP, "]]")  # noqa: S308 (escaped above)


def _balanced(marked: str) -> str:
    """The marks that open and close in order; a stray marker is part of the message, dropped."""
    out: list[str] = []
    inside = False
    for piece in _MARKS.split(marked):
        if piece == START:
            if not inside:
                out.append(START)
                inside = True
        elif piece == STOP:
            if inside:
                out.append(STOP)
                inside = False
        else:
            out.append(piece)
    if inside:
        out.append(STOP)
    return "".join(out)


def _flat(text: str) -> str:
    # A snippet is one line: the message's own line breaks would break a result list.
    return " ".join(text.split())


def plain(body: str, limit: int = PLAIN_LENGTH) -> str:
    """The start of a message with nothing marked (a hit found by phone number, not by words)."""
    flat = _flat(body.replace(START, " ").replace(STOP, " "))
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut + ELLIPSIS
