"""Configuration of the WhatsApp Cloud API simulator.

Design: one plain dataclass, ``SimConfig``, carries every knob. The command line
(``python -m onfile.simulator``) fills it through ``build_parser``/``config_from_args``;
tests and onfile's own test-suite build it directly and may set fields the command line
does not expose (``reorder_rate``, retry timings). Nothing here touches the network or
the disk, so a config can be made and validated cheaply.

A firm's number is given as ``PHONE_NUMBER_ID:DISPLAY_NUMBER[:NAME]``, the same shape as
onfile's ``ONFILE_WHATSAPP_NUMBERS`` (a fourth ``:team`` part is accepted and ignored), so
one value can configure both sides. Webhook metadata carries the display number as digits
without ``+``, as Meta sends it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

DEFAULT_NUMBER = "106540352242922:+442079460000:Example Law LLP"
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/whatsapp"


@dataclass(frozen=True)
class BusinessNumber:
    """One of the firm's WhatsApp numbers, as the Cloud API knows it."""

    phone_number_id: str
    display_phone_number: str  # digits only, no "+"
    name: str = ""

    def metadata(self) -> dict[str, str]:
        return {"display_phone_number": self.display_phone_number, "phone_number_id": self.phone_number_id}


def parse_number(spec: str) -> BusinessNumber:
    parts = [p.strip() for p in spec.split(":")]
    if len(parts) < 2 or not parts[0].isdigit():
        raise ValueError(f"number {spec!r} is not PHONE_NUMBER_ID:DISPLAY_NUMBER[:NAME]")
    digits = parts[1].replace(" ", "").removeprefix("+")
    if not digits.isdigit():
        raise ValueError(f"display number in {spec!r} must be digits, optionally with a leading +")
    return BusinessNumber(parts[0], digits, parts[2] if len(parts) > 2 else "")


def _default_numbers() -> list[BusinessNumber]:
    return [parse_number(DEFAULT_NUMBER)]


@dataclass
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 8001
    webhook_url: str = ""  # empty: nothing is delivered (updates are logged as skipped)
    # Well-known development defaults: the simulator is a loopback tool, these guard nothing real.
    app_secret: str = "sim-app-secret"  # noqa: S105
    verify_token: str = "sim-verify-token"  # noqa: S105
    access_token: str = "sim-access-token"  # noqa: S105
    numbers: list[BusinessNumber] = field(default_factory=_default_numbers)
    waba_id: str = "102290129340398"
    api_version: str = "v25.0"
    state_dir: str | None = None
    clock_file: str | None = None
    public_url: str | None = None  # base of media URLs; default http://<host>:<port>
    # delivery
    batch_max: int = 1
    batch_window_ms: int = 100
    duplicate_rate: float = 0.0
    reorder_statuses: bool = False
    reorder_rate: float = 0.5
    retry: bool = True
    retry_initial_seconds: float = 0.2
    retry_max_seconds: float = 5.0
    retry_limit_seconds: float = 600.0
    webhook_timeout_seconds: float = 10.0
    verify_on_start: bool = True
    escape_slashes: bool = False
    webhook_sha256: str = "hex"  # or "base64": how inbound media sha256 is encoded in webhooks
    # Graph behaviour
    seed: int | None = None
    window_error: str = "async"  # or "sync"
    auto_read: bool = False
    status_delay_ms: int = 150
    graph_timeout_seconds: float = 30.0

    def number(self, phone_number_id: str) -> BusinessNumber | None:
        return next((n for n in self.numbers if n.phone_number_id == phone_number_id), None)

    def validate(self) -> None:
        if not self.numbers:
            raise ValueError("at least one --number is needed")
        if self.window_error not in ("async", "sync"):
            raise ValueError("window_error must be 'async' or 'sync'")
        if self.webhook_sha256 not in ("hex", "base64"):
            raise ValueError("webhook_sha256 must be 'hex' or 'base64'")
        if not 0.0 <= self.duplicate_rate <= 1.0 or not 0.0 <= self.reorder_rate <= 1.0:
            raise ValueError("rates must be between 0 and 1")
        if self.batch_max < 1 or self.batch_max > 1000:
            raise ValueError("batch_max must be between 1 and 1000")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m onfile.simulator",
        description="A local stand-in for Meta's WhatsApp Cloud API (Graph API + webhooks) "
                    "that plays the client's phone.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--webhook-url", default=DEFAULT_WEBHOOK_URL, help="onfile's webhook endpoint ('' = do not deliver)")
    p.add_argument("--app-secret", default="sim-app-secret", help="signs webhooks (X-Hub-Signature-256)")
    p.add_argument("--verify-token", default="sim-verify-token", help="sent in the GET verification handshake")
    p.add_argument("--access-token", default="sim-access-token", help="the Bearer token the Graph API accepts")
    p.add_argument("--number", action="append", metavar="PHONE_NUMBER_ID:DISPLAY_NUMBER[:NAME]",
                   help=f"a firm number (repeatable; default {DEFAULT_NUMBER})")
    p.add_argument("--waba-id", default="102290129340398")
    p.add_argument("--api-version", default="v25.0")
    p.add_argument("--state-dir", help="keep conversations, outbox and media here across restarts")
    p.add_argument("--clock-file", help="file holding the simulated clock offset in seconds (shared with onfile)")
    p.add_argument("--public-url", help="base URL used in media URLs (default http://HOST:PORT)")
    p.add_argument("--batch-max", type=int, default=1, help="max updates per webhook POST")
    p.add_argument("--batch-window-ms", type=int, default=100, help="how long to wait to fill a batch")
    p.add_argument("--duplicate-rate", type=float, default=0.0, help="probability a POST is delivered twice")
    p.add_argument("--reorder-statuses", action="store_true", help="sometimes deliver 'delivered' before 'sent'")
    p.add_argument("--no-retry", action="store_true", help="give up on the first failed webhook POST")
    p.add_argument("--retry-limit-seconds", type=float, default=600.0, help="give up retrying a POST after this")
    p.add_argument("--seed", type=int, help="seed for ids, duplicates and reordering")
    p.add_argument("--window-error", choices=("async", "sync"), default="async",
                   help="24h window closed: failed status 131047 (async) or HTTP 400 (sync)")
    p.add_argument("--auto-read", action="store_true", help="the client reads every message at once")
    p.add_argument("--status-delay-ms", type=int, default=150, help="delay between accept, sent and delivered")
    p.add_argument("--webhook-sha256", choices=("hex", "base64"), default="hex",
                   help="encoding of media sha256 in inbound webhooks")
    p.add_argument("--escape-slashes", action="store_true", help='serialise "/" as "\\/" in webhook bodies')
    p.add_argument("--log-level", default="INFO")
    return p


def config_from_args(args: argparse.Namespace) -> SimConfig:
    numbers = [parse_number(s) for s in args.number] if args.number else _default_numbers()
    cfg = SimConfig(
        host=args.host, port=args.port, webhook_url=args.webhook_url, app_secret=args.app_secret,
        verify_token=args.verify_token, access_token=args.access_token, numbers=numbers, waba_id=args.waba_id,
        api_version=args.api_version, state_dir=args.state_dir, clock_file=args.clock_file,
        public_url=args.public_url, batch_max=args.batch_max, batch_window_ms=args.batch_window_ms,
        duplicate_rate=args.duplicate_rate, reorder_statuses=args.reorder_statuses, retry=not args.no_retry,
        retry_limit_seconds=args.retry_limit_seconds, seed=args.seed, window_error=args.window_error,
        auto_read=args.auto_read, status_delay_ms=args.status_delay_ms, webhook_sha256=args.webhook_sha256,
        escape_slashes=args.escape_slashes,
    )
    cfg.validate()
    return cfg
