"""Personas and the OpenID provider for the sign-in tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.conftest import PASSWORD
from tests.oidc import OidcProvider, start_oidc_provider


@pytest.fixture
def compliance(archive: None) -> Any:
    from onfile.accounts.actions import do_create_user

    return do_create_user("compliance@firm.example", PASSWORD, "compliance", actor="test")


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    from django.conf import settings

    provider = start_oidc_provider(tmp_path_factory.mktemp("oidc"), [f"{settings.PUBLIC_URL}/sso/callback"])
    yield provider
    provider.stop()


@pytest.fixture
def sso(oidc_provider: OidcProvider, settings: Any, archive: None) -> Iterator[OidcProvider]:
    """onfile configured for single sign-on with the test provider."""
    from onfile.accounts.sso import forget_cached_metadata

    env = oidc_provider.env()
    settings.OIDC_ISSUER = env["ONFILE_OIDC_ISSUER"]
    settings.OIDC_CLIENT_ID = env["ONFILE_OIDC_CLIENT_ID"]
    settings.OIDC_CLIENT_SECRET = env["ONFILE_OIDC_CLIENT_SECRET"]
    settings.OIDC_ROLE_MAP = env["ONFILE_OIDC_ROLE_MAP"].split(",")
    settings.OIDC_SCOPES = env["ONFILE_OIDC_SCOPES"]
    settings.OIDC_BUTTON_LABEL = env["ONFILE_OIDC_BUTTON_LABEL"]
    settings.OIDC_ENABLED = True
    forget_cached_metadata()
    yield oidc_provider
    forget_cached_metadata()
