"""The Graph API surface onfile talks to (whatsapp.md B1-B3).

Design: ``handle`` applies, in order, fault injection (``graph_500``/``graph_429`` answer at
once; ``graph_timeout`` lets the call succeed and then holds the response for
``graph_timeout_seconds``, i.e. "accepted but the answer was lost", which is what an
idempotency key is for), then the bearer check (190 / HTTP 401), then the route:

    POST   /{ver}/{phone_number_id}/messages      send, or mark as read
    POST   /{ver}/{phone_number_id}/media         upload (multipart/form-data)
    GET    /{ver}/{waba_id}/message_templates     the template catalog
    GET    /{ver}/{waba_id}/phone_numbers         the firm's numbers
    GET    /{ver}/{media_id}                      media URL and metadata
    GET    /{ver}/{phone_number_id}               number details
    DELETE /{ver}/{media_id}                      delete media

``download`` serves ``/media-download/<id>?exp=&sig=`` (bearer needed; expired or forged
is 404). Unknown ids are Graph error 100 (subcode 33), as on the real API.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from onfile.simulator import multipart, outbound
from onfile.simulator.errors import GraphError, auth_error, invalid, missing, unknown_object
from onfile.simulator.media import check_upload
from onfile.simulator.sending import Env, ReadReceipt, parse_send
from onfile.simulator.web import Request, Response, json_response

if TYPE_CHECKING:
    from onfile.simulator.core import SimCore


def handle(core: SimCore, req: Request) -> Response:
    if core.faults.take("graph_500"):
        err = GraphError(1, "An unknown error occurred (fault injection).", status=500,
                         message="An unknown error occurred")
        return json_response(err.body(), err.status)
    if core.faults.take("graph_429"):
        err = GraphError(130429, "Cloud API message throughput has been reached (fault injection).", status=429)
        return json_response(err.body(), err.status)
    hang = core.faults.take("graph_timeout")
    try:
        _authorise(core, req)
        version, *parts = req.path.strip("/").split("/")
        response = json_response(_route(core, req, version, parts))
    except GraphError as err:
        response = json_response(err.body(), err.status)
    if hang:
        response.delay = core.cfg.graph_timeout_seconds
    return response


def _authorise(core: SimCore, req: Request) -> None:
    token = req.bearer()
    if not token or not hmac.compare_digest(token.encode(), core.cfg.access_token.encode()):
        raise auth_error()


def _route(core: SimCore, req: Request, version: str, parts: list[str]) -> dict[str, Any]:
    method = req.method
    if len(parts) == 2 and method == "POST" and parts[1] in ("messages", "media"):
        number = core.cfg.number(parts[0])
        if number is None:
            raise unknown_object(parts[0])
        if parts[1] == "messages":
            return _messages(core, req, number, version)
        return _upload(core, req, number.phone_number_id)
    if len(parts) == 2 and method == "GET" and parts[0] == core.cfg.waba_id:
        if parts[1] == "message_templates":
            return {"data": core.catalog.listing(req.query.get("name")), "paging": {}}
        if parts[1] == "phone_numbers":
            return {"data": [_number_info(core, n.phone_number_id) for n in core.cfg.numbers], "paging": {}}
    if len(parts) == 1 and method == "GET":
        return _get_object(core, req, parts[0])
    if len(parts) == 1 and method == "DELETE":
        if not core.media.delete(parts[0]):
            raise unknown_object(parts[0], "delete")
        return {"success": True}
    raise unknown_object("/".join(parts), method.lower())


def _messages(core: SimCore, req: Request, number: Any, version: str) -> dict[str, Any]:
    try:
        body = req.json()
    except ValueError:
        raise invalid("The request body is not valid JSON.") from None
    parsed = parse_send(body, Env(core.media, core.catalog, core.clock.now()))
    if isinstance(parsed, ReadReceipt):
        return outbound.mark_read(core, number, parsed)
    key = req.headers.get("idempotency-key") or None
    return outbound.accept_send(core, number, parsed, body, key, version)


def _upload(core: SimCore, req: Request, phone_number_id: str) -> dict[str, Any]:
    try:
        form = multipart.parse(req.headers.get("content-type", ""), req.body)
    except ValueError as exc:
        raise invalid(f"Upload must be multipart/form-data: {exc}") from None
    product = form.get("messaging_product")
    if product is None or product.text() != "whatsapp":
        raise GraphError(100, "The parameter messaging_product is required and must be 'whatsapp'.")
    file = form.get("file")
    if file is None:
        raise missing("file")
    declared = form["type"].text() if "type" in form else file.content_type
    if not declared:
        raise missing("type")
    mime, _family = check_upload(declared, file.content_type, file.data)
    item = core.media.add(file.data, mime, filename=file.filename or "", origin="upload", now=core.clock.now(),
                          phone_number_id=phone_number_id)
    return {"id": item.id}


def _get_object(core: SimCore, req: Request, object_id: str) -> dict[str, Any]:
    if core.cfg.number(object_id) is not None:
        return _number_info(core, object_id)
    item = core.media.get(object_id, core.clock.now())
    if item is None:
        raise unknown_object(object_id, "get")
    wanted = req.query.get("phone_number_id")
    if wanted and item.phone_number_id and wanted != item.phone_number_id:
        raise invalid(f"Media {object_id} does not belong to phone number {wanted}.")
    return {"messaging_product": "whatsapp", "url": core.media.download_url(_base(core, req), item.id,
                                                                             core.clock.now()),
            "mime_type": item.mime_type, "sha256": item.sha256, "file_size": item.file_size, "id": item.id}


def _base(core: SimCore, req: Request) -> str:
    """Media URLs point at the address the caller used, unless a public URL is configured."""
    if core.cfg.public_url or not req.headers.get("host"):
        return core.base_url
    return f"http://{req.headers['host']}"


def _number_info(core: SimCore, phone_number_id: str) -> dict[str, Any]:
    number = core.cfg.number(phone_number_id)
    assert number is not None
    return {"verified_name": number.name or "Simulated business", "display_phone_number": "+" +
            number.display_phone_number, "id": number.phone_number_id, "quality_rating": "GREEN",
            "code_verification_status": "VERIFIED", "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"}}


def download(core: SimCore, req: Request) -> Response:
    _authorise(core, req)
    media_id = req.path.rsplit("/", 1)[-1]
    now = core.clock.now()
    item = core.media.get(media_id, now)
    if item is None or not core.media.url_valid(media_id, req.query.get("exp", ""), req.query.get("sig", ""), now):
        raise GraphError(100, "The media URL is invalid or has expired; request a new one.", status=404,
                         message="URL expired or invalid")
    return Response(200, core.media.read(media_id), item.mime_type)
