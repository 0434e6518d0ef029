"""Claiming export jobs: one worker per job, on SQLite (a conditional UPDATE) and on PostgreSQL
(``SELECT … FOR UPDATE SKIP LOCKED``) — in this process, and with two real workers at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from tests.conftest import Cli
from tests.exports.conftest import ALICE, JPEG, SCAN, chat_zip

from onfile.conversations.models import Conversation
from onfile.exports import jobs
from onfile.exports.models import ExportJob


@pytest.fixture(autouse=True)
def own_folder(settings: Any, tmp_path: Path) -> None:
    settings.EXPORT_DIR = tmp_path / "exports"


@pytest.mark.django_db
def test_each_job_is_claimed_once_oldest_first(import_chat: Callable[..., Conversation], admin: Any) -> None:
    conversation = import_chat()
    first, _ = jobs.do_request_export(admin, conversation, "pdf")
    second, _ = jobs.do_request_export(admin, conversation, "zip")
    now = timezone.now()
    claimed = [jobs.claim_next(now), jobs.claim_next(now), jobs.claim_next(now)]
    assert [j.pk if j else None for j in claimed] == [first.pk, second.pk, None]
    assert all(j is not None and j.state == "running" and j.attempts == 1 and j.lease_until is not None
               for j in claimed[:2])
    # Which way the claim went: row locks where the database has them.
    assert connection.features.has_select_for_update_skip_locked == (connection.vendor == "postgresql")


@pytest.mark.django_db
def test_a_claim_that_lost_the_race_takes_nothing(import_chat: Callable[..., Conversation], admin: Any) -> None:
    conversation = import_chat()
    job, _ = jobs.do_request_export(admin, conversation, "pdf")
    now = timezone.now()
    # Another worker updated the row between this worker's read and its UPDATE.
    ExportJob.objects.filter(pk=job.pk).update(state="running", attempts=1, lease_until=now)
    assert jobs.claim_one_of([job.pk], now) is None
    job.refresh_from_db()
    assert job.state == "running" and job.attempts == 1


SCRIPT = """
import json, sys
import django
django.setup()
from onfile.accounts.models import User
from onfile.conversations.models import Conversation
from onfile.exports.jobs import do_request_export
from onfile.exports.models import ExportJob
from onfile.ledger.models import Entry

if sys.argv[1] == "lock-first-then-claim":
    # Another worker's transaction holds the oldest job's row (it is claiming it right now).
    import psycopg
    from django.conf import settings
    from django.utils import timezone
    from onfile.exports.jobs import claim_next

    db = settings.DATABASES["default"]
    first, second = ExportJob.objects.order_by("pk").values_list("pk", flat=True)
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"]) as other:
        other.execute("SELECT id FROM exports_exportjob WHERE id = %s FOR UPDATE", [first])
        claimed = claim_next(timezone.now())  # does not wait for it: takes the next one
        print(json.dumps({"first": first, "second": second, "claimed": claimed.pk if claimed else None}))
elif sys.argv[1] == "queue":
    admin = User.objects.get(email="admin@firm.example")
    conversation = Conversation.objects.get()
    for fmt in ("pdf", "zip"):
        do_request_export(admin, conversation, fmt)
else:
    print(json.dumps({
        "jobs": list(ExportJob.objects.order_by("pk").values("state", "attempts", "sha256", "export_seq")),
        "exports": sorted(json.loads(e.attrs)["sha256"] for e in Entry.objects.filter(kind="access.export")),
    }))
"""


def archive_with_two_jobs(cli: Cli, tmp_path: Path) -> Callable[..., str]:
    """A real archive (committed rows, its own database) with a pdf and a zip job queued; returns
    a runner of SCRIPT against it."""
    cli.init()
    cli.run("import", str(chat_zip(tmp_path / "chat.zip", ALICE, {"IMG-20240113-WA0001.jpg": JPEG,
                                                                   "scan.pdf": SCAN})),
            "--me", "Bob Solicitor", "--tz", "UTC")
    env = {**cli.env, "DJANGO_SETTINGS_MODULE": "onfile.settings"}

    def python(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", SCRIPT, *args], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    python("queue")
    return python


@pytest.mark.cli
@pytest.mark.skipif(not os.environ.get("ONFILE_DATABASE_URL", "").startswith("postgres"),
                    reason="row locks: PostgreSQL only (SQLite has none; its claim is the conditional UPDATE)")
def test_postgresql_skips_a_job_another_worker_has_locked(cli: Cli, tmp_path: Path) -> None:
    python = archive_with_two_jobs(cli, tmp_path)
    result = json.loads(python("lock-first-then-claim"))
    assert result["claimed"] == result["second"]


@pytest.mark.cli
def test_two_workers_at_once_make_each_job_once(cli: Cli, tmp_path: Path) -> None:
    python = archive_with_two_jobs(cli, tmp_path)
    workers = [subprocess.Popen([sys.executable, "-m", "onfile.cli", "worker", "--once"], env=cli.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    state = json.loads(python("report"))
    # One job each (a worker makes one export per round), each made once.
    assert [(j["state"], j["attempts"]) for j in state["jobs"]] == [("done", 1), ("done", 1)]
    assert state["exports"] == sorted(j["sha256"] for j in state["jobs"])
    assert len({j["export_seq"] for j in state["jobs"]}) == 2
    files = list((cli.data_dir / "exports").iterdir())
    assert len(files) == 2 and all(f.read_bytes().startswith(b"OFB1") for f in files)
