"""``onfile init``: the data directory, the keys, the database, the first admin.

Order matters so that bad input changes nothing: the data directory is checked for being
a writable directory, the database for being readable and this archive's, and the
configured master key for matching the archive, *before* any key is created or any table
migrated. Keys are never overwritten.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from onfile.ledger import keys
from onfile.ledger.checkpoint import NoteSigner
from onfile.ledger.crypto import MasterKey


class InitError(Exception):
    """onfile cannot be initialised here; nothing was changed."""


@dataclass
class InitResult:
    data_dir: Path
    created: list[str] = field(default_factory=list)
    admin_email: str = ""
    admin_password: str = ""  # only when generated
    already: bool = False


def check_data_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise InitError(f"{path} exists and is not a directory")
    if path.exists() and os.statvfs(path).f_flag & os.ST_RDONLY:
        raise InitError(f"the data directory {path} is on a read-only file system")
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise InitError(f"the data directory {path} is not writable: {exc.strerror}") from None


def _existing_tables() -> set[str]:
    try:
        with connection.cursor() as cursor:
            return set(connection.introspection.table_names(cursor))
    except DatabaseError as exc:
        where = settings.DATABASES["default"]["NAME"]
        raise InitError(f"the database {where} cannot be read ({exc}); is it corrupt? Nothing was changed") from None


def _archive_key_id() -> str | None:
    """The master key id the archive was created with, or None for a new database."""
    if "ledger_head" not in _existing_tables():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT master_key_id FROM ledger_head WHERE id = 1")
        row = cursor.fetchone()
    return str(row[0]) if row else None


def _ensure_master_key(archive_key_id: str | None, result: InitResult) -> MasterKey:
    if not settings.MASTER_KEY and not keys.master_key_path().exists():
        if archive_key_id:
            raise InitError(
                f"this archive was created with master key {archive_key_id}, but {keys.master_key_path()} "
                "is missing: restore it from your key backup (a new key could not open any blob)"
            )
        keys.write_secret(keys.master_key_path(), (MasterKey.generate().to_text() + "\n").encode("ascii"))
        result.created.append(str(keys.master_key_path()))
    keys.forget_cached_keys()
    try:
        key = keys.master_key()
    except keys.KeyError_ as exc:
        raise InitError(str(exc)) from None
    if archive_key_id and key.key_id != archive_key_id:
        raise InitError(
            f"wrong master key: this archive was created with key {archive_key_id}, the configured key is "
            f"{key.key_id}. Nothing was changed."
        )
    return key


def _ensure_signing_key(result: InitResult) -> NoteSigner:
    if not keys.signing_key_path().exists():
        signer = NoteSigner.generate(name=settings.LOG_ORIGIN)
        keys.write_secret(keys.signing_key_path(), signer.private_pem())
        result.created.append(str(keys.signing_key_path()))
    keys.forget_cached_keys()
    try:
        signer = keys.signer()
    except keys.KeyError_ as exc:
        raise InitError(str(exc)) from None
    pub = keys.verifier_key_path()
    if not pub.exists():
        pub.write_text(signer.verifier_key() + "\n", encoding="utf-8")
        result.created.append(str(pub))
    return signer


def _ensure_secret_key(result: InitResult) -> None:
    path = Path(settings.KEYS_DIR) / "secret-key"
    if not path.exists():
        keys.write_secret(path, (secrets.token_urlsafe(50) + "\n").encode("ascii"))
        result.created.append(str(path))


def _ensure_head(key_id: str) -> bool:
    from onfile.ledger.log import NewEntry, append
    from onfile.ledger.models import Head

    with transaction.atomic():
        _, created = Head.objects.get_or_create(pk=1, defaults={"master_key_id": key_id,
                                                                   "origin": settings.LOG_ORIGIN})
        if created:
            append(NewEntry("installation.initialised", "system", "",
                            {"origin": settings.LOG_ORIGIN, "master_key_id": key_id}))
    return created


def initialise(admin_email: str = "", admin_password: str | None = None, generate: bool = False) -> InitResult:
    data_dir = Path(settings.DATA_DIR)
    result = InitResult(data_dir)
    if admin_password is not None:
        _check_password(admin_email, admin_password)
    check_data_dir(data_dir)
    archive_key_id = _archive_key_id()
    key = _ensure_master_key(archive_key_id, result)
    _ensure_signing_key(result)
    _ensure_secret_key(result)
    for sub in ("blobs", "checkpoints"):
        (data_dir / sub).mkdir(exist_ok=True, mode=0o700)
    call_command("migrate", interactive=False, verbosity=0)
    result.already = not _ensure_head(key.key_id)
    _ensure_admin(result, admin_email, admin_password, generate)
    from onfile.ledger.checkpoints import do_checkpoint

    do_checkpoint(reason="init")
    return result


def _check_password(email: str, password: str) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from onfile.accounts.models import User

    try:
        validate_password(password, User(email=email))
    except ValidationError as exc:
        raise InitError(f"the admin password is not acceptable: {'; '.join(exc.messages)}") from None


def _ensure_admin(result: InitResult, email: str, password: str | None, generate: bool) -> None:
    from onfile.accounts.actions import AccountError, do_create_user
    from onfile.accounts.models import Role, User

    if User.objects.filter(role=Role.ADMIN, is_active=True).exists():
        return
    if not email:
        if not generate:
            return
        email = "admin@localhost"
    if password is None:
        password = secrets.token_urlsafe(12)
        result.admin_password = password
        path = Path(settings.KEYS_DIR) / "initial-admin-password"
        if not path.exists():
            keys.write_secret(path, (f"{email} {password}\n").encode())
    from django.core.exceptions import ValidationError

    try:
        do_create_user(email, password, Role.ADMIN, actor="system:init", name="Administrator")
    except (AccountError, ValidationError) as exc:
        text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        raise InitError(f"cannot create the admin {email}: {text}") from None
    result.admin_email = email
