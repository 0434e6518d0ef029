"""Database triggers that make the record append-only (ARCHITECTURE invariant 2).

``ledger_entry`` and ``ledger_checkpoint`` refuse UPDATE and DELETE (and TRUNCATE on
PostgreSQL); ``ledger_head`` may only grow. A permission check in Python could be
bypassed by any code path; the database refuses for every client. A DBA can still drop
a trigger, which is why ``onfile verify`` exists and checkpoints are copied off-system.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

APPEND_ONLY = ("ledger_entry", "ledger_checkpoint")

SQLITE_UP = [
    sql
    for table in APPEND_ONLY
    for sql in (
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: updates are refused'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: deletes are refused'); END",
    )
] + [
    "CREATE TRIGGER ledger_head_only_grows BEFORE UPDATE ON ledger_head WHEN NEW.size < OLD.size "
    "BEGIN SELECT RAISE(ABORT, 'ledger_head may only grow'); END",
    "CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head "
    "BEGIN SELECT RAISE(ABORT, 'ledger_head cannot be deleted'); END",
]
SQLITE_DOWN = [f"DROP TRIGGER IF EXISTS {t}_no_update" for t in APPEND_ONLY] + [
    f"DROP TRIGGER IF EXISTS {t}_no_delete" for t in APPEND_ONLY
] + ["DROP TRIGGER IF EXISTS ledger_head_only_grows", "DROP TRIGGER IF EXISTS ledger_head_no_delete"]

PG_UP = [
    """CREATE OR REPLACE FUNCTION onfile_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE OR REPLACE FUNCTION onfile_head_only_grows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' OR NEW.size < OLD.size THEN
            RAISE EXCEPTION 'ledger_head may only grow' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END $$""",
    *[
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION onfile_refuse_change()"
        for table in APPEND_ONLY
    ],
    *[
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION onfile_refuse_change()"
        for table in APPEND_ONLY
    ],
    "CREATE TRIGGER ledger_head_only_grows BEFORE UPDATE OR DELETE ON ledger_head "
    "FOR EACH ROW EXECUTE FUNCTION onfile_head_only_grows()",
    "CREATE TRIGGER ledger_head_no_truncate BEFORE TRUNCATE ON ledger_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION onfile_refuse_change()",
]
PG_DOWN = [
    *[f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}" for t in APPEND_ONLY],
    *[f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}" for t in APPEND_ONLY],
    "DROP TRIGGER IF EXISTS ledger_head_only_grows ON ledger_head",
    "DROP TRIGGER IF EXISTS ledger_head_no_truncate ON ledger_head",
    "DROP FUNCTION IF EXISTS onfile_refuse_change()",
    "DROP FUNCTION IF EXISTS onfile_head_only_grows()",
]


def _run(statements: dict[str, list[str]]) -> Any:
    def apply(apps: Any, schema_editor: Any) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, None)  # None: no placeholder parsing of plpgsql "%"

    return apply


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(_run({"sqlite": SQLITE_UP, "postgresql": PG_UP}),
                             _run({"sqlite": SQLITE_DOWN, "postgresql": PG_DOWN})),
    ]
