"""APScheduler wakes the bot; the database decides what is due (DESIGN.md §5).

With several processes on PostgreSQL only the holder of an advisory lock runs due work; the lock
lives on its own connection, so it is released the moment the leader dies and another process
takes over at its next tick. There is one lock per scope (platform, and Slack team): a Slack
process and a Discord process on one database each lead their own due work (DESIGN.md §10).
SQLite is single-process: that process always leads.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import zlib

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from bank.db import Database
from bank.scope import Scope
from bot.engine import Dojo

log = logging.getLogger("dojo.scheduler")
LOCK_KEY = 0x6D6C7364  # "mlsd": the first key of every scheduler lock


def scope_key(scope: Scope) -> int:
    """The second lock key: a stable signed 32-bit number for (platform, workspaces)."""
    workspaces = "*" if scope.workspaces is None else ",".join(sorted(scope.workspaces))
    key = zlib.crc32(f"{scope.platform}:{workspaces}".encode())
    return key - 2**32 if key >= 2**31 else key


class Leadership:
    """Holds (or tries to take) the scheduler lock of one scope; `is_leader()` is cheap to call
    every tick."""

    def __init__(self, db: Database, scope: Scope) -> None:
        self.db = db
        self.key = scope_key(scope)
        self._connection: Connection | None = None

    def is_leader(self) -> bool:
        if not self.db.is_postgresql:
            return True
        try:
            if self._connection is not None:
                self._connection.execute(text("SELECT 1"))
                return True
            # autocommit: the session lock must not sit in an open (and killable) transaction
            connection = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:k, :s)"), {"k": LOCK_KEY, "s": self.key}
            )
            if taken.scalar():
                self._connection = connection
                log.info("this process now runs the scheduler")
                return True
            connection.close()
        except DBAPIError:
            log.warning("lost the database connection; leadership released")
            self.release()
        return False

    def release(self) -> None:
        """Give the lock up: unlocked first, since closing only returns the connection (and a
        session lock with it) to the pool."""
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:k, :s)"), {"k": LOCK_KEY, "s": self.key}
                )
            with contextlib.suppress(DBAPIError):
                self._connection.close()
            self._connection = None


class Ticker:
    """Runs `Dojo.run_due` every `interval` seconds while this process leads."""

    def __init__(self, dojo: Dojo, interval: float = 5.0) -> None:
        self.dojo = dojo
        self.leadership = Leadership(dojo.db, dojo.ctx.scope)
        self.interval = interval
        self._scheduler = BackgroundScheduler()
        self._lock = threading.Lock()
        self._leading = False

    def tick(self) -> dict[str, int] | None:
        """Due work if this process leads; on becoming leader, first catch up (recover)."""
        with self._lock:  # never two ticks at once in one process
            if not self.leadership.is_leader():
                self._leading = False
                return None
            try:
                if not self._leading:
                    done = self.dojo.recover()
                    self._leading = True
                    return done
                return self.dojo.run_due()
            except Exception:
                log.exception("due work failed; it will be retried at the next tick")
                return None

    def start(self) -> None:
        self.tick()
        self._scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.interval,
            max_instances=1,
            coalesce=True,
            id="due-work",
        )
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self.leadership.release()
