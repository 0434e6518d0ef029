"""Errors raised while opening or parsing an export; messages are shown to the user as is."""

from __future__ import annotations


class ExportError(Exception):
    """The file cannot be imported as a WhatsApp export (unsafe, damaged, or incomplete)."""


class NotAnExport(ExportError):
    """The file is readable but holds no WhatsApp message header."""
