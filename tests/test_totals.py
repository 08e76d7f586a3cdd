"""Running totals: equal to a recomputation from the ledger after any awards, revisions and
time-zone changes; the leaderboard read from them equals one summed from the ledger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from bank.db import Database
from bank.models import Member, Workspace
from bot.community import member_for, workspace_for
from scoring import totals
from scoring.leaderboard import Standing, period_start, standings
from scoring.ledger import PointKind, award
from scoring.models import MemberTotal, PointsEntry
from scoring.results import backfill

BASE = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
NOW = BASE + timedelta(days=40, hours=13)
# zones with DST in either hemisphere and offsets of half and quarter hours
ZONES = (
    "UTC",
    "America/New_York",
    "Asia/Tokyo",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Pacific/Chatham",
    "Australia/Sydney",
)
NAMES = ("ann", "ann", "bob", "cy", "dee")  # two "ann": ties by name go on by id

Op = tuple[str, int, int, int, int]


def ops() -> st.SearchStrategy[list[Op]]:
    minute = st.integers(-30 * 24 * 60, 41 * 24 * 60)
    award_op = st.tuples(
        st.just("award"), st.integers(0, len(NAMES) - 1), st.integers(0, 6), minute,
        st.integers(0, 40),
    )  # fmt: skip
    revise = st.tuples(
        st.just("revise"), st.integers(0, len(NAMES) - 1), st.integers(0, 6), minute,
        st.integers(0, 40),
    )  # fmt: skip
    zone = st.tuples(st.just("zone"), st.integers(0, len(ZONES) - 1), *[st.just(0)] * 3)
    leave = st.tuples(st.just("leave"), st.integers(0, len(NAMES) - 1), *[st.just(0)] * 3)
    return st.lists(st.one_of(award_op, award_op, revise, zone, leave), min_size=1, max_size=14)


def make_workspace(db: Database, zone: str = "UTC") -> tuple[int, list[int]]:
    with db.unit_of_work() as session:
        ws = workspace_for(session, "slack", f"T-{uuid.uuid4().hex[:8]}")
        ws.timezone = zone
        ids = [member_for(session, ws, f"U{i}", name).id for i, name in enumerate(NAMES)]
        return ws.id, ids


def naive_standings(db: Database, ws: int, period: str, member_id: int, top: int) -> list[Standing]:
    """What the leaderboard means, summed from the ledger in Python: the oracle."""
    with db.unit_of_work() as session:
        zone = session.get_one(Workspace, ws).timezone
        since = period_start(period, NOW, zone)
        present = {
            m.id: m.display_name
            for m in session.scalars(
                select(Member).where(Member.workspace_id == ws, Member.left_at.is_(None))
            )
        }
        sums: dict[int, int] = {}
        for entry in session.scalars(select(PointsEntry).where(PointsEntry.workspace_id == ws)):
            if entry.member_id in present and (since is None or entry.created_at >= since):
                sums[entry.member_id] = sums.get(entry.member_id, 0) + entry.points
    ranked = sorted(sums, key=lambda m: (-sums[m], present[m], m))
    rows = [Standing(i, m, present[m], sums[m]) for i, m in enumerate(ranked, start=1)]
    return [r for r in rows if r.rank <= top or r.member_id == member_id]


def check(db: Database, ws: int, caller: int) -> None:
    with db.unit_of_work() as session:
        assert totals.stored(session, ws) == totals.recomputed(session, ws)
        zone = session.get_one(Workspace, ws).timezone
        for period in ("week", "month", "all"):
            got = standings(session, ws, period, NOW, zone, caller, top=2)
            assert got == naive_standings(db, ws, period, caller, top=2), period


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=ops(), caller=st.integers(0, len(NAMES) - 1))
def test_totals_equal_the_ledger_after_awards_revisions_and_zone_changes(
    db: Database, steps: list[Op], caller: int
) -> None:
    ws, ids = make_workspace(db)
    for kind, who, ref, minute, points in steps:
        with db.unit_of_work() as session:
            at = BASE + timedelta(minutes=minute)
            if kind == "award":
                award(session, ws, ids[who], PointKind.DAILY_ANSWER, f"d:{ref}", at, points)
            elif kind == "revise":  # a revised bonus keeps its first instant, changes points
                award(session, ws, ids[who], PointKind.SCORE_BONUS, f"i:{ref}", at, points,
                      replace=True)  # fmt: skip
            elif kind == "zone":
                totals.set_workspace_timezone(session, session.get_one(Workspace, ws), ZONES[who])
            else:  # departed members toggle: hidden from boards, totals kept
                member = session.get_one(Member, ids[who])
                member.left_at = None if member.left_at else at
    check(db, ws, ids[caller])


def test_a_revision_moves_the_totals_by_its_difference(db: Database) -> None:
    ws, (ann, *_) = make_workspace(db)
    at = BASE + timedelta(days=1)
    with db.unit_of_work() as session:
        assert award(session, ws, ann, PointKind.SCORE_BONUS, "i:1", at, 9, replace=True)
        # the revision comes a week later but counts where the award was first made
        award(session, ws, ann, PointKind.SCORE_BONUS, "i:1", at + timedelta(days=8), 4,
              replace=True)  # fmt: skip
        assert award(session, ws, ann, PointKind.SCORE_BONUS, "i:1", at, 7) is False  # a retry
    with db.unit_of_work() as session:
        mine = {b: p for (_, b, m), p in totals.stored(session, ws).items() if m == ann}
    assert mine == {"all": 4, "2026-03": 4, "2026-W10": 4}


def test_zone_change_re_buckets_the_whole_history(db: Database) -> None:
    """Monday 02:00 UTC is still Sunday in New York: the award moves to the week before."""
    ws, (ann, *_) = make_workspace(db)
    monday = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    with db.unit_of_work() as session:
        award(session, ws, ann, PointKind.DAILY_ANSWER, "d:1", monday, 10)
    with db.unit_of_work() as session:
        weeks = {b for (_, b, _), _ in totals.stored(session, ws).items() if "W" in b}
        assert weeks == {"2026-W11"}
        totals.set_workspace_timezone(session, session.get_one(Workspace, ws), "America/New_York")
    with db.unit_of_work() as session:
        weeks = {b for (_, b, _), _ in totals.stored(session, ws).items() if "W" in b}
        assert weeks == {"2026-W10"}
        sunday_evening = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
        assert standings(session, ws, "week", sunday_evening, "America/New_York")[0].points == 10
        assert standings(session, ws, "week", monday + timedelta(days=1), "America/New_York") == []


def test_departed_members_are_left_out_and_ranked_past(db: Database) -> None:
    names = [f"m{i:02d}" for i in range(14)]  # m00 has the most points
    with db.unit_of_work() as session:
        workspace = workspace_for(session, "slack", "T-departed")
        ws = workspace.id
        ids = [member_for(session, workspace, f"U{n}", n).id for n in names]
    for i, member in enumerate(ids):
        with db.unit_of_work() as session:
            award(session, ws, member, PointKind.DAILY_ANSWER, f"d:{i}", BASE, 100 - i)
    last = ids[-1]

    def board() -> list[tuple[int, str]]:
        with db.unit_of_work() as session:
            return [(r.rank, r.name) for r in standings(session, ws, "all", BASE, "UTC", last)]

    assert board()[-1] == (14, "m13")
    with db.unit_of_work() as session:  # m00 and m03 leave
        for member in (ids[0], ids[3]):
            session.get_one(Member, member).left_at = BASE
    rows = board()
    assert [name for _, name in rows[:10]] == [n for n in names if n not in ("m00", "m03")][:10]
    assert rows[-1] == (12, "m13")  # two fewer ahead of the caller
    with db.unit_of_work() as session:  # the caller leaves: no own row
        session.get_one(Member, last).left_at = BASE
    assert [name for _, name in board()][-1] == "m11"
    with db.unit_of_work() as session:  # all come back: totals were kept
        session.execute(update(Member).where(Member.workspace_id == ws).values(left_at=None))
    assert board()[0] == (1, "m00") and board()[-1] == (14, "m13")


def test_rebuild_and_backfill_repair_missing_or_drifted_totals(db: Database) -> None:
    ws, (ann, bob, *_) = make_workspace(db, "Asia/Tokyo")
    with db.unit_of_work() as session:
        award(session, ws, ann, PointKind.DAILY_ANSWER, "d:1", BASE, 10)
        award(session, ws, bob, PointKind.DAILY_ANSWER, "d:1", BASE + timedelta(days=20), 5)
        expected = totals.stored(session, ws)
    with db.unit_of_work() as session:  # a database from before migration 0005: no totals
        session.execute(delete(MemberTotal))
    with db.unit_of_work() as session:
        assert backfill(session, NOW) == (6, 0)
    with db.unit_of_work() as session:
        assert totals.stored(session, ws) == expected
        assert backfill(session, NOW) is None  # nothing missing: nothing done
        session.execute(update(MemberTotal).values(points=MemberTotal.points + 1))  # drift
    with db.unit_of_work() as session:
        assert totals.rebuild(session) == 6
    with db.unit_of_work() as session:
        assert totals.stored(session, ws) == expected


@pytest.mark.parametrize(
    ("instant", "zone", "expected"),
    [
        (datetime(2026, 3, 9, 2, 0, tzinfo=UTC), "UTC", ("all", "2026-03", "2026-W11")),
        (
            datetime(2026, 3, 9, 2, 0, tzinfo=UTC),
            "America/New_York",
            ("all", "2026-03", "2026-W10"),
        ),
        (datetime(2026, 2, 28, 15, 0, tzinfo=UTC), "Asia/Tokyo", ("all", "2026-03", "2026-W09")),
        (datetime(2026, 2, 28, 14, 59, tzinfo=UTC), "Asia/Tokyo", ("all", "2026-02", "2026-W09")),
        # ISO week 1 of 2027 starts on Monday 4 January; 1 January 2027 is in 2026-W53
        (datetime(2027, 1, 1, 12, 0, tzinfo=UTC), "UTC", ("all", "2027-01", "2026-W53")),
        # Kathmandu is UTC+05:45: 18:14 UTC is 23:59 local, 18:15 the next day
        (
            datetime(2026, 3, 8, 18, 14, tzinfo=UTC),
            "Asia/Kathmandu",
            ("all", "2026-03", "2026-W10"),
        ),
        (
            datetime(2026, 3, 8, 18, 15, tzinfo=UTC),
            "Asia/Kathmandu",
            ("all", "2026-03", "2026-W11"),
        ),
    ],
)
def test_buckets_are_local_iso_weeks_and_months(
    instant: datetime, zone: str, expected: tuple[str, str, str]
) -> None:
    assert totals.buckets(instant, zone) == expected
    assert totals.buckets(instant + timedelta(seconds=59), zone) == expected
