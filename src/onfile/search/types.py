"""What the search facade takes and gives back (the web UI and the CLI use these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils.safestring import SafeString

ORDERS = ("newest", "oldest", "relevance")


@dataclass(frozen=True)
class SearchFilters:
    """Everything is optional; what is given must all hold.

    ``sent_from`` / ``sent_to`` are inclusive; a ``date`` means the whole day in the
    installation's time zone (``ONFILE_TIME_ZONE``), a naive ``datetime`` is read in it too.
    ``staff`` is a user id: conversations assigned to them, and messages they sent.
    """

    client: int | None = None  # Client id
    matter: int | None = None  # Matter id
    staff: int | None = None  # User id
    firm_number: int | None = None  # FirmNumber id (not the phone_number_id)
    sent_from: date | datetime | None = None
    sent_to: date | datetime | None = None
    direction: str | None = None  # "in" | "out" | "system"
    type: str | None = None  # "text", "image", "document", "voice", …
    has_attachment: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        """The filters that are set, JSON-ready (for the ledger entry of the search)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is None:
                continue
            out[name] = value.isoformat() if isinstance(value, date) else value
        return out


@dataclass(frozen=True)
class SearchHit:
    message_id: int
    conversation_id: int
    conversation_title: str
    client_id: int | None
    client_name: str
    matter_id: int | None
    matter_reference: str
    sent_at: datetime
    direction: str
    type: str
    sender: str  # the sender's name as recorded, else their number
    has_attachment: bool
    snippet_html: SafeString  # escaped text, matches in <mark>…</mark>: render as is
    snippet_text: str  # plain text, matches in [[…]]
    # Set when the match is in an earlier text of the message (edited or deleted by its sender;
    # compliance roles only) and not in its text as it is now: when that earlier text was replaced.
    earlier_text_replaced_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "conversation_id": self.conversation_id,
                "conversation_title": self.conversation_title, "client_id": self.client_id,
                "client_name": self.client_name, "matter_id": self.matter_id,
                "matter_reference": self.matter_reference, "sent_at": self.sent_at.isoformat(),
                "direction": self.direction, "type": self.type, "sender": self.sender,
                "has_attachment": self.has_attachment, "snippet": self.snippet_text,
                "snippet_html": str(self.snippet_html),
                "found_in_earlier_text": self.earlier_text_replaced_at is not None,
                "earlier_text_replaced_at": (self.earlier_text_replaced_at.isoformat()
                                             if self.earlier_text_replaced_at else None)}


@dataclass(frozen=True)
class SearchPage:
    query: str
    filters: SearchFilters
    order: str
    page: int
    per_page: int
    hits: list[SearchHit] = field(default_factory=list)
    total: int = 0  # matching messages, counted up to COUNT_LIMIT
    total_is_exact: bool = True  # False: there are more than ``total``
    counted: bool = True  # False: asked not to count (``total`` is then what is known without counting)
    has_next: bool = False
    engine: str = ""
    phone_numbers: tuple[str, ...] = ()  # E.164, when the query was read as a phone number

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def first_index(self) -> int:
        """1-based position of the first hit on this page (0 when there is none)."""
        return (self.page - 1) * self.per_page + 1 if self.hits else 0

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "filters": self.filters.as_dict(), "order": self.order, "page": self.page,
                "per_page": self.per_page, "total": self.total, "total_is_exact": self.total_is_exact,
                "counted": self.counted, "has_next": self.has_next, "engine": self.engine,
                "phone_numbers": list(self.phone_numbers),
                "hits": [h.as_dict() for h in self.hits]}
