"""A small multipart/form-data parser (the stdlib's ``cgi`` is deprecated and gone in 3.13).

Design: the whole body is in memory already (uploads are at most 100 MB); split on the
boundary, read each part's headers, keep name, filename, content type and bytes. Only
what the media upload endpoint needs; anything malformed raises ``ValueError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))')


@dataclass
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def header_params(value: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM.finditer(value)}


def parse(content_type: str, body: bytes) -> dict[str, Part]:
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValueError("expected multipart/form-data")
    boundary = header_params(content_type).get("boundary")
    if not boundary:
        raise ValueError("multipart/form-data without a boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    parts: dict[str, Part] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        part = _part(chunk.removeprefix(b"\r\n").removesuffix(b"\r\n"))
        parts.setdefault(part.name, part)
    return parts


def _part(chunk: bytes) -> Part:
    head, sep, data = chunk.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("multipart part without a header/body separator")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n"):
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    params = header_params(headers.get("content-disposition", ""))
    if "name" not in params:
        raise ValueError("multipart part without a name")
    filename = params.get("filename")
    if filename is not None:
        filename = filename.encode("latin-1").decode("utf-8", "replace")
    return Part(params["name"], data, filename, headers.get("content-type"))
