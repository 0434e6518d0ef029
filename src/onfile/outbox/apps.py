from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "onfile.outbox"
    label = "outbox"
