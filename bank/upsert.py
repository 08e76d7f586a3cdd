"""Insert-if-absent that is safe under concurrency: the database's unique constraints decide.

Check-then-insert races when two workers handle the same event; `INSERT … ON CONFLICT DO NOTHING`
lets exactly one of them win, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bank.orm import Base


def insert_ignore(
    session: Session, model: type[Base], values: Mapping[str, Any], conflict: Sequence[str]
) -> bool:
    """Insert one row unless a row with the same `conflict` columns exists; True if inserted."""
    dialect = session.get_bind().dialect.name
    table = model.__table__
    assert isinstance(table, Table)
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(**values)
        statement: Any = pg.on_conflict_do_nothing(index_elements=list(conflict))
    elif dialect == "sqlite":
        lite = sqlite.insert(table).values(**values)
        statement = lite.on_conflict_do_nothing(index_elements=list(conflict))
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(dialect)
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return result.rowcount == 1
