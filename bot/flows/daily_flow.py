"""Daily prompts: scheduling commands, the due-scan that posts them, answers in their threads."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bank.db import Database
from bank.models import Channel, DailyPrompt, Question
from bot import closure, daily, pings, render
from bot.delivery import describe
from bot.flows.context import Context, isolated
from bot.grammar import Daily, Schedule
from bot.port import Actor, Delivered, Message, Outcome, Permanent, Place, Reply, Tone
from scoring.totals import set_workspace_timezone

ADMIN_ONLY = "only workspace admins can do that"


def schedule(ctx: Context, request: Schedule, actor: Actor, place: Place) -> Reply:
    with ctx.seen(actor, place) as (session, seen):
        if request.show:
            return Reply(Message(_capitalised(daily.describe_schedule(seen.channel)) + "."))
        if not seen.is_admin:
            return Reply.error(f"{ADMIN_ONLY}: ask an admin to set the daily schedule")
        if request.at is None:
            daily.disable_schedule(seen.channel)
            return Reply(Message("Daily questions are off for this channel."), private=False)
        newest = daily.latest_prompt(session, seen.channel.id)
        daily.set_schedule(
            seen.channel,
            request.at,
            request.timezone,
            request.days,
            ctx.now(),
            request.levels,
            taken=newest.local_date if newest is not None else None,
        )
        if request.ping is not None:
            pings.set_group(session, seen.channel.id, request.ping)
        ping = pings.group_of(session, seen.channel.id)
        if request.timezone and seen.workspace.timezone == "UTC":
            # leaderboard weeks follow the team's day; the totals are re-bucketed in the new zone
            set_workspace_timezone(session, seen.workspace, request.timezone)
        text = daily.describe_schedule(seen.channel)
        assert seen.channel.next_daily_at is not None
        first = seen.channel.next_daily_at
        zone = seen.channel.timezone
    mention = f" Each one mentions group {ping}." if ping else ""
    return Reply(
        Message(
            f"Scheduled: {text}. Next one: {first.astimezone(ZoneInfo(zone)):%a %d %b %H:%M} "
            f"{zone}.{mention}",
            tone=Tone.SUCCESS,
        ),
        private=False,
    )


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def show_or_post(ctx: Context, request: Daily, actor: Actor, place: Place) -> Reply:
    if request.post_now:
        with ctx.seen(actor, place) as (session, seen):
            if not seen.is_admin:
                return Reply.error(f"{ADMIN_ONLY}: `/mlsd daily now` posts for the whole channel")
            claimed = daily.claim_prompt(session, seen.channel, ctx.now(), ctx.seed, force=True)
        if claimed is None:
            return Reply.error("today's question is already posted here: `/mlsd daily` shows it")
        outcome = _post(ctx, claimed)
        if isinstance(outcome, Delivered):
            return Reply(Message("Posted today's question."))
        if isinstance(outcome, Permanent):
            return Reply(
                Message(
                    f"I could not post the daily question here: {describe(outcome)}.",
                    tone=Tone.WARNING,
                )
            )
        return Reply(
            Message(
                f"The daily question is on its way but not confirmed yet ({describe(outcome)}); "
                "I will make sure it is posted once, without a second try from you.",
                tone=Tone.WARNING,
            )
        )
    with ctx.seen(actor, place) as (session, seen):
        prompt = daily.latest_prompt(session, seen.channel.id)
        schedule_text = daily.describe_schedule(seen.channel)
        if prompt is None:
            return Reply(Message(f"No daily question has been posted here yet ({schedule_text})."))
        question = session.get_one(Question, prompt.question_id)
        text = (
            f"{prompt.local_date:%a %d %b}: {question.title} (answer in its thread)\n"
            f"{schedule_text}"
        )
    return Reply(Message(text, title="Daily question"))


def prompt_key(prompt_id: int) -> str:
    return f"daily:{prompt_id}"


def _post(ctx: Context, claimed: daily.ClaimedPrompt) -> Outcome:
    """Post a claimed prompt exactly once (keyed); a permanent refusal pauses the schedule and
    takes the claim back, so the day is not marked as posted."""
    message = render.daily_prompt(claimed.question, claimed.prompt_id, claimed.previous)
    with ctx.db.unit_of_work() as session:
        group = pings.group_of(session, session.get_one(DailyPrompt, claimed.prompt_id).channel_id)
    if group:
        message = dataclasses.replace(message, mentions=(group,))
    design = closure.design_of(claimed.previous) if claimed.previous is not None else None
    key = prompt_key(claimed.prompt_id)
    outcome = ctx.courier.start_thread(claimed.channel_external_id, message, key)
    if isinstance(outcome, Delivered):
        with ctx.db.unit_of_work() as session:
            daily.mark_posted(session, claimed.prompt_id, outcome.message_id, ctx.now())
        if design is not None and claimed.previous_thread is not None:
            # the previous question's thread closes with today's post: its reference design
            with isolated(f"the reference design for thread {claimed.previous_thread}"):
                ctx.courier.post(
                    Place(claimed.channel_external_id, claimed.previous_thread),
                    closure.reference_design_message(design),
                )
    elif isinstance(outcome, Permanent):
        with ctx.db.unit_of_work() as session:
            daily.refuse_prompt(session, claimed.prompt_id, outcome.reason, outcome.fix, ctx.now())
        ctx.courier.forget(key)
    return outcome


def post_due(ctx: Context) -> int:
    """Post every channel's prompt that is due; each claim is its own short transaction."""
    now = ctx.now()
    with ctx.db.unit_of_work() as session:
        channel_ids = daily.due_channel_ids(session, now, ctx.scope)
    posted = 0
    for channel_id in channel_ids:
        with isolated(f"the daily question of channel {channel_id}"):
            with ctx.db.unit_of_work() as session:
                channel = _lock_channel(ctx.db, session, channel_id)
                claimed = (
                    None if channel is None else daily.claim_prompt(session, channel, now, ctx.seed)
                )
            if claimed is None or channel is None:
                continue
            if ctx.fanout is not None:  # per workspace: each has its own platform budget
                ctx.fanout.wait(f"workspace:{channel.workspace_id}")
            if isinstance(_post(ctx, claimed), Delivered):
                posted += 1
    return posted


def _lock_channel(db: Database, session: Session, channel_id: int) -> Channel | None:
    """The channel row, locked so concurrent schedulers skip it instead of both claiming."""

    query = select(Channel).where(Channel.id == channel_id)
    if db.is_postgresql:
        query = query.with_for_update(skip_locked=True, key_share=True)
    return session.scalars(query).first()


def repost_unconfirmed(ctx: Context, grace: timedelta = timedelta()) -> int:
    """Post today's prompts that were claimed but never confirmed posted (a crash or a refused
    post in between), once they are older than `grace` (a younger one may still be in flight)."""
    now = ctx.now()
    with ctx.db.unit_of_work() as session:
        pending = daily.unposted_prompts(session, now, claimed_before=now - grace, scope=ctx.scope)
    posted = 0
    for claimed in pending:
        with isolated(f"re-posting daily question {claimed.prompt_id}"):
            posted += isinstance(_post(ctx, claimed), Delivered)
    return posted


def reveal_guide(ctx: Context, prompt_id: str) -> Reply:
    with ctx.db.unit_of_work() as session:
        prompt = session.get(DailyPrompt, int(prompt_id)) if prompt_id.isdigit() else None
        if prompt is None:
            return Reply.error("that daily question no longer exists")
        message = render.guide(session.get_one(Question, prompt.question_id))
    return Reply(message)
