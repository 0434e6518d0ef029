"""Downloads of a conversation from its page: the PDF transcript and the zip — at once for
most conversations, through a background job (``jobs``) for long ones.

The views only translate HTTP: access, the checkpoint and the ledger entry are done by
``onfile.exports.conversation`` (an invisible conversation is a 404 from there). The views
that need the conversation before exporting (is it long? may a job be queued for it?) fetch
it through the access layer first, so nothing about a conversation a person may not see
(not even its length) reaches them.
"""

from __future__ import annotations

import hashlib
import io
from itertools import chain
from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from onfile import access
from onfile.exports import conversation as exports
from onfile.exports import jobs
from onfile.exports.models import ExportJob
from onfile.exports.sealed import ExportFileError
from onfile.ledger.crypto import CryptoError

CONTENT_TYPES = {"pdf": "application/pdf", "zip": "application/zip"}
LISTED = 100  # a person's most recent jobs shown on "My exports"


def _download_headers(response: HttpResponseBase, filename: str) -> HttpResponseBase:
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _in_background(request: HttpRequest, pk: int, fmt: str) -> HttpResponse | None:
    """For a long conversation, the page that offers its export as a job; None otherwise."""
    conversation = access.get_conversation(request.user, pk)
    if not jobs.in_background(conversation.pk):
        return None
    return render(request, "web/export_background.html", {"c": conversation, "format": fmt,
                                                           "label": ExportJob.Format(fmt).label})


@login_required
@require_GET
def conversation_pdf(request: HttpRequest, pk: int) -> HttpResponseBase:
    background = _in_background(request, pk, "pdf")
    if background is not None:
        return background
    buffer = io.BytesIO()
    result = exports.render_pdf(pk, request.user, buffer)
    return _download_headers(HttpResponse(buffer.getvalue(), content_type="application/pdf"), result.filename)


@login_required
@require_GET
def conversation_zip(request: HttpRequest, pk: int) -> HttpResponseBase:
    background = _in_background(request, pk, "zip")
    if background is not None:
        return background
    stream = exports.stream_zip(pk, request.user)
    return _download_headers(StreamingHttpResponse(stream.chunks, content_type="application/zip"), stream.filename)


# ---- exports made in the background ----------------------------------------------------------------------

@login_required
@require_POST
def request_export(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Queue a job for the conversation (any role that may read it, as for a download)."""
    conversation = access.get_conversation(request.user, pk)
    fmt = request.POST.get("format", "")
    if fmt not in ExportJob.Format.values:
        return HttpResponseBadRequest("format must be pdf or zip", content_type="text/plain")
    job, created = jobs.do_request_export(access.me(request), conversation, fmt)
    what = job.get_format_display()
    if created:
        flash.success(request, f"{what} of conversation {conversation.pk} asked for: it is made in the "
                               "background and can be downloaded here when it is ready.")
    else:
        flash.info(request, f"{what} of conversation {conversation.pk} was already on its way: it is listed here.")
    return redirect("exports")


@login_required
@require_GET
def my_exports(request: HttpRequest) -> HttpResponse:
    """The person's own jobs. While some are on their way, an invisible poller asks again every
    few seconds with a digest of what the page shows; the answer is 204 (nothing to swap) until
    a state changes, so the list and its status line change, and are announced, only then."""
    user = access.me(request)
    rows = list(ExportJob.objects.filter(requested_by=user).order_by("-requested_at", "-pk")[:LISTED])
    digest = _digest(rows)
    polled = request.headers.get("HX-Request") == "true"
    if polled and request.GET.get("seen") == digest:
        return HttpResponse(status=204)
    now = timezone.now()
    visible = {c.pk: c for c in access.visible_conversations(user).filter(
        pk__in={j.conversation_id for j in rows}).select_related("client")}
    context = {"rows": [_row(j, visible.get(j.conversation_id), now) for j in rows], "digest": digest,
               "polling": any(j.active for j in rows), "status": _status(rows, now), "listed": LISTED}
    return render(request, "web/_exports_update.html" if polled else "web/exports.html", context)


def _digest(rows: list[ExportJob]) -> str:
    text = ";".join(f"{j.pk}:{j.state}:{j.purged_at is not None}" for j in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _row(job: ExportJob, conversation: Any, now: Any) -> dict[str, Any]:
    expired = job.expired(now)
    state = "expired" if expired else job.state
    label = {"expired": "Expired", **dict(ExportJob.State.choices)}[state]
    return {"job": job, "c": conversation, "state": state, "state_label": label,
            # No link to what the person may no longer see (the download would say 404 anyway).
            "downloadable": job.state == ExportJob.State.DONE and not expired and conversation is not None}


def _status(rows: list[ExportJob], now: Any) -> str:
    if not rows:
        return "You have not asked for any export yet."
    on_the_way = sum(1 for j in rows if j.active)
    ready = sum(1 for j in rows if j.state == ExportJob.State.DONE and not j.expired(now))
    parts = [f"{ready} ready to download"] if ready else []
    if on_the_way:
        parts.append(f"{on_the_way} on the way (this list updates itself)")
    return ("; ".join(parts) or "Nothing ready to download or on the way") + "."


@login_required
@require_GET
def download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A finished job's file, decrypted as it is sent. Only for the person who asked, and only
    while they may still see the conversation (asked again now: a wall set since stops it)."""
    job = ExportJob.objects.filter(pk=pk, requested_by=access.me(request)).first()
    if job is None:  # someone else's is as absent as a conversation one may not see
        raise Http404("no such export")
    conversation = access.get_conversation(request.user, job.conversation_id)
    if job.state != ExportJob.State.DONE:
        raise Http404("this export is not ready")
    if job.expired(timezone.now()):
        return HttpResponse("this export expired and its file was deleted: ask for it again from the conversation",
                            status=410, content_type="text/plain")
    try:
        chunks = jobs.open_result(job)
        first = next(chunks, b"")
    except (ExportFileError, CryptoError) as exc:
        return HttpResponse(f"this export cannot be read: {exc}", status=410, content_type="text/plain")
    access.audit(request.user, f"conversation:{conversation.pk}", "download", {
        "export_job": job.pk, "format": job.format, "sha256": job.sha256, "size": job.size,
        "export_entry": job.export_seq})
    response = StreamingHttpResponse(chain([first], chunks), content_type=CONTENT_TYPES[job.format])
    if job.size is not None:
        response["Content-Length"] = str(job.size)
    return _download_headers(response, job.filename)
