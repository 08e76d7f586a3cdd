"""The pairing queue: members wait for a partner now or for a time window, and are matched.

A match needs a level within one step, overlapping topics (no topic matches any) and overlapping
availability. Roles are fair: whoever has been candidate less often recently (candidate minus
interviewer turns over `FAIRNESS_WINDOW`) is the candidate; a tie goes to whoever was candidate
longer ago, so two regular partners swap every round. The queue lives in `pair_requests`; the
one-waiting-row-per-member index and row locks keep two processes from matching a member twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bank.calendar import WEEKDAYS, next_occurrence
from bank.models import (
    Booking,
    BookingRsvp,
    Interview,
    InterviewParticipant,
    Member,
    PairRequest,
    Workspace,
)
from bank.scope import Scope
from bank.selection import LEVELS
from bank.upsert import affected_rows
from bot.mocks import LIVE, running_mock_of

NOW_WAIT = timedelta(minutes=30)  # a "now" request waits this long for a partner
WINDOW_LENGTH = timedelta(hours=1)  # a time window: from HH:MM, for an hour
IMMEDIATE = timedelta(minutes=2)  # a common start this close to now starts the mock at once
FAIRNESS_WINDOW = timedelta(days=60)
ANNOUNCE_AFTER = timedelta(minutes=2)  # a match taken up but not announced this long: a crash
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PairError(Exception):
    """A pairing request that cannot be done; the message is for the user."""


@dataclass(frozen=True)
class Match:
    """Two members matched: `starts_at` near now means a mock now, later means a booking."""

    candidate_id: int
    interviewer_id: int
    family: str | None
    starts_at: datetime
    channel_id: int  # the channel of the request that waited longer
    requests: tuple[int, int]


def window_of(
    now: datetime, at: time | None, timezone: str, days: tuple[str, ...] | None
) -> tuple[datetime, datetime]:
    """(start, end) of availability: now for `NOW_WAIT`, or the next HH:MM for an hour."""
    if at is None:
        return now, now + NOW_WAIT
    start = next_occurrence(now, at, timezone, days or WEEKDAYS)
    return start, start + WINDOW_LENGTH


def _levels_fit(a: str | None, b: str | None) -> bool:
    return a is None or b is None or abs(LEVELS.index(a) - LEVELS.index(b)) <= 1


def _overlap(a: PairRequest, b: PairRequest, now: datetime) -> datetime | None:
    """The earliest common start of two requests, or None when they never overlap."""
    start = max(a.window_start or now, b.window_start or now, now)
    end = min(a.expires_at, b.expires_at)
    return start if start < end else None


def role_balance(session: Session, member_id: int, now: datetime) -> tuple[int, datetime]:
    """(candidate turns − interviewer turns, last time as candidate) over the recent window.

    Mocks booked but not yet held count too, so a pairing made for tonight is not repeated.
    """
    since = now - FAIRNESS_WINDOW
    candidate = session.execute(
        select(func.count(), func.max(Interview.started_at)).where(
            Interview.candidate_id == member_id, Interview.started_at >= since
        )
    ).one()
    interviewer = session.scalar(
        select(func.count())
        .select_from(InterviewParticipant)
        .join(Interview, Interview.id == InterviewParticipant.interview_id)
        .where(InterviewParticipant.member_id == member_id, Interview.started_at >= since)
    )
    booked = session.execute(
        select(BookingRsvp.role, func.count(), func.max(Booking.starts_at))
        .join(Booking, Booking.id == BookingRsvp.booking_id)
        .where(
            BookingRsvp.member_id == member_id,
            Booking.status.in_(("booked", "open")),
            BookingRsvp.role.in_(("candidate", "interviewer")),
        )
        .group_by(BookingRsvp.role)
    ).all()
    turns = int(candidate[0]) - int(interviewer or 0)
    last = candidate[1] or EPOCH
    for role, count, latest in booked:
        turns += count if role == "candidate" else -count
        if role == "candidate" and latest is not None:
            last = max(last, latest)
    return turns, last


def choose_roles(
    session: Session, first: PairRequest, second: PairRequest, now: datetime
) -> tuple[int, int]:
    """(candidate member id, interviewer member id) for a matched pair."""

    def key(request: PairRequest) -> tuple[int, datetime, datetime]:
        turns, last = role_balance(session, request.member_id, now)
        return turns, last, request.created_at

    ordered = sorted((first, second), key=key)
    return ordered[0].member_id, ordered[1].member_id


def waiting_request(session: Session, member_id: int) -> PairRequest | None:
    return session.scalars(
        select(PairRequest).where(
            PairRequest.member_id == member_id, PairRequest.status == "waiting"
        )
    ).first()


def join_queue(
    session: Session,
    workspace: Workspace,
    channel_id: int,
    member: Member,
    family: str | None,
    level: str | None,
    window: tuple[datetime, datetime],
    now: datetime,
) -> tuple[PairRequest, Match | None]:
    """Queue `member`, then try to match them at once. Raises `PairError` if already waiting.

    The members' rows are locked in id order so two matchers never pick the same partner.
    """
    session.execute(select(Member.id).where(Member.id == member.id).with_for_update(key_share=True))
    if waiting_request(session, member.id) is not None:
        raise PairError("you are already in the pairing queue: `/mlsd pair leave` first")
    if running_mock_of(session, member) is not None:
        raise PairError("you have a mock running as the candidate: end it before pairing again")
    start, end = window
    request = PairRequest(
        workspace_id=workspace.id,
        channel_id=channel_id,
        member_id=member.id,
        family=family,
        level=level,
        window_start=None if start <= now else start,
        expires_at=end,
        status="waiting",
        created_at=now,
    )
    session.add(request)
    session.flush()
    return request, _match(session, request, now)


def _match(session: Session, request: PairRequest, now: datetime) -> Match | None:
    others = session.scalars(
        select(PairRequest)
        .where(
            PairRequest.workspace_id == request.workspace_id,
            PairRequest.status == "waiting",
            PairRequest.member_id != request.member_id,
            PairRequest.expires_at > now,
        )
        .order_by(PairRequest.created_at, PairRequest.id)
    ).all()
    for other in others:
        if not _levels_fit(request.level, other.level):
            continue
        if session.scalar(
            select(Interview.id).where(
                Interview.candidate_id == other.member_id, Interview.status.in_(LIVE)
            )
        ):
            continue  # busy as a candidate right now: keep them waiting
        if request.family and other.family and request.family != other.family:
            continue
        start = _overlap(request, other, now)
        if start is None:
            continue
        claim = (
            update(PairRequest)
            .where(PairRequest.id == other.id, PairRequest.status == "waiting")
            .values(
                status="matched", partner_id=request.member_id, closed_at=now, announcing_at=now
            )
            .execution_options(synchronize_session=False)
        )
        if affected_rows(session, claim) != 1:
            continue  # another process matched them a moment ago
        candidate, interviewer = choose_roles(session, other, request, now)
        request.status = "matched"
        request.partner_id = other.member_id
        request.closed_at = request.announcing_at = now
        request.role = "candidate" if candidate == request.member_id else "interviewer"
        session.execute(
            update(PairRequest)
            .where(PairRequest.id == other.id)
            .values(role="candidate" if candidate == other.member_id else "interviewer")
            .execution_options(synchronize_session=False)
        )
        return Match(
            candidate,
            interviewer,
            request.family or other.family,
            start if start - now > IMMEDIATE else now,
            other.channel_id,
            (other.id, request.id),
        )
    return None


def claim_unannounced(
    session: Session, scope: Scope, now: datetime, after: timedelta = ANNOUNCE_AFTER
) -> list[tuple[PairRequest, PairRequest]]:
    """Matches on this platform taken up more than `after` ago and never announced (the process
    died between the match and the last note), as (candidate's row, interviewer's row); each
    claimed once across processes by moving both rows' `announcing_at` forward."""
    rows = session.scalars(
        select(PairRequest)
        .where(
            PairRequest.status == "matched",
            PairRequest.role == "candidate",
            PairRequest.announced_at.is_(None),
            PairRequest.announcing_at <= now - after,
            scope.owns(PairRequest.workspace_id),
        )
        .order_by(PairRequest.id)
        .limit(100)
    ).all()
    claimed = []
    for row in rows:
        partner = session.scalars(
            select(PairRequest)
            .where(
                PairRequest.member_id == row.partner_id,
                PairRequest.partner_id == row.member_id,
                PairRequest.status == "matched",
                PairRequest.announced_at.is_(None),
                PairRequest.closed_at == row.closed_at,
            )
            .order_by(PairRequest.id.desc())
        ).first()
        if partner is None:  # the partner's row is gone (member deleted): nobody to tell
            continue
        claim = (
            update(PairRequest)
            .where(
                PairRequest.id.in_((row.id, partner.id)),
                PairRequest.announced_at.is_(None),
                PairRequest.announcing_at == row.announcing_at,
            )
            .values(announcing_at=now)
            .execution_options(synchronize_session=False)
        )
        if affected_rows(session, claim) == 2:
            claimed.append((row, partner))
    return claimed


def link(
    session: Session,
    request_ids: tuple[int, int],
    interview_id: int | None,
    booking_id: int | None,
) -> None:
    """Record on both rows what the match made (in its transaction), for its announcement."""
    session.execute(
        update(PairRequest)
        .where(PairRequest.id.in_(request_ids))
        .values(interview_id=interview_id, booking_id=booking_id)
        .execution_options(synchronize_session=False)
    )


def mark_announced(session: Session, request_ids: tuple[int, int], now: datetime) -> None:
    session.execute(
        update(PairRequest)
        .where(PairRequest.id.in_(request_ids))
        .values(announced_at=now)
        .execution_options(synchronize_session=False)
    )


def leave_queue(session: Session, member: Member, now: datetime) -> bool:
    request = waiting_request(session, member.id)
    if request is None:
        return False
    request.status = "left"
    request.closed_at = now
    return True


def claim_expired(session: Session, scope: Scope, now: datetime) -> list[PairRequest]:
    """Waiting requests past their time on this platform, each claimed once ("nobody matched")."""
    due = session.scalars(
        select(PairRequest)
        .where(
            PairRequest.status == "waiting",
            PairRequest.expires_at <= now,
            scope.owns(PairRequest.workspace_id),
        )
        .order_by(PairRequest.expires_at)
        .limit(500)
    ).all()
    claimed = []
    for request in due:
        claim = (
            update(PairRequest)
            .where(PairRequest.id == request.id, PairRequest.status == "waiting")
            .values(status="expired", closed_at=now)
            .execution_options(synchronize_session=False)
        )
        if affected_rows(session, claim) == 1:
            claimed.append(request)
    return claimed


def queue_length(session: Session, workspace_id: int, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(PairRequest)
            .where(
                PairRequest.workspace_id == workspace_id,
                PairRequest.status == "waiting",
                PairRequest.expires_at > now,
            )
        )
        or 0
    )
