"""Misconfiguration is reported by system checks with stable ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from onfile import checks


def test_a_data_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with override_settings(DATA_DIR=target):
        assert [m.id for m in checks.check_data_dir()] == ["onfile.E001"]


def test_debug_in_production_is_an_error() -> None:
    with override_settings(DEBUG=True):
        assert "onfile.E010" in [m.id for m in checks.check_production()]


def test_an_unusable_master_key_is_an_error() -> None:
    from onfile.ledger.keys import forget_cached_keys

    forget_cached_keys()
    try:
        with override_settings(MASTER_KEY="not-base64!"):
            assert "onfile.E003" in [m.id for m in checks.check_keys()]
    finally:
        forget_cached_keys()


def test_a_healthy_setup_has_no_key_errors() -> None:
    assert [m for m in checks.check_keys() if m.level >= 40] == []


@pytest.mark.parametrize("value,expected", [("true", True), ("0", False), ("", False)])
def test_env_bool(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    from onfile.env import env_bool

    monkeypatch.setenv("X_FLAG", value)
    assert env_bool("X_FLAG") is expected


def test_env_bool_refuses_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    from onfile.env import ConfigError, env_bool

    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ConfigError, match="not a boolean"):
        env_bool("X_FLAG")


def test_secrets_can_come_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from onfile.env import env_secret

    secret = tmp_path / "s"
    secret.write_text("hunter2-but-longer\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env_secret("X_SECRET") == "hunter2-but-longer"
