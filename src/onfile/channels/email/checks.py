"""System checks for the email bridge (ids onfile.E030…, onfile.W030…)."""

from __future__ import annotations

import re
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


IMAP_SECURITY = ("tls", "starttls", "none")


@register("onfile")
def check_inbound_transports(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Replies by email: ``onfile smtpd``, IMAP polling and the CA bundle (ids onfile.E050…, W050…)."""
    from onfile.channels.email.tlsconf import TlsConfigError, client_context, server_context

    messages: list[CheckMessage] = []
    if settings.SMTP_CA_FILE:
        try:
            client_context()
        except TlsConfigError as exc:
            messages.append(Error(str(exc), id="onfile.E056",
                                  hint="A PEM file with the firm's CA certificate(s), readable by onfile."))
    cert, key = settings.SMTPD_TLS_CERT, settings.SMTPD_TLS_KEY
    if (key or settings.SMTPD_REQUIRE_TLS) and not cert:
        messages.append(Error("ONFILE_SMTPD_TLS_KEY or ONFILE_SMTPD_REQUIRE_TLS is set but ONFILE_SMTPD_TLS_CERT is "
                              "not", id="onfile.E055", hint="Set the certificate chain (PEM) for STARTTLS."))
    elif cert:
        try:
            server_context(cert, key)
        except TlsConfigError as exc:
            messages.append(Error(str(exc), id="onfile.E055",
                                  hint="ONFILE_SMTPD_TLS_CERT: PEM chain; ONFILE_SMTPD_TLS_KEY: its key (PEM)."))
    if not 0 < settings.SMTPD_PORT < 65536 or settings.SMTPD_MAX_MB < 0:
        messages.append(Error("ONFILE_SMTPD_PORT or ONFILE_SMTPD_MAX_MB is out of range", id="onfile.E054",
                              hint="A port from 1 to 65535; a size in MB of 0 or more (0: no limit)."))
    if not settings.IMAP_HOST:
        return messages
    if settings.IMAP_SECURITY not in IMAP_SECURITY:
        messages.append(Error(f"ONFILE_IMAP_SECURITY={settings.IMAP_SECURITY!r} is not one of "
                              f"{', '.join(IMAP_SECURITY)}", id="onfile.E050",
                              hint="tls for port 993, starttls for 143, none only for a server on this host."))
    if not settings.IMAP_USER or not settings.IMAP_PASSWORD:
        messages.append(Error("ONFILE_IMAP_HOST is set but ONFILE_IMAP_USER or ONFILE_IMAP_PASSWORD is not",
                              id="onfile.E051", hint="Set the mailbox's login (the password also as _FILE)."))
    if not settings.EMAIL_REPLY_DOMAIN:
        messages.append(Error("ONFILE_IMAP_HOST is set but ONFILE_EMAIL_REPLY_DOMAIN is not: replies by email are "
                              "off, so nothing fetched can be answered", id="onfile.E052",
                              hint="Set ONFILE_EMAIL_REPLY_DOMAIN to the domain whose mail lands in this mailbox."))
    done, box = settings.IMAP_DONE_MAILBOX.strip(), (settings.IMAP_MAILBOX or "INBOX").strip()
    if done and (done == box or done.upper() == box.upper() == "INBOX"):
        messages.append(Error("ONFILE_IMAP_DONE_MAILBOX is the polled mailbox itself", id="onfile.E053",
                              hint="Use another mailbox (e.g. onfile-processed), or empty to delete processed mail."))
    if not 0 < settings.IMAP_PORT < 65536 or settings.IMAP_POLL_SECONDS < 1 or settings.IMAP_MAX_MB < 0:
        messages.append(Error("ONFILE_IMAP_PORT, ONFILE_IMAP_POLL_SECONDS or ONFILE_IMAP_MAX_MB is out of range",
                              id="onfile.E054", hint="A port from 1 to 65535, at least 1 second, 0 MB or more."))
    if settings.IMAP_SECURITY == "none" and settings.IMAP_HOST not in LOOPBACK:
        messages.append(Warning("ONFILE_IMAP_SECURITY=none: the mailbox password and the replies cross the network "
                                "in clear", id="onfile.W050", hint="Use tls (993) or starttls (143)."))
    return messages


@register("onfile")
def check_email_grouping(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Journal granularity, size and envelope, burst window (ids onfile.E036…E039, W033)."""
    messages: list[CheckMessage] = []
    if settings.JOURNAL_MODE not in ("message", "day"):
        messages.append(Error(f"ONFILE_JOURNAL_MODE={settings.JOURNAL_MODE!r} is not 'message' or 'day'",
                              id="onfile.E036", hint="message: one email per message; day: one per conversation "
                                                     "per day (in ONFILE_TIME_ZONE)."))
    if not 0 <= settings.JOURNAL_DAY_GRACE_MINUTES <= 24 * 60:
        messages.append(Error(f"ONFILE_JOURNAL_DAY_GRACE_MINUTES={settings.JOURNAL_DAY_GRACE_MINUTES} is out of range",
                              id="onfile.E037", hint="From 0 to 1440 minutes after the end of the day."))
    if not 0 <= settings.EMAIL_BURST_SECONDS <= 3600:
        messages.append(Error(f"ONFILE_EMAIL_BURST_SECONDS={settings.EMAIL_BURST_SECONDS} is out of range",
                              id="onfile.E038", hint="0 (one email per message) to 3600: a client's message is held "
                                                     "that long at most before it is emailed."))
    if not 1 <= settings.JOURNAL_MAX_MB <= 1024:
        messages.append(Error(f"ONFILE_JOURNAL_MAX_MB={settings.JOURNAL_MAX_MB} is out of range", id="onfile.E039",
                              hint="1 to 1024 MB: a conversation-day email is split into parts of about this size; "
                                   "use the archive's or relay's message size limit."))
    if settings.JOURNAL_ENVELOPE and not settings.JOURNAL_ADDRESS:
        messages.append(Warning("ONFILE_JOURNAL_ENVELOPE is on but ONFILE_JOURNAL_ADDRESS is empty: nothing is "
                                "journaled", id="onfile.W033", hint="Set the archive's journaling address."))
    return messages


REPLY_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@register("onfile")
def check_email_replies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Replies by email: reply domain, token lifetime, holds, the window template (ids onfile.E060…, W060…)."""
    messages: list[CheckMessage] = []
    if not settings.EMAIL_REPLY_DOMAIN:
        if settings.EMAIL_WINDOW_TEMPLATE or settings.EMAIL_AUTHSERV_ID:
            messages.append(Warning("reply settings are present but ONFILE_EMAIL_REPLY_DOMAIN is empty: replies by "
                                    "email are off", id="onfile.W060",
                                    hint="Set ONFILE_EMAIL_REPLY_DOMAIN, or unset the other reply settings."))
        return messages
    if not REPLY_DOMAIN.match(settings.EMAIL_REPLY_DOMAIN):
        messages.append(Error(f"ONFILE_EMAIL_REPLY_DOMAIN={settings.EMAIL_REPLY_DOMAIN!r} is not a domain name",
                              id="onfile.E060", hint="A domain the gateway routes to onfile, e.g. "
                                                     "reply.firm.example (no @, no port)."))
    if not settings.SMTP_HOST:
        messages.append(Error("ONFILE_EMAIL_REPLY_DOMAIN is set but ONFILE_SMTP_HOST is not: no forward carries a "
                              "reply address, and refusals cannot be explained", id="onfile.E061",
                              hint="Set ONFILE_SMTP_HOST (and ONFILE_EMAIL_FROM) to the firm's relay."))
    if not 1 <= settings.EMAIL_REPLY_TOKEN_DAYS <= 3650 or not 1 <= settings.EMAIL_HOLD_DAYS <= 365:
        messages.append(Error("ONFILE_EMAIL_REPLY_TOKEN_DAYS or ONFILE_EMAIL_HOLD_DAYS is out of range",
                              id="onfile.E062", hint="Reply addresses: 1 to 3650 days; held replies: 1 to 365 days."))
    name, _, language = settings.EMAIL_WINDOW_TEMPLATE.partition(":")
    if settings.EMAIL_WINDOW_TEMPLATE and (not name.strip() or not language.strip() or ":" in language):
        messages.append(Error(f"ONFILE_EMAIL_WINDOW_TEMPLATE={settings.EMAIL_WINDOW_TEMPLATE!r} is not "
                              f"'name:language'", id="onfile.E063",
                              hint="An approved template's name and language, e.g. please_reply:en_GB."))
    if not settings.EMAIL_AUTHSERV_ID:
        messages.append(Warning("ONFILE_EMAIL_AUTHSERV_ID is not set: only the topmost Authentication-Results header "
                                "of a reply is trusted", id="onfile.W061",
                                hint="Set it to the authserv-id your mail gateway writes in Authentication-Results "
                                     "(e.g. mx.firm.example)."))
    return messages
