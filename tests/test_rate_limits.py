"""Rate limits per member and per channel (issue 13): refused with the time to wait, nothing
stored, settings validated at start-up, counters that forget after the window (a fake clock for
the library, never a sleep), and processed-event rows pruned after the retry window."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from bank.db import Database
from bank.models import Interview, ProcessedEvent
from bot.engine import EVENT_RETENTION
from bot.ratelimit import RateLimiter, RateLimitSettings
from tests.support import Harness
from tests.test_config_cli import dojo
from tests.test_slack import Slack
from tests.test_slack import slack as slack  # the fixture, re-exported

SLOW = re.compile(r"^Slow down: too many (?P<what>[\w ]+) for now\. Try again in (?P<s>\d+) s\.$")


def limited(db: Database, tmp_path: Path, **rates: str) -> Harness:
    harness = Harness(db, tmp_path, admins=("alice",))
    harness.dojo.limiter = RateLimiter(RateLimitSettings.model_validate(rates))
    return harness


def start(harness: Harness, name: str) -> str:
    """Start a mock and end it at once (one running mock per member), the start's answer."""
    reply = harness.command(name, "mock recsys")
    assert reply is not None
    started = re.match(r"Mock #(\d+) started", reply.message.text)
    if started:
        ended = harness.command(name, f"end #{started.group(1)}")
        assert ended is not None and not ended.message.text.startswith("Slow down")
    return reply.message.text


def interviews(db: Database) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(Interview)) or 0


def refusal(text: str) -> tuple[str, int]:
    match = SLOW.match(text)
    assert match is not None, text
    return match.group("what"), int(match.group("s"))


def test_member_limit_on_new_threads(bank_db: Database, tmp_path: Path) -> None:
    harness = limited(bank_db, tmp_path, public_member="2/minute")
    assert ["started" in start(harness, "mallory") for _ in range(2)] == [True, True]
    reply = harness.command("mallory", "mock recsys")
    assert reply is not None and reply.private
    what, wait = refusal(reply.message.text)
    assert what == "public posts and new threads" and 1 <= wait <= 60
    assert interviews(bank_db) == 2, "a refused request stores nothing"
    assert "started" in start(harness, "bob")  # another member is not held back


def test_channel_limit_across_members(bank_db: Database, tmp_path: Path) -> None:
    harness = limited(bank_db, tmp_path, public_member="off", public_channel="3/minute")
    texts = [harness.command(name, "mock recsys") for name in ("a", "b", "c", "d")]
    assert all(t is not None for t in texts)
    assert ["started" in t.message.text for t in texts if t] == [True, True, True, False]
    assert interviews(bank_db) == 3


def test_charts_and_exports_are_limited(bank_db: Database, tmp_path: Path) -> None:
    harness = limited(bank_db, tmp_path, chart_member="2/minute", export_member="1/minute")
    replies = [harness.command("alice", cmd) for cmd in ("progress", "leaderboard", "progress")]
    assert replies[2] is not None and refusal(replies[2].message.text)[0] == "charts"
    first = harness.command("alice", "bank export")
    second = harness.command("alice", "bank export")
    assert first is not None and not first.message.text.startswith("Slow down")
    assert second is not None and refusal(second.message.text)[0] == "exports"
    help_reply = harness.command("alice", "help")  # not limited at all
    assert help_reply is not None and not help_reply.message.text.startswith("Slow down")


def test_the_window_moves_on(
    bank_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [time.time()]
    monkeypatch.setattr(time, "time", lambda: now[0])  # the limits library's clock
    harness = limited(bank_db, tmp_path, public_member="1/minute")
    assert "started" in start(harness, "mallory")
    _, wait = refusal(start(harness, "mallory"))
    now[0] += 30
    _, later = refusal(start(harness, "mallory"))
    assert later < wait
    now[0] += 31
    assert "started" in start(harness, "mallory")


def test_settings_are_checked() -> None:
    assert RateLimitSettings(public_member=" OFF ").public_member == "off"
    with pytest.raises(ValidationError, match="not a rate like"):
        RateLimitSettings(chart_channel="lots")


def test_bad_rate_setting_stops_start_up_in_one_line(tmp_path: Path) -> None:
    result = dojo(
        "run",
        "--platform",
        "slack",
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
            "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
            "DOJO_RATE_LIMIT_PUBLIC_MEMBER": "plenty",
        },
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "DOJO_RATE_LIMIT_PUBLIC_MEMBER" in result.stderr


def test_slack_member_is_told_to_slow_down(slack: Slack, bank_db: Database) -> None:
    slack.bot.dojo.limiter = RateLimiter(RateLimitSettings(public_member="1/minute"))
    mark = slack.fake.mark()
    assert slack.client.command("UALICE", "mock recsys").status == 200
    response = slack.client.command("UALICE", "mock recsys")
    assert response.status == 200

    def told() -> bool:
        texts = [response.body] + [str(c.params) for c in slack.fake.since(mark)]
        return any("Slow down" in text for text in texts)

    slack.fake.wait_for(told)
    slack.fake.wait_for(lambda: interviews(bank_db) == 1)  # the first one, started in the back
    assert [
        c for c in slack.fake.since(mark, "chat.postMessage") if "Mock #2" in str(c.params)
    ] == []


def test_processed_events_are_pruned_after_the_retry_window(
    bank_db: Database, tmp_path: Path
) -> None:
    harness = Harness(bank_db, tmp_path)
    harness.command("alice", "help", event_id="ev-old")
    harness.clock.advance(EVENT_RETENTION + timedelta(minutes=1))
    harness.command("alice", "help", event_id="ev-new")
    harness.dojo.run_due()  # the scheduler's tick prunes
    assert harness.dojo.prune_events() == 0  # nothing left to prune
    with bank_db.unit_of_work() as session:
        left = list(session.scalars(select(ProcessedEvent.event_id)))
    assert left == ["ev-new"]
    assert harness.command("alice", "help", event_id="ev-new") is None  # still deduplicated
