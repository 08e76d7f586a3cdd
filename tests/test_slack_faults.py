"""Slack's refusals over the wire (issue 12): the real slack_sdk client and Bolt app against the
fake Web API answering with Slack's documented errors, rate limits and dropped connections."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bank.db import Database
from bank.models import Channel, DailyAnswer
from bot.adapters.slack import SlackPort, web_client
from bot.port import Ambiguous, Delivered, Message, Permanent, Place, Transient
from tests.fake_slack import FakeSlack
from tests.slack_wire import CHANNEL
from tests.test_slack import Slack, all_text, ok, running_slack

PERMANENT = [
    "is_archived",
    "not_in_channel",
    "channel_not_found",
    "msg_too_long",
    "restricted_action",
]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack()
    server.start()
    server.plan.hold_seconds = 0.2
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def slack(bank_db: Database) -> Iterator[Slack]:
    with running_slack(bank_db) as app:
        yield app


def port_for(fake: FakeSlack) -> SlackPort:
    return SlackPort(web_client("xoxb-test", fake.base_url))


@pytest.mark.parametrize("error", PERMANENT)
def test_documented_refusals_are_permanent_with_a_fix(fake: FakeSlack, error: str) -> None:
    fake.plan.slack_error("chat.postMessage", error)
    outcome = port_for(fake).post(Place(CHANNEL), Message("hello"))
    assert isinstance(outcome, Permanent) and outcome.code == error
    assert outcome.reason and outcome.fix


def test_closed_dms_are_permanent_for_that_user(fake: FakeSlack) -> None:
    fake.plan.slack_error("conversations.open", "cannot_dm_bot")
    outcome = port_for(fake).send_direct("UBOT2", Message("your result"))
    assert isinstance(outcome, Permanent) and outcome.code == "cannot_dm_bot"
    assert not fake.of("chat.postMessage")


def test_rate_limits_and_outages_are_transient(fake: FakeSlack) -> None:
    fake.plan.slack_error("chat.postMessage", "ratelimited", retry_after=7)
    fake.plan.slack_status("chat.postMessage", 503)
    port = port_for(fake)
    assert port.post(Place(CHANNEL), Message("a")) == Transient(7.0, "ratelimited")
    outcome = port.post(Place(CHANNEL), Message("b"))
    assert isinstance(outcome, Transient) and outcome.retry_after is None
    assert len(fake.of("chat.postMessage")) == 2, "the SDK itself retried nothing"


@pytest.mark.parametrize("kind", ["drop", "hold"])
def test_an_unanswered_post_is_ambiguous_and_found_by_its_metadata(
    fake: FakeSlack, kind: str
) -> None:
    if kind == "drop":
        fake.plan.drop_after("chat.postMessage")
    else:
        fake.plan.hold_after("chat.postMessage")
    port = port_for(fake)
    outcome = port.post(Place(CHANNEL), Message("daily"), key="daily:7")
    assert isinstance(outcome, Ambiguous)
    assert len(fake.messages) == 1, "Slack did accept it"
    found = port.find(Place(CHANNEL), "daily:7")
    assert found == fake.messages[0]["ts"]
    assert port.find(Place(CHANNEL), "daily:8") is None
    history = fake.of("conversations.history")
    assert history and all(str(h["include_all_metadata"]) in ("1", "true") for h in history)


def test_a_thread_reply_is_found_with_conversations_replies(fake: FakeSlack) -> None:
    port = port_for(fake)
    root = port.start_thread(CHANNEL, Message("root"), key="mock:1:thread")
    assert isinstance(root, Delivered)
    fake.plan.drop_after("chat.postMessage")
    place = Place(CHANNEL, root.message_id)
    assert isinstance(port.post(place, Message("one minute left"), key="r:1"), Ambiguous)
    assert port.find(place, "r:1") is not None
    assert fake.of("conversations.replies")


def _schedule(slack: Slack) -> None:
    mark = slack.fake.mark()
    ok(slack.client.command("UADMIN", "schedule 09:00 UTC daily"))
    slack.fake.wait_for(lambda: bool(slack.fake.since(mark, "chat.postMessage")))


def test_an_archived_channel_pauses_its_schedule_and_is_never_retried(
    slack: Slack, bank_db: Database
) -> None:
    _schedule(slack)
    slack.fake.plan.slack_error("chat.postMessage", "is_archived")
    slack.clock.advance(timedelta(minutes=10))
    mark = slack.fake.mark()
    assert slack.dojo.run_due()["daily"] == 0
    assert len(slack.fake.since(mark, "chat.postMessage")) == 1
    for _ in range(3):  # later ticks, later days: no attempt at all
        slack.clock.advance(timedelta(hours=8))
        slack.dojo.run_due()
    assert len(slack.fake.since(mark, "chat.postMessage")) == 1
    with bank_db.unit_of_work() as session:
        assert session.scalars(select(Channel.paused_reason)).one() == "the channel is archived"
    mark = slack.fake.mark()
    ok(slack.client.command("UCAROL", "schedule"))
    slack.fake.wait_for(lambda: bool(slack.fake.since(mark, "chat.postEphemeral")))
    shown = all_text(slack.fake.since(mark, "chat.postEphemeral")[0].params)
    assert "PAUSED: the channel is archived" in shown and "unarchive" in shown


def test_an_unanswered_daily_post_is_not_posted_twice(slack: Slack) -> None:
    _schedule(slack)
    slack.fake.plan.drop_after("chat.postMessage")
    slack.clock.advance(timedelta(minutes=10))
    slack.dojo.run_due()
    slack.clock.advance(timedelta(minutes=5))
    slack.dojo.run_due()
    dailies = [m for m in slack.fake.messages if (m["metadata"] or {}).get("event_type")]
    keys = [m["metadata"]["event_payload"]["key"] for m in dailies]
    assert len([k for k in keys if k.startswith("daily:")]) == 1


def test_a_command_where_the_bot_is_not_a_member_answers_through_response_url(
    slack: Slack,
) -> None:
    slack.client.response_url = slack.fake.response_url
    slack.fake.plan.slack_error("chat.postEphemeral", "not_in_channel")
    ok(slack.client.command("UALICE", "help"))
    slack.fake.wait_for(lambda: bool(slack.fake.of("response_url")))
    answer = slack.fake.of("response_url")[0]
    assert answer["response_type"] == "ephemeral"
    assert "mlsd-dojo commands" in answer["text"]
    assert "I cannot post in this channel myself: I am not a member" in answer["text"]
    assert "/invite" in answer["text"]


def test_the_vote_form_opens_before_any_other_call_and_falls_back_inline(
    slack: Slack, bank_db: Database, tmp_path: Path
) -> None:
    ok(slack.client.command("UALICE", "mock recsys <@UBOB|bob>"))
    _wait_for_note(slack, "Mock #1 started")
    ok(slack.client.command("UBOB", "end #1"))
    _wait_for_note(slack, "Mock #1 ended")
    mark = slack.fake.mark()
    ok(slack.client.command("UCAROL", "vote #1"))
    slack.fake.wait_for(lambda: bool(slack.fake.since(mark, "views.open")))
    assert slack.fake.since(mark)[0].method == "views.open", "no users.info before the form"
    # the trigger expired: the user gets the inline syntax instead
    slack.fake.plan.slack_error("views.open", "expired_trigger_id")
    mark = slack.fake.mark()
    ok(slack.client.command("UDAVE", "vote #1"))
    slack.fake.wait_for(lambda: bool(slack.fake.since(mark, "chat.postEphemeral")))
    text = all_text(slack.fake.since(mark, "chat.postEphemeral")[0].params)
    assert "The form could not open" in text and "/mlsd vote #1 S1..S6" in text


@pytest.mark.parametrize(
    ("extra", "counted"),
    [
        ({"subtype": "thread_broadcast"}, True),
        ({"subtype": "file_share", "files": [{"id": "F1"}]}, True),
        ({"subtype": "message_changed"}, False),
        ({"subtype": "message_deleted"}, False),
        ({"subtype": "bot_message", "bot_id": "B2"}, False),
    ],
)
def test_which_thread_replies_count_as_answers(
    slack: Slack, bank_db: Database, extra: dict[str, Any], counted: bool
) -> None:
    mark = slack.fake.mark()
    ok(slack.client.command("UADMIN", "daily now"))
    # the confirmation comes once the post is stored: only then can anyone reply to it
    slack.fake.wait_for(lambda: bool(slack.fake.since(mark, "chat.postEphemeral")))
    daily_ts = slack.fake.since(mark, "chat.postMessage")[0].params["_ts"]
    ok(slack.client.thread_message("UCAROL", daily_ts, "my answer", event_id="EvX", **extra))
    ok(slack.client.thread_message("UDAVE", daily_ts, "plain", event_id="EvY"))  # a sentinel
    slack.fake.wait_for(lambda: _answers(bank_db) >= 1)
    slack.fake.wait_for(lambda: _answers(bank_db) == (2 if counted else 1), timeout=5)
    assert _answers(bank_db) == (2 if counted else 1)


def _wait_for_note(slack: Slack, text: str) -> None:
    slack.fake.wait_for(
        lambda: any(text in all_text(c) for c in slack.fake.of("chat.postEphemeral"))
    )


def _answers(db: Database) -> int:
    with db.unit_of_work() as session:
        return len(session.scalars(select(DailyAnswer.id)).all())
