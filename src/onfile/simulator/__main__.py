"""``python -m onfile.simulator``: run the simulator until interrupted.

Design: parse the arguments into a ``SimConfig``, start a ``Simulator``, print where
everything is (Graph URL, phone page, the secrets onfile needs), wait for Ctrl-C or
SIGTERM, stop cleanly (which persists state). ``main(argv)`` returns an exit code so
onfile's own CLI can call it.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from onfile.simulator.app import Simulator
from onfile.simulator.config import build_parser, config_from_args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    sim = Simulator(config)
    try:
        sim.start()
    except OSError as exc:
        print(f"simulator: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    _banner(sim)
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    sim.stop()
    return 0


def _banner(sim: Simulator) -> None:
    cfg = sim.config
    numbers = ", ".join(f"{n.phone_number_id}:+{n.display_phone_number}" for n in cfg.numbers)
    print(f"WhatsApp Cloud API simulator on {sim.url}\n"
          f"  Graph API   {sim.graph_url}   (Bearer {cfg.access_token})\n"
          f"  phone page  {sim.url}/\n"
          f"  webhooks -> {cfg.webhook_url or '(none)'}   app secret {cfg.app_secret!r}, verify token "
          f"{cfg.verify_token!r}\n  WABA {cfg.waba_id}; numbers {numbers}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
