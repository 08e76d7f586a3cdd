"""Progress from stored per-mock results: SQL aggregates, a bounded sample for the charts, and
charts drawn once per (member, latest result)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bank.db import Database
from bank.models import Channel, Family, Interview, Member, Question
from bot.port import Reply
from scoring import charts
from scoring.aggregate import CriterionResult, Result, suggested_level
from scoring.models import MockResult
from scoring.progress import MAX_HISTORY, mock_history, progress
from scoring.results import record_result
from scoring.rubric import DEFAULT_RUBRIC
from tests.support import Harness
from tests.test_votes import T0, Cast, make_cast


def criteria_of(i: int) -> dict[str, float]:
    """Scores that vary by mock; metrics is always the weakest, and lowest in odd mocks."""
    base = 1 + (i % 7) / 3
    scores = {cid: min(4.0, base + 0.5) for cid in DEFAULT_RUBRIC.ids}
    scores["metrics_evaluation"] = base - (0.25 if i % 2 else 0)
    return scores


def result_with(means: dict[str, float]) -> Result:
    """A settled result with these per-criterion means (two voters who agreed)."""
    criteria = tuple(
        CriterionResult(c.id, c.name, c.weight, means[c.id], 0) for c in DEFAULT_RUBRIC.criteria
    )
    overall = sum(c.mean * c.weight for c in criteria) / 100
    return Result(2, criteria, overall, suggested_level(overall), (("hire", 2),), ())


def two_families(db: Database) -> list[tuple[int, str]]:
    with db.unit_of_work() as session:
        rows = session.execute(
            select(Question.id, Family.slug)
            .join(Family, Family.id == Question.family_id)
            .order_by(Family.slug, Question.slug)
        ).all()
    first = rows[0]
    second = next(row for row in rows if row[1] != first[1])
    return [(first[0], first[1]), (second[0], second[1])]


def settle_mocks(db: Database, cast: Cast, member_id: int, count: int) -> list[str]:
    """`count` ended mocks with stored results, alternating two families; the families."""
    questions = two_families(db)
    with db.unit_of_work() as session:
        for i in range(count):
            question_id = questions[i % 2][0]
            ended = T0 + timedelta(hours=i)
            interview = Interview(
                workspace_id=cast.workspace_id,
                number=i + 1,
                channel_id=cast.channel_id,
                question_id=question_id,
                candidate_id=member_id,
                status="ended",
                started_at=ended - timedelta(minutes=45),
                ended_at=ended,
                last_activity_at=ended,
                results_sent_at=ended + timedelta(hours=1),
            )
            session.add(interview)
            session.flush()
            record_result(
                session, interview, result_with(criteria_of(i)), ended + timedelta(hours=1)
            )
    return [questions[0][1], questions[1][1]]


def test_progress_aggregates_every_mock_but_draws_a_sample(bank_db: Database) -> None:
    cast = make_cast(bank_db)
    count = 150
    families = settle_mocks(bank_db, cast, cast["alice"], count)
    with bank_db.unit_of_work() as session:
        report = progress(session, session.get_one(Member, cast["alice"]), DEFAULT_RUBRIC, {})
    assert report.scored == count and report.mocks_done == count
    numbers = [m.number for m in report.history]
    assert len(numbers) <= MAX_HISTORY
    assert numbers[0] == 1 and numbers[-1] == count  # first and latest always drawn
    assert numbers == sorted(numbers)
    gaps = {b - a for a, b in itertools.pairwise(numbers[:-1])}
    assert max(gaps) - min(gaps) <= 1  # evenly spread over time (the mocks are an hour apart)
    for mock in report.history:
        assert mock.criteria == pytest.approx(criteria_of(mock.number - 1))
        assert mock.family == families[(mock.number - 1) % 2]
    # the averages cover every mock, not the sample
    expected = {
        cid: sum(criteria_of(i)[cid] for i in range(count)) / count for cid in DEFAULT_RUBRIC.ids
    }
    assert report.averages == pytest.approx(expected)
    assert report.weakest is not None and report.weakest.id == "metrics_evaluation"
    assert report.weak_families == [families[1]]  # odd mocks (the second family) score lower


@pytest.mark.parametrize("limit", [2, 3, 7, 49, 50, 51, 100])
def test_the_sample_keeps_first_and_latest_within_the_limit(bank_db: Database, limit: int) -> None:
    cast = make_cast(bank_db)
    settle_mocks(bank_db, cast, cast["alice"], 50)
    with bank_db.unit_of_work() as session:
        numbers = [m.number for m in mock_history(session, cast["alice"], DEFAULT_RUBRIC, limit)]
    assert len(numbers) <= limit
    assert numbers[0] == 1 and numbers[-1] == 50
    if limit >= 50:
        assert numbers == list(range(1, 51))


def test_no_results_no_history(bank_db: Database) -> None:
    cast = make_cast(bank_db)
    with bank_db.unit_of_work() as session:
        report = progress(session, session.get_one(Member, cast["bob"]), DEFAULT_RUBRIC, {})
    assert (report.history, report.averages, report.weakest, report.scored) == ([], {}, None, 0)
    assert report.fingerprint == ()


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Counts real chart drawing; starts and ends with an empty cache."""
    drawn: list[str] = []
    radar, trend = charts.radar_chart, charts.trend_chart

    def counted_radar(*args: Any) -> bytes:
        drawn.append("radar")
        return radar(*args)

    def counted_trend(*args: Any) -> bytes:
        drawn.append("trend")
        return trend(*args)

    monkeypatch.setattr(charts, "radar_chart", counted_radar)
    monkeypatch.setattr(charts, "trend_chart", counted_trend)
    charts._cache.clear()
    yield drawn
    charts._cache.clear()


def test_repeated_progress_reuses_the_charts_until_a_result_changes(
    bank_db: Database, tmp_path: Path, draws: list[str]
) -> None:
    harness = Harness(bank_db, tmp_path)
    assert isinstance(harness.command("alice", "leaderboard"), Reply)  # alice is seen
    with bank_db.unit_of_work() as session:
        alice = session.scalars(select(Member).where(Member.display_name == "alice")).one()
        channel_id = session.scalars(select(Channel.id)).one()  # the console channel
        interview_cast = Cast(alice.workspace_id, channel_id, 0, {"alice": alice.id})
    settle_mocks(bank_db, interview_cast, alice.id, 3)

    first = harness.command("alice", "progress")
    again = harness.command("alice", "progress")
    assert isinstance(first, Reply) and isinstance(again, Reply)
    assert draws == ["radar", "trend"]  # drawn once
    assert [i.png for i in again.message.images] == [i.png for i in first.message.images]

    with bank_db.unit_of_work() as session:  # a revised result of the latest mock
        latest = session.scalars(select(MockResult).order_by(MockResult.ended_at.desc())).first()
        assert latest is not None
        interview = session.get_one(Interview, latest.interview_id)
        revised = result_with(dict.fromkeys(DEFAULT_RUBRIC.ids, 1.0))
        record_result(session, interview, revised, latest.settled_at + timedelta(days=2))
    redrawn = harness.command("alice", "progress")
    assert isinstance(redrawn, Reply)
    assert draws == ["radar", "trend"] * 2
    assert redrawn.message.images[0].png != first.message.images[0].png
