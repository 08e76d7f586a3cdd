"""Which question is drawn: a simulated year of daily prompts, topic matching, and mock choice.

The choice functions are pure, so most of this runs without a database over candidates built from
the shipped bank; a few tests go through the database functions on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bank.db import Database
from bank.models import Channel, DailyPrompt, Interview, Member, Question, Workspace
from bank.selection import (
    LEVELS,
    Candidate,
    FamilyInfo,
    UnknownTopic,
    choose_daily,
    choose_mock,
    daily_question_for_channel,
    match_families,
    mock_question_for_member,
)
from tests.test_bank_files import builtin_banks

REAL = [
    Candidate(q.slug, bank.family, q.level.value, tuple(q.tags))
    for bank in builtin_banks()
    for q in bank.questions
]
FAMILIES = [FamilyInfo(bank.family, bank.name, tuple(bank.aliases)) for bank in builtin_banks()]
FAMILY_OF = {c.slug: c.family for c in REAL}
LEVEL_RANGES = [(None, None), ("L5", "L6"), ("L3", "L4"), ("L4", "L4"), ("L6", "L6")]


def in_range(level: str, low: str | None, high: str | None) -> bool:
    index = LEVELS.index(level)
    return (low is None or index >= LEVELS.index(low)) and (
        high is None or index <= LEVELS.index(high)
    )


def simulate(
    candidates: Sequence[Candidate],
    days: int,
    seed: str,
    level_min: str | None = None,
    level_max: str | None = None,
) -> list[Candidate]:
    """One channel's daily prompts, one per day, each day's seed derived like the bot does."""
    history: list[str] = []
    drawn = []
    for day in range(days):
        chosen = choose_daily(candidates, history, f"{seed}:7:{day}", level_min, level_max)
        assert chosen is not None, f"nothing drawn on day {day}"
        history.append(chosen.slug)
        drawn.append(chosen)
    return drawn


def synthetic(sizes: dict[str, int]) -> list[Candidate]:
    return [
        Candidate(f"{family}-{i}", family, "L4") for family, n in sizes.items() for i in range(n)
    ]


def synthetic_family(slug: str) -> str:
    return slug.rsplit("-", 1)[0]


def repeats(drawn: Sequence[Candidate]) -> list[int]:
    """Days on which the family was the same as the day before."""
    return [i for i in range(1, len(drawn)) if drawn[i].family == drawn[i - 1].family]


# --- daily prompts over a simulated year ---------------------------------------------------------


def test_the_real_bank_supports_the_simulation() -> None:
    assert len(REAL) >= 60 and len(FAMILIES) >= 10
    for low, high in LEVEL_RANGES:
        eligible = [c for c in REAL if in_range(c.level, low, high)]
        assert len({c.family for c in eligible}) > 1, (low, high)


@pytest.mark.parametrize(("low", "high"), LEVEL_RANGES)
def test_a_year_of_daily_prompts_cycles_through_the_eligible_questions(
    low: str | None, high: str | None
) -> None:
    eligible = {c.slug for c in REAL if in_range(c.level, low, high)}
    drawn = simulate(REAL, 365, "year", low, high)
    assert all(in_range(c.level, low, high) for c in drawn)
    size = len(eligible)
    assert size < 365
    for start in range(0, 365, size):
        cycle = [c.slug for c in drawn[start : start + size]]
        assert len(set(cycle)) == len(cycle), f"a question repeated in the cycle from day {start}"
        assert set(cycle) <= eligible
        if len(cycle) == size:
            assert set(cycle) == eligible


@pytest.mark.parametrize(("low", "high"), LEVEL_RANGES)
@pytest.mark.parametrize("seed", ["a", "b", "c"])
def test_a_year_of_daily_prompts_never_repeats_a_family_back_to_back(
    low: str | None, high: str | None, seed: str
) -> None:
    drawn = simulate(REAL, 365, seed, low, high)
    same = repeats(drawn)
    assert not same, [(day, drawn[day].family) for day in same]


@pytest.mark.parametrize(
    "sizes",
    [
        {"big": 4, "mid": 2, "small": 2},
        {"big": 10, "b": 3, "c": 3, "d": 3, "e": 1},
        {"big": 6, "other": 5, "c": 1, "d": 1},
    ],
)
def test_uneven_families_still_never_repeat_back_to_back(sizes: dict[str, int]) -> None:
    """Each of these can be ordered with no family twice in a row, cycle after cycle."""
    candidates = synthetic(sizes)
    for seed in ("x", "y", "z", "w"):
        drawn = simulate(candidates, 365, seed)
        assert not repeats(drawn), (seed, [(day, drawn[day].slug) for day in repeats(drawn)])


@pytest.mark.parametrize("sizes", [{"big": 2, "small": 1}, {"big": 3, "b": 1, "c": 1}, {"only": 3}])
def test_a_family_repeats_only_when_nothing_else_is_left_in_the_cycle(
    sizes: dict[str, int],
) -> None:
    candidates = synthetic(sizes)
    size = len(candidates)
    drawn = simulate(candidates, 120, "forced")
    for day in repeats(drawn):
        start = day - day % size
        left = {c.slug for c in candidates} - {c.slug for c in drawn[start:day]}
        assert {synthetic_family(slug) for slug in left} == {drawn[day - 1].family}, day
    for start in range(0, len(drawn) - size + 1, size):
        assert len({c.slug for c in drawn[start : start + size]}) == size


def test_the_same_seed_gives_the_same_year_and_another_seed_another() -> None:
    first = [c.slug for c in simulate(REAL, 365, "alpha")]
    assert first == [c.slug for c in simulate(REAL, 365, "alpha")]
    assert first != [c.slug for c in simulate(REAL, 365, "beta")]
    assert len(set(first[:75])) == 75


def test_no_eligible_question_gives_none() -> None:
    only_l4 = [c for c in REAL if c.level == "L4"]
    assert choose_daily(only_l4, [], "seed", "L6", "L6") is None
    assert choose_daily([], [], "seed") is None


def test_history_of_questions_no_longer_in_the_bank_is_ignored() -> None:
    history = ["a-question-since-deleted", REAL[0].slug]
    chosen = choose_daily(REAL, history, "seed")
    assert chosen is not None
    assert chosen.slug != REAL[0].slug and chosen.family != REAL[0].family


def test_a_question_added_mid_cycle_is_drawn_before_the_cycle_restarts() -> None:
    base = [c for c in REAL if c.level == "L6"]
    drawn = simulate(base, 5, "mid")
    added = Candidate("fresh-l6-question", "newly-added", "L6")
    history = [c.slug for c in drawn]
    rest = []
    for day in range(len(base) - 5 + 1):
        chosen = choose_daily([*base, added], history, f"mid:after:{day}")
        assert chosen is not None
        history.append(chosen.slug)
        rest.append(chosen.slug)
    assert "fresh-l6-question" in rest
    assert len(set(history)) == len(history) == len(base) + 1


# --- topics --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "family"),
    [
        ("recsys", "recommendation"),
        ("RecSys", "recommendation"),
        ("recommendation", "recommendation"),
        ("recomendation", "recommendation"),
        ("fraud", "fraud-detection"),
        ("Fraud Detection", "fraud-detection"),
        ("fraud-detecton", "fraud-detection"),
        ("notification", "notifications"),
        ("visual search", "visual-search"),
    ],
)
def test_topic_matches_one_family(topic: str, family: str) -> None:
    assert match_families(topic, FAMILIES) == [family]


@pytest.mark.parametrize("topic", ["quantum-basket-weaving", "zz", "cold-start"])
def test_topic_that_is_no_family_matches_none(topic: str) -> None:
    assert match_families(topic, FAMILIES) == []


# --- mock choice (pure) --------------------------------------------------------------------------


def test_mock_prefers_questions_not_practised() -> None:
    recs = sorted(c.slug for c in REAL if c.family == "recommendation")
    practised = recs[:-1] + recs[:2]
    for seed in range(20):
        chosen = choose_mock(REAL, practised, str(seed), topic_families=["recommendation"])
        assert chosen is not None and chosen.slug == recs[-1]
    everything = [c.slug for c in REAL if c.slug != "ads-budget-pacing-bidding"]
    for seed in range(20):
        chosen = choose_mock(REAL, everything, str(seed))
        assert chosen is not None and chosen.slug == "ads-budget-pacing-bidding"


def test_mock_with_everything_practised_equally_uses_the_whole_topic() -> None:
    recs = {c.slug for c in REAL if c.family == "recommendation"}
    seen = {
        chosen.slug
        for seed in range(60)
        if (chosen := choose_mock(REAL, sorted(recs), str(seed), ["recommendation"]))
    }
    assert seen <= recs and len(seen) > 1


def test_mock_prefers_weak_families_and_filters_by_tag() -> None:
    for seed in range(20):
        weak = choose_mock(REAL, [], str(seed), weak_families=["forecasting"])
        assert weak is not None and weak.family == "forecasting"
        tagged = choose_mock(REAL, [], str(seed), tag="cold-start")
        assert tagged is not None and "cold-start" in tagged.tags
    assert choose_mock(REAL, [], "seed", tag="no-such-tag") is None


def test_mock_prefers_concepts_that_exercise_the_weakest_criterion() -> None:
    concepts = ["calibration", "position-bias"]
    for seed in range(20):
        chosen = choose_mock(REAL, [], str(seed), weak_concepts=concepts)
        assert chosen is not None and set(chosen.tags) & set(concepts)
        both = choose_mock(
            REAL, [], str(seed), weak_families=["ads"], weak_concepts=["calibration"]
        )
        assert both is not None and both.family == "ads" and "calibration" in both.tags
    assert choose_mock(REAL, [], "seed", topic_families=["no-such-family"]) is None


# --- through the database ------------------------------------------------------------------------


def _channel(session: Session, external_id: str) -> Channel:
    """A channel in a workspace of its own."""
    workspace = Workspace(platform="console", external_id=f"ws-{external_id}")
    session.add(workspace)
    session.flush()
    channel = Channel(workspace_id=workspace.id, external_id=external_id)
    session.add(channel)
    session.flush()
    return channel


def test_daily_question_for_channel_follows_the_channel_history(bank_db: Database) -> None:
    eligible = {c.slug for c in REAL if in_range(c.level, "L5", "L6")}
    start = date(2026, 1, 5)
    with bank_db.unit_of_work() as session:
        channel = _channel(session, "c1")
        drawn: list[Question] = []
        for day in range(len(eligible) + 3):
            question = daily_question_for_channel(session, channel.id, f"s:{day}", "L5", "L6")
            assert question is not None
            session.add(
                DailyPrompt(
                    channel_id=channel.id,
                    question_id=question.id,
                    local_date=start + timedelta(days=day),
                )
            )
            session.flush()
            drawn.append(question)
        other = _channel(session, "c2")
        first_elsewhere = daily_question_for_channel(session, other.id, "s:0", "L5", "L6")
    first_cycle = [q.slug for q in drawn[: len(eligible)]]
    assert set(first_cycle) == eligible and len(first_cycle) == len(eligible)
    assert len({q.slug for q in drawn[len(eligible) :]}) == 3
    families = [q.family.slug for q in drawn]
    assert all(a != b for a, b in pairwise(families))
    assert first_elsewhere is not None and first_elsewhere.slug == drawn[0].slug


def test_mock_question_for_member_through_the_database(bank_db: Database) -> None:
    family_slugs = sorted(f.slug for f in FAMILIES)
    recs = sorted(c.slug for c in REAL if c.family == "recommendation")
    with bank_db.unit_of_work() as session:
        for slug in FAMILY_OF:
            assert mock_question_for_member(session, 1, slug, "seed").slug == slug
        assert mock_question_for_member(session, 1, " RECS-WATCH-NEXT ", "seed").slug == (
            "recs-watch-next"
        )
        for seed in range(5):
            for topic in ("recsys", "recomendation"):
                question = mock_question_for_member(session, 1, topic, str(seed))
                assert question.family.slug == "recommendation"
            fraud = mock_question_for_member(session, 1, "fraud", str(seed))
            assert fraud.family.slug == "fraud-detection"
            tagged = mock_question_for_member(session, 1, "cold-start", str(seed))
            assert "cold-start" in tagged.tags
            # a concept alias from the vocabulary names the concept's tag
            aliased = mock_question_for_member(session, 1, "Calibrated probabilities", str(seed))
            assert "calibration" in aliased.tags
        with pytest.raises(UnknownTopic) as excinfo:
            mock_question_for_member(session, 1, "quantum-basket-weaving", "seed")
        message = str(excinfo.value)
        assert "quantum-basket-weaving" in message
        assert all(slug in message for slug in family_slugs), message
        assert excinfo.value.families == family_slugs

        # A member who practised all recommendation questions but one gets that one.
        channel = _channel(session, "mocks")
        member = Member(workspace_id=channel.workspace_id, external_id="m1", display_name="Ann")
        session.add(member)
        session.flush()
        rows = session.execute(select(Question.slug, Question.id).where(Question.slug.in_(recs)))
        ids = {slug: question_id for slug, question_id in rows}
        for number, slug in enumerate(recs[1:], start=1):
            session.execute(
                insert(Interview).values(
                    workspace_id=channel.workspace_id,
                    number=number,
                    channel_id=channel.id,
                    question_id=ids[slug],
                    candidate_id=member.id,
                )
            )
        for seed in range(10):
            assert (
                mock_question_for_member(session, member.id, "recsys", str(seed)).slug == (recs[0])
            )
        counts = Counter(
            mock_question_for_member(session, member.id + 1, "recsys", str(seed)).slug
            for seed in range(30)
        )
        assert len(counts) > 1, "a member with no history should not always get the same one"
