"""The points ledger: every award is a row keyed (kind, reference, member), so none counts twice."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bank.upsert import insert_ignore
from scoring import totals
from scoring.models import PointsEntry


class PointKind(StrEnum):
    DAILY_ANSWER = "daily-answer"
    MOCK_CANDIDATE = "mock-candidate"
    MOCK_INTERVIEWER = "mock-interviewer"
    PEER_VOTE = "peer-vote"
    SCORE_BONUS = "score-bonus"
    SUGGESTION_APPROVED = "suggestion-approved"


# Points per award; the README documents this table.
DEFAULT_POINTS: dict[PointKind, int] = {
    PointKind.DAILY_ANSWER: 10,
    PointKind.MOCK_CANDIDATE: 30,
    PointKind.MOCK_INTERVIEWER: 20,
    PointKind.PEER_VOTE: 5,
    PointKind.SCORE_BONUS: 10,  # per point of weighted score above 2 (see scoring.votes)
    PointKind.SUGGESTION_APPROVED: 25,  # a member's question approved into the bank
}


class PointsSettings(BaseSettings):
    """`DOJO_POINTS`, e.g. `{"daily-answer": 15}`, overrides entries of the table above."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    dojo_points: dict[PointKind, Annotated[int, Field(ge=0, le=1000)]] = {}


@cache
def points_table() -> dict[PointKind, int]:
    return {**DEFAULT_POINTS, **PointsSettings().dojo_points}


def award(
    session: Session,
    workspace_id: int,
    member_id: int,
    kind: PointKind,
    reference: str,
    at: datetime,
    points: int | None = None,
    *,
    replace: bool = False,
) -> bool:
    """Record an award once; a retry of the same award is a no-op. True if it was new.

    `replace` revises the points of an existing award (a revised result) instead. Either way the
    running totals (`scoring.totals`) change by the difference in the same transaction.
    """
    value = points_table()[kind] if points is None else points
    values = {
        "workspace_id": workspace_id,
        "member_id": member_id,
        "kind": kind.value,
        "reference": reference,
        "points": value,
        "created_at": at,
    }
    key = ("kind", "reference", "member_id")
    if insert_ignore(session, PointsEntry, values, key):
        totals.add(session, workspace_id, member_id, at, value)
        return True
    if not replace:
        return False
    # the row is locked until commit, so concurrent revisions apply their differences in turn
    row = session.execute(
        select(PointsEntry.id, PointsEntry.points, PointsEntry.created_at)
        .where(
            PointsEntry.kind == kind.value,
            PointsEntry.reference == reference,
            PointsEntry.member_id == member_id,
        )
        .with_for_update()
    ).one()
    if row.points != value:
        session.execute(update(PointsEntry).where(PointsEntry.id == row.id).values(points=value))
        totals.add(session, workspace_id, member_id, row.created_at, value - row.points)
    return True
