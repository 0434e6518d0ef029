"""The WhatsApp account as configured: Graph API access and the firm's numbers."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from onfile.channels.whatsapp.graph import GraphClient


class NotConfigured(Exception):
    pass


@dataclass(frozen=True)
class NumberSpec:
    phone_number_id: str
    number: str
    display_name: str
    team: str


def parse_numbers(specs: list[str]) -> list[NumberSpec]:
    out = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError(f"ONFILE_WHATSAPP_NUMBERS entry {spec!r} is not PHONE_NUMBER_ID:+E164[:name[:team]]")
        name = parts[2] if len(parts) > 2 else ""
        out.append(NumberSpec(parts[0], parts[1], name, parts[3] if len(parts) > 3 else ""))
    return out


def client() -> GraphClient:
    if not settings.WHATSAPP_ACCESS_TOKEN:
        raise NotConfigured("no WhatsApp access token: set ONFILE_WHATSAPP_ACCESS_TOKEN (or run with the simulator)")
    return GraphClient(settings.WHATSAPP_GRAPH_URL, settings.WHATSAPP_ACCESS_TOKEN, settings.WHATSAPP_API_VERSION)
