"""The earlier texts of edited and deleted messages are indexed too (see onfile/search/schema.py):
compliance roles, who may read them, find them by searching."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    from onfile.search.schema import install_revisions

    install_revisions(schema_editor.connection)


def backwards(apps: Any, schema_editor: Any) -> None:
    from onfile.search.schema import uninstall_revisions

    uninstall_revisions(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("search", "0002_order_index"),
        ("conversations", "0006_search_lookup_indexes"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
