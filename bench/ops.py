"""The operations under test, each next to its bare-SQL baseline when it touches the database.

Every operation calls the project's own code: services in a unit of work, or `Dojo` on the console
port (printing to a null file). The baseline runs the hand-written SQL of `bench.bare` through the
same engine (in a single-threaded run its pool hands out the same connection), alternating with the
operation so that both see the same caches.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from sqlalchemy import Connection, Engine, bindparam, select, text

from bank.db import Database, make_engine
from bank.models import Interview, Member, Question
from bank.orm import UTCDateTime
from bank.scope import Scope
from bank.selection import daily_question_for_channel, mock_question_for_member
from bench.bare import BareSQL
from bench.scale import NOW, PLATFORM, QUIET, SEED
from bench.timing import Plan
from bot import migrate, render
from bot.adapters.console import ConsolePort
from bot.app import open_database
from bot.clock import ManualClock
from bot.config import Settings
from bot.daily import due_channel_ids
from bot.engine import REPOST_GRACE, Dojo
from bot.flows.context import Context
from bot.flows.scoring_flow import _channel_dates, vote_form
from bot.grammar import (
    Daily,
    Help,
    MockControl,
    Request,
    Schedule,
    StartMock,
    Vote,
    help_text,
    parse,
)
from bot.mocks import IDLE_LIMIT, PhaseTime
from bot.phases import PHASES, WARNING_SECONDS, budget_seconds
from bot.port import Actor, Command, Message, Place, Tone
from scoring.aggregate import weighted_score
from scoring.leaderboard import period_start, standings
from scoring.ledger import DEFAULT_POINTS, PointKind
from scoring.models import MockResult, ProgressTotal
from scoring.progress import MAX_HISTORY, progress
from scoring.rubric import DEFAULT_RUBRIC
from scoring.totals import buckets, current_bucket
from scoring.votes import VOTE_WINDOW, submit_vote

SCORES = (3, 4, 2, 3, 3, 4)
REPO = Path(__file__).resolve().parent.parent
DUE_LIMIT = 500  # bot.daily.due_channel_ids' default


class BenchError(Exception):
    """An operation did not do what it should (an error reply, a refused vote…)."""


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value[:1] in ("[", "{") else value


def decoded(result: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Every row, JSON text parsed as the ORM's JSON type does it (psycopg already parses it)."""
    return [tuple(_json(value) for value in row) for row in result]


# -- what the operations aim at ------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: int
    external_id: str
    name: str


@dataclass(frozen=True)
class Fixture:
    """The rows the operations aim at, found in the seeded data (so a kept database works too)."""

    workspace_id: int
    workspace_external: str
    workspace_timezone: str
    members: tuple[Person, ...]  # of the heavy workspace
    heavy_member: Person
    heavy_member_mocks: int
    history_channel_id: int
    history_prompts: int
    channel_external: str  # where commands are typed: the long-history channel
    ledger_rows: dict[str, int]  # leaderboard window sizes in the heavy workspace
    scheduled_channels: int


def _count_ledger(c: Connection, workspace_id: int, since: datetime | None) -> int:
    statement = "SELECT count(*) FROM points_ledger WHERE workspace_id = :w"
    params: dict[str, Any] = {"w": workspace_id}
    if since is None:
        return int(c.execute(text(statement), params).scalar_one())
    query = text(statement + " AND created_at >= :since").bindparams(
        bindparam("since", type_=UTCDateTime())
    )
    return int(c.execute(query, {**params, "since": since}).scalar_one())


def discover(db: Database) -> Fixture:
    with db.engine.connect() as c:
        workspace_id = c.execute(
            text(
                "SELECT workspace_id FROM members GROUP BY workspace_id "
                "ORDER BY count(*) DESC, workspace_id LIMIT 1"
            )
        ).scalar_one()
        external, zone = c.execute(
            text("SELECT external_id, timezone FROM workspaces WHERE id = :w"), {"w": workspace_id}
        ).one()
        members = tuple(
            Person(*row)
            for row in c.execute(
                text(
                    "SELECT id, external_id, display_name FROM members WHERE workspace_id = :w "
                    "ORDER BY id"
                ),
                {"w": workspace_id},
            )
        )
        heavy_id, mocks = c.execute(
            text(
                "SELECT candidate_id, count(*) FROM interviews WHERE status = 'ended' "
                "GROUP BY candidate_id ORDER BY count(*) DESC, candidate_id LIMIT 1"
            )
        ).one()
        history, prompts = c.execute(
            text(
                "SELECT channel_id, count(*) FROM daily_prompts GROUP BY channel_id "
                "ORDER BY count(*) DESC, channel_id LIMIT 1"
            )
        ).one()
        channel = c.execute(
            text("SELECT external_id FROM channels WHERE id = :c"), {"c": history}
        ).scalar_one()
        scheduled = c.execute(
            text("SELECT count(*) FROM channels WHERE daily_enabled = :on"), {"on": True}
        ).scalar_one()
        ledger = {
            period: _count_ledger(c, workspace_id, period_start(period, NOW, zone))
            for period in ("week", "month", "all")
        }
    heavy = next(m for m in members if m.id == heavy_id)
    return Fixture(
        workspace_id=workspace_id,
        workspace_external=external,
        workspace_timezone=zone,
        members=members,
        heavy_member=heavy,
        heavy_member_mocks=int(mocks),
        history_channel_id=history,
        history_prompts=int(prompts),
        channel_external=channel,
        ledger_rows=ledger,
        scheduled_channels=int(scheduled),
    )


# -- the harness around the core -----------------------------------------------------------------


class TimedPort:
    """The console port, with the time spent in it (rendering with rich, writing images) kept."""

    def __init__(self, inner: ConsolePort) -> None:
        self.inner = inner
        self.seconds = 0.0

    def _timed(self, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return work()
        finally:
            self.seconds += time.perf_counter() - started

    def post(self, place: Place, message: Message) -> str:
        return str(self._timed(lambda: self.inner.post(place, message)))

    def start_thread(self, channel_id: str, message: Message) -> str:
        return str(self._timed(lambda: self.inner.start_thread(channel_id, message)))

    def edit(self, place: Place, message_id: str, message: Message) -> None:
        self._timed(lambda: self.inner.edit(place, message_id, message))

    def send_private(
        self, user_id: str, place: Place, message: Message, *, direct: bool = False
    ) -> None:
        self._timed(lambda: self.inner.send_private(user_id, place, message, direct=direct))

    def show(self, message: Message, to: str) -> None:
        """What the console channel does with a reply."""
        self._timed(lambda: self.inner.show(message, to=to))

    def forget(self) -> None:
        """Drop remembered messages: the console port keeps them to find buttons later."""
        self.inner.posted.clear()
        self.inner.private.clear()


@dataclass
class Bench:
    db: Database
    url: str
    fixture: Fixture
    out_dir: Path
    null: TextIO
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def __post_init__(self) -> None:
        self.backend = self.db.engine.dialect.name
        self.sql = BareSQL(self.backend)
        self.run_id = uuid.uuid4().hex[:8]

    @property
    def engine(self) -> Engine:
        return self.db.engine

    def port(self) -> TimedPort:
        console = Console(file=self.null, width=200, highlight=False, soft_wrap=True)
        return TimedPort(ConsolePort(console, self.out_dir))

    def dojo(self, at: datetime, db: Database | None = None) -> tuple[Dojo, TimedPort]:
        port = self.port()
        return Dojo(db or self.db, port, ManualClock(start=at), platform=PLATFORM, seed=SEED), port

    def actor(self, person: Person) -> Actor:
        return Actor(self.fixture.workspace_external, person.external_id, person.name)

    def event_id(self, kind: str, i: int) -> str:
        return f"bench-{self.run_id}-{kind}-{i}"

    def members(self, count: int, exclude: set[int] | None = None) -> list[Person]:
        pool = [m for m in self.fixture.members if not exclude or m.id not in exclude]
        return self.rng.sample(pool, min(count, len(pool)))


@dataclass
class Prepared:
    operation: Callable[[int], object]
    baseline: Callable[[int], object] | None = None
    note: str = ""
    finish: Callable[[], str] | None = None  # runs after the timing; returns more of the note


@dataclass(frozen=True)
class Operation:
    key: str
    title: str
    plan: Plan
    chat_facing: bool
    prepare: Callable[[Bench, int], Prepared]  # the int: how many calls will be made at most


# -- 1. parse + dispatch + render (no I/O) -------------------------------------------------------

COMMANDS: tuple[tuple[str, str], ...] = (
    ("mock", "recommendation quick <@U0000002> <@U0000003>"),
    ("vote", "#12 3 4 2 3 3 4 lean-hire Clear structure; go deeper on features."),
    ("vote", "#12"),
    ("schedule", "09:00 Europe/Berlin mon-fri"),
    ("next", "#12"),
    ("extend", "5 #12"),
    ("end", "#12"),
    ("daily", ""),
    ("leaderboard", "month"),
    ("progress", "<@U0000002>"),
    ("bank", "list recsys"),
    ("help", "vote"),
)
PHASE_TIMES = [
    PhaseTime(p.name, 60 * p.standard_minutes - 30, 60 * p.standard_minutes) for p in PHASES
]


def render_reply(request: Request, question: Question) -> Message | str | None:
    """The reply each parsed command leads to, built by the core's pure render functions.

    Leaderboard, progress and bank replies are built from query results inside their flows: for
    those the step is parse + dispatch only.
    """
    match request:
        case StartMock():
            names = [m.name or m.user_id for m in request.interviewers]
            variant = "quick" if request.quick else "standard"
            render.mock_root(12, question, "Ada", names, variant)
            render.guide(question)
            return render.phase_message(12, 0, budget_seconds(0, variant), question)
        case Vote(scores=()):
            return Message("Score it", form=vote_form(request.number or 12, DEFAULT_RUBRIC))
        case Vote():
            scores = dict(zip(DEFAULT_RUBRIC.ids, request.scores, strict=True))
            return Message(f"weighted {weighted_score(scores, DEFAULT_RUBRIC):.2f} / 4")
        case MockControl(verb="end"):
            return render.summary(request.number or 12, PHASE_TIMES, "ended")
        case MockControl():
            render.controls_retired(0, phase_over=True)
            return render.phase_message(request.number or 12, 1, 600, question)
        case Schedule() | Daily():
            return render.daily_prompt(question, 1, question)
        case Help(topic):
            return help_text(topic)
    return None


def prepare_parse(bench: Bench, calls: int) -> Prepared:
    with bench.db.unit_of_work() as session:
        question = session.scalars(select(Question).order_by(Question.id).limit(1)).one()
        _ = question.family.name  # loaded (joined) before the session closes

    def operation(i: int) -> object:
        name, args = COMMANDS[i % len(COMMANDS)]
        return render_reply(parse(name, args), question)

    return Prepared(operation, note=f"{len(COMMANDS)} command lines in turn")


# -- 2. the daily due-scan -----------------------------------------------------------------------


def prepare_due_scan(bench: Bench, calls: int) -> Prepared:
    found: list[int] = []

    def operation(i: int) -> object:
        with bench.db.unit_of_work() as session:
            found[:] = due_channel_ids(session, NOW, Scope(PLATFORM))
        return found

    def baseline(i: int) -> object:
        with bench.engine.begin() as c:
            return c.execute(bench.sql.due_channels, {"now": NOW, "limit": DUE_LIMIT}).all()

    def finish() -> str:
        return f"{len(found):,} due of {bench.fixture.scheduled_channels:,} scheduled channels"

    return Prepared(operation, baseline, finish=finish)


# -- 3. question selection for a channel with a long history ------------------------------------


def prepare_selection(bench: Bench, calls: int) -> Prepared:
    channel = bench.fixture.history_channel_id
    with bench.db.unit_of_work() as session:
        chosen = daily_question_for_channel(session, channel, f"{SEED}:0", None, None)
        assert chosen is not None
        slug = chosen.slug

    def operation(i: int) -> object:
        with bench.db.unit_of_work() as session:
            question = daily_question_for_channel(session, channel, f"{SEED}:{i}", None, None)
        if question is None:
            raise BenchError("no question was selected")
        return question

    def baseline(i: int) -> object:
        with bench.engine.begin() as c:
            c.execute(bench.sql.channel_history, {"channel": channel}).scalars().all()
            decoded(c.execute(bench.sql.active_questions))
            return decoded(c.execute(bench.sql.question_by_slug, {"slug": slug}))

    return Prepared(
        operation, baseline, note=f"{bench.fixture.history_prompts:,} past prompts in the channel"
    )


# -- 4. leaderboard ------------------------------------------------------------------------------


def leaderboard(period: str) -> Callable[[Bench, int], Prepared]:
    def prepare(bench: Bench, calls: int) -> Prepared:
        fixture, sql = bench.fixture, bench.sql
        zone = fixture.workspace_timezone
        bucket = current_bucket(period, NOW, zone)
        askers = [m.id for m in bench.members(calls)]

        def operation(i: int) -> object:
            with bench.db.unit_of_work() as session:
                return standings(
                    session, fixture.workspace_id, period, NOW, zone, askers[i % len(askers)]
                )

        def baseline(i: int) -> object:
            """The index lookups: the top, the caller's row, and who is ahead of the caller."""
            member = askers[i % len(askers)]
            params = {"workspace": fixture.workspace_id, "bucket": bucket, "top": 10}
            with bench.engine.begin() as c:
                rows = c.execute(sql.totals_top, params).all()
                if all(row.member_id != member for row in rows):
                    own = c.execute(sql.totals_own, {**params, "member": member}).first()
                    if own is not None:
                        mine = {**params, "member": member, "points": own.points}
                        c.execute(sql.totals_ahead, {**mine, "name": own.display_name}).one()
                return rows

        with bench.engine.connect() as c:
            in_bucket = c.execute(
                text("SELECT count(*) FROM member_totals WHERE workspace_id = :w AND bucket = :b"),
                {"w": fixture.workspace_id, "b": bucket},
            ).scalar_one()
        rows = fixture.ledger_rows[period]
        return Prepared(
            operation,
            baseline,
            note=f"{in_bucket:,} totals in bucket {bucket} ({rows:,} ledger rows), "
            f"{len(fixture.members):,} members in the workspace",
        )

    return prepare


def prepare_ledger_sum(bench: Bench, calls: int) -> Prepared:
    """Before issue 15: the all-time standings summed from the ledger on every request."""
    fixture = bench.fixture
    askers = [m.id for m in bench.members(calls)]

    def operation(i: int) -> object:
        params = {"workspace": fixture.workspace_id, "top": 10, "member": askers[i % len(askers)]}
        with bench.engine.begin() as c:
            return c.execute(bench.sql.standings_all, params).all()

    return Prepared(operation, None, note="the former query, bare SQL, for comparison")


# -- 5. progress ---------------------------------------------------------------------------------


def _bare_history(bench: Bench, c: Connection, member_id: int) -> list[tuple[Any, ...]]:
    """The charts' sample of stored results, by hand: all of them, or the first after each of
    MAX_HISTORY − 1 evenly spaced instants plus the latest."""
    count, first, last = c.execute(bench.sql.history_span, {"member": member_id}).one()
    if count <= MAX_HISTORY:
        return decoded(c.execute(bench.sql.history_all, {"member": member_id}))
    points = MAX_HISTORY - 1
    step = (last - first) / points
    instants = {f"t{k}": first + step * k for k in range(points)}
    statement = bench.sql.history_sample(points)
    return decoded(c.execute(statement, {"member": member_id, **instants}))


def prepare_progress(bench: Bench, calls: int) -> Prepared:
    """The data of `/mlsd progress` (what scoring_flow.progress does before drawing charts)."""
    member_id = bench.fixture.heavy_member.id
    dojo, _port = bench.dojo(NOW)
    ctx: Context = dojo.ctx
    suggestion_seed = f"{SEED}:suggest:{member_id}"
    with bench.db.unit_of_work() as session:
        member = session.get_one(Member, member_id)
        report = progress(session, member, DEFAULT_RUBRIC, _channel_dates(session, ctx, member.id))
        slug = mock_question_for_member(
            session, member_id, None, suggestion_seed, report.weak_families
        ).slug
        details = (
            f"{report.scored:,} scored mocks ({len(report.history)} drawn), "
            f"{report.daily_answers:,} daily answers, streak {report.streak}"
        )

    def operation(i: int) -> object:
        with bench.db.unit_of_work() as session:
            member = session.get_one(Member, member_id)
            report = progress(
                session, member, DEFAULT_RUBRIC, _channel_dates(session, ctx, member.id)
            )
            mock_question_for_member(
                session, member_id, None, suggestion_seed, report.weak_families
            )
        return report

    def baseline(i: int) -> object:
        sql, params = bench.sql, {"member": member_id}
        with bench.engine.begin() as c:
            c.execute(sql.member, params).one()
            history = _bare_history(bench, c, member_id)
            c.execute(sql.progress_totals, params).all()
            c.execute(sql.mocks_done, params).scalar_one()
            c.execute(sql.answer_count, params).scalar_one()
            answered = c.execute(sql.answered_days, params).all()
            for channel in {row[0] for row in answered}:
                c.execute(sql.channel_days, {"channel": channel}).one()
            decoded(c.execute(sql.active_questions))
            decoded(c.execute(sql.families))
            c.execute(sql.practised, params).all()
            decoded(c.execute(sql.question_by_slug, {"slug": slug}))
        return history

    return Prepared(
        operation,
        baseline,
        note=details,
    )


def prepare_progress_command(bench: Bench, calls: int) -> Prepared:
    """The whole `/mlsd progress` through Dojo: data, two matplotlib charts, console output."""
    heavy = bench.fixture.heavy_member
    dojo, port = bench.dojo(NOW)
    actor = bench.actor(heavy)
    place = Place(bench.fixture.channel_external)
    port_seconds: list[float] = []

    def operation(i: int) -> object:
        before = port.seconds
        reply = dojo.handle_command(
            Command.from_text("progress", actor, place, bench.event_id("progress", i))
        )
        if reply is None or reply.message.tone == Tone.ERROR or len(reply.message.images) != 2:
            raise BenchError(f"progress did not answer with two charts: {reply!r:.200}")
        port.show(reply.message, to=actor.user_id)
        port_seconds.append(port.seconds - before)
        port.forget()
        return reply

    def finish() -> str:
        ordered = sorted(port_seconds)
        return f"console port (PNG files) p50 {1000 * ordered[len(ordered) // 2]:.1f} ms"

    return Prepared(operation, None, finish=finish)


HUGE_HISTORY = 50_000  # scored mocks of one member (issue 13: progress under 1 s and 200 MB)


def _seed_huge_history(bench: Bench) -> tuple[Person, str, str]:
    """A workspace of its own with one member who has HUGE_HISTORY settled mocks (interviews and
    stored results, written in bulk); (member, workspace external id, channel external id)."""
    workspace_external = f"T-huge-{bench.run_id}"
    member_external = f"U-huge-{bench.run_id}"
    channel_external = f"C-huge-{bench.run_id}"
    with bench.engine.begin() as c:
        workspace_id = c.execute(
            text(
                "INSERT INTO workspaces (platform, external_id, timezone, admin_ids,"
                " next_mock_number, created_at) VALUES (:p, :e, 'UTC', '[]', :n, :now)"
                " RETURNING id"
            ).bindparams(bindparam("now", type_=UTCDateTime())),
            {"p": PLATFORM, "e": workspace_external, "n": HUGE_HISTORY + 1, "now": NOW},
        ).scalar_one()
        member_id = c.execute(
            text(
                "INSERT INTO members (workspace_id, external_id, display_name, created_at)"
                " VALUES (:w, :e, 'Hugo Many', :now) RETURNING id"
            ).bindparams(bindparam("now", type_=UTCDateTime())),
            {"w": workspace_id, "e": member_external, "now": NOW},
        ).scalar_one()
        channel_id = c.execute(
            text(
                "INSERT INTO channels (workspace_id, external_id, daily_enabled, timezone, days,"
                " created_at) VALUES (:w, :e, :off, 'UTC', 'mon,tue,wed,thu,fri', :now)"
                " RETURNING id"
            ).bindparams(bindparam("now", type_=UTCDateTime())),
            {"w": workspace_id, "e": channel_external, "off": False, "now": NOW},
        ).scalar_one()
        family_of = dict(
            c.execute(select(Question.id, Question.family_id).order_by(Question.id)).all()
        )
        questions = list(family_of)
    progress_sums: dict[tuple[int, str], list[float]] = {}
    rng = random.Random(50_000)
    first = NOW - timedelta(days=3 * 365)
    batch = 5_000
    for start in range(0, HUGE_HISTORY, batch):
        interviews, results = [], []
        for number in range(start + 1, min(start + batch, HUGE_HISTORY) + 1):
            ended = first + timedelta(minutes=30 * number)
            interviews.append(
                {"workspace_id": workspace_id, "number": number, "channel_id": channel_id,
                 "question_id": rng.choice(questions), "candidate_id": member_id,
                 "variant": "quick", "status": "ended", "phase_index": len(PHASES) - 1,
                 "end_reason": "completed", "results_sent_at": ended + VOTE_WINDOW,
                 "results_final_at": ended + VOTE_WINDOW,
                 "started_at": ended - timedelta(minutes=25), "ended_at": ended,
                 "last_activity_at": ended}
            )  # fmt: skip
        with bench.engine.begin() as c:
            ids = c.execute(
                Interview.__table__.insert().returning(  # type: ignore[attr-defined]
                    Interview.__table__.c.id,
                    Interview.__table__.c.question_id,
                    Interview.__table__.c.ended_at,
                    sort_by_parameter_order=True,
                ),
                interviews,
            ).all()
            for interview_id, question_id, ended in ids:
                criteria = {cid: rng.uniform(1, 4) for cid in DEFAULT_RUBRIC.ids}
                for cid, mean in criteria.items():
                    entry = progress_sums.setdefault((family_of[question_id], cid), [0.0, 0])
                    entry[0] += mean
                    entry[1] += 1
                results.append(
                    {"interview_id": interview_id, "workspace_id": workspace_id,
                     "candidate_id": member_id, "question_id": question_id, "ended_at": ended,
                     "settled_at": ended + VOTE_WINDOW, "criteria": criteria,
                     "overall": weighted_score(criteria, DEFAULT_RUBRIC), "voters": 3,
                     "signals": {"hire": 1, "lean-hire": 2}}
                )  # fmt: skip
            c.execute(MockResult.__table__.insert(), results)  # type: ignore[attr-defined]
    with bench.engine.begin() as c:  # what record_result keeps alongside
        c.execute(
            ProgressTotal.__table__.insert(),  # type: ignore[attr-defined]
            [
                {"candidate_id": member_id, "family_id": family, "criterion": cid,
                 "score_sum": total, "scored": int(count)}
                for (family, cid), (total, count) in progress_sums.items()
            ],
        )  # fmt: skip
    return Person(member_id, member_external, "Hugo Many"), workspace_external, channel_external


def prepare_huge_progress(bench: Bench, calls: int) -> Prepared:
    """Progress data for a member with HUGE_HISTORY scored mocks; the whole command (charts
    drawn the first time) in a process of its own for its peak memory."""
    started = time.perf_counter()
    person, workspace_external, channel_external = _seed_huge_history(bench)
    seeded = time.perf_counter() - started
    with bench.db.unit_of_work() as session:
        report = progress(session, session.get_one(Member, person.id), DEFAULT_RUBRIC, {})
        if report.scored != HUGE_HISTORY:
            raise BenchError(f"{report.scored} results seeded, not {HUGE_HISTORY}")

    def operation(i: int) -> object:
        with bench.db.unit_of_work() as session:
            member = session.get_one(Member, person.id)
            return progress(session, member, DEFAULT_RUBRIC, {})

    def baseline(i: int) -> object:
        sql, params = bench.sql, {"member": person.id}
        with bench.engine.begin() as c:
            c.execute(sql.member, params).one()
            history = _bare_history(bench, c, person.id)
            c.execute(sql.progress_totals, params).all()
            c.execute(sql.mocks_done, params).scalar_one()
            c.execute(sql.answer_count, params).scalar_one()
            c.execute(sql.answered_days, params).all()
        return history

    def finish() -> str:
        command = [sys.executable, "-m", "bench.progress_child", workspace_external,
                   person.external_id, person.name, channel_external]  # fmt: skip
        environment = {**os.environ, "DATABASE_URL": bench.url, "DOJO_LOG_LEVEL": "WARNING"}
        done = subprocess.run(
            command, cwd=REPO, env=environment, capture_output=True, text=True, check=False
        )
        with bench.engine.begin() as c:  # leave the database as seeded
            for table in ("progress_totals", "mock_results", "interviews"):
                c.execute(text(f"DELETE FROM {table} WHERE candidate_id = :m"), {"m": person.id})
            c.execute(text("DELETE FROM channels WHERE external_id = :e"), {"e": channel_external})
            c.execute(text("DELETE FROM members WHERE id = :m"), {"m": person.id})
            c.execute(
                text("DELETE FROM workspaces WHERE external_id = :e"), {"e": workspace_external}
            )
        if done.returncode != 0:
            raise BenchError(f"the progress child failed: {done.stderr[-500:]}")
        child = json.loads(done.stdout.splitlines()[-1])
        mib = 1024
        return (
            f"seeded in {seeded:.0f} s; /mlsd progress in a new process (first charts) "
            f"{1000 * child['seconds']:.0f} ms, "
            f"peak RSS {child['after']['peak_kib'] / mib:.0f} MiB "
            f"(after start-up {child['before']['rss_kib'] / mib:.0f} MiB)"
        )

    return Prepared(
        operation,
        baseline,
        note=f"{HUGE_HISTORY:,} scored mocks ({len(report.history)} drawn)",
        finish=finish,
    )


# -- 6. votes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ballot:
    interview_id: int
    workspace_id: int
    voter_id: int
    at: datetime  # inside the mock's vote window, before its result is sent


def _ballots(bench: Bench, count: int) -> list[Ballot]:
    """Mocks of the heavy workspace still open for votes, each with a member who has not voted.

    Every (mock, voter) pair is new; the mocks recur, as there are fewer open mocks than calls.
    """
    fixture = bench.fixture
    with bench.engine.connect() as c:
        open_mocks = c.execute(
            select(Interview.id, Interview.candidate_id)
            .where(
                Interview.workspace_id == fixture.workspace_id,
                Interview.status == "ended",
                Interview.results_sent_at.is_(None),
                Interview.ended_at > NOW - VOTE_WINDOW,
            )
            .order_by(Interview.id)
        ).all()
        if not open_mocks:
            raise BenchError("no mock is open for votes at the benchmark's instant")
        taken: dict[int, set[int]] = {}
        ballots = []
        for index in range(count):
            interview_id, candidate = open_mocks[index % len(open_mocks)]
            if interview_id not in taken:
                taken[interview_id] = set(
                    c.execute(bench.sql.voters, {"interview": interview_id}).scalars()
                )
                taken[interview_id].add(candidate)
            voter = next(m for m in bench.members(64) if m.id not in taken[interview_id])
            taken[interview_id].add(voter.id)
            ballots.append(Ballot(interview_id, fixture.workspace_id, voter.id, NOW))
    return ballots


def prepare_vote(bench: Bench, calls: int) -> Prepared:
    ballots = _ballots(bench, 2 * calls)  # even: the operation, odd: the baseline
    zone = bench.fixture.workspace_timezone
    overall = weighted_score(dict(zip(DEFAULT_RUBRIC.ids, SCORES, strict=True)), DEFAULT_RUBRIC)

    def operation(i: int) -> object:
        ballot = ballots[2 * i]
        with bench.db.unit_of_work() as session:
            interview = session.get_one(Interview, ballot.interview_id)
            voter = session.get_one(Member, ballot.voter_id)
            receipt = submit_vote(
                session, interview, voter, SCORES, "lean-hire", "bench", DEFAULT_RUBRIC, ballot.at
            )
        if receipt.replaced:
            raise BenchError("a vote was replaced: voters are meant to be new")
        return receipt

    def baseline(i: int) -> object:
        ballot = ballots[2 * i + 1]
        sql = bench.sql
        ids = {"interview": ballot.interview_id, "voter": ballot.voter_id}
        with bench.engine.begin() as c:
            c.execute(sql.interview, ids).one()
            c.execute(sql.member, {"member": ballot.voter_id}).one()
            c.execute(sql.vote_exists, ids).first()
            c.execute(
                sql.upsert_vote,
                {
                    **ids,
                    "scores": dict(zip(DEFAULT_RUBRIC.ids, SCORES, strict=True)),
                    "overall": overall,
                    "signal": "lean-hire",
                    "comment": "bench",
                    "now": ballot.at,
                },
            )
            c.execute(
                sql.award,
                {
                    "workspace": ballot.workspace_id,
                    "member": ballot.voter_id,
                    "kind": PointKind.PEER_VOTE.value,
                    "reference": f"interview:{ballot.interview_id}",
                    "points": DEFAULT_POINTS[PointKind.PEER_VOTE],
                    "now": ballot.at,
                },
            ).first()
            c.execute(sql.workspace_zone, {"workspace": ballot.workspace_id}).one()
            _, month, week = buckets(ballot.at, zone)
            c.execute(
                sql.add_totals,
                {
                    "workspace": ballot.workspace_id,
                    "member": ballot.voter_id,
                    "month": month,
                    "week": week,
                    "points": DEFAULT_POINTS[PointKind.PEER_VOTE],
                },
            )
            c.execute(sql.panel, ids).scalars().all()
            return c.execute(sql.voters, ids).scalars().all()

    return Prepared(
        operation, baseline, note="a new voter each time, on the mocks still open for votes"
    )


# -- 7. the scheduler's tick with nothing due ----------------------------------------------------


def _quiet_scans(bench: Bench, c: Connection) -> None:
    sql = bench.sql
    c.execute(sql.unposted_prompts, {"claimed_before": QUIET - REPOST_GRACE}).all()
    c.execute(sql.due_channels, {"now": QUIET, "limit": DUE_LIMIT}).all()
    c.execute(sql.due_reminders, {"horizon": QUIET + timedelta(seconds=WARNING_SECONDS)}).all()
    c.execute(sql.idle_mocks, {"idle_before": QUIET - IDLE_LIMIT}).all()
    c.execute(sql.results_due, {"closed_before": QUIET - VOTE_WINDOW}).all()


def prepare_tick(bench: Bench, calls: int) -> Prepared:
    dojo, _port = bench.dojo(QUIET)

    def operation(i: int) -> object:
        done = dojo.run_due()
        if any(done.values()):
            raise BenchError(f"the quiet tick did work: {done}")
        return done

    def baseline(i: int) -> object:
        with bench.engine.begin() as c:
            _quiet_scans(bench, c)
        return None

    return Prepared(operation, baseline, note="Dojo.run_due: 5 scans, nothing due")


# -- 8. start-up to ready ------------------------------------------------------------------------


def prepare_startup(bench: Bench, calls: int) -> Prepared:
    opened: list[Database] = []
    engines: list[Engine] = []
    settings = Settings(database_url=bench.url)

    def operation(i: int) -> object:
        db = open_database(settings)
        opened.append(db)
        dojo, _port = bench.dojo(QUIET, db)
        done = dojo.recover()
        if any(done.values()):
            raise BenchError(f"start-up found work to catch up: {done}")
        return done

    def baseline(i: int) -> object:
        engine = make_engine(bench.url)
        engines.append(engine)
        with engine.begin() as c:
            c.execute(bench.sql.alembic_version).scalar_one()
            c.execute(bench.sql.question_count).scalar_one()
            c.execute(bench.sql.unposted_prompts, {"claimed_before": QUIET}).all()
            _quiet_scans(bench, c)
        return None

    def finish() -> str:
        for db in opened:
            db.dispose()
        for engine in engines:
            engine.dispose()
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            migrate.upgrade(bench.db)
            samples.append(time.perf_counter() - started)
        samples.sort()
        return f"of which Alembic upgrade at head p50 {1000 * samples[2]:.0f} ms"

    return Prepared(
        operation, baseline, note="open_database + Dojo + recover (new engine)", finish=finish
    )


# -- 9. starting a mock --------------------------------------------------------------------------


def _free_candidates(bench: Bench, count: int) -> list[Person]:
    with bench.engine.connect() as c:
        busy = set(
            c.execute(
                select(Interview.candidate_id).where(Interview.status.in_(("running", "paused")))
            ).scalars()
        )
    people = bench.members(count, exclude=busy)
    if len(people) < count:
        raise BenchError(f"only {len(people)} members without a live mock; {count} needed")
    return people


def prepare_mock_start(bench: Bench, calls: int) -> Prepared:
    fixture, sql = bench.fixture, bench.sql
    candidates = _free_candidates(bench, 2 * calls)  # even: the operation, odd: the baseline
    interviewers = bench.members(2 * calls)
    dojo, port = bench.dojo(NOW)
    place = Place(fixture.channel_external)
    port_seconds: list[float] = []
    with bench.engine.connect() as c:
        slug = next(row[0] for row in c.execute(sql.active_questions) if row[1] == "recommendation")
        question_id = c.execute(sql.question_by_slug, {"slug": slug}).one()[0]

    def operation(i: int) -> object:
        candidate, interviewer = candidates[2 * i], interviewers[2 * i]
        actor = bench.actor(candidate)
        before = port.seconds
        reply = dojo.handle_command(
            Command.from_text(
                f"mock recommendation <@{interviewer.external_id}>",
                actor,
                place,
                bench.event_id("mock", i),
            )
        )
        if reply is None or reply.message.tone == Tone.ERROR:
            raise BenchError(f"the mock did not start: {reply!r:.300}")
        port.show(reply.message, to=actor.user_id)
        port_seconds.append(port.seconds - before)
        port.forget()
        return reply

    def baseline(i: int) -> object:
        candidate, interviewer = candidates[2 * i + 1], interviewers[2 * i + 1]
        now = NOW
        with bench.engine.begin() as c:
            c.execute(
                sql.first_delivery,
                {"platform": PLATFORM, "event": bench.event_id("bare-mock", i), "now": now},
            ).first()
        with bench.engine.begin() as c:
            ws = {"platform": PLATFORM, "external": fixture.workspace_external}
            c.execute(sql.insert_workspace, {**ws, "admins": [], "now": now}).first()
            workspace = c.execute(sql.workspace, ws).one()
            decoded([workspace])
            people = []
            for person in (candidate, interviewer):
                who = {"workspace": workspace.id, "external": person.external_id}
                c.execute(sql.insert_member, {**who, "name": person.name, "now": now}).first()
                people.append(c.execute(sql.member_by_external, who).one())
            where = {"workspace": workspace.id, "external": fixture.channel_external}
            c.execute(sql.insert_channel, {**where, "now": now}).first()
            channel = c.execute(sql.channel, where).one()
            member = {"member": candidate.id}
            c.execute(sql.progress_totals, member).all()  # the weak families
            decoded(c.execute(sql.active_question_by_slug, {"slug": "recommendation"}))
            decoded(c.execute(sql.active_questions))
            decoded(c.execute(sql.families))
            c.execute(sql.practised, member).all()
            decoded(c.execute(sql.question_by_slug, {"slug": slug}))
            c.execute(sql.lock_candidate, member).scalar_one()
            if c.execute(sql.live_mock, member).first() is not None:
                raise BenchError("the baseline's candidate already has a live mock")
            number = c.execute(sql.next_number, {"workspace": workspace.id}).scalar_one() - 1
            budget = budget_seconds(0, "standard")
            interview_id = c.execute(
                sql.insert_interview,
                {
                    "workspace": workspace.id,
                    "number": number,
                    "channel": channel.id,
                    "question": question_id,
                    "member": candidate.id,
                    "deadline": now + timedelta(seconds=budget),
                    "now": now,
                },
            ).scalar_one()
            c.execute(sql.insert_phase, {"interview": interview_id, "budget": budget, "now": now})
            c.execute(
                sql.insert_participant,
                {"interview": interview_id, "member": people[1].id, "now": now},
            )
            c.execute(sql.drawn, {"id": question_id, "now": now})
        with bench.engine.begin() as c:
            c.execute(sql.set_thread, {"thread": f"bare-{interview_id}", "interview": interview_id})
            c.execute(sql.set_phase_message, {"message": "bare", "interview": interview_id})
        return interview_id

    def finish() -> str:
        ordered = sorted(port_seconds)
        middle = 1000 * ordered[len(ordered) // 2]
        return f"console port (rich, 3 messages + reply) p50 {middle:.1f} ms"

    return Prepared(
        operation,
        baseline,
        note="topic + one interviewer, a new candidate each time",
        finish=finish,
    )


# -- the list ------------------------------------------------------------------------------------

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "parse", "parse + dispatch + render (no I/O)", Plan(2400, 48, 10), True, prepare_parse
    ),
    Operation("due_scan", "daily due-scan", Plan(200), False, prepare_due_scan),
    Operation("selection", "daily question selection", Plan(200), False, prepare_selection),
    Operation("leaderboard_week", "leaderboard week", Plan(200), True, leaderboard("week")),
    Operation("leaderboard_month", "leaderboard month", Plan(200), True, leaderboard("month")),
    Operation("leaderboard_all", "leaderboard all", Plan(200), True, leaderboard("all")),
    Operation(
        "ledger_sum_all",
        "leaderboard all, summing the ledger (before)",
        Plan(20),
        False,
        prepare_ledger_sum,
    ),
    Operation("progress", "progress (data, no charts)", Plan(100), True, prepare_progress),
    Operation(
        "progress_charts",
        "progress command (with charts)",
        Plan(30),
        True,
        prepare_progress_command,
    ),
    Operation(
        "progress_huge",
        f"progress (data) for {HUGE_HISTORY:,} scored mocks",
        Plan(20),
        True,
        prepare_huge_progress,
    ),
    Operation("vote", "vote submission", Plan(200), True, prepare_vote),
    Operation("mock_start", "mock start (command)", Plan(100), True, prepare_mock_start),
    Operation("tick", "scheduler tick (nothing due)", Plan(200), False, prepare_tick),
    Operation("startup", "start-up to ready (in process)", Plan(20, 2), False, prepare_startup),
)
