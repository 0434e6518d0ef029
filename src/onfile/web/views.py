"""Pages: login (Django auth, Argon2), home, and the admin status page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from onfile.status import collect_status


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {"status": collect_status(counts_only=True)})


@login_required
@require_GET
def status(request: HttpRequest) -> HttpResponse:
    if not getattr(request.user, "is_admin", False):
        raise PermissionDenied("the status page is for administrators")
    return render(request, "web/status.html", {"status": collect_status()})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for a load balancer: says nothing about the archive's content."""
    return JsonResponse({"ok": True})
