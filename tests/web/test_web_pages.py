"""The staff web app through Django's test client, against the real ledger and projection.

Personas: a fee earner and a supervisor of team A (whose firm number the client writes to),
a fee earner of team B (an outsider to this conversation), compliance, an auditor and an
administrator. Conversations come in through the real webhook capture and processing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from tests.web.helpers import FIXTURES, as_, deliver, text_now

from onfile.conversations.actions import do_create_matter, do_link_matter, do_set_wall
from onfile.conversations.models import Client as ClientRow
from onfile.conversations.models import Matter, Message, Note, ReadMarker
from onfile.ledger.models import Entry
from onfile.outbox.models import OutboxItem

pytestmark = pytest.mark.django_db


def test_the_inbox_shows_a_fee_earner_the_team_conversation_as_unread_until_read(world: dict[str, Any]) -> None:
    alice, c = world["people"]["alice"], world["c"]
    page = as_(alice).get("/inbox/?filter=unread")
    assert page.status_code == 200
    assert reverse("conversation", args=[c.pk]) in page.content.decode()
    assert as_(alice).get(reverse("conversation", args=[c.pk])).status_code == 200
    assert ReadMarker.objects.get(user=alice, conversation=c).position == Message.objects.filter(
        conversation=c).order_by("-position").first().position  # type: ignore[union-attr]
    assert reverse("conversation", args=[c.pk]) not in as_(alice).get("/inbox/?filter=unread").content.decode()
    waiting = as_(alice).get("/inbox/?filter=waiting").content.decode()
    assert reverse("conversation", args=[c.pk]) in waiting and "waiting" in waiting


def test_reading_a_conversation_is_audited_and_sends_a_read_receipt_once(world: dict[str, Any]) -> None:
    alice, colp, c = world["people"]["alice"], world["people"]["colp"], world["c"]
    as_(colp).get(reverse("conversation", args=[c.pk]))
    assert not OutboxItem.objects.filter(kind="whatsapp.mark_read").exists()  # compliance reads are silent
    as_(alice).get(reverse("conversation", args=[c.pk]))
    as_(alice).get(reverse("conversation", args=[c.pk]))
    assert OutboxItem.objects.filter(kind="whatsapp.mark_read", key="read:wamid.NOW1").count() == 1
    views = Entry.objects.filter(kind="access.view", subject=f"conversation:{c.pk}")
    assert {e.actor for e in views} == {alice.actor, colp.actor}


def test_the_conversation_page_shows_every_kind_of_message_escaped(world: dict[str, Any]) -> None:
    html = as_(world["people"]["alice"]).get(reverse("conversation", args=[world["c"].pk])).content.decode()
    assert "&lt;b&gt;lease&lt;/b&gt;" in html and "<b>lease</b>" not in html
    assert "📍" in html  # the location
    assert "👤" in html  # the shared contact
    assert "edited" in html
    assert 'id="reply-send"' in html  # the window is open: free-form reply box


def test_edited_messages_show_their_original_to_compliance_only(world: dict[str, Any]) -> None:
    url = reverse("conversation", args=[world["c"].pk])
    assert "Original text" in as_(world["people"]["colp"]).get(url).content.decode()
    assert "Original text" not in as_(world["people"]["alice"]).get(url).content.decode()


def test_new_messages_arrive_through_the_poll(world: dict[str, Any], client: Client) -> None:
    alice, c = world["people"]["alice"], world["c"]
    last = Message.objects.filter(conversation=c).order_by("-position").first()
    assert last is not None
    empty = as_(alice).get(reverse("conversation-new", args=[c.pk]) + f"?after={last.position}").content.decode()
    assert "msg " not in empty and f"after={last.position}" in empty
    deliver(client, text_now("wamid.NOW2", "Are you there?"))
    fresh = as_(alice).get(reverse("conversation-new", args=[c.pk]) + f"?after={last.position}").content.decode()
    assert "Are you there?" in fresh and f"after={last.position}" not in fresh


def test_a_reply_is_queued_in_the_outbox_with_its_ledger_entry(world: dict[str, Any]) -> None:
    alice, c = world["people"]["alice"], world["c"]
    r = as_(alice).post(reverse("conversation-reply", args=[c.pk]), {"text": "Yes, at 3 pm."})
    assert r.status_code == 302
    sent = Message.objects.get(conversation=c, direction="out")
    assert (sent.body, sent.status) == ("Yes, at 3 pm.", "queued")
    assert OutboxItem.objects.filter(kind="whatsapp.send").count() == 1
    assert Entry.objects.filter(kind="whatsapp.send_requested", actor=alice.actor).count() == 1


def test_a_document_reply_is_uploaded_with_its_name(world: dict[str, Any]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    pdf = SimpleUploadedFile("engagement letter.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    as_(world["people"]["alice"]).post(reverse("conversation-reply", args=[world["c"].pk]),
                                       {"text": "Please sign", "file": pdf})
    sent = Message.objects.get(conversation=world["c"], direction="out")
    assert sent.type == "document"
    assert sent.attachments.get().filename == "engagement letter.pdf"


def test_outside_the_window_free_form_is_refused_and_templates_offered(world: dict[str, Any], settings: Any,
                                                                      tmp_path: Path) -> None:
    offset = tmp_path / "clock"
    offset.write_text(str(25 * 3600))
    settings.CLOCK_OFFSET_FILE = str(offset)
    alice, c = world["people"]["alice"], world["c"]
    page = as_(alice).get(reverse("conversation", args=[c.pk])).content.decode()
    assert "follow_up" in page and 'id="reply-send"' not in page
    r = as_(alice).post(reverse("conversation-reply", args=[c.pk]), {"text": "hello?"}, follow=True)
    assert "24-hour customer-service window" in r.content.decode()
    assert not Message.objects.filter(direction="out").exists()
    as_(alice).post(reverse("conversation-reply", args=[c.pk]), {"template": "follow_up|en_GB", "params": "Sheena"})
    assert Message.objects.get(direction="out").type == "template"


def test_linking_to_a_new_client_and_matter_inline(world: dict[str, Any]) -> None:
    alice, c = world["people"]["alice"], world["c"]
    as_(alice).post(reverse("conversation-link", args=[c.pk]), {
        "new_client": "Sheena Nelson", "new_client_phone": "", "new_matter": "NEL-001",
        "new_matter_title": "Lease"})
    c.refresh_from_db()
    assert c.client is not None and c.client.name == "Sheena Nelson"
    assert c.matter is not None and (c.matter.reference, c.matter.client_id) == ("NEL-001", c.client_id)
    kinds = set(Entry.objects.filter(actor=alice.actor).values_list("kind", flat=True))
    assert {"client.created", "matter.created", "conversation.client_linked", "conversation.matter_linked"} <= kinds


def test_assigning_and_notes(world: dict[str, Any]) -> None:
    sam, alice, c = world["people"]["sam"], world["people"]["alice"], world["c"]
    as_(sam).post(reverse("conversation-assign", args=[c.pk]), {"assignee": str(alice.pk)})
    c.refresh_from_db()
    assert c.assignee == alice
    assert reverse("conversation", args=[c.pk]) in as_(alice).get("/inbox/?scope=mine").content.decode()
    as_(alice).post(reverse("conversation-note", args=[c.pk]), {"text": "Client prefers calls after 5."})
    note = Note.objects.get()
    assert (note.author, note.body) == (alice, "Client prefers calls after 5.")
    entry = Entry.objects.get(kind="conversation.note_added")
    assert entry.blob_id is not None and "calls after 5" not in entry.attrs  # the text is sealed


def test_the_auditor_reads_everything_and_changes_nothing(world: dict[str, Any]) -> None:
    audrey, c = as_(world["people"]["audrey"]), world["c"]
    assert audrey.get(reverse("conversation", args=[c.pk])).status_code == 200
    before = Entry.objects.exclude(kind__startswith="access.").count()
    for name, data in [("conversation-reply", {"text": "x"}), ("conversation-assign", {"assignee": ""}),
                       ("conversation-link", {"new_matter": "X-1"}), ("conversation-note", {"text": "x"})]:
        assert audrey.post(reverse(name, args=[c.pk]), data).status_code == 403, name
    assert audrey.get(reverse("client-new")).status_code == 403
    assert audrey.get(reverse("matter-new")).status_code == 403
    assert Entry.objects.exclude(kind__startswith="access.").count() == before


def test_a_walled_matter_is_invisible_to_the_walled_fee_earner_everywhere(world: dict[str, Any]) -> None:
    alice, colp, c = world["people"]["alice"], world["people"]["colp"], world["c"]
    matter = do_create_matter("WALL-1", "test")
    do_link_matter(c, matter, "test")
    do_set_wall(matter, "except", [alice.pk], colp.actor)
    walled = as_(alice)
    for url in [reverse("conversation", args=[c.pk]), reverse("conversation-new", args=[c.pk]),
                reverse("matter", args=[matter.pk]), reverse("conversation-pdf", args=[c.pk]),
                reverse("conversation-zip", args=[c.pk])]:
        assert walled.get(url).status_code == 404, url
    assert walled.post(reverse("conversation-reply", args=[c.pk]), {"text": "x"}).status_code == 404
    assert reverse("conversation", args=[c.pk]) not in walled.get("/inbox/").content.decode()
    assert ">WALL-1</a>" not in walled.get("/matters/").content.decode()
    assert as_(world["people"]["sam"]).get(reverse("conversation", args=[c.pk])).status_code == 200


def test_clients_are_created_edited_and_merged(world: dict[str, Any]) -> None:
    alice = as_(world["people"]["alice"])
    taken = alice.post(reverse("client-new"), {"name": "Sheena", "phone": "+16505551234"}, follow=True)
    assert "already belongs to the client" in taken.content.decode()  # the webhook made that client
    alice.post(reverse("client-new"), {"name": "Sheena Nelson", "phone": "+16505550000", "kind": "person"})
    alice.post(reverse("client-new"), {"name": "S. Nelson", "kind": "person"})
    keep, dup = ClientRow.objects.get(name="Sheena Nelson"), ClientRow.objects.get(name="S. Nelson")
    do_link_matter(world["c"], do_create_matter("NEL-2", "test", client=dup), "test")
    alice.post(reverse("client-edit", args=[dup.pk]), {"name": "S. Nelson (dup)", "kind": "person",
                                                        "phone": "+44 7700 900123"})
    assert alice.post(reverse("client-merge", args=[dup.pk]), {"into": keep.pk}).status_code == 302
    dup.refresh_from_db()
    assert dup.merged_into == keep
    assert Matter.objects.get(reference="NEL-2").client == keep
    assert set(keep.identities.values_list("value", flat=True)) == {"+16505550000", "+447700900123"}
    bad = alice.post(reverse("client-new"), {"name": "  "}, follow=True)
    assert "needs a name" in bad.content.decode()


def test_matters_are_opened_edited_closed_and_reopened(world: dict[str, Any]) -> None:
    sam = as_(world["people"]["sam"])
    sam.post(reverse("matter-new"), {"reference": "M-77", "title": "Probate"})
    matter = Matter.objects.get(reference="M-77")
    # Where a matter's messages are filed is for compliance: a supervisor may not set it.
    refused = sam.post(reverse("matter-edit", args=[matter.pk]), {"title": "Probate", "filing_address":
                                                                  "me@gmail.example"}, follow=True)
    assert "only administrators and compliance set where a matter is filed" in refused.content.decode()
    assert 'name="filing_address"' not in sam.get(reverse("matter", args=[matter.pk])).content.decode()
    sam.post(reverse("matter-edit", args=[matter.pk]), {"title": "Probate", "practice_area": "Private",
                                                        "responsible": world["people"]["sam"].pk})
    colp = as_(world["people"]["colp"])
    colp.post(reverse("matter-edit", args=[matter.pk]), {"title": "Probate of J. Doe", "practice_area": "Private",
                                                         "responsible": world["people"]["sam"].pk,
                                                         "filing_address": "m77@dms.firm.example",
                                                         "filing_mode": "day"})
    page = colp.get(reverse("matter", args=[matter.pk])).content.decode()
    assert 'name="filing_address" type="email" value="m77@dms.firm.example"' in page
    assert "daily digest to m77@dms.firm.example" in sam.get(reverse("matter", args=[matter.pk])).content.decode()
    bad = colp.post(reverse("matter-edit", args=[matter.pk]), {"title": "Probate of J. Doe", "responsible":
                                                               world["people"]["sam"].pk,
                                                               "filing_address": "not an address"}, follow=True)
    assert "is not an email address" in bad.content.decode()
    with override_settings(FILING_DOMAINS="dms.firm.example"):
        elsewhere = colp.post(reverse("matter-edit", args=[matter.pk]), {
            "title": "Probate of J. Doe", "responsible": world["people"]["sam"].pk,
            "filing_address": "files@gmail.example"}, follow=True)
        assert "gmail.example is not a filing domain of the firm" in elsewhere.content.decode()
    sam.post(reverse("matter-edit", args=[matter.pk]), {"action": "close"})
    matter.refresh_from_db()
    assert matter.title == "Probate of J. Doe" and matter.closed_at is not None
    assert (matter.filing_address, matter.filing_mode) == ("m77@dms.firm.example", "day")
    assert ">M-77</a>" not in sam.get("/matters/").content.decode()
    assert ">M-77</a>" in sam.get("/matters/?closed=1").content.decode()
    sam.post(reverse("matter-edit", args=[matter.pk]), {"action": "reopen"})
    matter.refresh_from_db()
    assert matter.closed_at is None
    dup = sam.post(reverse("matter-new"), {"reference": "M-77"}, follow=True)
    assert "already exists" in dup.content.decode()


def test_only_admins_and_compliance_set_walls(world: dict[str, Any]) -> None:
    matter = do_create_matter("W-2", "test", responsible_id=world["people"]["sam"].pk)
    url = reverse("matter-wall", args=[matter.pk])
    assert as_(world["people"]["sam"]).post(url, {"mode": "only", "members": [1]}).status_code == 403
    as_(world["people"]["colp"]).post(url, {"mode": "only", "members": [world["people"]["sam"].pk]})
    matter.refresh_from_db()
    assert matter.wall_mode == "only"


def test_administration_pages(world: dict[str, Any]) -> None:
    ada, alice = as_(world["people"]["ada"]), world["people"]["alice"]
    for url in ["/manage/numbers", "/manage/users", "/manage/walls", "/manage/ledger", "/manage/ledger?kind=access"]:
        assert ada.get(url).status_code == 200, url
    ada.post("/manage/numbers", {"phone_number_id": "222", "number": "+44 20 7946 0000", "display_name": "London"})
    assert "London" in ada.get("/manage/numbers").content.decode()
    ada.post("/manage/users", {"user": alice.pk, "role": "supervisor", "team": "", "active": "on"})
    alice.refresh_from_db()
    assert alice.role == "supervisor"
    assert Entry.objects.filter(kind="user.updated", subject=alice.actor).exists()
    last = ada.post("/manage/users", {"user": world["people"]["ada"].pk, "role": "fee_earner", "active": "on"},
                    follow=True)
    assert "cannot remove your own" in last.content.decode()
    for who in ("alice", "sam"):
        for url in ["/manage/numbers", "/manage/users", "/manage/ledger", "/manage/walls"]:
            assert as_(world["people"][who]).get(url).status_code == 403, (who, url)
    assert as_(world["people"]["audrey"]).get("/manage/ledger").status_code == 200
    assert as_(world["people"]["audrey"]).get("/manage/users").status_code == 403


def test_the_ledger_page_shows_checkpoints_and_verify_results(world: dict[str, Any]) -> None:
    from io import StringIO

    from django.core.management import call_command

    from onfile.ledger.models import Checkpoint

    ada, audrey = as_(world["people"]["ada"]), as_(world["people"]["audrey"])
    html = ada.get("/manage/ledger").content.decode()
    assert "No verify has run yet." in html and "<dd>never</dd>" in html
    assert ada.post("/manage/ledger/checkpoint").status_code == 302
    assert audrey.post("/manage/ledger/checkpoint").status_code == 403  # the auditor only reads
    checkpoint = Checkpoint.objects.order_by("-size").first()
    assert checkpoint is not None and checkpoint.reason == "manual"
    call_command("verify", stdout=StringIO())
    verified = Entry.objects.filter(kind="verify.completed").get()
    html = audrey.get("/manage/ledger").content.decode()
    assert f"<dd>{checkpoint.size}</dd>" in html and checkpoint.root[:10] in html
    assert f"<td>{verified.seq}</td>" in html and '<span class="ok">passed</span>' in html
    assert "verify.completed" in audrey.get("/manage/ledger?kind=verify").content.decode()


def test_media_is_served_only_to_those_who_may_see_it(world: dict[str, Any], client: Client) -> None:
    deliver(client, (FIXTURES / "document.json").read_bytes())
    attachment = Message.objects.get(type="document").attachments.get()
    url = reverse("media", args=[attachment.pk])
    # Not fetched (no Graph API in this test): a clear 404, not a crash.
    r = as_(world["people"]["alice"]).get(url)
    assert r.status_code == 404 and "not in the archive" in r.content.decode()
    assert as_(world["people"]["bob"]).get(url).status_code == 404


def test_the_search_page_finds_highlights_and_respects_walls(world: dict[str, Any]) -> None:
    alice, c = world["people"]["alice"], world["c"]
    page = as_(alice).get("/search/?q=lease")
    html = page.content.decode()
    assert page.status_code == 200 and "<mark>lease</mark>" in html and f"/conversations/{c.pk}/" in html
    assert Entry.objects.filter(kind="access.search", actor=alice.actor).exists()
    count = as_(alice).get("/search/count/?q=lease")  # what the page asks for when it did not count
    assert count.status_code == 200 and "message" in count.content.decode()
    assert as_(alice).get("/search/count/?q=lease&from=yesterday").status_code == 400
    bad = as_(alice).get("/search/?q=lease&from=yesterday")
    assert bad.status_code == 400 and "is not a date" in bad.content.decode()
    matter = do_create_matter("S-1", "test")
    do_link_matter(c, matter, "test")
    do_set_wall(matter, "except", [alice.pk], "test")
    assert f"/conversations/{c.pk}/" not in as_(alice).get("/search/?q=lease").content.decode()
