"""Android msgstore.db, legacy (pre-2022) schema with the single ``messages`` table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.imports.devicedb import builders

from onfile.imports.devicedb import detect, read_database
from onfile.imports.records import ParsedAttachment, ParsedChat, ParsedMessage

b = builders
T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
ALICE = "41791111111@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
VCARD = "BEGIN:VCARD\nVERSION:3.0\nFN:Zed Notary\nEND:VCARD"


def ms(seconds: float) -> int:
    return int(b.T0_MS + seconds * 1000)


@pytest.fixture
def legacy(tmp_path: Path) -> tuple[Path, Path, dict[str, int]]:
    db: Any = b.LegacyStore(tmp_path / "msgstore.db")
    rows: dict[str, int] = {}
    add = db.message
    rows["L1"] = add(ALICE, "L1", ms(0), data="Hello legacy")
    rows["L2"] = add(ALICE, "L2", ms(60), from_me=True, data="Reply", status=13)
    rows["L3"] = add(
        ALICE, "L3", ms(120), data="quoting you", quoted_row_id=db.quote(ALICE, "L1", "Hello legacy")
    )
    rows["L4"] = add(
        ALICE, "L4", ms(180), media_wa_type="1", media_caption="photo", media_name="IMG-1.jpg",
        media_mime_type="image/jpeg", media_size=10, media_hash="aGFzaA==",
    )  # fmt: skip
    rows["L5"] = add(ALICE, "L5", ms(240), edit_version=7, status=0)
    rows["L6"] = add(ALICE, "L6", ms(300), media_wa_type="4", data="Zed Notary")
    db.vcard(rows["L6"], VCARD)
    rows["L7"] = add(ALICE, "L7", ms(360), media_wa_type="5", latitude=1.5, longitude=2.5)
    rows["L8"] = add(ALICE, "L8", ms(420), data="fwd", forwarded=1)
    rows["L0"] = add(ALICE, "L0", ms(-30), data="inserted late, sent first")
    db.chat(GROUP, "Old Deal")
    db.member(GROUP, ALICE)
    db.member(GROUP, "")  # the owner's own row has an empty jid
    rows["LG1"] = add(GROUP, "LG1", ms(0), from_me=True, status=6, media_size=11, data="Old Deal")
    rows["LG2"] = add(GROUP, "LG2", ms(60), remote_resource=ALICE, data="hi group")
    rows["LG3"] = add(GROUP, "LG3", ms(120), remote_resource="41799999999@s.whatsapp.net", data="stranger")
    rows["LG4"] = add(
        GROUP, "LG4", ms(180), status=6, media_size=4, remote_resource="41799999999@s.whatsapp.net"
    )
    db.conn.execute("INSERT INTO props (key, value) VALUES ('user_push_name', 'Custodian')")
    wa = b.make_wa_db(tmp_path / "wa.db", [(ALICE, "Alice Example", None)])
    return db.close(), wa, rows


def read(db: Path, wa: Path, **kwargs: Any) -> list[tuple[ParsedChat, list[ParsedMessage]]]:
    return list(read_database(db, wa_db=wa, **kwargs))


def test_detected_as_msgstore(legacy: tuple[Path, Path, dict[str, int]]) -> None:
    assert detect(legacy[0]) == "msgstore"


def test_chats(legacy: tuple[Path, Path, dict[str, int]]) -> None:
    chats = [chat for chat, _ in read(*legacy[:2])]
    assert chats == [
        ParsedChat(
            title="Alice Example",
            key=ALICE,
            participants=["Alice Example"],
            platform="android",
            source_format="msgstore",
        ),
        ParsedChat(
            title="Old Deal",
            key=GROUP,
            is_group=True,
            participants=["Alice Example", "+41799999999"],
            platform="android",
            source_format="msgstore",
        ),
    ]


def test_one_to_one(legacy: tuple[Path, Path, dict[str, int]]) -> None:
    db, wa, rows = legacy
    messages = read(db, wa)[0][1]
    assert [m.key for m in messages] == ["L0", "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8"]
    assert messages[1] == ParsedMessage(
        index=1,
        timestamp=T0,
        sender="Alice Example",
        text="Hello legacy",
        from_me=False,
        sender_id="41791111111",
        key="L1",
        line_start=rows["L1"],
        line_end=rows["L1"],
    )
    got = {m.key: m for m in messages}
    assert (got["L2"].sender, got["L2"].status, got["L2"].timestamp) == (
        "Custodian",
        "read",
        T0 + timedelta(seconds=60),
    )
    assert (got["L3"].reply_to_key, got["L3"].reply_to_text) == ("L1", "Hello legacy")
    assert (got["L4"].kind, got["L4"].text) == ("image", "photo")
    assert got["L4"].attachments == [
        ParsedAttachment(
            filename="IMG-1.jpg",
            omitted=True,
            mime="image/jpeg",
            size=10,
            sha256_b64="aGFzaA==",
            caption="photo",
        )
    ]
    assert (got["L5"].deleted, got["L5"].text) == (True, "")
    assert (got["L6"].kind, got["L6"].text) == ("contact", VCARD)
    assert (got["L7"].kind, got["L7"].latitude, got["L7"].longitude) == ("location", 1.5, 2.5)
    assert [k for k, m in got.items() if m.forwarded] == ["L8"]
    assert [m.anomalies for m in messages] == [[]] * 9


def test_group(legacy: tuple[Path, Path, dict[str, int]]) -> None:
    messages = read(*legacy[:2])[1][1]
    assert [(m.key, m.kind, m.system_event, m.sender, m.sender_id, m.text) for m in messages] == [
        ("LG1", "system", "group_created", "Custodian", None, 'created group "Old Deal"'),
        ("LG2", "text", None, "Alice Example", "41791111111", "hi group"),
        ("LG3", "text", None, "+41799999999", "41799999999", "stranger"),
        ("LG4", "system", "member_added", "+41799999999", "41799999999", "was added"),
    ]


def test_media_root_given_but_path_unknown(legacy: tuple[Path, Path, dict[str, int]], tmp_path: Path) -> None:
    db, wa, _ = legacy
    image = next(m for m in read(db, wa, media_root=tmp_path)[0][1] if m.key == "L4")
    assert image.anomalies == ["media file not found under media root: no local path recorded"]


def test_chat_filter(legacy: tuple[Path, Path, dict[str, int]]) -> None:
    assert [c.key for c, _ in read(*legacy[:2], chat="old deal")] == [GROUP]
    assert [c.key for c, _ in read(*legacy[:2], chat="+41791111111")] == [ALICE]
