"""The PDF transcript: what it says, that it is PDF/A, that text stays text, that it pages."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from typing import Any

import pytest
from pypdf import PdfReader
from tests.exports.conftest import CONTRACT, PHOTO, Chat

from onfile.accounts.actions import do_create_user
from onfile.conversations.actions import do_assign
from onfile.conversations.models import Attachment, Message
from onfile.exports import transcript
from onfile.exports.conversation import render_pdf
from onfile.exports.transcript.data import header
from onfile.ledger.checkpoint import open_checkpoint
from onfile.ledger.keys import verifier_keys
from onfile.ledger.models import Checkpoint, Entry

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, "\n".join(page.extract_text() or "" for page in reader.pages)


def squeeze(text: str) -> str:
    return "".join(text.split())


def export(chat_or_pk: Any, user: Any) -> tuple[Any, PdfReader, str]:
    out = io.BytesIO()
    result = render_pdf(chat_or_pk, user, out)
    reader, text = pdf_text(out.getvalue())
    assert result.sha256 == hashlib.sha256(out.getvalue()).hexdigest() and result.size == len(out.getvalue())
    return result, reader, text


def test_the_transcript_shows_every_message_and_attachment(whatsapp_chat: Chat, admin: Any, settings: Any) -> None:
    settings.FIRM_NAME = "Example Law LLP"
    result, reader, text = export(whatsapp_chat.conversation, admin)
    flat = squeeze(text)
    for words in ("Hello, is the contract ready?", "About my first message", "forwarded text",
                  "The meeting is on Tuesday", "Yes, it is attached.", "Law Courts", "João Silva",
                  "+55 11 98765-4321", "contract.pdf", "application/pdf", "image/jpeg", "signed page"):
        assert squeeze(words) in flat, words
    for data in (PHOTO, CONTRACT):
        assert hashlib.sha256(data).hexdigest() in flat
    assert "forwarded" in text and "edited" in text and "deleted by the sender" in text
    assert squeeze("reply to Alice Example") in flat
    # Without an emoji font the reaction is written out, never an empty box (see glyphs.py).
    assert "👍 by Alice Example" in text or "[thumbs up sign] by Alice Example" in text
    assert squeeze("Delivery: sent") in flat and "delivered" in text
    # Reactions, edits and deletions act on earlier messages; they are not messages themselves.
    assert result.messages == Message.objects.filter(conversation=whatsapp_chat.conversation).count() == 11
    assert squeeze(f"{result.messages} messages, 2 attachments") in flat
    assert squeeze(f"Page 1 of {len(reader.pages)}") in flat and "+447700900123" in text
    assert "Example Law LLP" in text and "+15550783881 (Example Law)" in text


def test_originals_are_shown_to_compliance_and_withheld_from_others(whatsapp_chat: Chat, admin: Any) -> None:
    _, _, shown = export(whatsapp_chat.conversation, admin)  # admins may see originals
    assert "My PIN is 7319" in shown and "Tusday" in shown
    fee_earner = do_create_user("fe@firm.example", "correct horse battery staple 42", "fee_earner", "test")
    do_assign(whatsapp_chat.conversation, fee_earner.pk, "test")
    _, _, withheld = export(whatsapp_chat.conversation, fee_earner)
    assert "7319" not in withheld and "Tusday" not in withheld
    assert squeeze("The content of this deleted message is withheld") in squeeze(withheld)
    assert "The meeting is on Tuesday" in withheld  # the current text of an edited message stays


def test_it_is_pdf_a_with_metadata(whatsapp_chat: Chat, admin: Any) -> None:
    result, reader, _ = export(whatsapp_chat.conversation, admin)
    xmp = reader.xmp_metadata
    assert xmp is not None
    raw = xmp.stream.get_data().decode("utf-8")
    assert 'pdfaid:part="3"' in raw and 'pdfaid:conformance="B"' in raw  # PDF/A-3b identification
    assert reader.trailer["/Root"].get("/OutputIntents")  # the sRGB output intent PDF/A asks for
    meta = reader.metadata
    pk = whatsapp_chat.conversation.pk
    assert meta is not None and meta.title == f"Transcript: Alice Example (conversation {pk})"
    assert f"root {result.checkpoint_root}" in (meta.subject or "") and meta.creation_date is not None


def test_the_checkpoint_in_the_header_verifies(whatsapp_chat: Chat, admin: Any) -> None:
    result, _, text = export(whatsapp_chat.conversation, admin)
    cp = Checkpoint.objects.get(size=result.checkpoint_size, root=result.checkpoint_root)
    assert cp.reason == f"export:conversation:{whatsapp_chat.conversation.pk}"
    body = open_checkpoint(cp.note, verifier_keys())
    assert body.root.hex() == result.checkpoint_root and body.size == result.checkpoint_size
    assert result.checkpoint_root in squeeze(text)
    # Every message's ledger entry is inside the signed tree.
    assert max(Message.objects.values_list("source_seq", flat=True)) < result.checkpoint_size


def test_the_export_is_ledgered_with_the_files_hash(whatsapp_chat: Chat, admin: Any) -> None:
    result, _, _ = export(whatsapp_chat.conversation, admin)
    entry = Entry.objects.get(seq=result.audit_seq)
    detail = json.loads(entry.attrs)
    assert entry.kind == "access.export" and entry.actor == admin.actor
    assert entry.subject == f"conversation:{whatsapp_chat.conversation.pk}"
    assert detail["format"] == "pdf" and detail["sha256"] == result.sha256 and detail["completed"] is True
    assert detail["checkpoint_size"] == result.checkpoint_size and entry.seq >= result.checkpoint_size


def test_html_in_a_message_is_text_not_markup(whatsapp_chat: Chat, admin: Any) -> None:
    c = whatsapp_chat.conversation
    h = header(c, firm="Example & <Law>", generated_at=c.last_message_at, generated_by="x", originals=True,
               seal=_seal())
    html = transcript.render_html(c, h)
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "Example &amp; &lt;Law&gt;" in html
    _, _, text = export(c, admin)
    assert '<img src=x onerror="alert(1)"> & <b>bold</b>' in text


def _seal() -> Any:
    from onfile.exports.conversation import make_seal

    return make_seal("test")


def test_a_missing_file_is_said_to_be_missing(import_chat: Any, admin: Any) -> None:
    conversation = import_chat()
    _, _, text = export(conversation, admin)
    flat = squeeze(text)
    assert squeeze("File missing — not in the archive: the chat export left this file out") in flat
    assert hashlib.sha256(b"%PDF-1.4 scan " * 100).hexdigest() in flat
    assert Attachment.objects.filter(message__conversation=conversation, placeholder="omitted").count() == 1


def test_a_long_conversation_runs_over_many_pages(import_chat: Any, admin: Any) -> None:
    from tests.exports.conftest import long_chat

    conversation = import_chat(long_chat(700), media={})
    result, reader, text = export(conversation, admin)
    assert result.messages == 700 and len(reader.pages) > 10
    assert f"Page {len(reader.pages)} of {len(reader.pages)}" in text
    assert "message number 0 " in text and "message number 699 " in text
    assert "Thursday 01 February 2024" in text and "Friday 02 February 2024" in text


def test_characters_no_font_can_draw_are_written_out_not_boxed(whatsapp_chat: Chat, admin: Any,
                                                                caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        _, _, text = export(whatsapp_chat.conversation, admin)
    assert [r.getMessage() for r in caplog.records if ".notdef" in r.getMessage()] == []
    # Either the fonts draw them (CJK and emoji fonts installed) or they are named; the text
    # around them stays extractable either way.
    assert "Grüße" in text and ("你好" in text or "[U+4F60][U+597D]" in text)
    assert "🙂" in text or "[slightly smiling face]" in text
