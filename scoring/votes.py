"""Peer votes on a finished mock, with every rule enforced in one place.

A vote is an upsert on the unique (interview, voter) pair: concurrent or repeated submissions
leave exactly one row, holding the latest scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.orm import Session

from bank.models import Interview, InterviewParticipant, Member
from bank.scope import Scope
from bank.upsert import affected_rows, upsert
from scoring.aggregate import SIGNALS, Ballot, Result, aggregate, weighted_score
from scoring.ledger import PointKind, award, points_table
from scoring.models import Vote
from scoring.rubric import Rubric

VOTE_WINDOW = timedelta(hours=48)


class VoteError(Exception):
    """A vote that is refused; the message says why, for the voter."""


@dataclass(frozen=True)
class VoteReceipt:
    replaced: bool
    overall: float
    all_interviewers_voted: bool


def check_scores(scores: tuple[int, ...], rubric: Rubric) -> dict[str, int]:
    if len(scores) != len(rubric.criteria):
        names = ", ".join(c.name for c in rubric.criteria)
        raise VoteError(f"give {len(rubric.criteria)} scores, one per criterion in order: {names}")
    for criterion, score in zip(rubric.criteria, scores, strict=True):
        if not 1 <= score <= 4:
            raise VoteError(f"{criterion.name} is {score}: scores must be 1–4")
    return dict(zip(rubric.ids, scores, strict=True))


def submit_vote(
    session: Session,
    interview: Interview,
    voter: Member,
    scores: tuple[int, ...],
    signal: str,
    comment: str,
    rubric: Rubric,
    now: datetime,
    window: timedelta = VOTE_WINDOW,
    red_flags: Sequence[str] = (),
) -> VoteReceipt:
    """Record (or replace) a voter's scores; `red_flags` are the question's flags they ticked.
    Raises VoteError with the reason when the vote is refused."""
    if voter.workspace_id != interview.workspace_id:
        raise VoteError("only members of this workspace can score its mocks")
    if voter.id == interview.candidate_id:
        raise VoteError("you cannot score your own mock")
    if interview.status != "ended" or interview.ended_at is None:
        raise VoteError(f"mock #{interview.number} is still running: score it once it has ended")
    if now >= interview.ended_at + window:  # the same instant results become due
        hours = int(window.total_seconds() // 3600)
        raise VoteError(f"voting on mock #{interview.number} closed {hours} h after it ended")
    if signal not in SIGNALS:
        raise VoteError(f"the signal must be one of {', '.join(SIGNALS)}")
    by_id = check_scores(scores, rubric)
    replaced = (
        session.scalar(
            select(Vote.id).where(Vote.interview_id == interview.id, Vote.voter_id == voter.id)
        )
        is not None
    )
    overall = weighted_score(by_id, rubric)
    upsert(
        session,
        Vote,
        {
            "interview_id": interview.id,
            "voter_id": voter.id,
            "scores": by_id,
            "overall": overall,
            "signal": signal,
            "comment": comment.strip()[:2000],
            "red_flags": list(dict.fromkeys(red_flags)),
            "created_at": now,
            "updated_at": now,
        },
        ("interview_id", "voter_id"),
        ("scores", "overall", "signal", "comment", "red_flags", "updated_at"),
    )
    award(
        session,
        interview.workspace_id,
        voter.id,
        PointKind.PEER_VOTE,
        f"interview:{interview.id}",
        now,
    )
    return VoteReceipt(replaced, overall, all_interviewers_voted(session, interview))


def all_interviewers_voted(session: Session, interview: Interview) -> bool:
    panel = set(
        session.scalars(
            select(InterviewParticipant.member_id).where(
                InterviewParticipant.interview_id == interview.id
            )
        )
    )
    voted = set(session.scalars(select(Vote.voter_id).where(Vote.interview_id == interview.id)))
    return bool(panel) and panel <= voted


def ballots(session: Session, interview_id: int) -> list[Ballot]:
    """One ballot per voter, keyed by member id: display names are not unique."""
    votes = session.scalars(
        select(Vote).where(Vote.interview_id == interview_id).order_by(Vote.voter_id)
    )
    return [
        Ballot(str(v.voter_id), v.scores, v.signal, v.comment, tuple(v.red_flags or ()))
        for v in votes
    ]


def result_of(
    session: Session, interview: Interview, rubric: Rubric, question_level: str | None = None
) -> Result | None:
    return aggregate(ballots(session, interview.id), rubric, question_level)


def _unsent_or_outdated() -> ColumnElement[bool]:
    """Never sent, or a vote changed since it was sent."""
    newer_vote = exists().where(
        Vote.interview_id == Interview.id, Vote.updated_at > Interview.results_sent_at
    )
    return or_(Interview.results_sent_at.is_(None), newer_vote)


def claim_result_delivery(
    session: Session, interview: Interview, now: datetime, *, final: bool = False
) -> bool:
    """True for exactly one caller: the one that should send the candidate their result.

    The first result goes out once (when the panel has voted, or when the window closes); at
    the close a final one goes out only if votes arrived or changed after the first.
    """
    condition = _unsent_or_outdated() if final else Interview.results_sent_at.is_(None)
    claim = (
        update(Interview)
        .where(Interview.id == interview.id, condition)
        .values(results_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(session, claim) == 1


def score_bonus(session: Session, interview: Interview, result: Result, now: datetime) -> None:
    """Candidate bonus: 10 points per point of weighted score above 2 (prorated, rounded)."""
    points = max(0, round((result.overall - 2) * points_table()[PointKind.SCORE_BONUS]))
    award(  # a revised result revises the bonus: the same ledger row, never a second one
        session,
        interview.workspace_id,
        interview.candidate_id,
        PointKind.SCORE_BONUS,
        f"interview:{interview.id}",
        now,
        points,
        replace=True,
    )


def results_due(
    session: Session, now: datetime, scope: Scope, window: timedelta = VOTE_WINDOW
) -> list[int]:
    """Ended mocks of `scope`'s workspaces whose vote window has closed and whose final result
    is not settled yet."""
    return list(
        session.scalars(
            select(Interview.id).where(
                Interview.status == "ended",
                Interview.results_final_at.is_(None),
                Interview.ended_at <= now - window,
                scope.owns(Interview.workspace_id),
            )
        )
    )


def settle_final_result(session: Session, interview: Interview, now: datetime) -> bool:
    """Mark the result final, once; True for the one caller that should look at it. Whether a
    (revised) result still has to be sent is `claim_result_delivery(final=True)`'s answer."""
    claim = (
        update(Interview)
        .where(Interview.id == interview.id, Interview.results_final_at.is_(None))
        .values(results_final_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(session, claim) == 1
