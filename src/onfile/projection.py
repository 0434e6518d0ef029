"""Derived state as a projection of the ledger (ARCHITECTURE invariant 3).

Each ledger kind that changes derived state has one projector, registered here. An
action appends its entry and then calls the *same* projector the rebuild calls, so the
live path and ``onfile rebuild`` cannot drift apart: rebuilding replays every entry in
sequence order into empty tables with reset id sequences and yields identical rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, transaction

from onfile.ledger.actions import read_content


@dataclass
class EntryView:
    seq: int
    kind: str
    actor: str
    subject: str
    attrs: dict[str, Any]
    blob_id: int | None
    _content: dict[str, Any] | None = field(default=None, repr=False)
    commitment: str = ""
    time: str = ""

    def content(self) -> dict[str, Any]:
        """The sealed event content (personal data), decrypted on first use."""
        if self._content is None:
            if self.blob_id is None:
                raise ValueError(f"entry {self.seq} ({self.kind}) has no content blob")
            self._content = read_content(self.blob_id)
        return self._content


Projector = Callable[[EntryView], None]
_PROJECTORS: dict[str, Projector] = {}

# Projection tables, children first (the order rows are deleted in).
PROJECTION_MODELS = [
    "whatsapp.ChannelEvent",
    "whatsapp.ProcessedItem",
    "imports.ImportRun_conversations",
    "imports.ImportRun",
    "conversations.ReadMarker",
    "conversations.Note",
    "conversations.Reaction",
    "conversations.MessageStatus",
    "conversations.MessageRevision",
    "conversations.Attachment",
    "conversations.Message",
    "conversations.Participant",
    "conversations.Conversation",
    "conversations.Matter_wall_members",
    "conversations.Matter",
    "conversations.ClientIdentity",
    "conversations.Client",
    "conversations.FirmNumber",
]


def projector(kind: str) -> Callable[[Projector], Projector]:
    def register(fn: Projector) -> Projector:
        if kind in _PROJECTORS:
            raise RuntimeError(f"two projectors for {kind}")
        _PROJECTORS[kind] = fn
        return fn

    return register


def project(view: EntryView) -> None:
    fn = _PROJECTORS.get(view.kind)
    if fn is not None:
        fn(view)


_REBUILD_HOOKS: list[Callable[[], None]] = []


def on_rebuild(fn: Callable[[], None]) -> Callable[[], None]:
    """Register a reset of in-process caches, run before and after every rebuild."""
    _REBUILD_HOOKS.append(fn)
    return fn


def projected_kinds() -> list[str]:
    return sorted(_PROJECTORS)


@dataclass
class RebuildReport:
    entries_replayed: int
    rows: dict[str, int]
    seconds: float


def _flush_projection() -> None:
    tables = [apps.get_model(label)._meta.db_table for label in PROJECTION_MODELS]
    statements = connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=False)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # TRUNCATE refuses while deferred foreign-key checks of this transaction are pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for sql in statements:
            cursor.execute(sql)
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def rebuild() -> RebuildReport:
    """Drop the projection and replay the ledger into it, in one transaction."""
    started = time.perf_counter()
    kinds = projected_kinds()
    for hook in _REBUILD_HOOKS:
        hook()
    try:
        replayed = _replay(kinds)
    finally:
        for hook in _REBUILD_HOOKS:
            hook()
    counts = {label: apps.get_model(label).objects.count() for label in PROJECTION_MODELS}
    return RebuildReport(replayed, counts, time.perf_counter() - started)


def _replay(kinds: list[str]) -> int:
    replayed = 0
    with transaction.atomic():
        _flush_projection()
        placeholders = ", ".join(["%s"] * len(kinds))
        sql = ("SELECT seq, kind, actor, subject, attrs, blob_id, commitment, time FROM ledger_entry"  # noqa: S608
               f" WHERE kind IN ({placeholders}) ORDER BY seq")
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, kinds)
            while rows := cursor.fetchmany(1000):
                for seq, kind, actor, subject, attrs, blob_id, commitment, time_ in rows:
                    project(EntryView(int(seq), kind, actor, subject, json.loads(attrs), blob_id,
                                      commitment=commitment, time=time_))
                    replayed += 1
    return replayed
