"""The controlled vocabulary, tags grounded in each question's text, and rates that add up."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bank.catalog import ensure_builtin_bank
from bank.consistency import SECONDS_PER_DAY, rate_problems, rates_in
from bank.db import Database
from bank.files import BUILTIN_DIR, bank_paths, load_bank_file
from bank.schema import CRITERIA, QuestionSpec
from bank.vocabulary import (
    Vocabulary,
    all_text,
    rewrite_tags,
    tag_problems,
    vocabulary,
)
from tests.test_config_cli import dojo

SHIPPED = [q for path in bank_paths(BUILTIN_DIR) for q in load_bank_file(path).bank.questions]


def test_vocabulary_loads_and_covers_every_criterion() -> None:
    vocab = vocabulary()
    assert len(vocab.concepts) >= 50
    for criterion in CRITERIA:
        assert vocab.for_criterion(criterion), f"no concept practises {criterion}"


def test_aliases_resolve_to_their_concept() -> None:
    vocab = vocabulary()
    assert vocab.resolve("Position Bias") == "position-bias"
    assert vocab.resolve("train_serve_skew") == "training-serving-skew"
    assert vocab.resolve("rag") == "retrieval-augmented-generation"
    assert vocab.resolve("no-such-concept") is None


def test_an_alias_naming_two_concepts_is_refused() -> None:
    concept = {"name": "Some concept", "keywords": ["thing"], "criteria": ["ml_depth"]}
    with pytest.raises(ValidationError, match="names both"):
        Vocabulary.model_validate(
            {
                "concepts": [
                    {**concept, "id": "alpha", "aliases": ["shared"]},
                    {**concept, "id": "beta", "aliases": ["shared"]},
                ]
            }
        )


def test_keywords_match_whole_words_or_declared_stems() -> None:
    vocab = vocabulary()
    assert "calibration" in vocab.discussed_in("We recalibrate nothing but calibrated heads")
    assert "retrieval-augmented-generation" not in vocab.discussed_in("a ragged edge")
    assert "retrieval-augmented-generation" in vocab.discussed_in("answers with RAG over docs")


@pytest.mark.parametrize("question", SHIPPED, ids=lambda q: q.slug)
def test_shipped_tags_are_the_concepts_the_question_discusses(question: QuestionSpec) -> None:
    assert tag_problems([question], vocabulary()) == []


@pytest.mark.parametrize("question", SHIPPED, ids=lambda q: q.slug)
def test_shipped_rates_add_up(question: QuestionSpec) -> None:
    assert rate_problems(question.slug, all_text(question)) == []  # kit facts and estimates too


def test_a_contradicting_peak_rate_is_flagged() -> None:
    text = "The provider receives 10 billion emails per day and peaks at 50,000 emails per second."
    (problem,) = rate_problems("spam", text)
    assert "0.43x" in problem and "50,000 emails per second" in problem


def test_figures_for_one_unit_are_not_compared_with_the_whole() -> None:
    text = (
        "The team gets 2M reviews a day. Each moderator checks 250 reviews a day; "
        "a GPU serves 270 reviews/s per GPU. Peak is 60 reviews per second."
    )
    assert rate_problems("q", text) == []
    assert "0.0026x" in rate_problems("q", text.replace("2M reviews a day", "2B reviews a day"))[0]


def test_rates_are_paired_by_the_noun_they_count() -> None:
    text = "50 million searches a day, 2,000 searches per second, 900 clicks per second, 300 qps"
    rates = {(r.noun, r.daily): r.per_second for r in rates_in(text)}
    assert rates[("search", True)] == pytest.approx(50e6 / SECONDS_PER_DAY)
    assert rates[("search", False)] == 2000
    assert rates[("query", False)] == 300
    assert rate_problems("q", text) == []  # clicks and queries have no daily figure to contradict


@given(daily=st.integers(min_value=10**7, max_value=10**11), ratio=st.floats(0.6, 15.0))
def test_any_peak_within_the_band_passes(daily: int, ratio: float) -> None:
    # from 10**7 a day the average is over 100/s, so rounding the peak cannot leave the band
    # (at 172,801 a day, 0.625x rounds to 1/s, which is 0.4999x)
    peak = round(daily / SECONDS_PER_DAY * ratio)
    assert rate_problems("q", f"{daily} events per day; {peak} events per second at peak") == []


def test_rewrite_tags_keeps_everything_else(tmp_path: Path) -> None:
    text = (
        "questions:\n"
        "  - slug: one\n    title: >-\n      tags: not a tag line\n    tags: [a, b,\n      c]\n"
        "    level: L4\n"
        "  - slug: two\n    tags:\n      - x\n      - y\n    level: L5\n"
    )
    result = rewrite_tags(text, {"one": ["p"], "two": ["q", "r"]})
    data = yaml.safe_load(result)
    assert [q["tags"] for q in data["questions"]] == [["p"], ["q", "r"]]
    assert [q["level"] for q in data["questions"]] == ["L4", "L5"]
    assert "      tags: not a tag line\n" in result


def test_dojo_bank_check_reports_and_fixes_tags(tmp_path: Path) -> None:
    source = (BUILTIN_DIR / "ads.yaml").read_text(encoding="utf-8")
    target = tmp_path / "ads.yaml"
    target.write_text(rewrite_tags(source, {q.slug: ["auction"] for q in SHIPPED}), "utf-8")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"}
    failed = dojo("bank", "check", str(target), env=env)
    assert failed.returncode == 1 and "missing tags" in failed.stdout
    fixed = dojo("bank", "check", "--fix-tags", str(target), env=env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "0 problems" in fixed.stdout
    again = dojo("bank", "check", str(target), env=env)
    assert again.returncode == 0


def test_shipped_bank_has_no_near_duplicates_across_prompts_and_guides(db: Database) -> None:
    """The import's near-duplicate check (MinHash over prompts and guides) accepts every shipped
    question: no two are the same problem under different titles."""
    with db.unit_of_work() as session:
        report = ensure_builtin_bank(session)
    assert report is not None and report.rejected == []
    assert len(report.added) == len(SHIPPED)
