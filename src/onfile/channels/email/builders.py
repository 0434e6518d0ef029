"""The outbox kinds and item shapes added after ``delivery.py``'s first two, and who builds each.

``delivery.deliver`` claims, sends, retries and records every email item the same way; it
asks :func:`handles` whether an item is one of these, and :func:`build` for its bytes:

- ``email.journal_day`` — a conversation-day journal (``journal_day.py``);
- ``email.file`` / ``email.file_day`` — filing on a matter's document system (``filing.py``);
- ``email.forward`` items that hold a burst of messages (``bursts.py``).

Journal copies, per message or per day, are wrapped as envelope journal reports when
``ONFILE_JOURNAL_ENVELOPE`` is on (``envelope.py``).
"""

from __future__ import annotations

from datetime import timedelta

from onfile.channels.email import bursts, compose, envelope, filing, journal_day
from onfile.outbox.models import OutboxItem

KINDS = (journal_day.JOURNAL_DAY, filing.FILE, filing.FILE_DAY)
# The ledger kinds of their receipts: email.journal_sent / email.file_sent (…_failed), as requested.
ENTRY_KIND = {journal_day.JOURNAL_DAY: "email.journal", filing.FILE: "email.file", filing.FILE_DAY: "email.file"}


def handles(item: OutboxItem) -> bool:
    return item.kind in KINDS or bursts.is_burst(item)


def build(item: OutboxItem, media_wait: timedelta) -> compose.Built:
    if item.kind == journal_day.JOURNAL_DAY:
        return journal_day.build(item, media_wait)
    if item.kind in (filing.FILE, filing.FILE_DAY):
        return filing.build(item, media_wait)
    return bursts.build(item, media_wait)


def journal(built: compose.Built) -> compose.Built:
    """A per-message journal copy as it goes to the archive (envelope-wrapped if configured)."""
    return envelope.maybe_wrap(built)
