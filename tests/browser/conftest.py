"""Browser tests: the real onfile in a subprocess, driven by headless Chromium through Playwright.

Fixtures (see DEVELOPERS.md, "Browser tests"):

- ``onfile_server`` (session): ``onfile serve --demo`` on a free loopback port with a fresh
  archive of its own (own data directory; on PostgreSQL its own database), the background
  worker and the WhatsApp simulator (the client's phone page at ``onfile_server.simulator_url``).
  ``onfile_server.url``; ``onfile_server.create_user(email, role)``; ``onfile_server.run(*args)``
  runs any ``onfile`` command against that archive; ``onfile_server.admin_email`` (created by
  ``onfile init``, password ``tests.conftest.PASSWORD``, no authenticator yet).
- ``start_onfile`` (session): the factory behind it, for a server with other settings:
  ``start_onfile("name", extra_env={...})``; stopped at the end of the session.
- ``sso_server`` (session): like ``onfile_server``, with single sign-on configured against a
  real OpenID provider on loopback, ``sso_server.oidc`` (``add_account(login, email, groups)``);
  its groups ``onfile-admins``, ``onfile-compliance``, ``onfile-staff`` map to admin, compliance,
  fee_earner.
- ``browser`` (session): Debian's Chromium (``/usr/bin/chromium``), headless.
- ``page`` (function): a new browser context (own cookies) and page; a screenshot of a failing
  test's last page is saved as ``FAILED-<test>.png``.
- ``screenshot`` (function): ``screenshot(page, "name")`` saves ``name.png`` (full page) under
  ``test-artifacts/screenshots/`` (``ONFILE_TEST_ARTIFACTS`` to move it) and returns the path.

Every test that uses ``browser`` or ``page`` is skipped with a message when Chromium or
Playwright is missing, except under ``CI=true``, where that is a failure (bin/test installs both).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from tests.conftest import PASSWORD, Cli, _pg_url
from tests.oidc import OidcProvider, _free_port, start_oidc_provider

CHROMIUM = os.environ.get("ONFILE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(os.environ.get("ONFILE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"


def _missing(message: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


# ---- the server --------------------------------------------------------------------------------------


@dataclass
class LiveOnfile:
    """One running ``onfile serve`` with an archive of its own."""

    name: str
    cli: Cli
    port: int
    simulator_port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    admin_email: str = "admin@firm.example"
    database: str | None = None
    oidc: OidcProvider | None = None
    serve_args: tuple[str, ...] = ()  # more for ``onfile serve``, e.g. ("--no-worker",)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.simulator_port}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Any ``onfile`` command against this server's archive."""
        return self.cli.run(*args, check=check)

    def create_user(self, email: str, role: str, password: str = PASSWORD, name: str = "") -> str:
        pw = self.cli.data_dir.parent / f"pw-{uuid.uuid4().hex}"
        pw.write_text(password)
        try:
            self.run("createuser", "--email", email, "--role", role, "--password-file", str(pw),
                     *(["--name", name] if name else []))
        finally:
            pw.unlink()
        return email

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "onfile.cli", "serve", "--demo", *self.serve_args, "--port", str(self.port),
                 "--workers", "1", "--threads", "8"],
                env=self.cli.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"onfile serve exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"onfile serve did not answer within 60 s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own process group: gunicorn, worker, simulator
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.proc = None


def _server_env(data_dir: Path, port: int, simulator_port: int) -> tuple[dict[str, str], str | None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONFILE_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update({
        "ONFILE_DATA_DIR": str(data_dir), "ONFILE_LOG_LEVEL": "WARNING", "PYTHONPATH": os.pathsep.join(sys.path),
        "ONFILE_PUBLIC_URL": f"http://127.0.0.1:{port}", "ONFILE_SIMULATOR_PORT": str(simulator_port),
        # Every browser test signs in from 127.0.0.1: keep the per-address limit out of their way
        # (it has its own tests in tests/accounts). The per-account limit stays at its default.
        "ONFILE_LOGIN_MAX_FAILURES_PER_IP": "1000",
    })
    database = None
    if os.environ.get("ONFILE_DATABASE_URL", "").startswith("postgres"):
        import psycopg

        database = f"onfile_browser_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        env["ONFILE_DATABASE_URL"] = _pg_url(database)
    return env, database


@pytest.fixture(scope="session")
def start_onfile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveOnfile]]:
    started: list[LiveOnfile] = []

    def start(name: str = "onfile", extra_env: dict[str, str] | None = None) -> LiveOnfile:
        root = tmp_path_factory.mktemp(f"live-{name}")
        port, simulator_port = _free_port(), _free_port()
        env, database = _server_env(root / "data", port, simulator_port)
        env.update(extra_env or {})
        server = LiveOnfile(name, Cli(root / "data", env), port, simulator_port, root / "serve.log", database=database)
        started.append(server)
        server.cli.init()
        server.start()
        return server

    yield start
    for server in started:
        server.stop()
        _drop_database(server.database)


def _drop_database(database: str | None) -> None:
    if database:
        import psycopg

        with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def onfile_server(start_onfile: Callable[..., LiveOnfile]) -> LiveOnfile:
    return start_onfile("onfile")


@pytest.fixture(scope="session")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveOnfile]:
    """onfile with single sign-on against a real OpenID provider on loopback (``sso_server.oidc``,
    a ``tests.oidc.OidcProvider``: ``sso_server.oidc.add_account(login, email, groups)``)."""
    root = tmp_path_factory.mktemp("live-sso")
    port, simulator_port = _free_port(), _free_port()
    provider = start_oidc_provider(root / "oidc", [f"http://127.0.0.1:{port}/sso/callback"])
    env, database = _server_env(root / "data", port, simulator_port)
    env.update(provider.env())
    server = LiveOnfile("sso", Cli(root / "data", env), port, simulator_port, root / "serve.log", database=database,
                        oidc=provider)
    try:
        server.cli.init()
        server.start()
        yield server
    finally:
        server.stop()
        provider.stop()
        _drop_database(database)


# ---- the browser -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: .venv/bin/pip install -e '.[test]'")
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        _missing(f"{CHROMIUM} is missing: apt-get install -y chromium (never 'playwright install')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    if request.node.stash.get(_FAILED, False):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):  # a screenshot must never hide the test's own failure
            tab.screenshot(path=str(SCREENSHOTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    def save(tab: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    return save
