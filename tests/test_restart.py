"""A bot process killed with SIGKILL mid-phase; a new process resumes the mock from the database."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from pathlib import Path

from tests.support import DOJO_COMMAND

DOJO = [
    *DOJO_COMMAND,
    "run",
    "--platform",
    "console",
    "--admins",
    "alice",
]


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "DOJO_LOG_LEVEL": "WARNING"}


def _wait_for(lines: queue.Queue[str | None], fragment: str, seen: list[str]) -> None:
    while True:
        line = lines.get(timeout=60)
        if line is None:
            raise AssertionError(f"process ended before printing {fragment!r}: {seen}")
        seen.append(line)
        if fragment in line:
            return


def test_sigkill_mid_phase_then_resume(backend: str, database_url_factory, tmp_path: Path) -> None:
    url = database_url_factory(backend)
    first = subprocess.Popen(
        [*DOJO, "--start", "2026-03-02T10:00:00"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(url),
        cwd=tmp_path,
    )
    assert first.stdin is not None and first.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert first.stdout is not None
        for line in first.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    first.stdin.write("alice: /mlsd mock recsys @bob\n~ +3m\nbob: [Next phase]\n~ +2m\n")
    first.stdin.write("alice #1: I would log impressions with their position.\n")
    first.stdin.flush()
    seen: list[str] = []
    _wait_for(lines, "Phase 2/4 · Architecture", seen)
    _wait_for(lines, "alice #1: I would log impressions", seen)
    first.send_signal(signal.SIGKILL)  # no clean shutdown: the process just vanishes
    first.wait(timeout=30)
    first_out = "".join(seen)
    assert "one minute left in Architecture" not in first_out

    # The new process starts 5 minutes after the mock began: Architecture (10 min) began at +3.
    script = (
        "\n".join(
            [
                "alice: /mlsd pause #1",  # shows the time left, computed from stored rows
                "alice: [Resume]",
                "~ +6m",
                "~ +1m",
                "~ +1m",
                "~ +5m",
                "bob: [Next phase]",
            ]
        )
        + "\n"
    )
    second = subprocess.run(
        [*DOJO, "--start", "2026-03-02T10:05:00"],
        input=script,
        capture_output=True,
        text=True,
        env=_env(url),
        cwd=tmp_path,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr
    out = second.stdout
    assert "paused with 8 min left in Architecture" in out
    assert out.count("one minute left in Architecture") == 1
    assert out.count("time is up for Architecture") == 1
    assert "Phase 3/4 · Deep dive" in out
    # the first process's Clarify reminders were never repeated by the second
    assert "Clarify" not in out.replace("Clarify is over", "")
