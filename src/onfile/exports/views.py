"""Downloads of a conversation from its page: the PDF transcript and the zip.

The views only translate HTTP: access, the checkpoint and the ledger entry are done by
``onfile.exports.conversation`` (an invisible conversation is a 404 from there).
"""

from __future__ import annotations

import io

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from onfile.exports import conversation as exports


def _download_headers(response: HttpResponseBase, filename: str) -> HttpResponseBase:
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def conversation_pdf(request: HttpRequest, pk: int) -> HttpResponseBase:
    buffer = io.BytesIO()
    result = exports.render_pdf(pk, request.user, buffer)
    return _download_headers(HttpResponse(buffer.getvalue(), content_type="application/pdf"), result.filename)


@login_required
@require_GET
def conversation_zip(request: HttpRequest, pk: int) -> HttpResponseBase:
    stream = exports.stream_zip(pk, request.user)
    return _download_headers(StreamingHttpResponse(stream.chunks, content_type="application/zip"), stream.filename)
