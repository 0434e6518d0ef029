from django.apps import AppConfig


class EmailConfig(AppConfig):
    name = "onfile.channels.email"
    label = "email_bridge"
    verbose_name = "Email bridge"

    def ready(self) -> None:
        from onfile.channels.email import checks  # noqa: F401  (registers the system checks)
