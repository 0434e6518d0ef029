"""Phone numbers in one spelling: E.164, parsed by ``phonenumbers``."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


class PhoneError(ValueError):
    pass


def to_e164(raw: str, region: str | None = None) -> str:
    """``+44 20 7946 0958``, ``0044…``, ``447946…`` (WhatsApp's wa_id form) → ``+442079460958``."""
    text = raw.strip()
    if not text:
        raise PhoneError("an empty phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    elif not text.startswith("+") and region is None:
        text = "+" + text  # WhatsApp ids are international numbers without the plus
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"{raw!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise PhoneError(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def maybe_e164(raw: str | None) -> str:
    """E.164 when ``raw`` is a phone number, else ``""`` (display names are not numbers)."""
    if not raw or sum(ch.isdigit() for ch in raw) < 6:
        return ""
    if any(ch.isalpha() for ch in raw.replace("~", "")):
        return ""
    try:
        return to_e164(raw)
    except PhoneError:
        return ""
