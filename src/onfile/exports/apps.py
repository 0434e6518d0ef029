from django.apps import AppConfig


class ExportsConfig(AppConfig):
    """Conversation exports (JSON lines, PDF transcript, zip) and the jobs that make large ones in the worker."""

    name = "onfile.exports"
    label = "exports"
