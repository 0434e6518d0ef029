"""Building the items of webhooks: inbound messages, statuses, echoes, history, errors.

Design: pure functions from a loose "spec" (what a test or the phone page asks for) to the
exact documented item shapes of whatsapp.md A5, A6, C2, C3 and C4. Specs accept both the
documented nested object (``{"type": "location", "location": {...}}``) and short forms
(``{"type": "text", "text": "hi"}``, media as ``data_b64`` + ``mime_type``), so tests stay
short while anything the docs allow can still be sent. Media bytes are stored in the
``MediaStore`` so the Graph media endpoints can serve them. Bad specs raise ``SpecError``
(HTTP 400 on the simulator API). Timestamps are strings of Unix seconds on the simulated
clock.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from onfile.simulator.config import BusinessNumber
from onfile.simulator.errors import status_error
from onfile.simulator.media import MediaStore
from onfile.simulator.state import Persona

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNk+A8AAQUBAScY42YAAAAASUVORK5CYII=")
DEFAULT_MEDIA = {
    "image": ("image/png", PNG_1X1, ""),
    "video": ("video/mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(64), ""),
    "audio": ("audio/ogg; codecs=opus", b"OggS" + bytes(64), ""),
    "document": ("application/pdf", b"%PDF-1.4\n% onfile simulator\n%%EOF\n", "document.pdf"),
    "sticker": ("image/webp", b"RIFF\x1a\x00\x00\x00WEBPVP8L" + bytes(14), ""),
}
MEDIA_KINDS = tuple(DEFAULT_MEDIA)
INBOUND_TYPES = ("text", *MEDIA_KINDS, "location", "contacts", "interactive", "button", "reaction", "order",
                 "system", "unsupported", "revoke", "edit", "request_welcome")
ECHO_TYPES = ("text", *MEDIA_KINDS, "location", "contacts", "reaction", "revoke", "edit")
HISTORY_DECLINED = 2593109


class SpecError(ValueError):
    pass


@dataclass
class Env:
    media: MediaStore
    now: int
    media_url: Callable[[str], str]
    sha256_encoding: str = "hex"
    phone_number_id: str = ""


# -- inbound messages ---------------------------------------------------------------------------------
def inbound_message(spec: dict[str, Any], persona: Persona, wamid: str, env: Env,
                    context: dict[str, Any] | None) -> dict[str, Any]:
    kind = spec.get("type", "text")
    if kind not in INBOUND_TYPES:
        raise SpecError(f"type must be one of {', '.join(INBOUND_TYPES)}")
    if kind == "edit" and spec.get("as_unsupported"):
        kind, spec = "unsupported", {**spec, "unsupported": {"type": "edit"}}
    item: dict[str, Any] = {}
    if persona.wa_id:
        item["from"] = persona.wa_id
    if persona.user_id:
        item["from_user_id"] = persona.user_id
    item.update(id=wamid, timestamp=str(int(spec.get("timestamp") or env.now)), type=kind)
    if context:
        item["context"] = context
    if isinstance(spec.get("referral"), dict):
        item["referral"] = spec["referral"]
    content = build_content(kind, spec, env, origin="inbound")
    if content is not None:
        item[kind] = content
    if kind == "unsupported":
        item["errors"] = [{**status_error(131051, "Message type is currently not supported."),
                           "message": "Message type unknown"}]
    return item


def build_content(kind: str, spec: dict[str, Any], env: Env, origin: str) -> Any:
    builder = BUILDERS.get(kind)
    return builder(spec, env, origin) if builder else None


def _given(spec: dict[str, Any], kind: str) -> dict[str, Any]:
    value = spec.get(kind)
    return dict(value) if isinstance(value, dict) else {}


def _text(spec: dict[str, Any], env: Env, origin: str) -> dict[str, Any]:
    value = spec.get("text", spec.get("body"))
    body = value.get("body") if isinstance(value, dict) else value
    if not isinstance(body, str) or not body:
        raise SpecError("text needs a non-empty 'text' (string) or 'text': {'body': ...}")
    return {"body": body}


def _media_builder(kind: str) -> Callable[[dict[str, Any], Env, str], dict[str, Any]]:
    def build(spec: dict[str, Any], env: Env, origin: str) -> dict[str, Any]:
        given = _given(spec, kind)
        default_mime, default_data, default_name = DEFAULT_MEDIA[kind]
        item = _store_media(spec, given, env, origin, default_mime, default_data)
        out: dict[str, Any] = {}
        caption = spec.get("caption", given.get("caption"))
        if caption and kind in ("image", "video", "document"):
            out["caption"] = caption
        if kind == "document":
            out["filename"] = spec.get("filename") or given.get("filename") or item.filename or default_name
        out.update(mime_type=item.mime_type, sha256=_encode_sha(item.sha256, env), id=item.id)
        if kind == "audio":
            out["voice"] = bool(spec.get("voice", given.get("voice", False)))
        if kind == "sticker":
            out["animated"] = bool(spec.get("animated", given.get("animated", False)))
        out["url"] = env.media_url(item.id)
        return out
    return build


def _store_media(spec: dict[str, Any], given: dict[str, Any], env: Env, origin: str, mime: str, data: bytes) -> Any:
    media_id = spec.get("media_id") or given.get("id")
    if media_id:
        existing = env.media.get(str(media_id))
        if existing is None:
            raise SpecError(f"unknown media_id {media_id}")
        return existing
    if spec.get("data_b64") is not None:
        try:
            data = base64.b64decode(spec["data_b64"], validate=True)
        except ValueError as exc:
            raise SpecError(f"data_b64 is not valid base64: {exc}") from None
    mime = spec.get("mime_type") or given.get("mime_type") or mime
    if spec.get("voice") and "mime_type" not in spec:
        mime = "audio/ogg; codecs=opus"
    return env.media.add(data, mime, filename=spec.get("filename") or "", origin=origin, now=env.now,
                         phone_number_id=env.phone_number_id)


def _encode_sha(hex_digest: str, env: Env) -> str:
    if env.sha256_encoding == "base64":
        return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")
    return hex_digest


def _location(spec: dict[str, Any], env: Env, origin: str) -> dict[str, Any]:
    given = _given(spec, "location") or {k: spec[k] for k in ("latitude", "longitude", "name", "address", "url")
                                         if k in spec}
    if "latitude" not in given or "longitude" not in given:
        raise SpecError("location needs latitude and longitude")
    return given


def _contacts(spec: dict[str, Any], env: Env, origin: str) -> list[Any]:
    cards = spec.get("contacts")
    if not isinstance(cards, list) or not cards:
        raise SpecError("contacts needs a non-empty 'contacts' array of vCard-like objects")
    return cards


def _interactive(spec: dict[str, Any], env: Env, origin: str) -> dict[str, Any]:
    given = _given(spec, "interactive")
    for kind in ("button_reply", "list_reply", "nfm_reply"):
        if isinstance(spec.get(kind), dict):
            given = {"type": kind, kind: spec[kind]}
    if given.get("type") not in ("button_reply", "list_reply", "nfm_reply") or not isinstance(
            given.get(given["type"]), dict):
        raise SpecError("interactive needs {'type': 'button_reply'|'list_reply'|'nfm_reply', <type>: {...}}")
    return given


def _button(spec: dict[str, Any], env: Env, origin: str) -> dict[str, Any]:
    given = _given(spec, "button") or {"payload": spec.get("payload", ""), "text": spec.get("text", "")}
    if not given.get("text"):
        raise SpecError("button needs 'text' (and usually 'payload')")
    return given


def _reaction(spec: dict[str, Any], env: Env, origin: str) -> dict[str, Any]:
    given = _given(spec, "reaction") or {k: spec[k] for k in ("message_id", "emoji") if k in spec}
    if not given.get("message_id"):
        raise SpecError("reaction needs message_id")
    if not given.get("emoji"):
        given.pop("emoji", None)  # removal: the documented "empty or missing" emoji
    return given


def _passthrough(kind: str, required: str) -> Callable[[dict[str, Any], Env, str], dict[str, Any]]:
    def build(spec: dict[str, Any], env: Env, origin: str) -> dict[str, Any]:
        given = _given(spec, kind)
        if required and required not in given:
            raise SpecError(f"{kind} needs '{kind}': {{'{required}': ...}}")
        return given
    return build


def _system(spec: dict[str, Any], env: Env, origin: str) -> dict[str, Any]:
    given = _given(spec, "system")
    given.setdefault("body", spec.get("body", "User changed number"))
    given.setdefault("type", spec.get("system_type", "user_changed_number"))
    return given


def _unsupported(spec: dict[str, Any], env: Env, origin: str) -> dict[str, Any]:
    given = _given(spec, "unsupported")
    given.setdefault("type", spec.get("unsupported_type", "unknown"))
    return given


def _revoke(spec: dict[str, Any], env: Env, origin: str) -> dict[str, Any]:
    original = spec.get("original_message_id") or _given(spec, "revoke").get("original_message_id")
    if not original:
        raise SpecError("revoke needs original_message_id")
    return {"original_message_id": original}


def _edit(spec: dict[str, Any], env: Env, origin: str) -> dict[str, Any]:
    given = _given(spec, "edit")
    original = spec.get("original_message_id") or given.get("original_message_id")
    message = given.get("message") or spec.get("message")
    if message is None and "text" in spec:
        message = {"type": "text", "text": _text(spec, env, origin)}
    if not original or not isinstance(message, dict):
        raise SpecError("edit needs original_message_id and message (or text)")
    return {"original_message_id": original, "message": message}


BUILDERS: dict[str, Callable[[dict[str, Any], Env, str], Any]] = {
    "text": _text, "location": _location, "contacts": _contacts, "interactive": _interactive, "button": _button,
    "reaction": _reaction, "order": _passthrough("order", "product_items"), "system": _system,
    "unsupported": _unsupported, "revoke": _revoke, "edit": _edit,
    **{kind: _media_builder(kind) for kind in MEDIA_KINDS},
}


# -- echoes, statuses, history, errors, state sync ----------------------------------------------------------
def echo_message(spec: dict[str, Any], persona: Persona, number: BusinessNumber, wamid: str,
                 env: Env) -> dict[str, Any]:
    kind = spec.get("type", "text")
    if kind not in ECHO_TYPES:
        raise SpecError(f"echo type must be one of {', '.join(ECHO_TYPES)}")
    item: dict[str, Any] = {"from": number.display_phone_number}
    if persona.wa_id:
        item["to"] = persona.wa_id
    if persona.user_id:
        item["to_user_id"] = persona.user_id
    item.update(id=wamid, timestamp=str(int(spec.get("timestamp") or env.now)), type=kind)
    item[kind] = build_content(kind, spec, env, origin="echo")
    return item


def status_item(wamid: str, status: str, now: int, persona: Persona, callback_data: str | None = None,
                pricing: dict[str, Any] | None = None, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(now)}
    if persona.wa_id:
        item["recipient_id"] = persona.wa_id
    if persona.user_id:
        item["recipient_user_id"] = persona.user_id
    if callback_data is not None:
        item["biz_opaque_callback_data"] = callback_data
    if pricing is not None:
        item["pricing"] = pricing
    if errors:
        item["errors"] = errors
    return item


def pricing(template_category: str | None, window_open: bool) -> dict[str, Any]:
    """Per-message pricing (PMP): service replies and utility templates inside the window are free."""
    if template_category is None:
        return {"billable": False, "pricing_model": "PMP", "type": "free_customer_service", "category": "service"}
    category = template_category.lower()
    if window_open and category == "utility":
        return {"billable": False, "pricing_model": "PMP", "type": "free_customer_service", "category": category}
    return {"billable": True, "pricing_model": "PMP", "type": "regular", "category": category}


def history_chunk(spec: dict[str, Any], number: BusinessNumber, env: Env,
                  new_wamid: Callable[[str, bool], str]) -> dict[str, Any]:
    if spec.get("declined"):
        return {"errors": [{"code": HISTORY_DECLINED, "title": "History sync is turned off by the business",
                            "message": "History sync is turned off by the business",
                            "error_data": {"details": "The business declined to share chat history at onboarding."},
                            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]}
    threads = spec.get("threads")
    if not isinstance(threads, list):
        raise SpecError("history needs 'threads': [{'id': '+4477…', 'messages': [...]}] or 'declined': true")
    meta = {"phase": int(spec.get("phase", 0)), "chunk_order": int(spec.get("chunk_order", 1)),
            "progress": int(spec.get("progress", 100))}
    return {"metadata": meta, "threads": [_thread(t, number, env, new_wamid) for t in threads]}


def _thread(spec: Any, number: BusinessNumber, env: Env, new_wamid: Callable[[str, bool], str]) -> dict[str, Any]:
    if not isinstance(spec, dict) or not spec.get("id"):
        raise SpecError("each history thread needs an 'id' (the user's number)")
    wa_id = str(spec["id"]).lstrip("+")
    messages = spec.get("messages", [])
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise SpecError("history messages must be objects")
        kind = m.get("type", "text")
        from_me = bool(m.get("from_me"))
        item: dict[str, Any] = {"from": number.display_phone_number if from_me else wa_id}
        if from_me:
            item["to"] = wa_id
        item.update(id=m.get("id") or new_wamid(wa_id, from_me),
                    timestamp=str(int(m.get("timestamp") or env.now - 3600 * (len(messages) - i))), type=kind)
        if kind != "media_placeholder":
            item[kind] = build_content(kind, m, env, origin="inbound")
        item["history_context"] = {"status": m.get("status", "READ")}
        out.append(item)
    return {"id": wa_id, "messages": out}


def value_error(spec: dict[str, Any]) -> dict[str, Any]:
    code = int(spec.get("code", 131000))
    err = status_error(code, str(spec.get("details", "Something went wrong")))
    if spec.get("title"):
        err["title"] = err["message"] = str(spec["title"])
    return err


def state_sync_item(spec: dict[str, Any], now: int) -> dict[str, Any]:
    phone = str(spec.get("phone_number", spec.get("phone", ""))).lstrip("+")
    if not phone:
        raise SpecError("state sync needs phone_number")
    action = spec.get("action", "add")
    contact: dict[str, Any] = {"phone_number": phone}
    if action == "add":
        full = str(spec.get("full_name", spec.get("name", "")))
        contact = {"full_name": full, "first_name": str(spec.get("first_name", full.split(" ")[0])), **contact}
    return {"type": "contact", "contact": contact, "action": action, "metadata": {"timestamp": str(now)}}
