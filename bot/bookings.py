"""Booked mocks: RSVPs, reminders, opening at the time, the start, no-shows and the .ics file.

A booking reserves its mock number (#N) when it is made, so the mock keeps the number people were
reminded of. Everything due is a row and each step is claimed with a conditional UPDATE (status or
a sent-at column), so a restart or a second process neither loses nor repeats a reminder. Due
scans only see bookings of the workspaces the process owns (`bank.scope`, DESIGN.md §10).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bank.calendar import WEEKDAYS, slot_on
from bank.models import Booking, BookingRsvp, Member, MemberNote, Workspace
from bank.scope import Scope
from bank.upsert import affected_rows, insert_ignore
from bot.mocks import allocate_number
from bot.phases import PHASES, budget_seconds

HOUR_BEFORE = timedelta(hours=1)
SOON_BEFORE = timedelta(minutes=10)
GRACE = timedelta(minutes=10)  # after the start time: no candidate + interviewer → no-show
REOPEN_AFTER = timedelta(minutes=2)  # an opening claimed but not recorded this long: a crash
MAX_AHEAD = timedelta(days=60)
ROLES = ("candidate", "interviewer", "watcher")
PLAYERS = ("candidate", "interviewer")


class BookingError(Exception):
    """A booking request that cannot be done; the message is for the user."""


@dataclass(frozen=True)
class Due:
    """One step of due work on a booking: "hour" / "soon" reminders, "open", "no-show"."""

    booking_id: int
    step: str


def mock_minutes(variant: str = "standard") -> int:
    return sum(budget_seconds(i, variant) for i in range(len(PHASES))) // 60


def resolve_start(now: datetime, at: time, timezone: str, day: str | None) -> datetime:
    """The UTC start of `at` on `day` (YYYY-MM-DD, today, tomorrow, a weekday; None: the next
    HH:MM). Raises `BookingError` for a time in the past or too far ahead."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    if day is None:
        start = slot_on(today, at, timezone)
        if start <= now:
            start = slot_on(today + timedelta(days=1), at, timezone)
    else:
        start = slot_on(_local_day(today, day), at, timezone)
    if start <= now:
        raise BookingError("that time has passed: pick a time ahead")
    if start - now > MAX_AHEAD:
        raise BookingError("book at most 60 days ahead")
    return start


def _local_day(today: date, day: str) -> date:
    if day == "today":
        return today
    if day == "tomorrow":
        return today + timedelta(days=1)
    for index, name in enumerate(WEEKDAYS):
        if day.startswith(name):
            return today + timedelta(days=(index - today.weekday()) % 7 or 7)
    try:
        return date.fromisoformat(day)
    except ValueError:
        raise BookingError(f"{day!r} is not a date (use YYYY-MM-DD)") from None


def create(
    session: Session,
    workspace: Workspace,
    channel_id: int,
    candidate: Member,
    family: str | None,
    starts_at: datetime,
    timezone: str,
    now: datetime,
    interviewer: Member | None = None,
) -> Booking:
    """A booking with its own #N; the creator is the candidate (a pairing may add the
    interviewer). Raises `BookingError` when the candidate already has a mock at that time."""
    clash = session.scalar(
        select(Booking.number)
        .join(BookingRsvp, BookingRsvp.booking_id == Booking.id)
        .where(
            BookingRsvp.member_id == candidate.id,
            Booking.status.in_(("booked", "open")),
            Booking.starts_at > starts_at - timedelta(minutes=mock_minutes()),
            Booking.starts_at < starts_at + timedelta(minutes=mock_minutes()),
        )
    )
    if clash is not None:
        raise BookingError(f"you are already signed up for mock #{clash} around that time")
    booking = Booking(
        workspace_id=workspace.id,
        channel_id=channel_id,
        number=allocate_number(session, workspace),
        family=family,
        starts_at=starts_at,
        timezone=timezone,
        status="booked",
        created_by_id=candidate.id,
        created_at=now,
    )
    session.add(booking)
    session.flush()
    session.add(BookingRsvp(booking_id=booking.id, member_id=candidate.id, role="candidate"))
    if interviewer is not None:
        session.add(
            BookingRsvp(booking_id=booking.id, member_id=interviewer.id, role="interviewer")
        )
    session.flush()
    return booking


def find(session: Session, workspace_id: int, booking_id: int) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None or booking.workspace_id != workspace_id:
        raise BookingError("that booking no longer exists")
    return booking


def rsvps(session: Session, booking_id: int) -> list[tuple[BookingRsvp, Member]]:
    return [
        (rsvp, member)
        for rsvp, member in session.execute(
            select(BookingRsvp, Member)
            .join(Member, Member.id == BookingRsvp.member_id)
            .where(BookingRsvp.booking_id == booking_id)
            .order_by(BookingRsvp.id)
        ).all()
    ]


def sign_up(session: Session, booking: Booking, member: Member, role: str) -> bool:
    """RSVP as interviewer or watcher (changing role is allowed); False if already so."""
    if booking.status not in ("booked", "open"):
        raise BookingError(f"mock #{booking.number} is no longer open for sign-ups")
    current = session.scalars(
        select(BookingRsvp).where(
            BookingRsvp.booking_id == booking.id, BookingRsvp.member_id == member.id
        )
    ).first()
    if current is not None and current.role == "candidate":
        raise BookingError(f"you are the candidate of mock #{booking.number}")
    if current is not None:
        if current.role == role:
            return False
        current.role = role
        return True
    return insert_ignore(
        session,
        BookingRsvp,
        {"booking_id": booking.id, "member_id": member.id, "role": role},
        ("booking_id", "member_id"),
    )


def withdraw(
    session: Session, booking: Booking, member: Member, is_admin: bool, now: datetime
) -> str:
    """The candidate (or an admin) cancels the booking; anyone else takes back their RSVP.
    Returns "cancelled" or "withdrawn"."""
    if booking.status not in ("booked", "open"):
        raise BookingError(f"mock #{booking.number} is not booked any more")
    rsvp = session.scalars(
        select(BookingRsvp).where(
            BookingRsvp.booking_id == booking.id, BookingRsvp.member_id == member.id
        )
    ).first()
    if is_admin or (rsvp is not None and rsvp.role == "candidate"):
        booking.status = "cancelled"
        booking.closed_at = now
        return "cancelled"
    if rsvp is None:
        raise BookingError(f"you are not signed up for mock #{booking.number}")
    session.delete(rsvp)
    return "withdrawn"


def mark_here(session: Session, booking: Booking, member: Member, now: datetime) -> bool:
    """ "I'm here": True when the candidate and at least one interviewer now are, so the mock
    can start. Raises `BookingError` before the thread opens, after the start, or for strangers."""
    if booking.status != "open":
        raise BookingError(
            f"mock #{booking.number} is not open yet"
            if booking.status == "booked"
            else f"mock #{booking.number} is {booking.status}"
        )
    rsvp = session.scalars(
        select(BookingRsvp).where(
            BookingRsvp.booking_id == booking.id, BookingRsvp.member_id == member.id
        )
    ).first()
    if rsvp is None:
        # a late volunteer may still interview
        rsvp = BookingRsvp(booking_id=booking.id, member_id=member.id, role="interviewer")
        session.add(rsvp)
    if rsvp.here_at is None:
        rsvp.here_at = now
    session.flush()
    present = {r.role for r, _ in rsvps(session, booking.id) if r.here_at is not None}
    return {"candidate", "interviewer"} <= present


def claim_start(session: Session, booking_id: int, now: datetime) -> bool:
    """Move an open booking to started, once (two "I'm here" clicks at once start one mock)."""
    claim = (
        update(Booking)
        .where(Booking.id == booking_id, Booking.status == "open")
        .values(status="started", closed_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(session, claim) == 1


def _claim(
    session: Session, booking_id: int, where: list[object], values: dict[str, object]
) -> bool:
    claim = (
        update(Booking)
        .where(Booking.id == booking_id, *where)  # type: ignore[arg-type]
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(session, claim) == 1


def claim_due(
    session: Session, scope: Scope, now: datetime, reopen_after: timedelta = REOPEN_AFTER
) -> list[Due]:
    """Reminders, openings and no-shows due now on `platform`, each claimed exactly once.

    The grace for "I'm here" runs from when the thread opened (late, if the platform refused).
    An opening claimed more than `reopen_after` ago whose thread never got recorded (the
    process died in between) is claimed again: the keyed thread post is then found or made
    once, and nobody is a no-show for a thread they could not see.

    A reminder whose moment passed while the bot was down is skipped when a later step is
    already due (no "in an hour" note ten minutes before).
    """
    rows = session.execute(
        select(
            Booking.id,
            Booking.status,
            Booking.starts_at,
            Booking.reminded_hour_at,
            Booking.reminded_soon_at,
            Booking.opened_at,
            Booking.thread_external_id,
        )
        .where(
            scope.owns(Booking.workspace_id),
            Booking.status.in_(("booked", "open")),
            Booking.starts_at <= now + HOUR_BEFORE,
        )
        .order_by(Booking.starts_at)
        .limit(500)
    ).all()
    claimed: list[Due] = []
    for booking_id, status, starts_at, hour_at, soon_at, opened_at, thread in rows:
        if status == "open" and thread is None:
            if (
                opened_at is not None
                and opened_at + reopen_after <= now
                and _claim(
                    session,
                    booking_id,
                    [
                        Booking.status == "open",
                        Booking.thread_external_id.is_(None),
                        Booking.opened_at == opened_at,
                    ],
                    {"opened_at": now},
                )
            ):
                claimed.append(Due(booking_id, "open"))
            continue
        if status == "open":
            if (opened_at or starts_at) + GRACE <= now and _claim(
                session,
                booking_id,
                [Booking.status == "open"],
                {"status": "no-show", "closed_at": now},
            ):
                claimed.append(Due(booking_id, "no-show"))
            continue
        if starts_at <= now:
            if _claim(
                session,
                booking_id,
                [Booking.status == "booked"],
                {"status": "open", "opened_at": now},
            ):
                claimed.append(Due(booking_id, "open"))
            continue
        if starts_at - SOON_BEFORE <= now:
            if soon_at is None and _claim(
                session,
                booking_id,
                [Booking.status == "booked", Booking.reminded_soon_at.is_(None)],
                {"reminded_soon_at": now, "reminded_hour_at": hour_at or now},
            ):
                claimed.append(Due(booking_id, "soon"))
            continue
        if hour_at is None and _claim(
            session,
            booking_id,
            [Booking.status == "booked", Booking.reminded_hour_at.is_(None)],
            {"reminded_hour_at": now},
        ):
            claimed.append(Due(booking_id, "hour"))
    return claimed


def note_no_shows(session: Session, booking: Booking, now: datetime) -> list[Member]:
    """Everyone who signed up to play (candidate, interviewer) and never came: a note each."""
    absent = [
        member
        for rsvp, member in rsvps(session, booking.id)
        if rsvp.role in PLAYERS and rsvp.here_at is None
    ]
    for member in absent:
        insert_ignore(
            session,
            MemberNote,
            {
                "workspace_id": booking.workspace_id,
                "member_id": member.id,
                "kind": "no-show",
                "reference": f"booking:{booking.id}",
                "text": f"did not come to booked mock #{booking.number}",
                "created_at": now,
            },
            ("kind", "reference", "member_id"),
        )
    return absent


def no_show_count(session: Session, member_id: int) -> int:
    return len(
        session.scalars(
            select(MemberNote.id).where(
                MemberNote.member_id == member_id, MemberNote.kind == "no-show"
            )
        ).all()
    )


def upcoming(
    session: Session, workspace_id: int, now: datetime, until: datetime | None = None
) -> list[Booking]:
    query = (
        select(Booking)
        .where(
            Booking.workspace_id == workspace_id,
            Booking.status.in_(("booked", "open")),
            Booking.starts_at >= now - GRACE,
        )
        .order_by(Booking.starts_at, Booking.number)
    )
    if until is not None:
        query = query.where(Booking.starts_at < until)
    return list(session.scalars(query.limit(50)))


def ics(booking: Booking, title: str, description: str, domain: str = "mlsd-dojo") -> str:
    """An iCalendar (RFC 5545) event for the booking; the UID is stable, so a re-sent file
    updates the same calendar entry instead of adding another."""
    calendar = Calendar()
    calendar.add("prodid", "-//mlsd-dojo//booked mocks//EN")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"booking-{booking.id}-{booking.workspace_id}@{domain}")
    event.add("dtstamp", booking.created_at)
    event.add("dtstart", booking.starts_at)
    event.add("dtend", booking.starts_at + timedelta(minutes=mock_minutes()))
    event.add("summary", title)
    event.add("description", description)
    calendar.add_component(event)
    return bytes(calendar.to_ical()).decode()
