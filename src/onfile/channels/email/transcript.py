"""Several messages in one email body: the transcript of a conversation-day (``journal_day.py``,
also the daily filing digest of ``filing.py``) and a burst of client messages (``bursts.py``).

Each message is rendered as the one-message emails of ``compose.py`` render it (sender, quoted
reply, text of any type, files inline/attached/linked), one after the other, in plain text and in
HTML. For the record (``history=True``) each message also shows what happened to it by the time the
email is built: every earlier text of an edit, a deletion by its sender (REQ-MIFID-2: corrections
and the content before them easy to see; REQ-GR-4: deletions included) and the last delivery
status of the firm's messages. Nothing here writes.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from onfile.channels.email import compose
from onfile.conversations.models import Message


def zone() -> ZoneInfo:
    """The firm's time zone (``ONFILE_TIME_ZONE``): days and times in transcripts are local."""
    return ZoneInfo(settings.TIME_ZONE)


def local(at: datetime, fmt: str) -> str:
    return at.astimezone(zone()).strftime(fmt)


@dataclass
class Transcript:
    text: str
    html: str
    media: compose._Media = field(default_factory=compose._Media)


def _direction(message: Message) -> str:
    return {"in": "client", "out": "firm"}.get(message.direction, message.direction)


def _history(message: Message) -> list[str]:
    notes = []
    for revision in message.revisions.order_by("at", "pk"):
        when = local(revision.at, "%d %b %Y %H:%M:%S %Z")
        if revision.kind == "edit":
            notes.append(f"edited by the sender on {when}; the text before: {revision.body or '(empty)'}")
        else:
            notes.append(f"deleted by the sender on {when} (kept on the record)")
    if message.direction == Message.Direction.OUT and message.status:
        notes.append(f"delivery status: {message.status}")
    return notes


def render(messages: Sequence[Message], *, heading: list[str], url: str, limit: int | None,
           wait: Callable[[Message], bool], history: bool, time_format: str) -> Transcript:
    """``heading``: lines before the messages; ``url``: the conversation in onfile; ``limit``: larger files become
    links (None: attach everything, as the journal does); ``wait(message)``: whether to raise
    ``compose.MediaPending`` for a file still being fetched (else it becomes a note)."""
    e = html.escape
    out = Transcript("", "")
    text: list[str] = [*heading, ""]
    page: list[str] = [f"<p style=\"color:#555\">{e(line)}</p>" for line in heading if line]
    for message in messages:
        media = compose._media(message, limit, wait=wait(message))
        out.media.inline += media.inline
        out.media.files += media.files
        out.media.links += media.links
        label = f"[{local(message.sent_at, time_format)}] {compose._sender(message)} ({_direction(message)}):"
        text.append(label)
        page.append(f"<div style=\"margin:0 0 1em\"><p style=\"color:#555;margin:0\">{e(label)}</p>")
        quoted = compose._quoted(message)
        if quoted is not None:
            said = f"{compose._sender(quoted)}: {compose.body_text(quoted)}"
            text += [f"> {line}" for line in said.splitlines()]
            page.append("<blockquote style=\"border-left:3px solid #ccc;margin:0;padding-left:.6em;color:#555\">"
                        f"<b>{e(compose._sender(quoted))}</b><br>"
                        f"{e(compose.body_text(quoted)).replace(chr(10), '<br>')}</blockquote>")
        body = compose.body_text(message)
        text.append(body)
        page.append(f"<p style=\"margin:.2em 0\">{e(body).replace(chr(10), '<br>')}</p>")
        page += [f"<p><img src=\"cid:{p.cid[1:-1]}\" alt=\"{e(p.filename)}\" style=\"max-width:100%\"></p>"
                 for p in media.inline]
        files = [p.filename for p in media.inline + media.files]
        if files:
            text.append("  Attached: " + ", ".join(files))
            page.append("<p style=\"margin:.2em 0\">Attached: " + ", ".join(e(f) for f in files) + "</p>")
        for name, link in media.links:
            text.append(f"  {name}: {link}")
            page.append(f"<p style=\"margin:.2em 0\"><a href=\"{e(link)}\">{e(name)}</a></p>")
        for note in _history(message) if history else []:
            text.append(f"  ({note})")
            page.append(f"<p style=\"color:#a33;margin:.2em 0\">({e(note)})</p>")
        text.append("")
        page.append("</div>")
    text.append(f"Open the conversation in onfile: {url}")
    page.append(f"<p style=\"color:#555\"><a href=\"{e(url)}\">Open the conversation in onfile</a></p>")
    out.text = "\n".join(text).rstrip("\n") + "\n"
    out.html = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">"
                + "\n".join(page) + "</body></html>\n")
    return out
