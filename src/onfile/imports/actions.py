"""``do_import``: put an export file or a device database on the record.

Steps, each with a contract (style rule 4): check (is it an export or a database we can
read? are the options valid?) → capture raw (the file byte for byte, then its media, each
sealed and ledgered; a file captured before is not captured again) → start (an
``import.started`` entry with every option, who collected it and when: REQ-OCC-3) →
batches (each ``import.batch`` entry commits to a Merkle tree of its messages' keyed hashes
and is projected in the same transaction) → complete. A run killed half-way leaves whole
batches; running the import again finds the same capture, skips what is already there and
completes it. Bad input raises before anything is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import transaction

from onfile.imports import chatexport, devicedb
from onfile.imports.convert import EXPORT, batch_commitment, guess_mime
from onfile.imports.models import ImportRun
from onfile.imports.options import ImportError_, ImportOptions, Resolved, resolve
from onfile.imports.projectors import converted_batch, release
from onfile.imports.sources import remove_stale_temp, state_for
from onfile.ledger.actions import do_capture
from onfile.ledger.log import NewEntry, append
from onfile.ledger.models import Entry
from onfile.projection import EntryView, project

BATCH_SIZE = 2000
Progress = Callable[[int], None]


@dataclass
class ImportSummary:
    source: str
    kind: str
    run: int
    capture: int
    conversations: list[int] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    chat_anomalies: list[str] = field(default_factory=list)
    already_imported: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "import": self.run, "capture": self.capture,
                "conversations": self.conversations, "already_imported": self.already_imported,
                "chat_anomalies": self.chat_anomalies, **self.counts}


@dataclass
class Plan:
    path: Path
    kind: str  # EXPORT | "msgstore" | "chatstorage"
    export: chatexport.ExportSource | None = None


def plan(paths: list[Path]) -> list[Plan]:
    """What each path is; raises ImportError_ for anything unusable (before any write)."""
    plans: list[Plan] = []
    for path in paths:
        if not path.exists():
            raise ImportError_(f"{path}: no such file or folder")
        if path.is_dir() and not _is_export_folder(path):
            children = sorted(p for p in path.iterdir() if not p.name.startswith("."))
            if not children:
                raise ImportError_(f"{path}: the folder is empty")
            plans.extend(plan(children))
            continue
        plans.append(_plan_one(path))
    return plans


def _is_export_folder(path: Path) -> bool:
    texts = [p for p in path.iterdir() if p.suffix.lower() == ".txt"]
    zips = [p for p in path.iterdir() if p.suffix.lower() == ".zip"]
    return len(texts) == 1 and not zips


def _plan_one(path: Path) -> Plan:
    if path.is_file():
        kind = devicedb.detect(path)
        if kind is not None:
            return Plan(path, kind)
    try:
        return Plan(path, EXPORT, chatexport.open_export(path))
    except chatexport.ExportError as exc:
        raise ImportError_(f"{path}: {exc}") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _existing_capture(sha256: str, kind: str) -> int | None:
    entry = (Entry.objects.filter(kind="capture.import", attrs__contains=f'"sha256":"{sha256}"')
             .order_by("seq").values_list("seq", flat=True).first())
    return int(entry) if entry is not None else None


def _capture(path: Path, kind: str, actor: str, role: str = "source") -> int:
    sha = _sha256(path)
    found = _existing_capture(sha, kind)
    if found is not None:
        return found
    captured = do_capture(path, kind="capture.import", actor=actor, attrs={
        "filename": path.name, "sha256": sha, "size": path.stat().st_size, "format": kind, "role": role})
    return captured.seq


def _capture_media(capture_seq: int, items: Iterator[tuple[str, Callable[[], Any]]], actor: str) -> None:
    """Each media file as its own sealed blob, ledgered under the source's capture."""
    done = set(json.loads(a)["member"] for a in Entry.objects.filter(
        kind="capture.media", subject=f"capture:{capture_seq}").values_list("attrs", flat=True))
    for member, opener in items:
        if member in done:
            continue
        with opener() as stream:
            sealed_input = stream.read()
        sha = hashlib.sha256(sealed_input).hexdigest()
        do_capture(sealed_input, kind="capture.media", actor=actor, subject=f"capture:{capture_seq}",
                   attrs={"member": member, "sha256": sha, "size": len(sealed_input), "mime": guess_mime(member)},
                   media_type=guess_mime(member))
        done.add(member)


def _export_media(source: chatexport.ExportSource) -> Iterator[tuple[str, Callable[[], Any]]]:
    for name in source.media:
        yield name, (lambda n=name: source.open_media(n))  # type: ignore[misc]


def _database_media(plan_: Plan, options: ImportOptions) -> tuple[list[str], Iterator[tuple[str, Callable[[], Any]]]]:
    if not options.media_root:
        return [], iter(())
    root = Path(options.media_root)
    found: list[str] = []
    wa_db = Path(options.wa_db) if options.wa_db else None
    for _chat, messages in devicedb.read_database(plan_.path, kind=plan_.kind, wa_db=wa_db, media_root=root,
                                                  chat=options.chat or None):
        for m in messages:
            found.extend(Path(a.path).relative_to(root).as_posix() for a in m.attachments if a.path)
    members = sorted(set(found))
    return members, ((rel, (lambda r=rel: (root / r).open("rb"))) for rel in members)


def _title(plan_: Plan) -> str:
    """The chat's title: from the chat text's own name when it has one (it survives a renamed
    zip), else from the file or folder name (iOS's ``_chat.txt`` says nothing)."""
    if plan_.export is None:
        return plan_.path.name
    inner = chatexport.title_from_name(plan_.export.chat_name)
    if plan_.export.chat_name != "_chat.txt" and inner != Path(plan_.export.chat_name).stem:
        return inner
    return plan_.export.title


def _started(plan_: Plan, capture: int, resolved: Resolved, actor: str, extra: dict[str, Any]) -> ImportRun:
    title = _title(plan_)
    options = {**resolved.as_attrs(), "collected_by": actor, "collected_at": datetime.now(UTC).isoformat(),
               "title": title, **extra}
    attrs = {"capture": capture, "kind": plan_.kind, "title": title, "options": options}
    with transaction.atomic():
        appended = append(NewEntry("import.started", actor, f"capture:{capture}", attrs))
        project(EntryView(appended.seq, "import.started", actor, f"capture:{capture}", attrs, None))
    return ImportRun.objects.get(seq=appended.seq)


def _completed_run(capture: int, resolved: Resolved) -> ImportRun | None:
    wanted = resolved.as_attrs()
    for run in ImportRun.objects.filter(capture_seq=capture, status=ImportRun.Status.COMPLETE).order_by("seq"):
        if all(run.options.get(k) == v for k, v in wanted.items()):
            return run
    return None


def _run_batches(run: ImportRun, actor: str, progress: Progress | None) -> None:
    state = state_for(run.seq, run.kind, run.capture_seq, run.options)
    while (item := state.next_batch(BATCH_SIZE)) is not None:
        _, converted = converted_batch(run, item.chat_index, item.first, len(item.messages))
        attrs = {"import": run.seq, "chat": item.chat_index, "first": item.first, "count": len(item.messages)}
        commitment = batch_commitment(converted)
        with transaction.atomic():
            appended = append(NewEntry("import.batch", actor, f"import:{run.seq}", attrs, None, commitment))
            project(EntryView(appended.seq, "import.batch", actor, f"import:{run.seq}", attrs, None,
                              commitment=commitment))
        if progress:
            progress(len(item.messages))


def _complete(run: ImportRun, actor: str) -> None:
    run.refresh_from_db()
    attrs = {"import": run.seq, "counts": {k: v for k, v in run.counts.items() if k != "anomaly_samples"}}
    with transaction.atomic():
        appended = append(NewEntry("import.completed", actor, f"import:{run.seq}", attrs))
        project(EntryView(appended.seq, "import.completed", actor, f"import:{run.seq}", attrs, None))


def do_import(paths: list[Path], options: ImportOptions, actor: str,
              progress: Progress | None = None) -> list[ImportSummary]:
    resolved = resolve(options)
    plans = plan(paths)
    if options.client and any(p.kind != EXPORT for p in plans) and not options.chat:
        raise ImportError_("--client with a device database needs --chat to say which chat is the client's")
    remove_stale_temp()
    try:
        return [_import_one(p, options, resolved, actor, progress) for p in plans]
    finally:
        for p in plans:
            if p.export is not None:
                p.export.close()


def _import_one(plan_: Plan, options: ImportOptions, resolved: Resolved, actor: str,
                progress: Progress | None) -> ImportSummary:
    if plan_.export is not None:
        # Parse the header survey now: a file that is no export fails here, before any capture.
        try:
            with plan_.export.open_chat() as stream:
                chatexport.parse_export(stream, date_order=resolved.date_order or None)
        except chatexport.ExportError as exc:
            raise ImportError_(f"{plan_.path}: {exc}") from None
    source = plan_.path
    if plan_.export is not None and plan_.export.kind == "folder":
        source = plan_.path / plan_.export.chat_name
    capture = _capture(source, plan_.kind, actor)
    previous = _completed_run(capture, resolved)
    if previous is not None:
        return _summary(plan_, previous, already=True)
    extra: dict[str, Any] = {}
    if plan_.export is not None:
        extra["container"] = "zip" if plan_.export.kind == "zip" else "txt"
        _capture_media(capture, _export_media(plan_.export), actor)
    else:
        members, items = _database_media(plan_, options)
        _capture_media(capture, items, actor)
        extra["media_paths"] = members
        if options.wa_db:
            extra["wa_db_capture"] = _capture(Path(options.wa_db), "wa.db", actor, role="contacts")
    run = _started(plan_, capture, resolved, actor, extra)
    try:
        _run_batches(run, actor, progress)
        _complete(run, actor)
    finally:
        release(run.seq)
    return _summary(plan_, ImportRun.objects.get(pk=run.pk), already=False)


def _summary(plan_: Plan, run: ImportRun, already: bool) -> ImportSummary:
    counts = dict(run.counts)
    if already:
        counts.update({"messages_present": counts.get("messages_added", 0) + counts.get("messages_present", 0),
                       "messages_added": 0})
    return ImportSummary(str(plan_.path), plan_.kind, run.seq, run.capture_seq,
                         sorted(run.conversations.values_list("pk", flat=True)), counts, already_imported=already)
