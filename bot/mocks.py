"""Mock interviews: start, join, the phase controls, timers and the end summary.

Each function runs inside the caller's unit of work. Timers are rows: a phase's deadline lives on
the interview, and each reminder is claimed with a conditional UPDATE, so a restart re-arms from
the database and no reminder is sent twice, whichever process sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from bank.models import Interview, InterviewParticipant, InterviewPhase, Member, Question, Workspace
from bank.scope import Scope
from bank.upsert import affected_rows
from bot.phases import PHASES, WARNING_SECONDS, budget_seconds
from scoring.ledger import PointKind, award

IDLE_LIMIT = timedelta(hours=2)
MIN_PRACTICE_SECONDS = 10 * 60
LIVE = ("running", "paused")


class MockError(Exception):
    """A request about a mock that cannot be done; the message is for the user."""


@dataclass(frozen=True)
class Reminder:
    interview_id: int
    kind: str  # "warning" or "timeup"
    phase_index: int


@dataclass(frozen=True)
class PhaseTime:
    name: str
    spent_seconds: int
    budget_seconds: int


def _seconds(delta: timedelta) -> int:
    return max(0, round(delta.total_seconds()))


def running_mock_of(session: Session, member: Member) -> Interview | None:
    return session.scalars(
        select(Interview).where(Interview.candidate_id == member.id, Interview.status.in_(LIVE))
    ).first()


def _guard_kit(session: Session, member: Member, question_id: int, who: str) -> None:
    """The kit of a question stays away from its candidates: someone who is the candidate of a
    running mock on this question cannot interview on it elsewhere (MockError)."""
    running = running_mock_of(session, member)
    if running is not None and running.question_id == question_id:
        raise MockError(
            f"{who} the candidate of a running mock on this question, so cannot interview on "
            "it until that mock ends"
        )


def start_mock(
    session: Session,
    workspace: Workspace,
    channel_id: int,
    candidate: Member,
    interviewers: list[Member],
    question: Question,
    variant: str,
    now: datetime,
    number: int | None = None,
) -> Interview:
    """Start a mock; `number` is given when a booking reserved it, else the next one is taken."""
    # One start at a time per candidate (the row lock), checked after taking it; NO KEY UPDATE
    # lets other transactions keep inserting rows that merely reference this member.
    session.execute(
        select(Member.id).where(Member.id == candidate.id).with_for_update(key_share=True)
    )
    if running_mock_of(session, candidate) is not None:
        raise MockError("you already have a mock running: end it before starting another")
    for member in interviewers:
        if member.id != candidate.id:
            _guard_kit(session, member, question.id, f"{member.display_name} is")
    if number is None:
        number = allocate_number(session, workspace)
    budget = budget_seconds(0, variant)
    interview = Interview(
        workspace_id=workspace.id,
        number=number,
        channel_id=channel_id,
        question_id=question.id,
        candidate_id=candidate.id,
        variant=variant,
        status="running",
        phase_index=0,
        phase_deadline=now + timedelta(seconds=budget),
        started_at=now,
        last_activity_at=now,
    )
    session.add(interview)
    session.flush()
    session.add(
        InterviewPhase(
            interview_id=interview.id,
            phase_index=0,
            budget_seconds=budget,
            started_at=now,
            paused_seconds=0,
        )
    )
    for member in interviewers:
        if member.id != candidate.id:
            session.add(
                InterviewParticipant(interview_id=interview.id, member_id=member.id, joined_at=now)
            )
    question.times_drawn += 1
    session.flush()
    return interview


def allocate_number(session: Session, workspace: Workspace) -> int:
    """The workspace's next mock number (#N), taken atomically."""
    allocate = (
        update(Workspace)
        .where(Workspace.id == workspace.id)
        .values(next_mock_number=Workspace.next_mock_number + 1)
        .returning(Workspace.next_mock_number)
    )
    return int(session.execute(allocate).scalar_one()) - 1


def find_mock(
    session: Session, workspace: Workspace, number: int | None, thread_id: str | None
) -> Interview:
    if number is not None:
        interview = session.scalars(
            select(Interview).where(
                Interview.workspace_id == workspace.id, Interview.number == number
            )
        ).first()
        if interview is None:
            raise MockError(f"there is no mock #{number}")
        return interview
    if thread_id is not None:
        interview = session.scalars(
            select(Interview).where(
                Interview.workspace_id == workspace.id, Interview.thread_external_id == thread_id
            )
        ).first()
        if interview is not None:
            return interview
    raise MockError("name the mock, like #3 (or use the buttons in its thread)")


def interviewers(session: Session, interview: Interview, took_part: bool = False) -> list[Member]:
    """The panel (named or joined); with `took_part`, only those who took part (see `took_part`)."""
    query = (
        select(Member)
        .join(InterviewParticipant, InterviewParticipant.member_id == Member.id)
        .where(InterviewParticipant.interview_id == interview.id)
        .order_by(InterviewParticipant.joined_at, Member.id)
    )
    if took_part:
        query = query.where(InterviewParticipant.took_part_at.is_not(None))
    return list(session.scalars(query))


def current_phase(session: Session, interview: Interview) -> InterviewPhase:
    return session.scalars(
        select(InterviewPhase).where(
            InterviewPhase.interview_id == interview.id,
            InterviewPhase.phase_index == interview.phase_index,
        )
    ).one()


def may_control(session: Session, interview: Interview, member: Member, is_admin: bool) -> bool:
    if is_admin or member.id == interview.candidate_id:
        return True
    return any(m.id == member.id for m in interviewers(session, interview))


def require_control(session: Session, interview: Interview, member: Member, is_admin: bool) -> None:
    if not may_control(session, interview, member, is_admin):
        raise MockError(
            f"only the candidate and interviewers of mock #{interview.number} can do that"
            " (`/mlsd join` to become an interviewer)"
        )


def require_live(interview: Interview) -> None:
    if interview.status not in LIVE:
        raise MockError(f"mock #{interview.number} has ended")


def join(session: Session, interview: Interview, member: Member, now: datetime) -> bool:
    require_live(interview)
    if member.id == interview.candidate_id:
        raise MockError("you are the candidate of this mock")
    _guard_kit(session, member, interview.question_id, "you are")
    if any(m.id == member.id for m in interviewers(session, interview)):
        return False
    session.add(
        InterviewParticipant(
            interview_id=interview.id, member_id=member.id, joined_at=now, took_part_at=now
        )
    )
    interview.last_activity_at = now
    return True


def took_part(session: Session, interview: Interview, member: Member, now: datetime) -> None:
    """Record that an interviewer took part: joined themselves or wrote in the mock's thread
    while it ran. Only such interviewers earn interviewer points; being named is not enough, and
    pressing phase buttons is not counted (anyone on the panel can click without interviewing)."""
    session.execute(
        update(InterviewParticipant)
        .where(
            InterviewParticipant.interview_id == interview.id,
            InterviewParticipant.member_id == member.id,
            InterviewParticipant.took_part_at.is_(None),
        )
        .values(took_part_at=now)
        .execution_options(synchronize_session=False)
    )


def remaining_seconds(interview: Interview, now: datetime) -> int:
    if interview.status == "paused":
        return interview.paused_remaining_seconds or 0
    if interview.phase_deadline is None:
        return 0
    return _seconds(interview.phase_deadline - now)


def _close_phase(session: Session, interview: Interview, now: datetime) -> InterviewPhase:
    phase = current_phase(session, interview)
    if interview.status == "paused" and interview.paused_at is not None:
        phase.paused_seconds += _seconds(now - interview.paused_at)
    phase.ended_at = now
    return phase


def next_phase(session: Session, interview: Interview, now: datetime) -> InterviewPhase | None:
    """Close the current phase and open the next; None when that was the last (mock ended)."""
    require_live(interview)
    closed = _close_phase(session, interview, now)
    if interview.phase_index + 1 >= len(PHASES):
        _finish(session, interview, now, "completed")
        return None
    interview.phase_index += 1
    budget = budget_seconds(interview.phase_index, interview.variant)
    interview.status = "running"
    interview.paused_at = None
    interview.paused_remaining_seconds = None
    interview.phase_deadline = now + timedelta(seconds=budget)
    interview.last_activity_at = now
    opened = InterviewPhase(
        interview_id=interview.id,
        phase_index=interview.phase_index,
        budget_seconds=budget,
        started_at=now,
        paused_seconds=0,
    )
    session.add(opened)
    session.flush()
    assert closed.ended_at is not None
    return opened


def pause(interview: Interview, now: datetime) -> int:
    require_live(interview)
    if interview.status == "paused":
        raise MockError(f"mock #{interview.number} is already paused")
    left = remaining_seconds(interview, now)
    interview.status = "paused"
    interview.paused_at = now
    interview.paused_remaining_seconds = left
    interview.phase_deadline = None
    interview.last_activity_at = now
    return left


def resume(session: Session, interview: Interview, now: datetime) -> int:
    require_live(interview)
    if interview.status != "paused":
        raise MockError(f"mock #{interview.number} is not paused")
    phase = current_phase(session, interview)
    if interview.paused_at is not None:
        phase.paused_seconds += _seconds(now - interview.paused_at)
    left = interview.paused_remaining_seconds or 0
    interview.status = "running"
    interview.phase_deadline = now + timedelta(seconds=left)
    interview.paused_at = None
    interview.paused_remaining_seconds = None
    interview.last_activity_at = now
    return left


def extend(session: Session, interview: Interview, minutes: int, now: datetime) -> int:
    """Give the current phase more time; reminders re-arm for the new deadline."""
    require_live(interview)
    phase = current_phase(session, interview)
    phase.budget_seconds += 60 * minutes
    if interview.status == "paused":
        interview.paused_remaining_seconds = (
            interview.paused_remaining_seconds or 0
        ) + 60 * minutes
    else:
        deadline = interview.phase_deadline or now
        interview.phase_deadline = max(deadline, now) + timedelta(minutes=minutes)
    left = remaining_seconds(interview, now)
    if left > WARNING_SECONDS:
        phase.warning_sent_at = None
    if left > 0:
        phase.timeup_sent_at = None
    interview.last_activity_at = now
    return left


def end(session: Session, interview: Interview, now: datetime, reason: str = "ended") -> None:
    require_live(interview)
    _close_phase(session, interview, now)
    _finish(session, interview, now, reason)


def _finish(session: Session, interview: Interview, now: datetime, reason: str) -> None:
    interview.status = "ended"
    interview.ended_at = now
    interview.end_reason = reason
    interview.phase_deadline = None
    interview.paused_at = None
    interview.paused_remaining_seconds = None
    practised = sum(t.spent_seconds for t in phase_times(session, interview))
    # a completed practice: the last phase reached after real time spent (no Next-Next-End)
    if interview.phase_index == len(PHASES) - 1 and practised >= MIN_PRACTICE_SECONDS:
        reference = f"interview:{interview.id}"
        award(
            session,
            interview.workspace_id,
            interview.candidate_id,
            PointKind.MOCK_CANDIDATE,
            reference,
            now,
        )
        for member in interviewers(session, interview, took_part=True):
            award(
                session,
                interview.workspace_id,
                member.id,
                PointKind.MOCK_INTERVIEWER,
                reference,
                now,
            )


def phase_times(session: Session, interview: Interview) -> list[PhaseTime]:
    rows = session.scalars(
        select(InterviewPhase)
        .where(InterviewPhase.interview_id == interview.id)
        .order_by(InterviewPhase.phase_index)
    )
    return [
        PhaseTime(
            PHASES[row.phase_index].name,
            _seconds((row.ended_at or row.started_at) - row.started_at) - row.paused_seconds,
            row.budget_seconds,
        )
        for row in rows
    ]


def claim_reminders(session: Session, now: datetime, scope: Scope) -> list[Reminder]:
    """Reminders due now in this process's workspaces, each claimed exactly once by a
    conditional UPDATE."""
    horizon = now + timedelta(seconds=WARNING_SECONDS)
    due = session.execute(
        select(Interview.id, Interview.phase_index, Interview.phase_deadline)
        .where(
            Interview.status == "running",
            Interview.phase_deadline <= horizon,
            Interview.thread_external_id.is_not(None),  # not yet (or never) posted: nothing to say
            scope.owns(Interview.workspace_id),
        )
        .order_by(Interview.phase_deadline)
    ).all()
    claimed: list[Reminder] = []
    for interview_id, phase_index, deadline in due:
        assert deadline is not None
        kind, column = (
            ("timeup", InterviewPhase.timeup_sent_at)
            if deadline <= now
            else ("warning", InterviewPhase.warning_sent_at)
        )
        values = {column.key: now}
        if kind == "timeup":
            values["warning_sent_at"] = now  # a late warning after time-up would only confuse
        claim = (
            update(InterviewPhase)
            .where(
                InterviewPhase.interview_id == interview_id,
                InterviewPhase.phase_index == phase_index,
                column.is_(None),
                # still the same phase and deadline: a concurrent next/extend/pause wins
                exists().where(
                    Interview.id == interview_id,
                    Interview.status == "running",
                    Interview.phase_index == phase_index,
                    Interview.phase_deadline == deadline,
                ),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if affected_rows(session, claim) == 1:
            claimed.append(Reminder(interview_id, kind, phase_index))
    return claimed


def idle_mocks(session: Session, now: datetime, scope: Scope) -> list[Interview]:
    return list(
        session.scalars(
            select(Interview).where(
                Interview.status.in_(LIVE),
                Interview.last_activity_at < now - IDLE_LIMIT,
                scope.owns(Interview.workspace_id),
            )
        )
    )
