"""Shared by the web tests: personas, a conversation fed through the real webhook path."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from django.test import Client

from onfile.accounts.actions import do_create_user
from onfile.accounts.models import Team, User
from onfile.channels.whatsapp.processing import process_pending
from onfile.conversations.actions import do_register_firm_number
from onfile.conversations.models import Conversation

FIXTURES = Path(__file__).parents[1] / "channels" / "whatsapp" / "fixtures"
SECRET = "test-app-secret"
PNID = "106540352242922"
PW = "correct horse battery staple 42"


def whatsapp_settings(settings: Any) -> None:
    settings.WHATSAPP_APP_SECRET = SECRET
    settings.WHATSAPP_TEMPLATES = ["follow_up:en_GB:1"]


def deliver(client: Client, body: bytes) -> None:
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    r = client.post("/webhooks/whatsapp", data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=sig)
    assert r.status_code == 200
    process_pending()


def text_now(wamid: str, text: str, sender: str = "16505551234") -> bytes:
    """A text from the client sent just now (so the 24-hour window is open)."""
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881",
                                                          "phone_number_id": PNID},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": sender}],
            "messages": [{"from": sender, "id": wamid, "timestamp": str(int(time.time())), "type": "text",
                          "text": {"body": text}}]}}]}]}).encode()


def make_world(client: Client) -> dict[str, Any]:
    team_a, team_b = Team.objects.create(name="Private client"), Team.objects.create(name="Corporate")
    people = {name: do_create_user(f"{name}@firm.example", PW, role, "test") for name, role in [
        ("alice", "fee_earner"), ("sam", "supervisor"), ("bob", "fee_earner"), ("colp", "compliance"),
        ("audrey", "auditor"), ("ada", "admin")]}
    User.objects.filter(email__in=["alice@firm.example", "sam@firm.example"]).update(team=team_a)
    User.objects.filter(email="bob@firm.example").update(team=team_b)
    for u in people.values():
        u.refresh_from_db()
    do_register_firm_number(PNID, "+15550783881", "test", display_name="Firm", team_id=team_a.pk)
    for name in ("text.json", "location_named.json", "contacts.json", "reaction.json", "edit.json"):
        deliver(client, (FIXTURES / name).read_bytes())
    deliver(client, text_now("wamid.NOW1", "Can we talk about the <b>lease</b> today?"))
    conversation = Conversation.objects.get()
    return {"people": people, "c": conversation}


def as_(user: User) -> Client:
    c = Client()
    c.force_login(user)
    return c


