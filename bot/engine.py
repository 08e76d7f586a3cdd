"""The core's front door: every adapter hands it Commands, Actions and thread messages.

It parses, drops duplicates (platform retries, double clicks), routes to a flow, and turns every
expected failure into a short reply. It also runs the due work the scheduler wakes it up for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from bank.catalog import BankError, list_questions
from bank.db import Database
from bank.models import Channel, DailyPrompt, Interview, ProcessedEvent, Workspace
from bank.scope import Scope
from bank.selection import UnknownTopic, family_infos
from bank.upsert import insert_ignore
from bot import daily, identity, render
from bot.clock import Clock
from bot.community import set_left
from bot.flows import bank_flow, daily_flow, mock_flow, partner_flow, scoring_flow
from bot.flows.context import Context
from bot.grammar import (
    BankCommand,
    Book,
    Bookings,
    Daily,
    Help,
    Leaderboard,
    MockControl,
    Pair,
    Progress,
    Schedule,
    StartMock,
    Suggest,
    UsageError,
    Vote,
    help_text,
    parse,
)
from bot.mocks import MockError
from bot.port import Action, Actor, ChatPort, Command, Message, Place, Reply
from bot.ratelimit import Kind, RateLimiter, slow_down
from scoring.votes import VoteError

log = logging.getLogger("dojo.engine")
DEFAULT_MAX_INTERVIEWERS = 4
# a claimed prompt still unconfirmed after this long was cut off (a crash, a refused post)
REPOST_GRACE = timedelta(minutes=2)
CONFLICT = "That clashed with a change made at the same moment; nothing was saved. Try again."
OOPS = "Something went wrong on my side; it has been logged. Please try again."
TRY_AGAIN = "The database is not answering right now; nothing was saved. Try again in a moment."
EXPECTED = (UsageError, MockError, VoteError, BankError, UnknownTopic, *partner_flow.EXPECTED)

CONTROL_ACTIONS = {
    render.NEXT: "next",
    render.PAUSE: "pause",
    render.RESUME: "resume",
    render.EXTEND: "extend",
    render.END: "end",
}


# processed-event rows older than this are deleted: platforms stop retrying long before
# (Slack within minutes, Discord interactions expire after 15 minutes)
EVENT_RETENTION = timedelta(days=1)


def limited_kind(request: object) -> Kind | None:
    """Which rate limit a request counts against, if any."""
    match request:
        case StartMock() | Daily(post_now=True):
            return Kind.PUBLIC
        case Progress() | Leaderboard():
            return Kind.CHART
        case BankCommand(verb="export"):
            return Kind.EXPORT
    return None


class Dojo:
    def __init__(
        self,
        db: Database,
        port: ChatPort,
        clock: Clock,
        platform: str,
        seed: str = "mlsd-dojo",
        max_interviewers: int = DEFAULT_MAX_INTERVIEWERS,
        limiter: RateLimiter | None = None,
    ) -> None:
        """`limiter`: the rate limits to apply (None: none, as in tests and benchmarks)."""
        self.ctx = Context(db, port, clock, platform, seed, max_interviewers)
        self.limiter = limiter

    def limit_to(self, workspaces: frozenset[str]) -> None:
        """Do due work only for these workspaces (e.g. the one Slack team a bot token serves)."""
        self.ctx.scope = Scope(self.ctx.platform, workspaces)

    @property
    def db(self) -> Database:
        return self.ctx.db

    # -- inbound -------------------------------------------------------------------------------

    def handle_command(self, command: Command) -> Reply | None:
        """Answer one `/mlsd` command; None when it is a duplicate delivery already handled."""
        reply = self._guarded(command.event_id, lambda: self._route_command(command))
        if reply is None:
            return None
        return self._with_pause_notice(reply, command.actor, command.place)

    def _with_pause_notice(self, reply: Reply, actor: Actor, place: Place) -> Reply:
        """An admin's first command in a channel whose daily question was paused (the platform
        refused it for good) also says why and how to fix it — once."""
        try:
            if not self._paused_untold(place.channel_id):  # one read; almost always the answer
                return reply
            with self.ctx.seen(actor, place) as (_session, seen):
                notice = daily.pause_notice(seen.channel) if seen.is_admin else None
                if notice is None or seen.channel.pause_told_at is not None:
                    return reply
                seen.channel.pause_told_at = self.ctx.now()
        except (OperationalError, DBAPIError, IntegrityError):
            log.warning("could not check the channel's paused schedule", exc_info=True)
            return reply
        message = replace(reply.message, text=f"{reply.message.text}\n\n{notice}")
        return Reply(message, reply.private)

    def _paused_untold(self, channel_id: str) -> bool:
        with self.db.unit_of_work() as session:
            found = session.scalar(
                select(Channel.id)
                .join(Workspace, Workspace.id == Channel.workspace_id)
                .where(
                    Workspace.platform == self.ctx.platform,
                    Channel.external_id == channel_id,
                    Channel.paused_reason.is_not(None),
                    Channel.pause_told_at.is_(None),
                )
                .limit(1)
            )
        return found is not None

    def handle_action(self, action: Action) -> Reply | None:
        return self._guarded(action.event_id, lambda: self._route_action(action))

    def handle_message(self, actor: Actor, place: Place, event_id: str | None = None) -> None:
        """A message someone wrote in a thread: daily participation or mock activity."""
        if place.thread_id is None:
            return
        thread = place.thread_id

        def record() -> Reply | None:
            now = self.ctx.now()
            with self.ctx.seen(actor, place) as (session, seen):
                daily.record_answer(session, seen.channel, thread, seen.member, now)
                mock_flow.thread_activity(session, seen.channel.id, thread, seen.member, now)
            return None

        self._guarded(event_id, record)

    def _guarded(self, event_id: str | None, work: Callable[[], Reply | None]) -> Reply | None:
        try:
            if event_id is not None and not self._first_delivery(event_id):
                log.info("duplicate event %s dropped", event_id)
                return None
            try:
                return work()
            except EXPECTED as exc:
                return Reply.error(exc.text if isinstance(exc, UsageError) else str(exc))
            except Exception:
                if event_id is not None:
                    self._forget(event_id)  # let the platform's retry try again
                raise
        except IntegrityError:
            log.warning("a concurrent change won a race; the user is asked to retry")
            return Reply.error(CONFLICT)
        except (OperationalError, DBAPIError):
            log.exception("database error")
            return Reply.error(TRY_AGAIN)
        except Exception:  # a bug or a platform failure: logged in full, a short word to the user
            log.exception("unexpected error while handling an event")
            return Reply.error(OOPS)

    def _first_delivery(self, event_id: str) -> bool:
        with self.db.unit_of_work() as session:
            return insert_ignore(
                session,
                ProcessedEvent,
                {
                    "platform": self.ctx.platform,
                    "event_id": event_id,
                    "processed_at": self.ctx.now(),
                },
                ("platform", "event_id"),
            )

    def _forget(self, event_id: str) -> None:
        with self.db.unit_of_work() as session:
            session.execute(
                delete(ProcessedEvent).where(
                    ProcessedEvent.platform == self.ctx.platform,
                    ProcessedEvent.event_id == event_id,
                )
            )

    def _route_command(self, command: Command) -> Reply:
        request = identity.resolve(
            parse(command.name, command.args), command.mentions, self.ctx.max_interviewers
        )
        actor, place = command.actor, command.place
        kind = limited_kind(request)
        if kind is not None and self.limiter is not None:
            wait = self.limiter.check(kind, actor.workspace_id, actor.user_id, place.channel_id)
            if wait is not None:
                return Reply.error(slow_down(kind, wait))
        match request:
            case Help(topic):
                return Reply(
                    Message(
                        help_text(topic),
                        title="mlsd-dojo commands" if topic is None else f"/mlsd {topic}",
                    )
                )
            case Schedule():
                return daily_flow.schedule(self.ctx, request, actor, place)
            case Daily():
                return daily_flow.show_or_post(self.ctx, request, actor, place)
            case StartMock():
                return mock_flow.start(self.ctx, request, actor, place)
            case MockControl(verb="join"):
                return mock_flow.join(self.ctx, request, actor, place)
            case MockControl():
                return mock_flow.control(self.ctx, request, actor, place)
            case Vote():
                return scoring_flow.vote(self.ctx, request, actor, place)
            case Leaderboard():
                return scoring_flow.leaderboard(self.ctx, request, actor, place)
            case Progress():
                return scoring_flow.progress(self.ctx, request, actor, place)
            case BankCommand(verb="review"):
                return partner_flow.review(self.ctx, actor, place)
            case BankCommand():
                return bank_flow.handle(self.ctx, request, actor, place)
            case Pair():
                return partner_flow.pair(self.ctx, request, actor, place)
            case Book():
                return partner_flow.book(self.ctx, request, actor, place)
            case Bookings():
                return partner_flow.list_bookings(self.ctx, actor, place)
            case Suggest():
                return partner_flow.suggest(self.ctx, actor, place)
        raise AssertionError(f"unrouted request {request!r}")

    def _route_action(self, action: Action) -> Reply:
        actor, place = action.actor, action.place
        number = int(action.value) if action.value.isdigit() else None
        if action.action_id in CONTROL_ACTIONS:
            mock, phase, budget = render.parse_button_value(action.value)
            request = MockControl(
                CONTROL_ACTIONS[action.action_id], mock, phase=phase, budget=budget
            )
            return mock_flow.control(self.ctx, request, actor, place)
        if action.action_id == render.SCORE:
            return scoring_flow.open_form(self.ctx, number, actor, place)
        if action.action_id == scoring_flow.SUBMIT:
            return scoring_flow.submit_form(self.ctx, action.value, action.fields, actor, place)
        if action.action_id == render.REVEAL:
            return daily_flow.reveal_guide(self.ctx, action.value)
        if action.action_id == bank_flow.ADD:
            return bank_flow.submit_add(self.ctx, action.fields, actor, place)
        if action.action_id == bank_flow.IMPORT:
            return bank_flow.submit_import(self.ctx, action.fields, actor, place)
        if action.action_id in partner_flow.ACTIONS:
            return partner_flow.on_action(
                self.ctx, action.action_id, action.value, action.fields, actor, place
            )
        return Reply.error("that button is no longer active")

    # -- due work (the scheduler calls this) ---------------------------------------------------

    def run_due(self) -> dict[str, int]:
        """Everything due now: daily prompts, phase reminders, idle mocks, vote results, the
        practice-partner work (expired pairing requests, booked mocks, digests, voice rooms);
        then old processed-event rows are pruned (housekeeping, not counted)."""
        done = {
            "reposted": daily_flow.repost_unconfirmed(self.ctx, grace=REPOST_GRACE),
            "daily": daily_flow.post_due(self.ctx),
            "reminders": mock_flow.send_reminders(self.ctx),
            "idle": mock_flow.close_idle(self.ctx),
            "results": scoring_flow.deliver_due_results(self.ctx),
            "resent": self.ctx.courier.resend_pending(older_than=REPOST_GRACE),
            **partner_flow.run_due(self.ctx),
        }
        self.prune_events()
        return done

    def prune_events(self) -> int:
        """Delete processed-event rows past the retry window, so the table stays bounded."""
        cutoff = self.ctx.now() - EVENT_RETENTION
        with self.db.unit_of_work() as session:
            result = session.execute(
                delete(ProcessedEvent).where(ProcessedEvent.processed_at < cutoff)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def recover(self) -> dict[str, int]:
        """On start (or on taking the scheduler over): re-post every prompt left unconfirmed,
        open the booked mocks whose opening was cut off, finish the match announcements cut off,
        then catch up on due work once."""
        reposted = daily_flow.repost_unconfirmed(self.ctx)
        resent = self.ctx.courier.resend_pending()
        reopened = partner_flow.booking_steps(self.ctx, reopen_after=timedelta())
        announced = partner_flow.announce_matches(self.ctx, after=timedelta())
        done = self.run_due()
        done["bookings"] += reopened
        done["pairs_announced"] += announced
        return {**done, "reposted": done["reposted"] + reposted, "resent": done["resent"] + resent}

    # -- membership events ---------------------------------------------------------------------

    def member_left(self, workspace_id: str, user_id: str) -> bool:
        """The member left the server / was deactivated: hidden from leaderboards, history kept.
        True if that changed anything (an unknown user is ignored)."""
        with self.db.unit_of_work() as session:
            return set_left(session, self.ctx.platform, workspace_id, user_id, self.ctx.now())

    def member_returned(self, workspace_id: str, user_id: str) -> bool:
        """The member is back (re-joined, re-activated): shown on leaderboards again."""
        with self.db.unit_of_work() as session:
            return set_left(session, self.ctx.platform, workspace_id, user_id, None)

    # -- lookups adapters need -----------------------------------------------------------------

    def admin_ids(self, workspace_id: str) -> set[str]:
        """The ids `dojo admins set` stored for a workspace (Discord: role ids)."""
        with self.db.unit_of_work() as session:
            ids = session.scalar(
                select(Workspace.admin_ids).where(
                    Workspace.platform == self.ctx.platform, Workspace.external_id == workspace_id
                )
            )
            return set(ids or ())

    def topics(self, workspace_id: str | None) -> list[str]:
        """Family and question slugs in a workspace's view of the bank, for autocompletion."""
        with self.db.unit_of_work() as session:
            here = session.scalar(
                select(Workspace.id).where(
                    Workspace.platform == self.ctx.platform, Workspace.external_id == workspace_id
                )
            )
            families = [f.slug for f in family_infos(session, here)]
            return families + sorted(q.slug for q, _ in list_questions(session, workspace_id=here))

    def mock_thread(self, workspace_id: str, number: int) -> str | None:
        """The thread of mock #`number`, for adapters that address threads by mock number."""
        with self.db.unit_of_work() as session:
            return session.scalar(
                select(Interview.thread_external_id)
                .join(Workspace, Workspace.id == Interview.workspace_id)
                .where(
                    Workspace.platform == self.ctx.platform,
                    Workspace.external_id == workspace_id,
                    Interview.number == number,
                )
            )

    def daily_thread(self, workspace_id: str, channel_id: str) -> str | None:
        """The thread of the newest daily question in a channel."""
        with self.db.unit_of_work() as session:
            return session.scalar(
                select(DailyPrompt.thread_external_id)
                .join(Channel, Channel.id == DailyPrompt.channel_id)
                .join(Workspace, Workspace.id == Channel.workspace_id)
                .where(
                    Workspace.platform == self.ctx.platform,
                    Workspace.external_id == workspace_id,
                    Channel.external_id == channel_id,
                )
                .order_by(DailyPrompt.local_date.desc())
                .limit(1)
            )
