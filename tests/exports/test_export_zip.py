"""The zip: JSON lines, original media, transcript and a manifest whose every hash checks out."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from tests.exports.conftest import CONTRACT, JPEG, PHOTO, SCAN, Chat, Phone

from onfile.accounts.actions import do_create_user
from onfile.channels.whatsapp.processing import fetch_media
from onfile.conversations.actions import do_assign
from onfile.conversations.models import Attachment, Conversation
from onfile.exports.conversation import stream_zip, write_zip
from onfile.ledger.blobs import blob_dir
from onfile.ledger.checkpoint import open_checkpoint
from onfile.ledger.keys import verifier_keys
from onfile.ledger.models import Blob, Entry
from onfile.ledger.verify_checkpoint import main as verify_checkpoint_main

pytestmark = pytest.mark.django_db


def export(conversation: Any, user: Any) -> tuple[Any, zipfile.ZipFile, dict[str, Any], bytes]:
    out = io.BytesIO()
    result = write_zip(conversation, user, out)
    data = out.getvalue()
    assert result.sha256 == hashlib.sha256(data).hexdigest() and result.size == len(data)
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None
    return result, zf, json.loads(zf.read("manifest.json")), data


def test_every_file_is_listed_with_its_hash(whatsapp_chat: Chat, admin: Any) -> None:
    _, zf, manifest, _ = export(whatsapp_chat.conversation, admin)
    names = zf.namelist()
    assert names[0] == "conversation.jsonl" and names[-2:] == ["transcript.pdf", "manifest.json"]
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(names) - {"manifest.json"}
    for path, entry in listed.items():
        content = zf.read(path)
        assert entry["sha256"] == hashlib.sha256(content).hexdigest() and entry["size"] == len(content), path
    media = sorted(p for p in names if p.startswith("media/"))
    assert len(media) == 2 and manifest["files_missing"] == []
    for data, suffix in ((PHOTO, "-image.jpg"), (CONTRACT, "-contract.pdf")):
        digest = hashlib.sha256(data).hexdigest()
        path = f"media/{digest[:16]}{suffix}"
        assert zf.read(path) == data
        assert listed[path]["recorded_sha256"] == digest and listed[path]["matches_record"] is True
    recorded = set(Attachment.objects.values_list("sha256", flat=True))
    assert {listed[p]["sha256"] for p in media} == recorded


def test_the_messages_and_the_transcript_are_inside(whatsapp_chat: Chat, admin: Any) -> None:
    result, zf, manifest, _ = export(whatsapp_chat.conversation, admin)
    records = [json.loads(line) for line in zf.read("conversation.jsonl").decode().splitlines()]
    assert len(records) == result.messages == manifest["conversation"]["messages"] == 11
    assert records[0]["text"] == "Hello, is the contract ready? Grüße 🙂 — 你好"  # exact, unlike the PDF
    assert records[0]["reactions"][0]["emoji"] == "👍"
    edited = next(r for r in records if r["edited"])
    assert edited["text"] == "The meeting is on Tuesday"
    assert edited["revisions"][0]["text"] == "The meeting is on Tusday"
    location = next(r for r in records if r["type"] == "location")
    assert location["data"]["location"]["name"] == "Law Courts"
    reader = PdfReader(io.BytesIO(zf.read("transcript.pdf")))
    text = "".join("".join(page.extract_text().split()) for page in reader.pages)
    assert "Hello,isthecontractready?" in text
    assert f"media/{hashlib.sha256(CONTRACT).hexdigest()[:16]}-contract.pdf" in text  # says where the file is
    c = manifest["conversation"]
    assert c["id"] == whatsapp_chat.conversation.pk and c["client"] == "Alice Example"
    assert c["client_numbers"] == ["+447700900123"] and c["firm_number"] == "+15550783881"
    assert manifest["generated_by"]["email"] == admin.email and manifest["originals_included"] is True


def test_the_checkpoint_in_the_manifest_verifies(whatsapp_chat: Chat, admin: Any, tmp_path: Path) -> None:
    result, _, manifest, _ = export(whatsapp_chat.conversation, admin)
    ledger = manifest["ledger"]
    checkpoint = open_checkpoint(ledger["checkpoint"], verifier_keys(), origin=ledger["origin"])
    assert checkpoint.size == ledger["size"] == result.checkpoint_size
    assert checkpoint.root.hex() == ledger["root_hash"] == result.checkpoint_root
    assert ledger["verifier_keys"] == verifier_keys()
    # The offline tool an auditor runs says the same.
    (tmp_path / "cp.txt").write_text(ledger["checkpoint"])
    assert verify_checkpoint_main([str(tmp_path / "cp.txt"), ledger["verifier_keys"][0]]) == 0
    forged = ledger["checkpoint"].replace(f"\n{ledger['size']}\n", f"\n{ledger['size'] + 1}\n")
    (tmp_path / "forged.txt").write_text(forged)
    assert verify_checkpoint_main([str(tmp_path / "forged.txt"), ledger["verifier_keys"][0]]) == 1


def test_the_export_is_ledgered(whatsapp_chat: Chat, admin: Any) -> None:
    result, _, manifest, data = export(whatsapp_chat.conversation, admin)
    entry = Entry.objects.get(seq=result.audit_seq)
    detail = json.loads(entry.attrs)
    assert entry.kind == "access.export" and entry.actor == admin.actor
    assert detail["format"] == "zip" and detail["sha256"] == hashlib.sha256(data).hexdigest()
    assert detail["transcript_sha256"] == next(f["sha256"] for f in manifest["files"] if f["path"] == "transcript.pdf")
    assert detail["checkpoint_size"] == manifest["ledger"]["size"] and detail["completed"] is True


def test_missing_files_are_listed_and_the_rest_exports(import_chat: Any, admin: Any, settings: Any) -> None:
    settings.INLINE_BLOB_LIMIT = 1000  # the scan is stored as a file, the photo inline
    conversation = import_chat()
    scan = Attachment.objects.get(message__conversation=conversation, filename="scan.pdf")
    Path(blob_dir(), Blob.objects.get(pk=scan.blob_id).path).unlink()  # lost from the blob store
    result, zf, manifest, _ = export(conversation, admin)
    reasons = sorted((m["name"] or "", m["reason"]) for m in manifest["files_missing"])
    assert reasons == [("", "not in the archive: the chat export left this file out"),
                       ("scan.pdf", "the stored file is missing from the blob store")]
    assert result.files_missing == 2 == len(manifest["files_missing"])
    assert [p for p in zf.namelist() if p.startswith("media/")] == [
        f"media/{hashlib.sha256(JPEG).hexdigest()[:16]}-IMG-20240113-WA0001.jpg"]
    scan_entry = next(m for m in manifest["files_missing"] if m["name"] == "scan.pdf")
    assert scan_entry["recorded_sha256"] == hashlib.sha256(SCAN).hexdigest()
    text = "".join("".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(zf.read("transcript.pdf"))).pages)
    assert "Filemissing—thestoredfileismissingfromtheblobstore" in text


def test_a_tampered_file_is_not_passed_off_as_the_original(import_chat: Any, admin: Any, settings: Any) -> None:
    settings.INLINE_BLOB_LIMIT = 1000
    conversation = import_chat()
    scan = Attachment.objects.get(message__conversation=conversation, filename="scan.pdf")
    path = Path(blob_dir(), Blob.objects.get(pk=scan.blob_id).path)
    sealed = bytearray(path.read_bytes())
    sealed[-5] ^= 1  # one bit in the last chunk
    path.write_bytes(bytes(sealed))
    _, _, manifest, _ = export(conversation, admin)
    [missing] = [m for m in manifest["files_missing"] if m["name"] == "scan.pdf"]
    assert "cannot be read" in missing["reason"] or "integrity check" in missing["reason"]
    copied = [f for f in manifest["files"] if f.get("name") == "scan.pdf"]
    assert all(f["complete"] is False and f["matches_record"] is False for f in copied)


def test_the_streamed_zip_is_the_same_export(whatsapp_chat: Chat, admin: Any) -> None:
    stream = stream_zip(whatsapp_chat.conversation, admin)
    pieces = list(stream.chunks)
    data = b"".join(pieces)
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None and "manifest.json" in zf.namelist()
    entry = Entry.objects.filter(kind="access.export").order_by("-seq").first()
    assert entry is not None and json.loads(entry.attrs)["sha256"] == hashlib.sha256(data).hexdigest()
    assert stream.filename.startswith(f"onfile-conversation-{whatsapp_chat.conversation.pk}-")


def test_an_abandoned_download_is_ledgered_as_incomplete(whatsapp_chat: Chat, admin: Any, monkeypatch: Any) -> None:
    from onfile.exports import conversation as module

    monkeypatch.setattr(module, "FLUSH_AT", 1)  # hand on every piece at once
    stream = stream_zip(whatsapp_chat.conversation, admin)
    next(stream.chunks)
    stream.chunks.close()  # type: ignore[attr-defined]  # the browser went away
    entry = Entry.objects.filter(kind="access.export").order_by("-seq").first()
    assert entry is not None and json.loads(entry.attrs)["completed"] is False


def test_large_members_get_zip64(admin: Any, import_chat: Any, monkeypatch: Any) -> None:
    from onfile.exports import conversation as module

    monkeypatch.setattr(module, "BIG_MEMBER", 10)  # every media file counts as big
    conversation = import_chat()
    _, zf, _, _ = export(conversation, admin)
    media = [i for i in zf.infolist() if i.filename.startswith("media/")]
    assert [zf.read(i) for i in media] == [JPEG, SCAN]
    assert all(i.extract_version >= zipfile.ZIP64_VERSION for i in media)
    assert zf.getinfo("manifest.json").extract_version < zipfile.ZIP64_VERSION


def test_a_fee_earner_s_zip_leaves_out_what_deleted_messages_said(phone: Phone) -> None:
    photo = phone.send("photo", type="image", mime_type="image/jpeg", data_b64=base64.b64encode(PHOTO).decode(),
                       caption="my passport: QX-SECRET-PASSPORT")
    phone.send("gone", type="revoke", original_message_id=photo)
    assert fetch_media(10) == 1
    conversation = Conversation.objects.get()
    fee_earner = do_create_user("fe@firm.example", "correct horse battery staple 42", "fee_earner", "test")
    do_assign(conversation, fee_earner.pk, "test")
    _, zf, manifest, _ = export(conversation, fee_earner)
    [record] = [json.loads(line) for line in zf.read("conversation.jsonl").decode().splitlines()]
    assert record["deleted"] and record["original_withheld"] and record["text"] == "" and record["attachments"] == []
    assert not [n for n in zf.namelist() if n.startswith("media/")] and manifest["files_missing"] == []
    assert manifest["originals_included"] is False and manifest["conversation"]["attachments"] == 0
    assert all(b"SECRET-PASSPORT" not in zf.read(n) for n in zf.namelist() if n != "transcript.pdf")
    assert "SECRET-PASSPORT" not in PdfReader(io.BytesIO(zf.read("transcript.pdf"))).pages[0].extract_text()
    compliance = do_create_user("colp@firm.example", "correct horse battery staple 42", "compliance", "test")
    _, zf, _, _ = export(conversation, compliance)
    assert [zf.read(n) for n in zf.namelist() if n.startswith("media/")] == [PHOTO]
    assert "SECRET-PASSPORT" in json.loads(zf.read("conversation.jsonl").decode().splitlines()[0])["text"]
