"""Media hosted by the simulator: uploads from onfile and files sent by the client.

Design: ``MediaStore`` keeps metadata in a dict (persisted with the rest of the state)
and bytes in ``<state-dir>/media/<id>`` when a state directory is set, else in memory.
Ids expire on the simulated clock as on the real platform (whatsapp.md B3): 30 days for
uploads, 7 days for inbound media. A download URL is ``/media-download/<id>?exp=&sig=``,
HMAC-signed with a key derived from the app secret and valid for 5 simulated minutes;
downloading it needs the bearer token, like lookaside.fbsbx.com.

``check_upload`` applies B3: the declared MIME must be a supported one, the file's bytes
(sniffed by magic number) must belong to the same family, and the size must fit the
family's limit; anything else is error 131053.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from onfile.simulator.errors import GraphError
from onfile.simulator.ids import IdFactory

MB = 1024 * 1024
URL_TTL = 300
UPLOAD_TTL = 30 * 86400
INBOUND_TTL = 7 * 86400
SUPPORTED = {
    "audio/aac": "audio", "audio/amr": "audio", "audio/mpeg": "audio", "audio/mp4": "audio", "audio/ogg": "audio",
    "text/plain": "document", "application/pdf": "document", "application/msword": "document",
    "application/vnd.ms-excel": "document", "application/vnd.ms-powerpoint": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "document",
    "image/jpeg": "image", "image/png": "image", "image/webp": "sticker",
    "video/mp4": "video", "video/3gpp": "video",
}
LIMITS = {"audio": 16 * MB, "document": 100 * MB, "image": 5 * MB, "sticker": 500 * 1024, "video": 16 * MB}
STATIC_STICKER_LIMIT = 100 * 1024


@dataclass
class MediaItem:
    id: str
    mime_type: str
    sha256: str  # hex
    file_size: int
    filename: str
    origin: str  # "upload" | "inbound" | "echo"
    created: float
    expires: float
    phone_number_id: str = ""


def base_mime(mime: str) -> str:
    return mime.split(";", 1)[0].strip().lower()


def sniff_family(data: bytes) -> str | None:
    """The media family the bytes belong to, or None when the magic number is not recognised."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG") or head.startswith(b"GIF8"):
        return "image"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "sticker"
    if head.startswith((b"%PDF", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
        return "document"
    if head.startswith((b"OggS", b"ID3", b"#!AMR", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xf1", b"\xff\xf9")):
        return "audio"
    if head[4:8] == b"ftyp":
        return "audio" if head[8:11] == b"M4A" else "video"
    return None


def check_upload(declared: str, part_type: str | None, data: bytes) -> tuple[str, str]:
    """Validate an upload; returns (mime, family) or raises 131053."""
    mime = base_mime(declared)
    family = SUPPORTED.get(mime)
    if family is None:
        raise GraphError(131053, f"Param file must be a file with one of the following types: "
                         f"{', '.join(sorted(SUPPORTED))}. Received file of type '{declared}'.")
    if part_type and base_mime(part_type) in SUPPORTED and SUPPORTED[base_mime(part_type)] != family:
        raise GraphError(131053, f"The file part is '{part_type}' but type is '{declared}'.")
    sniffed = sniff_family(data)
    if sniffed is not None and sniffed != family:
        raise GraphError(131053, f"Media upload error: the file content is {sniffed}, not {family} ('{declared}').")
    if not data:
        raise GraphError(131053, "Media upload error: the file is empty.")
    limit = LIMITS[family]
    if family == "sticker" and b"ANIM" not in data[:4096]:
        limit = STATIC_STICKER_LIMIT
    if len(data) > limit:
        raise GraphError(131053, f"Media upload error: {family} files are limited to {limit} bytes, got {len(data)}.")
    return mime, family


class MediaStore:
    def __init__(self, directory: Path | None, ids: IdFactory, url_key: bytes) -> None:
        self._dir = directory
        self._ids = ids
        self._key = hashlib.sha256(b"onfile-sim-media:" + url_key).digest()
        self._items: dict[str, MediaItem] = {}
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def add(self, data: bytes, mime: str, *, filename: str = "", origin: str, now: float,
            phone_number_id: str = "") -> MediaItem:
        ttl = UPLOAD_TTL if origin == "upload" else INBOUND_TTL
        item = MediaItem(self._ids.media_id(), mime, hashlib.sha256(data).hexdigest(), len(data), filename,
                         origin, now, now + ttl, phone_number_id)
        with self._lock:
            self._items[item.id] = item
            if self._dir is None:
                self._blobs[item.id] = data
        if self._dir is not None:
            (self._dir / item.id).write_bytes(data)
        return item

    def get(self, media_id: str, now: float | None = None) -> MediaItem | None:
        """The item, or None when unknown, deleted or (if ``now`` is given) past its expiry."""
        with self._lock:
            item = self._items.get(media_id)
        if item is None or (now is not None and now > item.expires):
            return None
        return item

    def read(self, media_id: str) -> bytes:
        if self._dir is None:
            with self._lock:
                return self._blobs[media_id]
        return (self._dir / media_id).read_bytes()

    def delete(self, media_id: str) -> bool:
        with self._lock:
            found = self._items.pop(media_id, None) is not None
            self._blobs.pop(media_id, None)
        return found

    def signature(self, media_id: str, exp: int) -> str:
        return hmac.new(self._key, f"{media_id}.{exp}".encode(), hashlib.sha256).hexdigest()[:32]

    def download_url(self, base: str, media_id: str, now: float) -> str:
        exp = int(now) + URL_TTL
        return f"{base}/media-download/{media_id}?exp={exp}&sig={self.signature(media_id, exp)}"

    def url_valid(self, media_id: str, exp: str, sig: str, now: float) -> bool:
        if not exp.isdigit() or int(exp) < now:
            return False
        return hmac.compare_digest(self.signature(media_id, int(exp)), sig)

    def dump(self) -> dict[str, Any]:
        with self._lock:
            return {k: asdict(v) for k, v in self._items.items()}

    def load(self, data: dict[str, Any]) -> None:
        with self._lock:
            for key, value in data.items():
                item = MediaItem(**value)
                if self._dir is not None and (self._dir / key).exists():
                    self._items[key] = item
