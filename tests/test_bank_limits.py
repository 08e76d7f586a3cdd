"""Bank files at scale and hostile bank files (issue 13): size, nesting and alias bounds with a
one-line error naming the file, the same limits on the chat import form, and the sketch-based
near-duplicate check over prompts and guides."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml
from datasketch import MinHash
from sqlalchemy import func, select

from bank import similarity
from bank.catalog import BankError, import_banks, load_files
from bank.db import Database
from bank.files import (
    BankFileError,
    BankLimits,
    load_bank_file,
    parse_bank_text,
)
from bank.models import Question
from bank.schema import BankFile, QuestionSpec
from bank.similarity import NearDuplicates
from bench.bank_import import write_bank
from bot.flows import bank_flow
from tests.support import Harness
from tests.test_bank_catalog import BUILTIN_SPECS
from tests.test_bank_files import bank_dict, builtin_banks, question_dict, write_yaml

DEEP = "family: x\nquestions: " + "[" * 5000 + "]" * 5000 + "\n"
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PROMPT_ONE = (
    "A social app shows each member a feed of posts from friends and pages; decide the order."
)
PROMPT_TWO = (
    "An online shop fills its front window with products; choose which ones each visitor sees."
)
LAUGHS = "\n".join(
    ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]" for i in range(1, 9)]
)


def _one_line(exc: BankFileError | BankError, name: str) -> str:
    text = str(exc)
    assert "\n" not in text and text.startswith(name) and "Traceback" not in text
    return text


def test_deep_nesting_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(DEEP.replace("[" * 5000, "[" * 100).replace("]" * 5000, "]" * 100), "utf-8")
    with pytest.raises(BankFileError) as caught:
        load_bank_file(path)
    assert "nested deeper than 12 levels" in _one_line(caught.value, "deep.yaml:2:")
    path.write_text(DEEP, encoding="utf-8")  # libyaml's own bound (1,000) comes first here
    with pytest.raises(BankFileError) as caught:
        load_bank_file(path)
    assert "nesting depth" in _one_line(caught.value, "deep.yaml:2:")


def test_alias_bombs_are_refused_before_they_expand(tmp_path: Path) -> None:
    with pytest.raises(BankFileError) as caught:
        parse_bank_text(LAUGHS, tmp_path / "laughs.yaml")
    assert "through anchors and aliases" in _one_line(caught.value, "laughs.yaml:")
    few = BankLimits(max_aliases=3)
    with pytest.raises(BankFileError) as caught:
        parse_bank_text(LAUGHS, tmp_path / "laughs.yaml", few)
    assert "more than 3 aliases" in _one_line(caught.value, "laughs.yaml:")


def test_a_modest_anchor_is_still_fine(tmp_path: Path) -> None:
    data = bank_dict("anchored", [question_dict("anchored-one"), question_dict("anchored-two")])
    text = yaml.safe_dump(data, sort_keys=False).replace(
        "  tags:\n  - ranking\n  - testing\n", "  tags: &tags [ranking, testing]\n", 1
    )
    text = text.replace("  tags:\n  - ranking\n  - testing\n", "  tags: *tags\n", 1)
    assert "*tags" in text
    bank = parse_bank_text(text, tmp_path / "anchored.yaml")
    assert [q.tags for q in bank.questions] == [["ranking", "testing"]] * 2


def test_size_cap_is_configurable_and_checked_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_yaml(tmp_path / "big.yaml", bank_dict("big", [question_dict("big-one")]))
    assert load_bank_file(path).bank.family == "big"
    monkeypatch.setenv("DOJO_BANK_MAX_BYTES", "500")
    with pytest.raises(BankFileError) as caught:
        load_bank_file(path)
    message = _one_line(caught.value, "big.yaml:")
    assert "limit for a bank file (DOJO_BANK_MAX_BYTES)" in message
    with pytest.raises(BankError) as refused:
        load_files(tmp_path)
    assert _one_line(refused.value, "big.yaml:") == message


def test_chat_import_form_has_the_same_limits(bank_db: Database, tmp_path: Path) -> None:
    harness = Harness(bank_db, tmp_path, admins=("alice",))
    before = _questions(bank_db)
    deep = DEEP.replace("[" * 5000, "[" * 50).replace("]" * 5000, "]" * 50)
    for text, expected in ((deep, "nested deeper"), (LAUGHS, "anchors and aliases")):
        reply = harness.action("alice", bank_flow.IMPORT, "", fields={"yaml": text})
        assert reply is not None
        assert reply.message.text.startswith("nothing imported: pasted.yaml:")
        assert expected in reply.message.text and "\n" not in reply.message.text
    assert _questions(bank_db) == before


def _questions(db: Database) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(Question)) or 0


def test_a_copied_guide_under_a_new_title_and_prompt_is_a_near_duplicate(
    bank_db: Database,
) -> None:
    family, original = BUILTIN_SPECS["recs-shop-home-page"]
    copied_guide = original.model_copy(
        update={
            "slug": "recs-new-coat",
            "title": "Suggest products for a marketplace front page",
            "prompt": "A marketplace wants a better front page. Design the system that picks "
            "which products each visitor sees first, for millions of visitors a day.",
        }
    )
    fresh = QuestionSpec.model_validate(question_dict("recs-really-new"))
    extra = BankFile(family=family, name="Recommendation systems", questions=[copied_guide, fresh])
    with bank_db.unit_of_work() as session:
        report = import_banks(session, [extra])
    assert report.added == ["recs-really-new"]
    assert len(report.rejected) == 1
    assert report.rejected[0].startswith("recs-new-coat: nearly the same as existing ")
    assert "'recs-shop-home-page' (guide," in report.rejected[0]


def test_near_duplicates_within_one_import_and_unrelated_texts() -> None:
    index = NearDuplicates()
    base = " ".join(f"word{i}" for i in range(200))
    index.add("a", index.sketches({"prompt": base, "guide": ""}))
    assert index.match("b", index.sketches({"prompt": base + " extra", "guide": ""})) is not None
    assert index.match("a", index.sketches({"prompt": base, "guide": ""})) is None  # itself
    other = " ".join(f"other{i}" for i in range(200))
    assert index.match("c", index.sketches({"prompt": other, "guide": "x"})) is None


def test_synthetic_banks_import_without_false_duplicates(bank_db: Database, tmp_path: Path) -> None:
    """300 distinct generated questions (the bench's generator): none is taken for another."""
    write_bank(tmp_path, 300)
    with bank_db.unit_of_work() as session:
        report = import_banks(session, load_files(tmp_path))
    assert len(report.added) == 300 and report.rejected == []


def test_batched_sketches_are_datasketchs_own_one_text_at_a_time() -> None:
    """`sketch_many` hashes a batch of texts in one numpy pass; every sketch must hold exactly
    the values datasketch's `MinHash.update_batch` gives that text's shingles alone."""
    rng = random.Random(7)
    vocabulary = [f"w{rng.getrandbits(24):x}" for _ in range(400)] + ["Größe", "x" * 30, "3.5"]
    lengths = [0, 1, 2, 3, 4, 70, 340] * 30 + [similarity.BATCH_WORDS + 5]
    texts = [" ".join(rng.choice(vocabulary) for _ in range(n)) for n in lengths]
    texts += ["", " ... ", "one", "one two", "One two three"]
    rng.shuffle(texts)
    for text, got in zip(texts, similarity.sketch_many(texts), strict=True):
        grams = similarity.shingles(text)
        if not len(grams):
            assert got is None
            continue
        expected = MinHash(
            num_perm=similarity.NUM_PERM,
            seed=similarity.SEED,
            scheme=similarity.SCHEME,
            hashfunc=int,
        )
        expected.update_batch(grams.tolist())
        assert got is not None and got.jaccard(expected) == 1.0
        assert got.hashvalues.tolist() == expected.hashvalues.tolist()


def test_two_new_questions_with_one_guide_in_one_import(bank_db: Database) -> None:
    """Questions are sketched in one batch but checked in file order: the second of two new
    questions that share a guide is refused, naming the first, whatever their titles."""
    first = question_dict("batch-first", "Rank posts in a feed", PROMPT_ONE)
    second = question_dict("batch-second", "Pick products for a shop window", PROMPT_TWO)
    second["guide"] = first["guide"]
    third = question_dict("batch-third")
    extra = BankFile.model_validate(bank_dict("batch-family", [first, second, third]))
    with bank_db.unit_of_work() as session:
        report = import_banks(session, [extra])
    assert report.added == ["batch-first", "batch-third"]
    assert len(report.rejected) == 1
    assert report.rejected[0].startswith("batch-second: nearly the same as existing 'batch-first'")
    assert "(guide, " in report.rejected[0]
    with bank_db.unit_of_work() as session:
        stored = session.scalars(select(Question.slug).where(Question.slug.like("batch-%"))).all()
    assert sorted(stored) == ["batch-first", "batch-third"]


def test_an_unchanged_reimport_sketches_nothing(
    bank_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing new or changed: no sketch is computed, not even of the stored bank."""

    def refuse(*_: object) -> None:
        raise AssertionError("sketched during an unchanged re-import")

    monkeypatch.setattr(NearDuplicates, "sketches_of", staticmethod(refuse))
    with bank_db.unit_of_work() as session:
        report = import_banks(session, list(builtin_banks()))
    assert report.added == report.updated == report.rejected == []
    assert len(report.unchanged) == sum(len(bank.questions) for bank in builtin_banks())


@pytest.mark.parametrize(
    "text",
    [
        "Design a feed: 40M users/day, p99 < 200 ms; A/B-test it (snake_case, x2, $5, 3.5%).",
        "tabs\tand\nnew lines\r\n\x00control\x7fbytes ~`!@#^&*()[]{}|\\;:'\",<>?/ end_",
        "Größe, naïve café and 東京 are words too",
        "",
    ],
)
def test_fast_word_split_finds_what_the_regular_expression_finds(text: str) -> None:
    assert similarity.words(text) == re.findall(r"\w+", text.casefold())
