from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "onfile.imports"
    label = "imports"

    def ready(self) -> None:
        from onfile.imports import projectors  # noqa: F401  (registers the projectors)
