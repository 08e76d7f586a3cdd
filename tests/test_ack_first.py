"""Acknowledge first (issue 18), shown by order of events rather than by timings: the ack comes
while the work is provably not done yet, a full queue answers "busy" through the platform's own
channel for it, and the 09:00 fan-out leaves room for commands."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from bank.db import Database
from bot.adapters.discord import ANSWER_WITHIN
from bot.clock import ManualClock
from bot.port import Actor, Command, Place
from bot.ratelimit import Pacer
from bot.workqueue import BUSY, WorkQueue
from tests.fake_discord import DEFERRED_CHANNEL_MESSAGE, EPHEMERAL, MODAL, FakeDiscord
from tests.slack_wire import TEAM
from tests.test_discord import START, Running, answer, followups, text_of
from tests.test_discord import fake as fake  # the fixture, re-exported
from tests.test_slack import Slack, all_text, running_slack

HOLD = 10.0  # seconds a held worker waits at most (a failing test must not hang)


@contextmanager
def held_workers(loop: asyncio.AbstractEventLoop, work: WorkQueue) -> Iterator[None]:
    """Every worker thread of `work` busy until the block ends: no core work can run."""
    gate = threading.Event()
    held = [
        asyncio.run_coroutine_threadsafe(work.run_sync(gate.wait, HOLD), loop)
        for _ in range(work.workers)
    ]
    try:
        yield
    finally:
        gate.set()
        for future in held:
            assert future.result(HOLD)


@contextmanager
def full_queue(loop: asyncio.AbstractEventLoop, work: WorkQueue) -> Iterator[None]:
    """`work` admits nothing until the block ends (its `limit` jobs are held)."""
    gate = threading.Event()

    async def hold() -> None:
        await work.run_sync(gate.wait, HOLD)

    async def occupy() -> None:
        while work.in_flight:  # an earlier step's job may still be finishing its answer
            await asyncio.sleep(0.01)
        for _ in range(work.limit):
            assert work.admit()
            work.spawn(hold(), "held job")

    asyncio.run_coroutine_threadsafe(occupy(), loop).result(HOLD)
    try:
        yield
    finally:
        gate.set()


def _ephemerals(slack: Slack, mark: int) -> list[dict[str, Any]]:
    return [c.params for c in slack.fake.since(mark, "chat.postEphemeral")]


# -- Slack ---------------------------------------------------------------------------------------


def test_slack_ack_comes_before_any_web_api_or_database_work(bank_db: Database) -> None:
    work = WorkQueue(workers=1, limit=50)
    with running_slack(bank_db, work) as slack:
        acked = threading.Event()
        original = slack.fake._answer

        def answer_after_ack(method: str, params: dict[str, Any]) -> dict[str, Any]:
            if method == "users.info":  # the handler's first Web API call waits for the ack
                assert acked.wait(HOLD), "users.info was needed before the ack"
            return original(method, params)

        slack.fake._answer = answer_after_ack  # type: ignore[method-assign]
        mark = slack.fake.mark()
        with held_workers(slack.server.loop, work):  # and no database work can run either
            response = slack.client.command("UALICE", "help")
            acked.set()
            assert response.status == 200 and BUSY not in response.body
            assert _ephemerals(slack, mark) == []
        slack.fake.wait_for(lambda: bool(_ephemerals(slack, mark)))
        assert "/mlsd" in all_text(_ephemerals(slack, mark)[0])


def test_slack_full_queue_answers_busy_everywhere_and_recovers(bank_db: Database) -> None:
    work = WorkQueue(workers=1, limit=1)
    with running_slack(bank_db, work) as slack:
        slack.client.response_url = slack.fake.response_url
        daily = _daily_with_button(slack)
        form = _vote_form(slack)
        with full_queue(slack.server.loop, work):
            mark = slack.fake.mark()
            # a slash command: the ack itself carries the answer, shown only to the user
            command = slack.client.command("UALICE", "help")
            assert command.status == 200
            body = json.loads(command.body)
            assert body["text"] == BUSY and body["response_type"] == "ephemeral"
            # a button: its ack cannot carry text, so the answer goes to response_url
            button, ts, thread = daily
            assert slack.client.press("UBOB", button, ts, thread).status == 200
            slack.fake.wait_for(lambda: bool(slack.fake.since(mark, "response_url")))
            assert slack.fake.since(mark, "response_url")[0].params["text"] == BUSY
            # a form: stays open with what was typed, the reason under its first input
            scores = {b["block_id"]: "3" for b in form["blocks"]}
            submitted = slack.client.submit("UBOB", form, scores)
            errors = json.loads(submitted.body)
            assert errors["response_action"] == "errors"
            assert list(errors["errors"].values()) == [BUSY]
            # an event: 503, so Slack delivers it again later instead of it being lost
            event = slack.client.thread_message("UCAROL", ts, "an answer", event_id="EvBusy")
            assert event.status == 503
            assert work.stats.refused == 3 and work.in_flight == 1
            assert _ephemerals(slack, mark) == []  # nothing was half-done
        slack.fake.wait_for(lambda: work.in_flight == 0)
        mark = slack.fake.mark()
        assert slack.client.command("UALICE", "help").body == ""  # a plain ack again
        slack.fake.wait_for(lambda: bool(_ephemerals(slack, mark)))


def _daily_with_button(slack: Slack) -> tuple[dict[str, Any], str, str | None]:
    mark = slack.fake.mark()
    slack.client.command("UADMIN", "daily now")
    slack.fake.wait_for(lambda: bool(_ephemerals(slack, mark)))
    return slack.last_button("Reveal the guide")


def _command_answered(slack: Slack, user: str, text: str) -> None:
    mark = slack.fake.mark()
    slack.client.command(user, text)
    slack.fake.wait_for(lambda: bool(_ephemerals(slack, mark)))


def _vote_form(slack: Slack) -> dict[str, Any]:
    for user, text in (("UALICE", "mock recsys"), ("UALICE", "end #1")):
        _command_answered(slack, user, text)  # one job at a time: the queue holds one
    mark = slack.fake.mark()
    slack.client.command("UBOB", "vote #1")
    slack.fake.wait_for(lambda: bool(slack.fake.since(mark, "views.open")))
    opened = slack.fake.since(mark, "views.open")[0]
    view: dict[str, Any] = opened.params["view"]
    return view


def test_slack_daily_fanout_interleaves_with_commands(bank_db: Database) -> None:
    with running_slack(bank_db) as slack:
        dojo = slack.dojo
        admin = Actor(TEAM, "UADMIN", "Lead", True)
        channels = [f"CFAN{i:02d}" for i in range(30)]
        for channel in channels:
            dojo.handle_command(Command.from_text("schedule 09:00 UTC", admin, Place(channel)))
        slack.clock.advance(timedelta(minutes=10))
        dojo.ctx.fanout = Pacer("5/second")  # slow enough to command in the middle of it
        fanout = threading.Thread(target=dojo.run_due)
        fanout.start()
        try:
            slack.fake.wait_for(lambda: len(slack.fake.of("chat.postMessage")) >= 6)
            mark = slack.fake.mark()
            slack.client.command("UALICE", "help")
            slack.fake.wait_for(lambda: bool(_ephemerals(slack, mark)))
            answered_after = len(slack.fake.of("chat.postMessage"))
            assert answered_after < len(channels), "the command waited for the whole fan-out"
        finally:
            fanout.join(30)
        posted = [params["channel"] for params in slack.fake.of("chat.postMessage")]
        assert sorted(posted) == channels  # every channel once, none twice


# -- Discord -------------------------------------------------------------------------------------


def test_discord_interaction_is_deferred_while_the_core_is_busy(
    fake: FakeDiscord, bank_db: Database
) -> None:
    work = WorkQueue(workers=1, limit=50)
    running = Running(bank_db, ManualClock(start=START), work, answer_within=ANSWER_WITHIN)
    try:
        ix = fake.slash_command("mlsd", "help", user=fake.alice)
        mark = fake.mark()
        with held_workers(running.loop, work):
            first = answer(fake, ix)  # within 3 s although no worker is free
            assert first["type"] == DEFERRED_CHANNEL_MESSAGE
        fake.wait_for(lambda: bool(followups(fake, ix, mark)))
        assert "/mlsd" in text_of(followups(fake, ix, mark)[0])
    finally:
        running.close()


def test_discord_full_queue_answers_busy(fake: FakeDiscord, bank_db: Database) -> None:
    work = WorkQueue(workers=1, limit=1)
    running = Running(bank_db, ManualClock(start=START), work)
    try:
        with full_queue(running.loop, work):
            reply = answer(fake, fake.slash_command("mlsd", "help", user=fake.alice))
            assert reply["data"]["flags"] & EPHEMERAL and text_of(reply) == BUSY
            assert work.stats.refused == 1
        fake.wait_for(lambda: work.in_flight == 0)
        reply = answer(fake, fake.slash_command("mlsd", "help", user=fake.alice))
        assert BUSY not in str(reply)
    finally:
        running.close()


def test_discord_a_form_still_opens_when_the_core_is_a_moment_late(
    fake: FakeDiscord, bank_db: Database
) -> None:
    """A form must be an interaction's first answer: a command that may answer with one is not
    deferred after the short wait the others get."""
    work = WorkQueue(workers=1, limit=50)
    running = Running(bank_db, ManualClock(start=START), work, answer_within=ANSWER_WITHIN)
    try:
        answer(fake, fake.slash_command("mlsd", "mock", {"topic": "fraud"}, user=fake.alice))
        answer(fake, fake.slash_command("mlsd", "end", {"mock": 1}, user=fake.alice))
        vote = fake.slash_command("mlsd", "vote", {"mock": 1}, user=fake.bob)
        with held_workers(running.loop, work):
            fake.dispatch("INTERACTION_CREATE", vote)
            time.sleep(0.5)  # the core stays busy longer than a plain answer waits
        assert fake.callback(vote, timeout=10).body["type"] == MODAL
    finally:
        running.close()
