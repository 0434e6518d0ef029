"""``onfile export`` as a staff member: the same access as the web, and no half-written files."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from tests.exports.conftest import Chat

from onfile.accounts.actions import do_create_user
from onfile.conversations.actions import do_assign, do_create_matter, do_link_matter, do_set_wall
from onfile.ledger.models import Entry

pytestmark = pytest.mark.django_db
PW = "correct horse battery staple 42"


def export(*args: str) -> None:
    call_command("export", *args, stderr=io.StringIO())


def last_export() -> dict[str, Any]:
    entry = Entry.objects.filter(kind="access.export").order_by("-seq").first()
    assert entry is not None
    return json.loads(entry.attrs) | {"actor": entry.actor}


def test_pdf_zip_and_jsonl_to_files(whatsapp_chat: Chat, admin: Any, tmp_path: Path) -> None:
    pk = str(whatsapp_chat.conversation.pk)
    for fmt in ("pdf", "zip", "jsonl"):
        target = tmp_path / f"out.{fmt}"
        export("--conversation", pk, "--format", fmt, "--as", admin.email, "-o", str(target))
        data = target.read_bytes()
        audit = last_export()
        assert audit["format"] == fmt and audit["sha256"] == hashlib.sha256(data).hexdigest()
        assert audit["actor"] == admin.actor
    assert (tmp_path / "out.pdf").read_bytes().startswith(b"%PDF-")
    assert zipfile.ZipFile(tmp_path / "out.zip").testzip() is None
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 11
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.pdf", "out.zip"]


@pytest.fixture
def walled(whatsapp_chat: Chat) -> Any:
    fee_earner = do_create_user("fe@firm.example", PW, "fee_earner", "test")
    do_assign(whatsapp_chat.conversation, fee_earner.pk, "test")
    matter = do_create_matter("M-0002", "test")
    do_link_matter(whatsapp_chat.conversation, matter, "test")
    do_set_wall(matter, "except", [fee_earner.pk], actor="test")
    return fee_earner


@pytest.mark.parametrize("fmt", ["pdf", "zip", "jsonl"])
def test_a_walled_conversation_is_not_found_and_nothing_is_written(whatsapp_chat: Chat, walled: Any,
                                                                   tmp_path: Path, fmt: str) -> None:
    before = Entry.objects.filter(kind="access.export").count()
    target = tmp_path / f"out.{fmt}"
    with pytest.raises(CommandError, match=f"no conversation {whatsapp_chat.conversation.pk} that fe@firm.example"):
        export("--conversation", str(whatsapp_chat.conversation.pk), "--format", fmt, "--as", walled.email,
               "-o", str(target))
    assert list(tmp_path.iterdir()) == []
    assert Entry.objects.filter(kind="access.export").count() == before


def test_the_person_must_be_named(whatsapp_chat: Chat, admin: Any, tmp_path: Path) -> None:
    pk = str(whatsapp_chat.conversation.pk)
    with pytest.raises(CommandError, match="give --as EMAIL"):
        export("--conversation", pk, "--format", "pdf", "-o", str(tmp_path / "x.pdf"))
    with pytest.raises(CommandError, match="--actor is gone"):
        export("--conversation", pk, "--actor", "someone", "--as", admin.email)
    with pytest.raises(CommandError, match=r"no active user 'nobody@firm\.example'"):
        export("--conversation", pk, "--format", "pdf", "--as", "nobody@firm.example", "-o", str(tmp_path / "x.pdf"))
    assert list(tmp_path.iterdir()) == []


def test_binary_needs_a_file_or_a_pipe(whatsapp_chat: Chat, admin: Any, monkeypatch: Any) -> None:
    pk = str(whatsapp_chat.conversation.pk)
    with pytest.raises(CommandError, match="give -o FILE for a zip export"):
        export("--conversation", pk, "--format", "zip", "--as", admin.email)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with pytest.raises(CommandError, match="refusing to write a binary pdf to a terminal"):
        export("--conversation", pk, "--format", "pdf", "--as", admin.email, "-o", "-")


@pytest.mark.cli
def test_the_real_command(cli: Any, tmp_path: Path) -> None:
    from tests.exports.conftest import ALICE, JPEG, SCAN, chat_zip

    cli.init()
    source = chat_zip(tmp_path / "WhatsApp Chat with Alice Smith.zip", ALICE,
                      {"IMG-20240113-WA0001.jpg": JPEG, "scan.pdf": SCAN})
    cli.run("import", str(source), "--me", "Bob Solicitor", "--tz", "UTC")
    [row] = json.loads(cli.run("conversations", "--json").stdout)
    pk = str(row["id"])
    done = cli.run("export", "--conversation", pk, "--format", "zip", "--as", "admin@firm.example",
                   "-o", str(tmp_path / "alice.zip"))
    assert "1 file(s) missing" in done.stderr  # the <Media omitted> one
    zf = zipfile.ZipFile(tmp_path / "alice.zip")
    assert zf.read(f"media/{hashlib.sha256(SCAN).hexdigest()[:16]}-scan.pdf") == SCAN
    piped = subprocess.run([sys.executable, "-m", "onfile.cli", "export", "--conversation", pk, "--format", "pdf",
                            "--as", "admin@firm.example", "-o", "-"], env=cli.env, capture_output=True, timeout=120)
    assert piped.returncode == 0 and piped.stdout.startswith(b"%PDF-") and piped.stdout.rstrip().endswith(b"%%EOF")
    assert cli.run("verify").returncode == 0
