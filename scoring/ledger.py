"""The points ledger: every award is a row keyed (kind, reference, member), so none counts twice."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from bank.upsert import insert_ignore
from scoring.models import PointsEntry


class PointKind(StrEnum):
    DAILY_ANSWER = "daily-answer"
    MOCK_CANDIDATE = "mock-candidate"
    MOCK_INTERVIEWER = "mock-interviewer"
    PEER_VOTE = "peer-vote"
    SCORE_BONUS = "score-bonus"


# Points per award; the README documents this table. A deployment may override it.
DEFAULT_POINTS: dict[PointKind, int] = {
    PointKind.DAILY_ANSWER: 10,
    PointKind.MOCK_CANDIDATE: 30,
    PointKind.MOCK_INTERVIEWER: 20,
    PointKind.PEER_VOTE: 5,
    PointKind.SCORE_BONUS: 10,  # per point of weighted score above 2 (see scoring.votes)
}


def award(
    session: Session,
    workspace_id: int,
    member_id: int,
    kind: PointKind,
    reference: str,
    at: datetime,
    points: int | None = None,
) -> bool:
    """Record an award once; a retry of the same award is a no-op. True if it was new."""
    return insert_ignore(
        session,
        PointsEntry,
        {
            "workspace_id": workspace_id,
            "member_id": member_id,
            "kind": kind.value,
            "reference": reference,
            "points": DEFAULT_POINTS[kind] if points is None else points,
            "created_at": at,
        },
        ("kind", "reference", "member_id"),
    )
