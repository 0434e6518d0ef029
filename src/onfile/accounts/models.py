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
