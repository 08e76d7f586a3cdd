"""Attacks on "acknowledge first" (issue 18) through the real interfaces, written by an adversary
review. Each test states the promise it attacks; eleven of them broke it at first (events
dropped after their ack, SIGTERM cutting work off, replies lost without a word, Bolt's auth.test
before the first ack, a form's trigger expiring in the queue) and now hold."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bank.db import Database
from bot.workqueue import WorkQueue
from tests.fake_discord import DEFERRED_CHANNEL_MESSAGE
from tests.slack_wire import SlackClient
from tests.test_ack_first import _daily_with_button, _ephemerals, _vote_form, full_queue
from tests.test_discord import fake as fake  # the fixture, re-exported
from tests.test_slack import all_text, running_slack


def _thread_events(client: SlackClient, ts: str, count: int, prefix: str) -> list[int]:
    """`count` thread-reply events sent at the same moment; their HTTP statuses."""
    barrier = threading.Barrier(count)

    def send(i: int) -> int:
        barrier.wait()
        return client.thread_message(f"UU{i:03d}", ts, "an answer", event_id=f"{prefix}{i}").status

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, range(count)))


def test_http_event_is_queued_or_refused_never_dropped(bank_db: Database) -> None:
    """Promise: an event that cannot be queued gets 503 so Slack retries it; nothing is lost.
    Attack: a burst of thread-reply events at once against a small queue: events that slip
    past the 503 gate before the queue fills were acknowledged with 200 and must be queued."""
    work = WorkQueue(workers=1, limit=2)
    with running_slack(bank_db, work) as slack:
        _, ts, _ = _daily_with_button(slack)
        slack.fake.wait_for(lambda: work.in_flight == 0)
        refused_before = work.stats.refused
        statuses = _thread_events(slack.client, ts, 12, "EvBurst")
        slack.fake.wait_for(lambda: work.in_flight == 0)
        accepted = statuses.count(200)
        dropped_after_200 = work.stats.refused - refused_before
        # every event Slack was told "200" for must have been queued
        assert dropped_after_200 == 0, (
            f"{accepted} events got 200 but {dropped_after_200} of them were dropped "
            f"(statuses {statuses})"
        )


def test_socket_mode_event_is_queued_on_a_full_queue(bank_db: Database) -> None:
    """Promise: a Slack event on a full queue is not lost. In Socket Mode there is no HTTP 503
    gate (Bolt acknowledges the envelope itself), so the listener Bolt calls must queue it even
    when the queue is full."""
    work = WorkQueue(workers=1, limit=1)
    with running_slack(bank_db, work) as slack:
        listener = slack.bot._on_event(slack.bot._message, "message event")
        body = {"team_id": "T1", "event_id": "EvSocket", "type": "event_callback"}
        event = {
            "type": "message",
            "channel": "C1",
            "user": "UBOB",
            "ts": "2.0",
            "thread_ts": "1.0",
            "text": "x",
        }
        with full_queue(slack.server.loop, work):
            asyncio.run_coroutine_threadsafe(listener(body, event), slack.server.loop).result(5)
            # the envelope would already be acked; the only outcome allowed is "queued"
            assert work.stats.refused == 0, "a Socket Mode event was acknowledged and dropped"


def test_form_submission_into_unpostable_channel_tells_the_user(bank_db: Database) -> None:
    """Promise: on a platform refusal the user still gets a specific message and a fix.
    Attack: submit a vote form whose answer is refused (`not_in_channel`). A form has no
    response_url, so the answer, with the reason, must reach the voter by direct message."""
    work = WorkQueue(workers=2, limit=50)
    with running_slack(bank_db, work) as slack:
        slack.client.response_url = slack.fake.response_url
        form = _vote_form(slack)
        slack.fake.plan.slack_error("chat.postMessage", "not_in_channel", times=5)
        slack.fake.plan.slack_error("chat.postEphemeral", "not_in_channel", times=5)
        mark = slack.fake.mark()
        scores = {b["block_id"]: "3" for b in form["blocks"]}
        assert slack.client.submit("UBOB", form, scores).status == 200
        slack.fake.wait_for(lambda: work.in_flight == 0)
        time.sleep(0.5)
        calls = slack.fake.since(mark)
        told: list[Any] = [
            c
            for c in calls
            if c.method in ("conversations.open", "response_url")
            or (c.method == "chat.postMessage" and str(c.params.get("channel", "")).startswith("D"))
        ]
        assert told, f"the voter was told nothing; calls: {[c.method for c in calls]}"


def test_command_into_unpostable_channel_gets_reason_via_response_url(bank_db: Database) -> None:
    """Probe (held): a slash command whose ephemeral answer is refused with `channel_not_found`
    answers through response_url with the reason."""
    work = WorkQueue(workers=2, limit=50)
    with running_slack(bank_db, work) as slack:
        slack.client.response_url = slack.fake.response_url
        slack.fake.plan.slack_error("chat.postEphemeral", "channel_not_found", times=1)
        mark = slack.fake.mark()
        assert slack.client.command("UALICE", "help").status == 200
        slack.fake.wait_for(lambda: bool(slack.fake.since(mark, "response_url")))
        text = all_text(slack.fake.since(mark, "response_url")[0].params)
        assert "cannot post" in text


def test_ratelimited_reply_is_retried_once_not_doubled(bank_db: Database) -> None:
    """Probe: a 429 with Retry-After on the async reply path is waited out and sent once."""
    work = WorkQueue(workers=2, limit=50)
    with running_slack(bank_db, work) as slack:
        slack.fake.plan.slack_error("chat.postEphemeral", "ratelimited", retry_after=1)
        mark = slack.fake.mark()
        slack.client.command("UALICE", "help")
        slack.fake.wait_for(lambda: len(_ephemerals(slack, mark)) >= 2)
        time.sleep(1.0)
        calls = slack.fake.since(mark, "chat.postEphemeral")
        assert len(calls) == 2  # one refused, one delivered


@pytest.mark.parametrize("kind", ["drop"])
def test_dropped_public_reply_is_not_posted_twice(bank_db: Database, kind: str) -> None:
    """Probe: a public reply whose answer is dropped after Slack carried it out is not
    repeated (Ambiguous is not retried), so nothing appears twice."""
    from tests.fault_plan import Fault

    work = WorkQueue(workers=2, limit=50)
    with running_slack(bank_db, work) as slack:
        slack.client.response_url = slack.fake.response_url
        slack.fake.plan.add(Fault("chat.postMessage", kind=kind))  # type: ignore[arg-type]
        mark = slack.fake.mark()
        slack.client.command("UALICE", "mock recsys")
        slack.fake.wait_for(lambda: work.in_flight == 0, timeout=30)
        time.sleep(0.5)
        posts = [c.params.get("text") for c in slack.fake.since(mark, "chat.postMessage")]
        assert len(posts) == len(set(posts)), f"posted twice: {posts}"


# -- shutdown (SIGTERM) while a request is in flight, through `dojo run` --------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dojo_env(bank_db: Database, api_url: str, **extra: str) -> dict[str, str]:
    import os

    env = {
        **os.environ,
        "DATABASE_URL": bank_db.url,
        "SLACK_BOT_TOKEN": "xoxb-sigterm",
        "SLACK_API_URL": api_url,
        "DOJO_LOG_LEVEL": "INFO",
        **extra,
    }
    for name in ("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        if name not in extra:
            env.pop(name, None)
    return env


def test_socket_mode_sigterm_lets_the_request_in_flight_finish(
    tmp_path: Any, bank_db: Database
) -> None:
    """Promise: on SIGTERM the requests in flight finish before the process exits. Attack:
    `dojo run` in Socket Mode, a slow Web API (1.5 s a call), SIGTERM right after the command's
    envelope is acknowledged: the user's answer must still be posted before the exit."""
    import signal

    from tests.test_slack_socket_mode import _slash_command, acked, socket_mode_bot

    with socket_mode_bot(bank_db, tmp_path) as run:
        run.fake.latency = 1.5
        run.fake.send(_slash_command("env-t", "help"))
        run.fake.wait_for(lambda: acked(run.fake, "env-t"))
        run.process.send_signal(signal.SIGTERM)
        code = run.process.wait(30)
        answered = bool(run.fake.of("chat.postEphemeral"))  # the process has gone: all is in
        assert answered, f"exit code {code}: the acknowledged command was never answered"


def test_http_mode_sigterm_lets_the_request_in_flight_finish(
    tmp_path: Any, bank_db: Database
) -> None:
    """Probe: the same in HTTP mode (aiohttp's run_app turns SIGTERM into a graceful exit)."""
    import signal
    import subprocess

    from tests.fake_slack import FakeSlack
    from tests.slack_wire import SECRET
    from tests.support import DOJO_COMMAND
    from tests.test_slack import USERS

    fake = FakeSlack(users=dict(USERS))
    api_url = fake.start()
    port = _free_port()
    env = _dojo_env(bank_db, api_url, SLACK_SIGNING_SECRET=SECRET)
    process = subprocess.Popen(
        [*DOJO_COMMAND, "run", "--platform", "slack", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = SlackClient(f"http://127.0.0.1:{port}", team="T1")
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline
            try:
                import urllib.request

                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        fake.latency = 1.5
        assert client.command("UALICE", "help").status == 200
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        assert fake.of("chat.postEphemeral"), f"exit {code}: the command was never answered"
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
        fake.stop()


def test_discord_sigterm_lets_the_interaction_in_flight_finish(
    fake: Any, bank_db: Database, tmp_path: Any
) -> None:
    """Promise: on SIGTERM the requests in flight finish. Attack: `dojo run --platform
    discord`, a slow REST API (1 s a call), `/mlsd mock` (several posts), SIGTERM once the
    interaction is deferred: the follow-up must still arrive (discord.py's `Client.run` handles
    only Ctrl-C, so the bot handles SIGTERM itself)."""
    import os
    import signal
    import subprocess

    from tests.support import DOJO_COMMAND
    from tests.test_discord import TOKEN, followups

    env = {
        **os.environ,
        "DATABASE_URL": bank_db.url,
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_URL": f"{fake.base_url}/api/v10",
        "DOJO_LOG_LEVEL": "INFO",
    }
    for name in ("SLACK_BOT_TOKEN", "DISCORD_GATEWAY_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        [*DOJO_COMMAND, "run", "--platform", "discord"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        fake.wait_connected(timeout=60)
        fake.wait_call("PUT", f"/guilds/{fake.guild_id}/commands", timeout=60)
        fake.latency = 1.0
        ix = fake.slash_command("mlsd", "mock", {"topic": "fraud"}, user=fake.alice)
        mark = fake.mark()
        fake.dispatch("INTERACTION_CREATE", ix)
        first = fake.callback(ix, timeout=10).body
        assert first["type"] == DEFERRED_CHANNEL_MESSAGE  # "thinking…": the answer follows
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        time.sleep(1.0)
        assert followups(fake, ix, mark), f"exit {code}: the deferred interaction got no answer"
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_refused_buttons_do_not_grow_tasks_past_the_queue_limit(bank_db: Database) -> None:
    """Promise: "memory stays bounded by the limit". Attack: queue full (limit 1), a slow
    response_url (2 s), 60 button presses at once. The "busy" notices are tasks too: they
    must be bounded by DOJO_QUEUE_LIMIT, not grow with the burst."""
    work = WorkQueue(workers=1, limit=1)
    with running_slack(bank_db, work) as slack:
        slack.client.response_url = slack.fake.response_url
        button, ts, thread = _daily_with_button(slack)
        slack.fake.wait_for(lambda: work.in_flight == 0)
        loop = slack.server.loop

        async def tasks() -> int:
            return len(asyncio.all_tasks())

        idle = asyncio.run_coroutine_threadsafe(tasks(), loop).result(5)
        with full_queue(loop, work):
            slack.fake.latency = 2.0
            with ThreadPoolExecutor(20) as pool:
                statuses = list(
                    pool.map(
                        lambda i: slack.client.press(f"UP{i}", button, ts, thread).status, range(60)
                    )
                )
            assert statuses == [200] * 60
            peak = asyncio.run_coroutine_threadsafe(tasks(), loop).result(5)
            slack.fake.latency = 0.0
        # busy notices are bounded like the queue: at most `limit` at a time, the rest of the
        # presses are acknowledged (the button stops spinning) without one
        slack.fake.wait_for(lambda: len(slack.fake.of("response_url")) >= 1)
        assert len(slack.fake.of("response_url")) <= 60
        assert peak - idle <= work.limit + 5, (
            f"{peak - idle} tasks alive for a queue limit of {work.limit}"
        )


def test_reply_lost_to_5xx_reaches_the_user_another_way(bank_db: Database) -> None:
    """Promise: on a platform refusal the user still gets a specific message. Attack: Slack's
    edge answers 503 to every `chat.postEphemeral` for the reply to `/mlsd help` (4 attempts,
    ~3.5 s): once the retries are spent, the reply must come through response_url."""
    work = WorkQueue(workers=2, limit=50)
    with running_slack(bank_db, work) as slack:
        slack.client.response_url = slack.fake.response_url
        slack.fake.plan.slack_status("chat.postEphemeral", 503, times=4)
        mark = slack.fake.mark()
        assert slack.client.command("UALICE", "help").status == 200
        slack.fake.wait_for(lambda: len(_ephemerals(slack, mark)) >= 4)
        slack.fake.wait_for(lambda: work.in_flight == 0)
        time.sleep(0.5)
        told = slack.fake.since(mark, "response_url")
        assert told, "four 503s and the user was told nothing (no response_url fallback)"


def test_dropped_ephemeral_reply_is_not_repeated(bank_db: Database) -> None:
    """Probe: a private reply whose connection drops after Slack carried it out is not sent
    again (it may already be there)."""
    work = WorkQueue(workers=2, limit=50)
    with running_slack(bank_db, work) as slack:
        slack.fake.plan.drop_after("chat.postEphemeral")
        mark = slack.fake.mark()
        slack.client.command("UALICE", "help")
        slack.fake.wait_for(lambda: bool(_ephemerals(slack, mark)))
        slack.fake.wait_for(lambda: work.in_flight == 0)
        time.sleep(0.5)
        assert len(_ephemerals(slack, mark)) == 1


def test_slack_vote_form_opens_before_its_trigger_expires(bank_db: Database) -> None:
    """Promise: forms still open when they should. A Slack trigger_id lives 3 s and
    `views.open` needs the core's answer first. Attack: every core worker held (other users'
    requests), then `/mlsd vote #1`: the form must open while they are still held (the form
    lane), not after them."""
    from tests.test_ack_first import _command_answered, held_workers

    work = WorkQueue(workers=1, limit=50)
    with running_slack(bank_db, work) as slack:
        for user, text in (("UALICE", "mock recsys"), ("UALICE", "end #1")):
            _command_answered(slack, user, text)
        mark = slack.fake.mark()
        with held_workers(slack.server.loop, work):
            assert slack.client.command("UBOB", "vote #1").status == 200
            slack.fake.wait_for(lambda: bool(slack.fake.since(mark, "views.open")), timeout=8)


def test_slack_burst_is_acknowledged_and_answered_once(bank_db: Database) -> None:
    """Probe: 200 slash commands from 20 clients at once, the Web API slow (0.5 s a call):
    every one acknowledged and answered exactly once (the latencies are bench/load.py's)."""
    work = WorkQueue(workers=2, limit=1000)
    with running_slack(bank_db, work) as slack:
        slack.fake.latency = 0.5
        mark = slack.fake.mark()
        with ThreadPoolExecutor(20) as pool:
            statuses = list(
                pool.map(lambda i: slack.client.command(f"UB{i:03d}", "help").status, range(200))
            )
        assert statuses == [200] * 200
        slack.fake.latency = 0.0
        slack.fake.wait_for(lambda: work.in_flight == 0, timeout=60)
        answered = [c.params["user"] for c in slack.fake.since(mark, "chat.postEphemeral")]
        assert sorted(answered) == sorted(f"UB{i:03d}" for i in range(200))


def test_first_request_does_not_wait_for_auth_test(bank_db: Database) -> None:
    """Promise: every Slack request is acknowledged before any Web API call. Attack: a fresh
    app and a slow Web API (3.5 s a call): Bolt's single-team authorization would call
    `auth.test` before the first listener; the first ack must not wait for it."""
    work = WorkQueue(workers=2, limit=50)
    with running_slack(bank_db, work) as slack:
        slack.fake.latency = 3.5
        mark = slack.fake.mark()
        start = time.monotonic()
        response = slack.client.command("UALICE", "help")
        took = time.monotonic() - start
        before_ack = [c.method for c in slack.fake.since(mark) if c.at < start + took]
        slack.fake.latency = 0.0
        assert response.status == 200
        assert took < 3.0, f"ack after {took:.1f} s; Web API calls before it: {before_ack}"


def test_auth_test_5xx_after_start_does_not_touch_requests(bank_db: Database) -> None:
    """Promise: a platform hiccup never costs the user their request. Attack: Slack's edge
    answers 503 to `auth.test` after start-up: requests must not depend on it (Bolt would
    answer the first one with "reinstall the app" and lose the command)."""
    work = WorkQueue(workers=2, limit=50)
    with running_slack(bank_db, work) as slack:
        slack.fake.plan.slack_status("auth.test", 503)
        mark = slack.fake.mark()
        response = slack.client.command("UALICE", "help")
        time.sleep(1.0)
        answered = bool(_ephemerals(slack, mark))
        assert response.status == 200 and answered, (
            f"status {response.status} body {response.body[:120]!r}, answered: {answered}"
        )


def test_event_refused_with_503_counts_once_when_slack_retries(bank_db: Database) -> None:
    """Probe: an answer event refused with 503 on a full queue, then delivered again by Slack
    (X-Slack-Retry-Num 1) and again (2), is counted exactly once."""
    from sqlalchemy import func, select

    from bank.models import DailyAnswer

    work = WorkQueue(workers=1, limit=1)
    with running_slack(bank_db, work) as slack:
        _, ts, _ = _daily_with_button(slack)
        slack.fake.wait_for(lambda: work.in_flight == 0)
        with full_queue(slack.server.loop, work):
            first = slack.client.thread_message("UCAROL", ts, "answer", event_id="EvRetry")
            assert first.status == 503
        slack.fake.wait_for(lambda: work.in_flight == 0)

        def finished(admitted: int) -> Callable[[], bool]:
            return lambda: work.stats.admitted > admitted and work.in_flight == 0

        for retry in (1, 2):
            admitted = work.stats.admitted
            again = slack.client.thread_message(
                "UCAROL", ts, "answer", event_id="EvRetry", retry=retry
            )
            assert again.status == 200
            slack.fake.wait_for(finished(admitted))  # Slack retries minutes apart
        slack.fake.wait_for(lambda: work.in_flight == 0)
        time.sleep(0.3)
        with bank_db.unit_of_work() as session:
            count = session.scalar(select(func.count()).select_from(DailyAnswer))
        assert count == 1


def test_socket_mode_event_is_not_dropped_through_dojo_run(
    tmp_path: Any, bank_db: Database
) -> None:
    """Socket Mode through the real interface: `dojo run` with DOJO_QUEUE_LIMIT=1, a slow Web
    API (3 s a call) so one command fills the queue, then a thread-reply event envelope. The
    envelope is acknowledged (Slack will never send it again), so the event must be kept."""
    from sqlalchemy import select

    from bank.models import ProcessedEvent
    from tests.test_slack_socket_mode import _slash_command, acked, socket_mode_bot

    with socket_mode_bot(bank_db, tmp_path, DOJO_QUEUE_LIMIT="1", DOJO_WORKERS="1") as run:
        fake = run.fake
        fake.latency = 3.0
        fake.send(_slash_command("env-cmd", "help"))  # holds the only place for ~6 s
        fake.wait_for(lambda: acked(fake, "env-cmd"))
        fake.send(
            {
                "envelope_id": "env-event",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "payload": {
                    "token": "legacy",
                    "team_id": "T1",
                    "api_app_id": "A1",
                    "type": "event_callback",
                    "event_id": "EvSocketBusy",
                    "event_time": int(time.time()),
                    "event": {
                        "type": "message",
                        "channel": "C1",
                        "user": "UBOB",
                        "text": "my answer",
                        "ts": "1700000002.000100",
                        "thread_ts": "1700000001.000100",
                        "channel_type": "channel",
                    },
                },
            }
        )
        fake.wait_for(lambda: acked(fake, "env-event"))

        def handled() -> bool:  # the core saw the event (its duplicate check recorded it)
            with bank_db.unit_of_work() as session:
                ids = session.scalars(select(ProcessedEvent.event_id)).all()
            return any(i.endswith("EvSocketBusy") for i in ids)

        fake.wait_for(handled, timeout=30)
