"""Voice rooms beside mocks (Discord, optional): which mocks need a room, which rooms can go.

A booked mock gets its room when its thread opens and keeps it when the mock starts; a mock
started without a booking gets one at the next tick. A room goes when its mock has ended or its
booking was cancelled or not held. The `mock_key` row is claimed before the platform is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bank.models import Booking, Channel, Interview, VoiceRoom
from bank.scope import Scope
from bank.upsert import insert_ignore
from bot.mocks import LIVE


@dataclass(frozen=True)
class Wanted:
    room_id: int  # the claimed row
    channel_external_id: str
    name: str


def claim_new(session: Session, scope: Scope, now: datetime) -> list[Wanted]:
    """Rooms to open now: open or started bookings, and live mocks that were not booked."""
    wanted: list[tuple[str, int, int | None, int | None, str, int]] = []
    for booking in session.scalars(
        select(Booking)
        .outerjoin(VoiceRoom, VoiceRoom.booking_id == Booking.id)
        .where(
            scope.owns(Booking.workspace_id),
            Booking.status == "open",
            VoiceRoom.id.is_(None),
        )
    ):
        wanted.append(
            (
                f"booking:{booking.id}",
                booking.workspace_id,
                booking.id,
                None,
                f"mock-{booking.number}",
                booking.channel_id,
            )
        )
    booked = select(Booking.interview_id).where(Booking.interview_id.is_not(None))
    for interview in session.scalars(
        select(Interview)
        .outerjoin(VoiceRoom, VoiceRoom.interview_id == Interview.id)
        .where(
            scope.owns(Interview.workspace_id),
            Interview.status.in_(LIVE),
            Interview.thread_external_id.is_not(None),
            Interview.id.not_in(booked),
            VoiceRoom.id.is_(None),
        )
    ):
        wanted.append(
            (
                f"interview:{interview.id}",
                interview.workspace_id,
                None,
                interview.id,
                f"mock-{interview.number}",
                interview.channel_id,
            )
        )
    claimed = []
    for key, workspace_id, booking_id, interview_id, name, channel_id in wanted:
        if insert_ignore(
            session,
            VoiceRoom,
            {
                "workspace_id": workspace_id,
                "mock_key": key,
                "booking_id": booking_id,
                "interview_id": interview_id,
                "created_at": now,
            },
            ("mock_key",),
        ):
            room = session.scalars(select(VoiceRoom).where(VoiceRoom.mock_key == key)).one()
            channel = session.get_one(Channel, channel_id)
            claimed.append(Wanted(room.id, channel.external_id, name))
    return claimed


def claim_finished(session: Session, scope: Scope, now: datetime) -> list[str]:
    """Rooms whose mock is over (or whose booking will not happen): marked closed, ids returned."""
    rows = session.execute(
        select(VoiceRoom)
        .outerjoin(Booking, Booking.id == VoiceRoom.booking_id)
        .outerjoin(
            Interview,
            or_(
                Interview.id == VoiceRoom.interview_id,
                and_(VoiceRoom.booking_id.is_not(None), Interview.id == Booking.interview_id),
            ),
        )
        .where(
            scope.owns(VoiceRoom.workspace_id),
            VoiceRoom.closed_at.is_(None),
            VoiceRoom.room_external_id.is_not(None),
            or_(
                Booking.status.in_(("cancelled", "no-show")),
                Interview.status == "ended",
            ),
        )
    ).scalars()
    closed = []
    for room in rows:
        room.closed_at = now
        closed.append(str(room.room_external_id))
    return closed
