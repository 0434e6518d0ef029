from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "onfile.conversations"
    label = "conversations"

    def ready(self) -> None:
        from onfile.conversations import projectors  # noqa: F401  (registers the projectors)
