"""The time onfile believes it is.

Real time, except in demo mode with the WhatsApp simulator: the simulator and onfile then
share ``ONFILE_CLOCK_OFFSET_FILE`` (seconds to add), so "wait 25 hours" for the customer
service window is a button press, not a day. Never set it in production.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings


def offset_seconds() -> float:
    path = settings.CLOCK_OFFSET_FILE
    if not path:
        return 0.0
    try:
        return float(Path(path).read_text(encoding="ascii").strip() or 0)
    except (OSError, ValueError):
        return 0.0


def now() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=offset_seconds())
