"""A member's progress: criterion scores over time, weakest criterion, streak, what to do next."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bank.calendar import scheduled_days_back
from bank.models import Channel, DailyAnswer, DailyPrompt, Family, Interview, Member, Question
from scoring.models import Vote
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
    history: list[MockScore]
    averages: dict[str, float]
    weakest: Criterion | None
    weak_families: list[str]
    streak: int
    daily_answers: int


def mock_history(session: Session, member_id: int, rubric: Rubric) -> list[MockScore]:
    rows = session.execute(
        select(
            Interview.id,
            Interview.number,
            Interview.ended_at,
            Family.slug,
            Vote.scores,
            Vote.overall,
        )
        .join(Vote, Vote.interview_id == Interview.id)
        .join(Question, Question.id == Interview.question_id)
        .join(Family, Family.id == Question.family_id)
        .where(Interview.candidate_id == member_id, Interview.status == "ended")
        .order_by(Interview.ended_at, Interview.id)
    )
    grouped: dict[int, list[tuple[int, datetime, str, dict[str, int], float]]] = defaultdict(list)
    for interview_id, number, ended_at, family, scores, overall in rows:
        assert ended_at is not None
        grouped[interview_id].append((number, ended_at, family, scores, overall))
    history = []
    for votes in grouped.values():
        number, ended_at, family = votes[0][0], votes[0][1], votes[0][2]
        criteria = {  # votes under an earlier rubric may lack a criterion: skip, never zero
            cid: sum(scored) / len(scored)
            for cid in rubric.ids
            if (scored := [v[3][cid] for v in votes if cid in v[3]])
        }
        overall = sum(v[4] for v in votes) / len(votes)
        history.append(MockScore(number, ended_at, family, criteria, overall))
    return history


def streak(session: Session, member_id: int, today: dict[int, date]) -> int:
    """Consecutive scheduled days answered, in the member's best channel.

    `today` maps channel id → that channel's local date now. A day not yet answered today does
    not break the streak; a scheduled day with no answer does. Days off the schedule are skipped,
    and so are days on which no question was posted (the bot was down, the schedule paused).
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
        posted = set(
            session.scalars(
                select(DailyPrompt.local_date).where(
                    DailyPrompt.channel_id == channel_id, DailyPrompt.posted_at.is_not(None)
                )
            )
        )
        end = today.get(channel_id, max(dates))
        count = 0
        for day in scheduled_days_back(end, days, limit=400):
            if day in dates:
                count += 1
            elif day == end or day not in posted:
                continue  # today is still open; no question that day: nothing to miss
            else:
                break
        best = max(best, count)
    return best


def _weakness(
    history: list[MockScore], rubric: Rubric
) -> tuple[dict[str, float], Criterion | None, list[str]]:
    """Averages per criterion, the weakest criterion, and the families where it scored lowest."""
    if not history:
        return {}, None, []
    averages = {
        cid: sum(scores) / len(scores)
        for cid in rubric.ids
        if (scores := [m.criteria[cid] for m in history if cid in m.criteria])
    }
    if not averages:
        return {}, None, []
    weakest = rubric.criterion(min(averages, key=lambda c: (averages[c], c)))
    by_family: dict[str, list[float]] = defaultdict(list)
    for mock in history:
        if weakest.id in mock.criteria:
            by_family[mock.family].append(mock.criteria[weakest.id])
    lowest = min(sum(v) / len(v) for v in by_family.values())
    families = sorted(f for f, v in by_family.items() if sum(v) / len(v) == lowest)
    return averages, weakest, families


def weak_families(session: Session, member_id: int, rubric: Rubric) -> list[str]:
    """Where a member's weakest criterion showed most: what the next mock should aim at."""
    return _weakness(mock_history(session, member_id, rubric), rubric)[2]


def progress(
    session: Session, member: Member, rubric: Rubric, channel_dates: dict[int, date]
) -> Progress:
    history = mock_history(session, member.id, rubric)
    averages, weakest, families = _weakness(history, rubric)
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
        averages,
        weakest,
        families,
        streak(session, member.id, channel_dates),
        answers,
    )
