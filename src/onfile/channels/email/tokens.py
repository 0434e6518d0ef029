"""Reply tokens: who may answer which conversation by replying to a forwarded email.

Each forward carries ``Reply-To: reply+TOKEN@<ONFILE_EMAIL_REPLY_DOMAIN>``. The token names
the conversation, the member of staff the forward went to (or nobody in particular, for a team
mailbox or the fallback address) and the minute it was issued, and is authenticated with a
truncated HMAC-SHA256 under a sub-key derived from the master key. Nothing is stored: a token
is checked by recomputing its MAC, so every forward can carry a fresh one.

Layout (30 bytes → 48 base32 characters)::

    version:1 | conversation id:5 | user id:4 (0 = team/fallback) | issued, minutes since 1970:4 | MAC:16

Lower-case base32 without padding: mail gateways lower-case local parts, and the alphabet has no
characters that need quoting. ``reply+`` and the token make a 54-character local part, under
RFC 5321's 64. A 128-bit MAC cannot be guessed; a token that was altered (another
conversation, another user, a later date) fails the MAC like a made-up one.
"""

from __future__ import annotations

import base64
import hmac
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings

from onfile import clock
from onfile.conversations.models import Conversation
from onfile.ledger.keys import master_key

VERSION = 1
MAC_SIZE = 16
_PAYLOAD = struct.Struct(">B5sII")  # version, conversation id (40 bits), user id, issued minute
TOKEN_LENGTH = (_PAYLOAD.size + MAC_SIZE) * 8 // 5
LOCAL_PREFIX = "reply+"
# Anything after "reply+" is a candidate; the MAC decides whether it is a token.
_ADDRESS = re.compile(r"^reply\+([^@\s]+)@([^@\s]+)$", re.IGNORECASE)


class TokenError(ValueError):
    """The token is not one onfile issued, or no longer valid; the message says which, plainly."""

    def __init__(self, message: str, code: str = "bad-token") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ReplyToken:
    conversation_id: int
    user_id: int | None  # None: the forward went to a team mailbox or the fallback address
    issued_at: datetime
    text: str


def enabled() -> bool:
    return bool(settings.EMAIL_REPLY_DOMAIN)


@cache
def _key(key_id: str) -> bytes:
    return master_key().derive(b"email reply token v1")


def _mac(payload: bytes) -> bytes:
    return hmac.new(_key(master_key().key_id), payload, "sha256").digest()[:MAC_SIZE]


def issue(conversation_id: int, user_id: int | None, now: datetime | None = None) -> str:
    minute = int((now or clock.now()).timestamp() // 60)
    payload = _PAYLOAD.pack(VERSION, conversation_id.to_bytes(5, "big"), user_id or 0, minute)
    return base64.b32encode(payload + _mac(payload)).decode("ascii").lower()


def reply_address(conversation: Conversation, to: str) -> str:
    """The Reply-To of a forward to ``to``: bound to that member of staff when ``to`` is an
    active account's address, else to the conversation only (team mailbox, fallback)."""
    return f"{LOCAL_PREFIX}{issue(conversation.pk, staff_of(to.strip().lower()))}@{settings.EMAIL_REPLY_DOMAIN}"


_BATCH: ContextVar[dict[str, int | None] | None] = ContextVar("onfile_reply_staff", default=None)


@contextmanager
def one_lookup_per_address() -> Iterator[None]:
    """While a batch of emails is built, each address's account is looked up once (delivery.py)."""
    token = _BATCH.set({})
    try:
        yield
    finally:
        _BATCH.reset(token)


def staff_of(address: str) -> int | None:
    """The active account with this address, if any."""
    from onfile.accounts.models import User

    batch = _BATCH.get()
    if batch is not None and address in batch:
        return batch[address]
    pk = User.objects.filter(email__iexact=address, is_active=True).values_list("pk", flat=True).first()
    if batch is not None:
        batch[address] = pk
    return pk


def find(addresses: list[str]) -> str:
    """The first ``reply+…@<reply domain>`` among ``addresses`` (its token part), or ""."""
    domain = settings.EMAIL_REPLY_DOMAIN
    for address in addresses:
        match = _ADDRESS.match(address.strip().strip("<>"))
        if match and domain and match.group(2).lower() == domain:
            return match.group(1).lower()
    return ""


def verify(text: str, now: datetime | None = None) -> ReplyToken:
    """The token's content if onfile issued it and it has not expired; else ``TokenError``."""
    text = text.strip().lower()
    if len(text) != TOKEN_LENGTH or not re.fullmatch(r"[a-z2-7]+", text):
        raise TokenError("the reply address is not one onfile issued")
    raw = base64.b32decode(text.upper())
    payload, mac = raw[:_PAYLOAD.size], raw[_PAYLOAD.size:]
    if not hmac.compare_digest(mac, _mac(payload)):
        raise TokenError("the reply address is not one onfile issued (it was altered or made up)")
    version, conversation, user_id, minute = _PAYLOAD.unpack(payload)
    if version != VERSION:
        raise TokenError("the reply address is of an unknown version")
    issued = datetime.fromtimestamp(minute * 60, UTC)
    if (now or clock.now()) > issued + timedelta(days=settings.EMAIL_REPLY_TOKEN_DAYS):
        raise TokenError(f"the reply address has expired (it was issued on {issued:%d %b %Y}; reply addresses "
                         f"are valid for {settings.EMAIL_REPLY_TOKEN_DAYS} days)", "expired-token")
    return ReplyToken(int.from_bytes(conversation, "big"), user_id or None, issued, text)
