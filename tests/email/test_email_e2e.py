"""Issue 6 end to end: a client's WhatsApp photo and question reach the fee earner's mailbox, the fee
earner answers from their mail client, and the answer reaches the client's phone — every hop real, on
loopback, and every step on the record.

- The client's phone is the WhatsApp simulator (a real HTTP server, ``sim``); its webhook bodies are
  posted to onfile's webhook endpoint (``phone``), and the worker's own steps
  (``Worker().whatsapp()``/``.email()``, called here one at a time instead of on a timer) process them,
  fetch the media from the simulator's Graph API, deliver the emails and deliver the sends.
- The firm's relay is aiosmtpd (``relay``): the forwards and the journal copies arrive there over SMTP.
- The reply goes over SMTP (smtplib, as the firm's mail gateway would pass it on) to onfile's reply
  server — the ``ReplyServer`` that ``onfile smtpd`` runs, built by the same ``smtpd.from_settings``,
  listening on a free loopback port on its own asyncio loop. ``onfile smtpd`` as a subprocess
  (test_email_smtpd.py) cannot share this test's archive: on SQLite the test database lives in this
  process's memory, and the ledger's append-only triggers refuse the flush a committing
  (transactional) test would need. So the server's ``receive`` hook (a constructor parameter) hands
  each mail to the real ``inbound.receive`` on the test's thread, inside the test's transaction;
  everything else — the SMTP dialogue, RCPT checks, SIZE, the answer after the capture — is the
  server's own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import queue
import re
import smtplib
import struct
import textwrap
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from typing import Any

import httpx
import pytest

from onfile.accounts.models import User
from onfile.channels.email import compose, inbound, smtpd, tokens
from onfile.conversations.actions import do_assign, do_create_client, do_create_matter, do_link_matter
from onfile.conversations.models import Conversation, Message
from onfile.ledger.blobs import read_blob
from onfile.ledger.log import ledger_size
from onfile.ledger.models import Entry
from onfile.ledger.verify import verify
from onfile.ops.worker import Worker
from onfile.simulator import Simulator

from .conftest import CLIENT, DOMAIN, FALLBACK, FROM, JOURNAL, Phone, Relay
from .replying import REPLY_DOMAIN

pytestmark = pytest.mark.django_db

CLIENT_NAME, MATTER = "Alice Example", "CONV-2026-0017"
SUBJECT = f"WhatsApp: {CLIENT_NAME} ({CLIENT}) — {MATTER}"
CAPTION = "Page 3, signed"
QUESTION = "Is this the page you need? And is the lease ready for me to sign?"
# What the fee earner newly writes; the client must see exactly this (no quote, no signature).
ANSWER = ("Dear Alice,\n\nThank you, that is the right page and it is clear.\n"
          "Yes: the lease is attached. Please sign page 7 as well — the deposit of £2,500 is due on Friday.")
SIGNATURE = "Sam Taylor\nAssociate, Example Law LLP\n+44 20 7946 0000"
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       + b"% lease of 4 Elm Row, counterpart for signature\n" * 60 + b"%%EOF\n")


def png(width: int, height: int) -> bytes:
    """A real PNG (a colour gradient), larger than the 64x64 below which inline images count as icons."""
    rows = b"".join(b"\0" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 96))
                    for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PHOTO = png(160, 120)


# ---- the reply server, as ``onfile smtpd`` runs it ------------------------------------------------------


class OnTestThread:
    """``ReplyServer``'s receive hook: each mail goes to ``inbound.receive`` on the test's thread (which
    holds the test's database transaction) while the server's thread waits for the outcome."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[bytes, dict[str, Any], Future[inbound.Outcome]]] = queue.Queue()

    def __call__(self, raw: bytes, **kwargs: Any) -> inbound.Outcome:  # on the server's worker thread
        outcome: Future[inbound.Outcome] = Future()
        self.calls.put((raw, kwargs, outcome))
        return outcome.result(timeout=60)

    def serve_while(self, job: Future[Any]) -> Any:
        """Run the receives ``job`` causes until it is done; returns its result."""
        while not job.done():
            try:
                raw, kwargs, outcome = self.calls.get(timeout=0.02)
            except queue.Empty:
                continue
            try:
                outcome.set_result(inbound.receive(raw, **kwargs))
            except Exception as exc:
                outcome.set_exception(exc)  # the server answers 451, as it would …
                raise  # … and the test fails with the pipeline's own traceback
        return job.result()


@contextmanager
def reply_server(hook: OnTestThread) -> Iterator[smtpd.ReplyServer]:
    server = smtpd.from_settings("127.0.0.1", 0, receive=hook)  # `onfile smtpd --host 127.0.0.1 --port 0`
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="onfile-smtpd", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
        try:
            yield server
        finally:
            asyncio.run_coroutine_threadsafe(server.stop(grace=5), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def gateway_sends(port: int, sender: str, recipient: str, raw: bytes) -> tuple[int, str]:
    """The firm's mail gateway passing the reply on (in a thread: the test's thread records it)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("gateway.firm.example")
        assert smtp.mail(sender, [f"SIZE={len(raw)}", "BODY=8BITMIME"])[0] == 250
        assert smtp.rcpt(recipient)[0] == 250
        code, answer = smtp.data(raw)
        return code, answer.decode()


# ---- the fee earner's mail client -------------------------------------------------------------------------


def plain(mail: EmailMessage) -> str:
    return str(mail.get_body(("plain",)).get_content()).replace("\r\n", "\n")  # type: ignore[union-attr]


def body_html(mail: EmailMessage) -> str:
    page = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"<body[^>]*>(.*)</body>", page, re.S)
    assert found
    return found.group(1)


def flowed(text: str, width: int = 72) -> str:
    """``format=flowed`` (RFC 3676) as Thunderbird writes it: a long line is broken at spaces, each
    break marked by a trailing space; quoted lines keep their ``>`` on every piece; "-- " stays."""
    out = []
    for line in text.split("\n"):
        quote = re.match(r">+ ?", line)
        prefix = quote.group(0).rstrip() + " " if quote else ""
        body = line[quote.end():] if quote else line
        if body == "-- " or len(prefix + body) <= width:
            out.append(line if body == "-- " else (prefix + body).rstrip())
            continue
        pieces = textwrap.wrap(body, width - len(prefix), break_long_words=False, break_on_hyphens=False)
        out += [prefix + piece + " " for piece in pieces[:-1]] + [prefix + pieces[-1]]
    return "\n".join(out)


def thunderbird_reply(forward: EmailMessage, staff: User) -> bytes:
    """A reply as Thunderbird writes one, answering above the quote: the new text, the signature after
    "-- ", then "On … wrote:" and the forward quoted ("> " lines; a cite blockquote in the HTML, with
    the forward's inline photo embedded again, multipart/related); text/plain (format=flowed) and HTML
    alternatives; the lease attached."""
    when = forward["Date"].datetime.strftime("%d/%m/%Y %H:%M")
    who = forward["From"].addresses[0].display_name
    msg = EmailMessage()
    msg["Message-ID"] = make_msgid("sam", domain="firm.example")
    msg["Date"] = format_datetime(forward["Date"].datetime.replace(microsecond=0))
    msg["MIME-Version"] = "1.0"
    msg["User-Agent"] = "Mozilla Thunderbird"
    msg["Content-Language"] = "en-GB"
    msg["To"] = str(forward["Reply-To"])
    msg["From"] = f"Sam Taylor <{staff.email}>"
    msg["Subject"] = "Re: " + str(forward["Subject"])
    msg["References"] = f"{forward['References']} {forward['Message-ID']}"
    msg["In-Reply-To"] = str(forward["Message-ID"])
    msg.set_content(flowed(f"{ANSWER}\n\n-- \n{SIGNATURE}\n\nOn {when}, {who} wrote:\n"
                           + "".join(f"> {line}\n" for line in plain(forward).splitlines())),
                    params={"format": "flowed"})
    paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>\n" for p in ANSWER.split("\n\n"))
    msg.add_alternative(
        "<!DOCTYPE html>\n<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=UTF-8\">"
        f"</head><body>\n{paragraphs}<div class=\"moz-signature\">-- <br>{SIGNATURE.replace(chr(10), '<br>')}</div>\n"
        f"<div class=\"moz-cite-prefix\">On {when}, {who} wrote:<br></div>\n"
        f"<blockquote type=\"cite\" cite=\"mid:{forward['Message-ID'][1:-1]}\">{body_html(forward)}</blockquote>\n"
        "</body></html>\n", subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    assert isinstance(html_part, EmailMessage)
    for image in (p for p in forward.walk() if p.get_content_maintype() == "image"):
        html_part.add_related(image.get_content(), *image.get_content_type().split("/"), cid=image["Content-ID"],
                              filename=image.get_filename(), disposition="inline")
    msg.add_attachment(PDF, "application", "pdf", filename="lease.pdf")
    return msg.as_bytes(policy=policy.SMTP)


# ---- the record ------------------------------------------------------------------------------------------


def kinds_since(seq: int) -> Counter[str]:
    return Counter(Entry.objects.filter(seq__gte=seq).values_list("kind", flat=True))


def step(action: Callable[[], Any]) -> tuple[Any, Counter[str]]:
    """Run one step; returns what it returned and the ledger entries it appended, by kind."""
    start = ledger_size()
    return action(), kinds_since(start)


def attrs(entry: Entry) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(entry.attrs)
    return value


def test_a_photo_and_a_question_are_emailed_and_the_emailed_answer_reaches_the_phone(
        replies: Any, relay: Relay, sim: Simulator, phone: Phone, fee_earner: User, admin: User) -> None:
    replies.EMAIL_BURST_SECONDS = 0  # one email per message (not grouped in bursts)
    replies.JOURNAL_MODE, replies.JOURNAL_ENVELOPE = "message", False  # one journal EML per message
    replies.SMTPD_MAX_MB, replies.SMTPD_TLS_CERT, replies.SMTPD_TLS_KEY, replies.SMTPD_REQUIRE_TLS = 25, "", "", False
    worker = Worker()

    # Before: Alice is a client with a matter; she first wrote from this number earlier (a new
    # conversation, so its forward went to the fallback mailbox), and the conversation was then given
    # to the fee earner and linked to her matter.
    client = do_create_client(CLIENT_NAME, admin.actor, phone=CLIENT)
    matter = do_create_matter(MATTER, admin.actor, title="Lease of 4 Elm Row", client=client,
                              responsible_id=fee_earner.pk)
    phone.name = CLIENT_NAME
    phone.send(type="text", text="Hello, it's Alice: this is my WhatsApp.")
    conversation = Conversation.objects.get()
    do_assign(conversation, fee_earner.pk, admin.actor)
    do_link_matter(conversation, matter, admin.actor)
    worker.email()
    assert [r.recipients for r in relay.received] == [[FALLBACK], [JOURNAL]]
    relay.received.clear()
    start = ledger_size()

    # 1. The client sends a photo and a question; onfile records them (webhook, processing, media).
    (photo_wamid, question_wamid), recorded = step(lambda: (
        phone.send(type="image", mime_type="image/png", data_b64=base64.b64encode(PHOTO).decode(),
                   caption=CAPTION)[0],
        phone.send(type="text", text=QUESTION)[0]))
    assert recorded == {"capture.webhook": 2, "whatsapp.item": 2, "email.forward_requested": 2,
                        "email.journal_requested": 2}
    _, fetched = step(worker.whatsapp)
    assert fetched == {"capture.media": 1, "whatsapp.media_fetched": 1}
    photo, question = Message.objects.get(wamid=photo_wamid), Message.objects.get(wamid=question_wamid)
    assert photo.conversation_id == question.conversation_id == conversation.pk
    assert read_blob(int(photo.attachments.get().blob_id or 0)) == PHOTO

    # 2. The worker emails them to the fee earner through the relay, and journals them.
    delivered, emailed = step(worker.email)
    assert delivered == 4 and emailed == {"email.forward_sent": 2, "email.journal_sent": 2}
    forwards = relay.to(fee_earner.email)  # parsed strictly: any defect raises
    assert len(forwards) == 2 and [r.sender for r in relay.received] == [FROM] * 4
    photo_mail, question_mail = forwards
    # Threaded: each its own stable Message-ID, both answering the conversation's root in this mailbox.
    root = compose.thread_root(conversation, fee_earner.email)
    assert [m["Message-ID"] for m in forwards] == [compose.message_id(photo.key), compose.message_id(question.key)]
    assert len({root, *(m["Message-ID"] for m in forwards)}) == 3 and root.endswith(f"@{DOMAIN}>")
    for mail in forwards:
        assert mail["In-Reply-To"] == root and mail["References"] == root
        assert mail["Subject"] == SUBJECT
        assert mail["From"].addresses[0].display_name == f"{CLIENT_NAME} via WhatsApp"
        assert [a.addr_spec for a in mail["To"].addresses] == [fee_earner.email]
        assert mail["X-Onfile-Loop"] == DOMAIN and mail["Auto-Submitted"] == "auto-generated"
        reply_to = str(mail["Reply-To"])
        assert re.fullmatch(rf"reply\+[a-z2-7]{{{tokens.TOKEN_LENGTH}}}@{re.escape(REPLY_DOMAIN)}", reply_to)
        token = tokens.verify(tokens.find([reply_to]))
        assert (token.conversation_id, token.user_id) == (conversation.pk, fee_earner.pk)
    # The photo, inline in the HTML, byte for byte; the caption and the question as text.
    [image] = [p for p in photo_mail.walk() if p.get_content_maintype() == "image"]
    assert image.get_content_type() == "image/png" and image.get_content_disposition() == "inline"
    assert image.get_content() == PHOTO
    assert f'src="cid:{image["Content-ID"][1:-1]}"' in photo_mail.get_body(("html",)).get_content()
    assert CAPTION in plain(photo_mail) and QUESTION in plain(question_mail)
    assert not list(question_mail.iter_attachments())

    # 3. The fee earner answers from their mail client, replying to the photo's email; the firm's gateway
    #    passes the reply on to onfile's reply server, which says 250 once the reply is on the record.
    raw = thunderbird_reply(photo_mail, fee_earner)
    written = BytesParser(policy=policy.strict).parsebytes(raw)
    assert [p.get_content_type() for p in written.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png",
        "application/pdf"]
    assert written.get_body(("plain",))["Content-Type"].params["format"] == "flowed"  # type: ignore[index]
    assert "\n-- \nSam Taylor" in plain(written) and f"wrote:\n> {CLIENT_NAME} wrote on " in plain(written)
    assert ANSWER not in plain(written)  # its long line is soft-broken: the reader must join it again
    hook = OnTestThread()
    with reply_server(hook) as server, ThreadPoolExecutor(1) as gateway:
        sending = gateway.submit(gateway_sends, server.port, fee_earner.email, str(photo_mail["Reply-To"]), raw)
        (code, answer), replied = step(lambda: hook.serve_while(sending))
    assert code == 250 and answer.startswith("2.0.0 OK: recorded as entry ")
    capture = Entry.objects.get(seq=int(answer.rsplit(" ", 1)[1]))
    assert capture.kind == "capture.email" and read_blob(int(capture.blob_id or 0)) == raw  # raw first, exact
    assert replied == {"capture.email": 1, "email.reply_received": 1, "capture.outgoing_media": 1,
                       "whatsapp.send_requested": 2, "email.reply_sent": 1}
    assert attrs(Entry.objects.get(kind="email.reply_received"))["attachments"] == 1  # the lease; the quoted photo
    sent = Entry.objects.get(kind="email.reply_sent")
    text, document = Message.objects.filter(direction="out").order_by("position")
    assert attrs(sent)["messages"] == [text.key, document.key] and attrs(sent)["user"] == fee_earner.actor
    assert [e.actor for e in Entry.objects.filter(kind="whatsapp.send_requested")] == [fee_earner.actor] * 2
    assert text.body == ANSWER and document.type == "document"  # the quoted photo is not sent back
    assert document.attachments.get().filename == "lease.pdf"

    # 4. The worker delivers both sends to WhatsApp; the client's phone shows the answer and the lease.
    delivered, sent_out = step(worker.whatsapp)
    assert delivered == 2 and sent_out == {"whatsapp.send_accepted": 2, "email.journal_requested": 2}
    assert sim.flush(10)  # the simulated network: "sent", then "delivered" to the phone
    on_phone = httpx.get(f"{sim.url}/_sim/api/conversation", params={"as": CLIENT, "seen": "1"}, timeout=10)
    messages = on_phone.json()["messages"]
    assert [(m["direction"], m["type"]) for m in messages] == [
        ("in", "text"), ("in", "image"), ("in", "text"), ("out", "text"), ("out", "document")]
    text_on_phone, document_on_phone = messages[-2:]
    assert text_on_phone["content"]["body"] == ANSWER
    assert document_on_phone["content"]["filename"] == "lease.pdf"
    assert httpx.get(sim.url + document_on_phone["media_url"], timeout=10).content == PDF
    assert {m["status"] for m in messages[-2:]} <= {"delivered", "read"}

    # 5. The worker journals the two sent messages too: the archive has all four, each well-formed.
    delivered, journaled = step(worker.email)
    assert delivered == 2 and journaled == {"email.journal_sent": 2}
    copies = [r for r in relay.received if r.recipients == [JOURNAL]]
    assert len(copies) == 4 and len(relay.received) == 6
    journals = {}
    for copy in copies:
        mail = BytesParser(policy=policy.strict).parsebytes(copy.data)
        assert isinstance(mail, EmailMessage)
        journals[mail["X-Archive-Record-Ids"]] = mail
    assert list(journals) == [photo.key, question.key, text.key, document.key]
    for message in (photo, question, text, document):
        mail = journals[message.key]
        entry = Entry.objects.get(seq=message.source_seq)
        assert mail["X-Archive-Source"] == "whatsapp"
        assert mail["X-Archive-Direction"] == ("inbound" if message.direction == "in" else "outbound")
        assert mail["X-Archive-Thread-Id"] == f"conversation:{conversation.pk}"
        assert mail["X-Archive-Leaf-Index"] == str(entry.seq) and mail["X-Archive-Sha256"] == entry.leaf_hash
        assert mail["Message-ID"] == compose.journal_id(message.key) and mail["Subject"] == SUBJECT
    [journaled_photo] = [p for p in journals[photo.key].walk() if p.get_content_maintype() == "image"]
    assert journaled_photo.get_content() == PHOTO
    assert QUESTION in plain(journals[question.key])
    assert ANSWER in plain(journals[text.key])
    [lease] = list(journals[document.key].iter_attachments())
    assert lease.get_filename() == "lease.pdf" and lease.get_content() == PDF
    for message in (text, document):  # sent by the fee earner, to the client's number
        assert journals[message.key]["From"].addresses[0].addr_spec == fee_earner.email
        assert journals[message.key]["To"].addresses[0].addr_spec == f"{CLIENT[1:]}@whatsapp.{DOMAIN}"

    # The whole way, on the record — and the record verifies.
    assert kinds_since(start) == recorded + fetched + emailed + replied + sent_out + journaled
    assert verify().ok
