"""Start-up wiring shared by every command: settings → database at head → built-in bank loaded."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import text

from bank.catalog import ensure_builtin_bank
from bank.db import Database
from bot import migrate
from bot.config import Settings
from scoring.results import backfill

log = logging.getLogger("dojo")


STARTUP_LOCK = 0x646F6A6F  # "dojo"


@contextmanager
def startup_lock(db: Database) -> Iterator[None]:
    """Serialise migrations and the first bank load when several processes start at once."""
    if not db.is_postgresql:
        yield
        return
    with db.engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": STARTUP_LOCK})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": STARTUP_LOCK})
            connection.commit()


def open_database(settings: Settings, *, upgrade: bool = True) -> Database:
    """The database, migrated to head and holding at least the built-in bank."""
    db = Database(settings.database_url)
    if upgrade:
        with startup_lock(db):
            migrate.upgrade(db)
            with db.unit_of_work() as session:
                report = ensure_builtin_bank(session)
            with db.unit_of_work() as session:
                filled = backfill(session, datetime.now(UTC))
        if filled is not None:
            log.info("filled %d leaderboard totals and %d stored mock results", *filled)
        if report is not None:
            log.info("loaded the built-in question bank: %s", report.summary())
    return db


class RedactSecrets(logging.Filter):
    """Replaces configured secret values in every log line: a library logging a request must
    not leak a token, whatever its own habits are."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "[redacted]")
            record.msg, record.args = message, ()
        return True


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.dojo_log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    redact = RedactSecrets(settings.secret_values())
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    if settings.dojo_log_level != "DEBUG":
        for noisy in ("alembic", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
