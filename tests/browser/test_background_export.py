"""A long conversation's transcript, in a real browser: asked for on the conversation's page,
made by one round of the background worker, and downloaded from "My exports" — whose list
updates itself (htmx polling) when the job is done.

The server runs without its own background worker (``onfile serve --no-worker``) so that the
test decides when the worker's round happens: the page is seen waiting first, then ready.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from pypdf import PdfReader
from tests.browser.conftest import LiveOnfile, _drop_database, _server_env
from tests.conftest import PASSWORD, Cli
from tests.exports.conftest import ALICE, JPEG, SCAN, chat_zip
from tests.oidc import _free_port

Shot = Callable[[Any, str], Path]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveOnfile]:
    root = tmp_path_factory.mktemp("live-bgexport")
    port, simulator_port = _free_port(), _free_port()
    env, database = _server_env(root / "data", port, simulator_port)
    env["ONFILE_EXPORT_BACKGROUND_MESSAGES"] = "3"  # the chat below has five messages: "long"
    # Without its own worker: the test runs the worker's rounds itself.
    live = LiveOnfile("bgexport", Cli(root / "data", env), port, simulator_port, root / "serve.log",
                      database=database, serve_args=("--no-worker",))
    try:
        live.cli.init()
        live.start()
        yield live
    finally:
        live.stop()
        _drop_database(database)


def test_a_long_transcript_is_made_in_the_background_and_downloaded(server: LiveOnfile, page: Any,
                                                                    screenshot: Shot, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    chat = chat_zip(tmp_path / "chat.zip", ALICE, {"IMG-20240113-WA0001.jpg": JPEG, "scan.pdf": SCAN})
    imported = json.loads(server.run("import", str(chat), "--me", "Bob Solicitor", "--tz", "UTC", "--json").stdout)
    [pk] = imported["conversations"]
    email = server.create_user("exports.admin@firm.example", "admin")

    page.goto(server.url + "/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    app = pyotp.TOTP(page.locator("#totp-secret").inner_text().replace(" ", ""))
    page.get_by_label("Code from the app").fill(app.now())
    with page.expect_navigation():
        page.get_by_role("button", name="Turn on two-factor authentication").click()
    with page.expect_navigation():
        page.get_by_role("link", name="I have saved them — continue").click()

    # The conversation's page: the exports are buttons (a POST with the CSRF token), not links.
    page.goto(f"{server.url}/conversations/{pk}/")
    button = page.get_by_role("button", name="Transcript (PDF)")
    expect(button).to_be_visible()
    expect(page.get_by_role("link", name="Transcript (PDF)")).to_have_count(0)
    screenshot(page, "background-export-conversation")
    with page.expect_navigation():
        button.click()
    assert page.url == server.url + "/exports/"
    expect(page.get_by_role("status").first).to_contain_text("Transcript (PDF) of conversation")
    row = page.locator("table.exports tbody tr").first
    expect(row).to_contain_text("Waiting")
    expect(page.locator("#exports-status")).to_contain_text("1 on the way")
    expect(row.get_by_role("link", name=re.compile("Download"))).to_have_count(0)
    screenshot(page, "background-export-waiting")

    # One round of the worker; the page notices by itself (no reload).
    server.run("worker", "--once")
    link = row.get_by_role("link", name=re.compile("^Download"))
    expect(link).to_be_visible(timeout=30_000)
    expect(row).to_contain_text("Ready")
    expect(page.locator("#exports-status")).to_contain_text("1 ready to download")
    screenshot(page, "background-export-ready")

    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "downloaded.pdf"
    download.value.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"%PDF-")
    text = "".join("".join(p.extract_text() or "" for p in PdfReader(saved).pages).split())
    assert "Hello,Ihaveaquestionaboutthelease" in text and "Sure:senditover" in text
    assert re.fullmatch(r"onfile-conversation-\d+-\d{8}-\d{6}\.pdf", download.value.suggested_filename)
    # At rest it was sealed: no file under the export folder reads as a PDF.
    stored = list((server.cli.data_dir / "exports").iterdir())
    assert len(stored) == 1 and stored[0].read_bytes().startswith(b"OFB1") and b"%PDF" not in stored[0].read_bytes()
