"""Standings from the running totals: a few index range scans per request, whatever the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Select, String, and_, bindparam, func, or_, select
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


def _statements() -> tuple[Select[int, str, int], Select[str, int], Select[int]]:
    """The three statements, built once with bound parameters: building and keying a statement
    costs more than these index lookups take to run."""
    workspace = bindparam("workspace", type_=Integer)
    bucket = bindparam("bucket", type_=String)
    member = bindparam("member", type_=Integer)
    points = bindparam("points", type_=Integer)
    name = bindparam("name", type_=String)
    in_bucket = and_(MemberTotal.workspace_id == workspace, MemberTotal.bucket == bucket)
    present = and_(Member.id == MemberTotal.member_id, Member.left_at.is_(None))
    threshold = (  # the points of the `top`-th present member: everyone above is in the top
        select(MemberTotal.points)
        .join(Member, present)
        .where(in_bucket)
        .order_by(MemberTotal.points.desc())
        .offset(bindparam("skip"))
        .limit(1)
        .scalar_subquery()
    )
    top = (
        select(MemberTotal.member_id, Member.display_name, MemberTotal.points)
        .join(Member, present)
        .where(in_bucket, MemberTotal.points >= func.coalesce(threshold, 0))
        .order_by(MemberTotal.points.desc(), Member.display_name, Member.id)
        .limit(bindparam("top"))
    )
    own = (
        select(Member.display_name, MemberTotal.points)
        .join(Member, present)
        .where(in_bucket, MemberTotal.member_id == member)
    )
    # ahead of the caller: more points (counted on the index alone) minus the few departed among
    # them, plus the present members with as many points and an earlier (name, id)
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
            Member.workspace_id == workspace,
            Member.left_at.is_not(None),
            in_bucket,
            MemberTotal.points > points,
        )
        .scalar_subquery()
    )
    tied_before = (
        select(func.count())
        .select_from(MemberTotal)
        .join(Member, present)
        .where(
            in_bucket,
            MemberTotal.points == points,
            or_(Member.display_name < name, and_(Member.display_name == name, Member.id < member)),
        )
        .scalar_subquery()
    )
    return top, own, select(above - departed_above + tied_before)


TOP, OWN, AHEAD = _statements()


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
    where = {"workspace": workspace_id, "bucket": current_bucket(period, now, timezone)}
    rows = [
        Standing(rank, int(mid), str(name), int(points))
        for rank, (mid, name, points) in enumerate(
            session.execute(TOP, {**where, "skip": top - 1, "top": top}), start=1
        )
    ]
    if member_id is None or any(r.member_id == member_id for r in rows):
        return rows
    own = session.execute(OWN, {**where, "member": member_id}).first()
    if own is None:
        return rows
    name, points = own
    ahead = session.scalar(AHEAD, {**where, "member": member_id, "points": points, "name": name})
    return [*rows, Standing(1 + int(ahead or 0), member_id, name, points)]
