"""Start-up wiring shared by every command: settings → database at head → built-in bank loaded."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import text

from bank.catalog import ensure_builtin_bank
from bank.db import Database
from bot import migrate
from bot.config import Settings
from bot.workqueue import FORM_WORKERS
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
    pool = (
        {"pool_size": settings.dojo_workers + FORM_WORKERS + 2}
        if settings.database_url.startswith("postgres")
        else {}
    )
    db = Database(settings.database_url, **pool)  # one per core worker, the ticker, a spare
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


# token shapes redacted even when not configured here (a token pasted into a message, another
# workspace's token in a library's error text): Slack's xox?-/xapp- tokens, Discord bot tokens
TOKEN_PATTERNS = re.compile(
    r"\bxox[abposr]-[0-9A-Za-z-]{6,}|\bxapp-[0-9A-Za-z-]{6,}"
    r"|\b[MN][A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}"
)
REDACTED = "[redacted]"


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every configured secret and every token-shaped string replaced."""
    for secret in secrets:
        if len(secret) >= 6:
            text = text.replace(secret, REDACTED)
    return TOKEN_PATTERNS.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """Replaces secrets in every log record: the message, the formatted traceback (exception
    text included) and the stack, so a library logging a request, or an exception whose text
    quotes a token, cannot leak it whatever its own habits are."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            # the formatter uses exc_text as given instead of formatting exc_info itself
            formatted = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(formatted, self.secrets)
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
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
