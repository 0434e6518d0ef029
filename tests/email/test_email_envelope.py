"""Envelope journaling (ONFILE_JOURNAL_ENVELOPE; compliance.md §2.5, REQ-EML-3): the journal report
Exchange / Microsoft 365 sends, read back the way an archive's parser reads it — strictly (REQ-EML-1)."""

from __future__ import annotations

from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from onfile.channels.email import compose, envelope, journal_day
from onfile.channels.email.checks import check_email_grouping
from onfile.channels.email.delivery import deliver_emails
from onfile.channels.whatsapp.sending import Outgoing, deliver_sends, do_send
from onfile.conversations.models import Conversation, Message
from onfile.ledger.models import Entry

from .conftest import CLIENT, DOMAIN, FROM, Clock, Phone, Relay
from .conftest import JOURNAL as ADDRESS

pytestmark = pytest.mark.django_db

CLIENT_ADDRESS = f"{CLIENT[1:]}@whatsapp.{DOMAIN}"
FIRM_ADDRESS = f"15550783881@whatsapp.{DOMAIN}"


@pytest.fixture
def envelope_on(relay_settings: Any) -> Any:
    relay_settings.JOURNAL_ENVELOPE = True
    return relay_settings


def read_report(data: bytes) -> tuple[EmailMessage, dict[str, list[str]], EmailMessage]:
    """What an archive does with a journal report: the envelope fields and the original, strictly."""
    report = BytesParser(policy=policy.strict).parsebytes(data)
    assert isinstance(report, EmailMessage)
    assert "X-MS-Journal-Report" in report and report["X-MS-Journal-Report"] == ""
    assert report.get_content_type() == "multipart/mixed"
    envelope_part, attached = report.get_payload()  # type: ignore[misc]
    assert envelope_part.get_content_type() == "text/plain"
    assert envelope_part["Content-Transfer-Encoding"] in ("7bit", "8bit")  # lines as they are, no encoding
    fields: dict[str, list[str]] = {}
    for line in envelope_part.get_content().splitlines():
        name, _, value = line.partition(": ")
        fields.setdefault(name, []).append(value)
    assert attached.get_content_type() == "message/rfc822"
    [original] = attached.get_payload()
    assert isinstance(original, EmailMessage)
    return report, fields, original


def reports(relay: Relay) -> list[Any]:
    return [r for r in relay.received if r.recipients == [ADDRESS]]


def test_a_message_is_journaled_as_an_exchange_journal_report(envelope_on: Any, relay: Relay, phone: Phone,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    wrapped: list[bytes] = []
    wrap = envelope.wrap
    monkeypatch.setattr(envelope, "wrap", lambda built, to: wrapped.append(built.data) or wrap(built, to))
    phone.name = "Zoë Ångström"
    phone.send(type="text", text="Our instructions — attached")
    deliver_emails()
    [received] = reports(relay)
    assert received.sender == FROM
    report, fields, original = read_report(received.data)
    message = Message.objects.get()
    assert report["From"].addresses[0].addr_spec == FROM and report["To"].addresses[0].addr_spec == ADDRESS
    assert report["Subject"] == original["Subject"] == "WhatsApp: Zoë Ångström (+447700900123)"
    assert report["Message-ID"] != original["Message-ID"] == compose.journal_id(message.key)
    assert fields["Sender"] == [CLIENT_ADDRESS]
    assert fields["Subject"] == ["WhatsApp: Zoë Ångström (+447700900123)"]
    assert fields["Message-Id"] == [original["Message-ID"]]
    assert fields["To"] == [a.addr_spec for a in original["To"].addresses] == [FIRM_ADDRESS]
    assert list(fields) == ["Sender", "Subject", "Message-Id", "To"]
    # The original is attached unaltered: the very bytes the per-message journal makes, and strict on its own.
    [own] = wrapped
    assert own.startswith(b"From: ") and own in received.data
    alone = BytesParser(policy=policy.strict).parsebytes(own)
    assert alone["X-Archive-Record-Ids"] == original["X-Archive-Record-Ids"] == message.key
    assert original["X-Archive-Sha256"] == Entry.objects.get(seq=message.source_seq).leaf_hash
    assert "Our instructions — attached" in original.get_body(("plain",)).get_content()
    assert report["Message-ID"] in Entry.objects.get(kind="email.journal_sent").attrs


def test_the_firm_s_message_names_the_member_of_staff_as_sender(envelope_on: Any, relay: Relay, phone: Phone,
                                                                fee_earner: Any) -> None:
    phone.send(type="text", text="hello")
    do_send(Conversation.objects.get(), Outgoing(text="We have filed the claim"), fee_earner.actor)
    deliver_sends()
    deliver_emails()
    _, fields, original = read_report(reports(relay)[-1].data)
    assert fields["Sender"] == [fee_earner.email] and fields["To"] == [CLIENT_ADDRESS]
    assert original["X-Archive-Direction"] == "outbound"


def test_a_conversation_day_is_wrapped_with_every_participant(envelope_on: Any, midday_zone: str, relay: Relay,
                                                              phone: Phone, clock: Clock, fee_earner: Any) -> None:
    envelope_on.JOURNAL_MODE = "day"
    phone.send(type="text", text="morning")
    do_send(Conversation.objects.get(), Outgoing(text="afternoon"), fee_earner.actor)
    deliver_sends()
    first = Message.objects.order_by("pk").first()
    assert first is not None
    clock.to(journal_day.bounds(journal_day.day_of(first))[1] + timedelta(minutes=31))
    deliver_emails()
    [received] = reports(relay)
    _, fields, original = read_report(received.data)
    assert original["X-Archive-Granularity"] == "conversation-day" and original["X-Archive-Record-Count"] == "2"
    assert fields["Sender"] == [CLIENT_ADDRESS]
    assert set(fields["To"]) == {FIRM_ADDRESS, fee_earner.email}
    assert fields["Message-Id"] == [original["Message-ID"]]
    body = original.get_body(("plain",)).get_content()
    assert "morning" in body and "afternoon" in body


def test_without_the_setting_the_journal_copy_is_the_plain_eml(relay: Relay, phone: Phone) -> None:
    phone.send(type="text", text="hello")
    deliver_emails()
    [mail] = relay.to(ADDRESS)
    assert "X-MS-Journal-Report" not in mail and mail.get_content_type() == "multipart/alternative"


def test_envelope_journaling_without_an_archive_address_is_reported(settings: Any) -> None:
    settings.JOURNAL_ENVELOPE, settings.JOURNAL_ADDRESS = True, ""
    assert [m.id for m in check_email_grouping()] == ["onfile.W033"]
