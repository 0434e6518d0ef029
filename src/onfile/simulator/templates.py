"""Message templates: the approved catalog, checking a template send, rendering it.

Design: a ``TemplateCatalog`` starts with built-ins (``hello_world`` en_US without
parameters, ``please_reply`` en_GB with one body parameter, ``document_ready`` en_GB with
a document header, two body parameters and a quick-reply button); more can be added
through ``POST /_sim/api/templates``. Templates are listed in the Graph shape
(upper-case component types). ``check_send`` validates the ``template`` object of a send
against the catalog (132001 for an unknown name/language, 132000 for a parameter count
that does not match) and returns what the client's phone shows.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from onfile.simulator.errors import GraphError, missing

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")

BUILT_IN: list[dict[str, Any]] = [
    {"name": "hello_world", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
     "id": "1192339204654487", "parameter_format": "POSITIONAL", "components": [
         {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
         {"type": "BODY", "text": "Welcome and congratulations!! This message demonstrates your ability to send a "
                                  "WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for "
                                  "taking the time to test with us."},
         {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"}]},
    {"name": "please_reply", "language": "en_GB", "status": "APPROVED", "category": "UTILITY",
     "id": "1192339204654488", "parameter_format": "POSITIONAL", "components": [
         {"type": "BODY", "text": "Hello {{1}}, we have a message for you. Please reply to continue the conversation.",
          "example": {"body_text": [["Alice"]]}}]},
    {"name": "document_ready", "language": "en_GB", "status": "APPROVED", "category": "UTILITY",
     "id": "1192339204654489", "parameter_format": "POSITIONAL", "components": [
         {"type": "HEADER", "format": "DOCUMENT", "example": {"header_handle": ["4::aW1hZ2UvanBlZw==:ARZ..."]}},
         {"type": "BODY", "text": "Dear {{1}}, the document {{2}} is ready for you.",
          "example": {"body_text": [["Alice", "engagement letter"]]}},
         {"type": "FOOTER", "text": "Example Law LLP"},
         {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks, received"}]}]},
]


def placeholders(text: str) -> list[str]:
    return list(dict.fromkeys(PLACEHOLDER.findall(text or "")))


def _component(template: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in template["components"] if c.get("type") == kind), None)


def _param_text(param: Any) -> str:
    if not isinstance(param, dict) or not isinstance(param.get("type"), str):
        raise GraphError(131009, "Each template parameter must be an object with a type.")
    kind = param["type"]
    if kind == "text":
        if not isinstance(param.get("text"), str):
            raise missing("template['components'][]['parameters'][]['text']")
        return str(param["text"])
    if kind in ("currency", "date_time"):
        return str(param.get(kind, {}).get("fallback_value", ""))
    if kind == "payload":
        return str(param.get("payload", ""))
    if kind in ("image", "video", "document"):
        return ""
    raise GraphError(131009, f"Unsupported template parameter type '{kind}'.")


def _fill(text: str, params: Any) -> str:
    names = placeholders(text)
    if not isinstance(params, list):
        raise GraphError(131009, "template parameters must be an array.")
    if len(params) != len(names):
        raise GraphError(132000, f"Number of parameters ({len(params)}) does not match the expected number of "
                         f"params ({len(names)}).")
    values = {name: _param_text(p) for name, p in zip(names, params, strict=True)}
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


class TemplateCatalog:
    def __init__(self, extra: list[dict[str, Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self._templates = [dict(t) for t in BUILT_IN] + list(extra or [])

    def listing(self, name: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [t for t in self._templates if name is None or t["name"] == name]

    def added(self) -> list[dict[str, Any]]:
        with self._lock:
            return self._templates[len(BUILT_IN):]

    def add(self, template: dict[str, Any]) -> dict[str, Any]:
        for key in ("name", "language", "components"):
            if key not in template:
                raise ValueError(f"template needs '{key}'")
        entry = {"status": "APPROVED", "category": "UTILITY", "parameter_format": "POSITIONAL",
                 "id": str(2000000000000000 + len(self._templates)), **template}
        with self._lock:
            self._templates = [t for t in self._templates
                               if (t["name"], t["language"]) != (entry["name"], entry["language"])] + [entry]
        return entry

    def find(self, name: str, language: str) -> dict[str, Any] | None:
        with self._lock:
            return next((t for t in self._templates if t["name"] == name and t["language"] == language), None)

    def check_send(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Validate a send's ``template`` object; returns the rendering for the client's phone."""
        name = obj.get("name")
        language: dict[str, Any] = obj["language"] if isinstance(obj.get("language"), dict) else {}
        if not isinstance(name, str) or not name:
            raise missing("template['name']")
        code = language.get("code")
        if not isinstance(code, str) or not code:
            raise missing("template['language']['code']")
        template = self.find(name, code)
        if template is None:
            raise GraphError(132001, f"template name ({name}) does not exist in {code}")
        components = obj.get("components", [])
        if not isinstance(components, list):
            raise GraphError(131009, "template['components'] must be an array.")
        sent = {c.get("type"): c.get("parameters", []) for c in components if isinstance(c, dict)}
        payloads = {str(c.get("index", "0")): c.get("parameters", []) for c in components
                    if isinstance(c, dict) and c.get("type") == "button"}
        return {"name": name, "language": code, "category": template.get("category", "UTILITY"),
                **_render(template, sent, payloads)}


def _render(template: dict[str, Any], sent: dict[Any, Any], payloads: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"header": None, "header_media": None, "body": "", "footer": None, "buttons": []}
    header = _component(template, "HEADER")
    if header is not None and header.get("format") in MEDIA_FORMATS:
        params = sent.get("header", [])
        kind = header["format"].lower()
        if len(params) != 1 or not isinstance(params[0], dict) or params[0].get("type") != kind:
            raise GraphError(132000, f"The template header needs one {kind} parameter.")
        out["header_media"] = {"type": kind, **params[0].get(kind, {})}
    elif header is not None:
        out["header"] = _fill(header.get("text", ""), sent.get("header", []))
    body = _component(template, "BODY")
    out["body"] = _fill(body.get("text", "") if body else "", sent.get("body", []))
    footer = _component(template, "FOOTER")
    out["footer"] = footer.get("text") if footer else None
    buttons = _component(template, "BUTTONS")
    out["buttons"] = [{"text": b.get("text", ""), "payload": _payload(payloads.get(str(i)), b.get("text", ""))}
                      for i, b in enumerate((buttons or {}).get("buttons", []))]
    return out


def _payload(params: Any, default: str) -> str:
    """A quick-reply button's payload: what the send set for that index, else the button text."""
    if isinstance(params, list) and params and isinstance(params[0], dict) and "payload" in params[0]:
        return str(params[0]["payload"])
    return default
