"""Opening exports: zips (Android, iOS), folders and text files, and refusing unsafe ones."""

from __future__ import annotations

import os
import stat
import struct
import unicodedata
import warnings
import zipfile
from pathlib import Path

import pytest

from onfile.imports.chatexport import (
    ExportError,
    NotAnExport,
    archive,
    open_export,
    parse_source,
    title_from_name,
)

ANDROID_CHAT = (
    "30/06/2023, 16:15 - Dave: IMG-20230630-WA0000.jpg (file attached)\n"
    "Caption here\n"
    "30/06/2023, 16:16 - Erin: VID-20230630-WA0001.mp4 (file attached)\n"
    "30/06/2023, 16:17 - Erin: hello\n"
)
IOS_CHAT = (
    "\u200e[29/01/2018, 12:24:03] Pokemon Chat: \u200eMessages and calls are end-to-end encrypted.\n"
    "[29/01/2018, 12:25:00] Trent: \u200e<attached: 00000007-PHOTO-2018-01-29-12-25-00.jpg>\n"
    "[29/01/2018, 12:26:00] Trent: \u200e<attached: 00000008-Café Menu.pdf>\n"
)
JPEG = b"\xff\xd8\xff\xe0" + b"fake jpeg" * 10


def make_zip(path: Path, members: dict[str, bytes | str], *, compress: bool = True) -> Path:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names, which one test wants
        with zipfile.ZipFile(path, "w", method) as zf:
            for name, data in members.items():
                zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return path


def test_android_zip_gives_title_chat_and_media(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "WhatsApp Chat with Dave.zip",
        {
            "WhatsApp Chat with Dave.txt": ANDROID_CHAT,
            "IMG-20230630-WA0000.jpg": JPEG,
        },
    )
    with open_export(path) as source:
        assert (source.kind, source.title, source.chat_name) == ("zip", "Dave", "WhatsApp Chat with Dave.txt")
        assert source.media == ["IMG-20230630-WA0000.jpg"]
        assert source.find_media("IMG-20230630-WA0000.jpg") == "IMG-20230630-WA0000.jpg"
        assert source.find_media("img-20230630-wa0000.JPG") == "IMG-20230630-WA0000.jpg"
        assert source.find_media("IMG-missing.jpg") is None
        with source.open_media("IMG-20230630-WA0000.jpg") as media:
            assert media.read() == JPEG
        with source.open_chat() as chat_stream:
            assert chat_stream.read() == ANDROID_CHAT.encode()
        chat, messages = parse_source(source)
        found = list(messages)
    assert chat.title == "Dave"
    image, video, _ = found
    assert image.attachments[0].path == "IMG-20230630-WA0000.jpg"
    assert image.attachments[0].size == len(JPEG)
    assert image.attachments[0].caption == "Caption here"
    assert image.attachments[0].omitted is False
    # Named in the text but not in the zip: stored as a placeholder.
    assert video.attachments[0].path is None and video.attachments[0].omitted is True


def test_ios_zip_finds_chat_txt_and_media_despite_unicode_forms(tmp_path: Path) -> None:
    nfd_name = unicodedata.normalize("NFD", "00000008-Café Menu.pdf")  # how macOS stores names
    path = make_zip(
        tmp_path / "WhatsApp Chat - Pokemon Chat.zip",
        {
            "_chat.txt": IOS_CHAT,
            "00000007-PHOTO-2018-01-29-12-25-00.jpg": JPEG,
            nfd_name: b"%PDF-1.4",
        },
    )
    with open_export(path) as source:
        assert source.title == "Pokemon Chat"
        assert source.chat_name == "_chat.txt"
        chat, messages = parse_source(source)
        found = list(messages)
    assert chat.platform == "ios"
    assert [m.kind for m in found] == ["system", "image", "document"]
    assert found[1].attachments[0].path == "00000007-PHOTO-2018-01-29-12-25-00.jpg"
    assert found[2].attachments[0].path == nfd_name


def test_temp_dir_is_removed_on_close(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "chat.zip", {"_chat.txt": IOS_CHAT})
    source = open_export(path)
    temp_dir = source._temp_dir
    assert temp_dir is not None and os.path.isdir(temp_dir)
    source.close()
    assert not os.path.exists(temp_dir)


def test_a_folder_with_loose_media(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "WhatsApp Chat with Dave.txt").write_text(ANDROID_CHAT, encoding="utf-8")
    (folder / "IMG-20230630-WA0000.jpg").write_bytes(JPEG)
    with open_export(folder) as source:
        assert (source.kind, source.title) == ("folder", "Dave")
        assert source.media == ["IMG-20230630-WA0000.jpg"]
        with source.open_media(source.media[0]) as media:
            assert media.read() == JPEG


def test_a_folder_with_a_symlink_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "_chat.txt").write_text(IOS_CHAT, encoding="utf-8")
    (folder / "secret.jpg").symlink_to("/etc/passwd")
    with pytest.raises(ExportError, match="symbolic link"):
        open_export(folder)


def test_a_plain_text_export(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with +1 555 0100.txt"
    path.write_text(ANDROID_CHAT, encoding="utf-8")
    with open_export(path) as source:
        assert (source.kind, source.title, source.media) == ("txt", "+1 555 0100", [])


def test_text_that_is_not_an_export(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Shopping list\n2 apples\n12/03/2024 is a date\n" * 100, encoding="utf-8")
    with pytest.raises(NotAnExport):
        open_export(path)


def test_zip_whose_text_is_not_an_export(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "x.zip", {"_chat.txt": "hello\nworld\n"})
    with pytest.raises(NotAnExport):
        open_export(path)


def test_zip_without_chat_text(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "x.zip", {"IMG-20230630-WA0000.jpg": JPEG})
    with pytest.raises(ExportError, match="no WhatsApp chat text"):
        open_export(path)


def test_zip_with_several_texts_picks_the_chat(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "x.zip",
        {"notes.txt": "just a shared document\n", "WhatsApp Chat with D.txt": ANDROID_CHAT},
    )
    with open_export(path) as source:
        assert source.chat_name == "WhatsApp Chat with D.txt"
        assert source.media == ["notes.txt"]


def test_a_damaged_zip(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Dave.zip"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ExportError, match="not a valid zip"):
        open_export(path)


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/etc/evil.txt", "media\\evil.jpg", "C:/evil.txt", "a/../../evil.txt"]
)
def test_zip_slip_names_are_refused(tmp_path: Path, name: str) -> None:
    path = make_zip(tmp_path / "x.zip", {"_chat.txt": IOS_CHAT, name: b"x"})
    with pytest.raises(ExportError, match="unsafe"):
        open_export(path)


def test_symlink_entries_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("_chat.txt", IOS_CHAT)
        link = zipfile.ZipInfo("IMG-20230630-WA0000.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(ExportError, match="symbolic link"):
        open_export(path)


# (signature, offset of the flags, of the name length, of the name) in the two zip headers.
ZIP_HEADERS = ((b"PK\x01\x02", 8, 28, 46), (b"PK\x03\x04", 6, 26, 30))


def set_encrypted_flag(path: Path, member: str) -> None:
    """Set bit 0 ("encrypted") of ``member``'s flags; zipfile cannot write encrypted entries."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, flags_at, name_len_at, name_at in ZIP_HEADERS:
        start = 0
        while (start := data.find(signature, start)) >= 0:
            (name_len,) = struct.unpack_from("<H", data, start + name_len_at)
            if data[start + name_at : start + name_at + name_len] == name:
                data[start + flags_at] |= 0x1
            start += 4
    path.write_bytes(bytes(data))


def test_encrypted_entries_are_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "x.zip", {"_chat.txt": IOS_CHAT, "IMG-20230630-WA0000.jpg": JPEG})
    set_encrypted_flag(path, "IMG-20230630-WA0000.jpg")
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("IMG-20230630-WA0000.jpg").flag_bits & 0x1
    with pytest.raises(ExportError, match="encrypted"):
        open_export(path)


def test_duplicate_entries_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("_chat.txt", IOS_CHAT)
            zf.writestr("_chat.txt", ANDROID_CHAT)
    with pytest.raises(ExportError, match="twice"):
        open_export(path)


def test_zip_bomb_by_ratio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "RATIO_MIN_BYTES", 10_000)
    monkeypatch.setattr(archive, "MAX_RATIO", 50)
    path = make_zip(tmp_path / "x.zip", {"_chat.txt": IOS_CHAT, "IMG-bomb.jpg": b"\0" * 200_000})
    with pytest.raises(ExportError, match="zip bomb"):
        open_export(path)


def test_zip_bomb_by_member_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 50_000)
    path = make_zip(tmp_path / "x.zip", {"_chat.txt": IOS_CHAT, "VID-big.mp4": os.urandom(60_000)})
    with pytest.raises(ExportError, match="limit 50000"):
        open_export(path)


def test_zip_bomb_by_total_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 100_000)
    members: dict[str, bytes | str] = {"_chat.txt": IOS_CHAT}
    members.update({f"IMG-{i}.jpg": os.urandom(30_000) for i in range(4)})
    path = make_zip(tmp_path / "x.zip", members)
    with pytest.raises(ExportError, match="more than 100000 bytes"):
        open_export(path)


def test_too_many_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_MEMBERS", 3)
    members: dict[str, bytes | str] = {"_chat.txt": IOS_CHAT}
    members.update({f"IMG-{i}.jpg": b"x" for i in range(3)})
    with pytest.raises(ExportError, match="entries"):
        open_export(make_zip(tmp_path / "x.zip", members))


def test_within_limits_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "RATIO_MIN_BYTES", 10_000)
    path = make_zip(tmp_path / "x.zip", {"_chat.txt": IOS_CHAT, "IMG-small.jpg": b"\0" * 9_000})
    with open_export(path) as source:
        assert source.media == ["IMG-small.jpg"]


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("WhatsApp Chat with Bob.zip", "Bob"),
        ("WhatsApp Chat - Pokemon Chat.zip", "Pokemon Chat"),
        ("WhatsApp_Chat_with_Bob.txt", "Bob"),
        ("Chat de WhatsApp con Juan.txt", "Juan"),
        ("WhatsApp Chat mit Mallory.zip", "Mallory"),
        ("צ'אט וואטסאפ עם דני.zip", "צ'אט וואטסאפ עם דני"),
        ("export.txt", "export"),
    ],
)
def test_title_from_name(name: str, title: str) -> None:
    assert title_from_name(name) == title
