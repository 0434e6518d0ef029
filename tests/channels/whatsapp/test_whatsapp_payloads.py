"""``split_webhook``: every fixture gives exactly the expected items; identities are stable,
distinct and the same for duplicates; malformed input never raises anything but
``WebhookFormatError`` (hypothesis fuzz over mutated fixtures and random bytes).

Fixtures are real-shaped payloads (whatsapp.md A5–A7, C2–C4; the three A7 examples are
verbatim). Pure Python: no Django, no database.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onfile.channels.whatsapp.payloads import MAX_IDENTITY, WebhookFormatError, WebhookItem, split_webhook

FIXTURES = Path(__file__).parent / "fixtures"
PNID, PNID2, PNID3 = "106540352242922", "106540352242933", "106540352242944"
WABA, WABA2 = "102290129340398", "102290129340411"
JANE, ANA, JURGEN = "16505551234", "5511987654321", "4915112345678"
BSUID = "US.13491208655302741918"
T0 = 1767261600
GROUP = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD"
A7_IMAGE = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFDNBRkQ0QjYxAA=="
A7_DELIVERED = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3MTE5MjVB"
A7_FAILED = "wamid.HBgLMTY1MDU1NTk5ODgVAgARGBI0QUQ2MjA4"
A7_ECHO = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBIyNDlB"


def w(tag: str) -> str:
    """The wamids of the generated fixtures."""
    return f"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQT{tag}AA=="


def mid(tag: str, pnid: str = PNID) -> str:
    return f"wamid:{pnid}:{w(tag)}"


def sid(tag: str, status: str, offset: int, recipient: str = JANE) -> str:
    return f"status:{w(tag)}:{status}:{T0 + offset}:{recipient}"


def at(offset: int) -> datetime:
    return datetime.fromtimestamp(T0 + offset, tz=UTC)


def load(name: str) -> list[WebhookItem]:
    return split_webhook((FIXTURES / f"{name}.json").read_bytes())


def one(name: str) -> WebhookItem:
    items = load(name)
    assert len(items) == 1, [(i.kind, i.identity) for i in items]
    return items[0]


# (kind, identity) of every item of every fixture; "hash:<kind>" stands for a hashed identity.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "text": [("message", mid("TEXT"))],
    "image_reply_bsuid": [("message", f"wamid:{PNID}:{A7_IMAGE}")],
    "video": [("message", mid("VIDEO"))],
    "audio_voice": [("message", mid("VOICE"))],
    "document": [("message", mid("DOC"))],
    "sticker": [("message", mid("STICKER"))],
    "location_named": [("message", mid("LOCNAMED"))],
    "location_current": [("message", mid("LOCCUR"))],
    "contacts": [("message", mid("CARDS"))],
    "interactive_button_reply": [("message", mid("BTNREPLY"))],
    "interactive_list_reply": [("message", mid("LISTREPLY"))],
    "interactive_nfm_reply": [("message", mid("NFMREPLY"))],
    "button": [("message", mid("TPLBTN"))],
    "reaction": [("message", mid("REACT"))],
    "reaction_removed": [("message", mid("UNREACT1")), ("message", mid("UNREACT2"))],
    "order": [("message", mid("ORDER"))],
    "system_user_changed_number": [("message", mid("SYSNUM"))],
    "system_customer_identity_changed": [("message", mid("SYSID"))],
    "unsupported_131051": [("message", mid("UNSUP"))],
    "unsupported_edit": [("message", mid("UNSUPEDIT"))],
    "revoke": [("message", mid("REVOKE"))],
    "edit": [("message", mid("EDIT"))],
    "request_welcome": [("message", mid("WELCOME"))],
    "referral": [("message", mid("REFERRAL"))],
    "forwarded": [("message", mid("FWD"))],
    "frequently_forwarded": [("message", mid("FWDMANY"))],
    "product_inquiry": [("message", mid("PRODQ"))],
    "bsuid_only": [("message", mid("BSUID")), ("status", sid("TOBSUID", "delivered", 181, BSUID))],
    "statuses_sent_pricing": [("status", sid("OUT1", "sent", 200)), ("status", sid("OUT2", "sent", 201, ANA))],
    "statuses_delivered_failed": [("status", f"status:{A7_DELIVERED}:delivered:1767262001:16505551234"),
                                  ("status", f"status:{A7_FAILED}:failed:1767262005:16505559988")],
    "status_read": [("status", sid("OUT1", "read", 260))],
    "status_played": [("status", sid("OUTVOICE", "played", 270))],
    "status_group": [("status", sid("GROUPOUT", "read", 280, f"{GROUP}/{JANE}")),
                     ("status", sid("GROUPOUT", "read", 280, f"{GROUP}/{ANA}"))],
    "errors_131000": [("message", mid("NOCONTENT")), ("error", "hash:error")],
    "echo_text": [("echo", mid("ECHOTEXT"))],
    "echo_document": [("echo", f"wamid:{PNID}:{A7_ECHO}")],
    "echo_revoke": [("echo", mid("ECHOREVOKE"))],
    "echo_edit": [("echo", mid("ECHOEDIT"))],
    "history_chunk": [("history_message", mid("HIST1")), ("history_message", mid("HIST2")),
                      ("history_message", mid("HIST3") + ":placeholder"), ("history_message", mid("HIST4")),
                      ("history_message", mid("HIST5"))],
    "history_media": [("history_message", mid("HIST3"))],
    "history_declined": [("history_error", "hash:history_error")],
    "history_declined_envelope": [("history_error", "hash:history_error")],
    "state_sync": [("state_sync", "hash:state_sync"), ("state_sync", "hash:state_sync")],
    "batch": [("message", mid("B1")), ("message", mid("B2")), ("message", mid("B3")),
              ("status", sid("BOUT1", "sent", 503)), ("status", sid("BOUT1", "delivered", 504)),
              ("message", mid("B4", PNID2)), ("status", sid("BOUT2", "read", 506, JURGEN)),
              ("message", mid("B5", PNID3))],
    "unknown_field": [("unknown", "hash:unknown"), ("unknown", "hash:unknown"), ("message", mid("POLL")),
                      ("unknown", "hash:unknown")],
}


def test_every_fixture_has_expectations() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(EXPECTED)


def test_fixtures_escape_non_ascii_as_meta_does() -> None:
    for path in FIXTURES.glob("*.json"):
        assert path.read_bytes().isascii(), path.name
    assert b"\\u00fc" in (FIXTURES / "text.json").read_bytes()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_splits_to_expected_items(name: str) -> None:
    items = load(name)
    got = [(i.kind, i.identity) for i in items]
    want = EXPECTED[name]
    assert len(got) == len(want), got
    for (kind, identity), (want_kind, want_identity) in zip(got, want, strict=True):
        assert kind == want_kind
        if want_identity.startswith("hash:"):
            prefix = want_identity.removeprefix("hash:")
            assert identity.startswith(f"{prefix}:") and len(identity) == len(prefix) + 65, identity
        else:
            assert identity == want_identity
    for item in items:
        assert item.raw is not None
        assert len(item.identity) <= MAX_IDENTITY
    if name not in ("unknown_field", "errors_131000", "history_declined"):
        assert all(not i.problems for i in items), [i.problems for i in items]


# ---- messages ----------------------------------------------------------------------------------------


def test_text() -> None:
    it = one("text")
    m = it.message
    assert m is not None
    assert (it.field, it.waba_id, it.phone_number_id, it.display_phone_number) == (
        "messages", WABA, PNID, "15550783881")
    assert (m.wamid, m.type, m.timestamp, m.from_wa_id, m.from_user_id) == (w("TEXT"), "text", at(0), JANE, None)
    assert m.text == "Hello, is the contract ready? Gr\u00fc\u00dfe \U0001f642"
    assert m.profile_name == "Jane Doe" and it.contact == {"profile": {"name": "Jane Doe"}, "wa_id": JANE}
    assert m.context is None and m.media is None and m.errors == []
    assert it.raw["text"] == {"body": m.text}  # the item's own JSON, as received


def test_a7_image_reply_from_user_with_bsuid() -> None:
    it = one("image_reply_bsuid")
    m = it.message
    assert m is not None and m.media is not None and m.context is not None
    assert m.timestamp == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert m.text == m.media.caption == "Signed copy attached"
    assert m.media.kind == "image" and m.media.id == "1479537139650973" and m.media.mime_type == "image/jpeg"
    assert m.media.sha256 == "3f9d94d399fa61c191bc1d4ca71375a035cd9b9f5b1128e1f0963a415c16b0cc"
    assert m.media.url is not None and m.media.url.startswith("https://lookaside.fbsbx.com/")
    assert m.context.reply_to == "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjcxQjI4NzQA"
    assert m.context.reply_to_from == "15550783881" and not m.context.forwarded
    assert it.contact is not None and it.contact["user_id"] == "BR.7730012946610043"
    assert m.profile_name == "Ana Souza" and m.from_wa_id == ANA


@pytest.mark.parametrize(("name", "kind", "caption", "extra"), [
    ("video", "video", "Site visit", {"mime_type": "video/mp4"}),
    ("audio_voice", "audio", None, {"voice": True, "mime_type": "audio/ogg; codecs=opus"}),
    ("document", "document", "Passport scan", {"filename": "passport-jane.pdf", "mime_type": "application/pdf"}),
    ("sticker", "sticker", None, {"animated": True, "mime_type": "image/webp"}),
])
def test_media(name: str, kind: str, caption: str | None, extra: dict[str, Any]) -> None:
    m = one(name).message
    assert m is not None and m.media is not None
    assert m.type == kind and m.media.kind == kind and m.media.id
    assert m.media.caption == caption and m.text == caption
    for key, value in extra.items():
        assert getattr(m.media, key) == value
    assert m.media.sha256 == one(name).raw[kind]["sha256"]  # as given: base64 here


def test_locations() -> None:
    named = one("location_named").message
    current = one("location_current").message
    assert named is not None and current is not None
    assert named.text == "Law Courts, Strand, London WC2A 2LL"
    assert named.location is not None and named.location["latitude"] == 51.5033635
    assert current.text == "12.25089, 43.90539"  # a current-location share has no name or address
    assert current.context is not None and current.context.forwarded


def test_contacts_message() -> None:
    m = one("contacts").message
    assert m is not None and m.contacts is not None
    assert m.text == "Jo\u00e3o Silva, Monica"  # formatted_name, else first and last name
    assert m.contacts[0]["phones"][0]["wa_id"] == ANA and len(m.contacts) == 2


@pytest.mark.parametrize(("name", "text", "itype"), [
    ("interactive_button_reply", "Yes, confirm", "button_reply"),
    ("interactive_list_reply", "Tuesday 10:00", "list_reply"),
    ("interactive_nfm_reply", "Sent", "nfm_reply"),
])
def test_interactive_replies(name: str, text: str, itype: str) -> None:
    m = one(name).message
    assert m is not None and m.interactive is not None and m.context is not None
    assert m.text == text and m.interactive["type"] == itype
    assert m.context.reply_to == w("ASKED")


def test_nfm_reply_keeps_response_json() -> None:
    m = one("interactive_nfm_reply").message
    assert m is not None and m.interactive is not None
    assert json.loads(m.interactive["nfm_reply"]["response_json"])["flow_token"] == "kyc-77"


def test_template_button() -> None:
    m = one("button").message
    assert m is not None and m.button == {"payload": "ACK", "text": "Acknowledge"}
    assert m.text == "Acknowledge"


def test_reactions() -> None:
    m = one("reaction").message
    assert m is not None and m.reaction == {"message_id": w("TEXT"), "emoji": "\U0001f44d"}
    assert m.text == "\U0001f44d"
    removed = [i.message for i in load("reaction_removed")]
    assert [r.reaction for r in removed if r] == [{"message_id": w("TEXT"), "emoji": None},
                                                  {"message_id": w("TEXT"), "emoji": ""}]
    assert all(r is not None and r.text is None for r in removed)


def test_order() -> None:
    m = one("order").message
    assert m is not None and m.order is not None
    assert m.order["catalog_id"] == "354160437058781"
    assert m.text == "2 \u00d7 CONSULT-1H at 150 EUR; 1 \u00d7 NOTARY at 80.5 EUR"  # "text" was empty


def test_system_messages() -> None:
    it = one("system_user_changed_number")
    m = it.message
    assert m is not None and m.system is not None
    assert m.system["type"] == "user_changed_number" and m.system["wa_id"] == "16505550000"
    assert m.text == "User A changed from 16505551234 to 16505550000"
    assert it.contact is None and m.profile_name is None  # arrives without contacts
    ident = one("system_customer_identity_changed").message
    assert ident is not None and ident.system is not None
    assert ident.system["type"] == "customer_identity_changed"
    assert ident.identity_change == {"acknowledged": True, "created_timestamp": str(T0 + 111), "hash": "Sjvjlx8G6Z0="}


def test_unsupported() -> None:
    m = one("unsupported_131051").message
    assert m is not None and m.unsupported_type == "poll_creation" and m.text is None
    assert [e["code"] for e in m.errors] == [131051]
    edit = one("unsupported_edit").message
    assert edit is not None and edit.unsupported_type == "edit" and edit.edit_of is None


def test_revoke_and_edit() -> None:
    revoke = one("revoke")
    assert revoke.message is not None and revoke.message.revoke_of == w("TEXT")
    assert revoke.contact is not None and revoke.contact["user_id"] == BSUID
    edit = one("edit").message
    assert edit is not None and edit.edited is not None and edit.edited.context is not None
    assert edit.edit_of == w("TEXT") and edit.type == "edit"
    assert edit.edited.type == "text" and edit.edited.wamid is None and edit.edited.timestamp is None
    assert edit.text == edit.edited.text == "Hello, is the contract ready yet?"
    assert edit.edited.context.reply_to == w("ASKED")


def test_request_welcome_referral_forwarding_and_product() -> None:
    welcome = one("request_welcome").message
    assert welcome is not None and welcome.type == "request_welcome" and welcome.text is None
    referral = one("referral").message
    assert referral is not None and referral.referral is not None
    assert referral.referral["source_type"] == "ad" and referral.text == "I saw your ad about probate"
    fwd = one("forwarded").message
    many = one("frequently_forwarded").message
    assert fwd is not None and fwd.context is not None and many is not None and many.context is not None
    assert (fwd.context.forwarded, fwd.context.frequently_forwarded) == (True, False)
    assert (many.context.forwarded, many.context.frequently_forwarded) == (True, True)
    product = one("product_inquiry").message
    assert product is not None and product.context is not None
    assert product.context.referred_product == {"catalog_id": "354160437058781", "product_retailer_id": "CONSULT-1H"}


def test_bsuid_only_user() -> None:
    message, status = load("bsuid_only")
    m = message.message
    assert m is not None
    assert (m.from_wa_id, m.from_user_id, m.profile_name, m.username) == (None, BSUID, "M\u00e1rta", "@marta.k")
    assert message.contact is not None and message.contact["parent_user_id"] == "US.ENT.11815799212886844830"
    assert status.status is not None and status.status.recipient_user_id == BSUID
    assert status.status.recipient_id is None and status.contact is None  # its change has no contacts


def test_bsuid_in_from_is_taken_as_a_user_id() -> None:
    doc = json.loads((FIXTURES / "text.json").read_bytes())
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["from"] = BSUID
    m = split_webhook(json.dumps(doc).encode())[0].message
    assert m is not None and (m.from_wa_id, m.from_user_id) == (None, BSUID)


# ---- statuses, errors ----------------------------------------------------------------------------------


def test_statuses_with_pricing_and_conversation() -> None:
    sent, free = (i.status for i in load("statuses_sent_pricing"))
    assert sent is not None and free is not None
    assert (sent.wamid, sent.status, sent.timestamp, sent.recipient_id) == (w("OUT1"), "sent", at(200), JANE)
    assert sent.pricing == {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"}
    assert sent.biz_opaque_callback_data == "outbox:7f3c2a" and sent.conversation is None
    assert free.conversation is not None and free.conversation["origin"]["type"] == "referral_conversion"


def test_a7_delivered_and_failed() -> None:
    delivered, failed = load("statuses_delivered_failed")
    assert delivered.status is not None and failed.status is not None
    assert delivered.status.biz_opaque_callback_data == "case-4471"
    assert delivered.status.pricing is not None and delivered.status.pricing["type"] == "free_customer_service"
    assert failed.status.status == "failed" and [e["code"] for e in failed.status.errors] == [131047]
    assert failed.message is None and failed.error is None


def test_read_played_and_group_statuses() -> None:
    read = one("status_read").status
    played = one("status_played").status
    assert read is not None and read.status == "read" and played is not None and played.status == "played"
    first, second = (i.status for i in load("status_group"))
    assert first is not None and second is not None
    assert first.recipient_type == "group" and first.recipient_id == GROUP
    assert (first.recipient_participant_id, second.recipient_participant_id) == (JANE, ANA)


def test_value_level_error_with_contentless_interactive() -> None:
    message, error = load("errors_131000")
    assert message.message is not None and message.message.type == "interactive" and message.message.text is None
    assert message.problems == ["message of type 'interactive' has no 'interactive' content"]
    assert error.error is not None and error.error["code"] == 131000 and error.raw is error.error
    assert error.phone_number_id == PNID and error.message is None


# ---- coexistence ---------------------------------------------------------------------------------------


def test_echoes() -> None:
    text = one("echo_text")
    assert text.field == "smb_message_echoes" and text.message is not None
    assert (text.message.from_wa_id, text.message.to) == ("15550783881", JANE)
    assert text.message.text == "We will send the draft tomorrow \u2013 Kind regards"
    assert text.message.profile_name == "Jane Doe"  # the contact is the user, i.e. the recipient
    doc = one("echo_document").message
    assert doc is not None and doc.media is not None
    assert (doc.media.filename, doc.media.sha256, doc.text) == (
        "quote-2026-014.pdf", "\u2026", "Our quote as discussed")
    revoke = one("echo_revoke").message
    edit = one("echo_edit").message
    assert revoke is not None and revoke.revoke_of == w("ECHOTEXT")
    assert edit is not None and edit.edit_of == w("ECHOTEXT")
    assert edit.edited is not None and edit.edited.text == "We will send the draft on Monday \u2013 Kind regards"


def test_history_chunk() -> None:
    items = load("history_chunk")
    assert all(i.field == "history" for i in items)
    infos = [i.history for i in items]
    assert infos[0] == {"phase": 1, "chunk_order": 2, "progress": 55, "thread_id": JANE, "status": "READ"}
    assert infos[1] is not None and infos[1]["status"] == "DELIVERED"
    assert infos[3] is not None and infos[3]["thread_id"] == ANA
    business = items[1].message
    placeholder = items[2].message
    assert business is not None and business.to == JANE and business.history_status == "DELIVERED"
    assert placeholder is not None and placeholder.type == "media_placeholder" and placeholder.media is None
    received = items[4].message
    assert received is not None and received.text == "Obrigada, recebido \u2714" and received.to is None


def test_history_media_follow_up_is_not_a_duplicate_of_its_placeholder() -> None:
    later = one("history_media")
    placeholder = load("history_chunk")[2]
    assert later.message is not None and placeholder.message is not None
    assert later.message.wamid == placeholder.message.wamid
    assert later.identity != placeholder.identity
    assert later.history is not None and later.history["progress"] == 100
    assert later.message.media is not None and later.message.media.id == "1479537139650999"


def test_history_declined_in_both_forms() -> None:
    bare = one("history_declined")
    wrapped = one("history_declined_envelope")
    for it in (bare, wrapped):
        assert it.kind == "history_error" and it.field == "history" and it.phone_number_id == PNID
        assert it.error is not None and it.error["code"] == 2593109
    assert bare.waba_id is None and bare.problems == ["no envelope: the body is a bare value"]
    assert wrapped.history == {"phase": 0, "chunk_order": 0, "progress": 0, "thread_id": None, "status": None}
    assert bare.identity == wrapped.identity  # the same event, however Meta wrapped it


def test_bare_change_form() -> None:
    doc = json.loads((FIXTURES / "history_declined_envelope.json").read_bytes())
    change = doc["entry"][0]["changes"][0]
    it = split_webhook(json.dumps(change).encode())
    assert [i.kind for i in it] == ["history_error"]
    assert it[0].problems == ["no envelope: the body is a bare change"]


def test_state_sync() -> None:
    add, remove = load("state_sync")
    assert add.field == "smb_app_state_sync" and add.state_sync is not None and remove.state_sync is not None
    assert (add.state_sync.action, add.state_sync.full_name, add.state_sync.phone_number) == (
        "add", "Jo\u00e3o Silva", ANA)
    assert add.state_sync.timestamp == at(400)
    assert (remove.state_sync.action, remove.state_sync.full_name) == ("remove", None)


def test_batch_keeps_each_item_with_its_entry_and_number() -> None:
    items = load("batch")
    assert [(i.waba_id, i.phone_number_id) for i in items] == [(WABA, PNID)] * 5 + [(WABA, PNID2)] + [
        (WABA2, PNID3)] * 2
    names = [i.message.profile_name for i in items if i.message]
    assert names == ["Jane Doe", "Ana Souza", "Jane Doe", "J\u00fcrgen M\u00fcller", "J\u00fcrgen M\u00fcller"]
    assert items[5].display_phone_number == "15550783882"


def test_unknown_fields_and_arrays_are_kept() -> None:
    account, prefs, message, polls = load("unknown_field")
    assert account.field == "account_update" and account.raw["value"]["event"] == "VERIFIED_ACCOUNT"
    assert account.problems == ["unknown field 'account_update'"]
    assert prefs.field == "user_preferences" and prefs.phone_number_id == PNID
    assert message.kind == "message"
    assert polls.raw == {"polls": [{"id": "poll-1", "question": "Which day?"}]}


# ---- identities ----------------------------------------------------------------------------------------


def test_identities_are_distinct_across_fixtures() -> None:
    seen: dict[str, str] = {}
    for name in sorted(EXPECTED):
        for item in load(name):
            if item.identity in seen and {seen[item.identity], name} != {"history_declined",
                                                                         "history_declined_envelope"}:
                pytest.fail(f"{item.identity} in both {seen[item.identity]} and {name}")
            seen[item.identity] = name


def test_identities_are_stable_across_reserialisation() -> None:
    """A retry may arrive re-encoded: other key order, whitespace, raw UTF-8 instead of escapes."""
    for name in sorted(EXPECTED):
        body = (FIXTURES / f"{name}.json").read_bytes()
        again = json.dumps(_reverse_keys(json.loads(body)), ensure_ascii=False, indent=4).encode()
        first = [(i.kind, i.identity) for i in split_webhook(body)]
        second = [(i.kind, i.identity) for i in split_webhook(again)]
        assert sorted(first) == sorted(second), name
        assert first == [(i.kind, i.identity) for i in split_webhook(body)]


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def test_duplicates_in_one_body_share_an_identity() -> None:
    doc = json.loads((FIXTURES / "errors_131000.json").read_bytes())
    value = doc["entry"][0]["changes"][0]["value"]
    value["messages"] *= 2
    value["errors"] *= 2
    doc["entry"] *= 2
    identities = [i.identity for i in split_webhook(json.dumps(doc).encode())]
    assert len(identities) == 8 and len(set(identities)) == 2


def test_identity_depends_on_the_phone_number() -> None:
    doc = json.loads((FIXTURES / "errors_131000.json").read_bytes())
    first = split_webhook(json.dumps(doc).encode())
    doc["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = PNID2
    second = split_webhook(json.dumps(doc).encode())
    assert {i.identity for i in first}.isdisjoint(i.identity for i in second)


def test_an_absurdly_long_id_gives_a_bounded_identity() -> None:
    doc = json.loads((FIXTURES / "text.json").read_bytes())
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid." + "A" * 5000
    it = split_webhook(json.dumps(doc).encode())[0]
    assert it.kind == "message" and it.identity.startswith("wamid:long:") and len(it.identity) <= MAX_IDENTITY


# ---- tolerance -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff\xfe{}", b"[]", b"42", b'"entry"', b"{}",
                                  b'{"entry": {}}', b'{"object": "whatsapp_business_account"}',
                                  b"[" * 100_000, b'{"a":' * 70 + b"1" + b"}" * 70])
def test_not_a_webhook(body: bytes) -> None:
    with pytest.raises(WebhookFormatError):
        split_webhook(body)


def test_wrong_object_is_noted_not_refused() -> None:
    doc = json.loads((FIXTURES / "text.json").read_bytes())
    doc["object"] = "page"
    it = split_webhook(json.dumps(doc).encode())[0]
    assert it.kind == "message" and it.problems == ["object is 'page', not 'whatsapp_business_account'"]


def test_missing_timestamp_makes_an_unknown_item_that_keeps_its_parse() -> None:
    doc = json.loads((FIXTURES / "text.json").read_bytes())
    del doc["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"]
    it = split_webhook(json.dumps(doc).encode())[0]
    assert it.kind == "unknown" and it.identity.startswith("unknown:")
    assert it.message is not None and it.message.text is not None and it.message.timestamp is None
    assert "message.timestamp is missing" in it.problems


def test_wrong_types_become_none_with_a_note() -> None:
    doc = json.loads((FIXTURES / "image_reply_bsuid.json").read_bytes())
    m = doc["entry"][0]["changes"][0]["value"]["messages"][0]
    m["image"]["caption"] = ["not", "text"]
    m["context"] = "oops"
    m["timestamp"] = 1767261600  # a number instead of a string: tolerated
    m["image"]["voice"] = "yes"
    it = split_webhook(json.dumps(doc).encode())[0]
    assert it.kind == "message" and it.message is not None and it.message.media is not None
    assert it.message.media.caption is None and it.message.context is None and it.message.media.voice is None
    assert it.message.timestamp == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert len(it.problems) == 4, it.problems


def test_elements_that_are_not_objects_are_kept_as_unknown() -> None:
    doc = json.loads((FIXTURES / "text.json").read_bytes())
    value = doc["entry"][0]["changes"][0]["value"]
    value["messages"].append("garbage")
    value["statuses"] = {"not": "a list"}
    doc["entry"].append(7)
    kinds = [(i.kind, i.raw) for i in split_webhook(json.dumps(doc).encode())]
    assert kinds[1:] == [("unknown", "garbage"), ("unknown", {"statuses": {"not": "a list"}}), ("unknown", 7)]


def test_unknown_message_type_is_kept_as_a_message() -> None:
    doc = json.loads((FIXTURES / "text.json").read_bytes())
    m = doc["entry"][0]["changes"][0]["value"]["messages"][0]
    m["type"] = "poll"
    m["poll"] = {"question": "?"}
    it = split_webhook(json.dumps(doc).encode())[0]
    assert it.kind == "message" and it.message is not None and it.message.type == "poll"
    assert it.problems == ["message has an unknown type 'poll'"]


def test_empty_history_chunk_is_kept() -> None:
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{
        "field": "history", "value": {"messaging_product": "whatsapp", "metadata": {
            "display_phone_number": "15550783881", "phone_number_id": PNID},
            "history": [{"metadata": {"phase": 2, "chunk_order": 9, "progress": 100}, "threads": []}]}}]}]})
    it = split_webhook(body.encode())
    assert [i.kind for i in it] == ["unknown"]
    assert it[0].history is not None and it[0].history["progress"] == 100


# ---- fuzz ----------------------------------------------------------------------------------------------

DOCS = [json.loads(p.read_bytes()) for p in sorted(FIXTURES.glob("*.json"))]
KEYS = ["entry", "changes", "value", "field", "messages", "statuses", "errors", "message_echoes", "history",
        "state_sync", "threads", "metadata", "contacts", "id", "type", "timestamp", "from", "to", "text", "image",
        "edit", "message", "context", "reaction", "phone_number_id", "recipient_id", "status", "object"]
TYPES = ["text", "image", "video", "audio", "document", "sticker", "location", "contacts", "interactive",
         "button", "reaction", "order", "system", "unsupported", "revoke", "edit", "request_welcome",
         "media_placeholder", "nfm_reply", "button_reply", "gif", ""]
scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=False) | st.text(max_size=12) | st.sampled_from(TYPES + KEYS))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=3),
                           max_leaves=10)


def _containers(doc: Any) -> list[Any]:
    found, stack = [], [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list):
            found.append(node)
            stack.extend(node.values() if isinstance(node, dict) else node)
    return found


@st.composite
def mutated_fixture(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(DOCS)))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        node = draw(st.sampled_from(_containers(doc)))
        _mutate(draw, node)
    return doc


def _mutate(draw: st.DrawFn, node: Any) -> None:
    op = draw(st.sampled_from(["drop", "replace", "add", "truncate", "retype"]))
    if isinstance(node, dict):
        keys = list(node)
        if op == "drop" and keys:
            del node[draw(st.sampled_from(keys))]
        elif op == "replace" and keys:
            node[draw(st.sampled_from(keys))] = draw(json_values)
        elif op == "retype":
            node["type"] = draw(st.sampled_from(TYPES) | st.text(max_size=5) | json_values)
        else:
            node[draw(st.sampled_from(KEYS) | st.text(max_size=8))] = draw(json_values)
    elif op in ("drop", "truncate") and node:
        del node[draw(st.integers(min_value=0, max_value=len(node) - 1)):]
    elif op == "replace" and node:
        node[draw(st.integers(min_value=0, max_value=len(node) - 1))] = draw(json_values)
    else:
        node.append(draw(json_values))


def _check(body: bytes) -> None:
    try:
        items = split_webhook(body)
    except WebhookFormatError:
        return
    for item in items:
        assert isinstance(item.identity, str) and item.identity
        assert len(item.identity) <= MAX_IDENTITY
        assert hasattr(item, "raw")
        json.dumps(item.raw)  # the archive stores it as JSON
        if item.kind != "unknown":
            assert isinstance(item.raw, dict)
        if item.kind in ("message", "echo", "history_message"):
            m = item.message
            assert m is not None and m.wamid and m.type and m.timestamp is not None
            assert item.identity.startswith("wamid:")
        if item.kind == "status":
            assert item.status is not None and item.status.wamid and item.status.status
            assert item.identity.startswith("status:")
    assert [i.identity for i in split_webhook(body)] == [i.identity for i in items]  # deterministic


FUZZ = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated_fixture(), st.booleans(), st.data())
def test_fuzz_mutated_fixtures(doc: Any, truncate: bool, data: st.DataObject) -> None:
    body = json.dumps(doc, ensure_ascii=data.draw(st.booleans())).encode()
    if truncate:
        body = body[: data.draw(st.integers(min_value=0, max_value=len(body)))]
    _check(body)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(body: bytes) -> None:
    _check(body)


@FUZZ
@given(json_values)
def test_fuzz_random_json(value: Any) -> None:
    _check(json.dumps(value).encode())
    _check(json.dumps({"object": "whatsapp_business_account", "entry": value}).encode())
    _check(json.dumps({"field": "messages", "value": value}).encode())
