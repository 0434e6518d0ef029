"""onfile: every business WhatsApp conversation on the firm's record."""

__version__ = "0.1.0"
