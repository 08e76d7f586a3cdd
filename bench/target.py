"""Where the benchmark runs: a scratch SQLite file, a scratch PostgreSQL database, or --url."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bank.config import normalize_database_url

POSTGRES_ENV = ("DOJO_BENCH_POSTGRES_URL", "DOJO_TEST_POSTGRES_URL")


class TargetError(Exception):
    """The benchmark cannot get a database; the message says what to set."""


@dataclass(frozen=True)
class Target:
    backend: str  # "sqlite" or "postgresql"
    url: str
    scratch: bool  # created by this run (and dropped after it unless kept)


def _admin_url() -> str:
    for name in POSTGRES_ENV:
        value = os.environ.get(name)
        if value:
            return normalize_database_url(value)
    raise TargetError(
        "PostgreSQL needs --url DATABASE_URL, or an admin URL in "
        + " or ".join(POSTGRES_ENV)
        + " (e.g. `export DOJO_BENCH_POSTGRES_URL=$(.ci/start-postgres /tmp/dojo-pg)`)"
    )


def _postgres_admin(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@contextmanager
def open_target(backend: str, url: str | None, keep: bool) -> Iterator[Target]:
    """Yield the database to benchmark; a scratch one is removed afterwards unless `keep`."""
    if url is not None:
        normalized = normalize_database_url(url)
        if make_url(normalized).get_backend_name() != backend:
            raise TargetError(f"--url is not a {backend} URL: {url}")
        yield Target(backend, normalized, scratch=False)
        return
    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="dojo-bench-"))
        try:
            yield Target(backend, f"sqlite:///{directory / 'bench.db'}", scratch=True)
        finally:
            if keep:
                print(f"kept the SQLite database: {directory / 'bench.db'}")
            else:
                shutil.rmtree(directory, ignore_errors=True)
        return
    admin = _admin_url()
    name = f"dojo_bench_{uuid.uuid4().hex[:8]}"
    _postgres_admin(admin, f'CREATE DATABASE "{name}"')
    scratch_url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        yield Target(backend, scratch_url, scratch=True)
    finally:
        if keep:
            print(f"kept the PostgreSQL database: {name}")
        else:
            _postgres_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
