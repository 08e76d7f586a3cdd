"""Leaderboard windows and ranking, progress, streaks, charts, and the whole bot scoring a mock."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from matplotlib import image as mpimg
from sqlalchemy import select

from bank.db import Database
from bank.models import Channel, DailyPrompt, Family, Interview, Member, Question, Workspace
from bot import daily
from bot.community import channel_for, member_for, workspace_for
from bot.port import Message, Reply, Tone
from scoring import charts
from scoring.leaderboard import Standing, period_start, standings
from scoring.ledger import PointKind, award
from scoring.progress import MockScore, progress, streak
from scoring.results import record_result
from scoring.rubric import DEFAULT_RUBRIC
from scoring.votes import result_of
from tests.support import Harness
from tests.test_votes import ENDED, T0, cast_vote, make_cast, run_mock, weighted

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# -- leaderboard ---------------------------------------------------------------------------------


def seed_workspace(
    db: Database, names: list[str], workspace: str = "T-one", timezone: str = "UTC"
) -> tuple[int, list[int]]:
    """A workspace and its members (created in the order given); their ids."""
    with db.unit_of_work() as session:
        ws = workspace_for(session, "slack", workspace)
        ws.timezone = timezone
        ids = [
            member_for(session, ws, f"U{i}-{workspace}", name).id for i, name in enumerate(names)
        ]
        return ws.id, ids


def give(db: Database, workspace_id: int, member_id: int, points: int, at: datetime) -> None:
    with db.unit_of_work() as session:
        reference = f"test:{member_id}:{at.isoformat()}:{points}"
        assert award(
            session, workspace_id, member_id, PointKind.DAILY_ANSWER, reference, at, points
        )


def board(
    db: Database,
    workspace_id: int,
    period: str,
    now: datetime,
    timezone: str = "UTC",
    member_id: int | None = None,
    top: int = 10,
) -> list[Standing]:
    with db.unit_of_work() as session:
        return standings(session, workspace_id, period, now, timezone, member_id, top)


@dataclass(frozen=True)
class Zone:
    timezone: str
    now: datetime
    week_start: datetime  # in UTC: local Monday 00:00 of `now`'s ISO week
    month_start: datetime  # in UTC: local 1st 00:00 of `now`'s month


ZONES = [
    # west of UTC, just after the switch to summer time (8 March 2026): the week starts in EDT,
    # the month in EST; the last second before the week is already Monday in UTC
    Zone(
        "America/New_York",
        datetime(2026, 3, 11, 16, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 4, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 5, 0, tzinfo=UTC),
    ),
    # east of UTC: the week and the month start on the previous day in UTC
    Zone(
        "Asia/Tokyo",
        datetime(2026, 3, 11, 3, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 15, 0, tzinfo=UTC),
        datetime(2026, 2, 28, 15, 0, tzinfo=UTC),
    ),
    # Berlin after the switch to summer time (29 March 2026)
    Zone(
        "Europe/Berlin",
        datetime(2026, 4, 8, 10, 0, tzinfo=UTC),
        datetime(2026, 4, 5, 22, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 22, 0, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize("zone", ZONES, ids=[z.timezone for z in ZONES])
def test_period_start_is_local_midnight_of_the_iso_week_and_month(zone: Zone) -> None:
    assert period_start("week", zone.now, zone.timezone) == zone.week_start
    assert period_start("month", zone.now, zone.timezone) == zone.month_start
    assert period_start("all", zone.now, zone.timezone) is None
    # the boundary instant itself belongs to the new period, the second before it does not
    assert period_start("week", zone.week_start, zone.timezone) == zone.week_start
    week_before = period_start("week", zone.week_start - timedelta(seconds=1), zone.timezone)
    local_week_start = zone.week_start.astimezone(ZoneInfo(zone.timezone))
    assert week_before == local_week_start - timedelta(days=7)  # wall-clock: across DST too


@pytest.mark.parametrize("zone", ZONES, ids=[z.timezone for z in ZONES])
def test_windows_respect_the_workspace_time_zone(db: Database, zone: Zone) -> None:
    second = timedelta(seconds=1)
    entries = {  # name → (points, when): distinct powers of two, so each sum is unambiguous
        "old": (1, zone.month_start - timedelta(days=10)),
        "monthbefore": (2, zone.month_start - second),
        "monthstart": (4, zone.month_start),
        "weekbefore": (8, zone.week_start - second),
        "weekstart": (16, zone.week_start),
        "recent": (32, zone.now - timedelta(minutes=1)),
    }
    ws, ids = seed_workspace(db, list(entries), timezone=zone.timezone)
    for member_id, (points, at) in zip(ids, entries.values(), strict=True):
        give(db, ws, member_id, points, at)
    other_ws, (outsider,) = seed_workspace(db, ["outsider"], workspace="T-two")
    give(db, other_ws, outsider, 1000, zone.now - timedelta(minutes=1))

    def names(period: str) -> list[tuple[str, int]]:
        return [(s.name, s.points) for s in board(db, ws, period, zone.now, zone.timezone)]

    assert names("week") == [("recent", 32), ("weekstart", 16)]
    assert names("month") == [
        ("recent", 32),
        ("weekstart", 16),
        ("weekbefore", 8),
        ("monthstart", 4),
    ]
    assert names("all") == [
        ("recent", 32),
        ("weekstart", 16),
        ("weekbefore", 8),
        ("monthstart", 4),
        ("monthbefore", 2),
        ("old", 1),
    ]
    # the same awards in a UTC workspace draw the lines elsewhere: the zone really matters
    utc_ws, utc_ids = seed_workspace(db, list(entries), workspace="T-utc")
    for member_id, (points, at) in zip(utc_ids, entries.values(), strict=True):
        give(db, utc_ws, member_id, points, at)
    utc_week = [(s.name, s.points) for s in board(db, utc_ws, "week", zone.now, "UTC")]
    assert utc_week != names("week")


def test_top_ten_plus_the_callers_own_row(db: Database) -> None:
    names = [f"m{i:02d}" for i in range(1, 14)]  # m01 has the most points, m13 the fewest
    ws, ids = seed_workspace(db, [*names, "newcomer"])
    for rank, member_id in enumerate(ids[:13], start=1):
        give(db, ws, member_id, 10 * (14 - rank), T0)
    by_name = dict(zip([*names, "newcomer"], ids, strict=True))

    def shown(caller: str | None, top: int = 10) -> list[str]:
        member_id = None if caller is None else by_name[caller]
        return [s.name for s in board(db, ws, "all", ENDED, member_id=member_id, top=top)]

    lowest = board(db, ws, "all", ENDED, member_id=by_name["m13"])
    assert [s.rank for s in lowest] == [*range(1, 11), 13]
    assert [s.name for s in lowest] == [*names[:10], "m13"]
    assert (lowest[-1].member_id, lowest[-1].points) == (by_name["m13"], 10)
    assert lowest[0] == Standing(1, by_name["m01"], "m01", 130)

    assert shown("m05") == names[:10]  # no duplicate row for a caller inside the top 10
    assert shown("m10") == names[:10]
    assert shown("m11") == [*names[:10], "m11"]
    assert shown(None) == names[:10]
    assert shown("newcomer") == names[:10]  # no points yet: no own row to show
    assert shown("m13", top=3) == ["m01", "m02", "m03", "m13"]


def test_ties_are_broken_by_name_then_id(db: Database) -> None:
    ws, ids = seed_workspace(db, ["bea", "abe", "cal", "abe", "zed"])
    bea, abe_first, cal, abe_second, zed = ids
    assert abe_first < abe_second
    for member_id in (cal, abe_second, bea, abe_first):
        give(db, ws, member_id, 50, T0)
    give(db, ws, zed, 30, T0)
    give(db, ws, zed, 30, T0 - timedelta(hours=1))  # sums: zed 60, the rest 50 each

    expected = [
        Standing(1, zed, "zed", 60),
        Standing(2, abe_first, "abe", 50),
        Standing(3, abe_second, "abe", 50),
        Standing(4, bea, "bea", 50),
        Standing(5, cal, "cal", 50),
    ]
    for _ in range(3):
        assert board(db, ws, "all", ENDED) == expected
    assert board(db, ws, "week", ENDED, member_id=cal, top=2) == [*expected[:2], expected[4]]
    assert board(db, ws, "month", ENDED, member_id=abe_second, top=2) == expected[:3]


def test_an_empty_workspace_has_no_standings(db: Database) -> None:
    ws, (alone,) = seed_workspace(db, ["alone"])
    for period in ("week", "month", "all"):
        assert board(db, ws, period, ENDED, member_id=alone) == []


# -- progress and streaks ------------------------------------------------------------------------


def questions_of_three_families(db: Database) -> list[tuple[int, str]]:
    """(question id, family slug) of the first question of three different families."""
    with db.unit_of_work() as session:
        picked: dict[str, int] = {}
        for question_id, slug in session.execute(
            select(Question.id, Family.slug)
            .join(Family, Family.id == Question.family_id)
            .order_by(Family.slug, Question.slug)
        ):
            picked.setdefault(slug, question_id)
        assert len(picked) >= 3
        return [(qid, slug) for slug, qid in list(picked.items())[:3]]


MOCK_VOTES = [  # per mock: bob's and carol's scores
    ((2, 3, 3, 1, 3, 3), (2, 3, 3, 2, 3, 3)),
    ((3, 3, 3, 2, 3, 3), (3, 3, 4, 2, 3, 3)),
    ((3, 4, 3, 3, 3, 4), (4, 4, 3, 2, 4, 4)),
]


def test_progress_after_three_scored_mocks(bank_db: Database) -> None:
    cast = make_cast(bank_db)
    questions = questions_of_three_families(bank_db)
    for day, ((question_id, _), (bob, carol)) in enumerate(zip(questions, MOCK_VOTES, strict=True)):
        start = T0 + timedelta(days=day)
        mock = run_mock(
            bank_db,
            cast,
            "alice",
            ("bob", "carol"),
            started=start,
            ended=start + timedelta(minutes=45),
            complete=True,
            question_id=question_id,
        )
        cast_vote(bank_db, mock, cast["bob"], start + timedelta(hours=1), scores=bob)
        cast_vote(bank_db, mock, cast["carol"], start + timedelta(hours=2), scores=carol)
        settle(bank_db, mock, start + timedelta(hours=3))
    # noise that must not count: a vote alice gave on bob's mock, and a mock still running
    bob_start = T0 + timedelta(days=4)
    bobs = run_mock(bank_db, cast, "bob", ("alice",), bob_start, bob_start + timedelta(minutes=30))
    cast_vote(bank_db, bobs, cast["alice"], T0 + timedelta(days=4, hours=1), scores=(1,) * 6)
    settle(bank_db, bobs, T0 + timedelta(days=4, hours=2))
    # votes on a result not settled yet do not count either
    unsettled = run_mock(
        bank_db, cast, "alice", ("bob",), T0 + timedelta(days=4), T0 + timedelta(days=4, hours=1)
    )
    cast_vote(bank_db, unsettled, cast["bob"], T0 + timedelta(days=4, hours=2), scores=(1,) * 6)
    run_mock(bank_db, cast, "alice", ("dave",), started=T0 + timedelta(days=5), ended=None)

    with bank_db.unit_of_work() as session:
        alice = session.get_one(Member, cast["alice"])
        report = progress(session, alice, DEFAULT_RUBRIC, {})

    assert report.name == "alice"
    assert report.mocks_done == 4  # ended, one of them not settled yet
    assert report.scored == 3
    assert [m.number for m in report.history] == [1, 2, 3]
    assert [m.family for m in report.history] == [slug for _, slug in questions]
    for scored, (bob, carol) in zip(report.history, MOCK_VOTES, strict=True):
        means = [(b + c) / 2 for b, c in zip(bob, carol, strict=True)]
        assert list(scored.criteria.values()) == pytest.approx(means)
        assert scored.overall == pytest.approx((weighted(bob) + weighted(carol)) / 2)
    expected_averages = {
        "problem_formulation": (2 + 3 + 3.5) / 3,
        "system_architecture": (3 + 3 + 4) / 3,
        "ml_depth": (3 + 3.5 + 3) / 3,
        "metrics_evaluation": (1.5 + 2 + 2.5) / 3,
        "trade_off_analysis": (3 + 3 + 3.5) / 3,
        "communication": (3 + 3 + 4) / 3,
    }
    assert report.averages == pytest.approx(expected_averages)
    assert report.weakest is not None
    assert report.weakest.id == "metrics_evaluation"
    assert report.weakest.advice == DEFAULT_RUBRIC.criterion("metrics_evaluation").advice
    assert report.weak_families == [questions[0][1]]  # mock 1 had the lowest metrics score
    assert report.streak == 0
    assert report.daily_answers == 0


def settle(db: Database, interview_id: int, at: datetime) -> None:
    """Store the mock's result as delivering it does."""
    with db.unit_of_work() as session:
        interview = session.get_one(Interview, interview_id)
        result = result_of(session, interview, DEFAULT_RUBRIC)
        assert result is not None
        record_result(session, interview, result, at)


def make_daily_channel(db: Database, workspace_id: int, dates: list[date]) -> tuple[int, int]:
    """A mon–fri daily channel with a posted prompt on each date; (channel id, question id)."""
    with db.unit_of_work() as session:
        ws = session.get_one(Workspace, workspace_id)
        channel = channel_for(session, ws, "C-daily")
        assert channel.days == "mon,tue,wed,thu,fri"
        question_id = session.scalars(select(Question.id).order_by(Question.slug)).first()
        assert question_id is not None
        for day in dates:
            session.add(
                DailyPrompt(
                    channel_id=channel.id,
                    question_id=question_id,
                    local_date=day,
                    thread_external_id=f"daily-{day}",
                    posted_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC),
                )
            )
        return channel.id, question_id


def answer(db: Database, channel_id: int, member_id: int, day: date) -> None:
    with db.unit_of_work() as session:
        channel = session.get_one(Channel, channel_id)
        member = session.get_one(Member, member_id)
        at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
        assert daily.record_answer(session, channel, f"daily-{day}", member, at)


def test_streak_counts_consecutive_scheduled_days(bank_db: Database) -> None:
    thu, fri, sat, mon, tue, wed = (date(2026, 3, d) for d in (5, 6, 7, 9, 10, 11))
    cast = make_cast(bank_db)
    channel, _ = make_daily_channel(bank_db, cast.workspace_id, [thu, fri, mon, tue, wed])
    for day in (thu, fri, mon):
        answer(bank_db, channel, cast["alice"], day)
    answer(bank_db, channel, cast["bob"], tue)

    def streak_on(member: str, today: date) -> int:
        with bank_db.unit_of_work() as session:
            return streak(session, cast[member], {channel: today})

    assert streak_on("alice", mon) == 3  # Thu, Fri, (weekend off), Mon
    assert streak_on("alice", tue) == 3  # Tuesday is still open
    assert streak_on("alice", sat) == 2  # Saturday is off the schedule: Thu, Fri
    assert streak_on("alice", wed) == 0  # Tuesday was missed
    assert streak_on("bob", wed) == 1
    assert streak_on("carol", wed) == 0
    answer(bank_db, channel, cast["alice"], wed)
    assert streak_on("alice", wed) == 1  # Wed answered, but Tue still breaks it

    with bank_db.unit_of_work() as session:
        alice = session.get_one(Member, cast["alice"])
        report = progress(session, alice, DEFAULT_RUBRIC, {channel: mon})
    assert report.streak == 3
    assert report.daily_answers == 4
    assert (report.mocks_done, report.history, report.averages) == (0, [], {})
    assert report.weakest is None


# -- charts ---------------------------------------------------------------------------------------


def png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    assert png[:8] == PNG_SIGNATURE
    chunks = []
    offset = 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        data = png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + data) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, data))
        offset += 12 + length
    return chunks


def check_png(png: bytes) -> tuple[int, int]:
    """A well-formed, non-blank PNG; its (width, height)."""
    chunks = png_chunks(png)
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    assert 200 <= width <= 2000 and 150 <= height <= 2000
    assert (depth, colour) == (8, 6)  # 8-bit RGBA
    raw = zlib.decompress(b"".join(data for kind, data in chunks if kind == b"IDAT"))
    assert len(raw) == height * (1 + 4 * width)  # one filter byte per row, then the pixels
    pixels = mpimg.imread(io.BytesIO(png))
    assert pixels.shape == (height, width, 4)
    colours = np.unique(pixels.reshape(-1, 4), axis=0)
    assert len(colours) > 20, "the chart is (nearly) blank"
    background = np.all(pixels == pixels[0, 0], axis=-1).mean()
    assert background < 0.98, "almost every pixel has the background colour"
    return width, height


def history(overalls: list[float]) -> list[MockScore]:
    scores = []
    for number, overall in enumerate(overalls, start=1):
        criteria = {cid: min(4.0, overall + 0.1 * i) for i, cid in enumerate(DEFAULT_RUBRIC.ids)}
        ended = T0 + timedelta(days=number)
        scores.append(MockScore(number, ended, "recommendation", criteria, overall))
    return scores


def test_radar_and_trend_charts_are_real_pngs() -> None:
    three = history([1.8, 2.6, 3.4])
    radar = charts.radar_chart(three, DEFAULT_RUBRIC, "alice")
    trend = charts.trend_chart(three, "alice")
    radar_size, trend_size = check_png(radar), check_png(trend)
    assert radar_size != trend_size  # a square radar and a wide line chart
    assert trend_size[0] > trend_size[1]
    # the charts depict their data
    assert charts.radar_chart(three[:1], DEFAULT_RUBRIC, "alice") != radar
    assert charts.trend_chart(history([3.4, 2.6, 1.8]), "alice") != trend
    check_png(charts.radar_chart(three[:1], DEFAULT_RUBRIC, "alice"))
    check_png(charts.trend_chart(three[:1], "alice"))


# -- the whole bot ------------------------------------------------------------------------------


def say(harness: Harness, user: str, text: str) -> Message:
    reply = harness.command(user, text)
    assert isinstance(reply, Reply), f"no reply to {user}: {text}"
    return reply.message


def results_for(harness: Harness, user: str) -> list[Message]:
    return [
        m
        for m in harness.private_to(user)
        if m.title.startswith("Your ") and "result for mock" in m.title
    ]


def test_a_mock_scored_through_the_bot(bank_db: Database, tmp_path: Path) -> None:
    h = Harness(bank_db, tmp_path)
    assert "Mock #1 started" in say(h, "alice", "mock @bob @carol").text
    # the panel takes part (writes in the thread): interviewer points need that
    h.feed("bob #1: what is the business goal?", "carol #1: and how fresh must it be?")
    for _ in range(3):
        h.advance(minutes=4)  # a real practice: completion points need time spent
        assert "has begun" in say(h, "alice", "next #1").text
    assert say(h, "alice", "next #1").text == "Mock #1 is complete."

    own = say(h, "alice", "vote #1 4 4 4 4 4 4 hire")
    assert own.tone == Tone.ERROR and "cannot score your own mock" in own.text
    bad = say(h, "dave", "vote #1 5 3 3 3 3 3 hire")
    assert bad.tone == Tone.ERROR and "every score must be 1–4" in bad.text
    short = say(h, "dave", "vote #1 3 3 3 hire")
    assert short.tone == Tone.ERROR and "give 6 scores" in short.text

    first = say(h, "dave", "vote #1 3 3 4 3 2 3 hire nice")
    assert first.tone == Tone.SUCCESS
    assert first.text == "Thanks! Your vote is in for mock #1: weighted 3.15 / 4."
    h.advance(minutes=5)
    say(h, "bob", "vote #1 2 3 3 3 2 2 lean-hire")
    assert results_for(h, "alice") == []  # carol (on the panel) has not voted yet
    say(h, "carol", "vote #1 4 3 3 2 3 3 hire solid depth")

    (result,) = results_for(h, "alice")
    assert result.title == "Your result for mock #1"
    assert "Overall 2.93 / 4 from 3 voter(s), which suggests L4." in result.text
    assert "Signals: Lean hire 1, Hire 2." in result.text
    assert "• nice" in result.text and "• solid depth" in result.text
    lines = {name: value.split("\n") for name, value in result.fields}
    depth, anchor = lines["ML depth (25%)"]
    assert depth == "3.33 (spread 1)"
    assert anchor.startswith("At a 3: ") and len(anchor) > len("At a 3: ")  # this question's
    assert lines["System architecture (20%)"][0] == "3.00"
    assert lines["Problem formulation (20%)"][0] == "3.00 (spread 2)"
    assert any("results are in (3 vote(s)); alice has them" in t for t in h.texts())
    for voter in ("bob", "carol", "dave"):
        assert results_for(h, voter) == []

    h.advance(minutes=5)
    updated = say(h, "bob", "vote #1 2 3 3 3 1 2 lean-hire")
    assert updated.text.startswith("Updated your vote for mock #1")
    h.advance(hours=49)  # the window closes: bob's change makes an updated result, once
    assert [m.title for m in results_for(h, "alice")] == [
        "Your result for mock #1",
        "Your updated result for mock #1",
    ]
    h.advance(hours=1)
    assert len(results_for(h, "alice")) == 2
    late = say(h, "erin", "vote #1 3 3 3 3 3 3 hire")
    assert late.tone == Tone.ERROR and "closed 48 h" in late.text

    standing = say(h, "dave", "leaderboard")
    assert standing.title == "Leaderboard · this week"
    # alice: 30 for the completed mock + 9 bonus (2.93 overall); panel: 20 + 5; dave: 5 for voting
    assert standing.text.splitlines() == [
        "  1. alice — 39 pts",
        "  2. bob — 25 pts",
        "  3. carol — 25 pts",
        "  4. dave — 5 pts ← you",
    ]
    assert say(h, "bob", "leaderboard all").text.splitlines()[1] == "  2. bob — 25 pts ← you"

    report = say(h, "alice", "progress")
    assert report.title == "Progress · alice"
    assert len(report.images) == 2
    for image in report.images:
        assert image.filename.endswith(".png")
        check_png(image.png)
    fields = dict(report.fields)
    assert fields["Mocks done"] == "1"
    assert fields["Trade-off analysis"] == "2.00"  # bob's updated vote counts here
    assert (
        fields["Work on: Trade-off analysis"]
        == DEFAULT_RUBRIC.criterion("trade_off_analysis").advice
    )
