"""``onfile import`` of chat exports, end to end against the real ledger and projection.

Raw first (ARCHITECTURE 1), provenance (REQ-OCC-3), idempotent and incremental (7),
rebuildable (3); bad input changes nothing.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from tests.test_rebuild import snapshot

from onfile.conversations.models import Attachment, Conversation, Message
from onfile.imports import actions
from onfile.imports.actions import do_import
from onfile.imports.options import ImportError_, ImportOptions
from onfile.ledger.blobs import read_blob
from onfile.ledger.models import Entry
from onfile.ledger.verify import verify
from onfile.projection import rebuild

pytestmark = pytest.mark.django_db

ALICE_SIDE = """12/01/2024, 09:15 - Messages and calls are end-to-end encrypted. No one outside of this chat, \
not even WhatsApp, can read or listen to them. Tap to learn more.
12/01/2024, 09:16 - Alice Smith: Hello, I have a question about the lease
it is about clause 4
13/01/2024, 10:00 - Bob Solicitor: Sure: send it over
13/01/2024, 10:01 - Alice Smith: IMG-20240113-WA0001.jpg (file attached)
the page
13/01/2024, 10:02 - Alice Smith: <Media omitted>
14/01/2024, 11:00 - Alice Smith: This message was deleted
25/01/2024, 18:30 - Bob Solicitor: Thanks <This message was edited>
"""
LATER = ALICE_SIDE + """26/01/2024, 08:00 - Alice Smith: One more thing
26/01/2024, 08:01 - Bob Solicitor: ok
"""
# The same chat exported from the client's phone (iOS): other names, seconds, brackets.
CLIENT_SIDE = """[12/01/2024, 09:16:10] Alice: Hello, I have a question about the lease
it is about clause 4
[13/01/2024, 10:00:59] Bob (Firm): Sure: send it over
[26/01/2024, 08:00:01] Alice: One more thing
[26/01/2024, 08:01:30] Bob (Firm): ok
"""
JPEG = b"\xff\xd8\xff\xe0 a photo of page 4"


def write_zip(path: Path, text: str, media: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("WhatsApp Chat with Alice Smith.txt", text)
        for name, data in (media or {}).items():
            z.writestr(name, data)
    return path


@pytest.fixture
def export_zip(tmp_path: Path) -> Path:
    return write_zip(tmp_path / "WhatsApp Chat with Alice Smith.zip", ALICE_SIDE, {"IMG-20240113-WA0001.jpg": JPEG})


def opts(**kw: Any) -> ImportOptions:
    return ImportOptions(me="Bob Solicitor", tz="Europe/London", **kw)


def test_an_export_is_captured_raw_and_projected_with_provenance(admin: Any, export_zip: Path) -> None:
    [summary] = do_import([export_zip], opts(custodian=admin.email, device="Bob's iPhone"), actor=admin.actor)
    assert summary.counts["messages_added"] == 7
    assert summary.counts["attachments"] == 1 and summary.counts["placeholders"] == 1
    assert summary.counts["system_events"] == 1
    capture = Entry.objects.get(seq=summary.capture)
    assert capture.kind == "capture.import"
    assert read_blob(capture.blob_id) == export_zip.read_bytes()  # byte for byte
    conversation = Conversation.objects.get(pk=summary.conversations[0])
    assert conversation.source == "device" and conversation.custodian_id == admin.pk
    assert conversation.collected_by == admin.actor and conversation.device == "Bob's iPhone"
    assert conversation.collected_at is not None
    messages = list(Message.objects.filter(conversation=conversation).order_by("position"))
    assert [m.direction for m in messages] == ["system", "in", "out", "in", "in", "in", "out"]
    assert messages[1].body == "Hello, I have a question about the lease\nit is about clause 4"
    assert messages[1].source_ref == "lines 2-3" and messages[1].capture_seq == summary.capture
    assert messages[5].deleted and messages[6].edited and messages[6].body == "Thanks"
    assert messages[1].sent_at.isoformat() == "2024-01-12T09:16:00+00:00"
    photo = Attachment.objects.get(message=messages[3])
    assert read_blob(photo.blob_id) == JPEG and photo.mime_type == "image/jpeg"
    import hashlib

    assert photo.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert Attachment.objects.get(message=messages[4]).placeholder == "omitted"
    assert verify().ok


def test_importing_the_same_file_twice_adds_nothing(admin: Any, export_zip: Path) -> None:
    do_import([export_zip], opts(), actor=admin.actor)
    entries, messages = Entry.objects.count(), Message.objects.count()
    [again] = do_import([export_zip], opts(), actor=admin.actor)
    assert again.already_imported and again.counts["messages_added"] == 0
    assert again.counts["messages_present"] == 7
    assert (Entry.objects.count(), Message.objects.count()) == (entries, messages)


def test_a_later_export_adds_only_the_new_messages(admin: Any, export_zip: Path, tmp_path: Path) -> None:
    do_import([export_zip], opts(), actor=admin.actor)
    later = write_zip(tmp_path / "later.zip", LATER, {"IMG-20240113-WA0001.jpg": JPEG})
    [summary] = do_import([later], opts(), actor=admin.actor)
    assert summary.counts["messages_added"] == 2 and summary.counts["messages_present"] == 7
    assert Message.objects.count() == 9
    assert Conversation.objects.count() == 1


def test_the_other_side_of_the_same_chat_does_not_duplicate(admin: Any, export_zip: Path, tmp_path: Path) -> None:
    from onfile.conversations.actions import do_create_client

    do_create_client("Alice Smith", admin.actor, phone="+44 7700 900123")
    do_import([export_zip], opts(client="Alice Smith", custodian=admin.email), actor=admin.actor)
    theirs = tmp_path / "WhatsApp Chat - Bob (Firm).zip"
    with zipfile.ZipFile(theirs, "w") as z:
        z.writestr("_chat.txt", CLIENT_SIDE)
    [summary] = do_import([theirs], ImportOptions(me="Bob (Firm)", tz="Europe/London", client="+447700900123",
                                                  custodian=admin.email), actor=admin.actor)
    assert summary.counts["messages_present"] == 2 and summary.counts["messages_added"] == 2
    assert Conversation.objects.count() == 1
    assert Message.objects.filter(body="One more thing").count() == 1


def test_a_file_that_is_not_an_export_is_refused_and_nothing_is_written(admin: Any, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("Dear Sir,\nplease find attached.\n")
    before = Entry.objects.count()
    with pytest.raises(ImportError_, match="not a WhatsApp chat export"):
        do_import([bogus], opts(), actor=admin.actor)
    assert Entry.objects.count() == before


def test_a_zip_slip_export_is_refused_and_nothing_is_written(admin: Any, tmp_path: Path) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("_chat.txt", ALICE_SIDE)
        z.writestr("../../etc/cron.d/x", "boom")
    before = Entry.objects.count()
    with pytest.raises(ImportError_):
        do_import([evil], opts(), actor=admin.actor)
    assert Entry.objects.count() == before


def test_bad_options_are_refused_before_anything_is_written(admin: Any, export_zip: Path) -> None:
    before = Entry.objects.count()
    for bad in (ImportOptions(tz="Mars/Olympus"), ImportOptions(matter="NOPE-1"), ImportOptions(client="Nobody"),
                ImportOptions(custodian="ghost@firm.example")):
        with pytest.raises(ImportError_):
            do_import([export_zip], bad, actor=admin.actor)
    with pytest.raises(ImportError_, match="no such file"):
        do_import([export_zip.with_name("missing.zip")], opts(), actor=admin.actor)
    assert Entry.objects.count() == before


def test_an_interrupted_import_is_completed_by_running_it_again(admin: Any, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [f"0{1 + i // 1440 % 9}/02/2024, {i // 60 % 24:02d}:{i % 60:02d} - Alice Smith: message {i}"
             for i in range(50)]
    big = tmp_path / "WhatsApp Chat with Alice Smith.txt"
    big.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(actions, "BATCH_SIZE", 10)
    calls = {"n": 0}
    real = actions.project

    def dying(view: Any) -> None:
        if view.kind == "import.batch":
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt  # Ctrl-C half-way
        real(view)

    monkeypatch.setattr(actions, "project", dying)
    with pytest.raises(KeyboardInterrupt):
        do_import([big], opts(), actor=admin.actor)
    assert Message.objects.count() == 20  # two whole batches, nothing half-imported
    monkeypatch.setattr(actions, "project", real)
    [summary] = do_import([big], opts(), actor=admin.actor)
    assert summary.counts["messages_added"] == 30 and summary.counts["messages_present"] == 20
    assert Message.objects.count() == 50
    assert sorted(int(b.split()[-1]) for b in Message.objects.values_list("body", flat=True)) == list(range(50))


def test_rebuild_recreates_imported_conversations_identically(admin: Any, export_zip: Path, tmp_path: Path) -> None:
    do_import([export_zip], opts(custodian=admin.email), actor=admin.actor)
    do_import([write_zip(tmp_path / "later.zip", LATER)], opts(custodian=admin.email), actor=admin.actor)
    before = snapshot()
    rebuild()
    assert snapshot() == before


def test_a_folder_of_exports_imports_each(admin: Any, tmp_path: Path) -> None:
    folder = tmp_path / "phone"
    folder.mkdir()
    write_zip(folder / "WhatsApp Chat with Alice Smith.zip", ALICE_SIDE, {"IMG-20240113-WA0001.jpg": JPEG})
    (folder / "WhatsApp Chat with Carol.txt").write_text("01/03/2024, 10:00 - Carol: hi\n")
    summaries = do_import([folder], opts(), actor=admin.actor)
    assert len(summaries) == 2 and Conversation.objects.count() == 2


def test_invalid_utf8_is_kept_raw_and_flagged(admin: Any, tmp_path: Path) -> None:
    raw = b"01/03/2024, 10:00 - Carol: caf" + b"\xe9 ok\n"
    path = tmp_path / "WhatsApp Chat with Carol.txt"
    path.write_bytes(raw)
    [summary] = do_import([path], opts(), actor=admin.actor)
    assert read_blob(Entry.objects.get(seq=summary.capture).blob_id) == raw
    assert any("invalid UTF-8" in note for note in summary.counts.get("chat_anomalies", []))
    assert Message.objects.get().body == "caf\ufffd ok"


def test_the_jsonl_export_has_every_field(admin: Any, export_zip: Path) -> None:
    import json

    from onfile.exports.jsonl import export_lines

    [summary] = do_import([export_zip], opts(), actor=admin.actor)
    records = [json.loads(line) for line in export_lines(Conversation.objects.get(pk=summary.conversations[0]))]
    assert len(records) == 7
    photo = records[3]
    assert photo["timestamp"] == "2024-01-13T10:01:00Z" and photo["sender"] == "Alice Smith"
    assert photo["attachments"][0]["filename"] == "IMG-20240113-WA0001.jpg"
    assert photo["attachments"][0]["size"] == len(JPEG)
    assert records[1]["text"].count("\n") == 1 and records[0]["system"] is True
    assert set(records[0]) >= {"id", "timestamp", "sender", "sender_number", "direction", "type", "text", "system",
                               "deleted", "edited", "attachments"}


def test_a_nul_character_in_an_export_is_kept_raw(admin: Any, tmp_path: Path) -> None:
    raw = b"01/03/2024, 10:00 - Carol: bad\x00byte\n"
    path = tmp_path / "WhatsApp Chat with Carol.txt"
    path.write_bytes(raw)
    [summary] = do_import([path], opts(), actor=admin.actor)
    assert read_blob(Entry.objects.get(seq=summary.capture).blob_id) == raw
    assert Message.objects.get().body == "bad\ufffdbyte"
