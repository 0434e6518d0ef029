"""iOS ChatStorage.sqlite: chats, group members, media found / missing, events, quotes, reactions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.imports.devicedb import builders

from onfile.imports.devicedb import detect, read_database
from onfile.imports.records import ParsedAttachment, ParsedChat, ParsedMessage

b = builders
pb = b.pb_field
T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
ALICE = "41791111111@s.whatsapp.net"
BOB = "41792222222@s.whatsapp.net"
CAROL = "41793333333@s.whatsapp.net"
EVE = "41795555555@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
IMAGE = f"Media/{ALICE}/a/b/5c2f.jpg"
VIDEO = f"Media/{ALICE}/c/d/77e1.mp4"
SEP = "_$!<VCard-Separator>!$_"
CARD1 = "BEGIN:VCARD\nFN:Zed\nEND:VCARD"
CARD2 = "BEGIN:VCARD\nFN:Yan\nEND:VCARD"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def apple(seconds: float) -> float:
    return float(b.T0_APPLE + seconds)


@dataclass
class Evidence:
    db: Path
    media: Path
    rows: dict[str, int]


def _one_to_one(db: Any, rows: dict[str, int]) -> None:
    chat = db.chat(ALICE, "Alice Example")
    add = db.message
    rows["S1"] = add(chat, "S1", apple(0), text="Hello", sort=1, from_jid=ALICE)
    rows["S2"] = add(chat, "S2", apple(60), from_me=True, text="Hi", status=8, sort=2)
    rows["S3"] = add(chat, "S3", apple(120), mtype=1, sort=3)
    db.media(rows["S3"], IMAGE, ZVCARDSTRING="image/jpeg", ZFILESIZE=5, ZVCARDNAME="aGFzaA==", ZTITLE="photo")
    rows["S4"] = add(chat, "S4", apple(180), mtype=2, sort=4)
    db.media(rows["S4"], VIDEO, ZVCARDSTRING="video/mp4", ZFILESIZE=100)
    rows["S5"] = add(chat, "S5", apple(240), text="Re: that", sort=5, metadata=pb(5, "S2") + pb(6, ALICE))
    rows["S6"] = add(chat, "S6", apple(300), mtype=14, sort=6)
    rows["S7"] = add(chat, "S7", apple(360), text="fwd", flags=128, sort=7)
    rows["S8"] = add(chat, "S8", apple(420), mtype=99, text="x", sort=8)
    rows["S9"] = add(chat, "S9", apple(480), mtype=5, sort=9)
    db.media(rows["S9"], None, ZLATITUDE=46.9466, ZLONGITUDE=7.4444)
    rows["S10"] = add(chat, "S10", apple(540), mtype=4, text="Zed", sort=10)
    db.media(rows["S10"], None, ZVCARDSTRING=CARD1 + SEP + CARD2, ZVCARDNAME="Zed")
    rows["S11"] = add(chat, "S11", apple(600), mtype=10, event=1, sort=11)
    rows["S12"] = add(chat, "S12", apple(660), mtype=10, event=2, sort=12)
    others = pb(1, pb(2, ALICE) + pb(3, "👍") + pb(4, b.T0_MS + 5000))
    mine = pb(2, pb(2, "❤️") + pb(3, b.T0_MS + 6000))
    db.receipt(rows["S1"], pb(1, 3) + pb(7, others + mine))


def _group(db: Any, rows: dict[str, int]) -> None:
    chat = db.chat(GROUP, "Deal Team", group=True)
    alice, bob, carol = (
        db.member(chat, ALICE, "Alice Example"),
        db.member(chat, BOB, None),
        db.member(chat, CAROL, None),
    )
    db.push_name(BOB, "Bob Push")
    add = db.message
    rows["E1"] = add(chat, "E1", apple(0), mtype=6, event=12, member=alice, text="Deal Team", sort=10)
    rows["E2"] = add(chat, "E2", apple(1), mtype=6, event=2, member=bob, sort=20)
    rows["E3"] = add(chat, "E3", apple(60), text="Morning", member=alice, sort=30)
    rows["E4"] = add(chat, "E4", apple(120), text="Hi", member=bob, sort=40)
    rows["E5"] = add(chat, "E5", apple(180), text="Hey", member=carol, sort=50)
    rows["E6"] = add(chat, "E6", apple(240), mtype=6, event=1, text="Deal Team II", member=alice, sort=60)
    rows["E7"] = add(chat, "E7", apple(300), mtype=6, event=77, member=carol, sort=70)
    rows["E8"] = add(chat, "E8", apple(360), from_me=True, text="Noted", status=6, sort=80)
    rows["E2b"] = add(chat, "E2b", apple(30), text="inserted late", member=alice, sort=25)


@pytest.fixture
def evidence(tmp_path: Path) -> Evidence:
    folder = tmp_path / "evidence"
    folder.mkdir()
    container = tmp_path / "AppGroup"
    (container / "Message" / IMAGE).parent.mkdir(parents=True)
    (container / "Message" / IMAGE).write_bytes(b"jpeg!")
    db = b.IosStore(folder / "ChatStorage.sqlite")
    rows: dict[str, int] = {}
    _one_to_one(db, rows)
    _group(db, rows)
    eve = db.chat(EVE, "+41 79 555 55 55")
    db.push_name(EVE, "Eve Push")
    rows["V1"] = db.message(eve, "V1", apple(5), text="from Eve")
    rows["O1"] = db.message(None, "O1", apple(7), text="orphan")
    return Evidence(db.close(), container, rows)


def read(ev: Evidence, **kwargs: Any) -> list[tuple[ParsedChat, list[ParsedMessage]]]:
    return list(read_database(ev.db, media_root=ev.media, **kwargs))


def test_detect(evidence: Evidence) -> None:
    assert detect(evidence.db) == "chatstorage"


def test_chats(evidence: Evidence) -> None:
    chats = [chat for chat, _ in read(evidence)]
    assert [(c.key, c.title, c.is_group, c.participants) for c in chats] == [
        (ALICE, "Alice Example", False, ["Alice Example"]),
        (GROUP, "Deal Team", True, ["Alice Example", "Bob Push", "+41793333333"]),
        (EVE, "Eve Push", False, ["Eve Push"]),
        (None, "(messages without a chat)", False, []),
    ]
    assert {(c.platform, c.source_format) for c in chats} == {("ios", "chatstorage")}
    assert chats[3].anomalies == ["1 message row(s) refer to a chat that is not in the database"]
    assert [(m.key, m.anomalies) for m in read(evidence)[3][1]] == [("O1", ["chat session None not found"])]


def test_plain_messages_and_reactions(evidence: Evidence) -> None:
    messages = read(evidence)[0][1]
    assert [m.key for m in messages] == [f"S{n}" for n in range(1, 13)]
    r = evidence.rows
    assert messages[0] == ParsedMessage(
        index=0,
        timestamp=T0,
        sender="Alice Example",
        text="Hello",
        from_me=False,
        sender_id="41791111111",
        key="S1",
        reactions=[("Alice Example", "👍", at(5)), ("Me", "❤️", at(6))],
        line_start=r["S1"],
        line_end=r["S1"],
    )
    assert (messages[1].sender, messages[1].status, messages[1].timestamp) == ("Me", "read", at(60))


def test_media_found_in_media_folder_and_missing(evidence: Evidence) -> None:
    got = {m.key: m for m in read(evidence)[0][1]}
    assert (got["S3"].kind, got["S3"].text, got["S3"].anomalies) == ("image", "photo", [])
    assert got["S3"].attachments == [
        ParsedAttachment(
            filename="5c2f.jpg",
            path=str((evidence.media / "Message" / IMAGE).resolve()),
            mime="image/jpeg",
            size=5,
            sha256_b64="aGFzaA==",
            caption="photo",
        )
    ]
    assert got["S4"].attachments == [
        ParsedAttachment(filename="77e1.mp4", omitted=True, mime="video/mp4", size=100)
    ]
    assert got["S4"].anomalies == [f"media file not found under media root: {VIDEO}"]


def test_quote_revoke_forward_location_vcard(evidence: Evidence) -> None:
    got = {m.key: m for m in read(evidence)[0][1]}
    assert (got["S5"].reply_to_key, got["S5"].reply_to_text) == ("S2", "Hi")
    assert (got["S6"].deleted, got["S6"].text, got["S6"].kind) == (True, "", "text")
    assert [k for k, m in got.items() if m.forwarded] == ["S7"]
    assert (got["S9"].kind, got["S9"].latitude, got["S9"].longitude) == ("location", 46.9466, 7.4444)
    assert (got["S10"].kind, got["S10"].text) == ("contact", CARD1 + "\n" + CARD2)


def test_unknown_type_and_chat_events(evidence: Evidence) -> None:
    got = {m.key: m for m in read(evidence)[0][1]}
    assert (got["S8"].kind, got["S8"].text, got["S8"].anomalies) == (
        "unsupported",
        "x",
        ["unknown ZMESSAGETYPE 99"],
    )
    assert (got["S11"].kind, got["S11"].text, got["S11"].sender) == (
        "call",
        "missed voice call",
        "Alice Example",
    )
    assert (got["S12"].kind, got["S12"].system_event, got["S12"].text, got["S12"].sender) == (
        "system",
        "encryption_notice",
        "messages are end-to-end encrypted",
        None,
    )
    assert [k for k, m in got.items() if m.anomalies] == ["S4", "S8"]


def test_group(evidence: Evidence) -> None:
    messages = read(evidence)[1][1]
    assert [(m.key, m.kind, m.system_event, m.sender, m.sender_id, m.text) for m in messages] == [
        ("E1", "system", "group_created", "Alice Example", "41791111111", "group created"),
        ("E2", "system", "member_added", "Bob Push", "41792222222", "member joined"),
        ("E2b", "text", None, "Alice Example", "41791111111", "inserted late"),
        ("E3", "text", None, "Alice Example", "41791111111", "Morning"),
        ("E4", "text", None, "Bob Push", "41792222222", "Hi"),
        ("E5", "text", None, "+41793333333", "41793333333", "Hey"),
        (
            "E6",
            "system",
            "group_renamed",
            "Alice Example",
            "41791111111",
            'group name changed to "Deal Team II"',
        ),
        ("E7", "system", "other", "+41793333333", "41793333333", "group event (ZGROUPEVENTTYPE 77)"),
        ("E8", "text", None, "Me", None, "Noted"),
    ]
    assert {m.key: m.anomalies for m in messages if m.anomalies} == {
        "E7": ["unknown ZGROUPEVENTTYPE 77 for a group event"]
    }
    assert messages[-1].status == "delivered"
    assert messages[0].timestamp == T0


def test_chat_filter(evidence: Evidence) -> None:
    assert [c.key for c, _ in read(evidence, chat="eve")] == [EVE]
    assert [c.key for c, _ in read(evidence, chat="+41 79 111 11 11")] == [ALICE]
    assert [c.key for c, _ in read(evidence, chat=GROUP.upper())] == [GROUP]


def test_evidence_is_not_modified(evidence: Evidence) -> None:
    before = b.snapshot(evidence.db.parent)
    read(evidence)
    assert b.snapshot(evidence.db.parent) == before


def test_missing_optional_tables(tmp_path: Path) -> None:
    db: Any = b.IosStore(
        tmp_path / "ChatStorage.sqlite",
        skip=["ZWAMEDIAITEM", "ZWAGROUPMEMBER", "ZWAPROFILEPUSHNAME", "ZWAMESSAGEINFO"],
    )
    chat = db.chat(GROUP, "Deal Team", group=True)
    db.message(chat, "X1", apple(0), text="who?", from_jid=CAROL)
    db.message(chat, "X2", apple(1), mtype=1)
    [(parsed, messages)] = list(read_database(db.close()))
    assert parsed.participants == ["+41793333333"]
    assert [(m.sender, m.kind, m.anomalies) for m in messages] == [
        ("+41793333333", "text", []),
        (
            None,
            "image",
            ["media message without a ZWAMEDIAITEM row", "incoming group message without a sender"],
        ),
    ]


def test_removed_chat_and_undecodable_blobs(tmp_path: Path) -> None:
    db: Any = b.IosStore(tmp_path / "ChatStorage.sqlite")
    chat = db.chat(ALICE, "Alice Example", removed=1)
    db.message(chat, "B1", apple(0), text="a", metadata=b"\xff\xff\xff")
    one = db.message(chat, "B2", apple(1), text="b", metadata=pb(1, 7))  # parses, but holds no quote
    db.receipt(one, b"\x0a\x05ab")  # a length running past the end of the blob
    [(parsed, messages)] = list(read_database(db.close()))
    assert parsed.anomalies == ["chat is marked as removed on the device (ZREMOVED)"]
    assert [(m.reply_to_key, m.reactions, m.anomalies) for m in messages] == [
        (None, [], ["ZMETADATA could not be decoded"]),
        (None, [], ["ZRECEIPTINFO could not be decoded; reactions unknown"]),
    ]
