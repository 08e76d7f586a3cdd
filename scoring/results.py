"""Per-mock results stored when they settle, so progress never re-reads every vote."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bank.models import Interview, Question, Workspace
from bank.upsert import upsert
from scoring import totals
from scoring.aggregate import Result
from scoring.calibration import calibrated_scores, workspace_leniency
from scoring.models import MemberTotal, MockResult, PointsEntry, ProgressTotal
from scoring.rubric import rubric_for
from scoring.votes import ballots, result_of


def calibrated(
    session: Session, interview: Interview, result: Result
) -> tuple[dict[str, float] | None, float | None]:
    """Calibrated per-criterion means and overall for a result, as rater calibration
    (`scoring.calibration`) gives them when the result settles; (None, None) while the workspace
    has too few votes to estimate leniency. The one place those values are filled."""
    offsets = workspace_leniency(session, interview.workspace_id)
    if offsets is None:
        return None, None
    workspace = session.get(Workspace, interview.workspace_id)
    rubric = rubric_for(workspace.rubric if workspace is not None else None)
    scores = calibrated_scores(ballots(session, interview.id), offsets, rubric)
    if scores is None:
        return None, None
    return scores.criteria, scores.overall


def _add_progress(
    session: Session, candidate_id: int, family_id: int, deltas: dict[str, tuple[float, int]]
) -> None:
    """Add (sum, count) differences to the member's per-family criterion totals, one statement."""
    if not deltas:
        return
    dialect = session.get_bind().dialect.name
    insert_: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = insert_(ProgressTotal).values(
        [
            {"candidate_id": candidate_id, "family_id": family_id, "criterion": criterion,
             "score_sum": total, "scored": count}
            for criterion, (total, count) in sorted(deltas.items())
        ]
    )  # fmt: skip
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["candidate_id", "family_id", "criterion"],
            set_={
                "score_sum": ProgressTotal.score_sum + statement.excluded.score_sum,
                "scored": ProgressTotal.scored + statement.excluded.scored,
            },
        )
    )


def record_result(session: Session, interview: Interview, result: Result, now: datetime) -> None:
    """Store (or overwrite, for a revised final result) the mock's settled result, and move the
    candidate's progress totals by the difference, in the caller's transaction."""
    assert interview.ended_at is not None
    calibrated_criteria, calibrated_overall = calibrated(session, interview, result)
    previous = session.scalar(  # locked: concurrent revisions apply their differences in turn
        select(MockResult.criteria).where(MockResult.interview_id == interview.id).with_for_update()
    )
    criteria = {c.id: c.mean for c in result.criteria}
    deltas: dict[str, tuple[float, int]] = {}
    for criterion, mean in criteria.items():
        deltas[criterion] = (mean, 1)
    for criterion, mean in (previous or {}).items():
        total, count = deltas.get(criterion, (0.0, 0))
        deltas[criterion] = (total - mean, count - 1)
    family_id = session.scalar(
        select(Question.family_id).where(Question.id == interview.question_id)
    )
    assert family_id is not None
    _add_progress(
        session,
        interview.candidate_id,
        family_id,
        {c: d for c, d in deltas.items() if d != (0.0, 0)},
    )
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
            "criteria": criteria,
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
    session.execute(delete(ProgressTotal))
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


ProgressKey = tuple[int, int, str]  # (candidate id, family id, criterion id)


def stored_progress(session: Session) -> dict[ProgressKey, tuple[float, int]]:
    """Every stored progress total with a count (for checks and tests)."""
    return {
        (m, f, c): (total, count)
        for m, f, c, total, count in session.execute(
            select(
                ProgressTotal.candidate_id,
                ProgressTotal.family_id,
                ProgressTotal.criterion,
                ProgressTotal.score_sum,
                ProgressTotal.scored,
            ).where(ProgressTotal.scored != 0)
        )
    }


def recomputed_progress(session: Session) -> dict[ProgressKey, tuple[float, int]]:
    """The progress totals recomputed from the stored results (for checks and tests)."""
    sums: dict[ProgressKey, tuple[float, int]] = {}
    for candidate, family, criteria in session.execute(
        select(MockResult.candidate_id, Question.family_id, MockResult.criteria).join(
            Question, Question.id == MockResult.question_id
        )
    ):
        for criterion, mean in criteria.items():
            total, count = sums.get((candidate, family, criterion), (0.0, 0))
            sums[(candidate, family, criterion)] = (total + mean, count + 1)
    return sums
