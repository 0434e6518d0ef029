"""Messages captured live from WhatsApp (written by the ORM, edited later) are searchable."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from onfile.channels.whatsapp.processing import process_pending
from onfile.search import SearchFilters, search

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent.parent / "channels" / "whatsapp" / "fixtures"
SECRET = "test-app-secret"


@pytest.fixture
def compliance(archive: None, settings: Any) -> Any:
    from tests.conftest import PASSWORD

    from onfile.accounts.actions import do_create_user

    settings.WHATSAPP_APP_SECRET = SECRET
    return do_create_user("colp@firm.example", PASSWORD, "compliance", actor="test")


def fee_earner_of(conversation_id: int) -> Any:
    from tests.conftest import PASSWORD

    from onfile.accounts.actions import do_create_user
    from onfile.conversations.actions import do_assign
    from onfile.conversations.models import Conversation

    user = do_create_user("fee@firm.example", PASSWORD, "fee_earner", actor="test")
    do_assign(Conversation.objects.get(pk=conversation_id), user.pk, "test")
    return user


def deliver(client: Client, *names: str) -> None:
    for name in names:
        body = (FIXTURES / name).read_bytes()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        response = client.post("/webhooks/whatsapp", data=body, content_type="application/json",
                               HTTP_X_HUB_SIGNATURE_256=signature)
        assert response.status_code == 200
    process_pending()


def test_a_live_message_its_edit_its_number_and_its_firm_number(compliance: Any, client: Client) -> None:
    from onfile.conversations.models import FirmNumber

    deliver(client, "text.json")
    [hit] = search(compliance, "contract grüße").hits
    assert hit.snippet_text.startswith("Hello, is the [[contract]] ready? [[Grüße]]")
    deliver(client, "edit.json")
    [edited] = search(compliance, "contract yet").hits
    assert edited.message_id == hit.message_id and edited.earlier_text_replaced_at is None
    # Compliance may read what it said before the edit (REQ-SEC-4), so finds it by that too;
    # the fee earner it is assigned to sees only the text as it is now.
    [earlier] = search(compliance, "grüße").hits
    assert earlier.message_id == hit.message_id and "[[Grüße]]" in earlier.snippet_text
    assert earlier.earlier_text_replaced_at is not None
    assert earlier.as_dict()["found_in_earlier_text"] is True
    fee_earner = fee_earner_of(hit.conversation_id)
    assert search(fee_earner, "grüße").hits == []
    assert [h.message_id for h in search(fee_earner, "contract yet").hits] == [hit.message_id]
    # The client's number, as WhatsApp gives it (16505551234), in the way people write it.
    assert [h.message_id for h in search(compliance, "+1 650-555-1234").hits] == [hit.message_id]
    number = FirmNumber.objects.get(phone_number_id="106540352242922")
    assert len(search(compliance, "contract", SearchFilters(firm_number=number.pk)).hits) == 1
    assert search(compliance, "contract", SearchFilters(firm_number=number.pk + 1000)).hits == []
