"""System checks for the email bridge (ids onfile.E030…, onfile.W030…)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

SECURITY = ("none", "starttls", "tls")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _bad_addresses() -> list[str]:
    bad = []
    for name, value in (("ONFILE_EMAIL_FROM", settings.EMAIL_FROM), ("ONFILE_EMAIL_FALLBACK", settings.EMAIL_FALLBACK),
                        ("ONFILE_JOURNAL_ADDRESS", settings.JOURNAL_ADDRESS)):
        try:
            if value:
                validate_email(value)
        except ValidationError:
            bad.append(f"{name}={value!r}")
    return bad


@register("onfile")
def check_email(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    host = settings.SMTP_HOST
    if not host:
        if settings.JOURNAL_ADDRESS:
            messages.append(Error("ONFILE_JOURNAL_ADDRESS is set but ONFILE_SMTP_HOST is not: nothing is journaled "
                                  "to the archive", id="onfile.E030",
                                  hint="Set ONFILE_SMTP_HOST (and port, security, user) to the firm's relay."))
        elif settings.SMTP_USER or settings.SMTP_PASSWORD or settings.EMAIL_FROM or settings.EMAIL_FALLBACK:
            messages.append(Warning("email settings are present but ONFILE_SMTP_HOST is empty: email forwarding "
                                    "is off", id="onfile.W030",
                                    hint="Set ONFILE_SMTP_HOST, or unset the other ONFILE_SMTP_*/ONFILE_EMAIL_* "
                                         "variables."))
        return messages
    if settings.SMTP_SECURITY not in SECURITY:
        messages.append(Error(f"ONFILE_SMTP_SECURITY={settings.SMTP_SECURITY!r} is not one of {', '.join(SECURITY)}",
                              id="onfile.E031", hint="starttls for port 587, tls for 465, none for a local relay."))
    if not settings.EMAIL_FROM:
        messages.append(Error("ONFILE_SMTP_HOST is set but ONFILE_EMAIL_FROM is not", id="onfile.E032",
                              hint="Set the address onfile's emails come from, e.g. whatsapp@firm.example "
                                   "(the relay must accept it as a sender)."))
    if bool(settings.SMTP_USER) != bool(settings.SMTP_PASSWORD):
        missing = "ONFILE_SMTP_PASSWORD" if settings.SMTP_USER else "ONFILE_SMTP_USER"
        messages.append(Error(f"SMTP authentication is half configured: {missing} is not set", id="onfile.E033",
                              hint="Set both ONFILE_SMTP_USER and ONFILE_SMTP_PASSWORD (or _FILE), or neither."))
    if not 0 < settings.SMTP_PORT < 65536 or settings.EMAIL_MAX_ATTACHMENT_MB < 0:
        messages.append(Error("ONFILE_SMTP_PORT or ONFILE_EMAIL_MAX_ATTACHMENT_MB is out of range", id="onfile.E034",
                              hint="A port from 1 to 65535; a size in MB of 0 or more (0: always send links)."))
    messages += [Error(f"{item} is not an email address", id="onfile.E035", hint="Use a plain address: a@b.example.")
                 for item in _bad_addresses()]
    if settings.SMTP_USER and settings.SMTP_SECURITY == "none" and host not in LOOPBACK:
        messages.append(Warning("ONFILE_SMTP_SECURITY=none with a password: it crosses the network in clear",
                                id="onfile.W031", hint="Use starttls or tls."))
    if not settings.EMAIL_FALLBACK:
        messages.append(Warning("ONFILE_EMAIL_FALLBACK is not set: messages of conversations with no assignee and "
                                "no team mailbox are not emailed to anyone", id="onfile.W032",
                                hint="Set it to a shared mailbox that someone reads."))
    return messages
