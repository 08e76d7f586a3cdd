"""Votes, results, the leaderboard and progress, as the chat sees them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bank.calendar import local_date
from bank.models import (
    Channel,
    DailyAnswer,
    DailyPrompt,
    Interview,
    Member,
    Question,
    Workspace,
)
from bank.selection import UnknownTopic, mock_question_for_member
from bank.vocabulary import vocabulary
from bot import bookings, closure, mocks
from bot.community import member_for
from bot.delivery import Note
from bot.flows.context import Context, isolated, thread_place
from bot.grammar import SIGNALS, Leaderboard, Progress, Vote
from bot.port import Actor, Choice, Form, FormInput, Image, Message, Place, Reply, Tone
from scoring.aggregate import LEVELS, Result, anchor_score, level_cap, suggested_level
from scoring.calibration import CalibratedScores, calibrated_scores, workspace_leniency
from scoring.leaderboard import PERIOD_NAMES, standings
from scoring.progress import progress as member_progress
from scoring.results import record_result
from scoring.rubric import Rubric, rubric_for
from scoring.votes import (
    VoteError,
    all_interviewers_voted,
    ballots,
    claim_result_delivery,
    result_of,
    results_due,
    score_bonus,
    settle_final_result,
    submit_vote,
)

SUBMIT = "vote:submit"
SIGNAL_LABELS = {
    "hire": "Hire",
    "lean-hire": "Lean hire",
    "lean-no": "Lean no",
    "no-hire": "No hire",
}


RED_FLAGS = "red_flags"


def criterion_anchors(question: Question | None, rubric: Rubric) -> dict[str, tuple[str, ...]]:
    """Per criterion, what a 1-4 looks like: the question's own anchors (format v2) where it has
    them, else the rubric's generic ones."""
    own = (question.anchors if question is not None else None) or {}
    return {
        c.id: tuple(str(own[c.id][str(i)]) for i in range(1, 5)) if c.id in own else c.anchors
        for c in rubric.criteria
    }


def vote_form(number: int, rubric: Rubric, question: Question | None = None) -> Form:
    """Scores 1-4 per criterion, each option described by its anchor on this question; the
    question's red flags to tick; the signal; a comment."""
    anchors = criterion_anchors(question, rubric)
    inputs = [
        FormInput(
            name=c.id,
            label=f"{c.name} ({c.weight}%)",
            choices=tuple(
                Choice(str(i), str(i), anchor) for i, anchor in enumerate(anchors[c.id], start=1)
            ),
        )
        for c in rubric.criteria
    ]
    flags = (question.red_flags if question is not None else None) or []
    if flags:
        inputs.append(
            FormInput(
                RED_FLAGS,
                "Red flags you saw",
                choices=tuple(Choice(str(i), flag) for i, flag in enumerate(flags, start=1)),
                required=False,
                multiple=True,
            )
        )
    inputs.append(
        FormInput(
            "signal",
            "Overall signal",
            choices=tuple(Choice(s, SIGNAL_LABELS[s]) for s in reversed(SIGNALS)),
        )
    )
    inputs.append(
        FormInput(
            "comment", "Feedback for the candidate", required=False, multiline=True, max_length=2000
        )
    )
    return Form(
        SUBMIT,
        f"Score mock #{number}",
        tuple(inputs),
        value=str(number),
        submit_label="Submit scores",
    )


def ticked_flags(value: str, question: Question) -> tuple[str, ...]:
    """The red-flag texts a form's "1,3" names (VoteError for a number the question lacks)."""
    flags = question.red_flags or []
    picked = []
    for part in value.split(","):
        if not part.strip():
            continue
        index = int(part) if part.strip().isdecimal() else 0
        if not 1 <= index <= len(flags):
            raise VoteError(f"there is no red flag {part.strip()!r} for this question")
        picked.append(flags[index - 1])
    return tuple(dict.fromkeys(picked))


def open_form(ctx: Context, number: int | None, actor: Actor, place: Place) -> Reply:
    with ctx.seen(actor, place) as (session, seen):
        interview = mocks.find_mock(session, seen.workspace, number, place.thread_id)
        if interview.candidate_id == seen.member.id:
            raise VoteError("you cannot score your own mock")
        if interview.status != "ended":
            raise VoteError(f"mock #{interview.number} is still running: score it once it ends")
        rubric = rubric_for(seen.workspace.rubric)
        form = vote_form(interview.number, rubric, session.get_one(Question, interview.question_id))
    names = ", ".join(f"{i}. {c.name}" for i, c in enumerate(rubric.criteria, start=1))
    return Reply(
        Message(
            f"Score mock #{form.value}: pick 1–4 per criterion, a signal and a comment. "
            f"Inline: `/mlsd vote #{form.value} S1..S{len(rubric.criteria)} SIGNAL [comment]` "
            f"({names}).",
            form=form,
        )
    )


def vote(ctx: Context, request: Vote, actor: Actor, place: Place) -> Reply:
    if not request.scores:
        return open_form(ctx, request.number, actor, place)
    assert request.signal is not None
    return _submit(
        ctx, request.number, request.scores, request.signal, request.comment, actor, place
    )


def submit_form(
    ctx: Context, value: str, fields: Mapping[str, str], actor: Actor, place: Place
) -> Reply:
    number = int(value) if value.isdigit() else None
    with ctx.seen(actor, place) as (_session, seen):
        rubric = rubric_for(seen.workspace.rubric)
    missing = [c.name for c in rubric.criteria if not fields.get(c.id, "").strip()]
    if missing:
        raise VoteError(f"pick a score for: {', '.join(missing)}")
    try:
        scores = tuple(int(fields[c.id]) for c in rubric.criteria)
    except ValueError:
        raise VoteError("scores must be whole numbers from 1 to 4") from None
    signal = fields.get("signal", "").strip()
    return _submit(
        ctx,
        number,
        scores,
        signal,
        fields.get("comment", ""),
        actor,
        place,
        fields.get(RED_FLAGS, ""),
    )


def _submit(
    ctx: Context,
    number: int | None,
    scores: tuple[int, ...],
    signal: str,
    comment: str,
    actor: Actor,
    place: Place,
    red_flags: str = "",
) -> Reply:
    now = ctx.now()
    with ctx.seen(actor, place) as (session, seen):
        interview = mocks.find_mock(session, seen.workspace, number, place.thread_id)
        rubric = rubric_for(seen.workspace.rubric)
        flags = ticked_flags(red_flags, session.get_one(Question, interview.question_id))
        receipt = submit_vote(
            session,
            interview,
            seen.member,
            scores,
            signal,
            comment,
            rubric,
            now,
            red_flags=flags,
        )
        interview_id = interview.id
        number = interview.number
    # Checked again after the commit: two last votes arriving together each saw only their own.
    with ctx.db.unit_of_work() as session:
        complete = all_interviewers_voted(session, session.get_one(Interview, interview_id))
    if complete:
        deliver_result(ctx, interview_id)
    verb = "Updated your vote" if receipt.replaced else "Thanks! Your vote is in"
    return Reply(
        Message(
            f"{verb} for mock #{number}: weighted {receipt.overall:.2f} / 4.", tone=Tone.SUCCESS
        )
    )


def result_message(
    number: int,
    result: Result,
    revised: bool = False,
    anchors: Mapping[str, Sequence[str]] | None = None,
    calibrated: CalibratedScores | None = None,
    question_level: str | None = None,
    level_bar: Mapping[str, str] | None = None,
) -> Message:
    """The candidate's result: per criterion the mean (calibrated with the raw one beside it once
    the workspace calibrates) and the anchor that score sits at; the level suggested, capped by
    the question's level; the signals, the red flags voters ticked, and the comments."""
    fields = []
    for c in result.criteria:
        mean = c.mean if calibrated is None else calibrated.criteria.get(c.id, c.mean)
        score = f"{mean:.2f}" if calibrated is None else f"{mean:.2f} calibrated (raw {c.mean:.2f})"
        spread = f" (spread {c.spread})" if c.spread else ""
        line = f"{score}{spread}"
        if anchors is not None and c.id in anchors:
            at = anchor_score(mean)
            line += f"\nAt a {at}: {anchors[c.id][at - 1]}"
        fields.append((f"{c.name} ({c.weight}%)", line))
    if result.red_flags:
        fields.append(
            (
                "Red flags voters ticked",
                "\n".join(f"• {flag} ({n} of {result.voters})" for flag, n in result.red_flags),
            )
        )
    overall = result.overall if calibrated is None else calibrated.overall
    level = result.level if calibrated is None else suggested_level(overall, question_level)
    uncapped = result.uncapped_level if calibrated is None else suggested_level(overall)
    raw = "" if calibrated is None else f" calibrated (raw {result.overall:.2f})"
    capped = (
        f" The score alone reads as {uncapped}; an {question_level} question can show up to "
        f"{level_cap(question_level)}."
        if question_level is not None and uncapped != level
        else ""
    )
    above = LEVELS[min(LEVELS.index(level) + 1, len(LEVELS) - 1)]
    if level_bar and above != level and above in level_bar:
        fields.append((f"What {above} adds on this problem", level_bar[above]))
    signals = ", ".join(f"{SIGNAL_LABELS[s]} {n}" for s, n in result.signals if n)
    comments = "\n".join(f"• {c}" for c in result.comments) or "(no comments)"
    return Message(
        title=f"Your {'updated ' if revised else ''}result for mock #{number}",
        text=f"Overall {overall:.2f} / 4{raw} from {result.voters} voter(s), which suggests "
        f"{level}.{capped}\nSignals: {signals}.\n{comments}",
        fields=tuple(fields),
        tone=Tone.SUCCESS,
    )


def deliver_result(ctx: Context, interview_id: int, *, final: bool = False) -> bool:
    """Send the candidate their aggregated result: once early (the panel has voted), and at the
    window's close again only if votes came in or changed since. With the first result, the
    question's reference design is posted in the mock's thread (closure)."""
    now = ctx.now()
    with ctx.db.unit_of_work() as session:
        interview = session.get_one(Interview, interview_id)
        revised = interview.results_sent_at is not None
        if final and not settle_final_result(session, interview, now):
            return False  # another worker settles it
        if not claim_result_delivery(session, interview, now, final=final):
            return False  # nothing new since the early result (committed: settled for good)
        workspace = session.get_one(Workspace, interview.workspace_id)
        question = session.get_one(Question, interview.question_id)
        rubric = rubric_for(workspace.rubric)
        result = result_of(session, interview, rubric, question.level)
        if result is None:
            return False
        score_bonus(session, interview, result, now)
        offsets = workspace_leniency(session, workspace.id)
        calibrated = (
            None
            if offsets is None
            else calibrated_scores(ballots(session, interview.id), offsets, rubric)
        )
        record_result(session, interview, result, now)
        candidate = session.get_one(Member, interview.candidate_id)
        where = thread_place(session, interview)
        message = result_message(
            interview.number,
            result,
            revised,
            criterion_anchors(question, rubric),
            calibrated,
            question.level,
            question.level_bar,
        )
        note = Message(
            f"Mock #{interview.number}: {'updated ' if revised else ''}results are in "
            f"({result.voters} vote(s)); {candidate.display_name} has them."
        )
        # queued with the claim, sent after it commits: exactly once, whatever happens between
        key = f"result:{interview.id}:{now:%Y%m%d%H%M%S%f}"
        personal = Note(
            candidate.external_id,
            where,
            message,
            f"{candidate.display_name}: your result for mock #{interview.number} is ready, but "
            "I could not send it to you privately; `/mlsd progress` shows your scores.",
        )
        keys = [
            ctx.courier.enqueue(session, f"{key}:candidate", where, message, personal),
            ctx.courier.enqueue(session, f"{key}:thread", where, note),
        ]
        design = None if revised else closure.design_of(question)
    ctx.courier.flush(keys)
    if design is not None:  # may carry a diagram (an image): sent once, outside the ledger
        with isolated(f"the reference design of interview {interview_id}"):
            ctx.courier.post(where, closure.reference_design_message(design))
    return True


def deliver_due_results(ctx: Context) -> int:
    with ctx.db.unit_of_work() as session:
        due = results_due(session, ctx.now(), ctx.scope)
    delivered = 0
    for interview_id in due:
        with isolated(f"the result of interview {interview_id}"):
            delivered += deliver_result(ctx, interview_id, final=True)
    return delivered


def leaderboard(ctx: Context, request: Leaderboard, actor: Actor, place: Place) -> Reply:
    with ctx.seen(actor, place) as (session, seen):
        rows = standings(
            session,
            seen.workspace.id,
            request.period,
            ctx.now(),
            seen.workspace.timezone,
            seen.member.id,
        )
        me = seen.member.id
    if not rows:
        return Reply(
            Message(
                f"No points {PERIOD_NAMES[request.period]} yet: answer a daily "
                "question or run a mock."
            ),
            private=False,
        )
    lines = [
        f"{r.rank:>3}. {r.name} — {r.points} pts" + (" ← you" if r.member_id == me else "")
        for r in rows
    ]
    if rows[-1].rank > len(rows):  # the caller's own row, after a gap
        lines.insert(len(lines) - 1, "  …")
    return Reply(
        Message("\n".join(lines), title=f"Leaderboard · {PERIOD_NAMES[request.period]}"),
        private=False,
    )


def _channel_dates(session: Session, ctx: Context, member_id: int) -> dict[int, date]:
    """Today's local date in each channel the member answered daily questions in."""
    now = ctx.now()
    answered_in = (
        select(DailyPrompt.channel_id)
        .join(DailyAnswer, DailyAnswer.prompt_id == DailyPrompt.id)
        .where(DailyAnswer.member_id == member_id)
    )
    rows = session.execute(select(Channel.id, Channel.timezone).where(Channel.id.in_(answered_in)))
    return {cid: local_date(now, tz) for cid, tz in rows}


def progress(ctx: Context, request: Progress, actor: Actor, place: Place) -> Reply:
    with ctx.seen(actor, place) as (session, seen):
        member = (
            seen.member
            if request.member is None
            else member_for(session, seen.workspace, request.member.user_id, request.member.name)
        )
        rubric = rubric_for(seen.workspace.rubric)
        report = member_progress(session, member, rubric, _channel_dates(session, ctx, member.id))
        missed = bookings.no_show_count(session, member.id)
        weak_concepts = vocabulary().for_criterion(report.weakest.id) if report.weakest else []
        try:
            suggestion = mock_question_for_member(
                session,
                member.id,
                None,
                f"{ctx.seed}:suggest:{member.id}",
                report.weak_families,
                seen.workspace.id,
                weak_concepts,
            )
            practises = [t for t in suggestion.tags if t in weak_concepts][:3]
            suggest = f"{suggestion.title} (`/mlsd mock {suggestion.slug}`)" + (
                f", practises {', '.join(practises)}" if practises else ""
            )
        except UnknownTopic:
            suggest = "no active questions left"
    fields = [
        ("Mocks done", str(report.mocks_done)),
        ("Daily answers", f"{report.daily_answers} (streak {report.streak})"),
    ]
    if report.calibrated is not None:
        raw, calibrated, count = report.calibrated
        fields.append(
            (
                "Overall, calibrated for rater leniency",
                f"{calibrated:.2f} (raw {raw:.2f}) over {count} mock(s)",
            )
        )
    if missed:
        fields.append(("No-shows", f"{missed} booked mock(s) missed"))
    for criterion in rubric.criteria:
        if criterion.id in report.averages:
            fields.append((criterion.name, f"{report.averages[criterion.id]:.2f}"))
    if report.weakest is not None:
        fields.append((f"Work on: {report.weakest.name}", report.weakest.advice))
    fields.append(("Next question", suggest))
    from scoring import charts  # matplotlib loads on the first chart, not at start-up

    images: tuple[Image, ...] = ()
    if report.history:
        # drawn once per (member, latest result): a repeated /mlsd progress reuses the PNGs
        drawn = tuple((c.id, c.name) for c in rubric.criteria)
        key = (member.id, report.name, report.scored, report.fingerprint, drawn)
        radar, trend = charts.cached_charts(key, report.history, rubric, report.name)
        images = (
            Image(
                f"progress-{member.external_id}-radar.png",
                radar,
                "Rubric scores, first and latest mock",
            ),
            Image(f"progress-{member.external_id}-trend.png", trend, "Overall score per mock"),
        )
    text = (
        "Scores are the mean of peer votes per mock (1–4)."
        if report.history
        else "No scored mocks yet: start one with `/mlsd mock`."
    )
    return Reply(
        Message(text, title=f"Progress · {report.name}", fields=tuple(fields), images=images)
    )
