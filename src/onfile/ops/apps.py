from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: the ``onfile`` subcommands (init, serve, worker, verify …)."""

    name = "onfile.ops"
    label = "ops"
