"""Envelope journaling, as Exchange and Microsoft 365 deliver it (``ONFILE_JOURNAL_ENVELOPE=1``;
compliance.md §2.5, REQ-EML-3).

Archives that ingest Exchange journaling (Mimecast, Global Relay, Smarsh, Proofpoint …) expect a
*journal report*: a message from the journaling agent to the journal mailbox, with the header
``X-MS-Journal-Report:`` (empty value), whose body is ``multipart/mixed`` with

1. a ``text/plain`` part, the envelope data, one field per line (Exchange 2007+ format)::

       Sender: <address of the sender>
       Subject: <the original subject, UTF-8>
       Message-Id: <the original Message-ID>
       To: <one line per recipient>
       Cc: <one line per recipient>

2. the original message, unaltered, as ``message/rfc822``.

onfile plays the journaling agent: the envelope lists every participant of the chat EML (its
``From`` as ``Sender``, each ``To``/``Cc`` address on its own line) — the recipients an archive
indexes the message under. The original (a per-message journal EML or a conversation-day EML,
with all its X-Archive headers) is attached byte for byte. The report is sent from
``ONFILE_EMAIL_FROM`` to ``ONFILE_JOURNAL_ADDRESS``; its Message-ID is derived from the
original's, so a resend after a crash is the same report.
"""

from __future__ import annotations

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser

from django.conf import settings

from onfile.channels.email import compose

# As the journal EMLs themselves: nothing refolded, so the attached original keeps its bytes.
POLICY = policy.SMTP.clone(max_line_length=998)


def _addresses(value: object) -> list[str]:
    return [a.addr_spec for a in getattr(value, "addresses", ())]


def report_text(original: EmailMessage) -> str:
    """The envelope part: Sender, Subject, Message-Id, then one To:/Cc: line per recipient."""
    senders = _addresses(original["From"])
    lines = [f"Sender: {senders[0] if senders else ''}",
             f"Subject: {compose._one_line(str(original['Subject'] or ''), 998)}",
             f"Message-Id: {original['Message-ID']}"]
    lines += [f"To: {a}" for a in _addresses(original["To"])]
    lines += [f"Cc: {a}" for a in _addresses(original["Cc"])]
    return "\r\n".join(lines) + "\r\n"


def wrap(built: compose.Built, journal_address: str) -> compose.Built:
    """The journal report carrying ``built`` (an EML onfile made) for ``journal_address``."""
    original = BytesParser(policy=POLICY).parsebytes(built.data)
    assert isinstance(original, EmailMessage)
    report = EmailMessage(policy=POLICY)
    report["From"] = Address(display_name="onfile journaling", addr_spec=compose.envelope_sender())
    report["To"] = journal_address
    report["Subject"] = str(original["Subject"] or "")
    report["Date"] = str(original["Date"])
    own_id = f"<wa.report.{compose._digest(str(original['Message-ID']))}@{compose.domain()}>"
    report["Message-ID"] = own_id
    report["X-MS-Journal-Report"] = ""
    report["Auto-Submitted"] = "auto-generated"
    text = report_text(original).replace("\r\n", "\n")
    # One field per line, as Exchange writes them: never quoted-printable (a parser reads the lines as they are).
    report.set_content(text, cte="7bit" if text.isascii() else "8bit")
    report.make_mixed()
    attached = EmailMessage(policy=POLICY)
    attached.set_content(original)  # message/rfc822, 7bit or 8bit as the original needs
    del attached["MIME-Version"]  # a body part, not a message
    report.attach(attached)
    return compose.Built(own_id, compose.envelope_sender(), [journal_address], report.as_bytes(policy=POLICY),
                         built.thread)


def maybe_wrap(built: compose.Built) -> compose.Built:
    """A journal EML as it goes to the archive: wrapped when ``ONFILE_JOURNAL_ENVELOPE`` is on."""
    return wrap(built, settings.JOURNAL_ADDRESS) if settings.JOURNAL_ENVELOPE else built
