"""Running totals: points per (workspace, member, bucket), kept in step with the ledger.

Every ledger insert or revision adds its difference to three buckets in the same transaction:
`all`, the month (`2026-03`) and the ISO week (`2026-W13`) of the award's instant in the
workspace's time zone. The leaderboard then reads an index instead of summing the ledger.

A workspace that changes its time zone gets its week and month buckets recomputed from the
ledger in the new zone (`set_workspace_timezone`): "this week" always means the same thing for
old and new awards, and the totals always equal a recomputation from the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bank.models import Workspace
from scoring.models import MemberTotal, PointsEntry

ALL = "all"
Key = tuple[int, str, int]  # (workspace id, bucket, member id)


@lru_cache(maxsize=1 << 16)  # a year of quarter hours in a few zones
def _local_buckets(quarter_hour: datetime, timezone: str) -> tuple[str, str]:
    local = quarter_hour.astimezone(ZoneInfo(timezone))
    year, week, _ = local.isocalendar()
    return f"{local.year}-{local.month:02d}", f"{year}-W{week:02d}"


def buckets(at: datetime, timezone: str) -> tuple[str, str, str]:
    """(`all`, month, ISO week) of an aware instant in `timezone`.

    Every zone's offset is a whole number of quarter hours, so the instant's quarter hour
    decides the local date; caching on it makes rebuilding millions of rows cheap.
    """
    quarter = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
    month, week = _local_buckets(quarter, timezone)
    return ALL, month, week


def current_bucket(period: str, now: datetime, timezone: str) -> str:
    """The bucket a leaderboard period (`week`, `month`, `all`) reads at `now`."""
    _, month, week = buckets(now, timezone)
    return {"all": ALL, "month": month, "week": week}[period]


def _add_statement(session: Session) -> Any:
    """INSERT … ON CONFLICT DO UPDATE adding to the stored points: concurrent awards add up."""
    dialect = session.get_bind().dialect.name
    insert_: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = insert_(MemberTotal)
    return statement.on_conflict_do_update(
        index_elements=["workspace_id", "bucket", "member_id"],
        set_={"points": MemberTotal.points + statement.excluded.points},
    )


def add(session: Session, workspace_id: int, member_id: int, at: datetime, points: int) -> None:
    """Add `points` (0 for a new zero award, negative for a lowered revision) to the award's
    three buckets, in one statement."""
    timezone = session.get_one(Workspace, workspace_id).timezone
    session.execute(
        _add_statement(session).values(
            [
                {
                    "workspace_id": workspace_id,
                    "bucket": b,
                    "member_id": member_id,
                    "points": points,
                }
                for b in buckets(at, timezone)
            ]
        )
    )


def _ledger_rows(
    session: Session, workspace_id: int | None
) -> Iterator[tuple[int, int, int, datetime]]:
    query = select(
        PointsEntry.workspace_id, PointsEntry.member_id, PointsEntry.points, PointsEntry.created_at
    ).order_by(PointsEntry.workspace_id, PointsEntry.created_at)
    if workspace_id is not None:
        query = query.where(PointsEntry.workspace_id == workspace_id)
    for row in session.execute(query.execution_options(yield_per=20_000)):
        yield row.workspace_id, row.member_id, row.points, row.created_at


def recompute(session: Session, workspace_id: int | None = None) -> Iterator[dict[Key, int]]:
    """Totals recomputed from the ledger, in chunks of closed buckets (bounded memory).

    The ledger is read in (workspace, time) order, so a week's or month's sums are complete as
    soon as the next one starts (a zone whose clocks go back over midnight can re-open one: the
    same key may come in two chunks, and callers add them); all-time sums close with the
    workspace.
    """
    zones = {ws: zone for ws, zone in session.execute(select(Workspace.id, Workspace.timezone))}
    open_: dict[Key, int] = {}
    current: dict[tuple[int, int], str] = {}  # (workspace, kind 1 = month, 2 = week) → bucket
    workspace = None
    for ws, member, points, at in _ledger_rows(session, workspace_id):
        if ws != workspace:
            if open_:
                yield open_
            open_, current, workspace = {}, {}, ws
        keys = buckets(at, zones[ws])
        closed: dict[Key, int] = {}
        for kind in (1, 2):
            if current.get((ws, kind), keys[kind]) != keys[kind]:
                old = current[(ws, kind)]
                for key in [k for k in open_ if k[1] == old]:
                    closed[key] = open_.pop(key)
            current[(ws, kind)] = keys[kind]
        if closed:
            yield closed
        for bucket in keys:
            open_[(ws, bucket, member)] = open_.get((ws, bucket, member), 0) + points
    if open_:
        yield open_


def stored(session: Session, workspace_id: int | None = None) -> dict[Key, int]:
    """Every stored total (for checks and tests; production code never loads them all)."""
    query = select(
        MemberTotal.workspace_id, MemberTotal.bucket, MemberTotal.member_id, MemberTotal.points
    )
    if workspace_id is not None:
        query = query.where(MemberTotal.workspace_id == workspace_id)
    return {(w, b, m): p for w, b, m, p in session.execute(query)}


def recomputed(session: Session, workspace_id: int | None = None) -> dict[Key, int]:
    """`recompute` as one mapping, for checks and tests."""
    merged: dict[Key, int] = {}
    for chunk in recompute(session, workspace_id):
        for key, points in chunk.items():
            merged[key] = merged.get(key, 0) + points
    return merged


def rebuild(session: Session, workspace_id: int | None = None) -> int:
    """Replace the stored totals (of one workspace, or all) by a recomputation; rows written."""
    cleared = delete(MemberTotal)
    if workspace_id is not None:
        cleared = cleared.where(MemberTotal.workspace_id == workspace_id)
    session.execute(cleared)
    written = 0
    for chunk in recompute(session, workspace_id):
        session.execute(  # adding, not inserting: a bucket re-opened by a DST jump adds up
            _add_statement(session),
            [
                {"workspace_id": w, "bucket": b, "member_id": m, "points": p}
                for (w, b, m), p in chunk.items()
            ],
        )
        written += len(chunk)
    return written


def set_workspace_timezone(session: Session, workspace: Workspace, timezone: str) -> None:
    """Change a workspace's time zone and re-bucket its totals in it.

    Week and month buckets of the whole history are recomputed in the new zone (all-time sums
    do not depend on it), so totals stay equal to a recomputation from the ledger. This costs a
    pass over the workspace's ledger, once per change: a rare admin action.
    """
    if workspace.timezone == timezone:
        return
    workspace.timezone = timezone
    session.flush()
    rebuild(session, workspace.id)


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(MemberTotal)) or 0
