"""Discord's refusals (issue 12): the classification of discord.py's errors, and the real client
against the fake Discord answering with documented error codes and dropped connections."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import pytest
from sqlalchemy import func, select

from bank.db import Database
from bank.models import Channel, DailyAnswer
from bot.adapters.faults import classify_discord
from bot.clock import ManualClock
from bot.port import Ambiguous, Permanent, Transient
from tests.fake_discord import FakeDiscord, pointed_at_fake
from tests.test_discord import START, TOKEN, Running, answer, text_of


def http_error(status: int, code: int, headers: dict[str, str] | None = None) -> Exception:
    response: Any = SimpleNamespace(status=status, reason="refused", headers=headers or {})
    return discord.HTTPException(response, {"code": code, "message": "refused"})


@pytest.mark.parametrize(
    ("status", "code", "fix"),
    [
        (404, 10003, "View Channel"),
        (404, 10008, "gone"),
        (403, 50001, "View Channel"),
        (403, 50007, "direct messages"),
        (403, 50013, "Send Messages"),
        (400, 50083, "unarchive the thread"),
        (403, 160002, "Read Message History"),
    ],
)
def test_documented_codes_are_permanent_with_a_fix(status: int, code: int, fix: str) -> None:
    outcome = classify_discord(http_error(status, code))
    assert isinstance(outcome, Permanent) and outcome.code == str(code)
    assert fix in outcome.fix


def test_overload_rate_limits_and_outages_are_transient() -> None:
    assert isinstance(classify_discord(http_error(503, 130000)), Transient)
    assert isinstance(classify_discord(http_error(502, 0)), Transient)
    limited = classify_discord(http_error(429, 0, {"Retry-After": "5"}))
    assert limited == Transient(5.0, "429")
    assert isinstance(classify_discord(ConnectionRefusedError()), Transient)


def test_an_answer_that_never_came_is_ambiguous() -> None:
    assert isinstance(classify_discord(aiohttp.ServerDisconnectedError()), Ambiguous)
    assert isinstance(classify_discord(TimeoutError()), Ambiguous)


def test_a_bug_is_not_mistaken_for_a_platform_failure() -> None:
    with pytest.raises(KeyError):
        classify_discord(KeyError("oops"))


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with pointed_at_fake(TOKEN) as server:
        server.plan.hold_seconds = 0.2
        yield server


@pytest.fixture
def running(fake: FakeDiscord, bank_db: Database) -> Iterator[tuple[Running, ManualClock]]:
    clock = ManualClock(start=START)
    bot = Running(bank_db, clock)
    bot.bot.dojo.ctx.sleep = lambda seconds: None
    try:
        yield bot, clock
    finally:
        bot.close()


def _schedule(fake: FakeDiscord) -> None:
    done = answer(
        fake,
        fake.slash_command(
            "mlsd",
            "schedule",
            {"time": "09:00", "timezone": "UTC", "days": "daily"},
            user=fake.alice,
        ),
    )
    assert "Scheduled" in text_of(done)


def _daily_roots(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [m for m in fake.messages_in(fake.channel_id) if "Daily question" in text_of(m)]


def test_missing_permissions_pause_the_daily_question(
    fake: FakeDiscord, running: tuple[Running, ManualClock], bank_db: Database
) -> None:
    bot, clock = running
    _schedule(fake)
    path = f"/channels/{fake.channel_id}/messages"
    fake.plan.discord_error("POST", path, 403, 50013, "Missing Permissions")
    clock.advance(timedelta(minutes=10))
    mark = fake.mark()
    assert bot.bot.dojo.run_due()["daily"] == 0
    clock.advance(timedelta(days=1))
    bot.bot.dojo.run_due()
    sends = [s for s in fake.since(mark, "POST", path) if not s.path.endswith("/threads")]
    assert len(sends) == 1, "never retried"
    with bank_db.unit_of_work() as session:
        reason = session.scalars(select(Channel.paused_reason)).one()
    assert reason is not None and "Missing Permissions" in reason
    shown = answer(fake, fake.slash_command("mlsd", "daily", {}, user=fake.bob))
    assert "PAUSED" in text_of(shown) and "Send Messages" in text_of(shown)


@pytest.mark.parametrize("kind", ["drop", "hold"])
def test_a_dropped_answer_is_re_sent_with_its_nonce_and_posted_once(
    fake: FakeDiscord, running: tuple[Running, ManualClock], kind: str
) -> None:
    bot, clock = running
    _schedule(fake)
    path = f"/channels/{fake.channel_id}/messages"
    if kind == "drop":
        fake.plan.drop_after("POST", path)
    else:
        fake.plan.hold_after("POST", path)
    clock.advance(timedelta(minutes=10))
    mark = fake.mark()
    assert bot.bot.dojo.run_due()["daily"] == 1
    sends = [s for s in fake.since(mark, "POST", path) if not s.path.endswith("/threads")]
    assert len(sends) == 2 and sends[0].body["nonce"] == sends[1].body["nonce"]
    assert all(s.body.get("enforce_nonce") for s in sends)
    assert len(_daily_roots(fake)) == 1, "the second send returned the first message"
    assert len(fake.since(mark, "POST", "/threads")) == 1


def test_closed_dms_fall_back_to_a_pointer_in_the_thread(
    fake: FakeDiscord, running: tuple[Running, ManualClock]
) -> None:
    dm = fake.dm_channel(fake.bob)
    fake.plan.discord_error(
        "POST",
        f"/channels/{dm}/messages",
        403,
        50007,
        "Cannot send messages to this user",
        times=2,
    )
    started = answer(
        fake,
        fake.slash_command(
            "mlsd", "mock", {"topic": "recsys", "interviewer": fake.bob["id"]}, user=fake.alice
        ),
    )
    text = text_of(started)
    assert "Mock #1 started" in text and "went wrong" not in text
    assert "I could not send the interviewer kit privately to" in text
    pointers = [
        m
        for channel in list(fake.channels)
        for m in fake.messages_in(channel)
        if "I could not send you the interviewer kit privately" in text_of(m)
    ]
    assert len(pointers) == 1 and "/mlsd bank show" in text_of(pointers[0])


def test_a_thread_reply_with_an_attachment_counts_as_an_answer(
    fake: FakeDiscord, running: tuple[Running, ManualClock], bank_db: Database
) -> None:
    shown = answer(fake, fake.slash_command("mlsd", "daily", {"now": True}, user=fake.alice))
    assert "Posted" in text_of(shown)
    thread_id = fake.wait_call("POST", "/threads").path.split("/")[-2]
    carol = fake.add_user("carol")
    fake.dispatch(
        "MESSAGE_CREATE",
        fake.message_create(thread_id, carol, "", attachments=[("design.png", b"\x89PNG")]),
    )

    def answers() -> int:
        with bank_db.unit_of_work() as session:
            return session.scalar(select(func.count()).select_from(DailyAnswer)) or 0

    fake.wait_for(lambda: answers() == 1)
