"""The weekly digest of a scheduled channel, posted at its first scheduled slot of each week.

It looks back over the seven days before that slot: who practised (daily answers, mocks), their
streaks, the mocks held and how many have results, the booked mocks of the coming week, and the
suggested questions waiting for review. The (channel, week) row is the claim: a restart or a
second process never posts a week twice. A channel's first week is only recorded, not posted, so
a freshly scheduled channel does not open with an empty digest; a quiet week is not posted either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bank.calendar import WEEKDAYS, local_date, slot_on
from bank.models import (
    Booking,
    Channel,
    DailyAnswer,
    DailyPrompt,
    Digest,
    Interview,
    InterviewParticipant,
    Member,
)
from bank.scope import Scope
from bank.upsert import insert_ignore
from bot.daily import schedule_days
from bot.suggestions import pending_count
from scoring.progress import streak

UNPOSTED_GRACE = timedelta(minutes=2)


@dataclass(frozen=True)
class Week:
    channel_id: int
    channel_external_id: str
    week_start: date  # the local Monday of the week the digest is posted in
    slot: datetime  # when it was due


@dataclass(frozen=True)
class DigestReport:
    practised: list[tuple[str, int, int]]  # (name, activities this week, streak)
    mocks: int
    with_results: int
    booked: list[tuple[int, datetime, str | None]]  # (#N, start, family)
    waiting_review: int
    timezone: str

    @property
    def quiet(self) -> bool:
        """Nothing happened and nothing is coming: no digest is posted for such a week."""
        return not (self.practised or self.mocks or self.booked or self.waiting_review)


def first_slot(channel: Channel, week_start: date) -> datetime | None:
    """The channel's first scheduled daily slot in the local week starting `week_start`."""
    if channel.daily_time is None:
        return None
    days = schedule_days(channel)
    for offset in range(7):
        day = week_start + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] in days:
            return slot_on(day, channel.daily_time, channel.timezone)
    return None


def claim_due(session: Session, scope: Scope, now: datetime) -> list[Week]:
    """This week's digests now due on `platform`; each (channel, week) claimed once."""
    channels = session.scalars(
        select(Channel).where(Channel.daily_enabled.is_(True), scope.owns(Channel.workspace_id))
    ).all()
    due: list[Week] = []
    for channel in channels:
        today = local_date(now, channel.timezone)
        week_start = today - timedelta(days=today.weekday())
        slot = first_slot(channel, week_start)
        if slot is None or slot > now:
            continue
        first_ever = (
            session.scalar(select(Digest.id).where(Digest.channel_id == channel.id).limit(1))
            is None
        )
        claimed = insert_ignore(
            session,
            Digest,
            {
                "channel_id": channel.id,
                "week_start": week_start,
                "created_at": now,
                "posted_at": now if first_ever else None,  # the first week is only recorded
            },
            ("channel_id", "week_start"),
        )
        if claimed and not first_ever:
            due.append(Week(channel.id, channel.external_id, week_start, slot))
    return due


def unposted(session: Session, scope: Scope, now: datetime) -> list[Week]:
    """Digests claimed but never confirmed posted (a crash in between), for a re-post."""
    rows = session.execute(
        select(Digest, Channel)
        .join(Channel, Channel.id == Digest.channel_id)
        .where(
            Digest.posted_at.is_(None),
            Digest.created_at <= now - UNPOSTED_GRACE,
            scope.owns(Channel.workspace_id),
        )
    ).all()
    weeks = []
    for digest, channel in rows:
        slot = first_slot(channel, digest.week_start)
        if slot is not None:
            weeks.append(Week(channel.id, channel.external_id, digest.week_start, slot))
    return weeks


def mark_posted(session: Session, week: Week, now: datetime) -> None:
    digest = session.scalars(
        select(Digest).where(
            Digest.channel_id == week.channel_id, Digest.week_start == week.week_start
        )
    ).one()
    digest.posted_at = now


def report(session: Session, week: Week, now: datetime) -> DigestReport:
    channel = session.get_one(Channel, week.channel_id)
    since, until = week.slot - timedelta(days=7), week.slot
    activity: dict[int, int] = {}
    answers = session.execute(
        select(DailyAnswer.member_id)
        .join(DailyPrompt, DailyPrompt.id == DailyAnswer.prompt_id)
        .where(
            DailyPrompt.channel_id == channel.id,
            DailyAnswer.answered_at >= since,
            DailyAnswer.answered_at < until,
        )
    ).scalars()
    for member_id in answers:
        activity[member_id] = activity.get(member_id, 0) + 1
    mocks = session.scalars(
        select(Interview).where(
            Interview.channel_id == channel.id,
            Interview.started_at >= since,
            Interview.started_at < until,
        )
    ).all()
    for interview in mocks:
        activity[interview.candidate_id] = activity.get(interview.candidate_id, 0) + 1
    if mocks:
        for member_id in session.scalars(
            select(InterviewParticipant.member_id).where(
                InterviewParticipant.interview_id.in_([m.id for m in mocks])
            )
        ):
            activity[member_id] = activity.get(member_id, 0) + 1
    today = {channel.id: local_date(now, channel.timezone)}
    practised = []
    for member in session.scalars(select(Member).where(Member.id.in_(list(activity)))):
        practised.append(
            (member.display_name, activity[member.id], streak(session, member.id, today))
        )
    practised.sort(key=lambda row: (-row[1], row[0]))
    booked = session.execute(
        select(Booking.number, Booking.starts_at, Booking.family)
        .where(
            Booking.workspace_id == channel.workspace_id,
            Booking.status == "booked",
            Booking.starts_at >= now,
            Booking.starts_at < now + timedelta(days=7),
        )
        .order_by(Booking.starts_at)
    ).all()
    return DigestReport(
        practised,
        sum(1 for m in mocks if m.status == "ended"),
        sum(1 for m in mocks if m.results_sent_at is not None),
        list(booked),
        pending_count(session, channel.workspace_id),
        channel.timezone,
    )
