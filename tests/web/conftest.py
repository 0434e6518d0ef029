"""Fixtures of the web tests (helpers.py has the builders)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from tests.web import helpers


@pytest.fixture(autouse=True)
def whatsapp_settings(settings: Any) -> None:
    helpers.whatsapp_settings(settings)


@pytest.fixture
def world(archive: None, client: Client) -> dict[str, Any]:
    return helpers.make_world(client)
