"""Start-up wiring shared by every command: settings → database at head → built-in bank loaded."""

from __future__ import annotations

import logging

from bank.catalog import ensure_builtin_bank
from bank.db import Database
from bot import migrate
from bot.config import Settings

log = logging.getLogger("dojo")


def open_database(settings: Settings, *, upgrade: bool = True) -> Database:
    """The database, migrated to head and holding at least the built-in bank."""
    db = Database(settings.database_url)
    if upgrade:
        migrate.upgrade(db)
        with db.unit_of_work() as session:
            report = ensure_builtin_bank(session)
        if report is not None:
            log.info("loaded the built-in question bank: %s", report.summary())
    return db


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.dojo_log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.dojo_log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
