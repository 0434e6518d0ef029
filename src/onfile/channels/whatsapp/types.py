"""The records ``split_webhook`` yields: one ``WebhookItem`` per thing a webhook body carries.

Plain frozen dataclasses, no Django, so the parser stays pure and testable. Field names
follow the Cloud API where there is one (``wamid`` is the API's ``id``). Every field that
comes from the payload is optional: the parser never trusts Meta's shapes (whatsapp.md A4
warns several are inconsistent or unverified), so a missing or wrongly typed field is
``None`` plus a note in ``WebhookItem.problems``, never an exception.

The ``dict`` and ``list`` fields are the JSON exactly as received (the same objects as in
``raw``, not copies): treat them as read-only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypedDict

ItemKind = Literal["message", "echo", "status", "error", "history_message", "history_error", "state_sync", "unknown"]


class Reaction(TypedDict):
    """A reaction; ``emoji`` None or "" means the user removed their reaction (A5)."""

    message_id: str | None
    emoji: str | None


class HistoryInfo(TypedDict):
    """Where a history item sits in the one-off coexistence history sync (C3).

    Sort chunks by ``(phase, chunk_order)``; ``progress`` 100 means the sync is complete.
    ``thread_id`` (the user's number) and ``status`` (``history_context.status``: DELIVERED,
    ERROR, PENDING, PLAYED, READ, SENT) are None on history-level errors.
    """

    phase: int | None
    chunk_order: int | None
    progress: int | None
    thread_id: str | None
    status: str | None


# ``dataclasses.field`` is spelled out below: WebhookItem has a field named ``field``.


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A media object of an image, video, audio, document or sticker message (A5).

    ``sha256`` is kept exactly as given: Meta sends hex in some payloads and base64 in others.
    ``url`` is short-lived and needs the bearer token; the ``id`` is what lasts (7 days).
    """

    kind: str
    id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    filename: str | None = None
    caption: str | None = None
    voice: bool | None = None
    animated: bool | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class MessageContext:
    """``context`` of a message: what it replies to, whether it was forwarded (A5)."""

    reply_to: str | None = None
    reply_to_from: str | None = None
    forwarded: bool = False
    frequently_forwarded: bool = False
    referred_product: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message as the API describes it: an inbound message, an echo or a history message.

    ``text`` is something readable for every type that has content: the body of a text, the
    caption of media, a rendering of locations, contacts, interactive and button replies,
    orders and system messages, the emoji of a reaction, the new text of an edit. It is None
    when the payload has nothing to show (media without caption, revoke, request_welcome,
    unsupported, media_placeholder): ``type`` then says what it was.

    For items of kind message, echo and history_message the parser guarantees ``wamid``,
    ``type`` and ``timestamp`` are set (an item lacking one is kind "unknown"). ``edited``,
    the new content of an edit, has no id, sender or time of its own: those are None there.
    """

    wamid: str | None
    type: str | None
    timestamp: datetime | None
    from_wa_id: str | None = None
    from_user_id: str | None = None
    to: str | None = None
    to_user_id: str | None = None
    profile_name: str | None = None
    username: str | None = None
    text: str | None = None
    media: MediaRef | None = None
    location: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] | None = None
    interactive: dict[str, Any] | None = None
    button: dict[str, Any] | None = None
    reaction: Reaction | None = None
    order: dict[str, Any] | None = None
    system: dict[str, Any] | None = None
    identity_change: dict[str, Any] | None = None
    referral: dict[str, Any] | None = None
    context: MessageContext | None = None
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    unsupported_type: str | None = None
    revoke_of: str | None = None
    edit_of: str | None = None
    edited: InboundMessage | None = None
    history_status: str | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A status of a message the business sent (A6). ``recipient_id`` is a group id when
    ``recipient_type`` is "group"; the member is then ``recipient_participant_id``."""

    wamid: str | None
    status: str | None
    timestamp: datetime | None
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    recipient_type: str | None = None
    recipient_participant_id: str | None = None
    recipient_participant_user_id: str | None = None
    recipient_identity_key_hash: str | None = None
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    pricing: dict[str, Any] | None = None
    conversation: dict[str, Any] | None = None
    biz_opaque_callback_data: str | None = None


@dataclass(frozen=True, slots=True)
class ContactSync:
    """One ``smb_app_state_sync`` entry: a contact staff saved or removed in the app (C4).
    ``action`` "add" covers edits too; names are absent on "remove"."""

    type: str | None
    action: str | None
    full_name: str | None = None
    first_name: str | None = None
    phone_number: str | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class WebhookItem:
    """One item of a webhook body, with the idempotency key the archive deduplicates on.

    ``raw`` is the item's own JSON exactly as received. For kind "unknown" it is whatever
    could not be understood: a change (for an unknown ``field``), a one-key object
    ``{key: value}`` cut from ``value`` (for an unknown array), or a malformed element.
    """

    field: str | None
    kind: ItemKind
    identity: str
    raw: Any
    waba_id: str | None = None
    phone_number_id: str | None = None
    display_phone_number: str | None = None
    contact: dict[str, Any] | None = None
    message: InboundMessage | None = None
    status: StatusUpdate | None = None
    error: dict[str, Any] | None = None
    history: HistoryInfo | None = None
    state_sync: ContactSync | None = None
    problems: list[str] = dataclasses.field(default_factory=list)
