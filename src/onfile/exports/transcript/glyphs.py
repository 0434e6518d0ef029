"""Characters no installed font can draw, written out instead of drawn as empty boxes.

A character outside every font becomes the ``.notdef`` glyph: an empty box on paper, a
PDF/A violation (a text operator must not use ``.notdef``), and — we found — text that PDF
readers cannot extract any more, for the whole page. So before layout, each such character
is replaced by a readable stand-in: a symbol by its Unicode name (``[thumbs up sign]``),
anything else by its code point (``[U+4F60]``). With CJK or emoji fonts installed
(Debian: fonts-noto-cjk, fonts-noto-color-emoji) nothing is replaced. The JSON lines export
always keeps the exact text.

What the fonts cover is asked of fontconfig, the library Pango uses to choose fallback
fonts, once per process: the union of every installed font's character set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import re
import unicodedata
from functools import cache, lru_cache

log = logging.getLogger(__name__)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_FC_SET_SYSTEM = 0
_FC_RESULT_MATCH = 0


class _FontSet(ctypes.Structure):
    _fields_ = [("nfont", ctypes.c_int), ("sfont", ctypes.c_int), ("fonts", ctypes.POINTER(ctypes.c_void_p))]


@cache
def _coverage() -> tuple[ctypes.CDLL, ctypes.c_void_p] | None:
    """fontconfig and the union of all fonts' character sets, or None when unavailable."""
    try:
        fc = ctypes.CDLL(ctypes.util.find_library("fontconfig") or "libfontconfig.so.1")
        fc.FcInitLoadConfigAndFonts.restype = ctypes.c_void_p
        fc.FcConfigGetFonts.restype = ctypes.POINTER(_FontSet)
        fc.FcConfigGetFonts.argtypes = [ctypes.c_void_p, ctypes.c_int]
        fc.FcPatternGetCharSet.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                           ctypes.POINTER(ctypes.c_void_p)]
        fc.FcCharSetCreate.restype = ctypes.c_void_p
        fc.FcCharSetMerge.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        fc.FcCharSetHasChar.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    except (OSError, AttributeError) as exc:
        log.warning("fontconfig is not available (%s): characters are not checked against the fonts", exc)
        return None
    config = fc.FcInitLoadConfigAndFonts()
    fonts = fc.FcConfigGetFonts(config, _FC_SET_SYSTEM)
    union = ctypes.c_void_p(fc.FcCharSetCreate())
    if fonts:
        for i in range(fonts.contents.nfont):
            charset = ctypes.c_void_p()
            if fc.FcPatternGetCharSet(fonts.contents.fonts[i], b"charset", 0, ctypes.byref(charset)) \
                    == _FC_RESULT_MATCH:
                fc.FcCharSetMerge(union, charset, None)
    return fc, union


@lru_cache(maxsize=4096)
def drawable(ch: str) -> bool:
    coverage = _coverage()
    if coverage is None or unicodedata.category(ch) in ("Cf", "Mn", "Me", "Zs", "Zl", "Zp"):
        # Format characters (ZWJ, direction marks), variation selectors and combining marks
        # are drawn with their base or not at all; Pango never gives them a box of their own.
        return True
    fc, union = coverage
    return bool(fc.FcCharSetHasChar(union, ord(ch)))


def _stand_in(match: re.Match[str]) -> str:
    ch = match.group()
    if drawable(ch):
        return ch
    name = unicodedata.name(ch, "")
    if name and unicodedata.category(ch) == "So":
        return f"[{name.lower()}]"
    return f"[U+{ord(ch):04X}]"


def printable(text: str) -> str:
    """``text`` with every character no font can draw replaced by a readable stand-in."""
    return text if text.isascii() else _NON_ASCII.sub(_stand_in, text)
