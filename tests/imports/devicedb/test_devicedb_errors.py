"""Files that cannot be read as a whole: clear DeviceDbError messages; detection by tables."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from tests.imports.devicedb import builders

from onfile.imports.devicedb import DeviceDbError, detect, read_database

b = builders


def _sqlite(path: Path, *statements: str) -> Path:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("suffix", ["crypt12", "crypt14", "crypt15"])
def test_encrypted_backup(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"msgstore.db.{suffix}"
    path.write_bytes(os.urandom(512))
    with pytest.raises(DeviceDbError) as error:
        read_database(path)
    number = suffix.removeprefix("crypt")
    assert str(error.value) == (
        f"msgstore.db.{suffix} is an encrypted WhatsApp backup (crypt{number}); decrypt it first, e.g. with "
        "wa-crypt-tools or WhatsApp-Chat-Exporter (wtsexporter) and the backup key, then import the "
        "decrypted msgstore.db"
    )
    assert detect(path) is None


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "msgstore.db"
    path.write_text("hello, I am not a database")
    with pytest.raises(DeviceDbError, match=r"^msgstore\.db is not a SQLite database"):
        read_database(path)
    assert detect(path) is None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DeviceDbError, match="no such file"):
        read_database(tmp_path / "nope.db")
    assert detect(tmp_path / "nope.db") is None


def test_unknown_schema(tmp_path: Path) -> None:
    path = _sqlite(tmp_path / "other.db", "CREATE TABLE notes (id INTEGER, body TEXT)")
    with pytest.raises(DeviceDbError) as error:
        read_database(path)
    assert str(error.value) == "other.db: unknown schema, not a WhatsApp message database (tables: notes)"
    assert detect(path) is None


def test_wa_db_given_as_the_database(tmp_path: Path) -> None:
    path = b.make_wa_db(tmp_path / "wa.db", [])
    with pytest.raises(DeviceDbError, match=r"is a contacts database \(wa\.db\); pass it as wa_db="):
        read_database(path)


def test_kind_is_checked(tmp_path: Path) -> None:
    db: Any = b.AndroidStore(tmp_path / "msgstore.db")
    path = db.close()
    assert detect(path) == "msgstore"
    assert [c.key for c, _ in read_database(path, kind="msgstore")] == []
    with pytest.raises(DeviceDbError, match="looks like a msgstore database, not chatstorage"):
        read_database(path, kind="chatstorage")
    with pytest.raises(DeviceDbError, match="unknown kind 'whatsapp'"):
        read_database(path, kind="whatsapp")


def test_detection_ignores_the_file_name(tmp_path: Path) -> None:
    ios: Any = b.IosStore(tmp_path / "msgstore.db")
    assert detect(ios.close()) == "chatstorage"
    android: Any = b.AndroidStore(tmp_path / "ChatStorage.sqlite")
    assert detect(android.close()) == "msgstore"


def test_required_column_missing(tmp_path: Path) -> None:
    path = _sqlite(
        tmp_path / "msgstore.db",
        "CREATE TABLE chat (_id INTEGER PRIMARY KEY, jid_row_id INTEGER)",
        "CREATE TABLE message (_id INTEGER PRIMARY KEY, chat_row_id INTEGER, text_data TEXT)",
    )
    with pytest.raises(DeviceDbError) as error:
        read_database(path)
    assert (
        str(error.value) == "unknown current schema: message lacks from_me, key_id, timestamp, message_type"
    )


def test_current_schema_preferred_unless_only_legacy_has_rows(tmp_path: Path) -> None:
    legacy: Any = b.LegacyStore(tmp_path / "msgstore.db")
    legacy.message("41791111111@s.whatsapp.net", "OLD", b.T0_MS, data="from the old table")
    path = legacy.close()
    conn = sqlite3.connect(path)
    for table in ("jid", "chat", "message"):
        conn.execute(b.ANDROID_TABLES[table])
    conn.commit()
    conn.close()
    [(chat, messages)] = list(read_database(path))
    assert (chat.key, [m.text for m in messages]) == ("41791111111@s.whatsapp.net", ["from the old table"])
