"""What the conversation page needs to know about exports: ``{% load onfile_exports %}``."""

from __future__ import annotations

from django import template

from onfile.conversations.models import Conversation
from onfile.exports import jobs

register = template.Library()


@register.filter
def exports_in_background(conversation: Conversation) -> bool:
    """Is the conversation long enough for its exports to be made by the worker?"""
    return jobs.in_background(conversation.pk)
