from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "onfile.ledger"
    label = "ledger"
    verbose_name = "Ledger (the record)"

    def ready(self) -> None:
        from onfile import checks  # noqa: F401  (registers the system checks)
