"""A bot process killed with SIGKILL at several points of a scripted day, then restarted.

Kill points include the middle of the daily fan-out (after the first of six channels got its
question), between phases and right after votes. Afterwards every daily question, reminder and
result notice appeared exactly once in the chat (0 lost, 0 doubled: the counts are printed), and
every vote the bot acknowledged is stored. Posts are keyed in the deliveries ledger and the
console keeps a journal of keyed posts (its message history), so a post cut off by the kill is
looked up, not repeated; a reminder or result claimed before the kill is sent after the restart.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bank.catalog import ensure_builtin_bank
from bank.db import Database
from bank.models import Channel, DailyPrompt, Member
from bot import migrate
from bot.adapters.console import WORKSPACE
from bot.port import Actor, Command, Place
from scoring.models import Vote
from tests.support import DOJO_COMMAND, Harness

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CHANNELS = ["general", "ml-east", "ml-west", "ml-north", "ml-south", "ml-lab"]
DAY = [
    "~ +1h",  # 09:00: the fan-out to six channels
    "carol #daily: my answer",
    "alice: /mlsd mock recsys @bob",
    "~ +7m",
    "~ +1m",
    "bob: /mlsd next #1",
    "~ +9m",
    "~ +1m",
    "bob: /mlsd next #1",
    "~ +19m",
    "~ +1m",
    "bob: /mlsd next #1",
    "~ +6m",
    "~ +1m",
    "bob: /mlsd next #1",
    "bob: /mlsd vote #1 3 3 3 3 3 3 hire",
    "carol: /mlsd vote #1 2 2 2 2 2 2 lean-no",
    "dave: /mlsd vote #1 4 4 4 4 4 4 lean-hire",
    "~ +1d",  # the next morning's fan-out
]
# (line index after which to kill, output fragment to wait for before the kill)
KILLS = [
    (0, "Daily question:"),
    (5, "Phase 2/4"),
    (13, "time is up for Trade-offs"),
    (16, "vote is in"),
]
_ADVANCE = re.compile(r"^~ \+(\d+)([mhd])$")


def _clock_after(lines: list[str]) -> datetime:
    at = T0
    for line in lines:
        match = _ADVANCE.match(line)
        if match:
            amount, unit = int(match.group(1)), match.group(2)
            at += {
                "m": timedelta(minutes=amount),
                "h": timedelta(hours=amount),
                "d": timedelta(days=amount),
            }[unit]
    return at


class Process:
    def __init__(self, url: str, start: datetime, cwd: Path) -> None:
        self.popen = subprocess.Popen(
            [
                *DOJO_COMMAND,
                "run",
                "--platform",
                "console",
                "--admins",
                "lead",
                "--start",
                start.strftime("%Y-%m-%dT%H:%M:%S"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, "DATABASE_URL": url, "DOJO_LOG_LEVEL": "ERROR"},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def wait_for(self, fragment: str) -> None:
        while True:
            try:
                line = self.lines.get(timeout=60)
            except queue.Empty:
                raise AssertionError(f"no {fragment!r} in: {''.join(self.output)}") from None
            assert line is not None, f"exited before printing {fragment!r}"
            self.output.append(line)
            if fragment in line:
                return

    def kill(self) -> str:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)
        while (line := self.lines.get(timeout=30)) is not None:
            self.output.append(line)
        return "".join(self.output)

    def finish(self) -> str:
        assert self.popen.stdin is not None
        self.popen.stdin.close()
        assert self.popen.wait(timeout=60) == 0
        return self.kill()


@pytest.mark.slow
def test_sigkill_at_points_of_a_scripted_day(
    backend: str, database_url_factory, tmp_path: Path
) -> None:
    url = database_url_factory(backend)
    db = Database(url)
    migrate.upgrade(db)
    with db.unit_of_work() as session:
        ensure_builtin_bank(session)
    setup = Harness(db, tmp_path, start=T0, admins=("lead",))
    for channel in CHANNELS:
        setup.dojo.handle_command(_schedule(setup, channel))
    transcripts: list[str] = []
    position = 0
    for stop_after, fragment in [*KILLS, (len(DAY) - 1, "")]:
        process = Process(url, _clock_after(DAY[:position]), tmp_path)
        for line in DAY[position : stop_after + 1]:
            process.send(line)
        if fragment:
            process.wait_for(fragment)
            transcripts.append(process.kill())
        else:
            transcripts.append(process.finish())
        position = stop_after + 1
    everything = "".join(transcripts)

    with db.unit_of_work() as session:
        days = session.execute(
            select(
                Channel.external_id, func.count(DailyPrompt.id), func.count(DailyPrompt.posted_at)
            )
            .join(DailyPrompt, DailyPrompt.channel_id == Channel.id)
            .group_by(Channel.external_id)
        ).all()
        voters = set(
            session.scalars(select(Member.external_id).join(Vote, Vote.voter_id == Member.id))
        )
    assert sorted(days) == [(c, 2, 2) for c in sorted(CHANNELS)], "two days, once each, posted"
    counts = exactly_once_counts(everything)
    print("exactly-once counts (expected, seen):", counts)
    lost = sum(max(0, want - seen) for want, seen in counts.values())
    doubled = sum(max(0, seen - want) for want, seen in counts.values())
    print(f"lost: {lost}, doubled: {doubled}")
    assert (lost, doubled) == (0, 0), counts
    acknowledged = {
        name
        for name in ("bob", "carol", "dave")
        if f"dojo → {name} (only {name} sees this): Thanks! Your vote" in everything
    }
    assert acknowledged and acknowledged <= voters
    db.dispose()


def exactly_once_counts(transcript: str) -> dict[str, tuple[int, int]]:
    """(expected, seen) for every message of the scripted day that must appear exactly once."""
    counts = {"daily question": (2 * len(CHANNELS), transcript.count("dojo: Daily question:"))}
    for reminder in ("one minute left in", "time is up for"):
        for phase in ("Clarify", "Architecture", "Deep dive", "Trade-offs"):
            counts[f"{reminder} {phase}"] = (1, transcript.count(f"{reminder} {phase}"))
    counts["result (candidate)"] = (1, transcript.count("Your result for mock #1"))
    counts["result notice (thread)"] = (1, transcript.count("Mock #1: results are in"))
    return counts


def _schedule(harness: Harness, channel: str) -> Command:
    return Command.from_text(
        "schedule 09:00 UTC daily", Actor(WORKSPACE, "lead", "lead", True), Place(channel)
    )
