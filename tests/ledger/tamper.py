"""What an attacker with database access would do: lift the append-only triggers."""

from __future__ import annotations

from django.db import connection


def lift_append_only(table: str) -> None:
    """Drop the triggers of ``table`` (inside the test's transaction, so it is rolled back)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for suffix in ("no_update", "no_delete"):
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
        else:
            # Deferred foreign-key checks must fire first, or PostgreSQL refuses the ALTER.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def execute(sql: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
