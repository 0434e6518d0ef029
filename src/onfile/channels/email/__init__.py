"""The email bridge: client WhatsApp in the fee earner's mailbox, and journaling to the firm's archive.

Forwarding (``forwarding.py``): each inbound WhatsApp message, a deletion by the client and a
failed delivery of the firm's message is emailed to the conversation's assignee, else the team
mailbox, else ``ONFILE_EMAIL_FALLBACK``. Journaling: every message in and out is delivered as an
RFC 5322 message to ``ONFILE_JOURNAL_ADDRESS`` with the archive X-headers of compliance.md §2.5.

Both go through the outbox (ARCHITECTURE 5): the processing path calls ``after_item`` and the
send path calls ``after_send_accepted`` explicitly; each appends a ledger entry and queues one
item keyed by the message key in the same transaction. A replayed webhook never reaches them (the
item identity is already on the record) and ``onfile rebuild`` only runs projectors, so nothing
is emailed twice. ``delivery.py`` is the worker's side (smtplib).

Grouping (``batches.py``: one outbox item that gathers messages until it is due): the journal per
conversation-day (``journal_day.py``), the daily digest of file-by-email to a matter's document
system (``filing.py``, which also files each message), and bursts of client messages forwarded as
one email (``bursts.py``); ``transcript.py`` renders several messages, ``envelope.py`` wraps journal
EMLs as Exchange journal reports, ``builders.py`` tells ``delivery.py`` which builder makes what.
"""
