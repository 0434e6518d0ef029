"""The full-text index over message bodies (see onfile/search/schema.py)."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    from onfile.search.schema import install

    install(schema_editor.connection)


def backwards(apps: Any, schema_editor: Any) -> None:
    from onfile.search.schema import uninstall

    uninstall(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0002_attachment_media_id_conversation_last_inbound_at_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
