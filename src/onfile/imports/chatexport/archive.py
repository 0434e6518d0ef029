"""Open an export safely: a chat ``.txt``, an Android or iOS ``.zip``, or a folder.

Design
- A zip is judged as a whole before any byte of it is read: every entry's name (no ``..``,
  absolute paths, backslashes, drive letters), type (no symlinks), encryption, declared size,
  the total, and the compression ratio. One hostile entry refuses the whole file with an
  ``ExportError`` saying why; an archive must not be half-imported.
- Only the chat text is extracted, to a temp dir this module creates (under a fixed name,
  never the member's), with a size cap, because ``parse_export`` reads its stream twice and
  seeks. Media stay in the zip and are streamed on demand; ``zipfile`` stops at each
  entry's declared size and checks its CRC, so the declared sizes checked here bound them.
- Limits are module constants, read at call time so tests (and operators) can lower them.
- File names are localized ("WhatsApp Chat with", "Chat de WhatsApp con", …): they give a
  display title and nothing else. The chat text is found as ``_chat.txt`` or by content.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import IO, BinaryIO

from . import locales
from .errors import ExportError, NotAnExport
from .survey import has_header

MAX_MEMBER_BYTES = 4 << 30  # one entry, uncompressed (WhatsApp caps documents at 2 GB)
MAX_TOTAL_BYTES = 64 << 30  # all entries together, uncompressed
MAX_RATIO = 100  # uncompressed / compressed, for entries above RATIO_MIN_BYTES
RATIO_MIN_BYTES = 1 << 20  # tiny entries legitimately compress very well
MAX_MEMBERS = 100_000
_COPY_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


class ExportSource:
    """An opened export: its chat text, title and media. Close it (or use ``with``)."""

    def __init__(
        self,
        kind: str,
        title: str,
        chat_name: str,
        chat_path: Path,
        media: dict[str, Path | zipfile.ZipInfo],
        *,
        zip_file: zipfile.ZipFile | None = None,
        temp_dir: str | None = None,
    ) -> None:
        self.kind = kind  # "txt" | "zip" | "folder"
        self.title = title
        self.chat_name = chat_name  # member or file name of the chat text, as in the source
        self._chat_path = chat_path
        self._media = media
        self._zip = zip_file
        self._temp_dir = temp_dir
        self._index = _media_index(media)

    @property
    def media(self) -> list[str]:
        """Names of the media members (zip) or files (folder), in source order."""
        return list(self._media)

    def open_chat(self) -> BinaryIO:
        """A new seekable binary stream of the chat text."""
        return open(self._chat_path, "rb")

    def find_media(self, filename: str) -> str | None:
        """The media member an export line names, or None when it is not in the export."""
        if filename in self._media:
            return filename
        return self._index.get(_media_key(filename))

    def open_media(self, name: str) -> IO[bytes]:
        """A binary stream of media member ``name`` (from ``media`` or ``find_media``)."""
        entry = self._media.get(name)
        if entry is None:
            raise ExportError(f"no media named {name!r} in this export")
        if isinstance(entry, zipfile.ZipInfo):
            assert self._zip is not None
            return self._zip.open(entry)
        return open(entry, "rb")

    def media_size(self, name: str) -> int | None:
        """The uncompressed size of media member ``name``, when known."""
        entry = self._media.get(name)
        if isinstance(entry, zipfile.ZipInfo):
            return entry.file_size
        return entry.stat().st_size if entry is not None else None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __enter__(self) -> ExportSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_export(path: str | os.PathLike[str]) -> ExportSource:
    """Open a ``.txt``, a ``.zip`` or a folder as an export; raise ExportError when unsafe or not one."""
    p = Path(path)
    if p.is_dir():
        return _open_folder(p)
    if not p.is_file():
        raise ExportError(f"{p.name}: not a file or folder")
    if zipfile.is_zipfile(p):
        return _open_zip(p)
    if p.suffix.lower() == ".zip":
        raise ExportError(f"{p.name}: not a valid zip file")
    with open(p, "rb") as stream:
        if not has_header(stream):
            raise NotAnExport(f"{p.name}: not a WhatsApp chat export (no message header found)")
    return ExportSource("txt", title_from_name(p.name), p.name, p, {})


def title_from_name(name: str) -> str:
    """A display title from an export's file name ("WhatsApp Chat with Bob.zip" -> "Bob")."""
    stem = name.rsplit("/", 1)[-1]
    for ext in (".zip", ".txt"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    for prefix in locales.TITLE_PREFIXES:
        for form in (prefix, prefix.replace(" ", "_")):
            if stem.startswith(form) and len(stem) > len(form):
                return stem[len(form) :].strip()
    return stem.strip()


# --- zip ---------------------------------------------------------------------------------


def _open_zip(path: Path) -> ExportSource:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportError(f"{path.name}: not a readable zip file ({exc})") from exc
    temp_dir = None
    try:
        infos = check_zip(zf)
        chat = _find_chat_member(zf, infos)
        temp_dir = tempfile.mkdtemp(prefix="onfile-chatexport-")
        chat_path = Path(temp_dir) / "chat.txt"
        _extract(zf, chat, chat_path)
        with open(chat_path, "rb") as stream:
            if not has_header(stream):
                raise NotAnExport(f"{path.name}: {chat.filename} is not a WhatsApp chat export")
        media: dict[str, Path | zipfile.ZipInfo] = {i.filename: i for i in infos if i is not chat}
        return ExportSource(
            "zip", title_from_name(path.name), chat.filename, chat_path, media, zip_file=zf, temp_dir=temp_dir
        )
    except BaseException:
        zf.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise


def check_zip(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Validate every entry (see the module docstring); return the file entries."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ExportError(f"the zip has {len(infos)} entries (limit {MAX_MEMBERS})")
    files: list[zipfile.ZipInfo] = []
    seen: set[str] = set()
    total = 0
    for info in infos:
        check_member_name(info.filename)
        if info.filename in seen:
            raise ExportError(f"the zip holds {info.filename!r} twice")
        seen.add(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ExportError(f"the zip entry {info.filename!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise ExportError(f"the zip entry {info.filename!r} is encrypted")
        if info.is_dir():
            continue
        _check_size(info)
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise ExportError(f"the zip expands to more than {MAX_TOTAL_BYTES} bytes (zip bomb?)")
        files.append(info)
    return files


def check_member_name(name: str) -> None:
    """Refuse names that could escape a folder when extracted (zip-slip)."""
    parts = name.split("/")
    if (
        not name
        or "\\" in name
        or "\0" in name
        or name.startswith("/")
        or _DRIVE.match(name)
        or ".." in parts
    ):
        raise ExportError(f"the zip entry name {name!r} is unsafe")


def _check_size(info: zipfile.ZipInfo) -> None:
    if info.file_size > MAX_MEMBER_BYTES:
        raise ExportError(
            f"the zip entry {info.filename!r} expands to {info.file_size} bytes (limit {MAX_MEMBER_BYTES})"
        )
    if info.file_size > RATIO_MIN_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise ExportError(
            f"the zip entry {info.filename!r} is compressed more than {MAX_RATIO}:1 (zip bomb?)"
        )


def _find_chat_member(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> zipfile.ZipInfo:
    texts = [i for i in infos if i.filename.lower().endswith(".txt")]
    for info in texts:
        if info.filename.rsplit("/", 1)[-1] == "_chat.txt":
            return info
    if len(texts) == 1:
        return texts[0]
    # Several .txt files (a shared document among the media): the one with headers.
    for info in texts:
        with zf.open(info) as member:
            head = member.read(64 * 1024)
        if has_header(BytesIO(head)):
            return info
    raise ExportError("the zip holds no WhatsApp chat text (.txt)")


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    written = 0
    with zf.open(info) as source, open(target, "wb") as sink:
        while chunk := source.read(_COPY_CHUNK):
            written += len(chunk)
            if written > MAX_MEMBER_BYTES:  # defence in depth; zipfile stops at file_size
                raise ExportError(f"the zip entry {info.filename!r} is larger than declared")
            sink.write(chunk)


# --- folder ------------------------------------------------------------------------------


def _open_folder(folder: Path) -> ExportSource:
    files: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            raise ExportError(f"{entry.name} in the export folder is a symbolic link")
        if entry.is_file():
            files.append(entry)
    chat = _find_chat_file(files)
    title = folder.name if chat.name == "_chat.txt" else title_from_name(chat.name)
    media: dict[str, Path | zipfile.ZipInfo] = {f.name: f for f in files if f != chat}
    return ExportSource("folder", title, chat.name, chat, media)


def _find_chat_file(files: list[Path]) -> Path:
    texts = [f for f in files if f.suffix.lower() == ".txt"]
    texts.sort(key=lambda f: f.name != "_chat.txt")
    for candidate in texts:
        with open(candidate, "rb") as stream:
            if has_header(stream):
                return candidate
    if texts:
        raise NotAnExport("no .txt file in the folder is a WhatsApp chat export")
    raise ExportError("the folder holds no chat text (.txt)")


# --- media lookup --------------------------------------------------------------------------


def _media_key(name: str) -> str:
    # Base name, NFC (macOS zips store NFD) and case-folded: export lines and member names
    # disagree on exactly these.
    return unicodedata.normalize("NFC", name.rsplit("/", 1)[-1]).casefold()


def _media_index(media: dict[str, Path | zipfile.ZipInfo]) -> dict[str, str]:
    index: dict[str, str] = {}
    for name in media:
        index.setdefault(_media_key(name), name)
    return index
