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


def test_a_v1_question_exports_as_version_1(bank_db: Database) -> None:
    with bank_db.unit_of_work() as session:
        import_banks(session, v2_banks())
        versions = {b.family: b.version for b in export_banks(session)}
    assert versions["churn"] == 2
    assert {v for family, v in versions.items() if family != "churn"} == {1}


def test_stats_report_completeness(bank_db: Database) -> None:
    with bank_db.unit_of_work() as session:
        before = bank_stats(session)
        import_banks(session, v2_banks())
    with bank_db.unit_of_work() as session:
        after = bank_stats(session)
    assert after.complete == before.complete + 1
    assert V2_SLUG not in after.incomplete
    assert len(after.incomplete) + after.complete == after.active
