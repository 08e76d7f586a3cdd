"""APScheduler wakes the bot; the database decides what is due (DESIGN.md §5).

With several processes on PostgreSQL only the holder of an advisory lock runs due work; the lock
lives on its own connection, so it is released the moment the leader dies and another process
takes over at its next tick. SQLite is single-process: that process always leads.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from bank.db import Database
from bot.engine import Dojo

log = logging.getLogger("dojo.scheduler")
LOCK_KEY = 0x6D6C7364  # "mlsd"


class Leadership:
    """Holds (or tries to take) the scheduler lock; `is_leader()` is cheap to call every tick."""

    def __init__(self, db: Database) -> None:
        self.db = db
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
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})
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
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):
                self._connection.close()
            self._connection = None


class Ticker:
    """Runs `Dojo.run_due` every `interval` seconds while this process leads."""

    def __init__(self, dojo: Dojo, interval: float = 5.0) -> None:
        self.dojo = dojo
        self.leadership = Leadership(dojo.db)
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
