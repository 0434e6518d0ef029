"""Projectors for imports: ``import.started`` → an ImportRun; each ``import.batch`` → its
messages (deduplicated by key), participants, attachments and reactions; ``import.completed``
→ the run's final counts. Replayed by ``onfile rebuild`` exactly as the live import ran."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import JSONField

from onfile.conversations.models import Attachment, Conversation, Message, Participant, Reaction
from onfile.imports import sources
from onfile.imports.convert import EXPORT, Converted, RunContext, batch_commitment, guess_mime, sender_phone
from onfile.imports.models import ImportRun
from onfile.imports.records import KIND_SYSTEM, ParsedChat
from onfile.ledger.models import Entry
from onfile.projection import EntryView, on_rebuild, projector


class ReplayMismatch(Exception):
    """The source no longer parses to what the ledger recorded (the parser changed)."""


_CONTEXTS: dict[int, RunContext] = {}
_CONVERSATIONS: dict[tuple[int, str], tuple[int, dict[str, int], list[int]]] = {}


def media_map(capture_seq: int) -> dict[str, tuple[int, str, int, str]]:
    out: dict[str, tuple[int, str, int, str]] = {}
    rows = Entry.objects.filter(kind="capture.media", subject=f"capture:{capture_seq}").values_list("attrs", "blob_id")
    for attrs_text, blob_id in rows:
        attrs = json.loads(attrs_text)
        out.setdefault(attrs["member"], (int(blob_id), attrs["sha256"], int(attrs["size"]), attrs["mime"]))
    return out


def context_for(run: ImportRun) -> RunContext:
    ctx = _CONTEXTS.get(run.seq)
    if ctx is None:
        state = sources.state_for(run.seq, run.kind, run.capture_seq, run.options)
        media_root = state.workdir / "media" if run.kind != EXPORT else None
        ctx = _CONTEXTS[run.seq] = RunContext(run.kind, run.options, media_map(run.capture_seq), media_root)
    return ctx


def converted_batch(run: ImportRun, chat_index: int, first: int, count: int) -> tuple[ParsedChat, list[Converted]]:
    state = sources.state_for(run.seq, run.kind, run.capture_seq, run.options)
    batch = state.take(chat_index, first, count)
    cached = getattr(batch, "converted", None)
    if cached is None:
        cached = context_for(run).convert(batch.chat, batch.messages)
        batch.converted = cached  # type: ignore[attr-defined]
    return batch.chat, cached


@projector("import.started")
def started(entry: EntryView) -> None:
    a = entry.attrs
    ImportRun.objects.create(id=entry.seq, seq=entry.seq, capture_seq=a["capture"], kind=a["kind"], title=a["title"],
                             options=a["options"], counts=_zero_counts())


def _zero_counts() -> dict[str, Any]:
    return {"messages_added": 0, "messages_present": 0, "attachments": 0, "placeholders": 0,
            "system_events": 0, "anomalies": 0, "anomaly_samples": []}


@projector("import.batch")
def batch(entry: EntryView) -> None:
    a = entry.attrs
    run = ImportRun.objects.get(seq=a["import"])
    chat, converted = converted_batch(run, a["chat"], a["first"], a["count"])
    if entry.commitment and batch_commitment(converted) != entry.commitment:
        raise ReplayMismatch(f"import batch {entry.seq} no longer parses to what was recorded")
    conversation, names, positions = _conversation(run, chat, entry.seq)
    existing = set(Message.objects.filter(key__in=[c.key for c in converted]).values_list("key", flat=True))
    counts = run.counts
    if a["first"] == 0 and chat.anomalies:
        counts.setdefault("chat_anomalies", []).extend(chat.anomalies)
    new = [c for c in converted if c.key not in existing]
    counts["messages_present"] += len(converted) - len(new)
    ops = connection.ops
    empty = (_json("data", {}), _json("anomalies", []))
    rows = [_message_row(run, conversation, names, positions, c, entry.seq, ops, empty) for c in new]
    _insert_messages(rows)
    ctx = context_for(run)
    _children(ctx, new, counts, entry.seq)
    for c in new:
        if c.message.anomalies:
            counts["anomalies"] += len(c.message.anomalies)
            if len(counts["anomaly_samples"]) < 20:
                counts["anomaly_samples"].append(f"{c.message.line_start}: {c.message.anomalies[0]}")
    counts["messages_added"] += len(new)
    counts["system_events"] += sum(1 for c in new if c.message.kind == KIND_SYSTEM)
    ImportRun.objects.filter(pk=run.pk).update(counts=counts)
    if new:
        last = max(c.sent_at for c in new)
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=max(
            last, conversation.last_message_at or last))


def _conversation(run: ImportRun, chat: ParsedChat, seq: int) -> tuple[Conversation, dict[str, int], list[int]]:
    ctx = context_for(run)
    key = ctx.conversation_key(chat)
    cached = _CONVERSATIONS.get((run.seq, key))
    if cached is not None:
        return Conversation.objects.get(pk=cached[0]), cached[1], cached[2]
    opts = run.options
    conversation, _ = Conversation.objects.get_or_create(key=key, defaults={
        "id": seq, "source": Conversation.Source.DEVICE, "title": chat.title, "is_group": chat.is_group,
        "client_id": opts.get("client_id"), "matter_id": opts.get("matter_id"),
        "custodian_id": opts.get("custodian_id"), "collected_by": opts.get("collected_by", ""),
        "collected_at": datetime.fromisoformat(str(opts["collected_at"])), "device": opts.get("device", ""),
        "created_seq": seq, "flags": [f"imported:{run.kind}"]})
    run.conversations.add(conversation)
    names = dict(Participant.objects.filter(conversation=conversation).values_list("display_name", "id"))
    top = Message.objects.filter(conversation=conversation).order_by("-position").values_list("position", flat=True)
    positions = [(top.first() or 0) + 1]
    _CONVERSATIONS[(run.seq, key)] = (conversation.pk, names, positions)
    return conversation, names, positions


def _participant(ctx: RunContext, conversation: Conversation, names: dict[str, int], c: Converted) -> int | None:
    name = c.message.sender
    if not name or (c.direction == "system" and name == conversation.title):
        return None
    pid = names.get(name)
    if pid is None:
        pid = names[name] = Participant.objects.create(
            conversation=conversation, display_name=name, phone=sender_phone(c.message),
            is_firm=c.direction == "out", client_id=None if c.direction == "out" else conversation.client_id,
            staff_id=ctx.options.get("custodian_id") if c.direction == "out" else None).pk
    return pid


_COLUMNS = ("conversation_id", "key", "wamid", "direction", "type", "system_event", "body", "sender_id",
            "sender_name", "sender_phone", "sent_at", "received_at", "position", "reply_to_key", "forwarded",
            "edited", "deleted", "status", "data", "source_seq", "capture_seq", "source_ref", "anomalies")


def _json(name: str, value: Any) -> Any:
    field = Message._meta.get_field(name)
    assert isinstance(field, JSONField)
    if not value:  # almost every imported message: prepare the empty value once per field
        cache_key = (connection.vendor, name, type(value).__name__)
        found = _EMPTY_JSON.get(cache_key)
        if found is None:
            found = _EMPTY_JSON[cache_key] = field.get_db_prep_save(value, connection)
        return found
    return field.get_db_prep_save(value, connection)


_EMPTY_JSON: dict[tuple[str, str, str], Any] = {}


def _message_row(run: ImportRun, conversation: Conversation, names: dict[str, int], positions: list[int],
                 c: Converted, seq: int, ops: Any, empty: tuple[Any, Any]) -> tuple[Any, ...]:
    # Plain tuples and one executemany: building a model instance per message and letting the
    # ORM prepare every field cost more than parsing (a 1 M-message import is the common case).
    m = c.message
    data: dict[str, Any] = {}
    if m.latitude is not None:
        data["location"] = {"latitude": m.latitude, "longitude": m.longitude}
    if m.reply_to_text:
        data["reply_to_text"] = m.reply_to_text
    position = positions[0]
    positions[0] += 1
    ref = f"lines {m.line_start}-{m.line_end}" if run.kind == EXPORT else f"row {m.line_start}"
    return (conversation.pk, c.key, "", c.direction, m.kind, m.system_event or "", _no_nul(m.text),
            _participant(context_for(run), conversation, names, c), m.sender or "", sender_phone(m),
            ops.adapt_datetimefield_value(c.sent_at), None, position, m.reply_to_key or "", m.forwarded,
            m.edited, m.deleted, m.status or "", _json("data", data) if data else empty[0], seq, run.capture_seq, ref,
            _json("anomalies", m.anomalies) if m.anomalies else empty[1])


def _no_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL; the raw capture keeps the original bytes.
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _insert_messages(rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    table = Message._meta.db_table
    sql = (f"INSERT INTO {table} ({', '.join(_COLUMNS)}) "  # noqa: S608 (constant names)
           f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})")
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _children(ctx: RunContext, new: list[Converted], counts: dict[str, Any], seq: int) -> None:
    parents = [c for c in new if c.message.attachments or c.message.reactions]
    if not parents:
        return
    ids = dict(Message.objects.filter(key__in=[c.key for c in parents]).values_list("key", "id"))
    attachments, reactions = [], []
    for c in parents:
        message_id = ids[c.key]
        for a in c.message.attachments:
            found = ctx.attachment_blob(a)
            if found is None:
                counts["placeholders"] += 1
                attachments.append(Attachment(message_id=message_id, filename=a.filename or "",
                                              mime_type=a.mime or guess_mime(a.filename), size=a.size,
                                              placeholder="omitted" if a.omitted else "missing",
                                              caption=a.caption or ""))
                continue
            blob_id, sha256, size, mime = found
            counts["attachments"] += 1
            attachments.append(Attachment(message_id=message_id, blob_id=blob_id, filename=a.filename or "",
                                          mime_type=a.mime or mime, size=size, sha256=sha256, caption=a.caption or ""))
        for sender, emoji, at in c.message.reactions:
            reactions.append(Reaction(message_id=message_id, sender_name=sender, emoji=emoji, at=at,
                                      source_seq=seq))
    Attachment.objects.bulk_create(attachments)
    Reaction.objects.bulk_create(reactions)


@projector("import.completed")
def completed(entry: EntryView) -> None:
    run_seq = entry.attrs["import"]
    ImportRun.objects.filter(seq=run_seq).update(status=ImportRun.Status.COMPLETE)
    release(run_seq)


def release(run_seq: int) -> None:
    _CONTEXTS.pop(run_seq, None)
    for key in [k for k in _CONVERSATIONS if k[0] == run_seq]:
        del _CONVERSATIONS[key]
    sources.release(run_seq)


@on_rebuild
def _forget_everything() -> None:
    _CONTEXTS.clear()
    _CONVERSATIONS.clear()
    sources.release_all()
