"""``onfile import`` of decrypted device databases: one conversation per chat, stanza ids as
identities, media captured, read-only evidence, rebuildable."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from tests.imports.devicedb import builders
from tests.test_rebuild import snapshot

from onfile.conversations.models import Attachment, Conversation, Message, Reaction
from onfile.imports.actions import do_import
from onfile.imports.options import ImportError_, ImportOptions
from onfile.ledger.blobs import read_blob
from onfile.ledger.verify import verify
from onfile.projection import rebuild

pytestmark = pytest.mark.django_db


b = builders
ALICE, GROUP, CAROL = "41791111111@s.whatsapp.net", "120363000000000001@g.us", "41793333333@s.whatsapp.net"
IMAGE = "Media/WhatsApp Images/IMG-20231114-WA0001.jpg"


def ms(seconds: int) -> int:
    return int(b.T0_MS + seconds * 1000)


@pytest.fixture
def evidence(tmp_path: Path) -> tuple[Path, Path, Path]:
    media = tmp_path / "WhatsApp"
    (media / IMAGE).parent.mkdir(parents=True)
    (media / IMAGE).write_bytes(b"jpeg bytes")
    db = b.AndroidStore(tmp_path / "msgstore.db")
    alice, group, carol = db.jid(ALICE), db.jid(GROUP, 1), db.jid(CAROL)
    one = db.chat(alice)
    m1 = db.message(one, "K1", ms(0), text="Hello", sort_id=1)
    db.message(one, "K2", ms(60), from_me=True, text="Hi Alice", status=13, sort_id=2)
    m3 = db.message(one, "K3", ms(120), mtype=1, text="the contract", sort_id=3)
    db.media(m3, IMAGE, "image/jpeg", 10, file_hash="q83vEjRWeJA=")
    db.reaction(m1, one, "👍", ms(10), from_me=True)
    db.message(one, "K4", ms(180), mtype=15, sort_id=4)
    grp = db.chat(group, "Deal Team")
    db.message(grp, "G1", ms(0), sender=alice, text="Morning", sort_id=1)
    db.message(grp, "G2", ms(5), sender=carol, text="Hi all", sort_id=2)
    db.member(group, alice)
    wa = b.make_wa_db(tmp_path / "wa.db", [(ALICE, "Alice Example", None)])
    return db.close(), wa, media


def test_each_chat_becomes_a_conversation_with_its_media(admin: Any, evidence: tuple[Path, Path, Path]) -> None:
    db, wa, media = evidence
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    [summary] = do_import([db], ImportOptions(tz="UTC", wa_db=str(wa), media_root=str(media),
                                              custodian=admin.email), actor=admin.actor)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # the evidence is untouched
    assert summary.kind == "msgstore" and len(summary.conversations) == 2
    assert summary.counts["messages_added"] == 6
    one = Conversation.objects.get(title="Alice Example")
    msgs = list(Message.objects.filter(conversation=one).order_by("position"))
    assert [(m.direction, m.body) for m in msgs[:2]] == [("in", "Hello"), ("out", "Hi Alice")]
    assert msgs[0].sender_phone == "+41791111111" and msgs[1].status == "read"
    assert msgs[3].deleted
    photo = Attachment.objects.get(message=msgs[2])
    assert read_blob(photo.blob_id) == b"jpeg bytes"
    assert Reaction.objects.get(message=msgs[0]).emoji == "👍"
    group = Conversation.objects.get(title="Deal Team")
    assert group.is_group and group.messages.count() == 2
    assert verify().ok


def test_a_database_import_rebuilds_identically_and_is_idempotent(admin: Any,
                                                                  evidence: tuple[Path, Path, Path]) -> None:
    db, wa, media = evidence
    options = ImportOptions(tz="UTC", wa_db=str(wa), media_root=str(media))
    do_import([db], options, actor=admin.actor)
    before = snapshot()
    rebuild()
    assert snapshot() == before
    [again] = do_import([db], options, actor=admin.actor)
    assert again.already_imported and Message.objects.count() == 6


def test_the_chat_filter_imports_one_chat(admin: Any, evidence: tuple[Path, Path, Path]) -> None:
    db, wa, _ = evidence
    [summary] = do_import([db], ImportOptions(tz="UTC", wa_db=str(wa), chat="Deal"), actor=admin.actor)
    assert len(summary.conversations) == 1 and Conversation.objects.get().title == "Deal Team"


def test_an_encrypted_backup_is_refused_with_a_hint(admin: Any, tmp_path: Path) -> None:
    crypt = tmp_path / "msgstore.db.crypt14"
    crypt.write_bytes(b"\x00\x01" + b"x" * 500)
    with pytest.raises(ImportError_):
        do_import([crypt], ImportOptions(tz="UTC"), actor=admin.actor)
