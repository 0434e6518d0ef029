"""Session expiry: an absolute lifetime from sign-in and an idle timeout.

Django's own expiry slides with every save, so a session used every few minutes would live
for ever. Here the time of sign-in and of the last request are kept in the session;
a session past ``SESSION_ABSOLUTE_SECONDS`` since sign-in, or idle for longer than
``SESSION_IDLE_SECONDS``, is ended (ledgered) and the request continues as anonymous, so the
usual ``login_required`` redirect sends the person to the sign-in page, which says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from onfile.accounts import auth

# Writing the session on every request would make each page view a database write; the
# idle clock only needs minute precision.
SEEN_RESOLUTION_SECONDS = 60


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            reason = self._expired(request)
            if reason:
                auth.do_expire_session(request, reason)
        return self.get_response(request)

    def _expired(self, request: HttpRequest) -> str:
        session = request.session
        now = time.time()
        signed_in_at = session.get(auth.AUTH_AT)
        seen_at = session.get(auth.SEEN_AT)
        if signed_in_at is None or seen_at is None:
            # A session not made by onfile's sign-in (Django's test client force_login): start the
            # clocks now rather than let it run unbounded.
            session[auth.AUTH_AT] = session.get(auth.AUTH_AT, now)
            session[auth.SEEN_AT] = now
            return ""
        if now - float(signed_in_at) > settings.SESSION_ABSOLUTE_SECONDS:
            return "absolute"
        if now - float(seen_at) > settings.SESSION_IDLE_SECONDS:
            return "idle"
        if session.get(auth.MFA) is False and auth.requires_two_factor(request.user):
            # Signed in with a password alone, then given a role that needs a second factor.
            return "second_factor_required"
        if now - float(seen_at) >= SEEN_RESOLUTION_SECONDS:
            session[auth.SEEN_AT] = now
        return ""
