"""The schema comes only from Alembic, round-trips on both databases, and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bank.db import Database
from bank.orm import Base
from bot import migrate


def _fresh(database_url_factory, backend: str) -> Database:
    return Database(database_url_factory(backend))


def test_upgrade_downgrade_upgrade(database_url_factory, backend: str) -> None:
    db = _fresh(database_url_factory, backend)
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision(db)
    assert {"questions", "votes", "points_ledger", "interviews"} <= set(
        inspect(db.engine).get_table_names()
    )
    migrate.downgrade(db, "base")
    assert migrate.current_revision(db) is None
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision(db)
    db.dispose()


def test_models_and_migrations_do_not_drift(db: Database) -> None:
    with db.engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert diff == [], f"models and migrations differ; write a migration: {diff}"
