"""``onfile rebuild`` recreates the projection identically from the ledger (invariant 3)."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps

from onfile.conversations import actions
from onfile.conversations.models import Client, Conversation, Matter
from onfile.projection import PROJECTION_MODELS, rebuild

pytestmark = pytest.mark.django_db


# Rows whose id is the seq of the entry that created them compare as they are; the others
# (messages and their children) have database-assigned ids, so they compare by natural keys.
STABLE_IDS = {"conversations.Client", "conversations.Matter", "conversations.FirmNumber",
              "conversations.Conversation", "imports.ImportRun"}


def _natural(label: str, row: dict[str, Any], keys: dict[str, dict[int, Any]]) -> dict[str, Any]:
    row = dict(row)
    row.pop("id", None)
    if "message_id" in row:
        row["message_id"] = keys["message"].get(row["message_id"])
    if label == "conversations.Message":
        row["sender_id"] = keys["participant"].get(row["sender_id"])
    return row


def snapshot() -> dict[str, list[Any]]:
    from onfile.conversations.models import Message, Participant

    keys = {"message": dict(Message.objects.values_list("id", "key")),
            "participant": {p: (c, n) for p, c, n in Participant.objects.values_list("id", "conversation_id",
                                                                                      "display_name")}}
    out: dict[str, list[Any]] = {}
    for label in PROJECTION_MODELS:
        rows = list(apps.get_model(label).objects.order_by("pk").values())
        if label in STABLE_IDS:
            out[label] = rows
        else:
            out[label] = sorted((_natural(label, r, keys) for r in rows), key=repr)
    return out


def _populate(admin: Any) -> None:
    alice = actions.do_create_client("Alice Example", admin.actor, phone="+44 7700 900123", email="a@example.com")
    acme = actions.do_create_client("Acme Ltd", admin.actor, kind="company", bsuid="US.13491208655302741918")
    actions.do_create_matter("M-0001", admin.actor, title="Purchase of 1 High St", client=alice,
                             responsible_id=admin.pk, practice_area="conveyancing")
    actions.do_create_matter("M-0002", admin.actor, client=acme)
    actions.do_register_firm_number("106540352242922", "+44 20 7946 0000", admin.actor, display_name="Firm")
    conv = Conversation.objects.create(id=10**9, key="test:1", source="live", created_seq=0)
    actions.do_link_matter(conv, Matter.objects.get(reference="M-0001"), admin.actor)
    actions.do_assign(conv, admin.pk, admin.actor)


def test_rebuilt_rows_equal_the_originals(admin: Any) -> None:
    _populate(admin)
    # A conversation row written by hand is not in the ledger, so a rebuild must drop it:
    # only what the ledger says survives.
    before = snapshot()
    before["conversations.Conversation"] = []
    report = rebuild()
    after = snapshot()
    assert after == before
    assert report.rows["conversations.Client"] == 2
    assert Client.objects.get(name="Alice Example").identities.get(kind="phone").value == "+447700900123"


def test_rebuild_twice_gives_the_same_rows(admin: Any) -> None:
    _populate(admin)
    rebuild()
    first = snapshot()
    rebuild()
    assert snapshot() == first


def test_client_names_are_not_in_the_ledger_in_clear(admin: Any) -> None:
    from onfile.ledger.models import Blob, Entry

    actions.do_create_client("Zebedee Unusualname", admin.actor)
    entry = Entry.objects.filter(kind="client.created").get()
    assert "Zebedee" not in entry.attrs
    assert b"Zebedee" not in bytes(Blob.objects.get(pk=entry.blob_id).inline)


def test_bad_input_to_actions_is_refused_and_changes_nothing(admin: Any) -> None:
    from onfile.conversations.phones import PhoneError
    from onfile.ledger.models import Entry

    count = Entry.objects.count()
    with pytest.raises(actions.ActionError):
        actions.do_create_client("  ", admin.actor)
    with pytest.raises(PhoneError):
        actions.do_create_client("Bob", admin.actor, phone="not a number")
    actions.do_create_matter("M-9", admin.actor)
    with pytest.raises(actions.ActionError, match="already exists"):
        actions.do_create_matter("M-9", admin.actor)
    assert Entry.objects.count() == count + 1
