"""Rater calibration: some voters score every mock half a point high, others low. Estimating each
voter's leniency from their history and subtracting it makes a score mean the same whoever gave it.

Leniency of a voter = their mean offset from the *other* voters on the same mocks (one offset per
criterion they both scored), shrunk towards zero: `sum(offsets) / (count + SHRINKAGE)`. With few
shared votes the estimate stays near zero; with many it approaches the plain mean offset. A
calibrated score is the raw score minus the voter's leniency, clamped to 1-4.

Everything here but `workspace_leniency` is pure, so hypothesis checks the properties: never
outside 1-4, a voter who always agrees with the panel has offset 0, the order of votes is
irrelevant (sums use `math.fsum`, which is exact whatever the order).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bank.models import Interview
from scoring.aggregate import Ballot
from scoring.models import Vote
from scoring.rubric import Rubric

SHRINKAGE = 10.0  # pseudo-offsets of zero: ten criterion scores before half the offset counts
MIN_SCORE, MAX_SCORE = 1.0, 4.0


class CalibrationSettings(BaseSettings):
    """`DOJO_CALIBRATION_MIN_VOTES`: votes a workspace needs before results show calibrated
    scores (raw ones stay available). 0 calibrates from the first vote."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    dojo_calibration_min_votes: Annotated[int, Field(ge=0, le=1_000_000)] = 30


@cache
def min_votes() -> int:
    return CalibrationSettings().dojo_calibration_min_votes


@dataclass(frozen=True)
class MockVote:
    """One voter's scores on one mock (criterion id → 1-4)."""

    mock: str
    voter: str
    scores: Mapping[str, int]


def leniency(votes: Iterable[MockVote], shrinkage: float = SHRINKAGE) -> dict[str, float]:
    """Voter → shrunk mean offset from the other voters on the same mocks (score points, + means
    lenient). A voter who never shared a mock with another voter gets 0."""
    latest = {(v.mock, v.voter): v for v in votes}  # one vote per voter per mock
    by_mock: dict[str, list[MockVote]] = defaultdict(list)
    for vote in latest.values():
        by_mock[vote.mock].append(vote)
    offsets: dict[str, list[float]] = defaultdict(list)
    for panel in by_mock.values():
        totals: dict[str, list[int]] = defaultdict(list)
        for vote in panel:
            for criterion, score in vote.scores.items():
                totals[criterion].append(score)
        for vote in panel:
            for criterion, score in vote.scores.items():
                scores = totals[criterion]
                if len(scores) < 2:
                    continue
                others = (sum(scores) - score) / (len(scores) - 1)
                offsets[vote.voter].append(score - others)
    voters = {vote.voter for vote in latest.values()}
    return {
        voter: math.fsum(offsets[voter]) / (len(offsets[voter]) + shrinkage) for voter in voters
    }


def calibrate(score: float, offset: float) -> float:
    """A raw score with the voter's leniency taken out, kept within 1-4."""
    return min(MAX_SCORE, max(MIN_SCORE, score - offset))


@dataclass(frozen=True)
class CalibratedScores:
    """A mock's calibrated scores: per criterion the mean of calibrated votes, and the weighted
    overall (both 1-4); `criteria` holds only criteria someone scored."""

    criteria: dict[str, float]
    overall: float


def calibrated_scores(
    ballots: Iterable[Ballot], offsets: Mapping[str, float], rubric: Rubric
) -> CalibratedScores | None:
    """The pure function progress and results call for one mock: its ballots (voter ids as in
    `offsets`; a voter without an offset counts raw) → calibrated scores, None without ballots."""
    latest = {ballot.voter: ballot for ballot in ballots}
    criteria: dict[str, float] = {}
    for criterion in rubric.criteria:
        values = [
            calibrate(b.scores[criterion.id], offsets.get(voter, 0.0))
            for voter, b in sorted(latest.items())
            if criterion.id in b.scores
        ]
        if values:
            criteria[criterion.id] = math.fsum(values) / len(values)
    if not criteria:
        return None
    weights = {c.id: c.weight for c in rubric.criteria if c.id in criteria}
    overall = math.fsum(criteria[c] * w for c, w in weights.items()) / sum(weights.values())
    return CalibratedScores(criteria, overall)


def workspace_leniency(session: Session, workspace_id: int) -> dict[str, float] | None:
    """Every voter's leniency in the workspace, keyed by member id as text (as `ballots` are);
    None while the workspace has fewer than `DOJO_CALIBRATION_MIN_VOTES` votes."""
    in_workspace = Vote.interview_id.in_(
        select(Interview.id).where(Interview.workspace_id == workspace_id)
    )
    count = session.scalar(select(func.count()).select_from(Vote).where(in_workspace)) or 0
    if count < max(1, min_votes()):
        return None
    rows = session.execute(
        select(Vote.interview_id, Vote.voter_id, Vote.scores).where(in_workspace)
    )
    return leniency(MockVote(str(mock), str(voter), scores) for mock, voter, scores in rows)
