from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SearchConfig(AppConfig):
    name = "onfile.search"
    label = "search"

    def ready(self) -> None:
        from onfile.search import checks  # noqa: F401  (registers the system check)
        from onfile.search.schema import after_migrate

        # The one signal receiver here, on purpose: a migration of *another* app can drop the
        # SQLite triggers that keep the index (schema.py); this puts them back after every migrate.
        post_migrate.connect(after_migrate, sender=self, dispatch_uid="onfile.search.after_migrate")
