"""Android msgstore.db, current schema: chats, names, LIDs, content, system events, read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.imports.devicedb import builders

from onfile.imports.devicedb import read_database
from onfile.imports.records import ParsedAttachment, ParsedChat, ParsedMessage

b = builders
T0_MS, AndroidStore, make_wa_db, snapshot = b.T0_MS, b.AndroidStore, b.make_wa_db, b.snapshot

T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
ALICE = "41791111111@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
BOB_LID = "100100100100100@lid"
BOB = "41792222222@s.whatsapp.net"
CAROL = "41793333333@s.whatsapp.net"
VCARD = "BEGIN:VCARD\nVERSION:3.0\nFN:Zed Notary\nTEL;type=CELL:+41 79 444 44 44\nEND:VCARD"
IMAGE = "Media/WhatsApp Images/IMG-20231114-WA0001.jpg"
VOICE = "Media/WhatsApp Voice Notes/202346/PTT-20231114-WA0002.opus"
DOC = "Media/WhatsApp Documents/contract.pdf"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ms(seconds: float) -> int:
    return int(T0_MS + seconds * 1000)


@dataclass
class Evidence:
    db: Path
    wa: Path
    media: Path
    rows: dict[str, int]


def _one_to_one(db: Any, chat: int, rows: dict[str, int]) -> None:
    add = db.message
    rows["K1"] = add(chat, "K1", ms(0), text="Hello", sort_id=100)
    rows["K2"] = add(chat, "K2", ms(60), from_me=True, text="Hi Alice", status=13, sort_id=120)
    # Inserted later (higher _id) but displayed between K1 and K2: sort_id decides.
    rows["K1b"] = add(chat, "K1b", ms(30), text="Are you there?", sort_id=110, row_id=500)
    rows["K3"] = add(chat, "K3", ms(120), mtype=1, text="the contract", sort_id=130)
    db.media(rows["K3"], IMAGE, "image/jpeg", 5, file_hash="q83vEjRWeJA=")
    rows["K4"] = add(chat, "K4", ms(180), from_me=True, mtype=2, status=5, sort_id=140)
    db.media(rows["K4"], VOICE, "audio/ogg; codecs=opus", 1234)
    rows["K5"] = add(chat, "K5", ms(240), text="Thanks", sort_id=150)
    db.quote(rows["K5"], chat, "K2", "Hi Alice", from_me=True)
    rows["K6"] = add(chat, "K6", ms(300), from_me=True, text="Final wording", status=4, sort_id=160)
    db.edit(rows["K6"], "K6", ms(360))
    rows["K7"] = add(chat, "K7", ms(420), mtype=15, sort_id=170)
    db.revoke(rows["K7"], "K7-original", ms(430))
    rows["K8"] = add(chat, "K8", ms(480), mtype=5, sort_id=180)
    db.location(rows["K8"], 46.9466, 7.4444, "Bundeshaus")
    rows["K9"] = add(chat, "K9", ms(540), mtype=4, text="Zed Notary", sort_id=190)
    db.vcard(rows["K9"], VCARD)
    rows["K10"] = add(chat, "K10", ms(600), mtype=777, text="???", sort_id=200)
    rows["K11"] = add(chat, "K11", ms(660), text="FYI", sort_id=210)
    db.forwarded(rows["K11"])
    rows["K12"] = add(chat, "K12", ms(720), mtype=9, sort_id=220)
    db.media(rows["K12"], DOC, "application/pdf", 2048, media_name="Contract v2.pdf", media_caption="signed")
    rows["K13"] = add(chat, "K13", ms(780), from_me=True, mtype=7, sort_id=230)
    db.system(rows["K13"], 58, blocked=0)
    db.reaction(rows["K1"], chat, "👍", ms(10), from_me=True)
    db.reaction(rows["K2"], chat, "❤️", ms(70))
    db.reaction(rows["K2"], chat, "", ms(80))  # a withdrawn reaction


def _group(db: Any, chat: int, jids: dict[str, int], rows: dict[str, int]) -> None:
    add, alice, bob_lid, carol = db.message, jids["alice"], jids["bob_lid"], jids["carol"]
    rows["G1"] = add(chat, "G1", ms(0), from_me=True, mtype=7, text="Deal Team", sort_id=10)
    db.system(rows["G1"], 11)
    rows["G2"] = add(chat, "G2", ms(1), from_me=True, mtype=7, sort_id=20)
    db.system(rows["G2"], 12, [alice, bob_lid])
    rows["G3"] = add(chat, "G3", ms(60), sender=alice, text="Morning", sort_id=30)
    rows["G4"] = add(chat, "G4", ms(120), sender=bob_lid, text="Hi all", sort_id=40)
    rows["G5"] = add(chat, "G5", ms(180), sender=carol, text="Who is this?", sort_id=50)
    rows["G6"] = add(chat, "G6", ms(240), sender=carol, mtype=7, sort_id=60)
    db.system(rows["G6"], 5)
    rows["G7"] = add(chat, "G7", ms(300), sender=alice, mtype=7, text="Deal Team II", sort_id=70)
    db.system(rows["G7"], 1)
    rows["G8"] = add(chat, "G8", ms(360), mtype=7, sort_id=80)
    db.system(rows["G8"], 999)
    rows["G9"] = add(chat, "G9", ms(420), from_me=True, text="Noted", status=5, sort_id=90)
    rows["G10"] = add(chat, "G10", ms(480), sender=alice, mtype=7, sort_id=100)
    db.system(rows["G10"], 28, old=alice, new=jids["alice_new"])
    for member in (alice, bob_lid, carol):
        db.member(jids["group"], member)


@pytest.fixture
def evidence(tmp_path: Path) -> Evidence:
    folder = tmp_path / "evidence"
    folder.mkdir()
    media = tmp_path / "WhatsApp"
    (media / IMAGE).parent.mkdir(parents=True)
    (media / IMAGE).write_bytes(b"jpeg!")
    db = AndroidStore(folder / "msgstore.db")
    jids = {
        "alice": db.jid(ALICE),
        "group": db.jid(GROUP, 1),
        "bob_lid": db.jid(BOB_LID, 18),
        "bob": db.jid(BOB),
        "carol": db.jid(CAROL),
        "alice_new": db.jid("41790000000@s.whatsapp.net"),
    }
    db.map_lid(jids["bob_lid"], jids["bob"])
    db.prop("user_push_name", "Custodian")
    rows: dict[str, int] = {}
    _one_to_one(db, db.chat(jids["alice"]), rows)
    _group(db, db.chat(jids["group"], "Deal Team"), jids, rows)
    rows["L1"] = db.message(db.chat(jids["bob_lid"]), "L1", ms(5), text="from a lid chat", sort_id=1)
    rows["ORPHAN"] = db.message(99, "ORPHAN", ms(7), text="lost", sort_id=1)
    wa = make_wa_db(folder / "wa.db", [(ALICE, "Alice Example", "Ali"), (BOB, None, "Bob B")])
    return Evidence(db.close(), wa, media, rows)


def read(ev: Evidence, **kwargs: object) -> list[tuple[ParsedChat, list[ParsedMessage]]]:
    options: dict[str, object] = {"wa_db": ev.wa, "media_root": ev.media} | kwargs
    return list(read_database(ev.db, **options))  # type: ignore[arg-type]


def by_key(messages: list[ParsedMessage]) -> dict[str | None, ParsedMessage]:
    return {m.key: m for m in messages}


def test_chats(evidence: Evidence) -> None:
    chats = [chat for chat, _ in read(evidence)]
    assert [(c.key, c.title, c.is_group, c.participants) for c in chats] == [
        (ALICE, "Alice Example", False, ["Alice Example"]),
        (GROUP, "Deal Team", True, ["Alice Example", "Bob B", "+41793333333"]),
        (BOB_LID, "Bob B", False, ["Bob B"]),
        (None, "(messages without a chat)", False, []),
    ]
    assert {(c.platform, c.source_format) for c in chats} == {("android", "msgstore")}
    assert [c.anomalies for c in chats[:3]] == [[], [], []]
    assert chats[3].anomalies == ["1 message row(s) refer to a chat that is not in the database"]


def test_one_to_one_order_and_plain_messages(evidence: Evidence) -> None:
    messages = read(evidence)[0][1]
    assert [m.key for m in messages] == [f"K{n}" for n in ["1", "1b", *map(str, range(2, 14))]]
    assert [m.index for m in messages] == list(range(14))
    r = evidence.rows
    assert messages[0] == ParsedMessage(
        index=0,
        timestamp=T0,
        sender="Alice Example",
        text="Hello",
        from_me=False,
        sender_id="41791111111",
        key="K1",
        reactions=[("Custodian", "👍", at(10))],
        line_start=r["K1"],
        line_end=r["K1"],
    )
    assert messages[2] == ParsedMessage(
        index=2,
        timestamp=at(60),
        sender="Custodian",
        text="Hi Alice",
        from_me=True,
        key="K2",
        status="read",
        reactions=[("Alice Example", "❤️", at(70))],
        line_start=r["K2"],
        line_end=r["K2"],
    )
    assert messages[1].line_start == 500


def test_media_found_and_missing(evidence: Evidence) -> None:
    messages = by_key(read(evidence)[0][1])
    image = messages["K3"]
    assert (image.kind, image.text, image.anomalies) == ("image", "the contract", [])
    assert image.attachments == [
        ParsedAttachment(
            filename="IMG-20231114-WA0001.jpg",
            path=str((evidence.media / IMAGE).resolve()),
            mime="image/jpeg",
            size=5,
            sha256_b64="q83vEjRWeJA=",
            caption="the contract",
        )
    ]
    voice = messages["K4"]
    assert (voice.kind, voice.text, voice.status, voice.sender) == ("voice", "", "delivered", "Custodian")
    assert voice.attachments == [
        ParsedAttachment(
            filename="PTT-20231114-WA0002.opus", omitted=True, mime="audio/ogg; codecs=opus", size=1234
        )
    ]
    assert voice.anomalies == [f"media file not found under media root: {VOICE}"]
    document = messages["K12"]
    assert (document.kind, document.text) == ("document", "signed")
    assert document.attachments == [
        ParsedAttachment(
            filename="Contract v2.pdf", omitted=True, mime="application/pdf", size=2048, caption="signed"
        )
    ]


def test_media_without_media_root_is_omitted_quietly(evidence: Evidence) -> None:
    messages = by_key(next(iter(read_database(evidence.db, wa_db=evidence.wa)))[1])
    assert messages["K3"].attachments[0].omitted is True
    assert messages["K3"].attachments[0].path is None
    assert messages["K3"].anomalies == []


def test_quote_edit_revoke_forward(evidence: Evidence) -> None:
    messages = by_key(read(evidence)[0][1])
    reply = messages["K5"]
    assert (reply.reply_to_key, reply.reply_to_text, reply.text) == ("K2", "Hi Alice", "Thanks")
    edited = messages["K6"]
    # Android keeps only the final text of an edited message; that is not an anomaly.
    assert (edited.edited, edited.text, edited.status, edited.anomalies) == (
        True,
        "Final wording",
        "sent",
        [],
    )
    revoked = messages["K7"]
    assert (revoked.deleted, revoked.text, revoked.kind, revoked.sender) == (
        True,
        "",
        "text",
        "Alice Example",
    )
    assert revoked.anomalies == []
    assert messages["K11"].forwarded is True
    assert [m.key for m in messages.values() if m.forwarded] == ["K11"]
    assert [m.key for m in messages.values() if m.edited] == ["K6"]


def test_location_vcard_unknown_type_and_block(evidence: Evidence) -> None:
    messages = by_key(read(evidence)[0][1])
    location = messages["K8"]
    assert (location.kind, location.latitude, location.longitude, location.text) == (
        "location",
        46.9466,
        7.4444,
        "",
    )
    assert (messages["K9"].kind, messages["K9"].text) == ("contact", VCARD)
    unknown = messages["K10"]
    assert (unknown.kind, unknown.text, unknown.anomalies) == (
        "unsupported",
        "???",
        ["unknown message_type 777"],
    )
    unblock = messages["K13"]
    assert (unblock.kind, unblock.system_event, unblock.text, unblock.sender, unblock.status) == (
        "system",
        "unblocked",
        "unblocked this contact",
        "Custodian",
        None,
    )


def test_group_senders_and_lid_mapping(evidence: Evidence) -> None:
    messages = by_key(read(evidence)[1][1])
    senders = {k: (m.sender, m.sender_id, m.from_me) for k, m in messages.items() if m.kind == "text"}
    assert senders == {
        "G3": ("Alice Example", "41791111111", False),
        "G4": ("Bob B", "41792222222", False),  # lid 100100100100100 → phone via jid_map
        "G5": ("+41793333333", "41793333333", False),  # not in wa.db
        "G9": ("Custodian", None, True),
    }
    assert messages["G9"].status == "delivered"


def test_group_system_events(evidence: Evidence) -> None:
    messages = read(evidence)[1][1]
    events = [(m.key, m.system_event, m.text, m.sender) for m in messages if m.kind == "system"]
    assert events == [
        ("G1", "group_created", 'created group "Deal Team"', "Custodian"),
        ("G2", "member_added", "added Alice Example, Bob B", "Custodian"),
        ("G6", "member_left", "left", "+41793333333"),
        ("G7", "group_renamed", 'changed the group name to "Deal Team II"', "Alice Example"),
        ("G8", "other", "system event (action_type 999)", None),
        (
            "G10",
            "number_changed",
            "changed their phone number from 41791111111 to 41790000000",
            "Alice Example",
        ),
    ]
    anomalies = {m.key: m.anomalies for m in messages if m.anomalies}
    assert anomalies == {"G8": ["unknown system action_type 999"]}


def test_lid_chat_and_orphan(evidence: Evidence) -> None:
    chats = read(evidence)
    lid_messages = chats[2][1]
    assert [(m.text, m.sender, m.sender_id) for m in lid_messages] == [
        ("from a lid chat", "Bob B", "41792222222")
    ]
    orphan_messages = chats[3][1]
    assert [(m.key, m.text, m.anomalies) for m in orphan_messages] == [
        ("ORPHAN", "lost", ["chat row 99 not found"])
    ]


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        (GROUP, [GROUP]),
        ("+41 79 111 11 11", [ALICE]),
        ("41792222222", [BOB_LID]),  # the phone number behind a LID chat
        ("deal", [GROUP]),
        ("ALICE", [ALICE]),
        ("nobody", []),
    ],
)
def test_chat_filter(evidence: Evidence, query: str, keys: list[str]) -> None:
    assert [chat.key for chat, _ in read(evidence, chat=query)] == keys


def test_names_without_wa_db(evidence: Evidence) -> None:
    chats = list(read_database(evidence.db))
    assert [c.title for c, _ in chats[:3]] == ["+41791111111", "Deal Team", "+41792222222"]
    assert chats[1][1][2].sender == "+41791111111"


def test_unreadable_wa_db_is_noted(evidence: Evidence, tmp_path: Path) -> None:
    garbage = tmp_path / "wa.db"
    garbage.write_bytes(b"not a database at all")
    chat = next(iter(read_database(evidence.db, wa_db=garbage)))[0]
    assert chat.anomalies == [
        "wa.db not used: wa.db is not a SQLite database (decrypted msgstore.db or ChatStorage.sqlite)"
    ]


def test_evidence_is_not_modified(evidence: Evidence) -> None:
    before = snapshot(evidence.db.parent)
    assert sorted(before) == ["msgstore.db", "wa.db"]
    for _chat, messages in read(evidence):
        assert messages is not None
    list(read_database(evidence.db, wa_db=evidence.wa, chat="deal"))
    assert snapshot(evidence.db.parent) == before


def test_wal_next_to_database_is_reported(evidence: Evidence) -> None:
    wal = evidence.db.with_name("msgstore.db-wal")
    wal.write_bytes(b"\x00" * 32)
    chats = [chat for chat, _ in read(evidence)]
    note = (
        "msgstore.db-wal (32 bytes) was not read: the database is opened immutable so the evidence is "
        "never modified; checkpoint a working copy to include recent changes"
    )
    assert all(c.anomalies[-1] == note for c in chats)
    assert wal.read_bytes() == b"\x00" * 32


def test_optional_tables_missing(tmp_path: Path) -> None:
    required = set(b.ANDROID_REQUIRED)
    db = AndroidStore(tmp_path / "msgstore.db", skip=[t for t in b.ANDROID_TABLES if t not in required])
    chat = db.chat(db.jid(ALICE))
    text = db.message(chat, "A1", ms(0), text="plain")
    image = db.message(chat, "A2", ms(1), mtype=1, text="caption only")
    system = db.message(chat, "A3", ms(2), mtype=7)
    [(parsed, messages)] = list(read_database(db.close()))
    assert parsed.title == "+41791111111"
    assert [(m.key, m.kind, m.text, m.line_start) for m in messages] == [
        ("A1", "text", "plain", text),
        ("A2", "image", "caption only", image),
        ("A3", "system", "system event (no action_type)", system),
    ]
    assert messages[1].attachments == [ParsedAttachment(filename=None, omitted=True, caption="caption only")]
    assert messages[1].anomalies == ["media message without a message_media row"]
    assert messages[2].anomalies == ["system message without a message_system row"]
    assert messages[0].sender == "+41791111111"


def test_calls_timer_and_undecrypted(tmp_path: Path) -> None:
    db = AndroidStore(tmp_path / "msgstore.db")
    chat = db.chat(db.jid(ALICE))
    db.message(chat, "C1", ms(0), mtype=10)
    db.message(chat, "C2", ms(1), from_me=True, mtype=90)
    db.message(chat, "C3", ms(2), from_me=True, mtype=36)
    db.message(chat, "C4", ms(3), mtype=11)
    db.message(chat, "C5", 0, text="no time")
    [(_chat, messages)] = list(read_database(db.close()))
    assert [(m.key, m.kind, m.system_event, m.text, m.sender) for m in messages] == [
        ("C5", "text", None, "no time", "+41791111111"),
        ("C1", "call", None, "missed call", "+41791111111"),
        ("C2", "call", None, "call", "Me"),
        ("C3", "system", "disappearing_timer", "disappearing-message timer set", "Me"),
        ("C4", "unsupported", None, "", "+41791111111"),
    ]
    assert messages[0].timestamp == datetime(1970, 1, 1, tzinfo=UTC)
    assert messages[0].anomalies == ["missing or invalid timestamp 0; shown as 1970-01-01"]
    assert messages[4].anomalies == ["message was never decrypted on the device ('waiting for this message')"]
