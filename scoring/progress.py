"""A member's progress: criterion scores over time, weakest criterion, streak, what to do next."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Integer, Select, bindparam, func, select, union_all
from sqlalchemy.orm import Session

from bank.calendar import scheduled_days_back
from bank.models import Channel, DailyAnswer, DailyPrompt, Family, Interview, Member, Question
from bank.orm import UTCDateTime
from scoring.models import MockResult, ProgressTotal
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
    fingerprint: tuple[tuple[str, str, float, int], ...]  # changes with any stored result
    averages: dict[str, float]
    weakest: Criterion | None
    weak_families: list[str]
    streak: int
    daily_answers: int
    # (raw mean, calibrated mean, mocks) over settled mocks with calibrated scores; None until
    # the workspace has enough votes for rater calibration (scoring.calibration)
    calibrated: tuple[float, float, int] | None = None


MAX_HISTORY = 60  # mocks drawn in the trend chart: evenly sampled, first and latest always


def _history_query() -> Select[int, datetime, str, dict[str, float], float]:
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
    )


def _sample_statement(limit: int) -> Select[int, datetime, str, dict[str, float], float]:
    """The stored results first at or after each of `limit` − 1 instants :t0…, and the latest:
    index seeks, built once (with 60 subqueries, building costs more than running)."""
    member = bindparam("member", type_=Integer)
    mine = MockResult.candidate_id == member
    picks = [
        select(
            select(MockResult.interview_id)
            .where(mine, MockResult.ended_at >= bindparam(f"t{k}", type_=UTCDateTime()))
            .order_by(MockResult.ended_at, MockResult.interview_id)
            .limit(1)
            .scalar_subquery()
        )
        for k in range(limit - 1)
    ]
    latest = (
        select(MockResult.interview_id)
        .where(mine)
        .order_by(MockResult.ended_at.desc(), MockResult.interview_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        _history_query()
        .where(MockResult.interview_id.in_(union_all(*picks, select(latest))))
        .order_by(MockResult.ended_at, MockResult.interview_id)
    )


_SAMPLE = _sample_statement(MAX_HISTORY)


def mock_history(
    session: Session, member_id: int, rubric: Rubric, limit: int = MAX_HISTORY
) -> list[MockScore]:
    """The member's settled mocks, sampled to at most `limit` (see `_sampled_history`)."""
    return _sampled_history(session, member_id, rubric, limit)[1]


def _sampled_history(
    session: Session, member_id: int, rubric: Rubric, limit: int
) -> tuple[int, list[MockScore]]:
    """How many settled mocks the member has, and the mocks themselves, in the order they ended;
    with more than `limit`, a sample of them evenly spread over time that keeps the first and the
    latest (what the charts draw).

    Reads the stored per-mock results (`scoring.results`): a count over the member's index
    entries, then at most `limit` index seeks, whatever the number of mocks.
    """
    mine = MockResult.candidate_id == member_id
    count, first, last = session.execute(
        select(func.count(), func.min(MockResult.ended_at), func.max(MockResult.ended_at)).where(
            mine
        )
    ).one()
    if count <= limit:
        rows = session.execute(
            _history_query().where(mine).order_by(MockResult.ended_at, MockResult.interview_id)
        )
    else:
        step = (last - first) / (limit - 1)
        instants = {f"t{k}": first + step * k for k in range(limit - 1)}
        statement = _SAMPLE if limit == MAX_HISTORY else _sample_statement(limit)
        rows = session.execute(statement, {"member": member_id, **instants})
    return count, [
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


Fingerprint = tuple[tuple[str, str, float, int], ...]


def _weakness(
    session: Session, member_id: int, rubric: Rubric
) -> tuple[dict[str, float], Criterion | None, list[str], Fingerprint]:
    """Averages per criterion over settled mocks, the weakest criterion, the families where it
    scored lowest, and the running sums they come from (which change with any stored result).

    One lookup of the member's progress totals (families × criteria rows), whatever the number
    of mocks.
    """
    rows: Fingerprint = tuple(
        (slug, criterion, float(total), int(count))
        for slug, criterion, total, count in session.execute(
            select(
                Family.slug, ProgressTotal.criterion, ProgressTotal.score_sum, ProgressTotal.scored
            )
            .join(Family, Family.id == ProgressTotal.family_id)
            .where(ProgressTotal.candidate_id == member_id, ProgressTotal.scored > 0)
            .order_by(Family.slug, ProgressTotal.criterion)
        )
    )
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for _, criterion, total, count in rows:
        sums[criterion][0] += total
        sums[criterion][1] += count
    # a criterion missing from older results (an earlier rubric) is skipped, never zero
    averages = {cid: sums[cid][0] / sums[cid][1] for cid in rubric.ids if cid in sums}
    if not averages:
        return {}, None, [], rows
    weakest = rubric.criterion(min(averages, key=lambda c: (averages[c], c)))
    by_family = {slug: total / count for slug, c, total, count in rows if c == weakest.id}
    lowest = min(by_family.values())
    families = sorted(slug for slug, mean in by_family.items() if math.isclose(mean, lowest))
    return averages, weakest, families, rows


def weak_families(session: Session, member_id: int, rubric: Rubric) -> list[str]:
    """Where a member's weakest criterion showed most: what the next mock should aim at."""
    return _weakness(session, member_id, rubric)[2]


def progress(
    session: Session, member: Member, rubric: Rubric, channel_dates: dict[int, date]
) -> Progress:
    """Everything `/mlsd progress` shows, in a bounded number of rows whatever the history."""
    scored, history = _sampled_history(session, member.id, rubric, MAX_HISTORY)
    averages, weakest, families, fingerprint = _weakness(session, member.id, rubric)
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
    raw, calibrated, count = session.execute(
        select(
            func.avg(MockResult.overall),
            func.avg(MockResult.calibrated_overall),
            func.count(),
        ).where(MockResult.candidate_id == member.id, MockResult.calibrated_overall.is_not(None))
    ).one()
    return Progress(
        member.display_name,
        mocks_done,
        history,
        scored,
        fingerprint,
        averages,
        weakest,
        families,
        streak(session, member.id, channel_dates),
        answers,
        (float(raw), float(calibrated), int(count)) if count else None,
    )
