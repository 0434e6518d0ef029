"""SQLite: a covering index to sort a search's matches by time (see onfile/search/schema.py)."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    from onfile.search.schema import install_order_index

    install_order_index(schema_editor.connection)


def backwards(apps: Any, schema_editor: Any) -> None:
    from onfile.search.schema import ORDER_INDEX

    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP INDEX IF EXISTS {ORDER_INDEX}")


class Migration(migrations.Migration):

    dependencies = [("search", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
