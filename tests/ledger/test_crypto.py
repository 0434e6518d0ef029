"""Envelope encryption of blobs (ARCHITECTURE invariant 4)."""

from __future__ import annotations

import io
import os

import pytest

from onfile.ledger import crypto


def _open(key: bytes, sealed: bytes) -> bytes:
    return b"".join(crypto.open_sealed(key, io.BytesIO(sealed)))


@pytest.mark.parametrize("size", [0, 1, 1000, crypto.CHUNK_SIZE, crypto.CHUNK_SIZE + 1, 3 * crypto.CHUNK_SIZE + 7])
def test_sealed_bytes_open_to_the_same_plaintext(size: int) -> None:
    key = crypto.new_data_key()
    data = os.urandom(size)
    sealed = crypto.seal(key, data)
    assert size < 16 or data not in sealed
    assert _open(key, sealed) == data


def test_a_flipped_byte_is_refused() -> None:
    key = crypto.new_data_key()
    sealed = bytearray(crypto.seal(key, b"client message " * 100))
    sealed[40] ^= 1
    with pytest.raises(crypto.CryptoError, match="fails authentication"):
        _open(key, bytes(sealed))


def test_a_dropped_final_chunk_is_refused() -> None:
    key = crypto.new_data_key()
    sealed = crypto.seal(key, os.urandom(2 * crypto.CHUNK_SIZE + 10))
    truncated = sealed[: crypto.HEADER_SIZE + 2 * (crypto.CHUNK_SIZE + crypto.TAG_SIZE)]
    with pytest.raises(crypto.CryptoError):
        _open(key, truncated)


def test_the_wrong_data_key_is_refused() -> None:
    sealed = crypto.seal(crypto.new_data_key(), b"secret")
    with pytest.raises(crypto.CryptoError):
        _open(crypto.new_data_key(), sealed)


def test_a_data_key_wrapped_by_one_master_key_does_not_unwrap_with_another() -> None:
    data_key = crypto.new_data_key()
    wrapped = crypto.MasterKey.generate().wrap(data_key)
    with pytest.raises(crypto.CryptoError, match="master key is wrong"):
        crypto.MasterKey.generate().unwrap(wrapped)


def test_master_key_text_round_trips_and_bad_text_is_refused() -> None:
    key = crypto.MasterKey.generate()
    assert crypto.MasterKey.from_text(key.to_text()) == key
    with pytest.raises(crypto.CryptoError, match="base64"):
        crypto.MasterKey.from_text("not base64!")
    with pytest.raises(crypto.CryptoError, match="32 bytes"):
        crypto.MasterKey.from_text("c2hvcnQ=")
