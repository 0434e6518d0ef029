"""A real IMAP server for the tests: Debian's dovecot (package ``dovecot-imapd``), one private
instance per fixture, started as a subprocess with a configuration of its own in a temporary
directory — loopback ports, one passwd-file user, maildirs in the directory, TLS (imaps and
STARTTLS) with a certificate from the test CA — never the system service. Stopped at teardown.

``bin/test`` installs dovecot when it is missing. Without it these tests are skipped with a
message, and with ``CI=true`` they fail.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from .tlsutil import ServerCert

DOVECOT = os.environ.get("ONFILE_TEST_DOVECOT", "/usr/sbin/dovecot")
USER, PASSWORD = "replies@firm.example", "imap-test-password"


def require_dovecot() -> str:
    if os.path.exists(DOVECOT) and os.access(DOVECOT, os.X_OK):
        return DOVECOT
    message = (f"dovecot is not installed ({DOVECOT}): 'apt-get install -y dovecot-imapd' (bin/test does it); "
               "the IMAP tests need a real server")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    """``imap_port``: plain IMAP with STARTTLS (when ``tls``); ``imaps_port``: implicit TLS."""

    def __init__(self, tls: ServerCert | None = None) -> None:
        self.binary = require_dovecot()
        self.tls = tls
        # Not under pytest's tmp_path: its parents are private to root, and dovecot's mail
        # processes run as an unprivileged user when the tests run as root.
        self.root = Path(tempfile.mkdtemp(prefix="onfile-dovecot-"))
        self.root.chmod(0o755)
        self.imap_port, self.imaps_port = free_port(), free_port()
        self.user, self.password = USER, PASSWORD
        self.proc: subprocess.Popen[bytes] | None = None
        self._configure()

    def _configure(self) -> None:
        root = self.root
        for name in ("run", "state", "mail"):
            (root / name).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            uid = gid = 65534  # nobody: dovecot will not run mail processes as root
            os.chown(root / "mail", uid, gid)
            users = ""
        else:
            uid, gid = os.getuid(), os.getgid()
            me = pwd.getpwuid(uid).pw_name
            users = f"default_login_user = {me}\ndefault_internal_user = {me}\n"
        (root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        ssl_lines = "ssl = no\n"
        imaps = "  inet_listener imaps {\n    port = 0\n  }\n"
        if self.tls is not None:
            for source, name in ((self.tls.cert, "cert.pem"), (self.tls.key, "key.pem")):
                shutil.copyfile(source, root / name)
            ssl_lines = (f"ssl = yes\nssl_cert = <{root / 'cert.pem'}\nssl_key = <{root / 'key.pem'}\n"
                         "ssl_min_protocol = TLSv1.2\n")
            imaps = (f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {self.imaps_port}\n"
                     "    ssl = yes\n  }\n")
        (root / "dovecot.conf").write_text(
            f"protocols = imap\nlisten = 127.0.0.1\nbase_dir = {root / 'run'}\nstate_dir = {root / 'state'}\n"
            f"instance_name = onfile-test-{root.name}\nlog_path = {root / 'dovecot.log'}\n{users}{ssl_lines}"
            "disable_plaintext_auth = no\nauth_mechanisms = plain login\n"
            f"mail_location = maildir:{root / 'mail'}/%u\nfirst_valid_uid = 1\n"
            f"passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {root / 'passwd'}\n}}\n"
            f"userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={root / 'mail'}/%u\n}}\n"
            "service imap-login {\n  chroot =\n"
            f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.imap_port}\n  }}\n"
            f"{imaps}"
            "}\nservice anvil {\n  chroot =\n}\n")

    def start(self) -> Dovecot:
        self.proc = subprocess.Popen([self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.proc.stdout.read().decode() if self.proc.stdout else ''}"
                                   f"\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.imap_port), 0.5) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not answer on port {self.imap_port}\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        # dovecot's master leaves its children to exit on their own: wait for the port to be free
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.imap_port), 0.2).close()
                time.sleep(0.1)
            except OSError:
                return

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.root / "dovecot.log").read_text()[-4000:]
        except OSError:
            return ""

    # ---- the test's own IMAP client (putting mail in, looking at what is left) ------------------

    def client(self, context: ssl.SSLContext | None = None) -> Any:
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.imap_port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, mailbox: str, *raws: bytes) -> None:
        with self.client() as client:
            if not client.folder_exists(mailbox):
                client.create_folder(mailbox)
            for raw in raws:
                client.append(mailbox, raw)

    def messages(self, mailbox: str) -> list[bytes]:
        """The messages in a mailbox (not flagged deleted), oldest first; [] when it does not exist."""
        with self.client() as client:
            if not client.folder_exists(mailbox):
                return []
            client.select_folder(mailbox, readonly=True)
            uids = sorted(client.search(["NOT", "DELETED"]))
            fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            # A message expunged between the search and the fetch (onfile's poller moving it
            # while a test watches the mailbox) comes back without a body: it is gone.
            return [bytes(body) for uid in uids if (body := fetched.get(uid, {}).get(b"BODY[]")) is not None]

    def uidvalidity(self, mailbox: str) -> int:
        with self.client() as client:
            return int(client.folder_status(mailbox, ["UIDVALIDITY"])[b"UIDVALIDITY"])

    def reset(self) -> None:
        """Every mailbox but INBOX deleted, INBOX emptied."""
        with self.client() as client:
            for _flags, _delim, name in client.list_folders():
                if name.upper() != "INBOX":
                    client.delete_folder(name)
            client.select_folder("INBOX")
            uids = client.search(["ALL"])
            if uids:
                client.delete_messages(uids)
                client.expunge()
