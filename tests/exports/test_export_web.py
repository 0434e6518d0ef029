"""The download links on the conversation page: who gets what, and the headers."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from tests.exports.conftest import Chat

from onfile.accounts.actions import do_create_user
from onfile.conversations.actions import do_assign, do_create_matter, do_link_matter, do_set_wall
from onfile.ledger.models import Entry

pytestmark = pytest.mark.django_db
PW = "correct horse battery staple 42"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def exports_of(conversation: Any) -> list[dict[str, Any]]:
    rows = Entry.objects.filter(kind="access.export", subject=f"conversation:{conversation.pk}").order_by("seq")
    return [json.loads(e.attrs) | {"actor": e.actor} for e in rows]


def test_the_routes() -> None:
    assert reverse("conversation-pdf", args=[7]) == "/conversations/7/export.pdf"
    assert reverse("conversation-zip", args=[7]) == "/conversations/7/export.zip"


def test_the_pdf_downloads_as_an_attachment(whatsapp_chat: Chat, admin: Any) -> None:
    pk = whatsapp_chat.conversation.pk
    response = signed_in(admin).get(f"/conversations/{pk}/export.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="onfile-conversation-') and disposition.endswith('.pdf"')
    assert "Alice" not in disposition  # no client's name in a download folder
    assert response["Cache-Control"] == "no-store"
    [audit] = exports_of(whatsapp_chat.conversation)
    assert audit["sha256"] == hashlib.sha256(response.content).hexdigest() and audit["actor"] == admin.actor


def test_the_zip_streams(whatsapp_chat: Chat, admin: Any) -> None:
    pk = whatsapp_chat.conversation.pk
    response = signed_in(admin).get(f"/conversations/{pk}/export.zip")
    assert response.status_code == 200 and response.streaming and response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "no-store" and response["Content-Disposition"].endswith('.zip"')
    data = b"".join(response.streaming_content)  # type: ignore[arg-type]
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None and len([n for n in zf.namelist() if n.startswith("media/")]) == 2
    [audit] = exports_of(whatsapp_chat.conversation)
    assert audit["format"] == "zip" and audit["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_walled_fee_earner_gets_404_and_nothing_is_ledgered_as_exported(whatsapp_chat: Chat) -> None:
    conversation = whatsapp_chat.conversation
    fee_earner = do_create_user("fe@firm.example", PW, "fee_earner", "test")
    do_assign(conversation, fee_earner.pk, "test")
    client = signed_in(fee_earner)
    assert client.get(f"/conversations/{conversation.pk}/export.pdf").status_code == 200  # before the wall
    matter = do_create_matter("M-0001", "test", title="Takeover")
    do_link_matter(conversation, matter, "test")
    do_set_wall(matter, "except", [fee_earner.pk], actor="test")
    before = len(exports_of(conversation))
    for fmt in ("pdf", "zip"):
        response = client.get(f"/conversations/{conversation.pk}/export.{fmt}")
        assert response.status_code == 404 and not response.get("Content-Disposition")
        assert b"Takeover" not in response.content and b"Alice" not in response.content
    assert len(exports_of(conversation)) == before


def test_someone_else_s_conversation_is_404_and_anonymous_must_sign_in(whatsapp_chat: Chat) -> None:
    pk = whatsapp_chat.conversation.pk
    outsider = do_create_user("other@firm.example", PW, "fee_earner", "test")
    assert signed_in(outsider).get(f"/conversations/{pk}/export.pdf").status_code == 404
    assert signed_in(outsider).get("/conversations/999999/export.zip").status_code == 404
    anonymous = Client().get(f"/conversations/{pk}/export.pdf")
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    assert exports_of(whatsapp_chat.conversation) == []


def test_only_get(whatsapp_chat: Chat, admin: Any) -> None:
    client = signed_in(admin)
    client.handler.enforce_csrf_checks = False
    assert client.post(f"/conversations/{whatsapp_chat.conversation.pk}/export.pdf").status_code == 405
