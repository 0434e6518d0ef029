"""TLS contexts for the email transports: the outbound relay, IMAP polling and ``onfile smtpd``.

Client side (relay and IMAP): the system's trust store, plus ``ONFILE_SMTP_CA_FILE`` when the firm
runs an internal CA; the certificate and the host name are always checked, and a connection that
cannot be secured is an error — never a silent fall back to plain text.
Server side (``onfile smtpd`` STARTTLS): the firm's certificate chain and key.
"""

from __future__ import annotations

import os
import ssl
from functools import lru_cache

from django.conf import settings


class TlsConfigError(OSError):
    """A certificate, key or CA bundle cannot be used; the message names the file and why.
    An ``OSError``: to the relay and IMAP code it is one more reason a connection cannot be made
    (the item stays pending with this error, visible), not a crash."""


def client_context() -> ssl.SSLContext:
    """Verifying context: system CAs, plus the firm's CA bundle (``ONFILE_SMTP_CA_FILE``) if set.
    Built once per CA file (loading the system's CAs takes ≈ 20 ms) and shared by connections."""
    ca_file = settings.SMTP_CA_FILE
    try:
        version = os.stat(ca_file).st_mtime_ns if ca_file else 0
    except OSError:
        version = -1  # reported by load_verify_locations below
    return _client_context(ca_file, version)


@lru_cache(maxsize=4)
def _client_context(ca_file: str, version: int) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsConfigError(f"ONFILE_SMTP_CA_FILE={ca_file!r} cannot be used as a CA bundle: {exc}") from None
    return context


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """For STARTTLS offered by ``onfile smtpd``: the certificate chain (PEM) and its private key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(f"the TLS certificate {cert_file!r} or key {key_file!r} cannot be used: {exc}") from None
    return context
