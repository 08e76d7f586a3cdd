"""Faults survived: concurrent votes, every event delivered twice, the database going away."""

from __future__ import annotations

import itertools
import os
import random
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bank.catalog import ensure_builtin_bank
from bank.db import Database
from bank.models import DailyAnswer, Interview, InterviewPhase, Member, Question
from bot import migrate
from bot.community import channel_for, member_for, workspace_for
from bot.engine import TRY_AGAIN
from bot.mocks import end, start_mock
from bot.scheduler import Ticker
from scoring.ledger import PointKind, points_table
from scoring.models import PointsEntry, Vote
from scoring.rubric import DEFAULT_RUBRIC
from scoring.votes import VoteError, submit_vote
from tests.conftest import require_postgres
from tests.support import Harness

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.mark.slow
def test_a_thousand_concurrent_votes(database_url_factory) -> None:
    """1,000 submissions from 100 voters on 10 mocks, in parallel, on PostgreSQL."""
    bank_db = Database(database_url_factory("postgresql"), pool_size=20)
    migrate.upgrade(bank_db)
    with bank_db.unit_of_work() as session:
        ensure_builtin_bank(session)
    with bank_db.unit_of_work() as session:
        workspace = workspace_for(session, "slack", "T-load")
        channel = channel_for(session, workspace, "C-load")
        people = [member_for(session, workspace, f"U{i:03d}", f"user{i}") for i in range(110)]
        question_row = session.scalars(select(Question).limit(1)).one()
        mocks = []
        for index in range(10):
            interview = start_mock(
                session,
                workspace,
                channel.id,
                people[100 + index],
                [],
                question_row,
                "standard",
                T0,
            )
            end(session, interview, T0 + timedelta(minutes=40))
            mocks.append(interview.id)
        voters = [p.id for p in people[:100]]
    jobs = [(mocks[i % 10], voters[(i * 7) % 100], i) for i in range(1000)]
    random.Random(5).shuffle(jobs)

    def vote(job: tuple[int, int, int]) -> str:
        mock_id, voter_id, seed = job
        scores = tuple(1 + (seed + k) % 4 for k in range(6))
        with bank_db.unit_of_work() as session:
            interview = session.get_one(Interview, mock_id)
            voter = session.get_one(Member, voter_id)
            submit_vote(
                session,
                interview,
                voter,
                scores,
                "hire",
                f"s{seed}",
                DEFAULT_RUBRIC,
                T0 + timedelta(hours=1),
            )
        return "ok"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(vote, jobs))
    assert outcomes == ["ok"] * 1000  # no deadlock, no error a user would see
    pairs = {(m, v) for m, v, _ in jobs}
    with bank_db.unit_of_work() as session:
        rows = session.execute(select(Vote.interview_id, Vote.voter_id)).all()
        assert len(rows) == len(set(rows)) == len(pairs)
        assert set(rows) == pairs
        ledger = (
            session.scalar(
                select(func.sum(PointsEntry.points)).where(PointsEntry.kind == "peer-vote")
            )
            or 0
        )
    assert ledger == len(pairs) * points_table()[PointKind.PEER_VOTE]  # recomputed from votes
    bank_db.dispose()


def _run_script(harness: Harness, lines: list[str], twice: bool) -> None:
    """Feed a script; with `twice`, every chat event arrives a second time, same event id."""
    if twice:
        repeated = itertools.chain.from_iterable((n, n) for n in itertools.count(1))
        harness.channel._events = repeated  # type: ignore[assignment]
    for line in lines:
        harness.channel.feed(line)
        if twice and not line.lstrip().startswith(("~", "#")) and line.strip():
            harness.channel.feed(line)


def _state(db: Database) -> dict[str, object]:
    """What the run left behind, by people's ids on the platform (row ids differ per run)."""
    voter = select(Member.external_id, Vote.overall).join(Member, Member.id == Vote.voter_id)
    points = select(Member.external_id, PointsEntry.kind, PointsEntry.points).join(
        Member, Member.id == PointsEntry.member_id
    )
    with db.unit_of_work() as session:
        return {
            "votes": sorted(session.execute(voter).all()),
            "points": sorted(session.execute(points).all()),
            "phases": session.scalar(select(func.count()).select_from(InterviewPhase)),
            "answers": session.scalar(select(func.count()).select_from(DailyAnswer)),
        }


@pytest.mark.parametrize("script", ["full-mock.txt", "daily-round.txt"])
def test_every_event_delivered_twice_has_each_effect_once(
    bank_db: Database, tmp_path: Path, script: str
) -> None:
    lines = (EXAMPLES / script).read_text().splitlines()
    start = T0 if script == "full-mock.txt" else datetime(2026, 3, 27, 7, 30, tzinfo=UTC)
    admins = ("alice",) if script == "full-mock.txt" else ("lead",)
    once = Harness(bank_db, tmp_path / "once", start=start, admins=admins)
    _run_script(once, lines, twice=False)
    expected_posts = len(once.port.posted)
    expected = _state(bank_db)
    with bank_db.engine.begin() as connection:  # start again from the bank alone
        for table in (
            "votes",
            "points_ledger",
            "daily_answers",
            "daily_prompts",
            "interview_participants",
            "interview_phases",
            "interviews",
            "channels",
            "members",
            "workspaces",
            "processed_events",
            "deliveries",
        ):
            connection.execute(text(f"DELETE FROM {table}"))
    twice = Harness(bank_db, tmp_path / "twice", start=start, admins=admins)
    _run_script(twice, lines, twice=True)
    assert len(twice.port.posted) == expected_posts
    assert _state(bank_db) == expected


# -- the database going away ---------------------------------------------------------------------


class Cluster:
    """A private PostgreSQL server this test may stop and start."""

    def __init__(self) -> None:
        # not under pytest's private tmp dir: the server runs as `postgres` and must reach it
        parent = Path(tempfile.mkdtemp(prefix="dojo-outage-"))
        parent.chmod(0o755)
        self.dir = parent / "pg"
        script = Path(__file__).resolve().parent.parent / ".ci" / "start-postgres"
        self.url = subprocess.run(
            [str(script), str(self.dir)], check=True, text=True, capture_output=True
        ).stdout.strip()
        self.bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]

    def _ctl(self, *args: str) -> None:
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1].split("/")[0]
        self._ctl(
            "-w",
            "-l",
            str(self.dir / "server.log"),
            "-o",
            f"-p {port} -k {self.dir} -c listen_addresses=127.0.0.1",
            "start",
        )

    def remove(self) -> None:
        script = Path(__file__).resolve().parent.parent / ".ci" / "stop-postgres"
        subprocess.run([str(script), str(self.dir)], check=False, capture_output=True)
        shutil.rmtree(self.dir.parent, ignore_errors=True)


@pytest.mark.slow
def test_database_outage_gives_try_again_and_the_scheduler_recovers(tmp_path: Path) -> None:
    require_postgres()  # the same tooling: a PostgreSQL server installed on this machine
    cluster = Cluster()
    try:
        db = Database(cluster.url, pool_pre_ping=True)
        migrate.upgrade(db)
        with db.unit_of_work() as session:
            ensure_builtin_bank(session)
        harness = Harness(db, tmp_path, start=T0, admins=("alice",))
        harness.feed("alice: /mlsd mock recsys @bob")
        ticker = Ticker(harness.dojo)
        cluster.stop()
        reply = harness.command("bob", "next #1")
        assert reply is not None and reply.message.text == TRY_AGAIN and reply.private
        harness.clock.advance(timedelta(minutes=7))
        assert ticker.tick() is None  # due work fails quietly while the database is away
        cluster.start()
        assert ticker.tick() == {
            "reposted": 0,
            "daily": 0,
            "reminders": 1,
            "idle": 0,
            "results": 0,
            "resent": 0,
            "pairs_announced": 0,
            "pairs_expired": 0,
            "bookings": 0,
            "digests": 0,
            "voice_rooms": 0,
        }
        reply = harness.command("bob", "next #1")
        assert reply is not None and "Architecture has begun" in reply.message.text
        with db.unit_of_work() as session:
            phases = session.scalar(select(func.count()).select_from(InterviewPhase))
        assert phases == 2, "the refused command wrote nothing; the retried one wrote once"
        ticker.leadership.release()
        db.dispose()
    finally:
        cluster.remove()


def test_refused_vote_is_not_half_written(bank_db: Database, tmp_path: Path) -> None:
    harness = Harness(bank_db, tmp_path, admins=("alice",))
    harness.feed("alice: /mlsd mock recsys @bob", "alice: /mlsd end #1")
    with bank_db.unit_of_work() as session:
        interview = session.scalars(select(Interview)).one()
        voter = session.scalars(select(Member).where(Member.external_id == "bob")).one()
        with pytest.raises(VoteError):
            submit_vote(
                session, interview, voter, (3, 3, 3, 3, 3, 9), "hire", "", DEFAULT_RUBRIC, T0
            )
    with bank_db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Vote)) == 0
        assert (
            session.scalar(
                select(func.count()).select_from(PointsEntry).where(PointsEntry.kind == "peer-vote")
            )
            == 0
        )
