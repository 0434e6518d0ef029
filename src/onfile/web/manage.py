"""Administration pages: firm numbers, users and roles, walls, and the ledger.

Administrators change numbers, users and teams; compliance and auditors may look at the
ledger and the walls (read-only for the auditor). Entries are shown by kind, actor and
subject only — their sealed content stays sealed here.
"""

from __future__ import annotations

import json

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from onfile import access
from onfile.accounts.actions import AccountError, do_create_user
from onfile.accounts.models import Role, Team, User
from onfile.accounts.staff import StaffError, do_create_team, do_update_staff
from onfile.conversations.actions import ActionError, do_register_firm_number
from onfile.conversations.models import FirmNumber, Matter
from onfile.ledger.models import Checkpoint, Entry
from onfile.status import collect_status

OVERSIGHT = (Role.ADMIN, Role.COMPLIANCE, Role.AUDITOR)


def _require_admin(request: HttpRequest) -> None:
    access.require(access.can_administer(request.user), "this page is for administrators")


def _require_oversight(request: HttpRequest) -> None:
    access.require(request.user.is_active and request.user.role in OVERSIGHT,
                   "this page is for administrators, compliance and auditors")


@login_required
@require_http_methods(["GET", "POST"])
def numbers(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    if request.method == "POST":
        team = request.POST.get("team", "")
        try:
            do_register_firm_number(request.POST.get("phone_number_id", ""), request.POST.get("number", ""),
                                    access.me(request).actor, display_name=request.POST.get("display_name", ""),
                                    team_id=int(team) if team.isdigit() else None)
        except (ActionError, ValueError) as exc:
            flash.error(request, str(exc))
        else:
            flash.success(request, "Number saved.")
        return redirect("manage-numbers")
    return render(request, "web/manage_numbers.html", {
        "numbers": FirmNumber.objects.select_related("team").order_by("-configured", "display_name", "number"),
        "teams": Team.objects.order_by("name")})


@login_required
@require_http_methods(["GET", "POST"])
def users(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "team":
                do_create_team(request.POST.get("name", ""), access.me(request).actor, request.POST.get("mailbox", ""))
                flash.success(request, "Team created.")
            elif request.POST.get("action") == "create":
                created = do_create_user(request.POST.get("email", ""), None, request.POST.get("role", ""),
                                         access.me(request).actor, name=request.POST.get("name", ""))
                flash.success(request, f"{created.email} created; they sign in with single sign-on or after "
                                       "an administrator sets a password ('onfile createuser').")
            else:
                target = User.objects.get(pk=int(request.POST.get("user", "0")))
                team = request.POST.get("team", "")
                do_update_staff(target, access.me(request).actor, role=request.POST.get("role", ""),
                                team_id=int(team) if team.isdigit() else None,
                                active=request.POST.get("active") == "on")
                flash.success(request, f"{target.email} saved.")
        except (StaffError, AccountError, User.DoesNotExist, ValueError) as exc:
            flash.error(request, str(exc) or "No such user.")
        return redirect("manage-users")
    return render(request, "web/manage_users.html", {
        "users": User.objects.select_related("team").order_by("email"), "teams": Team.objects.order_by("name"),
        "roles": Role.choices})


@login_required
@require_GET
def walls(request: HttpRequest) -> HttpResponse:
    _require_oversight(request)
    walled = Matter.objects.exclude(wall_mode="").prefetch_related("wall_members").order_by("reference")
    return render(request, "web/manage_walls.html", {"matters": walled})


@login_required
@require_GET
def ledger(request: HttpRequest) -> HttpResponse:
    _require_oversight(request)
    qs = Entry.objects.order_by("-seq").only("seq", "kind", "actor", "subject", "time")
    kind = request.GET.get("kind", "").strip()
    if kind:
        qs = qs.filter(kind__startswith=kind)
    actor = request.GET.get("actor", "").strip()
    if actor:
        qs = qs.filter(actor=actor)
    return render(request, "web/manage_ledger.html", {
        "page": Paginator(qs, 100).get_page(request.GET.get("page")), "kind": kind, "actor": actor,
        "checkpoints": Checkpoint.objects.order_by("-size")[:10],
        "verifies": [{"seq": e.seq, "time": e.time, **json.loads(e.attrs)}
                     for e in Entry.objects.filter(kind="verify.completed").order_by("-seq")[:10]],
        "status": collect_status()})


@login_required
@require_POST
def ledger_checkpoint(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    from onfile.ledger.checkpoints import do_checkpoint

    do_checkpoint(reason="manual")
    flash.success(request, "Checkpoint signed.")
    return redirect("manage-ledger")
