"""Validating the body of ``POST /{ver}/{phone_number_id}/messages`` (whatsapp.md B1, B2).

Design: ``parse_send`` turns a decoded JSON body into either a ``ReadReceipt`` (the
mark-as-read form) or a ``SendRequest``, raising ``GraphError`` with the documented code
for anything wrong: 131008 for a missing parameter, 100/131009 for a bad value, 132000/
132001 for templates (see ``templates.py``). One small checker per message type, in a
table, so adding a type is one function. The simulator is deliberately a little stricter
than Meta where Meta's leniency hides bugs: ``to`` must carry ``+`` and the country code
(Meta would prepend the business number's country code and maybe misdeliver).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from onfile.simulator.errors import GraphError, invalid, missing
from onfile.simulator.media import MediaStore
from onfile.simulator.templates import TemplateCatalog

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
BSUID = re.compile(r"^[A-Z]{2}\.[A-Za-z0-9]+$")
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
INTERACTIVE_TYPES = ("button", "list", "cta_url", "flow", "product", "product_list", "location_request_message",
                     "address_message", "call_permission_request")
MAX_TEXT = 4096


@dataclass
class ReadReceipt:
    message_id: str
    typing: bool = False


@dataclass
class SendRequest:
    type: str
    content: dict[str, Any]
    to: str | None = None
    recipient: str | None = None
    context_id: str | None = None
    callback_data: str | None = None
    rendered: dict[str, Any] | None = None

    @property
    def free_form(self) -> bool:
        return self.type != "template"

    @property
    def input(self) -> str:
        return self.to or self.recipient or ""


@dataclass
class Env:
    media: MediaStore
    catalog: TemplateCatalog
    now: float


def parse_send(body: Any, env: Env) -> ReadReceipt | SendRequest:
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    if body.get("messaging_product") != "whatsapp":
        raise GraphError(100, "The parameter messaging_product is required and must be 'whatsapp'.")
    if body.get("status") == "read":
        return _read_receipt(body)
    req = SendRequest(type=body.get("type") or "text", content={})
    _recipient(body, req)
    if req.type not in CHECKS and req.type != "contacts":
        raise invalid(f"Param type must be one of contacts, {', '.join(sorted(CHECKS))}; got '{req.type}'.")
    content = body.get(req.type)
    if req.type == "contacts":
        _contacts(content)
        req.content = {"contacts": content}
    elif not isinstance(content, dict):
        raise missing(req.type)
    else:
        req.content = content
        req.rendered = CHECKS[req.type](content, env)
    _context(body, req)
    callback = body.get("biz_opaque_callback_data")
    if callback is not None and (not isinstance(callback, str) or len(callback) > 512):
        raise invalid("biz_opaque_callback_data must be a string of at most 512 characters.")
    req.callback_data = callback
    return req


def _read_receipt(body: dict[str, Any]) -> ReadReceipt:
    message_id = body.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise missing("message_id")
    typing = body.get("typing_indicator")
    return ReadReceipt(message_id, isinstance(typing, dict) and typing.get("type") == "text")


def _recipient(body: dict[str, Any], req: SendRequest) -> None:
    if body.get("recipient_type", "individual") != "individual":
        raise invalid("The simulator supports recipient_type 'individual' only.")
    to, recipient = body.get("to"), body.get("recipient")
    if to is None and recipient is None:
        raise missing("to")
    if to is not None and recipient is not None:
        raise invalid("Use either 'to' or 'recipient', not both.")
    if to is not None:
        if not isinstance(to, str) or not E164.match(to.replace(" ", "")):
            raise invalid(f"Param 'to' must be a phone number in E.164 form with '+' and the country code, got {to!r}.")
        req.to = to
    else:
        if not isinstance(recipient, str) or not BSUID.match(recipient):
            raise invalid(f"Param 'recipient' must be a business-scoped user id like 'US.1349…', got {recipient!r}.")
        req.recipient = recipient


def _context(body: dict[str, Any], req: SendRequest) -> None:
    context = body.get("context")
    if context is None:
        return
    if req.type in ("reaction", "template"):
        raise invalid(f"context is not allowed on {req.type} messages.")
    if not isinstance(context, dict) or not isinstance(context.get("message_id"), str):
        raise missing("context['message_id']")
    req.context_id = context["message_id"]


# -- per-type checks: each returns the rendering for the phone (or None) ---------------------------
def _text(c: dict[str, Any], env: Env) -> None:
    text = c.get("body")
    if not isinstance(text, str) or not text:
        raise missing("text['body']")
    if len(text) > MAX_TEXT:
        raise invalid(f"Param text['body'] must be at most {MAX_TEXT} characters long.")
    if "preview_url" in c and not isinstance(c["preview_url"], bool):
        raise invalid("Param text['preview_url'] must be a boolean.")


def _media(kind: str) -> Callable[[dict[str, Any], Env], None]:
    def check(c: dict[str, Any], env: Env) -> None:
        has_id, has_link = "id" in c, "link" in c
        if has_id == has_link:
            raise invalid(f"Param {kind} must have exactly one of 'id' or 'link'.")
        if has_id and env.media.get(str(c["id"]), env.now) is None:
            raise invalid(f"Invalid media id {c['id']!r} in {kind}['id'].")
        if has_link and not (isinstance(c["link"], str) and c["link"].startswith(("http://", "https://"))):
            raise invalid(f"Param {kind}['link'] must be an http(s) URL.")
        if "caption" in c and kind in ("audio", "sticker"):
            raise invalid(f"{kind} messages take no caption.")
        if "filename" in c and kind != "document":
            raise invalid(f"filename is only allowed on document messages, not {kind}.")
    return check


def _location(c: dict[str, Any], env: Env) -> None:
    for key in ("latitude", "longitude"):
        if key not in c:
            raise missing(f"location['{key}']")
        try:
            float(c[key])
        except (TypeError, ValueError):
            raise invalid(f"Param location['{key}'] must be a number.") from None


def _contacts(c: Any) -> None:
    if not isinstance(c, list) or not c:
        raise missing("contacts")
    for card in c:
        name = card.get("name") if isinstance(card, dict) else None
        if not isinstance(name, dict) or not isinstance(name.get("formatted_name"), str):
            raise missing("contacts[]['name']['formatted_name']")


def _reaction(c: dict[str, Any], env: Env) -> None:
    if not isinstance(c.get("message_id"), str) or not c["message_id"]:
        raise missing("reaction['message_id']")
    if not isinstance(c.get("emoji", ""), str):
        raise invalid("Param reaction['emoji'] must be a string.")


def _interactive(c: dict[str, Any], env: Env) -> None:
    kind = c.get("type")
    if kind not in INTERACTIVE_TYPES:
        raise invalid(f"Param interactive['type'] must be one of {', '.join(INTERACTIVE_TYPES)}.")
    action = c.get("action")
    if kind not in ("product",) and not isinstance(action, dict):
        raise missing("interactive['action']")
    if kind in ("button", "list", "cta_url", "flow", "location_request_message") and not (
            isinstance(c.get("body"), dict) and isinstance(c["body"].get("text"), str)):
        raise missing("interactive['body']['text']")
    if kind == "button":
        _reply_buttons(action)
    elif kind == "list":
        _list_sections(action)


def _reply_buttons(action: Any) -> None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise invalid("interactive['action']['buttons'] must hold 1 to 3 buttons.")
    for b in buttons:
        reply = b.get("reply") if isinstance(b, dict) else None
        if not isinstance(reply, dict) or not reply.get("id") or not reply.get("title"):
            raise missing("interactive['action']['buttons'][]['reply']['id'/'title']")
        if len(str(reply["title"])) > 20:
            raise invalid("A reply button title is at most 20 characters.")


def _list_sections(action: Any) -> None:
    if not isinstance(action.get("button"), str):
        raise missing("interactive['action']['button']")
    sections = action.get("sections")
    if not isinstance(sections, list) or not sections:
        raise missing("interactive['action']['sections']")
    for section in sections:
        rows = section.get("rows") if isinstance(section, dict) else None
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) and r.get("id") for r in rows):
            raise invalid("Every list section needs rows with an id and a title.")


def _template(c: dict[str, Any], env: Env) -> dict[str, Any]:
    return env.catalog.check_send(c)


CHECKS: dict[str, Callable[[dict[str, Any], Env], Any]] = {
    "text": _text, "location": _location, "reaction": _reaction, "interactive": _interactive,
    "template": _template, **{kind: _media(kind) for kind in MEDIA_TYPES},
}
