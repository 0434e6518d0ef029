from __future__ import annotations

import pytest

from onfile.conversations.phones import PhoneError, maybe_e164, to_e164


@pytest.mark.parametrize("raw", ["+44 7700 900123", "0044 7700 900123", "447700900123", "+44 (0)7700-900123"])
def test_common_spellings_normalise_to_e164(raw: str) -> None:
    assert to_e164(raw) == "+447700900123"


def test_a_national_number_needs_a_region() -> None:
    assert to_e164("07700 900123", region="GB") == "+447700900123"


@pytest.mark.parametrize("raw", ["", "abc", "+1 2"])
def test_non_numbers_are_refused(raw: str) -> None:
    with pytest.raises(PhoneError):
        to_e164(raw)


def test_display_names_are_not_numbers() -> None:
    assert maybe_e164("Alice") == ""
    assert maybe_e164("~\u202fBob 2") == ""
    assert maybe_e164("+1 555 0100 123") == "+15550100123"
