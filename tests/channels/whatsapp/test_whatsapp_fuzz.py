"""Hypothesis throws mutated payloads at the whole pipeline (endpoint → capture → split →
project): it never crashes, the raw body is always kept byte for byte, and every captured
body is processed to the end (issue 4, bad input)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onfile.channels.whatsapp.models import WebhookJob
from onfile.channels.whatsapp.processing import process_pending
from onfile.ledger.blobs import read_blob
from onfile.ledger.models import Entry

FIXTURES = sorted(Path(__file__).with_name("fixtures").glob("*.json"))
SECRET = "fuzz-secret"
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


def mutate(doc: Any, data: st.DataObject, depth: int = 0) -> Any:
    """Drop keys, replace values with random JSON, add unknown keys — anywhere in the tree."""
    if isinstance(doc, dict):
        out = {}
        for key, value in doc.items():
            action = data.draw(st.sampled_from(["keep", "keep", "keep", "drop", "replace"]))
            if action == "keep":
                out[key] = mutate(value, data, depth + 1)
            elif action == "replace":
                out[key] = data.draw(JSON)
        if data.draw(st.booleans()):
            out[data.draw(st.text(max_size=8))] = data.draw(JSON)
        return out
    if isinstance(doc, list):
        return [mutate(v, data, depth + 1) for v in doc[: data.draw(st.integers(0, len(doc)))]]
    return doc if data.draw(st.booleans()) else data.draw(JSON)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_payloads_never_crash_and_the_raw_body_is_kept(archive: None, data: st.DataObject) -> None:
    from django.conf import settings as django_settings

    django_settings.WHATSAPP_APP_SECRET = SECRET
    base = json.loads(data.draw(st.sampled_from(FIXTURES)).read_bytes())
    body = data.draw(st.one_of(
        st.builds(lambda d: json.dumps(d).encode(), st.just(mutate(base, data))),
        st.binary(max_size=200),
    ))
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = Client().post("/webhooks/whatsapp", data=body, content_type="application/json",
                             HTTP_X_HUB_SIGNATURE_256=sig)
    assert response.status_code == 200
    capture = Entry.objects.filter(kind="capture.webhook").order_by("-seq").first()
    assert capture is not None and read_blob(capture.blob_id) == body
    process_pending()
    job = WebhookJob.objects.get(capture_seq=capture.seq)
    assert job.done, job.last_error
