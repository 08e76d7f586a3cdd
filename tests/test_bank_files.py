"""The shipped bank is complete, and a bad bank file is refused with a message that finds the fault.

Faults are reported by `load_files` before anything touches a database, naming the file, the
question, the field and (where the parser knows it) the line; the `dojo bank import` command
then leaves the bank exactly as it was.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from bank.catalog import BankError, ensure_builtin_bank, export_banks, load_files
from bank.db import Database
from bank.files import BUILTIN_DIR, dump_bank_file
from bank.schema import BankFile, StrongSignals
from bot import migrate
from tests.test_config_cli import dojo

CRITERIA = (
    "problem_formulation",
    "system_architecture",
    "ml_depth",
    "metrics_evaluation",
    "trade_off_analysis",
    "communication",
)
PHASES = ("clarify", "architecture", "deep_dive", "trade_offs")


# --- helpers shared with the other bank tests --------------------------------------------------


@cache
def builtin_banks() -> tuple[BankFile, ...]:
    """The shipped bank, parsed once per test run."""
    return tuple(load_files(BUILTIN_DIR))


def question_dict(slug: str, title: str | None = None, prompt: str | None = None) -> dict[str, Any]:
    """A complete, valid question as it appears in a bank file."""
    return {
        "slug": slug,
        "title": title or f"Design the {slug.replace('-', ' ')} system",
        "prompt": prompt
        or f"Design the {slug} system end to end for a company with ten million users.",
        "level": "L4",
        "difficulty": "medium",
        "tags": ["ranking", "testing"],
        "baseline": "A popularity list refreshed every hour.",
        "guide": {  # each question its own guide: a shared one is a near-duplicate
            phase: [f"{line} ({slug})" for line in lines]
            for phase, lines in {
                "clarify": ["Which metric matters?", "How much traffic?", "What data exists?"],
                "architecture": ["Event logging", "Feature store", "Online serving"],
                "deep_dive": ["Features", "Model choice", "Offline metrics", "Online tests"],
                "trade_offs": ["Latency vs quality", "Batch vs streaming", "Cost vs freshness"],
            }.items()
        },
        "follow_ups": ["What if traffic doubles?", "What if labels arrive late?"],
        "strong_signals": {criterion: f"Strong {criterion} answer." for criterion in CRITERIA},
    }


def bank_dict(family: str, questions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "family": family,
        "name": family.replace("-", " ").title(),
        "aliases": [],
        "questions": questions,
    }


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=100), encoding="utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the first line containing `text`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def bank_snapshot(db: Database) -> dict[str, str]:
    """The whole bank as the text `dojo bank export` would write, by family."""
    with db.unit_of_work() as session:
        return {bank.family: dump_bank_file(bank) for bank in export_banks(session)}


def builtin_sqlite(url: str) -> Database:
    """A migrated SQLite database holding the built-in bank."""
    database = Database(url)
    migrate.upgrade(database)
    with database.unit_of_work() as session:
        ensure_builtin_bank(session)
    return database


# --- the shipped bank --------------------------------------------------------------------------


def _raw_builtin() -> dict[Path, dict[str, Any]]:
    paths = sorted(BUILTIN_DIR.glob("*.yaml"))
    assert paths, f"no bank files in {BUILTIN_DIR}"
    return {path: yaml.safe_load(path.read_text(encoding="utf-8")) for path in paths}


FIXTURES = Path(__file__).parent / "fixtures"
RAW_BUILTIN = _raw_builtin()


def test_builtin_bank_loads_and_is_large_enough() -> None:
    banks = builtin_banks()
    active = [q for bank in banks for q in bank.questions if q.status == "active"]
    families = {bank.family for bank in banks if any(q.status == "active" for q in bank.questions)}
    assert len(active) >= 110, f"only {len(active)} active questions"
    assert len(families) >= 20, f"only {len(families)} families: {sorted(families)}"


def test_every_builtin_family_matches_its_file_name() -> None:
    wrong = {
        path.name: data.get("family")
        for path, data in RAW_BUILTIN.items()
        if data.get("family") != path.stem
    }
    assert not wrong, f"family differs from file name: {wrong}"


def test_builtin_slugs_are_unique_across_files() -> None:
    slugs = Counter(q["slug"] for data in RAW_BUILTIN.values() for q in data["questions"])
    repeated = sorted(slug for slug, count in slugs.items() if count > 1)
    assert not repeated, f"slugs used more than once: {repeated}"
    assert sum(slugs.values()) >= 60


def test_every_builtin_question_is_complete_in_format_v2() -> None:
    """Anchors for six criteria x four scores, red flags, level bars, annotated follow-ups, an
    interviewer kit and a reference design on every shipped question."""
    banks = builtin_banks()
    assert {bank.family: bank.version for bank in banks if bank.version != 2} == {}
    gaps = {q.slug: q.missing for bank in banks for q in bank.questions if q.missing}
    assert gaps == {}


def test_each_criterion_has_four_distinct_anchors_on_every_builtin_question() -> None:
    repeated = [
        f"{q.slug}.{criterion}"
        for bank in builtin_banks()
        for q in bank.questions
        if q.anchors is not None
        for criterion, scores in q.anchors.model_dump().items()
        if len(set(scores.values())) < 4
    ]
    assert repeated == []


def test_a_version_2_file_with_a_gap_is_refused(tmp_path: Path) -> None:
    """The completeness rule is not vacuous: dropping one part of one question fails the file."""
    data = yaml.safe_load((FIXTURES / "v2" / "churn.yaml").read_text(encoding="utf-8"))
    del data["questions"][0]["kit"]
    path = tmp_path / "churn.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    message = _fails(path)
    assert "version 2 needs" in message and data["questions"][0]["slug"] in message


def test_strong_signals_cover_the_rubric_criteria() -> None:
    from scoring.rubric import DEFAULT_RUBRIC

    assert tuple(StrongSignals.model_fields) == CRITERIA
    assert set(DEFAULT_RUBRIC.ids) == set(CRITERIA)


# --- malformed files ---------------------------------------------------------------------------


def _fails(path: Path) -> str:
    with pytest.raises(BankError) as excinfo:
        load_files(path)
    return str(excinfo.value)


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "family: broken\nname: Broken family\nquestions:\n  - slug: one\n    title: [oops\n"
        "    level: L4\n",
        encoding="utf-8",
    )
    message = _fails(tmp_path)
    assert re.search(r"^broken\.yaml:\d+: not valid YAML", message, re.MULTILINE), message


def test_empty_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("# nothing here\n", encoding="utf-8")
    assert "empty.yaml: the file is empty" in _fails(tmp_path)


def test_missing_field_names_file_question_field_and_line(tmp_path: Path) -> None:
    second = question_dict("second-question")
    del second["baseline"]
    path = write_yaml(
        tmp_path / "gaps.yaml", bank_dict("gaps", [question_dict("first-question"), second])
    )
    line = line_of(path, "slug: second-question")
    message = _fails(tmp_path)
    assert f"gaps.yaml:{line}: question 'second-question', field baseline:" in message, message
    assert "required" in message.lower()
    assert "first-question" not in message


def test_missing_nested_field_is_named_with_its_path(tmp_path: Path) -> None:
    question = question_dict("nested-gap")
    del question["guide"]["deep_dive"]
    write_yaml(tmp_path / "nested.yaml", bank_dict("nested", [question]))
    message = _fails(tmp_path)
    assert re.search(r"nested\.yaml:\d+: question 'nested-gap', field guide\.deep_dive:", message)


def test_wrong_type_names_file_question_field_and_line(tmp_path: Path) -> None:
    second = question_dict("typed-question")
    second["follow_ups"] = "just one string, not a list"
    path = write_yaml(
        tmp_path / "types.yaml", bank_dict("types", [question_dict("fine-question"), second])
    )
    line = line_of(path, "follow_ups: just one string")
    message = _fails(tmp_path)
    assert f"types.yaml:{line}: question 'typed-question', field follow_ups:" in message, message
    assert "list" in message


def test_bad_level_value_is_named(tmp_path: Path) -> None:
    question = question_dict("levelled-question")
    question["level"] = "L9"
    path = write_yaml(tmp_path / "levels.yaml", bank_dict("levels", [question]))
    line = line_of(path, "level: L9")
    message = _fails(tmp_path)
    assert f"levels.yaml:{line}: question 'levelled-question', field level:" in message, message


def test_too_few_trade_offs_is_named(tmp_path: Path) -> None:
    question = question_dict("thin-question")
    question["guide"]["trade_offs"] = ["Only one trade-off"]
    write_yaml(tmp_path / "thin.yaml", bank_dict("thin", [question]))
    message = _fails(tmp_path)
    assert "thin.yaml:" in message and "field guide.trade_offs:" in message, message
    assert "thin-question" in message


def test_unknown_key_names_file_question_field_and_line(tmp_path: Path) -> None:
    question = question_dict("extra-question")
    question["hint"] = "Typo for a field that does not exist."
    path = write_yaml(tmp_path / "extra.yaml", bank_dict("extra", [question]))
    line = line_of(path, "hint:")
    message = _fails(tmp_path)
    assert f"extra.yaml:{line}: question 'extra-question', field hint:" in message, message


def test_unknown_key_at_file_level_is_named(tmp_path: Path) -> None:
    data = bank_dict("toplevel", [question_dict("top-question")])
    data["owner"] = "someone"
    path = write_yaml(tmp_path / "toplevel.yaml", data)
    message = _fails(tmp_path)
    assert f"toplevel.yaml:{line_of(path, 'owner:')}: field owner:" in message, message


def test_duplicate_slug_in_one_file(tmp_path: Path) -> None:
    questions = [
        question_dict("twice-question", title="The first of two questions"),
        question_dict("other-question"),
        question_dict("twice-question", title="The second of two questions"),
    ]
    write_yaml(tmp_path / "twice.yaml", bank_dict("twice", questions))
    message = _fails(tmp_path)
    assert re.search(
        r"twice\.yaml:\d+: field questions: .*duplicate slug 'twice-question'", message
    )


def test_duplicate_slug_across_two_files(tmp_path: Path) -> None:
    write_yaml(tmp_path / "alpha.yaml", bank_dict("alpha", [question_dict("shared-question")]))
    write_yaml(
        tmp_path / "beta.yaml",
        bank_dict("beta", [question_dict("beta-only"), question_dict("shared-question")]),
    )
    message = _fails(tmp_path)
    assert "beta.yaml" in message and "alpha.yaml" in message, message
    assert "question 'shared-question', field slug" in message
    assert "beta-only" not in message


def test_every_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    first = question_dict("first-bad")
    del first["prompt"]
    second = question_dict("second-bad")
    second["difficulty"] = "brutal"
    write_yaml(tmp_path / "a.yaml", bank_dict("a-family", [first]))
    write_yaml(tmp_path / "b.yaml", bank_dict("b-family", [second]))
    message = _fails(tmp_path)
    assert "question 'first-bad', field prompt" in message
    assert "question 'second-bad', field difficulty" in message


def test_missing_directory_and_empty_directory_are_refused(tmp_path: Path) -> None:
    assert "no such file" in _fails(tmp_path / "nowhere")
    assert "no .yaml bank files" in _fails(tmp_path)


def test_a_single_good_file_loads(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "good.yaml", bank_dict("good", [question_dict("good-question")]))
    [bank] = load_files(path)
    assert bank.family == "good"
    assert [q.slug for q in bank.questions] == ["good-question"]


# --- importing bad files through the CLI changes nothing ---------------------------------------


def _write_bad_dir(directory: Path) -> None:
    """A good file (a new question and an edited built-in title) next to three kinds of fault."""
    [recs] = [b for b in builtin_banks() if b.family == "recommendation"]
    edited = recs.questions[0].model_dump(mode="json", exclude_defaults=True)
    edited["title"] = "A title that must never reach the database"
    good = bank_dict("recommendation", [edited, question_dict("brand-new-question")])
    write_yaml(directory / "recommendation.yaml", good)
    broken = question_dict("broken-question")
    del broken["strong_signals"]
    write_yaml(directory / "missing.yaml", bank_dict("missing", [broken]))
    (directory / "mangled.yaml").write_text("family: mangled\nquestions: [\n", encoding="utf-8")
    write_yaml(directory / "one.yaml", bank_dict("one", [question_dict("dup-question")]))
    write_yaml(directory / "two.yaml", bank_dict("two", [question_dict("dup-question")]))


def test_cli_import_of_bad_files_changes_nothing(tmp_path: Path, tmp_sqlite_url: str) -> None:
    builtin_db = builtin_sqlite(tmp_sqlite_url)
    before = bank_snapshot(builtin_db)
    assert len(before) == len(RAW_BUILTIN)
    _write_bad_dir(tmp_path / "bad")
    result = dojo(
        "bank",
        "import",
        str(tmp_path / "bad"),
        env={"DATABASE_URL": builtin_db.url, "DOJO_LOG_LEVEL": "WARNING"},
        cwd=tmp_path,
    )
    assert result.returncode != 0, result.stdout
    assert "nothing imported" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    problems = {
        "missing": r"missing\.yaml:\d+: question 'broken-question', .*strong_signals",
        "mangled": r"mangled\.yaml:\d+: not valid YAML",
        "duplicate": r"two\.yaml: question 'dup-question', field slug: .*one\.yaml",
    }
    for name, pattern in problems.items():
        assert re.search(pattern, result.stderr), f"{name} not reported:\n{result.stderr}"
    assert "brand-new-question" not in result.stderr
    assert bank_snapshot(builtin_db) == before
    builtin_db.dispose()
