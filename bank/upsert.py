"""Insert-if-absent and upsert that are safe under concurrency: unique constraints decide.

Check-then-insert races when two workers handle the same event; `INSERT … ON CONFLICT` lets the
database settle it in one statement, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import CursorResult, Executable, Table, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bank.orm import Base


def _insert_statement(
    session: Session,
    model: type[Base],
    values: Mapping[str, Any],
    conflict: Sequence[str],
    update: Sequence[str],
) -> Any:
    table = model.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    insert: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = insert(table).values(**values)
    if update:
        return statement.on_conflict_do_update(
            index_elements=list(conflict),
            set_={name: statement.excluded[name] for name in update},
        )
    return statement.on_conflict_do_nothing(index_elements=list(conflict))


def affected_rows(session: Session, statement: Executable) -> int:
    """Run an INSERT/UPDATE/DELETE and say how many rows it touched (claims are built on this)."""
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount


def insert_ignore(
    session: Session, model: type[Base], values: Mapping[str, Any], conflict: Sequence[str]
) -> bool:
    """Insert one row unless a row with the same `conflict` columns exists; True if inserted.

    RETURNING tells reliably whether the row was written (rowcount does not, on every driver).
    """
    statement = _insert_statement(session, model, values, conflict, ())
    key = next(iter(inspect(model).primary_key))
    return session.execute(statement.returning(key)).first() is not None


def upsert(
    session: Session,
    model: type[Base],
    values: Mapping[str, Any],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert one row, or overwrite `update` columns of the row with the same `conflict` key."""
    session.execute(_insert_statement(session, model, values, conflict, update))
