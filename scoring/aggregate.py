"""Pure aggregation of votes into a result: no database, so hypothesis can test every property.

Per criterion: the mean of the voters' scores and the spread (max − min) that shows disagreement.
Overall: the rubric-weighted sum of those means. Votes are keyed by voter, so a re-submitted vote
replaces the earlier one and the order of arrival never matters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scoring.rubric import Rubric

SIGNALS = ("no-hire", "lean-no", "lean-hire", "hire")
# Overall weighted score (1–4) → the level it suggests. Lower bounds, checked from the top.
LEVEL_BANDS: tuple[tuple[float, str], ...] = (
    (3.5, "L6"),
    (3.0, "L5"),
    (2.5, "L4"),
    (2.0, "L3"),
    (1.0, "below L3"),
)


@dataclass(frozen=True)
class Ballot:
    voter: str
    scores: Mapping[str, int]
    signal: str
    comment: str = ""


@dataclass(frozen=True)
class CriterionResult:
    id: str
    name: str
    weight: int
    mean: float
    spread: int


@dataclass(frozen=True)
class Result:
    voters: int
    criteria: tuple[CriterionResult, ...]
    overall: float
    level: str
    signals: tuple[tuple[str, int], ...]
    comments: tuple[str, ...]


def weighted_score(scores: Mapping[str, float], rubric: Rubric) -> float:
    return sum(scores[c.id] * c.weight for c in rubric.criteria) / 100


def suggested_level(overall: float) -> str:
    return next(level for floor, level in LEVEL_BANDS if overall >= floor)


def aggregate(ballots: Iterable[Ballot], rubric: Rubric) -> Result | None:
    """Combine ballots (the last one per voter wins); None when there are none."""
    latest = {ballot.voter: ballot for ballot in ballots}
    if not latest:
        return None
    ordered = [latest[voter] for voter in sorted(latest)]
    criteria = []
    for criterion in rubric.criteria:
        # ballots cast under an earlier rubric may lack a criterion: they do not count for it
        values = [b.scores[criterion.id] for b in ordered if criterion.id in b.scores]
        if not values:
            continue
        criteria.append(
            CriterionResult(
                criterion.id,
                criterion.name,
                criterion.weight,
                sum(values) / len(values),
                max(values) - min(values),
            )
        )
    if not criteria:
        return None
    overall = sum(c.mean * c.weight for c in criteria) / sum(c.weight for c in criteria)
    counts = Counter(ballot.signal for ballot in ordered)
    return Result(
        voters=len(ordered),
        criteria=tuple(criteria),
        overall=overall,
        level=suggested_level(overall),
        signals=tuple((signal, counts[signal]) for signal in SIGNALS),
        comments=tuple(ballot.comment for ballot in ordered if ballot.comment),
    )
