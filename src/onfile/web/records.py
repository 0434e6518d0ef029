"""Clients and matters: list, create, edit, merge, close — each change a ledgered action."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from onfile import access
from onfile.accounts.models import Role, User
from onfile.conversations.actions import WALL_MODES, ActionError, do_create_client, do_create_matter, do_set_wall
from onfile.conversations.models import Client
from onfile.conversations.workflow import do_close_matter, do_merge_clients, do_update_client, do_update_matter
from onfile.web.outcome import outcome


def _page(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, 50).get_page(request.GET.get("page"))


@login_required
@require_GET
def clients(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    qs = access.visible_clients(request.user).filter(merged_into__isnull=True)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(identities__value__icontains=q.replace(" ", ""))).distinct()
    qs = qs.annotate(n_conversations=Count("conversation", distinct=True)).order_by("name")
    return render(request, "web/clients.html", {"page": _page(request, qs), "q": q,
                                                "can_change": access.can_change(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def client_new(request: HttpRequest) -> HttpResponse:
    access.require_change(request.user)
    form = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        try:
            client = do_create_client(form.get("name", ""), access.me(request).actor, phone=form.get("phone", ""),
                                      email=form.get("email", ""), kind=form.get("kind", Client.Kind.PERSON))
        except (ActionError, ValueError) as exc:
            flash.error(request, str(exc))
        else:
            flash.success(request, f"Client {client.name} created.")
            return redirect("client", pk=client.pk)
    return render(request, "web/client_form.html", {"form": form, "client": None, "kinds": Client.Kind.choices})


@login_required
@require_GET
def client_page(request: HttpRequest, pk: int) -> HttpResponse:
    client = access.get_client(request.user, pk)
    access.audit(request.user, f"client:{client.pk}", "view", {"page": "client"})
    return render(request, "web/client.html", {
        "client": client, "identities": client.identities.order_by("kind", "value"),
        "conversations": access.visible_conversations(request.user).filter(client=client).order_by("-last_message_at"),
        "matters": access.visible_matters(request.user).filter(client=client).order_by("reference"),
        "others": access.visible_clients(request.user).filter(merged_into__isnull=True).exclude(pk=client.pk)
        .order_by("name")[:500],
        "can_change": access.can_change(request.user), "kinds": Client.Kind.choices})


@login_required
@require_POST
def client_edit(request: HttpRequest, pk: int) -> HttpResponse:
    client = access.get_client(request.user, pk)
    access.require_change(request.user)
    with outcome(request, "Client saved.", (ActionError, ValueError)):
        do_update_client(client, access.me(request).actor, name=request.POST.get("name", ""),
                         email=request.POST.get("email", ""), kind=request.POST.get("kind", ""),
                         phone=request.POST.get("phone", ""))
    return redirect("client", pk=client.pk)


@login_required
@require_POST
def client_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge this (duplicate) client into the one chosen."""
    duplicate = access.get_client(request.user, pk)
    access.require_change(request.user)
    keep = access.get_client(request.user, request.POST.get("into", ""))
    try:
        do_merge_clients(duplicate, keep, access.me(request).actor)
    except ActionError as exc:
        flash.error(request, str(exc))
        return redirect("client", pk=duplicate.pk)
    flash.success(request, f"{duplicate.name} merged into {keep.name}.")
    return redirect("client", pk=keep.pk)


@login_required
@require_GET
def matters(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    qs = access.visible_matters(request.user).select_related("client", "responsible")
    if q:
        qs = qs.filter(Q(reference__icontains=q) | Q(title__icontains=q) | Q(client__name__icontains=q))
    if request.GET.get("closed") != "1":
        qs = qs.filter(closed_at__isnull=True)
    return render(request, "web/matters.html", {
        "page": _page(request, qs.order_by("reference")), "q": q, "closed": request.GET.get("closed") == "1",
        "can_change": access.can_change(request.user)})


def _responsible(raw: str) -> int | None:
    if not raw.isdigit():
        return None
    user = User.objects.filter(pk=int(raw), is_active=True).exclude(role=Role.AUDITOR).first()
    return user.pk if user else None


@login_required
@require_http_methods(["GET", "POST"])
def matter_new(request: HttpRequest) -> HttpResponse:
    access.require_change(request.user)
    form = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        client = access.get_client(request.user, form["client"]) if form.get("client") else None
        try:
            matter = do_create_matter(form.get("reference", ""), access.me(request).actor, title=form.get("title", ""),
                                      client=client, responsible_id=_responsible(form.get("responsible", ""))
                                      or access.me(request).pk, practice_area=form.get("practice_area", ""))
        except ActionError as exc:
            flash.error(request, str(exc))
        else:
            flash.success(request, f"Matter {matter.reference} opened.")
            return redirect("matter", pk=matter.pk)
    return render(request, "web/matter_form.html", {
        "form": form, "clients": access.visible_clients(request.user).filter(merged_into__isnull=True)
        .order_by("name")[:500], "staff": _staff()})


def _staff() -> Any:
    return User.objects.filter(is_active=True).exclude(role=Role.AUDITOR).order_by("name", "email")


@login_required
@require_GET
def matter_page(request: HttpRequest, pk: int) -> HttpResponse:
    matter = access.get_matter(request.user, pk)
    access.audit(request.user, f"matter:{matter.pk}", "view", {"page": "matter"})
    return render(request, "web/matter.html", {
        "matter": matter,
        "conversations": access.visible_conversations(request.user).filter(matter=matter)
        .select_related("client", "assignee").order_by("-last_message_at"),
        "can_change": access.can_change(request.user), "can_wall": access.can_manage_walls(request.user),
        "clients": access.visible_clients(request.user).filter(merged_into__isnull=True).order_by("name")[:500],
        "staff": _staff(), "wall_members": list(matter.wall_members.order_by("email")),
        "wall_modes": [m for m in WALL_MODES if m]})


@login_required
@require_POST
def matter_edit(request: HttpRequest, pk: int) -> HttpResponse:
    matter = access.get_matter(request.user, pk)
    access.require_change(request.user)
    action = request.POST.get("action", "save")
    done = {"close": "Matter closed.", "reopen": "Matter reopened."}.get(action, "Matter saved.")
    with outcome(request, done):
        if action in ("close", "reopen"):
            do_close_matter(matter, access.me(request).actor, reopen=action == "reopen")
        else:
            client = access.get_client(request.user, request.POST["client"]) if request.POST.get("client") else None
            filing = {}
            if access.can_manage_walls(request.user):  # where a matter's messages are sent: compliance decides
                filing = {"filing_address": request.POST.get("filing_address"),
                          "filing_mode": request.POST.get("filing_mode")}
            elif (request.POST.get("filing_address", matter.filing_address).strip() != matter.filing_address
                  or request.POST.get("filing_mode", matter.filing_mode) != matter.filing_mode):
                raise ActionError("only administrators and compliance set where a matter is filed by email")
            do_update_matter(matter, access.me(request).actor, title=request.POST.get("title", ""), client=client,
                             responsible_id=_responsible(request.POST.get("responsible", "")),
                             practice_area=request.POST.get("practice_area", ""), **filing)
    return redirect("matter", pk=matter.pk)


@login_required
@require_POST
def matter_wall(request: HttpRequest, pk: int) -> HttpResponse:
    matter = access.get_matter(request.user, pk)
    access.require(access.can_manage_walls(request.user), "only administrators and compliance set ethical walls")
    members = [int(x) for x in request.POST.getlist("members") if x.isdigit()]
    try:
        do_set_wall(matter, request.POST.get("mode", ""), members, access.me(request).actor)
    except ActionError as exc:
        flash.error(request, str(exc))
    else:
        flash.success(request, "Ethical wall saved." if matter.wall_mode else "Ethical wall removed.")
    if not access.visible_matters(request.user).filter(pk=matter.pk).exists():
        return redirect("matters")  # the wall now keeps the person who set it out
    return redirect("matter", pk=matter.pk)
