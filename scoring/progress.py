"""A member's progress: criterion scores over time, weakest criterion, streak, what to do next."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from bank.calendar import scheduled_days_back
from bank.models import Channel, DailyAnswer, DailyPrompt, Family, Interview, Member, Question
from scoring.models import MockResult
from scoring.rubric import Criterion, Rubric


@dataclass(frozen=True)
class MockScore:
    number: int
    ended_at: datetime
    family: str
    criteria: dict[str, float]  # criterion id → mean across voters
    overall: float


@dataclass(frozen=True)
class Progress:
    name: str
    mocks_done: int
    history: list[MockScore]  # at most MAX_HISTORY, evenly sampled (see mock_history)
    scored: int  # settled mocks with a result
    latest_settled_at: datetime | None  # changes whenever any result is written: a cache key
    averages: dict[str, float]
    weakest: Criterion | None
    weak_families: list[str]
    streak: int
    daily_answers: int


MAX_HISTORY = 60  # mocks drawn in the trend chart: evenly sampled, first and latest always


def _history_query(member_id: int) -> Select[int, datetime, str, dict[str, float], float]:
    return (
        select(
            Interview.number,
            MockResult.ended_at,
            Family.slug,
            MockResult.criteria,
            MockResult.overall,
        )
        .join(Interview, Interview.id == MockResult.interview_id)
        .join(Question, Question.id == MockResult.question_id)
        .join(Family, Family.id == Question.family_id)
        .where(MockResult.candidate_id == member_id)
    )


def mock_history(
    session: Session, member_id: int, rubric: Rubric, limit: int = MAX_HISTORY
) -> list[MockScore]:
    """The member's settled mocks in the order they ended; with more than `limit`, an even
    sample of them that keeps the first and the latest (what the charts draw).

    Reads the stored per-mock results (`scoring.results`), at most `limit` rows of them.
    """
    order = (MockResult.ended_at, MockResult.interview_id)
    numbered = (
        select(
            MockResult.interview_id,
            func.row_number().over(order_by=order).label("n"),
            func.count().over().label("total"),
        )
        .where(MockResult.candidate_id == member_id)
        .subquery()
    )
    # all of them, or every step-th from the first plus the latest: step = ⌈(total−1)/(limit−2)⌉
    # keeps at most limit − 1 on the grid, and the latest makes `limit`
    room = max(limit - 2, 1)
    step = case((numbered.c.total <= limit, 1), else_=(numbered.c.total + room - 2) // room)
    sample = select(numbered.c.interview_id).where(
        or_(numbered.c.n == numbered.c.total, (numbered.c.n - 1) % step == 0)
    )
    rows = session.execute(
        _history_query(member_id).where(MockResult.interview_id.in_(sample)).order_by(*order)
    )
    return [
        MockScore(
            number,
            ended_at,
            family,
            {cid: criteria[cid] for cid in rubric.ids if cid in criteria},
            overall,
        )
        for number, ended_at, family, criteria, overall in rows
    ]


def streak(session: Session, member_id: int, today: dict[int, date]) -> int:
    """Consecutive scheduled days answered, in the member's best channel.

    `today` maps channel id → that channel's local date now. A day not yet answered today does
    not break the streak; a scheduled day with no answer does. Days off the schedule are skipped.
    """
    answered: dict[int, set[date]] = defaultdict(set)
    for channel_id, local in session.execute(
        select(DailyPrompt.channel_id, DailyPrompt.local_date)
        .join(DailyAnswer, DailyAnswer.prompt_id == DailyPrompt.id)
        .where(DailyAnswer.member_id == member_id)
    ):
        answered[channel_id].add(local)
    best = 0
    for channel_id, dates in answered.items():
        channel = session.get_one(Channel, channel_id)
        days = tuple(channel.days.split(","))
        end = today.get(channel_id, max(dates))
        count = 0
        for day in scheduled_days_back(end, days, limit=400):
            if day in dates:
                count += 1
            elif day == end:
                continue  # today is still open
            else:
                break
        best = max(best, count)
    return best


def _weakness(
    session: Session, member_id: int, rubric: Rubric
) -> tuple[dict[str, float], Criterion | None, list[str]]:
    """Averages per criterion over settled mocks, the weakest criterion, and the families where
    it scored lowest: two aggregate queries, whatever the number of mocks."""
    mine = MockResult.candidate_id == member_id
    means = session.execute(
        select(*(func.avg(MockResult.criteria[cid].as_float()) for cid in rubric.ids)).where(mine)
    ).one()
    # a criterion missing from older results (an earlier rubric) is skipped, never zero
    averages = {cid: float(m) for cid, m in zip(rubric.ids, means, strict=True) if m is not None}
    if not averages:
        return {}, None, []
    weakest = rubric.criterion(min(averages, key=lambda c: (averages[c], c)))
    score = MockResult.criteria[weakest.id].as_float()
    by_family = session.execute(
        select(Family.slug, func.avg(score))
        .join(Question, Question.id == MockResult.question_id)
        .join(Family, Family.id == Question.family_id)
        .where(mine, score.is_not(None))
        .group_by(Family.slug)
    ).all()
    lowest = min(mean for _, mean in by_family)
    families = sorted(slug for slug, mean in by_family if mean == lowest)
    return averages, weakest, families


def weak_families(session: Session, member_id: int, rubric: Rubric) -> list[str]:
    """Where a member's weakest criterion showed most: what the next mock should aim at."""
    return _weakness(session, member_id, rubric)[2]


def progress(
    session: Session, member: Member, rubric: Rubric, channel_dates: dict[int, date]
) -> Progress:
    """Everything `/mlsd progress` shows, in a bounded number of rows whatever the history."""
    history = mock_history(session, member.id, rubric)
    averages, weakest, families = _weakness(session, member.id, rubric)
    scored, latest = session.execute(
        select(func.count(), func.max(MockResult.settled_at)).where(
            MockResult.candidate_id == member.id
        )
    ).one()
    mocks_done = (
        session.scalar(
            select(func.count())
            .select_from(Interview)
            .where(Interview.candidate_id == member.id, Interview.status == "ended")
        )
        or 0
    )
    answers = (
        session.scalar(
            select(func.count()).select_from(DailyAnswer).where(DailyAnswer.member_id == member.id)
        )
        or 0
    )
    return Progress(
        member.display_name,
        mocks_done,
        history,
        int(scored),
        latest,
        averages,
        weakest,
        families,
        streak(session, member.id, channel_dates),
        answers,
    )
