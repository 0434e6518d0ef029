"""``onfile serve``: gunicorn (a production WSGI server, not runserver) plus the worker.

The worker runs as a child process in the same process group, so Ctrl-C or a SIGTERM to
the group stops both; when gunicorn exits the worker is stopped too. On first run (no
archive yet) it initialises one and prints the generated administrator password once.
With ``ONFILE_SMTPD_PORT`` set explicitly, ``onfile smtpd`` (replies by email) is one more child.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from gunicorn.app.base import BaseApplication

from onfile.ops.install import InitError, initialise


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from onfile.wsgi import application

        return application


def _initialised() -> bool:
    if not settings.DATABASE_URL and not os.path.exists(settings.DATABASES["default"]["NAME"]):
        return False
    with connection.cursor() as cursor:
        return "ledger_head" in connection.introspection.table_names(cursor)


class Command(BaseCommand):
    help = "Run the web server (gunicorn) and the background worker; initialise on first run."
    requires_system_checks: list[str] = []  # checked below, after a first run has created the keys

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("ONFILE_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("ONFILE_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("ONFILE_WEB_WORKERS", "2")),
                            help="web server processes")
        parser.add_argument("--threads", type=int, default=int(os.environ.get("ONFILE_WEB_THREADS", "16")),
                            help="threads per web server process")
        parser.add_argument("--no-access-log", action="store_true",
                            default=os.environ.get("ONFILE_ACCESS_LOG", "1") == "0",
                            help="do not log each request (also ONFILE_ACCESS_LOG=0)")
        parser.add_argument("--no-worker", action="store_true", help="do not start the background worker")
        parser.add_argument("--demo", action="store_true",
                            help="use the local WhatsApp simulator (also the default when no WhatsApp account is "
                                 "configured)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not _initialised():
            self._first_run()
        call_command("check")
        from onfile.channels.whatsapp.numbers import sync_configured_numbers

        sync_configured_numbers()
        connection.close()  # gunicorn forks; children open their own connections
        children = []
        if not options["no_worker"]:
            children.append(subprocess.Popen([sys.executable, "-m", "onfile.cli", "worker"]))
        if os.environ.get("ONFILE_SMTPD_PORT", "").strip():
            # Replies by email over SMTP: only when the port is set explicitly (README, "Replies by email").
            children.append(subprocess.Popen([sys.executable, "-m", "onfile.cli", "smtpd"]))
        url = f"http://{options['host']}:{options['port']}/"
        if os.environ.get("ONFILE_DEMO") == "1":
            children.append(self._simulator(options["port"]))
        self.stdout.write(f"onfile is serving on {url} (data: {settings.DATA_DIR})")
        self.stdout.flush()
        try:
            _Gunicorn({
                "bind": f"{options['host']}:{options['port']}",
                "workers": options["workers"],
                "threads": options["threads"],
                "worker_class": "gthread",
                "accesslog": None if options["no_access_log"] else "-",
                "timeout": 120,
                "graceful_timeout": 10,
                "proc_name": "onfile",
            }).run()
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()

    def _simulator(self, onfile_port: int) -> subprocess.Popen[bytes]:
        from pathlib import Path

        from onfile.channels.whatsapp import demo

        port = int(os.environ.get("ONFILE_SIMULATOR_PORT", "8001"))
        data_dir = Path(settings.DATA_DIR)
        env = demo.environment(data_dir, port)
        argv = demo.simulator_argv(env, port, f"http://127.0.0.1:{onfile_port}/webhooks/whatsapp", data_dir)
        self.stdout.write(f"WhatsApp simulator — the client's phone: http://127.0.0.1:{port}/")
        return subprocess.Popen(argv)

    def _first_run(self) -> None:
        self.stdout.write(f"First run: initialising onfile in {settings.DATA_DIR}")
        try:
            result = initialise(generate=True)
        except InitError as exc:
            raise CommandError(str(exc)) from None
        if result.admin_password:
            self.stdout.write(f"  administrator: {result.admin_email}")
            self.stdout.write(f"  password: {result.admin_password}   (shown once; also in "
                              f"{settings.KEYS_DIR}/initial-admin-password)")
