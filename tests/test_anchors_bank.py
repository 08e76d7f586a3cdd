"""Bank format v2 in the database (SQLite and PostgreSQL): stored, exported, re-imported."""

from __future__ import annotations

from pathlib import Path

from bank.catalog import bank_stats, export_banks, get_question, import_banks, load_files
from bank.db import Database
from bank.files import dump_bank_file, parse_bank_text
from bank.schema import BankFile

V2_DIR = Path(__file__).parent / "fixtures" / "v2"
V2_SLUG = "churn-music-subscriptions"


def v2_banks() -> list[BankFile]:
    return load_files(V2_DIR)


def v1_bank() -> BankFile:
    """A format-v1 family of one question (strong signals, no anchors or kit)."""
    from tests.test_bank_files import question_dict

    question = question_dict("legacy-ledger-reconciliation")
    return BankFile.model_validate({"family": "legacy", "name": "Legacy", "questions": [question]})


def test_v2_round_trips_through_the_database(db: Database) -> None:
    banks = v2_banks()
    with db.unit_of_work() as session:
        assert import_banks(session, banks).added == [V2_SLUG]
    with db.unit_of_work() as session:
        row = get_question(session, V2_SLUG)
        assert row.difficulty is None and row.strong_signals is None
        assert row.anchors is not None and row.anchors["ml_depth"]["4"].startswith("Handles")
        exported = export_banks(session)
    assert [b.version for b in exported] == [2]
    assert exported[0].questions == banks[0].questions  # nothing dropped or changed
    text = dump_bank_file(exported[0])
    assert text.startswith("version: 2\n")
    again = parse_bank_text(text, Path("churn.yaml"))
    with db.unit_of_work() as session:
        report = import_banks(session, [again])
    assert report.unchanged == [V2_SLUG] and not report.updated


def test_a_v1_question_exports_as_version_1(db: Database) -> None:
    with db.unit_of_work() as session:
        import_banks(session, [*v2_banks(), v1_bank()])
        versions = {b.family: b.version for b in export_banks(session)}
    assert versions == {"churn": 2, "legacy": 1}


def test_stats_report_completeness(bank_db: Database) -> None:
    with bank_db.unit_of_work() as session:
        before = bank_stats(session)
        import_banks(session, v2_banks())
    with bank_db.unit_of_work() as session:
        after = bank_stats(session)
    assert after.complete == before.complete + 1
    assert V2_SLUG not in after.incomplete
    assert len(after.incomplete) + after.complete == after.active


def test_cli_stats_list_show_and_export_with_v2(tmp_path: Path, tmp_sqlite_url: str) -> None:
    from tests.test_bank_files import builtin_sqlite
    from tests.test_config_cli import dojo

    database = builtin_sqlite(tmp_sqlite_url)
    env = {"DATABASE_URL": tmp_sqlite_url, "DOJO_LOG_LEVEL": "WARNING"}
    try:
        imported = dojo("bank", "import", str(V2_DIR), env=env, cwd=tmp_path)
        assert imported.returncode == 0, imported.stderr
        stats = dojo("bank", "stats", env=env, cwd=tmp_path)
        assert stats.returncode == 0, stats.stderr
        with database.unit_of_work() as session:
            expected = bank_stats(session)
        assert expected.complete >= 1
        assert f"{expected.complete} of {expected.active}" in stats.stdout
        listed = dojo("bank", "list", "--family", "churn", env=env, cwd=tmp_path)
        assert V2_SLUG in listed.stdout and "incomplete" not in listed.stdout
        shown = dojo("bank", "show", V2_SLUG, env=env, cwd=tmp_path)
        assert shown.stdout.startswith("version: 2\n") and "difficulty" not in shown.stdout
        assert parse_bank_text(shown.stdout, Path("shown.yaml")).questions == (
            v2_banks()[0].questions
        )
    finally:
        database.dispose()


def test_chat_bank_stats_report_completeness(bank_db: Database, tmp_path: Path) -> None:
    from tests.support import Harness

    with bank_db.unit_of_work() as session:
        import_banks(session, [*v2_banks(), v1_bank()])
        stats = bank_stats(session)
    assert stats.incomplete == ["legacy-ledger-reconciliation"]
    reply = Harness(bank_db, tmp_path).command("alice", "bank stats")
    assert reply is not None
    complete = dict(reply.message.fields)["Complete (format v2)"]
    assert (
        complete == f"{stats.complete} of {stats.active}; incomplete: legacy-ledger-reconciliation"
    )
