"""Export files at rest: sealed while they are written, in the blobs' format, opened chunk by chunk."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from onfile.exports import sealed
from onfile.ledger import crypto
from onfile.ledger.keys import master_key

CHUNK = crypto.CHUNK_SIZE


@pytest.fixture(autouse=True)
def own_folder(settings: Any, tmp_path: Path) -> None:
    settings.EXPORT_DIR = tmp_path / "exports"


def written_in_pieces(data: bytes, piece: int) -> tuple[bytes, bytes]:
    """Seal ``data`` written ``piece`` bytes at a time; return (sealed bytes, data key)."""
    key = crypto.new_data_key()
    out = io.BytesIO()
    writer = sealed.SealingWriter(key, out)
    for i in range(0, len(data), piece):
        writer.write(data[i:i + piece])
    writer.close()
    assert writer.cipher_size == len(out.getvalue())
    return out.getvalue(), key


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
@pytest.mark.parametrize("piece", [7_000, CHUNK + 3])
def test_what_is_written_opens_to_the_same_bytes(size: int, piece: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    blob, key = written_in_pieces(data, piece)
    assert blob.startswith(crypto.MAGIC)
    assert b"".join(crypto.open_sealed(key, io.BytesIO(blob))) == data
    # The same layout as a blob sealed in one go: one tag per chunk, one empty final chunk at most.
    chunks = max(1, -(-size // CHUNK))
    assert len(blob) == crypto.HEADER_SIZE + size + chunks * crypto.TAG_SIZE


def test_a_truncated_or_altered_file_does_not_open() -> None:
    data = b"transcript " * 300_000  # more than three chunks
    blob, key = written_in_pieces(data, 65_536)
    cut = blob[: crypto.HEADER_SIZE + 2 * (CHUNK + crypto.TAG_SIZE)]  # the last chunks gone
    with pytest.raises(crypto.CryptoError):
        b"".join(crypto.open_sealed(key, io.BytesIO(cut)))
    altered = bytearray(blob)
    altered[crypto.HEADER_SIZE + 10] ^= 1
    with pytest.raises(crypto.CryptoError):
        b"".join(crypto.open_sealed(key, io.BytesIO(bytes(altered))))


def test_the_writer_holds_a_few_chunks_at_most() -> None:
    writer = sealed.SealingWriter(crypto.new_data_key(), io.BytesIO())
    most = 0
    for _ in range(20):
        writer.write(b"z" * (CHUNK // 2 + 1))
        most = max(most, len(writer._feed.chunks))
    writer.close()
    assert most <= 2


def test_a_stored_file_round_trips_and_a_failed_one_leaves_nothing(settings: Any) -> None:
    name = sealed.new_name("job-1-1")
    result, stored = sealed.write_sealed(name, lambda out: out.write(b"%PDF-1.7 the transcript"))
    path = Path(settings.EXPORT_DIR) / name
    assert result == 23 and stored.name == name and stored.master_key_id == master_key().key_id
    assert oct(path.stat().st_mode & 0o777) == "0o600" and b"PDF" not in path.read_bytes()
    assert b"".join(sealed.open_sealed_file(name, stored.wrapped_key)) == b"%PDF-1.7 the transcript"

    def fails(out: Any) -> None:
        out.write(b"%PDF-1.7 half")
        raise RuntimeError("renderer")

    other = sealed.new_name("job-2-1")
    with pytest.raises(RuntimeError):
        sealed.write_sealed(other, fails)
    assert not (Path(settings.EXPORT_DIR) / other).exists()
    sealed.delete(name)
    assert not path.exists()
    with pytest.raises(sealed.ExportFileError):
        sealed.open_sealed_file(name, stored.wrapped_key)


def test_names_cannot_leave_the_folder() -> None:
    for bad in ("../x.ofb", "/etc/passwd", "", "a/b.ofb", "x.pdf"):
        with pytest.raises(sealed.ExportFileError):
            sealed.open_sealed_file(bad, b"")
        if bad:
            with pytest.raises(sealed.ExportFileError):
                sealed.delete(bad)
