"""Bulk loading for the seeder: COPY on PostgreSQL, Core `insert()` executemany on SQLite.

Rows arrive as tuples in a declared column order. Values are plain Python (aware datetimes,
dates, dicts for JSON columns); each backend turns them into what its driver expects.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, text
from sqlalchemy.exc import DBAPIError

Row = tuple[Any, ...]


@dataclass
class TableStats:
    rows: int = 0
    seconds: float = 0.0


@dataclass
class BulkWriter:
    """Writes batches of rows through one connection and keeps rows and seconds per table."""

    engine: Engine
    stats: dict[str, TableStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.postgresql = self.engine.dialect.name == "postgresql"
        self.connection: Connection = self.engine.connect()
        if self.postgresql:
            # A bulk load: no need to wait for the WAL flush of every batch.
            self.connection.execute(text("SET synchronous_commit = off"))
            self.connection.commit()
            try:  # skip foreign-key triggers: the seeder writes parents first (superuser only)
                self.connection.execute(text("SET session_replication_role = replica"))
            except DBAPIError:
                self.connection.rollback()
        else:
            self.connection.exec_driver_sql("PRAGMA synchronous = OFF")
            self.connection.exec_driver_sql("PRAGMA foreign_keys = OFF")  # as on PostgreSQL
            self.connection.exec_driver_sql("PRAGMA cache_size = -262144")  # 256 MiB
        self.connection.commit()

    def write(self, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        started = time.perf_counter()
        if self.postgresql:
            self._copy(table, columns, rows)
        else:
            self.connection.execute(
                insert(table), [dict(zip(columns, row, strict=True)) for row in rows]
            )
            self.connection.commit()
        entry = self.stats.setdefault(table.name, TableStats())
        entry.rows += len(rows)
        entry.seconds += time.perf_counter() - started

    def _copy(self, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        json_columns = [
            i for i, name in enumerate(columns) if table.c[name].type.__visit_name__ == "JSON"
        ]
        proxied = self.connection.connection  # the pooled DBAPI connection under this Connection
        raw = proxied.driver_connection
        assert raw is not None
        names = ", ".join(f'"{name}"' for name in columns)
        with (
            raw.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
        ):
            if json_columns:
                for row in rows:
                    values = list(row)
                    for i in json_columns:
                        values[i] = json.dumps(values[i])
                    copy.write_row(values)
            else:
                for row in rows:
                    copy.write_row(row)
        # COPY ran on the driver connection, outside SQLAlchemy's view: commit it there too.
        proxied.commit()

    def execute(self, sql: str) -> None:
        self.connection.execute(text(sql))
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()
