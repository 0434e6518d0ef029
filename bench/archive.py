"""A throwaway archive for benchmarks: a temporary data directory (and, for PostgreSQL, a
fresh database), initialised like ``onfile init`` does. Import this before Django."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid


def setup(database_url: str = "") -> str:
    """Point onfile at a new archive, set Django up, initialise; return a label for reports."""
    data = tempfile.mkdtemp(prefix="onfile-bench-", dir=os.environ.get("BENCH_TMP"))
    atexit.register(shutil.rmtree, data, True)
    os.environ["ONFILE_DATA_DIR"] = data
    os.environ["ONFILE_LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onfile.settings")
    label = "SQLite (WAL, synchronous=FULL)"
    if database_url:
        import psycopg

        name = f"onfile_bench_{uuid.uuid4().hex[:8]}"
        admin = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        atexit.register(drop)
        os.environ["ONFILE_DATABASE_URL"] = database_url.rsplit("/", 1)[0] + "/" + name
        label = "PostgreSQL (synchronous_commit=on)"
    else:
        os.environ.pop("ONFILE_DATABASE_URL", None)
    import django

    django.setup()
    from onfile.ops.install import initialise

    initialise()
    return label
