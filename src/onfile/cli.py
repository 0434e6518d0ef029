"""The ``onfile`` command: one entry point for every operation.

A thin layer over Django's management commands (which are thin layers over the actions).
``onfile --help`` lists onfile's own commands; Django's (``migrate``, ``check`` …) work too.
"""

from __future__ import annotations

import os
import sys

COMMANDS = {
    "init": "create the data directory, keys and database; create the first admin",
    "serve": "run the web server and the background worker (initialises on first run)",
    "worker": "run the background worker (scheduled checkpoints and verifies, queued work)",
    "status": "counts, last checkpoint, last verify",
    "verify": "recompute every leaf, blob hash, root, signature and checkpoint consistency",
    "checkpoint": "sign a checkpoint of the ledger now; show the latest or the public key",
    "proof": "inclusion and consistency proofs, for anyone to check",
    "rebuild": "drop the projection and recompute it from the ledger and blobs",
    "import": "import WhatsApp chat exports (.txt/.zip/folders) and decrypted device databases",
    "export": "write a conversation as JSON lines, a PDF/A transcript or a zip (--conversation ID --as EMAIL)",
    "conversations": "list conversations (--json)",
    "search": "search every message you may see: words, \"phrases\", prefix*, phone numbers (--as EMAIL)",
    "send": "send text, files, replies, reactions or templates to a client on WhatsApp",
    "numbers": "list or configure the firm's WhatsApp numbers",
    "reconcile": "report completeness gaps (statuses without messages, media not fetched, …)",
    "simulator": "run the local WhatsApp Cloud API simulator (the client's phone in a browser)",
    "createuser": "create a staff user with a role",
    "twofactor": "a user's two-factor state; --reset for a lost phone, --unlock to lift a sign-in lockout",
    "check": "run the configuration checks (add --deploy for production)",
    "smtpd": "receive staff replies by SMTP (the gateway routes ONFILE_EMAIL_REPLY_DOMAIN here)",
    "imap-poll": "fetch staff replies from an IMAP mailbox (ONFILE_IMAP_*; --once)",
}
# onfile's spelling -> the management command's module name.
ALIASES = {"imap-poll": "imap_poll"}

NOT_NEEDING_INIT = {"init", "serve", "help", "check", "makemigrations", "simulator", "version", "--version", "-h",
                    "--help"}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: onfile COMMAND [options]   (onfile COMMAND --help for a command's options)", "",
             "commands:"]
    lines += [f"  {name.ljust(width)}  {text}" for name, text in COMMANDS.items()]
    lines += ["", "configuration: environment variables ONFILE_* (see README.md, 'Configuration')."]
    return "\n".join(lines)


def _not_initialised() -> str | None:
    from django.conf import settings

    if settings.DATABASE_URL:
        return None
    db = settings.DATABASES["default"]["NAME"]
    if not os.path.exists(db):
        return f"onfile is not initialised in {settings.DATA_DIR}: run 'onfile init' (or set ONFILE_DATA_DIR)"
    return None


def _demo_setup(args: list[str]) -> None:
    """Before Django reads its settings: point WhatsApp at the local simulator (demo mode)."""
    from pathlib import Path

    from onfile.channels.whatsapp import demo

    if not demo.wanted(args):
        return
    data_dir = Path(os.environ.get("ONFILE_DATA_DIR", "onfile-data")).expanduser().resolve()
    port = int(os.environ.get("ONFILE_SIMULATOR_PORT", "8001"))
    os.environ.update(demo.environment(data_dir, port))
    os.environ["ONFILE_DEMO"] = "1"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onfile.settings")
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    if args[0] in {"--version", "version"}:
        from onfile import __version__

        print(f"onfile {__version__}")
        return 0
    from onfile.env import ConfigError

    if args[0] == "serve":
        _demo_setup(args)
    try:
        import django

        django.setup()
    except ConfigError as exc:
        print(f"onfile: configuration error: {exc}", file=sys.stderr)
        return 2
    if args[0] not in NOT_NEEDING_INIT and "--help" not in args and "-h" not in args:
        problem = _not_initialised()
        if problem:
            print(f"onfile: {problem}", file=sys.stderr)
            return 2
    from django.core.management import ManagementUtility
    from django.db import DatabaseError

    from onfile.ledger.blobs import BlobError
    from onfile.ledger.crypto import CryptoError
    from onfile.ledger.keys import KeyError_

    args[0] = ALIASES.get(args[0], args[0])
    utility = ManagementUtility(["onfile", *args])
    try:
        utility.execute()
    except (KeyError_, CryptoError, BlobError) as exc:
        print(f"onfile {args[0]}: {exc}", file=sys.stderr)
        return 1
    except DatabaseError as exc:
        # e.g. a read-only disk or a corrupt database file: say so, no traceback.
        print(f"onfile {args[0]}: database error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
