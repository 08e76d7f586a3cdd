"""Practice partners end to end: the pairing queue, booked mocks, suggestions, the weekly digest.

Like the other flows, each step changes rows in one short transaction and talks to the platform
outside it; due work claims its rows first, so a restart or a second process repeats nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bank.models import (
    Booking,
    Channel,
    Interview,
    Member,
    PairRequest,
    Question,
    VoiceRoom,
    Workspace,
)
from bank.selection import UnknownTopic, family_infos, match_families, mock_question_for_member
from bot import bookings, digest, mocks, pairing, render, suggestions, voice
from bot import partner_render as words
from bot.delivery import Note
from bot.flows import bank_flow, mock_flow
from bot.flows.context import Context, isolated
from bot.grammar import Book, Pair, StartMock
from bot.phases import budget_seconds
from bot.port import (
    Actor,
    Attachment,
    Delivered,
    Form,
    FormInput,
    Message,
    Place,
    Reply,
    Tone,
    VoiceRooms,
)

log = logging.getLogger("dojo.partners")
SUGGEST = "suggest:submit"
REASON = "suggest:reason"
ACTIONS = (
    words.INTERVIEW,
    words.WATCH,
    words.CANCEL,
    words.HERE,
    words.APPROVE,
    words.REJECT,
    SUGGEST,
    REASON,
)
EXPECTED = (pairing.PairError, bookings.BookingError, suggestions.SuggestionError)


def _family(session: Session, topic: str | None, workspace_id: int) -> str | None:
    """The bank family a typed topic means in the workspace's view of the bank (None: any).
    Raises `UnknownTopic`."""
    if topic is None:
        return None
    infos = family_infos(session, workspace_id)
    matched = match_families(topic, infos)
    if not matched:
        raise UnknownTopic(topic, [f.slug for f in infos])
    return matched[0]


def _channel_ext(session: Session, channel_id: int) -> str:
    return session.get_one(Channel, channel_id).external_id


# -- the pairing queue --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Pairing:
    workspace: str
    candidate: tuple[str, str]  # (external id, name)
    interviewer: tuple[str, str]
    family: str | None
    channel: str  # where the mock opens / the booking is posted (the longer wait's channel)
    booking_id: int | None
    timezone: str
    starts_at: datetime | None
    requests: tuple[int, int]  # the two pair_requests rows, lower id first
    interview_id: int | None  # the mock made with the match (None: a booking, or taken back)


def pair(ctx: Context, request: Pair, actor: Actor, place: Place) -> Reply:
    now = ctx.now()
    with ctx.seen(actor, place) as (session, seen):
        if request.leave:
            left = pairing.leave_queue(session, seen.member, now)
            return Reply(
                Message("You left the pairing queue." if left else "You were not in the queue.")
            )
        family = _family(session, request.topic, seen.workspace.id)
        timezone = request.timezone or seen.channel.timezone
        window = pairing.window_of(now, request.at, timezone, request.days)
        waiting, match = pairing.join_queue(
            session,
            seen.workspace,
            seen.channel.id,
            seen.member,
            family,
            request.level,
            window,
            now,
        )
        if match is None:
            others = pairing.queue_length(session, seen.workspace.id, now) - 1
            span = f"until {words.when(waiting.expires_at, timezone)}"
            if waiting.window_start is not None:
                span = f"from {words.when(waiting.window_start, timezone)} for an hour"
            return Reply(
                Message(
                    f"You are in the pairing queue ({words.topic_of(family)}, "
                    f"{request.level or 'any level'}), {span}. {others} other(s) waiting with "
                    "no fit yet. I will tell you privately when someone matches; "
                    "`/mlsd pair leave` to stop.",
                    tone=Tone.SUCCESS,
                )
            )
        found = _settle(ctx, session, seen.workspace, match, timezone, now)
    answer = _announce(ctx, found, actor.user_id)
    assert answer is not None  # the one who asked is answered here, not by a note
    return Reply(answer)


def _settle(
    ctx: Context,
    session: Session,
    workspace: Workspace,
    match: pairing.Match,
    timezone: str,
    now: datetime,
) -> _Pairing:
    candidate = session.get_one(Member, match.candidate_id)
    interviewer = session.get_one(Member, match.interviewer_id)
    booking_id = interview_id = None
    later = match.starts_at > now
    if not later:  # the mock is made with the match: a crash can only delay its thread
        interview_id = mock_flow.create(
            ctx,
            session,
            workspace,
            match.channel_id,
            candidate,
            [interviewer],
            StartMock(match.family),
            now,
        ).id
    else:
        booking = bookings.create(
            session,
            workspace,
            match.channel_id,
            candidate,
            match.family,
            match.starts_at,
            timezone,
            now,
            interviewer=interviewer,
        )
        booking_id = booking.id
    pairing.link(session, match.requests, interview_id, booking_id)
    first, second = sorted(match.requests)
    return _Pairing(
        workspace.external_id,
        (candidate.external_id, candidate.display_name),
        (interviewer.external_id, interviewer.display_name),
        match.family,
        _channel_ext(session, match.channel_id),
        booking_id,
        timezone,
        match.starts_at if later else None,
        (first, second),
        interview_id,
    )


def _recorded(session: Session, row: PairRequest, partner: PairRequest) -> _Pairing:
    """The `_Pairing` `_settle` made, rebuilt from the two matched rows."""
    candidate = session.get_one(Member, row.member_id)
    interviewer = session.get_one(Member, partner.member_id)
    waited = min((row, partner), key=lambda r: (r.created_at, r.id))
    channel = session.get_one(Channel, waited.channel_id)
    booking = None if row.booking_id is None else session.get(Booking, row.booking_id)
    first, second = sorted((row.id, partner.id))
    return _Pairing(
        session.get_one(Workspace, row.workspace_id).external_id,
        (candidate.external_id, candidate.display_name),
        (interviewer.external_id, interviewer.display_name),
        row.family or partner.family,
        channel.external_id,
        None if booking is None else booking.id,
        channel.timezone if booking is None else booking.timezone,
        None if booking is None else booking.starts_at,
        (first, second),
        row.interview_id,
    )


def _announce(ctx: Context, found: _Pairing, asked: str | None) -> Message | None:
    """Open the mock (or post the booking), then tell both members privately; returns the note
    for `asked` (the member whose command made the match, answered directly), None when a
    recovery finishes the announcement and both get a note.

    Every step is keyed, and a mock already opened for this match is only finished, so a run
    cut off by a crash can be run again (`announce_matches`) without doubling anything; the
    match counts as announced once the notes are out.
    """
    try:
        number, files = _open_match(ctx, found)
    except mocks.MockError as exc:  # both must hear it: the match is used up
        failed = Message(f"You were matched, but the mock did not open: {exc}", tone=Tone.ERROR)
        _tell(ctx, found, {found.candidate[0]: failed, found.interviewer[0]: failed}, asked)
        if asked is not None:
            raise
        return None
    notes = {}
    for me, partner, role in (
        (found.candidate, found.interviewer, "candidate"),
        (found.interviewer, found.candidate, "interviewer"),
    ):
        note = words.matched(partner[1], role, number, found.starts_at, found.timezone)
        notes[me[0]] = dataclasses.replace(note, files=files)
    _tell(ctx, found, notes, asked)
    return None if asked is None else notes[asked]


def _open_match(ctx: Context, found: _Pairing) -> tuple[int, tuple[Attachment, ...]]:
    """The match's mock thread opened (or finished opening) or its booking posted: (#N, files).
    Raises `MockError` when the platform refused the thread (the mock was taken back)."""
    if found.booking_id is not None:
        return _post_booking(ctx, found.booking_id)
    with ctx.db.unit_of_work() as session:
        interview = (
            None if found.interview_id is None else session.get(Interview, found.interview_id)
        )
        number = None if interview is None else interview.number
    if found.interview_id is None or number is None:
        raise mocks.MockError("the platform refused its thread, so it was taken back")
    mock_flow.open_thread(ctx, found.interview_id)
    return number, ()


def _tell(ctx: Context, found: _Pairing, notes: dict[str, Message], asked: str | None) -> None:
    """Queue the notes for everyone but `asked` in the outbox (once per match and member), send
    them, then record the match as announced."""
    keys = []
    with ctx.db.unit_of_work() as session:
        for user_id, message in notes.items():
            if user_id == asked:
                continue
            where = Place(found.channel)
            note = Note(user_id, where, message, words.MATCHED_FALLBACK)
            key = f"pair:{found.requests[0]}:matched:{user_id}"
            keys.append(ctx.courier.enqueue(session, key, where, message, note))
    with isolated(f"telling the members of pair {found.requests[0]}"):
        ctx.courier.flush(keys)
    with ctx.db.unit_of_work() as session:
        pairing.mark_announced(session, found.requests, ctx.now())


def announce_matches(ctx: Context, after: timedelta = pairing.ANNOUNCE_AFTER) -> int:
    """Finish the announcements a crash cut off (matched, never told): see `_announce`."""
    with ctx.db.unit_of_work() as session:
        claimed = pairing.claim_unannounced(session, ctx.scope, ctx.now(), after)
        found = [_recorded(session, row, partner) for row, partner in claimed]
    for match in found:
        with isolated(f"announcing the match of pair {match.requests[0]}"):
            _announce(ctx, match, None)
    return len(found)


# -- booked mocks -------------------------------------------------------------------------------


def book(ctx: Context, request: Book, actor: Actor, place: Place) -> Reply:
    now = ctx.now()
    with ctx.seen(actor, place) as (session, seen):
        family = _family(session, request.topic, seen.workspace.id)
        timezone = request.timezone or seen.channel.timezone
        starts_at = bookings.resolve_start(now, request.at, timezone, request.day)
        booking = bookings.create(
            session, seen.workspace, seen.channel.id, seen.member, family, starts_at, timezone, now
        )
        booking_id = booking.id
    try:
        number, files = _post_booking(ctx, booking_id)
    except Exception as exc:  # the platform refused the post: take the booking back
        log.warning("could not post booking %s: %s", booking_id, exc)
        with ctx.db.unit_of_work() as session:
            session.delete(session.get_one(Booking, booking_id))
        raise bookings.BookingError(
            "I could not post the booking here (is the bot in this channel?); nothing was booked"
        ) from None
    return Reply(
        Message(
            f"Mock #{number} booked for {words.when(starts_at, timezone)}. "
            "The calendar file is attached.",
            files=files,
            tone=Tone.SUCCESS,
        )
    )


def _card(session: Session, booking: Booking) -> Message:
    if booking.status not in ("booked", "open"):
        return words.booking_closed(booking.number, booking.family, booking.status)
    people = bookings.rsvps(session, booking.id)
    names = {role: [m.display_name for r, m in people if r.role == role] for role in bookings.ROLES}
    return words.booking_post(
        booking.number,
        booking.id,
        booking.family,
        booking.starts_at,
        booking.timezone,
        ", ".join(names["candidate"]),
        names["interviewer"],
        names["watcher"],
    )


def _calendar_file(booking: Booking) -> Attachment:
    title = f"Mock #{booking.number}: {words.topic_of(booking.family)} (mlsd-dojo)"
    text = 'A booked ML system design mock. Press "I\'m here" in its thread at the time.'
    return Attachment(f"mock-{booking.number}.ics", bookings.ics(booking, title, text))


def _post_booking(ctx: Context, booking_id: int) -> tuple[int, tuple[Attachment, ...]]:
    """Post the booking card in its channel and remember the message, for later edits."""
    with ctx.db.unit_of_work() as session:
        booking = session.get_one(Booking, booking_id)
        where = Place(_channel_ext(session, booking.channel_id))
        card = _card(session, booking)
        number, files = booking.number, (_calendar_file(booking),)
    posted = ctx.courier.post_once(where, card, f"booking:{booking_id}:card")
    message_id = posted.message_id if isinstance(posted, Delivered) else None
    with ctx.db.unit_of_work() as session:
        session.get_one(Booking, booking_id).message_external_id = message_id
    return number, files


def _refresh_card(ctx: Context, booking_id: int) -> None:
    with ctx.db.unit_of_work() as session:
        booking = session.get_one(Booking, booking_id)
        message_id = booking.message_external_id
        where = Place(_channel_ext(session, booking.channel_id))
        card = _card(session, booking)
    if message_id is not None:
        with isolated(f"updating the card of booking {booking_id}"):
            ctx.port.edit(where, message_id, card)


def list_bookings(ctx: Context, actor: Actor, place: Place) -> Reply:
    with ctx.seen(actor, place) as (session, seen):
        ahead = bookings.upcoming(session, seen.workspace.id, ctx.now())
        lines = []
        for booking in ahead:
            people = bookings.rsvps(session, booking.id)
            who = ", ".join(f"{m.display_name} ({r.role})" for r, m in people)
            lines.append(
                f"#{booking.number} · {words.when(booking.starts_at, booking.timezone)} · "
                f"{words.topic_of(booking.family)} · {who}"
            )
    if not lines:
        return Reply(Message("No mocks are booked. `/mlsd book TOPIC at HH:MM` books one."))
    return Reply(Message("\n".join(lines), title=f"Booked mocks ({len(lines)})"))


def on_rsvp(ctx: Context, action_id: str, value: str, actor: Actor, place: Place) -> Reply:
    now = ctx.now()
    with ctx.seen(actor, place) as (session, seen):
        booking = bookings.find(session, seen.workspace.id, _id(value))
        number = booking.number
        if action_id == words.CANCEL:
            outcome = bookings.withdraw(session, booking, seen.member, seen.is_admin, now)
            text = (
                f"Mock #{number} is cancelled."
                if outcome == "cancelled"
                else f"You are no longer signed up for mock #{number}."
            )
            files: tuple[Attachment, ...] = ()
        else:
            role = "interviewer" if action_id == words.INTERVIEW else "watcher"
            changed = bookings.sign_up(session, booking, seen.member, role)
            text = (
                f"You are signed up for mock #{number} as {role}."
                if changed
                else f"You were already signed up for mock #{number} as {role}."
            )
            files = (_calendar_file(booking),)
        booking_id = booking.id
    _refresh_card(ctx, booking_id)
    return Reply(Message(text, files=files, tone=Tone.SUCCESS))


@dataclasses.dataclass(frozen=True)
class _Start:
    interview_id: int
    number: int
    where: Place
    question: Question
    candidate: str
    interviewers: list[tuple[str, str]]  # (external id, name)


def on_here(ctx: Context, value: str, actor: Actor, place: Place) -> Reply:
    now = ctx.now()
    with ctx.seen(actor, place) as (session, seen):
        booking = bookings.find(session, seen.workspace.id, _id(value))
        ready = bookings.mark_here(session, booking, seen.member, now)
        number = booking.number
        start = _start_booked(ctx, session, seen.workspace, booking, now) if ready else None
        waiting = [
            m.display_name
            for r, m in bookings.rsvps(session, booking.id)
            if r.role in bookings.PLAYERS and r.here_at is None
        ]
    if start is None:
        return Reply(
            Message(
                f"Noted: you are here for mock #{number}. Waiting for: "
                f"{', '.join(waiting) or 'an interviewer'}."
            )
        )
    _open_first_phase(ctx, start)
    _refresh_card(ctx, _id(value))
    return Reply(Message(f"Mock #{number} has started in its thread.", tone=Tone.SUCCESS))


def _start_booked(
    ctx: Context, session: Session, workspace: Workspace, booking: Booking, now: datetime
) -> _Start | None:
    """The interview of a booking, once (the status claim), with whoever came to interview."""
    if not bookings.claim_start(session, booking.id, now):
        return None
    people = bookings.rsvps(session, booking.id)
    candidate = next(m for r, m in people if r.role == "candidate")
    panel = [m for r, m in people if r.role == "interviewer" and r.here_at is not None]
    question = mock_question_for_member(
        session,
        candidate.id,
        booking.family,
        f"{ctx.seed}:{candidate.id}:{booking.number}",
        workspace_id=workspace.id,
    )
    interview = mocks.start_mock(
        session,
        workspace,
        booking.channel_id,
        candidate,
        panel,
        question,
        "standard",
        now,
        number=booking.number,
    )
    interview.thread_external_id = booking.thread_external_id
    booking.interview_id = interview.id
    channel = _channel_ext(session, booking.channel_id)
    return _Start(
        interview.id,
        booking.number,
        Place(channel, booking.thread_external_id),
        question,
        candidate.display_name,
        [(m.external_id, m.display_name) for m in panel],
    )


def _open_first_phase(ctx: Context, start: _Start) -> None:
    with isolated(f"opening the first phase of mock #{start.number}"):
        ctx.courier.post_once(
            start.where,
            render.mock_root(
                start.number,
                start.question,
                start.candidate,
                [name for _, name in start.interviewers],
                "standard",
            ),
            f"mock:{start.interview_id}:root",
        )
        first = ctx.courier.post_once(
            start.where,
            render.phase_message(start.number, 0, budget_seconds(0, "standard"), start.question),
            f"mock:{start.interview_id}:phase:0",
        )
        message_id = first.message_id if isinstance(first, Delivered) else None
        with ctx.db.unit_of_work() as session:
            interview = session.get_one(Interview, start.interview_id)
            mocks.current_phase(session, interview).message_external_id = message_id
    kit = render.phase_kit(start.number, 0, start.question)
    with isolated(f"sending the kit of mock #{start.number}"):  # like any mock: a lasting note
        mock_flow.send_kit(ctx, start.where, start.interviewers, kit, start.question.slug)


def _id(value: str) -> int:
    if not value.isdigit():
        raise bookings.BookingError("that button is no longer active")
    return int(value)


# -- suggestions --------------------------------------------------------------------------------


def suggest_form() -> Form:
    return dataclasses.replace(
        bank_flow.add_form(), form_id=SUGGEST, title="Suggest a question", submit_label="Suggest"
    )


def suggest(ctx: Context, actor: Actor, place: Place) -> Reply:
    return Reply(Message("Describe your question; an admin reviews it.", form=suggest_form()))


def submit_suggestion(ctx: Context, fields: Mapping[str, str], actor: Actor, place: Place) -> Reply:
    try:
        family, spec = bank_flow.spec_from_fields(fields)
    except bank_flow.FormProblem as exc:
        return Reply.error(f"not sent: {exc}")
    with ctx.seen(actor, place) as (session, seen):
        known = [f.slug for f in family_infos(session, seen.workspace.id)]
        if family not in known:
            return Reply.error(f"not sent: unknown family {family!r}; families: {', '.join(known)}")
        suggestions.submit(
            session, seen.workspace.id, seen.channel.id, seen.member, family, spec, ctx.now()
        )
        waiting = suggestions.pending_count(session, seen.workspace.id)
    return Reply(
        Message(
            f"Thank you: {spec.title!r} waits for an admin's review ({waiting} in the queue). "
            "I will tell you how it went.",
            tone=Tone.SUCCESS,
        )
    )


def review(ctx: Context, actor: Actor, place: Place) -> Reply:
    with ctx.seen(actor, place) as (session, seen):
        if not seen.is_admin:
            return Reply.error("only workspace admins can review suggested questions")
        return Reply(_next_card(session, seen.workspace.id))


def _next_card(session: Session, workspace_id: int, done: str = "") -> Message:
    waiting = suggestions.pending(session, workspace_id)
    prefix = f"{done}\n\n" if done else ""
    if not waiting:
        return Message(prefix + "No suggested questions are waiting for review.")
    first = waiting[0]
    author = session.get_one(Member, first.member_id).display_name
    card = words.suggestion_card(
        first.id, author, first.family, suggestions.spec_of(first), len(waiting)
    )
    return dataclasses.replace(card, text=prefix + card.text)


def on_review(
    ctx: Context,
    action_id: str,
    value: str,
    fields: Mapping[str, str],
    actor: Actor,
    place: Place,
) -> Reply:
    now = ctx.now()
    with ctx.seen(actor, place) as (session, seen):
        if not seen.is_admin:
            return Reply.error("only workspace admins can review suggested questions")
        if not value.isdigit():
            raise suggestions.SuggestionError("that button is no longer active")
        suggestion = suggestions.find(session, seen.workspace.id, int(value))
        if suggestion.status != "pending":
            raise suggestions.SuggestionError(f"{suggestion.slug} was already reviewed")
        if action_id == words.REJECT:
            return Reply(Message("Why is it rejected?", form=reason_form(suggestion.id)))
        if action_id == REASON:
            reason = fields.get("reason", "").strip()
            if not reason:
                return Reply.error("give a reason: the author will read it")
            suggestions.decide(session, suggestion, seen.member, "rejected", now, reason)
            note = Message(
                f"Your suggested question {suggestion.title!r} was not added: {reason}",
                tone=Tone.WARNING,
            )
            done = f"Rejected {suggestion.slug}."
        else:
            try:
                report = bank_flow.import_spec(
                    session, suggestion.family, suggestions.spec_of(suggestion), seen.workspace.id
                )
            except bank_flow.FormProblem as exc:
                return Reply.error(f"not approved: {exc}")
            if report.rejected:
                return Reply.error("not approved: " + "; ".join(report.rejected))
            suggestions.decide(session, suggestion, seen.member, "approved", now)
            points = suggestions.reward(session, suggestion, now)
            note = Message(
                f"Your suggested question {suggestion.title!r} is in the bank now "
                f"(`/mlsd bank show {suggestion.slug}`): +{points} points. Thank you!",
                tone=Tone.SUCCESS,
            )
            done = f"Approved {suggestion.slug}: it is in the bank."
        author = session.get_one(Member, suggestion.member_id).external_id
        where = Place(_channel_ext(session, suggestion.channel_id))
        card = _next_card(session, seen.workspace.id, done)
    with isolated(f"telling the author of suggestion {value}"):
        ctx.port.send_private(author, where, note)
    return Reply(card)


def reason_form(suggestion_id: int) -> Form:
    return Form(
        REASON,
        "Reject a suggestion",
        (FormInput("reason", "Reason (the author reads it)", max_length=suggestions.MAX_REASON),),
        value=str(suggestion_id),
        submit_label="Reject",
    )


def on_action(
    ctx: Context, action_id: str, value: str, fields: Mapping[str, str], actor: Actor, place: Place
) -> Reply:
    if action_id in (words.INTERVIEW, words.WATCH, words.CANCEL):
        return on_rsvp(ctx, action_id, value, actor, place)
    if action_id == words.HERE:
        return on_here(ctx, value, actor, place)
    if action_id == SUGGEST:
        return submit_suggestion(ctx, fields, actor, place)
    return on_review(ctx, action_id, value, fields, actor, place)


# -- due work -----------------------------------------------------------------------------------


def run_due(ctx: Context) -> dict[str, int]:
    return {
        "pairs_announced": announce_matches(ctx),
        "pairs_expired": expire_pairs(ctx),
        "bookings": booking_steps(ctx),
        "digests": post_digests(ctx),
        "voice_rooms": voice_rooms(ctx),
    }


def expire_pairs(ctx: Context) -> int:
    """ "Nobody matched" notes, queued with the claim: a crash after it cannot lose one."""
    now = ctx.now()
    keys: list[str] = []
    with ctx.db.unit_of_work() as session:
        for request in pairing.claim_expired(session, ctx.scope, now):
            channel = session.get_one(Channel, request.channel_id)
            member = session.get_one(Member, request.member_id)
            window = (
                "now"
                if request.window_start is None
                else words.when(request.window_start, channel.timezone)
            )
            where = Place(channel.external_id)
            note = Note(
                member.external_id, where, words.nobody_matched(window), words.NOBODY_FALLBACK
            )
            keys.append(
                ctx.courier.enqueue(
                    session, f"pair:{request.id}:expired", where, note.message, note
                )
            )
    with isolated("telling members nobody matched"):
        ctx.courier.flush(keys)
    return len(keys)


def booking_steps(ctx: Context, reopen_after: timedelta = bookings.REOPEN_AFTER) -> int:
    """Reminders (an hour and ten minutes before), the thread at the time, no-shows.

    Reminders and the no-show notice are queued in the claiming transaction (the outbox), so a
    crash after the claim delays them to the next start instead of losing them; an opening the
    crash interrupted is claimed again after `reopen_after` (see `bookings.claim_due`).
    """
    now = ctx.now()
    with ctx.db.unit_of_work() as session:
        claimed = bookings.claim_due(session, ctx.scope, now, reopen_after)
        steps = []
        for due in claimed:
            booking = session.get_one(Booking, due.booking_id)
            people = bookings.rsvps(session, booking.id)
            channel = _channel_ext(session, booking.channel_id)
            keys: list[str] = []
            if due.step in ("hour", "soon"):
                note = words.reminder(
                    booking.number, booking.family, booking.starts_at, booking.timezone, due.step
                )
                fallback = words.reminder_fallback(booking.number)
                for _rsvp, member in people:  # once each, through the delivery ledger
                    to = Note(member.external_id, Place(channel), note, fallback)
                    key = f"booking:{due.booking_id}:{due.step}:{member.external_id}"
                    keys.append(ctx.courier.enqueue(session, key, Place(channel), note, to))
            elif due.step == "no-show":
                absent = [m.display_name for m in bookings.note_no_shows(session, booking, now)]
                keys.append(
                    ctx.courier.enqueue(
                        session,
                        f"booking:{due.booking_id}:no-show",
                        Place(channel, booking.thread_external_id),
                        words.no_show(booking.number, absent),
                    )
                )
            steps.append((due, booking.number, booking.family, channel, people, keys))
    for due, number, family, channel, people, keys in steps:
        if due.step in ("hour", "soon"):
            with isolated(f"reminding the members of mock #{number}"):
                ctx.courier.flush(keys)
        elif due.step == "open":
            players = [m.display_name for r, m in people if r.role in bookings.PLAYERS]
            try:
                opened = ctx.courier.start_thread(
                    channel,
                    words.opening(number, due.booking_id, family, players),
                    f"booking:{due.booking_id}:thread",
                )
                if not isinstance(opened, Delivered):
                    raise RuntimeError(f"the platform did not open it: {opened}")
                thread_id = opened.message_id
            except Exception:  # not opened: hand it back to the next tick, nobody is a no-show
                log.exception("could not open the thread of mock #%s; retrying", number)
                ctx.courier.forget(f"booking:{due.booking_id}:thread")
                with ctx.db.unit_of_work() as session:
                    booking = session.get_one(Booking, due.booking_id)
                    booking.status, booking.opened_at = "booked", None
                continue
            with ctx.db.unit_of_work() as session:
                session.get_one(Booking, due.booking_id).thread_external_id = thread_id
            _refresh_card(ctx, due.booking_id)
        else:
            with isolated(f"closing mock #{number} as a no-show"):
                ctx.courier.flush(keys)
            _refresh_card(ctx, due.booking_id)
    return len(steps)


def post_digests(ctx: Context) -> int:
    now = ctx.now()
    with ctx.db.unit_of_work() as session:
        weeks = digest.unposted(session, ctx.scope, now)
        weeks += digest.claim_due(session, ctx.scope, now)
    posted = 0
    for week in weeks:
        with isolated(f"the weekly digest of channel {week.channel_id}"):
            with ctx.db.unit_of_work() as session:
                report = digest.report(session, week, now)
            if not report.quiet:  # a week with nothing to tell is recorded, not posted
                message = words.digest(report, f"{week.week_start:%d %b %Y}")
                ctx.courier.post_once(
                    Place(week.channel_external_id),
                    message,
                    f"digest:{week.channel_id}:{week.week_start:%Y-%m-%d}",
                )
                posted += 1
            with ctx.db.unit_of_work() as session:
                digest.mark_posted(session, week, ctx.now())
    return posted


def voice_rooms(ctx: Context) -> int:
    """Open and close voice rooms beside mocks, where the port offers them and they are on."""
    port = ctx.port
    if not isinstance(port, VoiceRooms) or not port.voice_rooms:
        return 0
    now = ctx.now()
    with ctx.db.unit_of_work() as session:
        wanted = voice.claim_new(session, ctx.scope, now)
        finished = voice.claim_finished(session, ctx.scope, now)
    changed = 0
    for room in wanted:
        try:
            room_id: str | None = port.open_voice_room(room.channel_external_id, room.name)
        except Exception:  # e.g. Manage Channels missing: no room, and no retry every tick
            log.exception("could not open a voice room for %s", room.name)
            room_id = None
        with ctx.db.unit_of_work() as session:
            row = session.get_one(VoiceRoom, room.room_id)
            row.room_external_id = room_id
            row.closed_at = None if room_id else now
        changed += room_id is not None
    for room_id in finished:
        with isolated(f"removing voice room {room_id}"):
            port.close_voice_room(room_id)
            changed += 1
    return changed
