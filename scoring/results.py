"""Per-mock results stored when they settle, so progress never re-reads every vote."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bank.models import Interview, Workspace
from bank.upsert import upsert
from scoring import totals
from scoring.aggregate import Result
from scoring.models import MemberTotal, MockResult, PointsEntry
from scoring.rubric import rubric_for
from scoring.votes import result_of


def calibrated(
    session: Session, interview: Interview, result: Result
) -> tuple[dict[str, float] | None, float | None]:
    """Calibrated per-criterion means and overall for a result; (None, None) until rater
    calibration (`scoring.calibration`) is wired here. The one place those values are filled."""
    return None, None


def record_result(session: Session, interview: Interview, result: Result, now: datetime) -> None:
    """Store (or overwrite, for a revised final result) the mock's settled result."""
    assert interview.ended_at is not None
    calibrated_criteria, calibrated_overall = calibrated(session, interview, result)
    upsert(
        session,
        MockResult,
        {
            "interview_id": interview.id,
            "workspace_id": interview.workspace_id,
            "candidate_id": interview.candidate_id,
            "question_id": interview.question_id,
            "ended_at": interview.ended_at,
            "settled_at": now,
            "criteria": {c.id: c.mean for c in result.criteria},
            "overall": result.overall,
            "voters": result.voters,
            "signals": dict(result.signals),
            "calibrated_criteria": calibrated_criteria,
            "calibrated_overall": calibrated_overall,
        },
        ("interview_id",),
        (
            "settled_at",
            "criteria",
            "overall",
            "voters",
            "signals",
            "calibrated_criteria",
            "calibrated_overall",
        ),
    )


def rebuild_results(session: Session, now: datetime) -> int:
    """Recompute the stored result of every mock whose result was sent; rows written.

    For databases that had results before this table existed (and for repairs). Mocks are read
    one at a time, so memory stays bounded.
    """
    session.execute(delete(MockResult))
    sent = select(Interview.id).where(Interview.results_sent_at.is_not(None)).order_by(Interview.id)
    written = 0
    for interview_id in list(session.scalars(sent)):
        interview = session.get_one(Interview, interview_id)
        workspace = session.get_one(Workspace, interview.workspace_id)
        result = result_of(session, interview, rubric_for(workspace.rubric))
        if result is not None:
            record_result(session, interview, result, interview.results_sent_at or now)
            written += 1
        session.expunge(interview)
    return written


def backfill(session: Session, now: datetime) -> tuple[int, int] | None:
    """Fill the running totals and stored results of a database that predates them (migration
    0005 creates them empty); None when nothing was missing. Cheap to call on every start."""
    totals_missing = session.scalar(select(PointsEntry.id).limit(1)) is not None and (
        session.scalar(select(MemberTotal.member_id).limit(1)) is None
    )
    results_missing = session.scalar(
        select(Interview.id).where(Interview.results_sent_at.is_not(None)).limit(1)
    ) is not None and (session.scalar(select(MockResult.interview_id).limit(1)) is None)
    if not totals_missing and not results_missing:
        return None
    rows = totals.rebuild(session) if totals_missing else 0
    return rows, rebuild_results(session, now) if results_missing else 0
