from django.apps import AppConfig


class WhatsAppConfig(AppConfig):
    name = "onfile.channels.whatsapp"
    label = "whatsapp"
    verbose_name = "WhatsApp Business Platform"

    def ready(self) -> None:
        from onfile.channels.whatsapp import projectors, sending  # noqa: F401  (registers the projectors)
