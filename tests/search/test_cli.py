"""``onfile search`` as people run it: a real process against a fresh archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import Cli
from tests.search.conftest import LEASE

pytestmark = pytest.mark.cli


@pytest.fixture
def imported(cli: Cli, tmp_path: Path) -> Cli:
    cli.init()
    chat = tmp_path / "WhatsApp Chat with Alice Smith.txt"
    chat.write_text(LEASE, encoding="utf-8")
    cli.run("import", str(chat), "--tz", "UTC", "--me", "Bob Solicitor", "--json")
    return cli


def test_search_prints_hits_as_json_and_as_text(imported: Cli) -> None:
    out = json.loads(imported.run("search", "lease OR deposit", "--as", "admin@firm.example", "--json").stdout)
    assert out["total"] == 2 and out["total_is_exact"] and not out["has_next"]
    assert [h["snippet"] for h in out["hits"]] == ["The [[deposit]] of £25,000 is due on completion",
                                                   "Hello, I have a question about the [[lease]] it is about clause 4"]
    first = out["hits"][0]
    assert first["sent_at"] == "2024-01-16T08:30:00+00:00" and first["direction"] == "out"
    assert isinstance(first["conversation_id"], int) and isinstance(first["message_id"], int)
    assert first["snippet_html"] == "The <mark>deposit</mark> of £25,000 is due on completion"
    text = imported.run("search", "lease OR deposit", "--as", "ADMIN@firm.example", "--direction", "in").stdout
    assert "1 messages" in text and "[[lease]]" in text and "deposit" not in text
    paged = json.loads(imported.run("search", "the", "--as", "admin@firm.example", "--json", "--from", "2024-01-13",
                                    "--to", "2024-01-16", "--per-page", "1", "--page", "2").stdout)
    assert paged["page"] == 2 and paged["has_next"] and len(paged["hits"]) == 1


def test_bad_input_is_a_clear_error_and_a_non_zero_exit(imported: Cli) -> None:
    cases = [
        (["search", "AND OR", "--as", "admin@firm.example"], "nothing to search for"),
        (["search", "NEAR(", "--as", "admin@firm.example"], "NEAR is not supported"),
        (["search", "lease", "--as", "ghost@firm.example"], "no active user"),
        (["search", "lease", "--as", "admin@firm.example", "--from", "2024-13-01"], "is not a date"),
        (["search", "lease", "--as", "admin@firm.example", "--number", "999"], "no firm number"),
        (["search", "lease", "--as", "admin@firm.example", "--staff", "ghost@firm.example"], "no staff member"),
        (["search", "lease", "--as", "admin@firm.example", "--per-page", "500"], "per page"),
    ]
    for args, message in cases:
        proc = imported.run(*args, check=False)
        assert proc.returncode != 0, args
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_search_is_listed_in_the_help(cli: Cli) -> None:
    assert "  search " in cli.run("--help").stdout
    assert "--as EMAIL" in cli.run("search", "--help").stdout
