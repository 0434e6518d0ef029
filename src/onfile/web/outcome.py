"""The one way a form view reports an action's result: the action's own message on refusal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib import messages as flash
from django.http import HttpRequest

from onfile import access
from onfile.conversations.actions import ActionError
from onfile.conversations.models import Conversation


@contextmanager
def outcome(request: HttpRequest, success: str,
            refusals: tuple[type[Exception], ...] = (ActionError,)) -> Iterator[None]:
    """Run the block; a refusal (bad input for an action) is shown as an error, else ``success``."""
    try:
        yield
    except refusals as exc:
        flash.error(request, str(exc))
    else:
        flash.success(request, success)


def conversation_to_change(request: HttpRequest, pk: int) -> Conversation:
    """The conversation, if the person may see it (else 404) and may change things (else 403)."""
    conversation = access.get_conversation(request.user, pk)
    access.require_change(request.user)
    return conversation
