"""Daily prompts: schedules, the due-scan, exactly one prompt per channel per local date, answers.

What is due is derived from `channels.next_daily_at`; the unique (channel, local_date) row is the
claim, so restarts, catch-up after downtime and several workers never post a day twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from bank.calendar import WEEKDAYS, local_date, next_occurrence, slot_on
from bank.models import Channel, DailyAnswer, DailyPrompt, Member, Question
from bank.scope import Scope
from bank.selection import daily_question_for_channel
from bank.upsert import insert_ignore
from scoring.ledger import PointKind, award


@dataclass(frozen=True)
class ClaimedPrompt:
    prompt_id: int
    channel_external_id: str
    question: Question
    previous: Question | None
    previous_thread: str | None = None  # where the previous question's closure goes


def set_schedule(
    channel: Channel,
    at: time,
    timezone: str | None,
    days: tuple[str, ...] | None,
    now: datetime,
    levels: tuple[str, str] | None = None,
) -> None:
    channel.daily_time = at
    channel.timezone = timezone or channel.timezone
    if days is not None:
        channel.days = ",".join(days)
    if levels is not None:
        channel.level_min, channel.level_max = levels
    channel.daily_enabled = True
    channel.next_daily_at = next_occurrence(now, at, channel.timezone, schedule_days(channel))


def disable_schedule(channel: Channel) -> None:
    channel.daily_enabled = False
    channel.next_daily_at = None


def schedule_days(channel: Channel) -> tuple[str, ...]:
    chosen = set(channel.days.split(","))
    return tuple(day for day in WEEKDAYS if day in chosen)


def describe_schedule(channel: Channel) -> str:
    if not channel.daily_enabled or channel.daily_time is None:
        return "no daily question is scheduled here"
    days = schedule_days(channel)
    day_text = "every day" if len(days) == 7 else ", ".join(days)
    levels = f", levels {channel.level_min}-{channel.level_max}" if channel.level_min else ""
    return f"daily question at {channel.daily_time:%H:%M} {channel.timezone}, {day_text}{levels}"


def due_channel_ids(session: Session, now: datetime, scope: Scope, limit: int = 500) -> list[int]:
    """Channels of this process's workspaces whose daily prompt is due."""
    query = (
        select(Channel.id)
        .where(
            Channel.daily_enabled.is_(True),
            Channel.next_daily_at <= now,
            scope.owns(Channel.workspace_id),
        )
        .order_by(Channel.next_daily_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def latest_prompt(session: Session, channel_id: int) -> DailyPrompt | None:
    return session.scalars(
        select(DailyPrompt)
        .where(DailyPrompt.channel_id == channel_id)
        .order_by(DailyPrompt.local_date.desc())
        .limit(1)
    ).first()


def claim_prompt(
    session: Session, channel: Channel, now: datetime, seed: str, *, force: bool = False
) -> ClaimedPrompt | None:
    """Create today's prompt row for `channel` if it is due (or `force`d) and not yet there.

    A missed occurrence is caught up only while it is still the same local day; either way the
    channel's next occurrence moves forward. Returns None when nothing is to be posted.
    """
    scheduled = channel.next_daily_at
    if not force:
        if not channel.daily_enabled or scheduled is None or scheduled > now:
            return None
        assert channel.daily_time is not None
        channel.next_daily_at = next_occurrence(
            now, channel.daily_time, channel.timezone, schedule_days(channel)
        )
        today = local_date(now, channel.timezone)
        if local_date(scheduled, channel.timezone) != today and not (
            WEEKDAYS[today.weekday()] in schedule_days(channel)
            and slot_on(today, channel.daily_time, channel.timezone) <= now
        ):
            return None  # only earlier days were missed while the bot was down: never post late
    today = local_date(now, channel.timezone)
    previous = latest_prompt(session, channel.id)
    question = daily_question_for_channel(
        session,
        channel.id,
        f"{seed}:{channel.id}:{today}",
        channel.level_min,
        channel.level_max,
        channel.workspace_id,
    )
    if question is None:
        return None
    inserted = insert_ignore(
        session,
        DailyPrompt,
        {
            "channel_id": channel.id,
            "question_id": question.id,
            "local_date": today,
            "created_at": now,
        },
        ("channel_id", "local_date"),
    )
    if not inserted:
        return None
    prompt = session.scalars(
        select(DailyPrompt).where(
            DailyPrompt.channel_id == channel.id, DailyPrompt.local_date == today
        )
    ).one()
    question.times_drawn += 1
    before = session.get(Question, previous.question_id) if previous else None
    thread = previous.thread_external_id if previous else None
    return ClaimedPrompt(prompt.id, channel.external_id, question, before, thread)


def mark_posted(session: Session, prompt_id: int, thread_id: str, now: datetime) -> None:
    prompt = session.get_one(DailyPrompt, prompt_id)
    prompt.thread_external_id = thread_id
    prompt.posted_at = now


def unposted_prompts(
    session: Session, now: datetime, claimed_before: datetime, scope: Scope
) -> list[ClaimedPrompt]:
    """Today's prompts of this process's workspaces claimed before `claimed_before` but never
    confirmed posted."""
    rows = session.scalars(
        select(DailyPrompt)
        .join(Channel, Channel.id == DailyPrompt.channel_id)
        .where(
            DailyPrompt.posted_at.is_(None),
            DailyPrompt.created_at <= claimed_before,
            scope.owns(Channel.workspace_id),
        )
    ).all()
    claimed = []
    for prompt in rows:
        channel = session.get_one(Channel, prompt.channel_id)
        if prompt.local_date != local_date(now, channel.timezone):
            continue
        question = session.get_one(Question, prompt.question_id)
        claimed.append(ClaimedPrompt(prompt.id, channel.external_id, question, None))
    return claimed


def record_answer(
    session: Session, channel: Channel, thread_id: str, member: Member, now: datetime
) -> bool:
    """A reply in a daily thread: counted once per member per prompt. True if newly counted."""
    prompt = session.scalars(
        select(DailyPrompt).where(
            DailyPrompt.channel_id == channel.id, DailyPrompt.thread_external_id == thread_id
        )
    ).first()
    if prompt is None:
        return False
    new = insert_ignore(
        session,
        DailyAnswer,
        {"prompt_id": prompt.id, "member_id": member.id, "answered_at": now},
        ("prompt_id", "member_id"),
    )
    if new:
        award(
            session,
            channel.workspace_id,
            member.id,
            PointKind.DAILY_ANSWER,
            f"prompt:{prompt.id}",
            now,
        )
    return new
