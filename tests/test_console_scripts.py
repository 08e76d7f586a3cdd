"""Whole journeys as console scripts: the shipped examples, run as a user would run them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bank.db import Database
from tests.support import DOJO_COMMAND, Harness

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_script(name: str, tmp_path: Path, *args: str) -> str:
    result = subprocess.run(
        [
            *DOJO_COMMAND,
            "run",
            "--platform",
            "console",
            *args,
        ],
        input=(EXAMPLES / name).read_text(),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'dojo.db'}",
            "DOJO_LOG_LEVEL": "WARNING",
            "PATH": "/usr/bin:/bin",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout, "no colour codes when stdout is not a terminal"
    return result.stdout


def assert_in_order(text: str, *fragments: str) -> None:
    position = 0
    for fragment in fragments:
        found = text.find(fragment, position)
        assert found >= 0, f"{fragment!r} missing (or out of order) after position {position}"
        position = found + len(fragment)


def test_full_mock_script(tmp_path: Path) -> None:
    out = run_script(
        "full-mock.txt", tmp_path, "--admins", "alice", "--start", "2026-03-02T10:00:00"
    )
    assert_in_order(
        out,
        "Mock #1 · ",
        "Phase 1/4 · Clarify (8 min)",
        "dojo → bob (only bob sees this): Interviewer kit · mock #1 · Clarify",
        "carol joined mock #1",
        "one minute left in Clarify",
        "time is up for Clarify",
        "Phase 2/4 · Architecture",
        "paused with 10 min left",
        "resumed: 10 min left",
        "extended by 3 min: 13 min left",
        "dojo → dave (only dave sees this): only the candidate",
        "Phase 3/4 · Deep dive",
        "one minute left in Deep dive",
        "Phase 4/4 · Trade-offs",
        "time is up for Trade-offs",
        "Mock #1 is over (all four phases done)",
        "Clarify: 8 min of 8 min",
        "Score this mock",
        "you cannot score your own mock",
        "Your result for mock #1",
        "results are in",
        "Leaderboard · this week",
        "Progress · alice",
        "image saved:",
    )
    # each reminder exactly once
    assert out.count("one minute left in Clarify") == 1
    assert out.count("time is up for Clarify") == 1
    assert len(list((tmp_path / "dojo-output").glob("*.png"))) == 2


def test_daily_round_script(tmp_path: Path) -> None:
    out = run_script(
        "daily-round.txt", tmp_path, "--admins", "lead", "--start", "2026-03-27T07:30:00"
    )
    assert_in_order(
        out,
        "Scheduled: daily question at 09:00 Europe/Berlin",
        "Next one: Fri 27 Mar 09:00 Europe/Berlin",
        "Daily question:",
        "Fri 27 Mar",
        "Daily question:",
        "Daily question:",
        "Leaderboard · this week",
        "Progress · carol",
        "streak 3",
    )
    assert out.count("dojo: Daily question:") == 3
    standings = dict(re.findall(r"\d+\. (\w+) — (\d+) pts", out))
    assert standings == {"carol": "30", "dave": "10"}, "three answers by carol, one by dave"


@pytest.mark.parametrize("script", ["full-mock.txt", "daily-round.txt"])
def test_scripts_run_in_process_on_both_databases(
    bank_db: Database, tmp_path: Path, script: str
) -> None:
    """The same scripts through the console channel in-process, on SQLite and PostgreSQL."""
    from datetime import UTC, datetime

    start = (
        datetime(2026, 3, 2, 10, tzinfo=UTC)
        if script == "full-mock.txt"
        else datetime(2026, 3, 27, 7, 30, tzinfo=UTC)
    )
    admins = ("alice",) if script == "full-mock.txt" else ("lead",)
    harness = Harness(bank_db, tmp_path, start=start, admins=admins)
    out = harness.feed(*(EXAMPLES / script).read_text().splitlines())
    if script == "full-mock.txt":
        assert "Mock #1 is over (all four phases done)" in out
        assert "Your result for mock #1" in out
    else:
        assert out.count("dojo: Daily question:") == 3
        assert "streak 3" in out
