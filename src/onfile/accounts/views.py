"""Sign-in pages: password, second factor, authenticator setup, the security page, single sign-on.

Thin: each view parses the form and calls an action of onfile.accounts (auth, twofactor, sso).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from onfile.accounts import auth, sso, twofactor
from onfile.accounts.models import User

INVALID = "Your email or password is wrong, or the account is disabled."
LOCKED = ("Too many failed attempts: signing in is blocked for a while. "
          "Try again later, or ask an administrator.")
EXPIRED = {"idle": "You were signed out after a period of inactivity.",
           "absolute": "Your session reached its maximum length. Please sign in again.",
           "second_factor_required": "Your role now requires two-factor authentication. Please sign in again."}
# Refusals that are about the person's account (403), not a broken exchange (400).
ACCOUNT_REFUSALS = {"no_role", "inactive", "linked_elsewhere", "email_not_verified", "no_email"}


def _login_context(request: HttpRequest, next_url: str, error: str = "") -> dict[str, object]:
    email = request.POST.get("username", "")[:254] if error else ""
    return {"next": next_url, "error": error, "email": email, "sso_enabled": sso.enabled(),
            "sso_label": settings.OIDC_BUTTON_LABEL,
            "expired": EXPIRED.get(request.session.pop(auth.EXPIRED, "") or "", "")}


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    next_url = auth.safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "GET":
        return render(request, "web/login.html", _login_context(request, next_url))
    outcome = auth.do_password_step(request, request.POST.get("username", ""), request.POST.get("password", ""),
                                    next_url)
    if outcome is auth.Outcome.SIGNED_IN:
        return redirect(auth.take_next(request))
    if outcome is auth.Outcome.NEEDS_CODE:
        return redirect("login-code")
    if outcome is auth.Outcome.NEEDS_ENROLMENT:
        return redirect("two-factor-setup")
    if outcome is auth.Outcome.LOCKED:
        return render(request, "web/login.html", _login_context(request, next_url, LOCKED), status=429)
    return render(request, "web/login.html", _login_context(request, next_url, INVALID))


@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    user = auth.pending_user(request, "code")
    if user is None:
        return redirect("login")
    error = ""
    if request.method == "POST":
        try:
            verified = auth.do_second_step(request, request.POST.get("code", ""))
        except twofactor.TwoFactorError as exc:
            error = str(exc)
        else:
            if verified.method == "recovery_code":
                return render(request, "accounts/recovery_used.html",
                              {"remaining": verified.remaining_recovery_codes, "next": auth.take_next(request)})
            return redirect(auth.take_next(request))
    return render(request, "accounts/code.html", {"error": error}, status=400 if error else 200)


def _setup_user(request: HttpRequest) -> User | None:
    if isinstance(request.user, User):
        return request.user
    return auth.pending_user(request, "enrol")


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user = _setup_user(request)
    if user is None:
        return redirect("login")
    if twofactor.confirmed(user) is not None:
        return redirect("account-security")
    error = ""
    if request.method == "POST":
        try:
            codes = auth.do_enrolment_step(request, user, request.POST.get("code", ""))
        except twofactor.TwoFactorError as exc:
            error = str(exc)
        else:
            return render(request, "accounts/recovery_codes.html",
                          {"codes": codes, "next": auth.take_next(request), "new": True})
    pending = twofactor.begin_enrolment(user)
    return render(request, "accounts/setup.html", {
        "setup_user": user, "required": twofactor.requires_two_factor(user),
        "signing_in": not request.user.is_authenticated,
        "qr_svg": twofactor.qr_svg(twofactor.provisioning_uri(pending, user)),
        "secret": twofactor.secret_text(pending), "error": error,
    }, status=400 if error else 200)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    error = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "disable" and twofactor.requires_two_factor(user):
                raise twofactor.TwoFactorError("your role requires two-factor authentication; it cannot be turned off")
            if action not in {"disable", "regenerate"}:
                raise twofactor.TwoFactorError("unknown action")
            # Changing the second factor needs the second factor (step-up), not only a session.
            twofactor.do_verify_second_factor(user, request.POST.get("code", ""), request)
            if action == "regenerate":
                codes = twofactor.do_regenerate_recovery_codes(user, actor=user.actor, request=request)
                return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": "", "new": False})
            twofactor.do_disable_two_factor(user, actor=user.actor, reason="user", request=request)
            return redirect("account-security")
        except twofactor.TwoFactorError as exc:
            error = str(exc)
    return render(request, "accounts/security.html", {
        "two_factor": twofactor.confirmed(user), "required": twofactor.requires_two_factor(user),
        "remaining": twofactor.remaining_recovery_codes(user), "error": error,
        "method": request.session.get(auth.METHOD, ""), "identities": user.sso_identities.order_by("issuer"),
    }, status=400 if error else 200)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth.do_logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


@never_cache
@require_GET
def sso_login(request: HttpRequest) -> HttpResponse:
    if not sso.enabled():
        raise Http404("single sign-on is not configured")
    try:
        url = sso.begin(request, auth.safe_next(request, request.GET.get("next")))
    except sso.SsoError as exc:
        return render(request, "accounts/sso_error.html", {"message": str(exc), "groups": []}, status=502)
    return HttpResponseRedirect(url)


@never_cache
@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    if not sso.enabled():
        raise Http404("single sign-on is not configured")
    try:
        sso.do_sso_callback(request)
    except sso.SsoError as exc:
        status = 403 if exc.reason in ACCOUNT_REFUSALS else 400
        return render(request, "accounts/sso_error.html", {"message": str(exc), "reason": exc.reason,
                                                           "groups": exc.groups}, status=status)
    return redirect(auth.take_next(request))
