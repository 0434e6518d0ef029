"""Reading an import's source back from the record, batch by batch.

The projector never reads the user's original file: it reads the sealed capture (raw
first), decrypted to a private temporary file, so the live import and ``onfile rebuild``
parse exactly the same bytes. Parsing is streamed; a ``SourceState`` keeps the parser's
position between batches (batches are projected in ledger order) and the last batch it
handed out, so the action and the projector can ask for the same batch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from onfile.imports import chatexport, devicedb
from onfile.imports.records import ParsedChat, ParsedMessage
from onfile.ledger.blobs import open_blob
from onfile.ledger.models import Entry


class SourceError(Exception):
    pass


def temp_dir() -> Path:
    path = Path(settings.DATA_DIR) / "tmp"
    path.mkdir(exist_ok=True, mode=0o700)
    return path


def materialize(capture_seq: int, suffix: str, into: Path) -> Path:
    """Decrypt the capture's blob to a file under ``into`` (bounded memory)."""
    entry = Entry.objects.get(seq=capture_seq)
    if entry.blob_id is None:
        raise SourceError(f"ledger entry {capture_seq} has no blob")
    target = into / f"capture-{capture_seq}{suffix}"
    with target.open("wb") as out:
        for chunk in open_blob(entry.blob_id):
            out.write(chunk)
    return target


@dataclass
class Batch:
    chat_index: int
    first: int
    chat: ParsedChat
    messages: list[ParsedMessage]


@dataclass
class SourceState:
    """A parser positioned inside one import's source."""

    chats: Iterator[tuple[ParsedChat, Iterator[ParsedMessage]]]
    workdir: Path
    closers: list[object] = field(default_factory=list)
    chat_index: int = -1
    chat: ParsedChat | None = None
    messages: Iterator[ParsedMessage] | None = None
    position: int = 0
    last: Batch | None = None

    def _next_chat(self) -> bool:
        item = next(self.chats, None)
        if item is None:
            return False
        self.chat, self.messages = item
        self.chat_index += 1
        self.position = 0
        return True

    def next_batch(self, size: int) -> Batch | None:
        """The next batch in source order (for the live import), or None at the end."""
        while True:
            if self.messages is None and not self._next_chat():
                return None
            assert self.messages is not None and self.chat is not None
            taken = [m for _, m in zip(range(size), self.messages, strict=False)]
            if taken:
                self.last = Batch(self.chat_index, self.position, self.chat, taken)
                self.position += len(taken)
                return self.last
            self.messages = None

    def take(self, chat_index: int, first: int, count: int) -> Batch:
        """The batch a ledger entry names (for replay), advancing the parser to it."""
        last = self.last
        if last and (last.chat_index, last.first, len(last.messages)) == (chat_index, first, count):
            return last
        while self.chat_index < chat_index or self.messages is None:
            if not self._next_chat():
                raise SourceError(f"the source has no chat {chat_index}")
        assert self.messages is not None and self.chat is not None
        while self.position < first:  # skip what an interrupted earlier run already recorded
            if next(self.messages, None) is None:
                break
            self.position += 1
        taken = [m for _, m in zip(range(count), self.messages, strict=False)]
        if len(taken) != count:
            raise SourceError(f"chat {chat_index} has fewer messages than the ledger recorded")
        self.last = Batch(chat_index, first, self.chat, taken)
        self.position = first + count
        return self.last

    def close(self) -> None:
        for closer in self.closers:
            close = getattr(closer, "close", None)
            if close is not None:
                close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def open_state(kind: str, capture_seq: int, options: dict[str, object]) -> SourceState:
    workdir = Path(tempfile.mkdtemp(prefix="import-", dir=temp_dir()))
    try:
        if kind == "chat-export":
            return _export_state(capture_seq, options, workdir)
        return _database_state(kind, capture_seq, options, workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _export_state(capture_seq: int, options: dict[str, object], workdir: Path) -> SourceState:
    suffix = ".zip" if options.get("container") == "zip" else ".txt"
    path = materialize(capture_seq, suffix, workdir)
    source = chatexport.open_export(path)
    stream = source.open_chat()
    date_order = options.get("date_order")
    chat, messages = chatexport.parse_export(stream, date_order=str(date_order) if date_order else None,
                                             title=str(options.get("title", "")))
    state = SourceState(iter([(chat, messages)]), workdir)
    state.closers += [stream, source]
    return state


def _database_state(kind: str, capture_seq: int, options: dict[str, object], workdir: Path) -> SourceState:
    path = materialize(capture_seq, ".db", workdir)
    wa_db = None
    if options.get("wa_db_capture") is not None:
        wa_db = materialize(int(str(options["wa_db_capture"])), ".wa.db", workdir)
    chat_filter = options.get("chat")
    chats = devicedb.read_database(path, kind=kind, wa_db=wa_db, chat=str(chat_filter) if chat_filter else None,
                                   media_root=_media_names_root(options, workdir))
    return SourceState(((c, iter(ms)) for c, ms in chats), workdir)


def _media_names_root(options: dict[str, object], workdir: Path) -> Path | None:
    """Device readers look media up on disk; the record has them as captures instead. An
    empty tree with the captured relative paths lets the reader resolve the same names."""
    names = options.get("media_paths")
    if not isinstance(names, list) or not names:
        return None
    root = workdir / "media"
    for rel in names:
        target = root / str(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    return root


_STATES: dict[int, SourceState] = {}


def state_for(run_seq: int, kind: str, capture_seq: int, options: dict[str, object]) -> SourceState:
    state = _STATES.get(run_seq)
    if state is None:
        state = _STATES[run_seq] = open_state(kind, capture_seq, options)
    return state


def release(run_seq: int) -> None:
    state = _STATES.pop(run_seq, None)
    if state is not None:
        state.close()


def release_all() -> None:
    for seq in list(_STATES):
        release(seq)


def remove_stale_temp() -> None:
    """Temporary files of a process that was killed mid-import."""
    base = temp_dir()
    for entry in base.iterdir():
        if entry.is_dir() and entry.name.startswith("import-") and not any(
            s.workdir == entry for s in _STATES.values()
        ):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_file():
            os.unlink(entry)
