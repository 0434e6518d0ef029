"""The conversation page: read, reply, assign, link, note — and new messages without a reload.

Every read goes through the access layer (``access.get_conversation``: 404 for what a
person may not see) and is audited with the last position shown, which also moves the
reader's read marker. Every change is a named action; the views only parse the form.
"""

from __future__ import annotations

import mimetypes
import re
from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from onfile import access
from onfile.accounts.models import Role, User
from onfile.channels.email import holds
from onfile.channels.whatsapp import receipts
from onfile.channels.whatsapp.sending import Outgoing, SendError, do_send, templates, window_closes_at, window_open
from onfile.conversations.actions import do_assign, do_create_client, do_create_matter, do_link_matter
from onfile.conversations.models import Attachment, Conversation, Message
from onfile.conversations.workflow import do_add_note, do_link_client
from onfile.ledger.blobs import BlobError, open_blob
from onfile.web.outcome import conversation_to_change, outcome

STAFF_ACTOR = re.compile(r"^user:\d+$")
PAGE = 200  # messages shown at once; earlier ones a click away
TICKS = {"queued": "🕓", "sent": "✓", "delivered": "✓✓", "read": "✓✓", "played": "✓✓", "failed": "⚠"}
# Types a browser may show inline; anything else (HTML, SVG, PDF …) is only ever downloaded.
INLINE = ("image/jpeg", "image/png", "image/gif", "image/webp", "audio/", "video/")


def _messages(conversation: Conversation, *, after: int | None = None, before: int | None = None
              ) -> list[Message]:
    qs: QuerySet[Message] = (Message.objects.filter(conversation=conversation)
                             .prefetch_related("attachments", "reactions", "revisions"))
    if after is not None:
        return list(qs.filter(position__gt=after).order_by("position")[:PAGE])
    if before is not None:
        qs = qs.filter(position__lt=before)
    return list(reversed(qs.order_by("-position")[:PAGE]))


def _decorate(conversation: Conversation, msgs: list[Message]) -> list[dict[str, Any]]:
    """What the template needs per message: ticks, the quoted message, media kinds."""
    keys = {m.reply_to_key for m in msgs if m.reply_to_key}
    quoted = {m.key: m for m in Message.objects.filter(conversation=conversation, key__in=keys)}
    quoted.update({m.wamid: m for m in Message.objects.filter(conversation=conversation, wamid__in=keys)})
    staff_ids = {int(m.sender_name[5:]) for m in msgs if STAFF_ACTOR.match(m.sender_name)}
    staff_names = {f"user:{u.pk}": u.name or u.email for u in User.objects.filter(pk__in=staff_ids)}
    out = []
    for m in msgs:
        if m.sender_name in staff_names:  # a reply sent from onfile: recorded by actor, shown by name
            m.sender_name = staff_names[m.sender_name]
        atts = [{"a": a, "kind": _media_kind(a)} for a in m.attachments.all()]
        out.append({"m": m, "quoted": quoted.get(m.reply_to_key), "attachments": atts,
                    "ticks": TICKS.get(m.status, "") if m.direction == Message.Direction.OUT else "",
                    "reactions": [r for r in m.reactions.all() if r.emoji],
                    "location": m.data.get("location") if isinstance(m.data, dict) else None,
                    "contacts": m.data.get("contacts") if isinstance(m.data, dict) else None})
    return out


def _media_kind(a: Attachment) -> str:
    if a.blob_id is None:
        return "missing"
    mime = a.mime_type.split(";")[0].strip().lower()
    for kind in ("image", "audio", "video"):
        if mime.startswith(kind + "/") and mime.startswith(INLINE):
            return kind
    return "file"


def _staff(conversation: Conversation) -> QuerySet[User]:
    return User.objects.filter(is_active=True).exclude(role=Role.AUDITOR).order_by("name", "email")


def _seen(request: HttpRequest, conversation: Conversation, msgs: list[Message], page: str) -> None:
    if not msgs:
        return
    access.audit(request.user, f"conversation:{conversation.pk}", "view",
                 {"upto": msgs[-1].position, "from": msgs[0].position, "messages": len(msgs), "page": page})
    if any(m.direction == Message.Direction.IN for m in msgs):
        receipts.queue_read(conversation, request.user)


@login_required
@require_GET
def conversation_page(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = access.get_conversation(request.user, pk)
    before = request.GET.get("before")
    msgs = _messages(conversation, before=int(before) if before and before.lstrip("-").isdigit() else None)
    _seen(request, conversation, msgs, "conversation")
    reply_to = request.GET.get("reply_to", "")
    can_change = access.can_change(request.user)
    open_ = window_open(conversation)
    return render(request, "web/conversation.html", {
        "c": conversation, "items": _decorate(conversation, msgs),
        "last_position": msgs[-1].position if msgs else -1,
        "earlier": msgs[0].position if msgs and Message.objects.filter(
            conversation=conversation, position__lt=msgs[0].position).exists() else None,
        "can_change": can_change, "originals": access.can_see_originals(request.user),
        "window_open": open_, "window_closes": window_closes_at(conversation),
        "templates": _templates(conversation) if can_change and not open_ else [],
        "reply_to": Message.objects.filter(conversation=conversation, wamid=reply_to).first() if reply_to else None,
        "staff": _staff(conversation) if can_change else [],
        "clients": access.visible_clients(request.user).filter(merged_into__isnull=True).order_by("name")[:500],
        "matters": access.visible_matters(request.user).filter(closed_at__isnull=True).order_by("reference")[:500],
        "notes": conversation.notes.select_related("author").order_by("at"),
        "held": holds.waiting(conversation),
    })


def _templates(conversation: Conversation) -> list[dict[str, Any]]:
    try:
        return templates(conversation)
    except Exception:  # the Graph API is down: the page still works, without the picker
        return []


@login_required
@require_GET
def new_messages(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx poll: the messages after ``after``, the poller for the next round, fresh ticks."""
    conversation = access.get_conversation(request.user, pk)
    try:
        after = int(request.GET.get("after", "-1"))
    except ValueError:
        after = -1
    msgs = _messages(conversation, after=after)
    _seen(request, conversation, msgs, "poll")
    recent_out = list(Message.objects.filter(conversation=conversation, direction=Message.Direction.OUT,
                                             position__lte=after).order_by("-position")[:30])
    return render(request, "web/_new_messages.html", {
        "c": conversation, "items": _decorate(conversation, msgs), "originals": access.can_see_originals(request.user),
        "can_change": access.can_change(request.user),
        "last_position": msgs[-1].position if msgs else after,
        "ticks": [{"m": m, "ticks": TICKS.get(m.status, "")} for m in recent_out]})


@login_required
@require_POST
def cancel_held(request: HttpRequest, pk: int, held: int) -> HttpResponse:
    """Withdraw a reply by email that waits for the client to reopen the window."""
    conversation = conversation_to_change(request, pk)
    with outcome(request, "Withdrawn: it will not be sent.", (LookupError,)):
        holds.cancel(held, conversation, access.me(request).actor)
    return redirect(reverse("conversation", args=[conversation.pk]) + "#held")


def _back(conversation: Conversation) -> HttpResponse:
    return redirect(reverse("conversation", args=[conversation.pk]) + "#reply")


@login_required
@require_POST
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = conversation_to_change(request, pk)
    upload = request.FILES.get("file")
    out = Outgoing(text=request.POST.get("text", "").strip(), reply_to=request.POST.get("reply_to", ""))
    if upload is not None:
        out.data = upload.read()
        out.filename = upload.name or "file"
        out.mime_type = (upload.content_type or mimetypes.guess_type(out.filename)[0]
                         or "application/octet-stream")
        out.caption, out.text = out.text, ""
    template = request.POST.get("template", "")
    if template:
        name, _, language = template.partition("|")
        out = Outgoing(template=name, language=language,
                       params=[p.strip() for p in request.POST.get("params", "").split("|") if p.strip()])
    done = "Queued for sending." if not template else f"Template {template.split('|')[0]} queued."
    with outcome(request, done, (SendError,)):
        do_send(conversation, out, access.me(request).actor)
    return _back(conversation)


@login_required
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = conversation_to_change(request, pk)
    raw = request.POST.get("assignee", "")
    assignee = _staff(conversation).filter(pk=int(raw)).first() if raw.isdigit() else None
    if raw and assignee is None:
        flash.error(request, "No such member of staff.")
    else:
        do_assign(conversation, assignee.pk if assignee else None, access.me(request).actor)
        flash.success(request, f"Assigned to {assignee}." if assignee else "Unassigned.")
    return _back(conversation)


@login_required
@require_POST
def link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link to a client and a matter; either may be created here."""
    conversation = conversation_to_change(request, pk)
    actor = access.me(request).actor
    with outcome(request, "Links saved."):
        client = conversation.client
        new_client = request.POST.get("new_client", "").strip()
        if new_client:
            client = do_create_client(new_client, actor, phone=request.POST.get("new_client_phone", ""))
        elif request.POST.get("client"):
            client = access.get_client(request.user, request.POST["client"])
        if client != conversation.client:
            do_link_client(conversation, client, actor)
        new_matter = request.POST.get("new_matter", "").strip()
        matter = conversation.matter
        if new_matter:
            matter = do_create_matter(new_matter, actor, title=request.POST.get("new_matter_title", ""),
                                      client=client, responsible_id=access.me(request).pk)
        elif request.POST.get("matter"):
            matter = access.get_matter(request.user, request.POST["matter"])
        if matter != conversation.matter:
            do_link_matter(conversation, matter, actor)
    return _back(conversation)


@login_required
@require_POST
def note(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = conversation_to_change(request, pk)
    with outcome(request, "Note added (internal: never sent to the client)."):
        do_add_note(conversation, request.POST.get("text", ""), access.me(request).actor, access.me(request).pk)
    return redirect(reverse("conversation", args=[conversation.pk]) + "#notes")


@login_required
@require_GET
def media(request: HttpRequest, pk: int) -> HttpResponseBase:
    """An attachment's bytes, decrypted on the fly; audited; only safe types inline."""
    try:
        attachment = Attachment.objects.select_related("message").get(pk=int(pk))
    except (Attachment.DoesNotExist, ValueError):
        return HttpResponse("no such file", status=404, content_type="text/plain")
    conversation = access.get_conversation(request.user, attachment.message.conversation_id)
    if attachment.blob_id is None:
        return HttpResponse(f"this file is not in the archive ({attachment.placeholder or 'missing'})",
                            status=404, content_type="text/plain")
    access.audit(request.user, f"conversation:{conversation.pk}", "download",
                 {"attachment": attachment.pk, "sha256": attachment.sha256, "filename": attachment.filename})
    mime = attachment.mime_type.split(";")[0].strip().lower() or "application/octet-stream"
    inline = mime.startswith(INLINE) and request.GET.get("download") != "1"
    try:
        chunks = open_blob(attachment.blob_id)
        first = next(chunks, b"")
    except BlobError as exc:
        return HttpResponse(f"this file cannot be read: {exc}", status=410, content_type="text/plain")

    def stream() -> Any:
        yield first
        yield from chunks

    response = StreamingHttpResponse(stream(), content_type=mime if inline else "application/octet-stream")
    header = content_disposition_header(not inline, attachment.filename or f"attachment-{attachment.pk}")
    if header:
        response["Content-Disposition"] = header
    return response
