"""Pure aggregation of votes into a result: no database, so hypothesis can test every property.

Per criterion: the mean of the voters' scores and the spread (max − min) that shows disagreement.
Overall: the rubric-weighted sum of those means. Votes are keyed by voter, so a re-submitted vote
replaces the earlier one and the order of arrival never matters.

Level-aware suggestion: the overall score maps to a level through `LEVEL_BANDS`, then is capped
at one level above the question's own level (`LEVEL_CAP_STEP`). A question written for L4 asks
for L4 scope; an answer that goes beyond it on every criterion shows L5 at most. Showing L6 needs
an L5 or L6 question, whose prompt leaves room for org-level ambiguity, roadmap and trade-offs.
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
LEVELS: tuple[str, ...] = tuple(level for _, level in reversed(LEVEL_BANDS))
LEVEL_CAP_STEP = 1  # how far above the question's level a strong answer can suggest


@dataclass(frozen=True)
class Ballot:
    voter: str
    scores: Mapping[str, int]
    signal: str
    comment: str = ""
    red_flags: tuple[str, ...] = ()  # the question's red flags this voter ticked


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
    red_flags: tuple[tuple[str, int], ...] = ()  # (flag, voters who ticked it), most ticked first
    uncapped_level: str = ""  # the level the score alone would suggest


def weighted_score(scores: Mapping[str, float], rubric: Rubric) -> float:
    return sum(scores[c.id] * c.weight for c in rubric.criteria) / 100


def level_cap(question_level: str) -> str:
    """The highest level an answer to a question of `question_level` can show (ValueError for an
    unknown level)."""
    index = LEVELS.index(question_level) + LEVEL_CAP_STEP
    return LEVELS[min(index, len(LEVELS) - 1)]


def suggested_level(overall: float, question_level: str | None = None) -> str:
    """The level a weighted score (1-4) suggests, capped by what the question's level can show."""
    level = next(level for floor, level in LEVEL_BANDS if overall >= floor)
    if question_level is None:
        return level
    cap = level_cap(question_level)
    return level if LEVELS.index(level) <= LEVELS.index(cap) else cap


def anchor_score(mean: float) -> int:
    """The whole score (1-4) a mean score sits at, halves rounded up: whose anchor describes it."""
    return min(4, max(1, int(mean + 0.5)))


def aggregate(
    ballots: Iterable[Ballot], rubric: Rubric, question_level: str | None = None
) -> Result | None:
    """Combine ballots (the last one per voter wins); None when there are none. With
    `question_level`, the suggested level is capped by it (see the module docstring)."""
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
    flags = Counter(flag for ballot in ordered for flag in set(ballot.red_flags))
    return Result(
        voters=len(ordered),
        criteria=tuple(criteria),
        overall=overall,
        level=suggested_level(overall, question_level),
        signals=tuple((signal, counts[signal]) for signal in SIGNALS),
        comments=tuple(ballot.comment for ballot in ordered if ballot.comment),
        red_flags=tuple(sorted(flags.items(), key=lambda item: (-item[1], item[0]))),
        uncapped_level=suggested_level(overall),
    )
