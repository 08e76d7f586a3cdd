"""Mock interviews end to end: start in a new thread, phase controls, reminders, the summary."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bank.models import (
    Channel,
    Interview,
    InterviewParticipant,
    Member,
    Question,
    Workspace,
)
from bank.selection import mock_question_for_member
from bot import mocks, render
from bot.community import member_for
from bot.delivery import Note, describe
from bot.flows.context import Context, isolated, thread_place
from bot.grammar import DEFAULT_EXTEND_MINUTES, MockControl, StartMock
from bot.phases import PHASES, budget_seconds
from bot.port import Actor, Delivered, Message, Outcome, Permanent, Place, Reply, Tone
from scoring.progress import weak_families
from scoring.rubric import rubric_for

log = logging.getLogger("dojo.mocks")


@dataclass(frozen=True)
class _Started:
    interview_id: int
    number: int
    question: Question
    candidate: str
    interviewers: list[tuple[str, str]]  # (external id, display name)
    variant: str


def start(ctx: Context, request: StartMock, actor: Actor, place: Place) -> Reply:
    now = ctx.now()
    with ctx.seen(actor, place) as (session, seen):
        panel = [
            member_for(session, seen.workspace, m.user_id, m.name) for m in request.interviewers
        ]
        interview = create(
            ctx, session, seen.workspace, seen.channel.id, seen.member, panel, request, now
        )
        interview_id = interview.id
    return open_thread(ctx, interview_id)


def create(
    ctx: Context,
    session: Session,
    workspace: Workspace,
    channel_id: int,
    candidate: Member,
    panel: list[Member],
    request: StartMock,
    now: datetime,
) -> Interview:
    """A mock's rows in the caller's transaction (a match makes its mock with the match);
    `open_thread` shows it once committed. Raises `MockError`."""
    weak = weak_families(session, candidate.id, rubric_for(workspace.rubric))
    question = mock_question_for_member(
        session,
        candidate.id,
        request.topic,
        f"{ctx.seed}:{candidate.id}:{workspace.next_mock_number}",
        weak,
        workspace.id,
    )
    variant = "quick" if request.quick else "standard"
    return mocks.start_mock(
        session, workspace, channel_id, candidate, panel, question, variant, now
    )


def _load(session: Session, interview_id: int) -> tuple[_Started, str]:
    """What opening a started mock needs, from its rows (the same after a restart)."""
    interview = session.get_one(Interview, interview_id)
    panel = session.execute(
        select(Member.external_id, Member.display_name)
        .join(InterviewParticipant, InterviewParticipant.member_id == Member.id)
        .where(
            InterviewParticipant.interview_id == interview_id,
            InterviewParticipant.role == "interviewer",
            Member.id != interview.candidate_id,
        )
        .order_by(InterviewParticipant.id)
    ).all()
    started = _Started(
        interview.id,
        interview.number,
        session.get_one(Question, interview.question_id),
        session.get_one(Member, interview.candidate_id).display_name,
        [(user, name) for user, name in panel],
        interview.variant,
    )
    return started, session.get_one(Channel, interview.channel_id).external_id


def open_thread(ctx: Context, interview_id: int) -> Reply:
    """Open a started mock's thread, post its first phase and send the kits: every step keyed
    through the delivery ledger, so running it again after a crash repeats nothing (a match
    whose announcement was cut off finishes its mock this way). Raises `MockError` (the mock
    is taken back) when the platform refuses the thread."""
    with ctx.db.unit_of_work() as session:
        started, channel = _load(session, interview_id)
    variant = started.variant
    names = [name for _, name in started.interviewers]
    budget = budget_seconds(0, variant)
    root_key = f"mock:{started.interview_id}:thread"
    opened = ctx.courier.start_thread(
        channel,
        render.mock_root(started.number, started.question, started.candidate, names, variant),
        root_key,
    )
    if not isinstance(opened, Delivered):  # the platform refused: take the mock back, say why
        log.warning("could not open the thread of mock #%s: %s", started.number, opened)
        with ctx.db.unit_of_work() as session:
            session.delete(session.get_one(Interview, started.interview_id))
        ctx.courier.forget(root_key)
        raise mocks.MockError(
            f"I could not open a thread for the mock here: {describe(opened)}. Nothing was started."
        )
    thread = opened.message_id
    in_thread = Place(channel, thread)
    first = ctx.courier.post_once(
        in_thread,
        render.phase_message(started.number, 0, budget, started.question),
        f"mock:{started.interview_id}:phase:0",
    )
    with ctx.db.unit_of_work() as session:
        interview = session.get_one(Interview, started.interview_id)
        interview.thread_external_id = thread
        if isinstance(first, Delivered):
            mocks.current_phase(session, interview).message_external_id = first.message_id
    kit = render.phase_kit(started.number, 0, started.question)
    unreachable = send_kit(
        ctx,
        in_thread,
        started.interviewers,
        kit,
        started.question.slug,
        key=f"mock:{started.interview_id}:kit:0",
    )
    if not started.interviewers:
        note = f"Solo practice: you control the phases; others can `/mlsd join #{started.number}`."
    elif unreachable:
        note = (
            f"I could not send the interviewer kit privately to {', '.join(unreachable)}: "
            f"they can `/mlsd bank show {started.question.slug}`."
        )
    else:
        note = "Your interviewers have the kit for the first phase; each phase brings its own."
    if not isinstance(first, Delivered):
        note += f" I could not post the first phase in the thread: {describe(first)}."
    return Reply(
        Message(
            f"Mock #{started.number} started in its thread: {started.question.title}. {note}",
            tone=Tone.SUCCESS,
        )
    )


def join(ctx: Context, request: MockControl, actor: Actor, place: Place) -> Reply:
    now = ctx.now()
    with ctx.seen(actor, place) as (session, seen):
        interview = mocks.find_mock(session, seen.workspace, request.number, place.thread_id)
        number = interview.number
        if not mocks.join(session, interview, seen.member, now):
            return Reply(Message(f"You are already interviewing in mock #{number}."))
        where = thread_place(session, interview)
        question = session.get_one(Question, interview.question_id)
        kit = _kit_note(
            actor.user_id,
            seen.member.display_name,
            where,
            render.phase_kit(number, interview.phase_index, question),
            question.slug,
        )
        joined = Message(f"{seen.member.display_name} joined mock #{number} as an interviewer.")
    posted = ctx.courier.post(where, joined)
    sent = ctx.courier.note(kit)
    text = f"You joined mock #{number}; " + (
        "the kit for this phase is in your messages."
        if not isinstance(sent, Permanent)
        else f"I could not send you the kit privately ({describe(sent)})."
    )
    if not isinstance(posted, Delivered):
        text += f" I could not post in its thread: {describe(posted)}."
    return Reply(Message(text))


def _kit_note(user_id: str, name: str, where: Place, kit: Message, slug: str) -> Note:
    """The interviewer kit must last: a DM, else privately in the thread, else a pointer."""
    return Note(
        user_id,
        where,
        kit,
        f"{name}: I could not send you the interviewer kit privately; "
        f"`/mlsd bank show {slug}` shows the question's guide.",
    )


def send_kit(
    ctx: Context,
    where: Place,
    panel: list[tuple[str, str]],
    kit: Message,
    slug: str,
    key: str | None = None,
) -> list[str]:
    """The phase's kit to each interviewer privately; the names it could not reach. With a
    `key`, each kit goes through the outbox (`key:user`), so a second run sends none twice."""
    notes = [(name, _kit_note(user_id, name, where, kit, slug)) for user_id, name in panel]
    if key is not None:
        with ctx.db.unit_of_work() as session:
            keys = [
                ctx.courier.enqueue(session, f"{key}:{n.user_id}", where, kit, n) for _, n in notes
            ]
        sent = ctx.courier.flush(keys)
        outcomes = [sent.get(k) for k in keys]
    else:
        outcomes = [ctx.courier.note(n) for _, n in notes]
    # the mock goes on without the kits that could not be sent privately
    return [
        name
        for (name, _), outcome in zip(notes, outcomes, strict=True)
        if isinstance(outcome, Permanent)
    ]


def control(ctx: Context, request: MockControl, actor: Actor, place: Place) -> Reply:
    """next, pause, resume, extend and end — by command (#N or thread) or by button."""
    now = ctx.now()
    with ctx.seen(actor, place) as (session, seen):
        interview = mocks.find_mock(session, seen.workspace, request.number, place.thread_id)
        mocks.require_control(session, interview, seen.member, seen.is_admin)
        number = interview.number
        if request.phase is not None and (
            request.phase != interview.phase_index or interview.status == "ended"
        ):
            return Reply(Message(f"That button belongs to a part of mock #{number} that is over."))
        where = thread_place(session, interview)
        phase = mocks.current_phase(session, interview)
        if request.verb == "extend" and request.budget not in (None, phase.budget_seconds):
            return Reply(Message(f"That extension of mock #{number} was already made."))
        name = PHASES[interview.phase_index].name
        superseded = (phase.message_external_id, phase.phase_index)
        kit: Message | None = None
        panel: list[tuple[str, str]] = []
        slug = ""
        if request.verb == "next":
            opened = mocks.next_phase(session, interview, now)
            if opened is None:
                post = _summary(session, interview)
                confirmation = f"Mock #{number} is complete."
            else:
                question = session.get_one(Question, interview.question_id)
                post = render.phase_message(
                    number, opened.phase_index, opened.budget_seconds, question
                )
                kit = render.phase_kit(number, opened.phase_index, question)
                slug = question.slug
                panel = [
                    (m.external_id, m.display_name)
                    for m in mocks.interviewers(session, interview)
                    if m.id != interview.candidate_id
                ]
                confirmation = f"Mock #{number}: {PHASES[opened.phase_index].name} has begun."
        elif request.verb == "pause":
            left = mocks.pause(interview, now)
            post = Message(
                f"#{number} · paused with {render.duration(left)} left in {name}.",
                buttons=render.phase_buttons(
                    number, interview.phase_index, paused=True, budget=phase.budget_seconds
                ),
                tone=Tone.WARNING,
            )
            confirmation = f"Mock #{number} paused."
        elif request.verb == "resume":
            left = mocks.resume(session, interview, now)
            post = Message(
                f"#{number} · resumed: {render.duration(left)} left in {name}.",
                buttons=render.phase_buttons(
                    number, interview.phase_index, budget=phase.budget_seconds
                ),
                tone=Tone.PHASE,
            )
            confirmation = f"Mock #{number} resumed."
        elif request.verb == "extend":
            minutes = request.minutes or DEFAULT_EXTEND_MINUTES
            left = mocks.extend(session, interview, minutes, now)
            post = Message(
                f"#{number} · {name} extended by {minutes} min: {render.duration(left)} left.",
                buttons=render.phase_buttons(
                    number,
                    interview.phase_index,
                    paused=interview.status == "paused",
                    budget=phase.budget_seconds,
                ),
                tone=Tone.PHASE,
            )
            confirmation = f"Mock #{number} extended by {minutes} min."
        else:
            mocks.end(session, interview, now)
            post = _summary(session, interview)
            confirmation = f"Mock #{number} ended."
        interview_id = interview.id
    outcome = _post_controls(
        ctx, where, interview_id, post, superseded, phase_over=request.verb in ("next", "end")
    )
    if not isinstance(outcome, Delivered):  # the change is saved: say so, never "try again"
        confirmation += f" I could not post in the mock's thread: {describe(outcome)}."
    if kit is not None:
        send_kit(ctx, where, panel, kit, slug)
    return Reply(Message(confirmation))


def _summary(session: Session, interview: Interview) -> Message:
    return render.summary(
        interview.number,
        mocks.phase_times(session, interview),
        interview.end_reason or "ended",
    )


def _post_controls(
    ctx: Context,
    where: Place,
    interview_id: int,
    message: Message,
    superseded: tuple[str | None, int],
    phase_over: bool,
    key: str | None = None,
) -> Outcome:
    """Post into the mock's thread; the newest message with buttons is the only live one.

    The message it supersedes is edited so its buttons do not linger, and the new message's id is
    stored so the next change can retire it in turn (also after a restart). With `key`, the
    message was queued in the outbox and is sent exactly once.
    """
    if key is None:
        outcome = ctx.courier.post(where, message)
    else:
        outcome = ctx.courier.flush([key]).get(key, Delivered())
    if not isinstance(outcome, Delivered):
        return outcome
    old_id, old_phase = superseded
    if message.buttons or phase_over:
        if old_id is not None:
            ctx.courier.edit(where, old_id, render.controls_retired(old_phase, phase_over))
        with ctx.db.unit_of_work() as session:
            interview = session.get_one(Interview, interview_id)
            if interview.status != "ended" and outcome.message_id:
                mocks.current_phase(session, interview).message_external_id = outcome.message_id
    return outcome


def send_reminders(ctx: Context) -> int:
    now = ctx.now()
    outgoing: list[tuple[Place, int, Message, tuple[str | None, int], str]] = []
    with ctx.db.unit_of_work() as session:
        for due in mocks.claim_reminders(session, now, ctx.scope):
            interview = session.get_one(Interview, due.interview_id)
            last = due.phase_index == len(PHASES) - 1
            phase = mocks.current_phase(session, interview)
            where = thread_place(session, interview)
            message = render.reminder(
                interview.number, due.phase_index, due.kind, last, phase.budget_seconds
            )
            # queued with the claim: a crash after this commit cannot lose the reminder
            key = ctx.courier.enqueue(session, reminder_key(interview, due.kind), where, message)
            outgoing.append(
                (where, interview.id, message, (phase.message_external_id, phase.phase_index), key)
            )
    for where, interview_id, message, superseded, key in outgoing:
        with isolated(f"a reminder of interview {interview_id}"):
            _post_controls(ctx, where, interview_id, message, superseded, False, key)
    return len(outgoing)


def reminder_key(interview: Interview, kind: str) -> str:
    """One key per reminder: an extension moves the deadline, and may earn a new one."""
    assert interview.phase_deadline is not None
    deadline = f"{interview.phase_deadline:%Y%m%d%H%M%S}"
    return f"reminder:{interview.id}:{interview.phase_index}:{kind}:{deadline}"


def close_idle(ctx: Context) -> int:
    now = ctx.now()
    outgoing: list[tuple[Place, int, Message, tuple[str | None, int], str]] = []
    with ctx.db.unit_of_work() as session:
        for interview in mocks.idle_mocks(session, now, ctx.scope):
            phase = mocks.current_phase(session, interview)
            superseded = (phase.message_external_id, phase.phase_index)
            mocks.end(session, interview, now, reason="idle")
            where = thread_place(session, interview)
            summary = _summary(session, interview)
            key = ctx.courier.enqueue(session, f"idle:{interview.id}", where, summary)
            outgoing.append((where, interview.id, summary, superseded, key))
    for where, interview_id, message, superseded, key in outgoing:
        with isolated(f"closing idle interview {interview_id}"):
            _post_controls(ctx, where, interview_id, message, superseded, True, key)
    return len(outgoing)


def thread_activity(
    session: Session, channel_id: int, thread_id: str, member: Member, now: datetime
) -> bool:
    """A message in a mock's thread (matched within its channel, hence its workspace) keeps it
    from being closed as idle, and counts as the writer taking part."""
    interview = session.scalars(
        select(Interview).where(
            Interview.channel_id == channel_id,
            Interview.thread_external_id == thread_id,
            Interview.status.in_(mocks.LIVE),
        )
    ).first()
    if interview is None:
        return False
    interview.last_activity_at = now
    mocks.took_part(session, interview, member, now)
    return True
