"""A small firm to search: real clients, matters and chats, imported through the real importer.

- ``lease``: Alice Smith's chat (client Alice, phone +44 7700 900123; matter M-1), assigned to
  the fee earner, who is also the custodian (their messages are the outgoing ones).
- ``acme``: Acme Ltd's chat (matter M-2), assigned to the fee earner too; M-2 gets walled in
  the tests that need it.
- ``group``: a group chat with no client; one member writes from +44 7700 900456.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from onfile.conversations.models import Conversation, Matter

LEASE = """12/01/2024, 09:15 - Messages and calls are end-to-end encrypted. No one outside of this chat, \
not even WhatsApp, can read or listen to them. Tap to learn more.
12/01/2024, 09:16 - Alice Smith: Hello, I have a question about the lease
it is about clause 4
13/01/2024, 10:00 - Bob Solicitor: Sure: send it over and I will review the signature page
13/01/2024, 10:01 - Alice Smith: IMG-20240113-WA0001.jpg (file attached)
the signed page
13/01/2024, 10:02 - Alice Smith: <Media omitted>
14/01/2024, 11:00 - Alice Smith: We met at the Café Müller in Zürich
15/01/2024, 12:00 - Alice Smith: <script>alert("x")</script> & <b>bold</b> is what my nephew typed
16/01/2024, 08:30 - Bob Solicitor: The deposit of £25,000 is due on completion
17/01/2024, 09:00 - Alice Smith: Could you call me back on 07700 900999?
18/01/2024, 09:30 - Alice Smith: This message was deleted
"""
ACME = """01/02/2024, 10:00 - Carol Acme: The lease renewal for our warehouse is attached
01/02/2024, 10:05 - Bob Solicitor: Thanks, I will check the rent review clause
02/02/2024, 14:00 - Carol Acme: Also the resume of our new director, señor Pérez
03/02/2024, 09:00 - Bob Solicitor: Noted: the settlement offer stands until Friday
"""
GROUP = """05/03/2024, 10:00 - Dan: Minutes of the meeting about the lease are in the shared folder
05/03/2024, 10:01 - +44 7700 900456: I signed the lease extension yesterday
05/03/2024, 10:02 - Erin: Great news
"""
JPEG = b"\xff\xd8\xff\xe0 a photo of the signed page"


@dataclass
class World:
    admin: Any
    fee_earner: Any
    compliance: Any
    outsider: Any  # a fee earner with nothing assigned
    lease: Conversation
    acme: Conversation
    group: Conversation
    m1: Matter
    m2: Matter
    alice_id: int
    acme_id: int


def write_export(path: Path, text: str, media: dict[str, bytes] | None = None) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr(path.with_suffix(".txt").name, text)
        for name, data in (media or {}).items():
            z.writestr(name, data)
    return path


def import_chat(path: Path, actor: str, **options: str) -> Conversation:
    from onfile.imports.actions import do_import
    from onfile.imports.options import ImportOptions

    [summary] = do_import([path], ImportOptions(me="Bob Solicitor", tz="UTC", **options), actor=actor)
    return Conversation.objects.get(pk=summary.conversations[0])


@pytest.fixture
def world(admin: Any, fee_earner: Any, tmp_path: Path) -> World:
    from onfile.accounts.actions import do_create_user
    from onfile.conversations import actions

    compliance = do_create_user("colp@firm.example", None, "compliance", actor="test")
    outsider = do_create_user("outsider@firm.example", None, "fee_earner", actor="test")
    alice = actions.do_create_client("Alice Smith", admin.actor, phone="+44 7700 900123")
    acme = actions.do_create_client("Acme Ltd", admin.actor, kind="company")
    m1 = actions.do_create_matter("M-1", admin.actor, title="Lease of 1 High St", client=alice)
    m2 = actions.do_create_matter("M-2", admin.actor, title="Warehouse", client=acme)
    lease = import_chat(write_export(tmp_path / "WhatsApp Chat with Alice Smith.zip", LEASE,
                                     {"IMG-20240113-WA0001.jpg": JPEG}),
                        admin.actor, matter="M-1", custodian=fee_earner.email)
    acme_chat = import_chat(write_export(tmp_path / "WhatsApp Chat with Carol Acme.zip", ACME),
                            admin.actor, matter="M-2", custodian=fee_earner.email)
    group = import_chat(write_export(tmp_path / "WhatsApp Chat with Lease team.zip", GROUP), admin.actor)
    actions.do_assign(lease, fee_earner.pk, admin.actor)
    actions.do_assign(acme_chat, fee_earner.pk, admin.actor)
    return World(admin, fee_earner, compliance, outsider, lease, acme_chat, group, m1, m2, alice.pk, acme.pk)
