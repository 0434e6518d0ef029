"""Staff users, teams and roles.

Roles (ARCHITECTURE invariant 6): admin, compliance, supervisor (of a team), fee earner,
auditor (read-only access for a regulator or third party, REQ-SEC-11). Email is the
login name. Passwords are hashed with Argon2 (settings.PASSWORD_HASHERS).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Administrator"
    COMPLIANCE = "compliance", "Compliance officer"
    SUPERVISOR = "supervisor", "Supervisor"
    FEE_EARNER = "fee_earner", "Fee earner"
    AUDITOR = "auditor", "Auditor (read-only)"


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    mailbox = models.EmailField(blank=True, help_text="where unassigned conversations of the team go")

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("a user needs an email address")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.FEE_EARNER)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.email

    @property
    def actor(self) -> str:
        """How this user is named in ledger entries."""
        return f"user:{self.pk}"

    @property
    def is_admin(self) -> bool:
        return self.is_active and self.role == Role.ADMIN


# ---- sign-in security (onfile.accounts.auth, .twofactor, .throttle, .sso) ------------------------


class TwoFactor(models.Model):
    """A user's TOTP authenticator (RFC 6238).

    The shared secret is sealed with AES-256-GCM under a key derived from the master key
    (never stored in clear: a database dump alone must not let anyone mint codes).
    ``confirmed_at`` is set once the user has shown they can produce a code; until then the
    authenticator does not count. ``last_step`` is the highest time step ever accepted: a
    code for that step or an earlier one is refused, so a code works once.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="two_factor")
    sealed_secret = models.BinaryField()
    key_id = models.CharField(max_length=16, help_text="fingerprint of the master key that sealed the secret")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)


class RecoveryCode(models.Model):
    """A one-time code that stands in for a TOTP code; kept as a keyed hash only."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["user", "digest"], name="accounts_recovery_code_unique"),
        ]


class AuthFailure(models.Model):
    """A failed sign-in step, counted for lockout. ``key`` is a keyed hash of the email tried,
    the client address or the user id (the table holds no personal data in clear)."""

    scope = models.CharField(max_length=10)
    key = models.CharField(max_length=64)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes: ClassVar[list[Any]] = [models.Index(fields=["scope", "key", "at"], name="accounts_authfail_key")]


class AuthLock(models.Model):
    """A lockout in force: sign-in for this account, address or second factor is refused until
    ``locked_until``."""

    scope = models.CharField(max_length=10)
    key = models.CharField(max_length=64)
    locked_until = models.DateTimeField()

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["scope", "key"], name="accounts_authlock_unique"),
        ]


class SsoIdentity(models.Model):
    """The link between a user and an account at the OpenID provider: (issuer, sub) is the
    provider's stable identifier; the email is only used to make the link the first time."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sso_identities")
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="accounts_sso_identity_unique"),
        ]
