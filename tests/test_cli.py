"""The ``onfile`` command end to end, as a user runs it: a real process, a fresh archive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import Cli

pytestmark = pytest.mark.cli

ON_SQLITE = not os.environ.get("ONFILE_DATABASE_URL", "").startswith("postgres")


def test_help_lists_every_command(cli: Cli) -> None:
    out = cli.run("--help").stdout
    for name in ("init", "serve", "worker", "verify", "checkpoint", "rebuild", "status", "proof"):
        assert f"  {name}" in out
    for name in ("init", "serve", "worker", "verify", "checkpoint", "rebuild", "status", "proof"):
        assert "usage:" in cli.run(name, "--help").stdout


def test_commands_before_init_say_what_to_do(cli: Cli) -> None:
    if not ON_SQLITE:
        pytest.skip("the 'not initialised' shortcut is for the zero-configuration SQLite setup")
    proc = cli.run("verify", check=False)
    assert proc.returncode == 2
    assert "run 'onfile init'" in proc.stderr


def test_init_then_verify_checkpoint_status_rebuild(cli: Cli) -> None:
    out = cli.init().stdout
    assert "created" in out and "administrator: admin@firm.example" in out
    keys = cli.data_dir / "keys"
    assert (keys / "master.key").stat().st_mode & 0o777 == 0o600
    assert (keys / "checkpoint.key").stat().st_mode & 0o777 == 0o600
    verify = json.loads(cli.run("verify", "--json").stdout)
    assert verify["ok"] and verify["entries"] == 2
    status = json.loads(cli.run("status", "--json").stdout)
    assert status["last_checkpoint"]["size"] == 2
    assert status["last_verify"]["ok"] is True
    note = cli.run("checkpoint", "--force").stdout
    assert note.splitlines()[0] == "onfile.local/ledger"
    rebuilt = json.loads(cli.run("rebuild", "--json").stdout)
    assert rebuilt["rows"]["conversations.Client"] == 0


def test_init_twice_changes_nothing(cli: Cli) -> None:
    cli.init()
    key = (cli.data_dir / "keys" / "master.key").read_text()
    second = json.loads(cli.run("init", "--json").stdout)
    assert second["created"] == [] and second["already_initialised"] is True
    assert (cli.data_dir / "keys" / "master.key").read_text() == key


def test_a_checkpoint_verifies_with_only_its_text_and_the_public_key(cli: Cli, tmp_path: Path) -> None:
    cli.init()
    cp = tmp_path / "latest.checkpoint"
    cp.write_text(cli.run("checkpoint", "--show").stdout)
    pub = tmp_path / "onfile.pub"
    pub.write_text(cli.run("checkpoint", "--public-key").stdout)
    proof, leaf = tmp_path / "entry1.tlog-proof", tmp_path / "entry1.leaf"
    cli.run("proof", "inclusion", "1", "-o", str(proof), "--leaf-output", str(leaf))
    # A regulator's laptop: no Django, no database, no data directory — three files and the key.
    standalone = tmp_path / "standalone"
    standalone.mkdir()
    ledger_src = Path(__file__).resolve().parents[1] / "src" / "onfile" / "ledger"
    for name in ("merkle.py", "checkpoint.py", "verify_checkpoint.py"):
        (standalone / name).write_text((ledger_src / name).read_text())
    import hashlib

    leaf_hash = hashlib.sha256(b"\x00" + leaf.read_bytes()).hexdigest()
    env = {"PATH": os.environ["PATH"]}
    run = [sys.executable, "-c", "import sys; sys.modules['django'] = None; import runpy; "
           "runpy.run_path('verify_checkpoint.py', run_name='__main__')"]
    ok = subprocess.run([*run, str(cp), str(pub), "--proof", str(proof), "--leaf-hash", leaf_hash],
                        cwd=standalone, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr + ok.stdout
    tampered = tmp_path / "tampered.checkpoint"
    lines = cp.read_text().splitlines(keepends=True)
    lines[1] = "99\n"
    tampered.write_text("".join(lines))
    bad = subprocess.run([*run, str(tampered), str(pub)], cwd=standalone, env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    wrong_leaf = subprocess.run([*run, str(cp), str(pub), "--proof", str(proof), "--leaf-hash", "00" * 32],
                                cwd=standalone, env=env, capture_output=True, text=True)
    assert wrong_leaf.returncode == 1


def test_verify_passes_on_a_100000_entry_archive_and_names_a_tampered_entry(cli: Cli) -> None:
    cli.init()
    script = (
        "import django; django.setup()\n"
        "from django.db import transaction\n"
        "from onfile.ledger.log import NewEntry, append_many\n"
        "from onfile.ledger.actions import do_capture\n"
        "for start in range(0, 100000, 10000):\n"
        "    with transaction.atomic():\n"
        "        append_many([NewEntry('access.view', 'user:1', f'conversation:{i}', {'i': i})"
        " for i in range(start, start + 10000)])\n"
        "for i in range(20):\n"
        "    do_capture(b'payload %d' % i, kind='capture.raw', actor='test')\n"
    )
    env = {**cli.env, "DJANGO_SETTINGS_MODULE": "onfile.settings"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    cli.run("checkpoint")
    report = json.loads(cli.run("verify", "--json").stdout)
    assert report["ok"] and report["entries"] == 100_022 and report["blobs"] == 21
    tamper = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "c = connection.cursor()\n"
        "if connection.vendor == 'sqlite':\n"
        "    c.execute('DROP TRIGGER ledger_entry_no_update')\n"
        "else:\n"
        "    c.execute('ALTER TABLE ledger_entry DISABLE TRIGGER USER')\n"
        "c.execute(\"UPDATE ledger_entry SET subject = 'conversation:x' WHERE seq = 54321\")\n"
    )
    subprocess.run([sys.executable, "-c", tamper], env=env, check=True, timeout=60)
    failed = cli.run("verify", check=False)
    assert failed.returncode == 1
    assert "first bad entry 54321" in failed.stdout
    assert "entry 54321: its content does not match its leaf hash" in failed.stdout


def test_a_data_dir_that_is_a_file_is_refused(cli: Cli) -> None:
    cli.data_dir.parent.mkdir(parents=True, exist_ok=True)
    cli.data_dir.write_text("not a directory")
    proc = cli.run("init", "--generate-password", check=False)
    assert proc.returncode != 0
    assert "not a directory" in proc.stderr
    assert cli.data_dir.read_text() == "not a directory"


@pytest.mark.skipif(not ON_SQLITE, reason="a corrupt SQLite file")
def test_a_corrupt_database_file_is_refused_and_nothing_is_created(cli: Cli) -> None:
    cli.data_dir.mkdir(parents=True)
    (cli.data_dir / "onfile.sqlite3").write_bytes(b"this is not a database" * 100)
    proc = cli.run("init", "--generate-password", check=False)
    assert proc.returncode != 0
    assert "cannot be read" in proc.stderr and "corrupt" in proc.stderr
    assert not (cli.data_dir / "keys").exists()
    assert (cli.data_dir / "onfile.sqlite3").read_bytes() == b"this is not a database" * 100


def test_the_wrong_master_key_is_refused_and_changes_nothing(cli: Cli) -> None:
    cli.init()
    wrong = {"ONFILE_MASTER_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
    before = json.loads(cli.run("status", "--json").stdout)["ledger"]["entries"]
    proc = cli.run("init", check=False, extra_env=wrong)
    assert proc.returncode != 0 and "wrong master key" in proc.stderr
    proc = cli.run("verify", "--no-record", check=False, extra_env=wrong)
    assert proc.returncode == 1 and "is not the one this archive was created with" in proc.stdout
    assert json.loads(cli.run("status", "--json").stdout)["ledger"]["entries"] == before
    assert cli.run("verify").returncode == 0


def test_a_missing_master_key_for_an_existing_archive_is_not_replaced(cli: Cli) -> None:
    cli.init()
    key = cli.data_dir / "keys" / "master.key"
    saved = key.read_bytes()
    key.unlink()
    proc = cli.run("init", check=False)
    assert proc.returncode != 0 and "restore it from your key backup" in proc.stderr
    assert not key.exists()
    key.write_bytes(saved)
    key.chmod(0o600)


def _mount_read_only(path: Path) -> bool:
    if os.geteuid() != 0:
        path.chmod(0o500)
        return True
    return subprocess.run(["mount", "--bind", "-o", "ro", str(path), str(path)], capture_output=True).returncode == 0


def _unmount(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["umount", str(path)], check=False)
    else:
        path.chmod(0o700)


def test_a_read_only_disk_gives_a_clear_error_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.init()
    before = json.loads(cli.run("status", "--json").stdout)["ledger"]["entries"]
    if not _mount_read_only(cli.data_dir):
        pytest.skip("cannot make a read-only mount here")
    try:
        for args in (["checkpoint", "--force"], ["init"]):
            proc = cli.run(*args, check=False)
            assert proc.returncode != 0, args
            assert "Traceback" not in proc.stderr, proc.stderr
            assert "read-only" in proc.stderr.lower() or "not writable" in proc.stderr or "readonly" in proc.stderr
    finally:
        _unmount(cli.data_dir)
    assert json.loads(cli.run("status", "--json").stdout)["ledger"]["entries"] == before
    assert cli.run("verify").returncode == 0


def test_a_fresh_data_dir_on_a_read_only_disk_is_refused(cli: Cli, tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    if not _mount_read_only(parent):
        pytest.skip("cannot make a read-only mount here")
    try:
        proc = cli.run("init", "--generate-password", check=False,
                       extra_env={"ONFILE_DATA_DIR": str(parent / "data")})
    finally:
        _unmount(parent)
    assert proc.returncode != 0 and "not writable" in proc.stderr


def test_import_then_export_as_a_user_would(cli: Cli, tmp_path: Path) -> None:
    cli.init()
    export = tmp_path / "WhatsApp Chat with Alice.txt"
    export.write_text("12/01/2024, 09:16 - Alice: Hello\nsecond line\n13/01/2024, 10:00 - Bob: Sure\n"
                      "13/01/2024, 10:01 - Alice: <Media omitted>\n")
    summary = json.loads(cli.run("import", str(export), "--me", "Bob", "--tz", "Europe/London", "--json").stdout)
    assert summary["messages_added"] == 3 and summary["placeholders"] == 1
    again = json.loads(cli.run("import", str(export), "--me", "Bob", "--tz", "Europe/London", "--json").stdout)
    assert again["already_imported"] and again["messages_added"] == 0
    [conversation] = json.loads(cli.run("conversations", "--json").stdout)
    assert conversation["source"] == "device" and conversation["messages"] == 3
    lines = cli.run("export", "--conversation", str(conversation["id"]), "--format", "jsonl",
                    "--as", "admin@firm.example").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["direction"] for r in records] == ["in", "out", "in"]
    assert records[0]["text"] == "Hello\nsecond line" and records[0]["timestamp"] == "2024-01-12T09:16:00Z"
    bad = tmp_path / "minutes.txt"
    bad.write_text("Minutes of the meeting\n")
    proc = cli.run("import", str(bad), check=False)
    assert proc.returncode == 1 and "not a WhatsApp chat export" in proc.stderr
    assert cli.run("verify").returncode == 0
    status = json.loads(cli.run("status", "--json").stdout)
    assert status["counts"]["messages"] == 3 and status["counts"]["conversations_by_source"] == {"device": 1}
    missing = cli.run("export", "--conversation", "999999", "--as", "admin@firm.example", check=False)
    assert missing.returncode == 1 and "no conversation 999999" in missing.stderr
