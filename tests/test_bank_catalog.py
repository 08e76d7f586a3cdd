"""Bank services on SQLite and PostgreSQL: idempotent import, exact round trip, retire, stats."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bank.catalog import (
    BankError,
    bank_stats,
    export_banks,
    get_question,
    import_banks,
    list_questions,
    load_files,
    retire_question,
)
from bank.db import Database
from bank.files import write_bank_files
from bank.models import Family, Question
from bank.schema import BankFile, QuestionSpec
from bank.selection import daily_question_for_channel, mock_question_for_member
from bot import migrate
from tests.test_bank_files import (
    bank_dict,
    bank_snapshot,
    builtin_banks,
    builtin_sqlite,
    question_dict,
    write_yaml,
)
from tests.test_config_cli import dojo

BUILTIN = list(builtin_banks())
BUILTIN_SPECS = {q.slug: (bank.family, q) for bank in BUILTIN for q in bank.questions}

PROMPTS = {
    "import-alpha": (
        "Queue for parcel lockers",
        "A courier company wants to predict how many parcel lockers each neighbourhood needs "
        "next month so that failed deliveries drop. Design the forecasting pipeline.",
    ),
    "import-beta": (
        "Spotting fake reviews on a cooking site",
        "Home cooks post recipe reviews and some restaurants pay for glowing ones. Build the "
        "model and the moderation workflow that keeps paid reviews out of recipe ratings.",
    ),
}


def sample_bank(family: str = "import-tests", titles: dict[str, str] | None = None) -> BankFile:
    """Two unrelated questions; `titles` overrides the title of a question by slug."""
    titles = titles or {}
    questions = [
        question_dict(slug, title=titles.get(slug, title), prompt=prompt)
        for slug, (title, prompt) in PROMPTS.items()
    ]
    return BankFile.model_validate(bank_dict(family, questions))


def count_questions(db: Database) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(Question)) or 0


# --- import --------------------------------------------------------------------------------------


def test_import_is_an_idempotent_upsert_by_slug(db: Database) -> None:
    with db.unit_of_work() as session:
        first = import_banks(session, [sample_bank()])
    assert first.added == ["import-alpha", "import-beta"]
    assert first.updated == first.unchanged == first.rejected == []

    with db.unit_of_work() as session:
        second = import_banks(session, [sample_bank()])
    assert second.unchanged == ["import-alpha", "import-beta"]
    assert second.added == second.updated == second.rejected == []
    assert second.summary() == "0 added, 0 updated, 2 unchanged, 0 rejected"

    edited = sample_bank(titles={"import-alpha": "Parcel locker demand by neighbourhood"})
    with db.unit_of_work() as session:
        third = import_banks(session, [edited])
    assert third.updated == ["import-alpha"]
    assert third.unchanged == ["import-beta"]
    assert third.added == third.rejected == []

    with db.unit_of_work() as session:
        assert (
            get_question(session, "import-alpha").title == "Parcel locker demand by neighbourhood"
        )
        assert session.scalar(select(func.count()).select_from(Family)) == 1
    assert count_questions(db) == 2


def test_import_moves_a_question_to_another_family(db: Database) -> None:
    with db.unit_of_work() as session:
        import_banks(session, [sample_bank("first-family")])
    with db.unit_of_work() as session:
        report = import_banks(session, [sample_bank("second-family")])
        assert report.updated == ["import-alpha", "import-beta"]
        assert {f.slug for _, f in list_questions(session)} == {"second-family"}


def test_reimport_of_the_builtin_bank_is_unchanged_and_near_duplicates_are_rejected(
    bank_db: Database,
) -> None:
    family, original = BUILTIN_SPECS["recs-shop-home-page"]
    exact_copy = original.model_copy(update={"slug": "recs-copied"})
    reworded = original.model_copy(
        update={
            "slug": "recs-reworded",
            "title": original.title + "!",
            "prompt": original.prompt.replace("40 million", "45 million"),
        }
    )
    fresh = QuestionSpec.model_validate(
        question_dict("recs-genuinely-new", *PROMPTS["import-alpha"])
    )
    extra = BankFile(
        family=family, name="Recommendation systems", questions=[exact_copy, reworded, fresh]
    )
    before = count_questions(bank_db)
    with bank_db.unit_of_work() as session:
        report = import_banks(session, [*BUILTIN, extra])
    assert sorted(report.unchanged) == sorted(BUILTIN_SPECS)
    assert report.updated == []
    assert report.added == ["recs-genuinely-new"]
    assert [line.split(":")[0] for line in report.rejected] == ["recs-copied", "recs-reworded"]
    assert all("'recs-shop-home-page'" in line for line in report.rejected)
    assert count_questions(bank_db) == before + 1
    with bank_db.unit_of_work() as session, pytest.raises(BankError):
        get_question(session, "recs-copied")


def test_cli_dry_run_changes_nothing_then_import_applies(
    tmp_path: Path, tmp_sqlite_url: str
) -> None:
    database = builtin_sqlite(tmp_sqlite_url)
    env = {"DATABASE_URL": tmp_sqlite_url, "DOJO_LOG_LEVEL": "WARNING"}
    try:
        before = bank_snapshot(database)
        family, original = BUILTIN_SPECS["recs-similar-items"]
        edited = original.model_dump(mode="json", exclude_defaults=True)
        edited["title"] = "Similar items under the product description"
        new = question_dict("cli-new-question", *PROMPTS["import-beta"])
        write_yaml(tmp_path / "in" / f"{family}.yaml", bank_dict(family, [edited, new]))

        dry = dojo("bank", "import", "--dry-run", str(tmp_path / "in"), env=env, cwd=tmp_path)
        assert dry.returncode == 0, dry.stderr
        assert "would import: 1 added, 1 updated, 0 unchanged, 0 rejected" in dry.stdout
        assert bank_snapshot(database) == before

        real = dojo("bank", "import", str(tmp_path / "in"), env=env, cwd=tmp_path)
        assert real.returncode == 0, real.stderr
        assert "imported: 1 added, 1 updated, 0 unchanged, 0 rejected" in real.stdout
        after = bank_snapshot(database)
        assert after != before
        assert "cli-new-question" in after[family]
        assert "Similar items under the product description" in after[family]
    finally:
        database.dispose()


# --- export round trip ---------------------------------------------------------------------------


def test_export_import_round_trip_is_byte_identical(
    bank_db: Database, database_url_factory: object, tmp_path: Path
) -> None:
    expected = [
        bank.model_copy(update={"questions": sorted(bank.questions, key=lambda q: q.slug)})
        for bank in sorted(BUILTIN, key=lambda b: b.family)
    ]
    with bank_db.unit_of_work() as session:
        assert export_banks(session) == expected
        retire_question(session, "recs-similar-items")
        first = write_bank_files(export_banks(session), tmp_path / "first")
    assert "status: retired" in (tmp_path / "first" / "recommendation.yaml").read_text()

    backend = "postgresql" if bank_db.is_postgresql else "sqlite"
    fresh = Database(database_url_factory(backend))  # type: ignore[operator]
    try:
        migrate.upgrade(fresh)
        with fresh.unit_of_work() as session:
            assert session.scalar(select(func.count()).select_from(Question)) == 0
            report = import_banks(session, load_files(tmp_path / "first"))
        assert len(report.added) == len(BUILTIN_SPECS)
        assert report.rejected == []
        with fresh.unit_of_work() as session:
            second = write_bank_files(export_banks(session), tmp_path / "second")
            assert get_question(session, "recs-similar-items").status == "retired"
            listed = {q.slug for q, _ in list_questions(session)}
            assert "recs-similar-items" not in listed
            assert len(listed) == len(BUILTIN_SPECS) - 1
    finally:
        fresh.dispose()

    assert [p.name for p in first] == [p.name for p in second]
    assert len(first) == len(BUILTIN)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


# --- retire and stats ----------------------------------------------------------------------------


def test_retired_question_is_not_listed_nor_drawn_but_kept(bank_db: Database) -> None:
    with bank_db.unit_of_work() as session:
        listed = list_questions(session, family="fraud-detection")
        retired = retire_question(session, "fraud-card-checkout")
        assert retired.slug == "fraud-card-checkout"
        with pytest.raises(BankError, match="no-such-question"):
            retire_question(session, "no-such-question")
    with bank_db.unit_of_work() as session:
        after = list_questions(session, family="fraud-detection")
        assert {q.slug for q, _ in listed} - {q.slug for q, _ in after} == {"fraud-card-checkout"}
        assert "fraud-card-checkout" not in {q.slug for q, _ in list_questions(session)}
        l5 = {q.slug for q, _ in list_questions(session, family="fraud-detection", level="l5")}
        assert l5 == {"fraud-account-takeover"}
        assert get_question(session, "fraud-card-checkout").status == "retired"

    # Leave one L6 question and one recommendation question: selection must find only those.
    keep, *other_l6 = sorted(s for s, (_, q) in BUILTIN_SPECS.items() if q.level == "L6")
    recs = sorted(s for s, (f, _) in BUILTIN_SPECS.items() if f == "recommendation")
    assert keep not in recs and recs[0] not in other_l6
    with bank_db.unit_of_work() as session:
        for slug in other_l6 + recs[1:]:
            retire_question(session, slug)
    with bank_db.unit_of_work() as session:
        for day in range(8):
            drawn = daily_question_for_channel(session, 1, f"seed:{day}", "L6", "L6")
            assert drawn is not None and drawn.slug == keep
            mock = mock_question_for_member(session, 1, "recommendation", f"seed:{day}")
            assert mock.slug == recs[0]
        retire_question(session, keep)
        assert daily_question_for_channel(session, 1, "seed", "L6", "L6") is None
    assert count_questions(bank_db) == len(BUILTIN_SPECS)


def test_stats_count_families_levels_and_retired(bank_db: Database) -> None:
    families = Counter(f for f, _ in BUILTIN_SPECS.values())
    levels = Counter(q.level.value for _, q in BUILTIN_SPECS.values())
    with bank_db.unit_of_work() as session:
        stats = bank_stats(session)
    assert stats.by_family == dict(families)
    assert stats.by_level == dict(levels)
    assert (stats.active, stats.retired, stats.most_drawn) == (len(BUILTIN_SPECS), 0, [])

    with bank_db.unit_of_work() as session:
        retire_question(session, "recs-similar-items")
        retire_question(session, "recs-shop-home-page")
        get_question(session, "fraud-card-checkout").times_drawn = 3
    with bank_db.unit_of_work() as session:
        stats = bank_stats(session)
    assert stats.active == len(BUILTIN_SPECS) - 2
    assert stats.retired == 2
    assert stats.by_family["recommendation"] == families["recommendation"] - 2
    assert sum(stats.by_level.values()) == stats.active
    assert stats.most_drawn == [("fraud-card-checkout", 3)]
