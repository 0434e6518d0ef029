"""Message bodies: sender split, system lines, media markers, deletions, edits, locations.

Design
- ``split_sender`` cuts ``"Name: text"`` at the first ``": "``. A line without one is an
  Android system line. A system line whose text itself holds ``": "`` (a group renamed to
  ``"Re: x"``) is caught because the would-be sender contains a quote.
- ``is_plain`` is the cheap gate run on every body: most messages are plain text, and
  every marker WhatsApp writes has a tell-tale first or last character, an exact text, or a
  known prefix. Only bodies that pass the gate go through ``classify`` and its regexes.
- ``classify`` never drops text. It returns the body with only these changes: the
  "<This message was edited>" suffix removed, and a leading U+200E removed when it precedes a
  recognised marker or system text (on iOS that mark is how WhatsApp flags them).
- The tables live in ``locales.py``; this module only compiles them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from onfile.imports.records import (
    KIND_AUDIO,
    KIND_CALL,
    KIND_CONTACT,
    KIND_DOCUMENT,
    KIND_GIF,
    KIND_IMAGE,
    KIND_LOCATION,
    KIND_STICKER,
    KIND_SYSTEM,
    KIND_TEXT,
    KIND_UNSUPPORTED,
    KIND_VIDEO,
    KIND_VOICE,
    ParsedAttachment,
)

from . import locales
from .headers import INVISIBLE

QUOTE = re.compile('["“”„«»]')
SHORTEST_QUOTING = 15  # 'X created group "' is the shortest system text quoting a name
MARK_START = frozenset(INVISIBLE + "<")
PREFIX_HEADS = frozenset(p[:4] for p in locales.SYSTEM_PREFIXES)
_SYSTEM = tuple((event, re.compile(src, re.IGNORECASE)) for event, src in locales.SYSTEM_PATTERNS)
_DELETED = frozenset(s.lower() for s in locales.DELETED)
_OMITTED_ANDROID = {k.lower(): v for k, v in locales.OMITTED_ANDROID.items()}
_OMITTED_IOS = {k.lower(): v for k, v in locales.OMITTED_IOS.items()}
_LIVE_LOCATION = frozenset(s.lower() for s in locales.LIVE_LOCATION)
_DOC_OMITTED = tuple(" " + k for k, v in _OMITTED_IOS.items() if v == KIND_DOCUMENT)

_EDITED = re.compile(
    "[ \u200e]*<(?:" + "|".join(re.escape(s) for s in locales.EDITED) + ")>\\s*$", re.IGNORECASE
)
_ATTACHED_SUFFIX = re.compile(
    r"^(?P<name>.+?)\s*\((?:" + "|".join(re.escape(s) for s in locales.ATTACHED_SUFFIX) + r")\)$",
    re.IGNORECASE,
)
_ATTACHED_TAG = re.compile(
    r"<(?:" + "|".join(re.escape(s) for s in locales.ATTACHED_TAG) + r")\s?:\s?(?P<name>[^<>]+?)\s*>",
    re.IGNORECASE,
)
_ATTACHED_OLD_IOS = re.compile(r"^(?P<name>\S+\.\w{2,5}) <attached>$")
# "location: https://maps.google.com/?q=lat,lon"; the label is localized, so any short one.
_LOCATION = re.compile(
    r"^[^\n:]{1,40}: https?://maps\.google\.[a-z.]+/\?q="
    r"(?P<lat>-?\d{1,3}(?:\.\d+)?),(?P<lon>-?\d{1,3}(?:\.\d+)?)\S*$"
)
_DROP_MARKS = dict.fromkeys(map(ord, INVISIBLE))

# Whole bodies worth a closer look, as written and lower-cased; the gate checks membership
# before any regex, without lower-casing every body.
_EXACT_SOURCES = (
    *locales.DELETED,
    *(s + "." for s in locales.DELETED),
    *locales.OMITTED_ANDROID,
    *locales.OMITTED_IOS,
    *locales.LIVE_LOCATION,
    "null",
)
_EXACT = frozenset(_EXACT_SOURCES) | frozenset(s.lower() for s in _EXACT_SOURCES)
EXACT = _EXACT

_NAME_KINDS = {
    "IMG": KIND_IMAGE,
    "VID": KIND_VIDEO,
    "AUD": KIND_AUDIO,
    "PTT": KIND_VOICE,
    "STK": KIND_STICKER,
    "DOC": KIND_DOCUMENT,
    "PHOTO": KIND_IMAGE,
    "VIDEO": KIND_VIDEO,
    "AUDIO": KIND_AUDIO,
    "STICKER": KIND_STICKER,
    "GIF": KIND_GIF,
}
_NAME_PREFIX = re.compile(r"^(?:\d{8}-)?(?P<tag>IMG|VID|AUD|PTT|STK|DOC|PHOTO|VIDEO|AUDIO|STICKER|GIF)-")
_EXT_KINDS = {
    **dict.fromkeys(("jpg", "jpeg", "png", "heic", "heif", "bmp"), KIND_IMAGE),
    **dict.fromkeys(("mp4", "mov", "3gp", "mkv", "avi", "webm", "m4v"), KIND_VIDEO),
    **dict.fromkeys(("mp3", "m4a", "aac", "ogg", "wav", "amr", "flac"), KIND_AUDIO),
    "opus": KIND_VOICE,
    "webp": KIND_STICKER,
    "gif": KIND_GIF,
    "vcf": KIND_CONTACT,
}


@dataclass(slots=True)
class Body:
    """What ``classify`` found in a body."""

    text: str
    kind: str = KIND_TEXT
    system_event: str | None = None
    deleted: bool = False
    edited: bool = False
    attachments: list[ParsedAttachment] = field(default_factory=list)
    latitude: float | None = None
    longitude: float | None = None
    anomalies: list[str] = field(default_factory=list)


def split_sender(rest: str) -> tuple[str | None, str]:
    """Split the text after a header into (sender, body); sender None for a system line."""
    i = rest.find(": ")
    if i < 0:
        return None, rest
    if quoted_sender(rest, 0, i) and system_event(rest):
        return None, rest
    return rest[:i], rest[i + 2 :]


def quoted_sender(text: str, start: int, colon: int) -> bool:
    """Whether the would-be sender ``text[start:colon]`` holds a quote: then the line is
    probably a system line quoting a name with ": " (short names cannot hold one)."""
    return colon - start > SHORTEST_QUOTING and QUOTE.search(text, start, colon) is not None


def is_plain(body: str) -> bool:
    """Cheap test: True when ``body`` certainly holds no marker or system text.

    One expression of C-level checks, ordered by how often they decide: each marker has a
    tell-tale first or last character, an exact text, a known prefix, or a telling substring.
    """
    return not body or not (
        body[0] in MARK_START
        or body[-1] in ">)"
        or body in _EXACT
        or (body[:4] in PREFIX_HEADS and body.startswith(locales.SYSTEM_PREFIXES))
        or "maps.google" in body
        or "•" in body  # "Report.pdf • 3 pages document omitted" without its LRM
        or ")\n" in body  # "IMG-….jpg (file attached)" with a caption below
    )


def system_event(text: str) -> str | None:
    """The system event a text describes, or None."""
    core = text.lstrip(INVISIBLE).strip()
    for event, pattern in _SYSTEM:
        if pattern.search(core):
            return event
    return None


def classify(body: str, has_sender: bool) -> Body:
    """Recognise markers and system text in ``body`` (see the module docstring)."""
    result = Body(body)
    m = _edited(body)
    if m is not None:
        result.edited = True
        body = result.text = body[: m.start()]
    core = body.lstrip(INVISIBLE)
    marked = len(core) != len(body)  # iOS flags markers and system text with a leading LRM
    if _placeholder(core, result) or _media(core, result):
        result.text = core
        return result
    if not has_sender or marked or core.startswith(locales.SYSTEM_PREFIXES):
        event = system_event(core)
        if event is not None or not has_sender:
            result.system_event = event or "other"
            result.kind = KIND_CALL if event == "call" else KIND_SYSTEM
            result.text = core
    return result


def _edited(body: str) -> re.Match[str] | None:
    """``_EDITED.search(body)``, without trying every position: the tag's "<" is the body's
    last (no marker text holds one), and the match can only start at the run of spaces and
    marks just before it, where a search would find it first."""
    k = body.rfind("<")
    if k < 0:
        return None
    while k and body[k - 1] in " \u200e":
        k -= 1
    return _EDITED.match(body, k)


def _placeholder(core: str, result: Body) -> bool:
    """Deleted, null, live location and coordinates; False when none applies."""
    low = core.strip().lower()
    if low in _DELETED or low.rstrip(".") in _DELETED:
        result.deleted = True
        return True
    if low == "null":
        result.kind = KIND_UNSUPPORTED
        result.anomalies.append("bare 'null' body (view-once or poll placeholder?)")
        return True
    if low in _LIVE_LOCATION:
        result.kind = KIND_LOCATION
        return True
    m = _LOCATION.match(core) if "maps.google" in core else None
    if m is not None:
        result.kind = KIND_LOCATION
        result.latitude, result.longitude = float(m.group("lat")), float(m.group("lon"))
        return True
    return False


def _media(core: str, result: Body) -> bool:
    """Omitted and attached media; False when the body names no media."""
    first, _, caption = core.partition("\n")
    clean = first.translate(_DROP_MARKS).strip()  # iOS puts LRMs inside document lines too
    low = clean.lower()
    kind = _OMITTED_ANDROID.get(low) or _OMITTED_IOS.get(low)
    if kind is not None:
        return _add(result, kind, None, omitted=True, caption=caption)
    for suffix in _DOC_OMITTED if low.endswith(_DOC_OMITTED) else ():
        if low.endswith(suffix):
            # "Report.pdf • 3 pages document omitted": the name is before the bullet.
            name = clean[: len(clean) - len(suffix)].split("•")[0].strip() or None
            return _add(result, KIND_DOCUMENT, name, omitted=True, caption=caption)
    m = _ATTACHED_SUFFIX.match(clean) if clean.endswith(")") else None
    if m is None and clean.endswith(">"):
        m = _ATTACHED_OLD_IOS.match(clean)
    if m is not None:
        name = m.group("name")
        return _add(result, kind_for_filename(name), name, omitted=False, caption=caption)
    m = _ATTACHED_TAG.search(clean) if "<" in clean else None
    if m is not None:
        name = m.group("name")
        return _add(result, kind_for_filename(name), name, omitted=False, caption=caption)
    return False


def _add(result: Body, kind: str, name: str | None, *, omitted: bool, caption: str) -> bool:
    result.kind = kind
    result.attachments.append(ParsedAttachment(filename=name, omitted=omitted, caption=caption or None))
    return True


def kind_for_filename(name: str) -> str:
    """Message kind from an exported media file name (prefix first, then extension)."""
    m = _NAME_PREFIX.match(name)
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if m is not None:
        kind = _NAME_KINDS[m.group("tag")]
        # iOS names voice notes "…-AUDIO-….opus"; Android uses PTT for them.
        return KIND_VOICE if kind == KIND_AUDIO and ext == "opus" and m.group("tag") == "AUDIO" else kind
    return _EXT_KINDS.get(ext, KIND_DOCUMENT)  # documents keep their own names
