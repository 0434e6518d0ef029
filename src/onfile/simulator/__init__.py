"""A local stand-in for Meta's WhatsApp Cloud API: Graph API, webhooks, and the client's phone.

Point onfile at ``Simulator.url`` instead of ``https://graph.facebook.com`` and give the
simulator onfile's webhook URL; then every inbound type, status, echo and history chunk
of ``docs/whatsapp.md`` can be produced on loopback, signed with the app secret, with
batching, duplicates, reordering, retries and faults on demand. Run it with
``python -m onfile.simulator`` or in-process::

    with Simulator(port=0, webhook_url="http://127.0.0.1:8000/webhooks/whatsapp") as sim:
        wamid = sim.inbound(**{"from": "+447700900123", "name": "Alice Example", "type": "text", "text": "Hi"})
        sim.flush()

No Django here: onfile wraps it as ``onfile simulator``.
"""

from onfile.simulator.app import Simulator
from onfile.simulator.config import BusinessNumber, SimConfig, parse_number

__all__ = ["BusinessNumber", "SimConfig", "Simulator", "parse_number"]
