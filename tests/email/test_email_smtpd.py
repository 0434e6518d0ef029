"""``onfile smtpd`` as the firm's gateway meets it: the real command in a subprocess against an
archive of its own, spoken to with smtplib on loopback. A reply is recorded byte for byte before
"250" (ARCHITECTURE invariant 1, raw first); other recipients get 550 (no open relay); oversize
mail 552; a pipeline that raises 451 and the gateway's retry is accepted; STARTTLS; SIGTERM lets a
mail being recorded finish; ``onfile serve`` starts it when ONFILE_SMTPD_PORT is set."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .tlsutil import LocalCA, ServerCert

pytestmark = pytest.mark.cli

REPLY_DOMAIN = "reply.firm.example"
STAFF = "fee.earner@firm.example"
PASSWORD = "correct horse battery staple 42"
TOKEN = "a" * 48  # well-formed but not issued by this archive: the pipeline refuses it, after recording

# The real command, with inbound.receive wrapped: while FLAG_FAIL exists it raises (the database
# is down, say); while FLAG_SLOW exists it takes two seconds. Otherwise the real pipeline runs.
LAUNCHER = """
import os, sys, time
flags = sys.argv[1]
from onfile.cli import main
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onfile.settings")
django.setup()
from onfile.channels.email import inbound
real = inbound.receive
def receive(raw, **kwargs):
    if os.path.exists(flags + ".fail"):
        raise RuntimeError("could not connect to the database (test)")
    if os.path.exists(flags + ".slow"):
        time.sleep(2)
    return real(raw, **kwargs)
inbound.receive = receive
sys.exit(main(sys.argv[2:]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Archive:
    """A fresh onfile archive (data directory; on PostgreSQL a database of its own)."""

    root: Path
    env: dict[str, str]
    dbname: str | None = None

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "onfile.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=120)
        if check and proc.returncode:
            raise AssertionError(f"onfile {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def query(self, code: str, **values: Any) -> Any:
        """Run Python against the archive (Django set up); the code assigns ``result``."""
        script = ("import django, json, sys\ndjango.setup()\nvalues = json.loads(sys.argv[1])\n" + code +
                  "\nprint(json.dumps(result))")
        proc = subprocess.run([sys.executable, "-c", script, json.dumps(values)], capture_output=True, text=True,
                              env={**self.env, "DJANGO_SETTINGS_MODULE": "onfile.settings"}, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def capture(self, seq: int) -> dict[str, Any]:
        """The ledger entry ``seq`` and the bytes of its sealed blob."""
        return dict(self.query(
            "from onfile.ledger.models import Entry\nfrom onfile.ledger.blobs import read_blob\n"
            "e = Entry.objects.get(seq=values['seq'])\n"
            "result = {'kind': e.kind, 'attrs': e.attrs, 'raw': read_blob(e.blob_id).hex() if e.blob_id else None}",
            seq=seq))

    def size(self) -> int:
        return int(self.query("from onfile.ledger.log import ledger_size\nresult = ledger_size()"))


@dataclass
class Server:
    """One running ``onfile smtpd``; ``log`` is its stderr (logging at INFO)."""

    proc: subprocess.Popen[str]
    port: int
    log_file: Path
    flags: Path
    banner: str = ""
    lines: list[str] = field(default_factory=list)

    def log(self) -> str:
        return self.log_file.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    root = tmp_path_factory.mktemp("smtpd")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONFILE_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update({"ONFILE_DATA_DIR": str(root / "data"), "ONFILE_LOG_LEVEL": "INFO",
                "ONFILE_EMAIL_REPLY_DOMAIN": REPLY_DOMAIN, "ONFILE_EMAIL_DOMAIN": "onfile.firm.example",
                # Replies need a relay for bounces (no worker runs here: they stay queued).
                "ONFILE_SMTP_HOST": "127.0.0.1", "ONFILE_SMTP_PORT": str(free_port()), "ONFILE_SMTP_SECURITY": "none",
                "ONFILE_EMAIL_FROM": "whatsapp@firm.example", "ONFILE_EMAIL_FALLBACK": "unassigned@firm.example",
                "ONFILE_EMAIL_AUTHSERV_ID": "mx.firm.example",
                "PYTHONPATH": os.pathsep.join(sys.path)})
    dbname = None
    base = os.environ.get("ONFILE_DATABASE_URL", "")
    if base.startswith("postgres"):
        import psycopg

        dbname = f"onfile_smtpd_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        env["ONFILE_DATABASE_URL"] = base.rsplit("/", 1)[0] + "/" + dbname
    (root / "pw").write_text(PASSWORD)
    archive = Archive(root, env, dbname)
    archive.run("init", "--email", "admin@firm.example", "--password-file", str(root / "pw"))
    yield archive
    if dbname:
        import psycopg

        with psycopg.connect(base.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def cert(ca: LocalCA) -> ServerCert:
    return ca.issue("localhost")


def start(archive: Archive, *options: str, launcher: bool = False, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    name = uuid.uuid4().hex[:8]
    log_file, flags = archive.root / f"smtpd-{name}.log", archive.root / f"flags-{name}"
    argv = ["smtpd", "--port", str(port), *options]
    command = [sys.executable, "-c", LAUNCHER, str(flags), *argv] if launcher else [
        sys.executable, "-m", "onfile.cli", *argv]
    proc = subprocess.Popen(command, env={**archive.env, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=log_file.open("w"), text=True)
    assert proc.stdout is not None
    banner = proc.stdout.readline()  # "onfile smtpd listening on …" once the socket is bound
    if "listening" not in banner:
        proc.kill()
        raise AssertionError(f"onfile smtpd did not start: {banner}\n{log_file.read_text()}")
    return Server(proc, port, log_file, flags, banner)


@pytest.fixture(scope="module")
def server(archive: Archive, cert: ServerCert) -> Iterator[Server]:
    running = start(archive, "--max-mb", "1", "--tls-cert", str(cert.cert), "--tls-key", str(cert.key))
    yield running
    assert running.stop() == 0, running.log()


def reply(subject: str = "Re: WhatsApp: Alice", body: str = "Yes, Thursday at 10 works.",
          sender: str = STAFF) -> bytes:
    """A reply as a mail client writes it: CRLF lines, UTF-8 8bit, a line starting with a dot."""
    return (f"From: Fee Earner <{sender}>\r\nTo: <reply+{TOKEN}@{REPLY_DOMAIN}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@firm.example>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            f"\r\n{body}\r\n.a line that starts with a dot\r\nMerci, à jeudi — Zoë\r\n").encode()


def send(port: int, raw: bytes, to: str = f"reply+{TOKEN}@{REPLY_DOMAIN}", sender: str = STAFF,
         starttls: Any = None) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("gateway.firm.example")
        if starttls is not None:
            smtp.starttls(context=starttls)
            smtp.ehlo("gateway.firm.example")
        code, _ = smtp.mail(sender, [f"SIZE={len(raw)}", "BODY=8BITMIME"])
        assert code == 250
        code, _ = smtp.rcpt(to)
        assert code == 250
        code, text = smtp.data(raw)
        return code, text.decode()


def entry_of(answer: str) -> int:
    found = re.search(r"recorded as entry (\d+)", answer)
    assert found, answer
    return int(found.group(1))


def test_a_reply_is_recorded_byte_for_byte_before_250(archive: Archive, server: Server) -> None:
    raw = reply()
    code, answer = send(server.port, raw)
    assert code == 250
    entry = archive.capture(entry_of(answer))
    assert bytes.fromhex(entry["raw"]) == raw  # exactly what the gateway sent: CRLF, the dot, 8-bit UTF-8
    assert entry["kind"] == "capture.email"
    # One line per mail, and no addresses (the staff member's, the reply token) in the log.
    lines = [line for line in server.log().splitlines() if "onfile.email.smtpd" in line and "bytes" in line]
    assert lines and f"ledger entry {entry_of(answer)}" in lines[-1] and f"{len(raw)} bytes" in lines[-1]
    assert STAFF not in server.log() and TOKEN not in server.log()


def test_the_same_mail_twice_is_recorded_once(archive: Archive, server: Server) -> None:
    raw = reply(body="Sent twice by the gateway")
    assert send(server.port, raw)[0] == 250
    code, _ = send(server.port, raw)  # the gateway's retry after a lost answer: still "250"
    assert code == 250
    last = [line for line in server.log().splitlines() if "ledger entry" in line][-1]
    assert ": duplicate (" in last


def test_any_other_recipient_is_refused_550_no_open_relay(archive: Archive, server: Server) -> None:
    before = archive.size()
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
        smtp.ehlo("gateway.firm.example")
        assert smtp.mail(STAFF)[0] == 250
        for address in ("client@gmail.example", f"someone@{REPLY_DOMAIN}", "reply+abc@other.example",
                        f"reply+@{REPLY_DOMAIN}", f"noreply+abc@{REPLY_DOMAIN}", f"reply+abc@sub.{REPLY_DOMAIN}"):
            code, text = smtp.rcpt(address)
            assert code == 550, address
            assert text.startswith(b"5.1.1 ") and b"no relaying" in text
        # The reply domain in any case: gateways and mail clients change it.
        assert smtp.rcpt(f"Reply+ABC@{REPLY_DOMAIN.upper()}")[0] == 250
        for n in range(49):
            assert smtp.rcpt(f"reply+n{n}@{REPLY_DOMAIN}")[0] == 250
        assert smtp.rcpt(f"reply+one.too.many@{REPLY_DOMAIN}")[0] == 452  # at most 50 per mail
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        smtplib.SMTP("127.0.0.1", server.port, timeout=30).sendmail(STAFF, ["relay.me@gmail.example"], reply())
    assert archive.size() == before  # nothing was recorded


def test_mail_over_the_size_limit_is_refused_552(archive: Archive, server: Server) -> None:
    before = archive.size()
    big = reply(body="x" * 900 + "\r\n" + ("y" * 998 + "\r\n") * 1100)  # > 1 MB (--max-mb 1)
    assert b"SIZE 1048576" in smtplib.SMTP("127.0.0.1", server.port, timeout=30).ehlo()[1]
    # Declared with SIZE=: refused at MAIL FROM, before any data is sent.
    with pytest.raises(smtplib.SMTPSenderRefused) as declared:
        smtplib.SMTP("127.0.0.1", server.port, timeout=30).sendmail(STAFF, [f"reply+{TOKEN}@{REPLY_DOMAIN}"], big)
    assert declared.value.smtp_code == 552
    # Not declared: refused after the data.
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
        smtp.ehlo("gateway.firm.example")
        smtp.mail(STAFF)
        smtp.rcpt(f"reply+{TOKEN}@{REPLY_DOMAIN}")
        code, _ = smtp.data(big)
        assert code == 552
    assert archive.size() == before


def test_a_pipeline_failure_is_451_and_the_retry_is_accepted(archive: Archive) -> None:
    flaky = start(archive, launcher=True)
    try:
        flaky.flags.with_suffix(".fail").touch()
        raw = reply(body="while the database is down")
        before = archive.size()
        code, answer = send(flaky.port, raw)
        assert code == 451 and answer.startswith("4.3.0")
        assert archive.size() == before
        assert "NOT accepted (451" in flaky.log() and "could not connect to the database" in flaky.log()
        flaky.flags.with_suffix(".fail").unlink()  # the database is back; the gateway retries
        code, answer = send(flaky.port, raw)
        assert code == 250
        assert bytes.fromhex(archive.capture(entry_of(answer))["raw"]) == raw
    finally:
        assert flaky.stop() == 0


def test_starttls_with_the_firms_certificate(archive: Archive, server: Server, ca: LocalCA) -> None:
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
        assert smtp.ehlo()[0] == 250 and smtp.has_extn("starttls")
    raw = reply(body="over TLS")
    code, answer = send(server.port, raw, starttls=ca.client_context())
    assert code == 250
    assert bytes.fromhex(archive.capture(entry_of(answer))["raw"]) == raw
    assert "(TLS)" in [line for line in server.log().splitlines() if "ledger entry" in line][-1]


def test_require_tls_refuses_mail_before_starttls(archive: Archive, cert: ServerCert, ca: LocalCA) -> None:
    strict = start(archive, "--require-tls", "--tls-cert", str(cert.cert), "--tls-key", str(cert.key))
    try:
        with smtplib.SMTP("127.0.0.1", strict.port, timeout=30) as smtp:
            smtp.ehlo()
            assert smtp.mail(STAFF)[0] == 530
        assert send(strict.port, reply(body="secured"), starttls=ca.client_context())[0] == 250
    finally:
        assert strict.stop() == 0


def test_bad_configuration_is_a_clear_error(archive: Archive) -> None:
    env = {**archive.env, "ONFILE_EMAIL_REPLY_DOMAIN": ""}
    proc = subprocess.run([sys.executable, "-m", "onfile.cli", "smtpd", "--port", str(free_port())], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "ONFILE_EMAIL_REPLY_DOMAIN is not set" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "onfile.cli", "smtpd", "--port", str(free_port()),
                           "--tls-cert", str(archive.root / "missing.pem")], env=archive.env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "missing.pem" in proc.stderr


def test_sigterm_lets_a_mail_being_recorded_finish(archive: Archive) -> None:
    slow = start(archive, launcher=True)
    slow.flags.with_suffix(".slow").touch()  # receive() takes two seconds
    raw = reply(body="recorded during shutdown")
    answers: list[tuple[int, str]] = []
    sender = threading.Thread(target=lambda: answers.append(send(slow.port, raw)))
    sender.start()
    time.sleep(1.0)  # DATA is done and the mail is being recorded
    slow.proc.send_signal(signal.SIGTERM)
    sender.join(30)
    assert slow.proc.wait(30) == 0
    assert answers and answers[0][0] == 250, answers
    assert bytes.fromhex(archive.capture(entry_of(answers[0][1]))["raw"]) == raw
    with pytest.raises(OSError):  # no longer listening
        socket.create_connection(("127.0.0.1", slow.port), 1).close()
    assert "smtpd stopped" in slow.log()


def test_onfile_serve_starts_smtpd_when_its_port_is_set(archive: Archive) -> None:
    web, port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "onfile.cli", "serve", "--port", str(web), "--no-worker",
                             "--workers", "1", "--no-access-log"],
                            env={**archive.env, "ONFILE_SMTPD_PORT": str(port),
                                 "ONFILE_WHATSAPP_ACCESS_TOKEN": "not-used", "ONFILE_LOG_LEVEL": "WARNING"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline, banner = time.monotonic() + 60, b""
        while time.monotonic() < deadline and not banner:
            try:
                with socket.create_connection(("127.0.0.1", port), 1) as s:
                    banner = s.recv(200)
            except OSError:
                time.sleep(0.2)
        assert banner.startswith(b"220 ") and b"onfile smtpd" in banner
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    with pytest.raises(OSError):  # stopped with serve
        socket.create_connection(("127.0.0.1", port), 1).close()
