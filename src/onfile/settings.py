"""Django settings for onfile, read once from the environment.

Defaults run with no configuration at all: SQLite and files under ``ONFILE_DATA_DIR``
(``./onfile-data``). ``ONFILE_DATABASE_URL=postgresql://…`` switches to PostgreSQL.
Every secret may also come from ``NAME_FILE``. Misconfiguration is reported by the system
checks in ``onfile.checks`` (ids ``onfile.E…``/``onfile.W…``), not by crashing here.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url

from onfile.env import env_bool, env_int, env_list, env_secret, env_str

DATA_DIR = Path(env_str("ONFILE_DATA_DIR", "onfile-data")).expanduser().resolve()
KEYS_DIR = DATA_DIR / "keys"
BLOB_DIR = DATA_DIR / "blobs"
EXPORT_DIR = DATA_DIR / "exports"  # export files made by the worker, sealed; deleted at expiry

DEBUG = env_bool("ONFILE_DEBUG", False)
PUBLIC_URL = env_str("ONFILE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
BEHIND_TLS = PUBLIC_URL.startswith("https://")


def _secret_key() -> str:
    configured = env_secret("ONFILE_SECRET_KEY")
    if configured:
        return configured
    stored = KEYS_DIR / "secret-key"
    try:
        return stored.read_text(encoding="ascii").strip()
    except OSError:
        # Not initialised yet (``onfile init`` writes the file). A random key keeps
        # sessions from being forgeable meanwhile; the check onfile.W001 says so.
        return "ephemeral-" + secrets.token_urlsafe(48)


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ONFILE_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL] if PUBLIC_URL.startswith("http") else []

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "onfile.accounts",
    "onfile.ledger",
    "onfile.conversations",
    "onfile.imports",
    "onfile.outbox",
    "onfile.channels.whatsapp",
    "onfile.channels.email",
    "onfile.web",
    "onfile.ops",
    "onfile.search",
    "onfile.exports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "onfile.web.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "onfile.accounts.middleware.SessionPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "onfile.urls"
WSGI_APPLICATION = "onfile.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "builtins": ["onfile.web.templatetags.onfile_tags"],
        },
    },
]

DATABASE_URL = env_secret("ONFILE_DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "onfile.sqlite3"),
            # Keep connections: opening one runs the PRAGMAs below, which costs more than a capture.
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # IMMEDIATE: writers queue for the lock instead of failing with "database is
                # locked" when a read transaction tries to upgrade. WAL + synchronous=FULL: a
                # commit is on disk when it returns (ARCHITECTURE invariant 1).
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                # wal_autocheckpoint: copying the WAL back into the database inside a commit
                # halves capture throughput; the worker checkpoints in the background
                # (onfile.ops.worker) and this larger bound is only the safety net.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                    "PRAGMA busy_timeout=30000; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=20000;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions: short-lived, HTTP-only, strict; secure cookies whenever served over TLS.
# An absolute lifetime from sign-in and an idle timeout, both enforced by
# onfile.accounts.middleware.SessionPolicyMiddleware (Django alone only has a sliding expiry).
SESSION_ABSOLUTE_SECONDS = env_int("ONFILE_SESSION_HOURS", 12) * 3600
SESSION_IDLE_SECONDS = env_int("ONFILE_SESSION_IDLE_MINUTES", 30) * 60
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = BEHIND_TLS
CSRF_COOKIE_SECURE = BEHIND_TLS
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if BEHIND_TLS:
    SECURE_HSTS_SECONDS = 31536000
    SECURE_SSL_REDIRECT = env_bool("ONFILE_SSL_REDIRECT", False)
if env_bool("ONFILE_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("ONFILE_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_str("ONFILE_STATIC_ROOT") or None  # served from the apps by whitenoise
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

# onfile's own settings.
LOG_ORIGIN = env_str("ONFILE_LOG_ORIGIN", "onfile.local/ledger")
# The firm's name as printed on exports (transcript headers); empty: the firm number's display name.
FIRM_NAME = env_str("ONFILE_FIRM_NAME")
CHECKPOINT_INTERVAL_SECONDS = env_int("ONFILE_CHECKPOINT_INTERVAL", 900)
VERIFY_INTERVAL_SECONDS = env_int("ONFILE_VERIFY_INTERVAL", 24 * 3600)
RECONCILE_INTERVAL_SECONDS = env_int("ONFILE_RECONCILE_INTERVAL", 24 * 3600)
INLINE_BLOB_LIMIT = env_int("ONFILE_INLINE_BLOB_LIMIT", 256 * 1024)
MASTER_KEY = env_secret("ONFILE_MASTER_KEY")  # base64; default: KEYS_DIR / "master.key"
# How to read phone numbers written without a country code (search: "07700 900123").
DEFAULT_REGION = env_str("ONFILE_DEFAULT_REGION", "GB").strip().upper()
# Exports asked for on the web (onfile.exports.jobs): a conversation with more messages than this is
# exported by the worker, kept (sealed) for ONFILE_EXPORT_KEEP_HOURS, then deleted; a job still running
# after ONFILE_EXPORT_TIMEOUT_MINUTES is taken to have lost its worker and is tried again (or failed).
EXPORT_BACKGROUND_MESSAGES = env_int("ONFILE_EXPORT_BACKGROUND_MESSAGES", 2000)
EXPORT_KEEP_HOURS = env_int("ONFILE_EXPORT_KEEP_HOURS", 24)
EXPORT_TIMEOUT_MINUTES = env_int("ONFILE_EXPORT_TIMEOUT_MINUTES", 30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("ONFILE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# WhatsApp Business Platform (Cloud API). With no access token configured, `onfile serve`
# starts the local simulator and points these at it.
WHATSAPP_GRAPH_URL = env_str("ONFILE_WHATSAPP_GRAPH_URL", "https://graph.facebook.com").rstrip("/")
WHATSAPP_API_VERSION = env_str("ONFILE_WHATSAPP_API_VERSION", "v25.0")
WHATSAPP_APP_SECRET = env_secret("ONFILE_WHATSAPP_APP_SECRET")
WHATSAPP_VERIFY_TOKEN = env_secret("ONFILE_WHATSAPP_VERIFY_TOKEN")
WHATSAPP_ACCESS_TOKEN = env_secret("ONFILE_WHATSAPP_ACCESS_TOKEN")
WHATSAPP_WABA_ID = env_str("ONFILE_WHATSAPP_WABA_ID")
# Firm numbers: "PHONE_NUMBER_ID:+E164[:Display name[:team]]", comma-separated.
WHATSAPP_NUMBERS = env_list("ONFILE_WHATSAPP_NUMBERS")
# Templates offered when the 24-hour window is closed: "name:language[:parameter count]", comma-separated;
# empty means "ask the Graph API".
WHATSAPP_TEMPLATES = env_list("ONFILE_WHATSAPP_TEMPLATES")
WHATSAPP_MAX_BODY = env_int("ONFILE_WHATSAPP_MAX_BODY", 3 * 1024 * 1024 + 65536)
WHATSAPP_MEDIA_MAX = env_int("ONFILE_WHATSAPP_MEDIA_MAX", 100 * 1024 * 1024)
CLOCK_OFFSET_FILE = env_str("ONFILE_CLOCK_OFFSET_FILE")
# Commit concurrent webhook captures together (see channels/whatsapp/webhook.py); off in the
# in-process test suite, whose requests run inside one test transaction.
WEBHOOK_GROUP_COMMIT = env_bool("ONFILE_WEBHOOK_GROUP_COMMIT", True)
DATA_UPLOAD_MAX_MEMORY_SIZE = WHATSAPP_MAX_BODY

# Sign-in (onfile.accounts): lockout after repeated failures, per account and per client
# address, counted in the database; TOTP two-factor, required for the roles below.
LOGIN_FAILURE_WINDOW_SECONDS = env_int("ONFILE_LOGIN_WINDOW_MINUTES", 15) * 60
LOGIN_LOCKOUT_SECONDS = env_int("ONFILE_LOGIN_LOCKOUT_MINUTES", 15) * 60
LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("ONFILE_LOGIN_MAX_FAILURES", 5)
LOGIN_MAX_FAILURES_PER_IP = env_int("ONFILE_LOGIN_MAX_FAILURES_PER_IP", 20)
TOTP_MAX_FAILURES = env_int("ONFILE_TOTP_MAX_FAILURES", 5)
TOTP_REQUIRED_ROLES = env_list("ONFILE_TOTP_REQUIRED_ROLES", "admin,compliance,auditor")
TOTP_ISSUER = env_str("ONFILE_TOTP_ISSUER", "onfile")
# The client address for rate limiting: REMOTE_ADDR, or with ONFILE_BEHIND_PROXY the address the
# proxy appended last to X-Forwarded-For (the one a client cannot forge).
TRUST_X_FORWARDED_FOR = env_bool("ONFILE_BEHIND_PROXY", False)

# Single sign-on with OpenID Connect (onfile.accounts.sso). Off unless issuer and client id are set.
OIDC_ISSUER = env_str("ONFILE_OIDC_ISSUER").rstrip("/")
OIDC_CLIENT_ID = env_str("ONFILE_OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_secret("ONFILE_OIDC_CLIENT_SECRET")
OIDC_SCOPES = env_str("ONFILE_OIDC_SCOPES", "openid email profile")
OIDC_GROUPS_CLAIM = env_str("ONFILE_OIDC_GROUPS_CLAIM", "groups")
# "group=role,group=role": the first pair whose group the user is in gives the role.
OIDC_ROLE_MAP = env_list("ONFILE_OIDC_ROLE_MAP")
OIDC_EMAIL_CLAIM = env_str("ONFILE_OIDC_EMAIL_CLAIM", "email")
# The claim that must be true for the email to be trusted; empty: the provider's email is trusted as is.
OIDC_EMAIL_VERIFIED_CLAIM = env_str("ONFILE_OIDC_EMAIL_VERIFIED_CLAIM", "email_verified")
OIDC_BUTTON_LABEL = env_str("ONFILE_OIDC_BUTTON_LABEL", "single sign-on")
# Whether the provider did two-factor, from the ID token: an `amr` (RFC 8176 authentication method
# references) value below, or an `acr` below. Otherwise a role in TOTP_REQUIRED_ROLES goes through
# onfile's own TOTP step after the provider. Only "mfa" by default: it is the one RFC 8176 value
# that asserts more than one factor by itself, and what Entra ID sends after MFA. The others name a
# single method (pwd, kba, pin; otp, sms, tel, hwk, swk, sc, pop; fpt, face, ...): "otp" or "sms"
# alone is a passwordless one-time code (Entra's SMS or email sign-in), "hwk" alone a key without
# proof of a PIN, so listing them would let one factor pass for two; "mca" means several channels,
# not several factors.
OIDC_MFA_AMR = env_list("ONFILE_OIDC_MFA_AMR", "mfa")
# `acr` values (exact) that mean two-factor at this provider, e.g. Keycloak's level of the step-up
# flow, or "http://schemas.openid.net/pape/policies/2007/06/multi-factor". None by default: acr
# values are each provider's own.
OIDC_MFA_ACR = env_list("ONFILE_OIDC_MFA_ACR")
OIDC_ENABLED = bool(OIDC_ISSUER and OIDC_CLIENT_ID)

# Email (onfile.channels.email): client messages forwarded to staff, and every message journaled to the
# firm's archive, through the firm's SMTP relay. Off while ONFILE_SMTP_HOST is empty.
SMTP_HOST = env_str("ONFILE_SMTP_HOST").strip()
SMTP_SECURITY = env_str("ONFILE_SMTP_SECURITY", "starttls").strip().lower()  # none | starttls | tls
SMTP_PORT = env_int("ONFILE_SMTP_PORT", {"tls": 465, "none": 25}.get(SMTP_SECURITY, 587))
SMTP_USER = env_str("ONFILE_SMTP_USER")
SMTP_PASSWORD = env_secret("ONFILE_SMTP_PASSWORD")
SMTP_CONNECTIONS = env_int("ONFILE_SMTP_CONNECTIONS", 4)  # relay sessions the worker sends over at once
SMTP_TIMEOUT = env_int("ONFILE_SMTP_TIMEOUT", 20)  # seconds per SMTP step (below the outbox lease)
EMAIL_FROM = env_str("ONFILE_EMAIL_FROM")
EMAIL_FALLBACK = env_str("ONFILE_EMAIL_FALLBACK")  # when a conversation has no assignee and no team mailbox
EMAIL_DOMAIN = env_str("ONFILE_EMAIL_DOMAIN")  # right-hand side of Message-IDs; empty: this host's name
EMAIL_MAX_ATTACHMENT_MB = env_int("ONFILE_EMAIL_MAX_ATTACHMENT_MB", 10)  # larger files: a link instead
JOURNAL_ADDRESS = env_str("ONFILE_JOURNAL_ADDRESS")  # the archive's journaling address (compliance.md 2.5)
# A conversation-day EML (journal or filing digest) is split into parts of about this size (REQ-EML-2).
JOURNAL_MAX_MB = env_int("ONFILE_JOURNAL_MAX_MB", 20)
# Domains a matter's filing address may be in (comma-separated; the document system's). Empty: any.
FILING_DOMAINS = env_str("ONFILE_FILING_DOMAINS")
# Journal granularity (REQ-EML-2): "message" (one EML per message) or "day" (one per conversation per day in
# ONFILE_TIME_ZONE, sent ONFILE_JOURNAL_DAY_GRACE_MINUTES after the day ends; also the daily filing digests).
JOURNAL_MODE = env_str("ONFILE_JOURNAL_MODE", "message").strip().lower()
JOURNAL_DAY_GRACE_MINUTES = env_int("ONFILE_JOURNAL_DAY_GRACE_MINUTES", 30)
JOURNAL_ENVELOPE = env_bool("ONFILE_JOURNAL_ENVELOPE", False)  # Exchange-style envelope journal reports (REQ-EML-3)
EMAIL_BURST_SECONDS = env_int("ONFILE_EMAIL_BURST_SECONDS", 0)  # a client's messages within N s: one email; 0 = each
# Replies by email (onfile.channels.email.inbound): forwards carry Reply-To reply+TOKEN@<this domain>; off while empty.
EMAIL_REPLY_DOMAIN = env_str("ONFILE_EMAIL_REPLY_DOMAIN").strip().lower()
EMAIL_REPLY_TOKEN_DAYS = env_int("ONFILE_EMAIL_REPLY_TOKEN_DAYS", 90)  # a reply token is accepted this long
# Authentication-Results ids of the firm's own gateway (comma-separated); empty: only the topmost header counts.
EMAIL_AUTHSERV_ID = [item.lower() for item in env_list("ONFILE_EMAIL_AUTHSERV_ID")]
EMAIL_WINDOW_TEMPLATE = env_str("ONFILE_EMAIL_WINDOW_TEMPLATE").strip()  # "name:language", sent when a reply is held
EMAIL_HOLD_DAYS = env_int("ONFILE_EMAIL_HOLD_DAYS", 7)  # a reply held for a closed window expires after this

# Replies by email, inbound transports (onfile.channels.email.smtpd and .imap): the firm's gateway
# routes the reply domain to `onfile smtpd`, or onfile polls a mailbox over IMAP. The CA bundle is
# for a firm's internal CA, used for the outbound relay and IMAP alike.
SMTP_CA_FILE = env_str("ONFILE_SMTP_CA_FILE").strip()
SMTPD_HOST = env_str("ONFILE_SMTPD_HOST", "127.0.0.1").strip()
SMTPD_PORT = env_int("ONFILE_SMTPD_PORT", 2525)
SMTPD_MAX_MB = env_int("ONFILE_SMTPD_MAX_MB", 50)
SMTPD_TLS_CERT = env_str("ONFILE_SMTPD_TLS_CERT").strip()
SMTPD_TLS_KEY = env_str("ONFILE_SMTPD_TLS_KEY").strip()
SMTPD_REQUIRE_TLS = env_bool("ONFILE_SMTPD_REQUIRE_TLS", False)
IMAP_HOST = env_str("ONFILE_IMAP_HOST").strip()  # empty: no polling
IMAP_SECURITY = env_str("ONFILE_IMAP_SECURITY", "tls").strip().lower()  # tls | starttls | none
IMAP_PORT = env_int("ONFILE_IMAP_PORT", 993 if IMAP_SECURITY == "tls" else 143)
IMAP_USER = env_str("ONFILE_IMAP_USER")
IMAP_PASSWORD = env_secret("ONFILE_IMAP_PASSWORD")
IMAP_MAILBOX = env_str("ONFILE_IMAP_MAILBOX", "INBOX")
IMAP_DONE_MAILBOX = env_str("ONFILE_IMAP_DONE_MAILBOX", "onfile-processed")  # empty: delete and expunge
IMAP_POLL_SECONDS = env_int("ONFILE_IMAP_POLL_SECONDS", 60)
IMAP_MAX_MB = env_int("ONFILE_IMAP_MAX_MB", SMTPD_MAX_MB)  # larger mail is left in the mailbox, with an alert
IMAP_TIMEOUT = env_int("ONFILE_IMAP_TIMEOUT", 30)  # seconds per network operation
