"""Graph API errors, in the one shape the real API uses.

Design: handlers raise ``GraphError``; the server turns it into
``{"error": {"message", "type": "OAuthException", "code", "error_subcode"?,
"error_data": {"messaging_product": "whatsapp", "details"}, "fbtrace_id"}}`` with the
HTTP status carried by the exception. The same codes feed the ``errors[]`` of failed
statuses (``status_error``), whose shape is ``{code, title, message, error_data.details, href}``.
"""

from __future__ import annotations

import secrets
from typing import Any

HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
WINDOW_DETAILS = (
    "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
)

TITLES = {
    1: "An unknown error occurred",
    100: "Invalid parameter",
    190: "Invalid OAuth access token",
    130429: "Rate limit hit",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131047: "Re-engagement message",
    131051: "Message type unknown",
    131052: "Media download error",
    131053: "Media upload error",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
}


class GraphError(Exception):
    def __init__(self, code: int, details: str, status: int = 400, subcode: int | None = None,
                 message: str | None = None) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.status = status
        self.subcode = subcode
        self.message = message or f"(#{code}) {TITLES.get(code, 'Error')}"

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "type": "OAuthException", "code": self.code}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        err["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        err["fbtrace_id"] = fbtrace_id()
        return {"error": err}


def fbtrace_id() -> str:
    return secrets.token_urlsafe(8)[:11]


def missing(param: str) -> GraphError:
    return GraphError(131008, f"The parameter {param} is required.")


def invalid(details: str) -> GraphError:
    return GraphError(100, details)


def unknown_object(object_id: str, action: str = "post") -> GraphError:
    return GraphError(
        100, f"Object with ID '{object_id}' does not exist, cannot be loaded due to missing permissions, "
        "or does not support this operation.", subcode=33,
        message=f"Unsupported {action} request. Object with ID '{object_id}' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation.")


def auth_error() -> GraphError:
    return GraphError(190, "Invalid OAuth access token - Cannot parse access token", status=401,
                      message="Invalid OAuth access token - Cannot parse access token")


def status_error(code: int, details: str) -> dict[str, Any]:
    title = TITLES.get(code, "Error")
    return {"code": code, "title": title, "message": title, "error_data": {"details": details}, "href": HREF}
