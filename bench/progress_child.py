"""A bot process of its own that answers `/mlsd progress` once, for its time and peak memory.

`DATABASE_URL=… python -m bench.progress_child WORKSPACE MEMBER NAME CHANNEL` starts as `dojo`
does, answers `/mlsd progress` as that member (data and both charts, first drawing) and prints one
JSON line: the seconds the command took and VmRSS/VmHWM (KiB) before and after it. matplotlib is
imported before the clock starts (a once-per-process cost, as after any earlier chart).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.child import memory


def main(workspace: str, member: str, name: str, channel: str) -> None:
    from rich.console import Console

    import bot.cli  # noqa: F401  (everything the `dojo` command imports)
    from bench.scale import NOW, PLATFORM, SEED
    from bot.adapters.console import ConsolePort
    from bot.app import open_database
    from bot.clock import ManualClock
    from bot.config import Settings
    from bot.engine import Dojo
    from bot.port import Actor, Command, Place
    from scoring import charts  # noqa: F401  (matplotlib: loaded once per process, not timed)

    with open(os.devnull, "w") as null, tempfile.TemporaryDirectory() as out:
        db = open_database(Settings())
        port = ConsolePort(Console(file=null, width=200), Path(out))
        dojo = Dojo(db, port, ManualClock(start=NOW), platform=PLATFORM, seed=SEED)
        before = memory()
        started = time.perf_counter()
        reply = dojo.handle_command(
            Command.from_text("progress", Actor(workspace, member, name), Place(channel))
        )
        took = time.perf_counter() - started
        assert reply is not None and len(reply.message.images) == 2, reply
        after = memory()
        print(json.dumps({"seconds": took, "before": before, "after": after}), flush=True)
        db.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:5])
