"""Shared by the replies-by-email tests (test_email_replies.py, test_email_window.py): the settings,
a conversation whose forward sits in a mailbox, and a reply to it as a mail client writes one.
The fixtures are registered in conftest.py."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import pytest

from onfile.accounts.models import User
from onfile.channels.email.delivery import deliver_emails
from onfile.conversations.actions import do_assign
from onfile.conversations.models import Conversation
from onfile.ledger.models import Entry

REPLY_DOMAIN = "reply.firm.example"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% the signed lease\n%%EOF\n"


@pytest.fixture
def replies(relay_settings: Any) -> Any:
    relay_settings.EMAIL_REPLY_DOMAIN = REPLY_DOMAIN
    relay_settings.EMAIL_REPLY_TOKEN_DAYS = 90
    relay_settings.EMAIL_AUTHSERV_ID = []
    relay_settings.EMAIL_WINDOW_TEMPLATE = ""
    relay_settings.EMAIL_HOLD_DAYS = 7
    return relay_settings


@dataclass
class Thread:
    """A client's conversation, and the forward of their message in a mailbox."""

    conversation: Conversation
    forward: EmailMessage
    staff: User


@pytest.fixture
def thread(replies: Any, relay: Any, phone: Any, fee_earner: User) -> Thread:
    phone.send(type="text", text="Is the lease ready?")
    conversation = Conversation.objects.get()
    do_assign(conversation, fee_earner.pk, "user:1")
    phone.send(type="text", text="Can you send it today?")
    deliver_emails()
    return Thread(conversation, relay.to(fee_earner.email)[-1], fee_earner)


def reply_to(forward: EmailMessage, sender: str, text: str = "Yes, here it is.", *,
             files: tuple[tuple[str, str, bytes], ...] = (), to: str = "", message_id: str = "",
             headers: dict[str, str] | None = None, on_top: tuple[str, ...] = ()) -> bytes:
    """A reply as a mail client writes it: new text above the quoted forward, the files attached.
    ``on_top``: header lines a gateway added on the way (Authentication-Results …)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to or str(forward["Reply-To"])
    msg["Subject"] = "Re: " + str(forward["Subject"])
    msg["Date"] = formatdate()
    msg["Message-ID"] = message_id or make_msgid(domain="firm.example")
    msg["In-Reply-To"] = str(forward["Message-ID"])
    msg["References"] = f"{forward['References']} {forward['Message-ID']}"
    for name, value in (headers or {}).items():
        msg[name] = value
    quoted = forward.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    msg.set_content(text + "\n\nOn Monday, Alice via WhatsApp wrote:\n" + "".join(
        f"> {line}\n" for line in quoted.splitlines()))
    for filename, mime, data in files:
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(data, maintype, subtype, filename=filename)
    return b"".join(line.encode() + b"\r\n" for line in on_top) + msg.as_bytes(policy=policy.SMTP)


def kinds(prefix: str = "email.reply_") -> list[str]:
    return list(Entry.objects.filter(kind__startswith=prefix).values_list("kind", flat=True))
