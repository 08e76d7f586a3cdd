"""The built-in bank for a test's empty database, imported for real once per database and then
copied in as plain rows.

A real import parses every YAML file and compares every question with every other (MinHash), about
a second per test; hundreds of service tests start from the loaded bank, so they copy the rows the
first import wrote instead. The first import per database still goes through `ensure_builtin_bank`,
and `tests/test_bank_vocabulary.py` checks a full import on its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, insert, select

from bank.catalog import ensure_builtin_bank
from bank.db import Database
from bank.models import Family, Question
from bank.orm import Base

Row = dict[str, Any]


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _without_id(row: Row) -> Row:
    return {key: value for key, value in row.items() if key != "id"}


class BankCopy:
    """Families and questions as the first real import wrote them, per database URL."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[list[Row], list[Row]]] = {}

    def load(self, db: Database) -> None:
        """Give `db` (empty) the built-in bank: a real import the first time, a copy after."""
        if db.url in self._rows:
            self._copy_into(db)
            return
        with db.unit_of_work() as session:
            ensure_builtin_bank(session)
        self._rows[db.url] = self._read(db)

    @staticmethod
    def _read(db: Database) -> tuple[list[Row], list[Row]]:
        families, questions = _table(Family), _table(Question)
        with db.unit_of_work() as session:
            # the copy is only faithful if the import wrote nothing but these two tables
            for table in Base.metadata.sorted_tables:
                if table.name not in (families.name, questions.name):
                    count = session.scalar(select(func.count()).select_from(table))
                    assert count == 0, f"the bank import wrote to {table.name}; copy it too"
            slugs = {id_: slug for id_, slug in session.execute(select(Family.id, Family.slug))}
            family_rows = [dict(row) for row in session.execute(select(families)).mappings()]
            question_rows = [dict(row) for row in session.execute(select(questions)).mappings()]
        for row in question_rows:
            row["family_id"] = slugs[row["family_id"]]  # kept by slug: ids differ per database
        return family_rows, question_rows

    def _copy_into(self, db: Database) -> None:
        family_rows, question_rows = self._rows[db.url]
        with db.unit_of_work() as session:
            session.execute(insert(_table(Family)), [_without_id(row) for row in family_rows])
            ids = {slug: id_ for slug, id_ in session.execute(select(Family.slug, Family.id))}
            session.execute(
                insert(_table(Question)),
                [_without_id(row) | {"family_id": ids[row["family_id"]]} for row in question_rows],
            )
