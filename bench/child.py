"""A bot process of its own: start-up to ready, then the leaderboard, with its memory after each.

`DATABASE_URL=… python -m bench.child WORKSPACE MEMBER NAME CHANNEL` imports what `dojo` imports,
opens the database (migrations at head, bank present), builds the Dojo on the console port,
catches up (`recover`), and prints one JSON line `{"event": "ready", …}`; then it answers
`/mlsd leaderboard week|month|all` as that member and prints `{"event": "leaderboard", …}`.
Resident memory comes from /proc/self/status (VmRSS now, VmHWM peak). The parent times the first
line from the start of the process.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()


def memory() -> dict[str, int]:
    """VmRSS and VmHWM in KiB (Linux); the peak from getrusage elsewhere."""
    status = Path("/proc/self/status")
    if status.exists():
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        return {
            "rss_kib": int(fields["VmRSS"].split()[0]),
            "peak_kib": int(fields["VmHWM"].split()[0]),
        }
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rss_kib": peak, "peak_kib": peak}


def main(workspace: str, member: str, name: str, channel: str) -> None:
    from rich.console import Console

    import bot.cli  # noqa: F401  (everything the `dojo` command imports)
    from bench.scale import NOW, PLATFORM, QUIET, SEED
    from bot.adapters.console import ConsolePort
    from bot.app import open_database
    from bot.clock import ManualClock
    from bot.config import Settings
    from bot.engine import Dojo
    from bot.port import Actor, Command, Place

    imported = time.perf_counter()
    with open(os.devnull, "w") as null, tempfile.TemporaryDirectory() as out:
        db = open_database(Settings())  # DATABASE_URL, as `dojo run` reads it
        port = ConsolePort(Console(file=null, width=200), Path(out))
        clock = ManualClock(start=QUIET)
        dojo = Dojo(db, port, clock, platform=PLATFORM, seed=SEED)
        caught_up = dojo.recover()
        ready = time.perf_counter()
        print(
            json.dumps(
                {
                    "event": "ready",
                    "imports_s": imported - STARTED,
                    "ready_s": ready - STARTED,
                    "caught_up": caught_up,
                    **memory(),
                }
            ),
            flush=True,
        )
        clock.advance(NOW - QUIET)
        actor = Actor(workspace, member, name)
        took: dict[str, float] = {}
        for period in ("week", "month", "all"):
            started = time.perf_counter()
            reply = dojo.handle_command(
                Command.from_text(f"leaderboard {period}", actor, Place(channel))
            )
            took[period] = time.perf_counter() - started
            assert reply is not None and "Leaderboard" in reply.message.title, reply
        print(json.dumps({"event": "leaderboard", "seconds": took, **memory()}), flush=True)
        db.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:5])
