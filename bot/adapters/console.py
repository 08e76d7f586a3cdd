"""The local console channel (placeholder until the core lands): reads lines until end of input."""

from __future__ import annotations

import sys

from bank.db import Database


def run_console(db: Database, admins: list[str] | None = None, speed: float = 1.0) -> None:
    print("mlsd-dojo console: the database is ready. Type lines; Ctrl-D to quit.")
    try:
        for _line in sys.stdin:
            pass
    except KeyboardInterrupt:
        pass
    print("bye")
