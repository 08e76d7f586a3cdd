"""Two bot processes on one PostgreSQL database: one schedules, the other takes over on death."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bank.catalog import ensure_builtin_bank
from bank.db import Database
from bot import migrate
from tests.conftest import require_postgres
from tests.support import DOJO_COMMAND, Harness

T0 = datetime(2026, 3, 2, 8, 58, tzinfo=UTC)


class Bot:
    """A `dojo run` process with a running clock (60× real time) and its output collected."""

    def __init__(self, url: str, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [
                *DOJO_COMMAND,
                "run",
                "--platform",
                "console",
                "--start",
                T0.strftime("%Y-%m-%dT%H:%M:%S"),
                "--speed",
                "60",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, "DATABASE_URL": url, "DOJO_LOG_LEVEL": "WARNING"},
        )
        self.lines: list[str] = []
        self.ready: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            self.ready.put(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def wait_until(condition, seconds: float = 60) -> None:
    """Poll for an observable outcome (output of another process); fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


@pytest.mark.slow
def test_one_leader_and_failover(database_url_factory, tmp_path: Path) -> None:
    require_postgres()
    db = Database(database_url_factory("postgresql"))
    migrate.upgrade(db)
    with db.unit_of_work() as session:
        ensure_builtin_bank(session)
    setup = Harness(db, tmp_path, start=T0, admins=("lead",))
    setup.feed("lead: /mlsd schedule 09:00 UTC daily", "alice: /mlsd mock recsys @bob")
    db.dispose()

    bots = [Bot(db.url, tmp_path), Bot(db.url, tmp_path)]
    try:
        wait_until(lambda: any("Daily question:" in b.output for b in bots))
        leader = next(b for b in bots if "Daily question:" in b.output)
        follower = next(b for b in bots if b is not leader)
        leader.kill()  # before the mock's reminders are due (08:58 + 7 min)
        wait_until(lambda: "time is up for Clarify" in follower.output)
    finally:
        for bot in bots:
            if bot.process.poll() is None:
                bot.kill()
    combined = "".join(b.output for b in bots)
    assert combined.count("Daily question:") == 1
    assert combined.count("one minute left in Clarify") == 1
    assert combined.count("time is up for Clarify") == 1
    assert "one minute left in Clarify" in follower.output, "the survivor took over"
