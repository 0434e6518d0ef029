"""Where the installation's keys live and how they are loaded.

- the master key (wraps every blob's data key): ``ONFILE_MASTER_KEY`` / ``_FILE``, else
  ``<data>/keys/master.key``. Production should keep it off the data disk (a secrets
  manager mounted as a file); the default keeps a first run zero-configuration.
- the checkpoint signing key (Ed25519): ``<data>/keys/checkpoint.key``; its verifier key,
  ``<data>/keys/checkpoint.pub``, is what an auditor needs. Retired verifier keys stay in
  ``<data>/keys/checkpoint-retired.pub`` (one per line) so that old checkpoints verify.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from django.conf import settings

from onfile.ledger.checkpoint import NoteSigner
from onfile.ledger.crypto import CryptoError, MasterKey


class KeyError_(Exception):
    """A key is missing or unusable; the message says what to do."""


def master_key_path() -> Path:
    return Path(settings.KEYS_DIR) / "master.key"


def signing_key_path() -> Path:
    return Path(settings.KEYS_DIR) / "checkpoint.key"


def verifier_key_path() -> Path:
    return Path(settings.KEYS_DIR) / "checkpoint.pub"


def write_secret(path: Path, content: bytes) -> None:
    """Create ``path`` with mode 0600, refusing to overwrite, and make it durable."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@cache
def master_key() -> MasterKey:
    configured: str = settings.MASTER_KEY
    if configured:
        try:
            return MasterKey.from_text(configured)
        except CryptoError as exc:
            raise KeyError_(f"ONFILE_MASTER_KEY is unusable: {exc}") from None
    path = master_key_path()
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyError_(f"no master key at {path}: run 'onfile init' first, or set ONFILE_MASTER_KEY") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyError_(f"the master key file {path} cannot be read: {exc}") from None
    try:
        return MasterKey.from_text(text)
    except CryptoError as exc:
        raise KeyError_(f"the master key file {path} is unusable: {exc}") from None


@cache
def signer() -> NoteSigner:
    path = signing_key_path()
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise KeyError_(f"no checkpoint signing key at {path}: run 'onfile init' first") from None
    except OSError as exc:
        raise KeyError_(f"the checkpoint signing key {path} cannot be read: {exc.strerror}") from None
    try:
        return NoteSigner.from_pem(pem=pem, name=settings.LOG_ORIGIN)
    except ValueError as exc:
        raise KeyError_(f"the checkpoint signing key {path} is unusable: {exc}") from None


def verifier_keys() -> list[str]:
    """The current verifier key and every retired one."""
    keys: list[str] = []
    for path in (verifier_key_path(), Path(settings.KEYS_DIR) / "checkpoint-retired.pub"):
        if path.exists():
            keys.extend(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not keys:
        keys.append(signer().verifier_key())
    return keys


def forget_cached_keys() -> None:
    master_key.cache_clear()
    signer.cache_clear()
