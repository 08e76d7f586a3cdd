"""Standings from the running totals: a few index range scans per request, whatever the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from bank.models import Member
from scoring.models import MemberTotal
from scoring.totals import current_bucket

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
    """The top `top` plus `member_id`'s own row. Ties: more points first, then name, then id.

    Members who left (`members.left_at`) are left out and ranked past. Reads the running totals
    (`scoring.totals`): index range scans whose cost does not grow with the ledger.
    """
    bucket = current_bucket(period, now, timezone)
    in_bucket = and_(MemberTotal.workspace_id == workspace_id, MemberTotal.bucket == bucket)
    present = and_(Member.id == MemberTotal.member_id, Member.left_at.is_(None))
    threshold = (  # the points of the `top`-th present member: everyone above is in the top
        select(MemberTotal.points)
        .join(Member, present)
        .where(in_bucket)
        .order_by(MemberTotal.points.desc())
        .offset(top - 1)
        .limit(1)
        .scalar_subquery()
    )
    order = (MemberTotal.points.desc(), Member.display_name, Member.id)
    rows = [
        Standing(rank, int(mid), str(name), int(points))
        for rank, (mid, name, points) in enumerate(
            session.execute(
                select(MemberTotal.member_id, Member.display_name, MemberTotal.points)
                .join(Member, present)
                .where(in_bucket, MemberTotal.points >= func.coalesce(threshold, 0))
                .order_by(*order)
                .limit(top)
            ),
            start=1,
        )
    ]
    if member_id is None or any(r.member_id == member_id for r in rows):
        return rows
    own = session.execute(
        select(Member.display_name, MemberTotal.points)
        .join(Member, present)
        .where(in_bucket, MemberTotal.member_id == member_id)
    ).first()
    if own is None:
        return rows
    name, points = own
    return [
        *rows,
        Standing(
            _rank(session, workspace_id, bucket, member_id, name, points), member_id, name, points
        ),
    ]


def _rank(
    session: Session, workspace_id: int, bucket: str, member_id: int, name: str, points: int
) -> int:
    """1 + the present members ahead: more points, or as many and an earlier (name, id).

    Those with more points are counted on the index alone, minus the few departed among them.
    """
    in_bucket = and_(MemberTotal.workspace_id == workspace_id, MemberTotal.bucket == bucket)
    above = (
        select(func.count())
        .select_from(MemberTotal)
        .where(in_bucket, MemberTotal.points > points)
        .scalar_subquery()
    )
    departed_above = (
        select(func.count())
        .select_from(Member)
        .join(MemberTotal, MemberTotal.member_id == Member.id)
        .where(
            Member.workspace_id == workspace_id,
            Member.left_at.is_not(None),
            in_bucket,
            MemberTotal.points > points,
        )
        .scalar_subquery()
    )
    tied_before = (
        select(func.count())
        .select_from(MemberTotal)
        .join(Member, and_(Member.id == MemberTotal.member_id, Member.left_at.is_(None)))
        .where(
            in_bucket,
            MemberTotal.points == points,
            or_(
                Member.display_name < name,
                and_(Member.display_name == name, Member.id < member_id),
            ),
        )
        .scalar_subquery()
    )
    ahead = session.scalar(select(above - departed_above + tied_before))  # one round trip
    return 1 + int(ahead or 0)
