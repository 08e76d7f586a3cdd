"""Two Slack HTTP workers on one PostgreSQL database, requests alternating between them as a
load balancer would send them (one by one, then as a burst); one scheduler leader, and another
takes over when it dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from bank.catalog import ensure_builtin_bank
from bank.db import Database
from bot import migrate
from bot.scheduler import LOCK_KEY
from tests.fake_slack import FakeSlack
from tests.slack_wire import SlackClient
from tests.support import DOJO_COMMAND
from tests.test_slack import USERS, all_text, header


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Worker:
    def __init__(self, url: str, api_url: str, cwd: Path) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SLACK_BOT_TOKEN": "xoxb-scale",
            "SLACK_SIGNING_SECRET": "test-signing-secret",
            "SLACK_API_URL": api_url,
            "DOJO_LOG_LEVEL": "WARNING",
        }
        env.pop("SLACK_APP_TOKEN", None)
        self.process = subprocess.Popen(
            [*DOJO_COMMAND, "run", "--port", str(self.port)],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.client = SlackClient(f"http://127.0.0.1:{self.port}")

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.client.url}/healthz", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                assert self.process.poll() is None, self.process.communicate()[1]
                assert time.monotonic() < deadline, "worker did not come up"
                time.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.communicate(timeout=30)


def _lock_holders(db: Database) -> list[str]:
    """The application names (mlsd-dojo:<os pid>) of the connections holding the lock."""
    query = text(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.classid = :k AND l.objsubid = 2 AND l.granted"
    )
    with db.engine.connect() as connection:
        return list(connection.execute(query, {"k": LOCK_KEY}).scalars())


@pytest.mark.slow
def test_two_workers_behind_a_load_balancer(database_url_factory, tmp_path: Path) -> None:
    db = Database(database_url_factory("postgresql"))
    migrate.upgrade(db)
    with db.unit_of_work() as session:
        ensure_builtin_bank(session)
    fake = FakeSlack(users=dict(USERS))
    api_url = fake.start()
    workers = [Worker(db.url, api_url, tmp_path), Worker(db.url, api_url, tmp_path)]
    try:
        for worker in workers:
            worker.wait_healthy()
        fake.wait_for(lambda: len(_lock_holders(db)) == 1, timeout=30)  # exactly one leader

        # requests alternate between the workers; state lives in the database only
        a, b = workers[0].client, workers[1].client
        assert a.command("UALICE", "mock recsys <@UBOB|bob>").status == 200
        fake.wait_for(lambda: any("Phase 1/4" in header(p) for p in fake.of("chat.postMessage")))
        phase = next(p for p in fake.of("chat.postMessage") if "Phase 1/4" in header(p))
        button = next(
            e
            for blk in phase["blocks"]
            if blk["type"] == "actions"
            for e in blk["elements"]
            if e["text"]["text"] == "Next phase"
        )
        # pressed on the other worker; the button's value names the mock and phase it acts on
        assert b.press("UBOB", button, phase["thread_ts"], phase["thread_ts"]).status == 200
        fake.wait_for(lambda: any("Phase 2/4" in header(p) for p in fake.of("chat.postMessage")))
        assert a.command("UBOB", "end #1").status == 200
        fake.wait_for(lambda: any("is over" in header(p) for p in fake.of("chat.postMessage")))
        assert b.command("UCAROL", "vote #1 3 3 3 3 3 3 hire").status == 200
        fake.wait_for(
            lambda: any("vote is in" in all_text(p) for p in fake.of("chat.postEphemeral"))
        )

        # a load leg: a burst of commands spread over both workers, every one acknowledged and
        # answered exactly once
        burst = 100
        before = len(fake.of("chat.postEphemeral"))
        with ThreadPoolExecutor(max_workers=20) as senders:
            acks = list(
                senders.map(
                    lambda i: workers[i % 2].client.command("UDAVE", "help").status, range(burst)
                )
            )
        assert acks == [200] * burst
        fake.wait_for(lambda: len(fake.of("chat.postEphemeral")) >= before + burst, timeout=60)
        time.sleep(0.5)  # a doubled answer would arrive now
        assert len(fake.of("chat.postEphemeral")) == before + burst

        # the leader dies without cleaning up; the survivor takes the scheduler over
        leader = _lock_holders(db)[0]
        victim = next(w for w in workers if leader == f"mlsd-dojo:{w.process.pid}")
        survivor = next(w for w in workers if w is not victim)
        victim.stop(signal.SIGKILL)
        fake.wait_for(
            lambda: _lock_holders(db) == [f"mlsd-dojo:{survivor.process.pid}"], timeout=60
        )
        assert survivor.client.command("UDAVE", "leaderboard").status == 200
    finally:
        for worker in workers:
            worker.stop()
        fake.stop()
        db.dispose()
