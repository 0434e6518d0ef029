"""A real OpenID Connect provider on loopback for the single sign-on tests.

It is panva's ``oidc-provider`` (OpenID Certified), run by node from ``tests/oidc_provider``.
Its packages are installed on first use with ``npm ci`` from the committed lock file (the npm
registry is reachable from developers' machines and CI; ``node_modules`` is git-ignored).
Without node the tests that need it are skipped with a message, except under ``CI=true``,
where they fail.

``start_oidc_provider(tmp, redirect_uris)`` starts one on a free port; ``provider.add_account``
adds a person (login name → email, groups) while it runs; ``provider.sign_in(url, login)``
plays the person's browser at the provider (its development login and consent forms) and
returns the URL the provider redirects back to onfile with.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
CLIENT_ID = "onfile-test"
CLIENT_SECRET = "onfile-test-client-secret-0123456789"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        message = ("node is not installed: the single sign-on tests need it for the OIDC provider "
                   "(apt-get install nodejs npm)")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is not installed: needed once to install tests/oidc_provider")
        proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(PROVIDER_DIR)],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"npm ci in {PROVIDER_DIR} failed:\n{proc.stdout}\n{proc.stderr}")
    return node


@dataclass
class OidcProvider:
    issuer: str
    accounts_file: Path
    proc: subprocess.Popen[bytes]
    log: Path
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    accounts: dict[str, dict[str, object]] = field(default_factory=dict)

    def add_account(self, login: str, email: str, groups: list[str], *, email_verified: bool = True,
                    name: str = "", amr: list[str] | None = None, acr: str = "") -> None:
        """``amr`` / ``acr``: what the ID tokens of this person's sign-ins report (RFC 8176 method
        references, e.g. ``["pwd", "mfa"]``; an authentication context class); none by default."""
        self.accounts[login] = {"email": email, "email_verified": email_verified, "groups": groups,
                                "name": name or login.title()}
        if amr is not None:
            self.accounts[login]["amr"] = amr
        if acr:
            self.accounts[login]["acr"] = acr
        tmp = self.accounts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.accounts))
        tmp.replace(self.accounts_file)

    def env(self, role_map: str = "onfile-admins=admin,onfile-compliance=compliance,onfile-staff=fee_earner",
            ) -> dict[str, str]:
        """The environment that points onfile at this provider."""
        return {"ONFILE_OIDC_ISSUER": self.issuer, "ONFILE_OIDC_CLIENT_ID": self.client_id,
                "ONFILE_OIDC_CLIENT_SECRET": self.client_secret, "ONFILE_OIDC_ROLE_MAP": role_map,
                "ONFILE_OIDC_SCOPES": "openid email profile groups", "ONFILE_OIDC_BUTTON_LABEL": "Test IdP"}

    def sign_in(self, authorization_url: str, login: str) -> str:
        """Go through the provider's login and consent forms as ``login``; returns the redirect
        back to the client (``…/sso/callback?code=…&state=…``)."""
        with httpx.Client(timeout=10) as browser:
            url = authorization_url
            response = browser.get(url)
            for _ in range(12):
                if response.status_code in (302, 303):
                    url = urljoin(url, response.headers["location"])
                    if not url.startswith(self.issuer + "/"):
                        return url
                    response = browser.get(url)
                    continue
                if response.status_code != 200:
                    raise AssertionError(f"the provider answered {response.status_code}: {response.text[:500]}")
                action, fields = _form(response.text)
                if fields.get("prompt") == "login":
                    fields.update({"login": login, "password": "any password"})
                url = urljoin(url, action)
                response = browser.post(url, data=fields)
        raise AssertionError("the provider kept asking; gave up")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _form(html: str) -> tuple[str, dict[str, str]]:
    match = re.search(r'<form[^>]*action="([^"]+)"', html)
    if match is None:
        raise AssertionError(f"no form on the provider's page:\n{html[:1000]}")
    fields = {unescape(n): unescape(v) for n, v in
              re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html)}
    return unescape(match.group(1)), fields


def start_oidc_provider(tmp: Path, redirect_uris: list[str]) -> OidcProvider:
    node = node_or_skip()
    tmp.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    accounts_file = tmp / "accounts.json"
    accounts_file.write_text("{}")
    config = tmp / "provider.json"
    config.write_text(json.dumps({
        "issuer": issuer, "port": port, "accountsFile": str(accounts_file),
        "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": redirect_uris,
                     "grant_types": ["authorization_code"], "response_types": ["code"],
                     "token_endpoint_auth_method": "client_secret_basic"}],
    }))
    log = tmp / "provider.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([node, str(PROVIDER_DIR / "provider.mjs"), str(config)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=PROVIDER_DIR)
    provider = OidcProvider(issuer, accounts_file, proc, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the OIDC provider exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                return provider
        except httpx.HTTPError:
            time.sleep(0.1)
    provider.stop()
    raise AssertionError(f"the OIDC provider did not start:\n{log.read_text()}")
