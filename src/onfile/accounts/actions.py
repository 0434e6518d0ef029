"""Actions on staff accounts; each is ledgered (who did it, to whom, which role)."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from onfile.accounts.models import Role, User
from onfile.ledger.actions import commit_sealed, seal_content


class AccountError(Exception):
    pass


def do_create_user(email: str, password: str | None, role: str, actor: str, name: str = "") -> User:
    email = email.strip().lower()
    if role not in Role.values:
        raise AccountError(f"unknown role {role!r}; use one of {', '.join(Role.values)}")
    if User.objects.filter(email=email).exists():
        raise AccountError(f"a user with the email {email} already exists")
    if password is not None:
        validate_password(password, User(email=email, name=name))
    sealed = seal_content({"email": email, "name": name})
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, role=role, name=name)
        commit_sealed(sealed, kind="user.created", actor=actor, subject=f"user:{user.pk}",
                      attrs={"user": user.pk, "role": role})
    return user
