"""File-by-email: each message of a matter's conversations delivered to the matter's document-system
address — per message, or a daily digest made by the conversation-day builder (REQ-SRA-2, REQ-EML-1/4)."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from onfile.channels.email import journal_day
from onfile.channels.email.delivery import deliver_emails
from onfile.channels.email.filing import FILE, FILE_DAY
from onfile.channels.whatsapp.sending import Outgoing, deliver_sends, do_send
from onfile.conversations.actions import ActionError, do_create_matter, do_link_matter, do_set_wall
from onfile.conversations.models import Conversation, Matter, Message
from onfile.conversations.workflow import do_update_matter
from onfile.ledger.actions import read_content
from onfile.ledger.models import Entry
from onfile.outbox.models import OutboxItem
from onfile.projection import rebuild

from .conftest import JOURNAL as ADDRESS
from .conftest import Clock, Phone, Relay

pytestmark = pytest.mark.django_db

DMS = "lit-2026-0042.7731@filing.dms.firm.example"


def matter_with_filing(mode: str = "message", address: str = DMS) -> Matter:
    matter = do_create_matter("LIT-2026-0042", "user:1", title="Harbour lease")
    return do_update_matter(matter, "user:1", title=matter.title, client=None, responsible_id=None,
                            filing_address=address, filing_mode=mode)


def filed(relay: Relay) -> list[EmailMessage]:
    return relay.to(DMS)  # each parsed with policy.strict


def test_each_message_of_a_linked_conversation_is_filed_on_its_matter(relay: Relay, phone: Phone,
                                                                     fee_earner: Any) -> None:
    phone.send(type="text", text="before the conversation was linked")
    conversation = Conversation.objects.get()
    matter = matter_with_filing()
    do_link_matter(conversation, matter, "user:1")
    phone.send(type="text", text="Please file this with the lease")
    do_send(conversation, Outgoing(text="Filed, thank you"), fee_earner.actor)
    deliver_sends()
    assert deliver_emails() == 7  # two forwards, three journal copies and two filings
    inbound, outbound = filed(relay)
    later = list(Message.objects.order_by("pk"))[1:]
    assert [inbound["X-Archive-Record-Ids"], outbound["X-Archive-Record-Ids"]] == [m.key for m in later]
    assert inbound["X-Archive-Direction"] == "inbound" and outbound["X-Archive-Direction"] == "outbound"
    assert inbound["Subject"].endswith("— LIT-2026-0042")
    assert "Please file this with the lease" in inbound.get_body(("plain",)).get_content()
    assert len(relay.to(ADDRESS)) == 3  # the journal is independent of filing
    requested = list(Entry.objects.filter(kind="email.file_requested"))
    assert len(requested) == 2 and all(f'"recipient":"matter:{matter.pk}"' in e.attrs for e in requested)
    assert Entry.objects.filter(kind="email.file_sent").count() == 2
    # The address names a mailbox: sealed in the matter.updated entry, never in clear in the ledger.
    assert not Entry.objects.filter(attrs__contains=DMS).exists()
    updated = Entry.objects.get(kind="matter.updated")
    assert read_content(updated.blob_id)["filing_address"] == DMS and '"filing_mode":"message"' in updated.attrs
    assert all(item.payload["to"] == DMS for item in OutboxItem.objects.filter(kind=FILE))


def test_a_daily_digest_is_the_conversation_day_after_the_day_ends(relay: Relay, phone: Phone, clock: Clock,
                                                                   midday_zone: str, fee_earner: Any) -> None:
    phone.send(type="text", text="morning")
    conversation = Conversation.objects.get()
    matter = matter_with_filing("day")
    do_link_matter(conversation, matter, "user:1")
    phone.send(type="text", text="noon")
    do_send(conversation, Outgoing(text="evening"), fee_earner.actor)
    deliver_sends()
    [item] = OutboxItem.objects.filter(kind=FILE_DAY)
    assert not OutboxItem.objects.filter(kind=FILE).exists()
    deliver_emails()
    assert not filed(relay)
    noon = Message.objects.order_by("pk")[1]
    clock.to(journal_day.bounds(journal_day.day_of(noon))[1] + timedelta(minutes=31))
    deliver_emails()
    [digest] = filed(relay)
    assert digest["X-Archive-Granularity"] == "conversation-day" and digest["X-Archive-Record-Count"] == "2"
    assert digest["X-Archive-Record-Ids"] == ", ".join(m.key for m in Message.objects.order_by("pk")[1:])
    assert digest["Message-ID"] == journal_day.day_id("file.day", item.key)
    text = digest.get_body(("plain",)).get_content()
    assert "Matter: LIT-2026-0042" in text and "noon" in text and "evening" in text and "morning" not in text
    # The journal still runs per message (ONFILE_JOURNAL_MODE=message): its copies are separate emails.
    assert len(relay.to(ADDRESS)) == 3
    assert Entry.objects.filter(kind="email.file_requested").count() == 2
    assert item.key in Entry.objects.get(kind="email.file_sent").attrs


def test_an_ethical_wall_does_not_stop_filing(relay: Relay, phone: Phone, fee_earner: Any) -> None:
    phone.send(type="text", text="hello")
    matter = matter_with_filing()
    do_set_wall(matter, "only", [fee_earner.pk], "user:1")
    do_link_matter(Conversation.objects.get(), matter, "user:1")
    phone.send(type="text", text="behind the wall")
    deliver_emails()
    [mail] = filed(relay)
    assert "behind the wall" in mail.get_body(("plain",)).get_content()


def test_nothing_is_filed_without_a_matter_or_a_filing_address(relay: Relay, phone: Phone) -> None:
    phone.send(type="text", text="no matter yet")
    do_link_matter(Conversation.objects.get(), do_create_matter("NO-ADDR-1", "user:1"), "user:1")
    phone.send(type="text", text="a matter without a filing address")
    assert not OutboxItem.objects.filter(kind__in=[FILE, FILE_DAY]).exists()
    assert not Entry.objects.filter(kind="email.file_requested").exists()


def test_a_bad_filing_address_or_mode_is_refused_and_changes_nothing(archive: None) -> None:
    matter = matter_with_filing()
    before = Entry.objects.count()
    with pytest.raises(ActionError, match="not an email address"):
        do_update_matter(matter, "user:1", title="New title", client=None, responsible_id=None,
                         filing_address="matter 42 <at> dms")
    with pytest.raises(ActionError, match="unknown filing mode"):
        do_update_matter(matter, "user:1", title="New title", client=None, responsible_id=None, filing_mode="weekly")
    matter.refresh_from_db()
    assert (matter.title, matter.filing_address, matter.filing_mode) == ("Harbour lease", DMS, "message")
    assert Entry.objects.count() == before
    # Omitted: kept. Emptied: filing stops. Both survive a rebuild from the ledger.
    matter = do_update_matter(matter, "user:1", title="Harbour lease", client=None, responsible_id=None,
                              filing_mode="day")
    assert (matter.filing_address, matter.filing_mode) == (DMS, "day")
    rebuild()
    matter = Matter.objects.get(pk=matter.pk)
    assert (matter.filing_address, matter.filing_mode) == (DMS, "day")
    do_update_matter(matter, "user:1", title="Harbour lease", client=None, responsible_id=None, filing_address="")
    assert Matter.objects.get(pk=matter.pk).filing_address == ""


def test_a_filing_address_the_relay_refuses_is_recorded_as_failed(relay: Relay, phone: Phone) -> None:
    phone.send(type="text", text="hello")
    do_link_matter(Conversation.objects.get(), matter_with_filing(), "user:1")
    relay.refuse = "550 5.1.1 unknown filing address"
    phone.send(type="text", text="to a matter the DMS does not know")
    deliver_emails()
    [item] = OutboxItem.objects.filter(kind=FILE)
    assert item.status == "failed" and "550" in item.last_error
    failed = Entry.objects.get(kind="email.file_failed")
    assert '"code":550' in failed.attrs and DMS not in failed.attrs
