"""Properties of the rubric and of the pure vote aggregation (no database)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from scoring.aggregate import LEVEL_BANDS, SIGNALS, Ballot, Result, aggregate, suggested_level
from scoring.rubric import DEFAULT_RUBRIC, Criterion, Rubric, rubric_for

PROPERTY = settings(max_examples=60, deadline=None)
VOTERS = ("ana", "ben", "cleo", "dev", "eli", "fay", "gus")
# Levels from lowest to highest: the order the bands suggest as the overall score rises.
LEVEL_ORDER = [level for _, level in reversed(LEVEL_BANDS)]
ANCHORS = ("scores a one", "scores a two", "scores a three", "scores a four")


def criterion(cid: str, weight: int) -> Criterion:
    return Criterion(
        id=cid, name=f"Crit {cid}", weight=weight, anchors=ANCHORS, advice="practise this one"
    )


@st.composite
def rubrics(draw: st.DrawFn) -> Rubric:
    """A valid custom rubric: 1–8 criteria whose positive weights sum to 100."""
    count = draw(st.integers(1, 8))
    cuts = sorted(draw(st.sets(st.integers(1, 99), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, 100]
    weights = [high - low for low, high in itertools.pairwise(bounds)]
    return Rubric(
        name="custom",
        criteria=tuple(criterion(f"c{i}", w) for i, w in enumerate(weights)),
    )


def ballots_for(
    rubric: Rubric, voters: Sequence[str] = VOTERS, min_size: int = 1, unique: bool = False
) -> st.SearchStrategy[list[Ballot]]:
    ballot = st.builds(
        Ballot,
        voter=st.sampled_from(voters),
        scores=st.fixed_dictionaries({cid: st.integers(1, 4) for cid in rubric.ids}),
        signal=st.sampled_from(SIGNALS),
        comment=st.sampled_from(["", "clear structure", "thin on metrics"]),
    )
    if unique:
        return st.lists(
            ballot, min_size=min_size, max_size=len(voters), unique_by=lambda b: b.voter
        )
    return st.lists(ballot, min_size=min_size, max_size=12)


@st.composite
def rubric_and_ballots(draw: st.DrawFn, unique: bool = False) -> tuple[Rubric, list[Ballot]]:
    rubric = draw(st.one_of(st.just(DEFAULT_RUBRIC), rubrics()))
    return rubric, draw(ballots_for(rubric, unique=unique))


def latest_per_voter(ballots: Sequence[Ballot]) -> dict[str, Ballot]:
    latest: dict[str, Ballot] = {}
    for ballot in ballots:
        latest[ballot.voter] = ballot
    return latest


def must(result: Result | None) -> Result:
    assert result is not None
    return result


# -- the rubric ---------------------------------------------------------------------------------


def test_default_weights_are_the_documented_ones_and_sum_to_100() -> None:
    weights = {c.id: c.weight for c in DEFAULT_RUBRIC.criteria}
    assert weights == {
        "problem_formulation": 20,
        "system_architecture": 20,
        "ml_depth": 25,
        "metrics_evaluation": 15,
        "trade_off_analysis": 10,
        "communication": 10,
    }
    assert list(DEFAULT_RUBRIC.ids) == list(weights)  # rubric order is the vote order
    assert sum(weights.values()) == 100
    assert rubric_for(None) is DEFAULT_RUBRIC


def test_default_rubric_round_trips_as_a_custom_rubric() -> None:
    stored = DEFAULT_RUBRIC.model_dump(mode="json")
    assert rubric_for(stored) == DEFAULT_RUBRIC


@PROPERTY
@given(st.lists(st.integers(1, 100), min_size=1, max_size=10).filter(lambda w: sum(w) != 100))
def test_rubric_whose_weights_do_not_sum_to_100_is_rejected(weights: list[int]) -> None:
    criteria = tuple(criterion(f"c{i}", w) for i, w in enumerate(weights))
    with pytest.raises(ValidationError, match="must sum to 100"):
        Rubric(criteria=criteria)
    with pytest.raises(ValidationError, match="must sum to 100"):
        rubric_for({"name": "team", "criteria": [c.model_dump() for c in criteria]})


@PROPERTY
@given(rubrics())
def test_generated_rubrics_are_valid(rubric: Rubric) -> None:
    assert sum(c.weight for c in rubric.criteria) == 100
    assert Rubric.model_validate(rubric.model_dump()) == rubric


def test_duplicate_criterion_ids_are_rejected() -> None:
    with pytest.raises(ValidationError, match="ids must be unique"):
        Rubric(criteria=(criterion("depth", 50), criterion("depth", 50)))
    with pytest.raises(ValidationError, match="ids must be unique"):
        rubric_for(
            {
                "criteria": [
                    criterion("a", 40).model_dump(),
                    criterion("b", 30).model_dump(),
                    criterion("a", 30).model_dump(),
                ]
            }
        )


def test_criterion_fields_are_validated() -> None:
    with pytest.raises(ValidationError):
        criterion("Bad-Id", 100)
    with pytest.raises(ValidationError):
        criterion("zero", 0)
    with pytest.raises(ValidationError):
        Criterion(id="x", name="Xx", weight=100, anchors=ANCHORS[:3], advice="practise")


# -- aggregation --------------------------------------------------------------------------------


def test_no_ballots_means_no_result() -> None:
    assert aggregate([], DEFAULT_RUBRIC) is None


def test_known_ballots_give_the_hand_computed_result() -> None:
    ids = DEFAULT_RUBRIC.ids
    ballots = [
        Ballot("dev", dict(zip(ids, (3, 3, 4, 3, 2, 3), strict=True)), "hire", "nice"),
        Ballot("ben", dict(zip(ids, (2, 3, 3, 3, 2, 2), strict=True)), "lean-hire"),
        Ballot("cleo", dict(zip(ids, (4, 3, 3, 2, 3, 3), strict=True)), "hire", "good depth"),
    ]
    result = must(aggregate(ballots, DEFAULT_RUBRIC))
    assert result.voters == 3
    assert [c.mean for c in result.criteria] == pytest.approx([3, 3, 10 / 3, 8 / 3, 7 / 3, 8 / 3])
    assert [c.spread for c in result.criteria] == [2, 0, 1, 1, 1, 1]
    assert result.overall == pytest.approx(
        (3 * 20 + 3 * 20 + 10 / 3 * 25 + 8 / 3 * 15 + 7 / 3 * 10 + 8 / 3 * 10) / 100
    )
    assert result.level == "L4"
    assert dict(result.signals) == {"no-hire": 0, "lean-no": 0, "lean-hire": 1, "hire": 2}
    assert [s for s, _ in result.signals] == list(SIGNALS)
    assert sorted(result.comments) == ["good depth", "nice"]


@PROPERTY
@given(rubric_and_ballots())
def test_means_and_overall_stay_within_1_and_4(case: tuple[Rubric, list[Ballot]]) -> None:
    rubric, ballots = case
    result = must(aggregate(ballots, rubric))
    assert [c.id for c in result.criteria] == list(rubric.ids)
    for c in result.criteria:
        assert 1 <= c.mean <= 4
        assert 0 <= c.spread <= 3
    assert 1 <= result.overall <= 4
    assert result.level in LEVEL_ORDER
    assert sum(n for _, n in result.signals) == result.voters


@PROPERTY
@given(rubric_and_ballots(unique=True), st.randoms(use_true_random=False))
def test_order_of_ballots_never_changes_the_result(
    case: tuple[Rubric, list[Ballot]], rnd: random.Random
) -> None:
    rubric, ballots = case
    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    assert aggregate(shuffled, rubric) == aggregate(ballots, rubric)
    assert aggregate(list(reversed(ballots)), rubric) == aggregate(ballots, rubric)


@PROPERTY
@given(rubric_and_ballots())
def test_a_resubmitted_ballot_replaces_the_earlier_one(case: tuple[Rubric, list[Ballot]]) -> None:
    rubric, ballots = case
    latest = latest_per_voter(ballots)
    result = must(aggregate(ballots, rubric))
    assert result == aggregate(list(latest.values()), rubric)
    assert result.voters == len(latest)
    for c in result.criteria:  # an oracle that does not go through `aggregate`
        values = [b.scores[c.id] for b in latest.values()]
        assert c.mean == pytest.approx(sum(values) / len(values))
        assert c.spread == max(values) - min(values)


@PROPERTY
@given(rubric_and_ballots(), st.sampled_from(VOTERS), st.integers(1, 4), st.sampled_from(SIGNALS))
def test_the_last_ballot_of_a_voter_wins(
    case: tuple[Rubric, list[Ballot]], voter: str, score: int, signal: str
) -> None:
    rubric, ballots = case
    final = Ballot(voter, dict.fromkeys(rubric.ids, score), signal, "final word")
    result = must(aggregate([*ballots, final], rubric))
    others = [b for b in latest_per_voter(ballots).values() if b.voter != voter]
    assert result == aggregate([*others, final], rubric)
    assert result.comments.count("final word") == 1


@PROPERTY
@given(rubric_and_ballots())
def test_overall_is_the_weighted_sum_of_the_means(case: tuple[Rubric, list[Ballot]]) -> None:
    rubric, ballots = case
    result = must(aggregate(ballots, rubric))
    means = {c.id: c.mean for c in result.criteria}
    expected = sum(means[c.id] * c.weight for c in rubric.criteria) / 100
    assert result.overall == pytest.approx(expected)
    assert [c.weight for c in result.criteria] == [c.weight for c in rubric.criteria]
    assert result.level == suggested_level(result.overall)


@PROPERTY
@given(st.floats(1, 4), st.floats(1, 4))
def test_suggested_level_is_monotone_in_the_overall_score(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert LEVEL_ORDER.index(suggested_level(low)) <= LEVEL_ORDER.index(suggested_level(high))


@pytest.mark.parametrize(
    ("overall", "level"),
    [
        (1.0, "below L3"),
        (1.99, "below L3"),
        (2.0, "L3"),
        (2.49, "L3"),
        (2.5, "L4"),
        (3.0, "L5"),
        (3.49, "L5"),
        (3.5, "L6"),
        (4.0, "L6"),
    ],
)
def test_level_band_edges(overall: float, level: str) -> None:
    assert suggested_level(overall) == level
