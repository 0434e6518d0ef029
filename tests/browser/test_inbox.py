"""Issue 5's "done when", in a real browser against ``onfile serve --demo`` and its simulator.

The administrator from ``onfile init`` signs in (setting up two-factor), sees what the client
types on the simulator's phone page, links the conversation to a new matter, replies with a
document (which reaches the phone with ticks), searches and finds it, downloads the PDF
transcript — and a walled colleague can do none of that for this matter, by page, URL,
search or export. An auditor reads and changes nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from tests.browser.conftest import LiveOnfile
from tests.conftest import PASSWORD

Shot = Callable[[Any, str], Path]
CLIENT = "+447700900123"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def server(start_onfile: Callable[..., LiveOnfile]) -> LiveOnfile:
    live = start_onfile("inbox")

    def simulator_up() -> bool:
        try:
            return httpx.get(live.simulator_url + "/_sim/api/personas", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
    wait_until(simulator_up, 90, "the simulator")
    return live


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    """What the steps of this module hand on to each other (they run in file order)."""
    return {}


@pytest.fixture
def context_page(browser: Any) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def new(width: int = 1200, height: int = 900) -> Any:
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB", accept_downloads=True)
        ctx.set_default_timeout(20_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield new
    for ctx in contexts:
        ctx.close()


def sign_in(page: Any, server: LiveOnfile, email: str, state: dict[str, Any]) -> None:
    """Password, then the second factor: set up on first sign-in, a code from the app after."""
    page.goto(server.url + "/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if page.url.endswith("/account/two-factor/setup/"):
        app = pyotp.TOTP(page.locator("#totp-secret").inner_text().replace(" ", ""))
        state.setdefault("apps", {})[email] = app
        page.get_by_label("Code from the app").fill(fresh_code(app, state, email))
        with page.expect_navigation():
            page.get_by_role("button", name="Turn on two-factor authentication").click()
        with page.expect_navigation():
            page.get_by_role("link", name="I have saved them — continue").click()
    elif page.url.endswith("/login/code/"):
        app = state["apps"][email]
        page.get_by_label("Code", exact=True).fill(fresh_code(app, state, email))
        with page.expect_navigation():
            page.get_by_role("button", name="Verify").click()
    assert page.get_by_role("button", name=re.compile("Sign out")).is_visible()


def fresh_code(app: pyotp.TOTP, state: dict[str, Any], email: str) -> str:
    """A code onfile has not seen yet: each 30-second step is accepted once, and only the
    current step and one either side."""
    used = state.setdefault("steps", {}).get(email, -1)
    now = int(time.time()) // 30
    step = max(used + 1, now)
    while step > int(time.time()) // 30 + 1:
        time.sleep(1)
    state["steps"][email] = step
    return str(app.at(step * 30))


def client_writes(server: LiveOnfile, text: str, name: str = "Sheena Nelson") -> None:
    with httpx.Client(base_url=server.simulator_url, timeout=10) as sim:
        sim.post("/_sim/api/personas", json={"phone": CLIENT, "name": name})
        r = sim.post("/_sim/api/inbound", json={"from": CLIENT, "name": name, "type": "text", "text": text})
        assert r.status_code == 200, r.text


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_admin_sees_the_clients_message_links_a_matter_and_replies(
        server: LiveOnfile, context_page: Callable[..., Any], state: dict[str, Any], screenshot: Shot) -> None:
    # The client types on the simulator's phone page.
    phone = context_page(420, 800)
    phone.goto(f"{server.simulator_url}/?as={CLIENT}")
    phone.wait_for_load_state()
    client_writes(server, "Hello, I have a question about the lease renewal.")

    page = context_page()
    sign_in(page, server, server.admin_email, state)
    page.goto(server.url + "/inbox/")

    def listed() -> bool:
        page.reload()
        return page.locator("#inbox-list a.conv-link").count() > 0
    wait_until(listed, 60, "the conversation in the inbox")
    screenshot(page, "inbox")
    with page.expect_navigation():
        page.locator("#inbox-list a.conv-link").first.click()
    state["conversation_url"] = page.url
    assert page.get_by_text("question about the lease renewal").is_visible()

    # Link it to a new matter, created here.
    page.locator("#new-matter-details summary").click()
    page.get_by_label("Reference").fill("NEL-2026-001")
    page.get_by_label("Title").fill("Lease renewal")
    with page.expect_navigation():
        page.get_by_role("button", name="Save links").click()
    assert page.get_by_role("link", name="NEL-2026-001").first.is_visible()

    # Reply with a document; it goes through the outbox and the ticks come back without a reload.
    page.get_by_label("Message (or caption for a file)").fill("Here is the draft renewal — please sign.")
    page.get_by_label("Attach a file (photo, video, audio or document)").set_input_files(
        {"name": "renewal-draft.pdf", "mimeType": "application/pdf", "buffer": PDF})
    with page.expect_navigation():
        page.get_by_role("button", name="Send").click()
    page.locator(".msg.out .ticks:not(.status-queued)").first.wait_for(timeout=60_000)
    # The client's phone shows it.
    phone.reload()
    phone.get_by_text("renewal-draft.pdf").first.wait_for(timeout=30_000)
    screenshot(phone, "simulator-phone-after-reply")

    # A new message from the client appears on the open page without a reload.
    client_writes(server, "Thank you, signing it tonight.")
    page.get_by_text("signing it tonight").wait_for(timeout=30_000)
    page.locator(".msg.out .ticks.status-read").first.wait_for(timeout=30_000)  # the client read our reply
    screenshot(page, "conversation")


def test_search_finds_the_reply_and_the_transcript_downloads(
        server: LiveOnfile, context_page: Callable[..., Any], state: dict[str, Any], screenshot: Shot) -> None:
    page = context_page()
    sign_in(page, server, server.admin_email, state)
    page.goto(server.url + "/search/")
    page.get_by_label("Search messages").fill("renewal")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    hits = page.locator(".hits li")
    assert hits.count() >= 2
    assert page.locator(".hits mark").first.inner_text().lower().startswith("renewal")
    screenshot(page, "search")
    page.goto(state["conversation_url"])
    with page.expect_download() as download:
        page.get_by_role("link", name="Transcript (PDF)").click()
    path = download.value.path()
    assert Path(path).read_bytes().startswith(b"%PDF")
    state["pdf_url"] = download.value.url


def test_a_walled_colleague_can_do_none_of_it(
        server: LiveOnfile, context_page: Callable[..., Any], state: dict[str, Any], screenshot: Shot) -> None:
    colleague = server.create_user("walled.colleague@firm.example", "fee_earner", name="Wally Colleague")
    admin = context_page()
    sign_in(admin, server, server.admin_email, state)
    admin.goto(state["conversation_url"])
    admin.get_by_label("Member of staff").select_option(label="Wally Colleague")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Assign").click()

    wally = context_page()
    sign_in(wally, server, colleague, state)
    wally.goto(state["conversation_url"])
    assert wally.get_by_text("question about the lease renewal").is_visible()  # assigned: visible

    # Compliance (here the administrator) walls the matter against the colleague.
    with admin.expect_navigation():
        admin.get_by_role("link", name="NEL-2026-001").first.click()
    admin.get_by_label("everyone except the people listed").check()
    admin.get_by_label("People", exact=True).select_option(label="Wally Colleague")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save wall").click()
    assert admin.get_by_text("Ethical wall saved").is_visible()
    screenshot(admin, "matter-with-wall")

    matter_url = admin.url
    for url in (state["conversation_url"], matter_url, state["pdf_url"]):
        response = wally.goto(url)
        assert response is not None and response.status == 404, url
    wally.goto(server.url + "/inbox/")
    assert wally.locator("#inbox-list a.conv-link").count() == 0
    wally.goto(server.url + "/search/?q=renewal")
    assert wally.locator(".hits li").count() == 0
    wally.goto(server.url + "/matters/")
    assert "NEL-2026-001" not in wally.locator("main").inner_text()
    screenshot(wally, "walled-colleague-matters")
    csrf = next((c["value"] for c in wally.context.cookies() if c["name"] == "csrftoken"), "")
    probe = wally.request.post(state["conversation_url"] + "reply", form={"text": "x"}, headers={"X-CSRFToken": csrf})
    assert probe.status == 404


def test_an_auditor_reads_but_changes_nothing(
        server: LiveOnfile, context_page: Callable[..., Any], state: dict[str, Any], screenshot: Shot) -> None:
    auditor = server.create_user("auditor@regulator.example", "auditor")
    page = context_page()
    sign_in(page, server, auditor, state)  # auditors must set up two-factor
    page.goto(state["conversation_url"])
    assert page.get_by_text("question about the lease renewal").is_visible()
    assert page.locator("#reply").count() == 0 and page.locator("form[action$='assign']").count() == 0
    screenshot(page, "auditor-conversation")
    csrf = next((c["value"] for c in page.context.cookies() if c["name"] == "csrftoken"), "")
    for action, form in (("reply", {"text": "x"}), ("assign", {"assignee": ""}), ("note", {"text": "x"})):
        r = page.request.post(state["conversation_url"] + action, form=form, headers={"X-CSRFToken": csrf})
        assert r.status == 403, action


def test_the_conversation_page_works_on_a_phone(
        server: LiveOnfile, context_page: Callable[..., Any], state: dict[str, Any], screenshot: Shot) -> None:
    page = context_page(390, 844)
    sign_in(page, server, server.admin_email, state)
    page.goto(state["conversation_url"])
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a phone ({width}px)"
    screenshot(page, "conversation-on-a-phone")
