"""Shared fixtures: a migrated database on SQLite and on PostgreSQL for every service test.

PostgreSQL comes from DOJO_TEST_POSTGRES_URL (`.ci/run` starts a throw-away server and sets it).
Without it the PostgreSQL leg is skipped with a reason, except under CI, where it must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bank.db import Database
from bank.orm import Base
from bot import migrate
from scoring import results, totals
from tests.bank_copy import BankCopy

POSTGRES_URL = os.environ.get("DOJO_TEST_POSTGRES_URL")
# CI explores the same examples on every run (a red CI must be reproducible); locally, hypothesis
# keeps exploring new ones and remembers failures in .hypothesis/.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
CI_MAX_EXAMPLES = 100


def examples(local: int) -> int:
    """A property's example count: `local` on a developer's machine, at most CI_MAX_EXAMPLES
    under CI. CI's examples are the same on every run (derandomized), so hundreds more of them
    find nothing new there; local runs keep exploring fresh ones at the full count."""
    return min(local, CI_MAX_EXAMPLES) if os.environ.get("CI") else local


BACKENDS = ["sqlite", "postgresql"]


def _fresh_postgres_database(admin_url: str) -> tuple[str, str]:
    # a new database per call, so pytest-xdist workers never share one; the worker's name
    # ("gw0", ...) in it says whose a leftover database was
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"dojo_test_{worker}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return name, url


def _drop_postgres_database(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def require_postgres() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail("CI must run the PostgreSQL tests: DOJO_TEST_POSTGRES_URL is not set")
    pytest.skip("PostgreSQL leg skipped: set DOJO_TEST_POSTGRES_URL (see README) to run it")


@pytest.fixture(scope="session")
def database_url_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Creates empty databases (a SQLite file or a new PostgreSQL database) and drops them after."""
    created: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / "dojo.db"
            return f"sqlite:///{path}"
        admin_url = require_postgres()
        name, url = _fresh_postgres_database(admin_url)
        created.append(name)
        return url

    yield make
    for name in created:
        assert POSTGRES_URL
        _drop_postgres_database(POSTGRES_URL, name)


@pytest.fixture(scope="session")
def _migrated(database_url_factory: object) -> Iterator[dict[str, Database]]:
    cache: dict[str, Database] = {}
    yield cache
    for db in cache.values():
        db.dispose()


# Every sequence back at its start, as TRUNCATE ... RESTART IDENTITY would leave it.
_RESTART_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false)"
    " FROM pg_sequences WHERE schemaname = current_schema()"
)


def _empty_all_tables(db: Database) -> None:
    """Deletes every row, children first. On PostgreSQL this is DELETE plus a sequence restart,
    not TRUNCATE: truncating 27 tables makes new files for each table and index (about 170 ms a
    test), while deleting the few rows a test left takes about 25 ms."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with db.engine.begin() as connection:
        for table in tables:
            connection.execute(table.delete())
        if db.is_postgresql:
            connection.execute(_RESTART_SEQUENCES)


@pytest.fixture(params=BACKENDS)
def db(
    request: pytest.FixtureRequest, _migrated: dict[str, Database], database_url_factory: object
) -> Iterator[Database]:
    """An empty database at the migrations' head, on SQLite and on PostgreSQL."""
    backend: str = request.param
    if backend not in _migrated:
        url = database_url_factory(backend)  # type: ignore[operator]
        database = Database(url)
        migrate.upgrade(database)
        _migrated[backend] = database
    database = _migrated[backend]
    _empty_all_tables(database)
    yield database
    check_totals(database)


def check_totals(db: Database) -> None:
    """After every test on a database: the running totals equal a recomputation from the ledger
    (every award and revision went through `scoring.ledger.award`), and the progress totals one
    from the stored results (every result went through `scoring.results.record_result`)."""
    with db.unit_of_work() as session:
        stored = totals.stored(session)
        assert stored == totals.recomputed(session), "running totals drifted from the ledger"
        progress = results.stored_progress(session)
        expected = results.recomputed_progress(session)
        assert progress.keys() == expected.keys(), "progress totals drifted from the results"
        for key, (total, count) in expected.items():
            assert progress[key][1] == count, key
            assert progress[key][0] == pytest.approx(total), key


@pytest.fixture(scope="session")
def _bank_copy() -> BankCopy:
    return BankCopy()


@pytest.fixture
def bank_db(db: Database, _bank_copy: BankCopy) -> Database:
    """`db` with the built-in question bank loaded (imported once per database, then copied)."""
    _bank_copy.load(db)
    return db


@pytest.fixture
def tmp_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dojo.db'}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name alone, for tests that build their own databases."""
    if request.param == "postgresql":
        require_postgres()
    return str(request.param)
