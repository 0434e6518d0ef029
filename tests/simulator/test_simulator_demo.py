"""How ``onfile serve`` starts the simulator in demo mode (channels/whatsapp/demo.py)."""

from __future__ import annotations

from pathlib import Path

from onfile.channels.whatsapp import demo
from onfile.simulator.config import build_parser


def test_secrets_that_begin_with_a_dash_reach_the_simulator(tmp_path: Path) -> None:
    """token_urlsafe() begins with "-" one time in 64: passed as "--name value", argparse took
    such a secret for an option and the simulator did not start (seen in CI)."""
    env = {"ONFILE_WHATSAPP_APP_SECRET": "-app", "ONFILE_WHATSAPP_VERIFY_TOKEN": "--verify",
           "ONFILE_WHATSAPP_ACCESS_TOKEN": "-Zx_9", "ONFILE_CLOCK_OFFSET_FILE": str(tmp_path / "clock")}
    argv = demo.simulator_argv(env, 8001, "http://127.0.0.1:8000/webhooks/whatsapp", tmp_path)
    args = build_parser().parse_args(argv[3:])  # after "python -m onfile.simulator"
    assert (args.app_secret, args.verify_token, args.access_token) == ("-app", "--verify", "-Zx_9")
    assert args.webhook_url == "http://127.0.0.1:8000/webhooks/whatsapp" and args.port == 8001
