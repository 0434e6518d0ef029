"""Long conversations are exported by the worker: asked for on the page, made in the background,
sealed at rest, downloaded from "My exports" by the person who asked — while they may see it."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from tests.exports.conftest import JPEG, SCAN
from tests.exports.test_export_pdf import pdf_text, squeeze

from onfile.accounts.actions import do_create_user
from onfile.accounts.staff import do_update_staff
from onfile.conversations.actions import do_assign, do_create_matter, do_link_matter, do_set_wall
from onfile.conversations.models import Conversation
from onfile.exports import jobs, transcript
from onfile.exports.models import ExportJob
from onfile.ledger.models import Entry
from onfile.ops.worker import Worker

pytestmark = pytest.mark.django_db
PW = "correct horse battery staple 42"


@pytest.fixture(autouse=True)
def small_limits(settings: Any, tmp_path: Path) -> None:
    """Three messages make a conversation "long" here (the import below has five), and every
    test has an export directory of its own."""
    settings.EXPORT_BACKGROUND_MESSAGES = 3
    settings.EXPORT_DIR = tmp_path / "exports"


@pytest.fixture
def long_conversation(import_chat: Callable[..., Conversation]) -> Conversation:
    return import_chat()


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ask(client: Client, conversation: Conversation, fmt: str) -> Any:
    return client.post(f"/conversations/{conversation.pk}/exports", {"format": fmt})


def only_job(**filters: Any) -> ExportJob:
    return ExportJob.objects.get(**filters)


def downloaded(client: Client, job: ExportJob) -> tuple[Any, bytes]:
    response = client.get(f"/exports/{job.pk}/download")
    assert response.status_code == 200, response.status_code
    return response, b"".join(response.streaming_content)


def entries(kind: str, conversation: Conversation) -> list[dict[str, Any]]:
    rows = Entry.objects.filter(kind=kind, subject=f"conversation:{conversation.pk}").order_by("seq")
    return [json.loads(e.attrs) | {"actor": e.actor, "seq": e.seq} for e in rows]


def on_disk(job: ExportJob, settings: Any) -> bytes:
    return (Path(settings.EXPORT_DIR) / job.path).read_bytes()


# ---- the whole way: ask, worker, download ----------------------------------------------------------------

def test_a_long_conversation_s_pdf_is_made_by_the_worker_and_downloaded(
        long_conversation: Conversation, admin: Any, settings: Any) -> None:
    client = signed_in(admin)
    response = ask(client, long_conversation, "pdf")
    assert response.status_code == 302 and response["Location"] == "/exports/"
    job = only_job()
    assert job.state == "queued" and job.requested_by == admin and job.format == "pdf"
    assert entries("access.export", long_conversation) == []  # nothing made in the request
    page = client.get("/exports/").content.decode()
    assert "Waiting" in page and 'hx-trigger="every 3s"' in page and "/download" not in page

    assert Worker().exports() == 1
    job.refresh_from_db()
    assert job.state == "done" and job.attempts == 1 and job.error == ""
    assert job.expires_at is not None and job.expires_at - job.finished_at == timedelta(hours=24)

    response, data = downloaded(client, job)
    assert data.startswith(b"%PDF-") and len(data) == job.size == int(response["Content-Length"])
    assert hashlib.sha256(data).hexdigest() == job.sha256
    assert response["Content-Type"] == "application/pdf" and response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == f'attachment; filename="{job.filename}"'
    assert response["X-Content-Type-Options"] == "nosniff" and "Alice" not in job.filename
    _, text = pdf_text(data)
    for words in ("Hello, I have a question about the lease", "it is about clause 4", "Sure: send it over"):
        assert squeeze(words) in squeeze(text), words

    # At rest the file is sealed: the blobs' format, nothing of the PDF or its text readable.
    sealed = on_disk(job, settings)
    assert sealed.startswith(b"OFB1") and b"%PDF" not in sealed and b"lease" not in sealed
    assert len(sealed) > job.size and job.wrapped_key and job.master_key_id
    assert not any(Path(settings.BLOB_DIR).rglob(job.path))  # not in the archive's blob store


def test_the_zip_is_made_the_same_way(long_conversation: Conversation, admin: Any, settings: Any) -> None:
    client = signed_in(admin)
    ask(client, long_conversation, "zip")
    Worker().exports()
    job = only_job()
    assert job.state == "done" and job.filename.endswith(".zip")
    response, data = downloaded(client, job)
    assert response["Content-Type"] == "application/zip" and hashlib.sha256(data).hexdigest() == job.sha256
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None
    names = zf.namelist()
    assert {"conversation.jsonl", "transcript.pdf", "manifest.json"} <= set(names)
    media = sorted(zf.read(n) for n in names if n.startswith("media/"))
    assert media == sorted([JPEG, SCAN])
    assert zf.read("transcript.pdf").startswith(b"%PDF-")
    sealed = on_disk(job, settings)
    assert b"PK\x03\x04" not in sealed and b"conversation.jsonl" not in sealed and JPEG not in sealed


def test_the_export_and_each_download_are_in_the_ledger(long_conversation: Conversation, admin: Any) -> None:
    client = signed_in(admin)
    ask(client, long_conversation, "pdf")
    Worker().exports()
    job = only_job()
    [export] = entries("access.export", long_conversation)
    assert export["actor"] == admin.actor and export["format"] == "pdf" and export["completed"] is True
    assert export["sha256"] == job.sha256 and export["size"] == job.size and export["seq"] == job.export_seq
    downloaded(client, job)
    downloaded(client, job)
    downloads = entries("access.download", long_conversation)
    assert len(downloads) == 2
    for d in downloads:
        assert d["actor"] == admin.actor and d["export_job"] == job.pk and d["format"] == "pdf"
        assert d["sha256"] == job.sha256 and d["export_entry"] == job.export_seq
    assert len(entries("access.export", long_conversation)) == 1  # downloading exports nothing again


# ---- which conversations go to the worker --------------------------------------------------------------

def test_a_short_conversation_still_downloads_at_once(import_chat: Callable[..., Conversation], admin: Any,
                                                     settings: Any) -> None:
    settings.EXPORT_BACKGROUND_MESSAGES = 5  # the import has five: not more than the limit
    conversation = import_chat()
    client = signed_in(admin)
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert f'href="/conversations/{conversation.pk}/export.pdf"' in page and "/exports\"" not in page
    response = client.get(f"/conversations/{conversation.pk}/export.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert ExportJob.objects.count() == 0


def test_a_long_conversation_offers_buttons_not_links(long_conversation: Conversation, admin: Any) -> None:
    client = signed_in(admin)
    pk = long_conversation.pk
    page = client.get(f"/conversations/{pk}/").content.decode()
    assert f'action="/conversations/{pk}/exports"' in page and 'name="csrfmiddlewaretoken"' in page
    assert 'value="pdf"' in page and 'value="zip"' in page and 'href="/exports/"' in page
    assert f'href="/conversations/{pk}/export.pdf"' not in page
    # An old link or a bookmark to the immediate download offers the job instead of making it.
    for fmt in ("pdf", "zip"):
        response = client.get(f"/conversations/{pk}/export.{fmt}")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
        assert f'action="/conversations/{pk}/exports"' in response.content.decode()
    assert entries("access.export", long_conversation) == [] and ExportJob.objects.count() == 0


# ---- asking twice, and who may ask ----------------------------------------------------------------------

def test_asking_again_while_one_is_on_its_way_does_not_queue_another(long_conversation: Conversation,
                                                                      admin: Any) -> None:
    client = signed_in(admin)
    ask(client, long_conversation, "pdf")
    response = ask(client, long_conversation, "pdf")
    assert response.status_code == 302
    assert "already on its way" in client.get("/exports/").content.decode()
    assert ExportJob.objects.filter(format="pdf").count() == 1
    ask(client, long_conversation, "zip")  # another format is another job
    assert ExportJob.objects.count() == 2
    Worker().exports()  # the pdf is made (the oldest first) …
    assert only_job(format="pdf").state == "done"
    ask(client, long_conversation, "pdf")  # … and once made, it may be asked for afresh
    assert ExportJob.objects.filter(format="pdf").count() == 2
    ask(client, long_conversation, "pdf")
    assert ExportJob.objects.filter(format="pdf").count() == 2


def test_the_unique_index_keeps_one_even_when_the_first_look_misses(long_conversation: Conversation,
                                                                     admin: Any) -> None:
    first, created = jobs.do_request_export(admin, long_conversation, "pdf")
    assert created
    # Another request that got past the look-up (two clicks at once) meets the index.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ExportJob.objects.create(requested_by=admin, conversation_id=long_conversation.pk, format="pdf",
                                 requested_at=timezone.now())
    again, created = jobs.do_request_export(admin, long_conversation, "pdf")
    assert again == first and not created


def test_an_auditor_may_export_as_they_may_download(long_conversation: Conversation) -> None:
    auditor = do_create_user("audit@firm.example", PW, "auditor", "test")
    client = signed_in(auditor)
    assert ask(client, long_conversation, "pdf").status_code == 302
    Worker().exports()
    job = only_job()
    assert job.state == "done"
    downloaded(client, job)


def test_a_bad_format_or_method_is_refused(long_conversation: Conversation, admin: Any) -> None:
    client = signed_in(admin)
    assert ask(client, long_conversation, "jsonl").status_code == 400
    assert client.get(f"/conversations/{long_conversation.pk}/exports").status_code == 405
    assert ExportJob.objects.count() == 0


def test_no_one_may_ask_for_a_conversation_they_may_not_see(long_conversation: Conversation) -> None:
    outsider = do_create_user("other@firm.example", PW, "fee_earner", "test")
    assert ask(signed_in(outsider), long_conversation, "pdf").status_code == 404
    assert ExportJob.objects.count() == 0
    anonymous = ask(Client(), long_conversation, "pdf")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


# ---- only the person who asked, and only while they may see it ----------------------------------------------

@pytest.fixture
def fee_earner_job(long_conversation: Conversation) -> tuple[Any, ExportJob]:
    fee_earner = do_create_user("fe@firm.example", PW, "fee_earner", "test")
    do_assign(long_conversation, fee_earner.pk, "test")
    ask(signed_in(fee_earner), long_conversation, "pdf")
    return fee_earner, only_job()


def test_someone_else_s_export_is_404_for_everyone_else(fee_earner_job: tuple[Any, ExportJob], admin: Any,
                                                        long_conversation: Conversation) -> None:
    fee_earner, job = fee_earner_job
    Worker().exports()
    colleague = do_create_user("colleague@firm.example", PW, "fee_earner", "test")
    compliance = do_create_user("colp@firm.example", PW, "compliance", "test")
    for other in (colleague, admin, compliance):  # seeing the conversation is not enough: it is not theirs
        client = signed_in(other)
        response = client.get(f"/exports/{job.pk}/download")
        assert response.status_code == 404 and not response.get("Content-Disposition")
        assert f"/exports/{job.pk}/download" not in client.get("/exports/").content.decode()
    assert Client().get(f"/exports/{job.pk}/download")["Location"].startswith("/login/")
    assert entries("access.download", long_conversation) == []
    downloaded(signed_in(fee_earner), job)


def test_a_wall_set_after_the_export_was_made_stops_the_download(fee_earner_job: tuple[Any, ExportJob],
                                                                 long_conversation: Conversation) -> None:
    fee_earner, job = fee_earner_job
    Worker().exports()
    job.refresh_from_db()
    assert job.state == "done"
    matter = do_create_matter("M-0009", "test", title="Takeover")
    do_link_matter(long_conversation, matter, "test")
    do_set_wall(matter, "except", [fee_earner.pk], actor="test")
    client = signed_in(fee_earner)
    response = client.get(f"/exports/{job.pk}/download")
    assert response.status_code == 404 and not response.get("Content-Disposition")
    assert b"%PDF" not in response.content and b"Takeover" not in response.content
    page = client.get("/exports/").content.decode()
    assert "no longer available to you" in page and "Alice" not in page and "/download" not in page
    assert entries("access.download", long_conversation) == []


def test_a_wall_set_before_the_worker_runs_fails_the_job(fee_earner_job: tuple[Any, ExportJob],
                                                         long_conversation: Conversation) -> None:
    fee_earner, job = fee_earner_job
    matter = do_create_matter("M-0010", "test")
    do_link_matter(long_conversation, matter, "test")
    do_set_wall(matter, "except", [fee_earner.pk], actor="test")
    Worker().exports()
    job.refresh_from_db()
    assert job.state == "failed" and "no longer available to you" in job.error
    assert not job.path and entries("access.export", long_conversation) == []


def test_a_deactivated_requester_s_job_fails(fee_earner_job: tuple[Any, ExportJob], admin: Any,
                                             long_conversation: Conversation, settings: Any) -> None:
    fee_earner, job = fee_earner_job
    do_update_staff(fee_earner, admin.actor, role="fee_earner", team_id=None, active=False)
    assert Worker().exports() == 1
    job.refresh_from_db()
    assert job.state == "failed" and job.error == "Your account is no longer active, so this export was not made."
    assert job.finished_at is not None and not job.path and job.wrapped_key is None
    assert entries("access.export", long_conversation) == []
    assert not any(Path(settings.EXPORT_DIR).iterdir())


# ---- failures, dead workers, expiry -----------------------------------------------------------------------

def test_a_failing_render_fails_its_job_and_the_worker_carries_on(long_conversation: Conversation, admin: Any,
                                                                  monkeypatch: Any, settings: Any) -> None:
    real = transcript.write_pdf
    calls: list[int] = []

    def broken_once(html: Any, out: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            out.write(b"%PDF-1.7 half a file")
            raise RuntimeError("the renderer fell over")
        real(html, out)

    monkeypatch.setattr(transcript, "write_pdf", broken_once)
    client = signed_in(admin)
    ask(client, long_conversation, "pdf")
    ask(client, long_conversation, "zip")
    assert Worker().exports() == 1  # no exception out of the step
    failed = only_job(format="pdf")
    assert failed.state == "failed" and "could not be made" in failed.error and "RuntimeError" in failed.error
    assert failed.sha256 == "" and not failed.path
    assert not any(Path(settings.EXPORT_DIR).iterdir())  # the half-written file is gone
    [incomplete] = entries("access.export", long_conversation)  # recorded as incomplete, as today
    assert incomplete["completed"] is False
    assert client.get(f"/exports/{failed.pk}/download").status_code == 404
    Worker().exports()
    assert only_job(format="zip").state == "done"
    page = client.get("/exports/").content.decode()
    assert "Failed" in page and "could not be made" in page and "Ready" in page


def test_a_job_whose_worker_died_is_made_again(long_conversation: Conversation, admin: Any) -> None:
    client = signed_in(admin)
    ask(client, long_conversation, "pdf")
    # A worker claimed it an hour ago and was killed: its 30-minute lease has run out.
    claimed = jobs.claim_next(timezone.now() - timedelta(hours=1))
    assert claimed is not None and claimed.state == "running" and claimed.attempts == 1
    assert jobs.recover_stale(timezone.now() - timedelta(minutes=45)) == 0  # still within its lease then
    assert Worker().exports() == 2  # requeued, then made
    job = only_job()
    assert job.state == "done" and job.attempts == 2
    downloaded(client, job)


def test_a_job_that_keeps_killing_its_worker_is_failed(long_conversation: Conversation, admin: Any) -> None:
    ask(signed_in(admin), long_conversation, "pdf")
    for _ in range(jobs.MAX_ATTEMPTS):
        assert jobs.claim_next(timezone.now() - timedelta(hours=2)) is not None  # claimed …
        jobs.recover_stale(timezone.now())  # … and lost each time
    job = only_job()
    assert job.state == "failed" and job.attempts == jobs.MAX_ATTEMPTS
    assert f"interrupted {jobs.MAX_ATTEMPTS} times" in job.error
    assert Worker().exports() == 0


def test_a_slow_worker_does_not_overwrite_the_attempt_that_replaced_it(long_conversation: Conversation,
                                                                       admin: Any, settings: Any) -> None:
    ask(signed_in(admin), long_conversation, "pdf")
    slow = jobs.claim_next(timezone.now() - timedelta(hours=1))
    assert slow is not None
    Worker().exports()  # its lease ran out: requeued and made by another worker
    made = only_job()
    assert made.state == "done" and made.attempts == 2
    finished = jobs.run_job(slow)  # the first worker finally finishes
    assert finished.path == made.path and finished.sha256 == made.sha256
    assert sorted(p.name for p in Path(settings.EXPORT_DIR).iterdir()) == [made.path]


def test_expiry_deletes_the_file_and_keeps_the_row(long_conversation: Conversation, admin: Any,
                                                   settings: Any) -> None:
    client = signed_in(admin)
    ask(client, long_conversation, "pdf")
    Worker().exports()
    job = only_job()
    assert (Path(settings.EXPORT_DIR) / job.path).exists()
    assert jobs.work(timezone.now() + timedelta(hours=23)) == 0  # not yet
    assert jobs.work(timezone.now() + timedelta(hours=24, minutes=1)) == 1
    job.refresh_from_db()
    assert job.state == "done" and job.purged_at is not None and job.wrapped_key is None
    assert not any(Path(settings.EXPORT_DIR).iterdir())
    response = client.get(f"/exports/{job.pk}/download")
    assert response.status_code == 410 and b"expired" in response.content
    page = client.get("/exports/").content.decode()
    assert "Expired" in page and f"/exports/{job.pk}/download" not in page and "every 3s" not in page
    assert entries("access.download", long_conversation) == []


def test_keep_hours_is_a_setting(long_conversation: Conversation, admin: Any, settings: Any) -> None:
    settings.EXPORT_KEEP_HOURS = 2
    ask(signed_in(admin), long_conversation, "pdf")
    Worker().exports()
    job = only_job()
    assert job.expires_at is not None and job.finished_at is not None
    assert job.expires_at - job.finished_at == timedelta(hours=2)


def test_a_file_no_job_refers_to_is_swept(long_conversation: Conversation, admin: Any, settings: Any) -> None:
    folder = Path(settings.EXPORT_DIR)
    folder.mkdir(parents=True)
    orphan = folder / "job-999-1-0123456789abcdef.ofb"  # a worker died between writing and recording it
    orphan.write_bytes(b"OFB1 sealed bytes")
    jobs.work(timezone.now())
    assert orphan.exists()  # it might still be being written
    jobs.work(timezone.now() + timedelta(hours=1))
    assert not orphan.exists()


# ---- the page ---------------------------------------------------------------------------------------------

def test_my_exports_lists_only_mine_and_polls_while_one_is_on_its_way(long_conversation: Conversation,
                                                                      admin: Any) -> None:
    client = signed_in(admin)
    other = do_create_user("colp@firm.example", PW, "compliance", "test")
    ask(signed_in(other), long_conversation, "zip")
    ask(client, long_conversation, "pdf")
    page = client.get("/exports/").content.decode()
    assert page.count('<tr id="export-') == 1 and "Transcript (PDF)" in page
    assert 'href="/exports/"' in page and ">My exports</a>" in page  # in the navigation
    assert 'role="status"' in page and "1 on the way" in page and "Alice Smith" in page
    [seen] = [part.split('"')[0] for part in page.split("?seen=")[1:]]
    polled = Client()
    polled.force_login(admin)
    unchanged = polled.get(f"/exports/?seen={seen}", HTTP_HX_REQUEST="true")
    assert unchanged.status_code == 204  # nothing changed: nothing to swap, nothing announced

    jobs.work()  # the oldest first: the compliance officer's zip
    jobs.work()
    update = polled.get(f"/exports/?seen={seen}", HTTP_HX_REQUEST="true")
    fragment = update.content.decode()
    assert update.status_code == 200 and "<html" not in fragment and 'hx-swap-oob="innerHTML"' in fragment
    assert "Ready" in fragment and "/download" in fragment and "1 ready to download" in fragment
    assert "every 3s" not in fragment  # nothing left on its way: the poller stops
    assert "every 3s" not in client.get("/exports/").content.decode()
