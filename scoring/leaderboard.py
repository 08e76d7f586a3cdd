"""Standings from the points ledger: one indexed, windowed SQL query per request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bank.models import Member
from scoring.models import PointsEntry

PERIOD_NAMES = {"week": "this week", "month": "this month", "all": "all time"}


@dataclass(frozen=True)
class Standing:
    rank: int
    member_id: int
    name: str
    points: int


def period_start(period: str, now: datetime, timezone: str) -> datetime | None:
    """Start of the current ISO week / calendar month in the workspace's time zone."""
    if period == "all":
        return None
    local = now.astimezone(ZoneInfo(timezone)).date()
    first = local - timedelta(days=local.weekday()) if period == "week" else local.replace(day=1)
    return datetime.combine(first, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def standings(
    session: Session,
    workspace_id: int,
    period: str,
    now: datetime,
    timezone: str,
    member_id: int | None = None,
    top: int = 10,
) -> list[Standing]:
    """The top `top` plus `member_id`'s own row. Ties: more points first, then name, then id."""
    since = period_start(period, now, timezone)
    totals = select(
        PointsEntry.member_id.label("member_id"),
        func.sum(PointsEntry.points).label("points"),
    ).where(PointsEntry.workspace_id == workspace_id)
    if since is not None:
        totals = totals.where(PointsEntry.created_at >= since)
    sums = totals.group_by(PointsEntry.member_id).subquery()
    ranked = (
        select(
            func.row_number()
            .over(order_by=(sums.c.points.desc(), Member.display_name, Member.id))
            .label("rank"),
            sums.c.member_id,
            Member.display_name,
            sums.c.points,
        )
        .join(Member, Member.id == sums.c.member_id)
        .where(Member.left_at.is_(None))  # people who left are hidden; their points are kept
        .subquery()
    )
    query = (
        select(ranked)
        .where(or_(ranked.c.rank <= top, ranked.c.member_id == (member_id or -1)))
        .order_by(ranked.c.rank)
    )
    return [
        Standing(int(rank), int(mid), str(name), int(points))
        for rank, mid, name, points in session.execute(query)
    ]
