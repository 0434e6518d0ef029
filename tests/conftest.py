"""Test setup: a private data directory with real keys, and the database under test.

The suite runs on SQLite by default and on PostgreSQL when ``ONFILE_DATABASE_URL`` points
at a server (``bin/test`` does both). Tests that run ``onfile`` as a subprocess get a
fresh archive of their own: a new data directory, and on PostgreSQL a new database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# onfile.settings_test (pytest's DJANGO_SETTINGS_MODULE) chose a private data directory.
_DATA = Path(os.environ["ONFILE_DATA_DIR"])

PASSWORD = "correct horse battery staple 42"


def _make_keys() -> None:
    from onfile.ledger.keys import forget_cached_keys
    from onfile.ops.install import InitResult, _ensure_master_key, _ensure_secret_key, _ensure_signing_key

    result = InitResult(_DATA)
    _ensure_master_key(None, result)
    _ensure_signing_key(result)
    _ensure_secret_key(result)
    forget_cached_keys()


@pytest.fixture(scope="session", autouse=True)
def _keys() -> Iterator[None]:
    _make_keys()
    yield
    shutil.rmtree(_DATA, ignore_errors=True)


@pytest.fixture
def archive(db: None) -> Iterator[None]:
    """An initialised, empty ledger inside the test's transaction."""
    from django.conf import settings

    from onfile.ledger.keys import master_key
    from onfile.ledger.models import Head

    Head.objects.get_or_create(pk=1, defaults={"master_key_id": master_key().key_id, "origin": settings.LOG_ORIGIN})
    yield


@pytest.fixture
def admin(archive: None) -> object:
    from onfile.accounts.actions import do_create_user

    return do_create_user("admin@firm.example", PASSWORD, "admin", actor="test")


@pytest.fixture
def fee_earner(archive: None) -> object:
    from onfile.accounts.actions import do_create_user

    return do_create_user("fee.earner@firm.example", PASSWORD, "fee_earner", actor="test")


# ---- running the real command --------------------------------------------------------------------


@dataclass
class Cli:
    """Runs ``onfile`` in a subprocess against a fresh archive of its own."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True, input: str | None = None,
            extra_env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **(extra_env or {})}
        proc = subprocess.run([sys.executable, "-m", "onfile.cli", *args], env=env, capture_output=True,
                              text=True, input=input, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"onfile {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def init(self) -> subprocess.CompletedProcess[str]:
        pw = self.data_dir.parent / f"{self.data_dir.name}.pw"
        pw.write_text(PASSWORD)
        return self.run("init", "--email", "admin@firm.example", "--password-file", str(pw))


def _pg_url(name: str) -> str:
    base = os.environ["ONFILE_DATABASE_URL"]
    return base.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    # A subprocess is onfile as users run it: its own settings, group commit on.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONFILE_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update({"ONFILE_DATA_DIR": str(tmp_path / "data"), "ONFILE_LOG_LEVEL": "WARNING",
                "PYTHONPATH": os.pathsep.join(sys.path)})
    dbname = None
    if os.environ.get("ONFILE_DATABASE_URL", "").startswith("postgres"):
        import psycopg

        dbname = f"onfile_cli_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        env["ONFILE_DATABASE_URL"] = _pg_url(dbname)
    yield Cli(tmp_path / "data", env)
    if dbname:
        import psycopg

        with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
