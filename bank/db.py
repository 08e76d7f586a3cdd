"""Engine, sessions and the unit of work every service runs in.

A service function receives a `Session` from `Database.unit_of_work()`: it commits when the block
ends and rolls back on any exception, so a failed command leaves nothing half-written.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # in WAL mode NORMAL is the documented safe setting: a crash of the process loses nothing, and
    # a commit no longer waits for an fsync (only a power cut may undo the last commits)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_private_sqlite_file(url: str) -> None:
    """Create a new SQLite database file for the owner only (0600); SQLite gives its WAL and
    journal files the database file's mode. An existing file is left as it is."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return
    if os.path.isdir(os.path.dirname(path) or "."):
        with suppress(FileExistsError):  # another process may have created it a moment ago
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(url: str, **kwargs: Any) -> Engine:
    """SQLite gets WAL (readers never block the writer) and enforced foreign keys."""
    if url.startswith("sqlite"):
        create_private_sqlite_file(url)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # which process holds which connection (and the scheduler lock), as seen in pg_stat_activity
    kwargs.setdefault("connect_args", {}).setdefault("application_name", f"mlsd-dojo:{os.getpid()}")
    return create_engine(url, **kwargs)


class Database:
    """One engine and its session factory; cheap to pass around, one per process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
        # growing steps (its busy handler) even after the lock is free again: under a burst,
        # transactions waited seconds. Within a process they take turns here instead.
        self._turns: AbstractContextManager[Any] = (
            threading.RLock() if self.engine.dialect.name == "sqlite" else nullcontext()
        )

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error."""
        with self._turns, self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
