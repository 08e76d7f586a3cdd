"""The Slack adapter over the wire: signed requests to the real Bolt app, Web API to a fake."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from bank.catalog import bank_stats
from bank.db import Database
from bank.models import DailyAnswer, Member, Question
from bot.adapters import blockkit
from bot.adapters.slack import SlackBot, build, http_app
from bot.adapters.slack_manifest import METHOD_SCOPES, bot_scopes, manifest
from bot.clock import ManualClock
from bot.engine import Dojo
from bot.workqueue import WorkQueue
from scoring.models import PointsEntry, Vote
from scoring.rubric import DEFAULT_RUBRIC
from tests.fake_slack import FakeSlack
from tests.slack_wire import CHANNEL, Server, SlackClient
from tests.support import DOJO_COMMAND, core_forms, largest_core_messages

START = datetime(2026, 3, 2, 8, 55, tzinfo=UTC)
USERS: dict[str, dict[str, Any]] = {
    "UADMIN": {"name": "lead", "is_admin": True, "profile": {"display_name": "Lead"}},
    "UALICE": {"name": "alice", "profile": {"display_name": "alice"}},
    "UBOB": {"name": "bob", "profile": {"display_name": "bob"}},
    "UCAROL": {"name": "carol", "profile": {"display_name": "carol"}},
    "UDAVE": {"name": "dave", "profile": {"display_name": "dave"}},
}


@dataclass
class Slack:
    fake: FakeSlack
    client: SlackClient
    bot: SlackBot
    clock: ManualClock
    server: Server

    @property
    def dojo(self) -> Dojo:
        return self.bot.dojo

    def posts(self, since: int = 0) -> list[dict[str, Any]]:
        return [c.params for c in self.fake.since(since, "chat.postMessage")]

    def last_button(self, label: str) -> tuple[dict[str, Any], str, str | None]:
        """The newest posted or updated message with that button: (button, ts, thread_ts)."""
        messages: dict[str, dict[str, Any]] = {}
        for call in self.fake.calls:
            if call.method == "chat.postMessage":
                ts = call.params.get("_ts") or ""
                messages[ts] = call.params
            elif call.method == "chat.update":
                messages[call.params["ts"]] = {
                    **messages.get(call.params["ts"], {}),
                    "blocks": call.params["blocks"],
                }
        for ts, params in reversed(list(messages.items())):
            for block in params.get("blocks", []):
                for element in block.get("elements", []) if block["type"] == "actions" else []:
                    if element["text"]["text"] == label:
                        return element, ts, params.get("thread_ts")
        raise AssertionError(f"no live [{label}] button")


@pytest.fixture
def slack(bank_db: Database) -> Iterator[Slack]:
    with running_slack(bank_db) as app:
        yield app


@contextmanager
def running_slack(bank_db: Database, work: WorkQueue | None = None) -> Iterator[Slack]:
    """The real Bolt app on a local port, its Web API calls going to a fake Slack."""
    fake = FakeSlack(users=dict(USERS))
    api_url = fake.start()
    clock = ManualClock(start=START)
    bot = build(
        lambda port: Dojo(bank_db, port, clock, platform="slack", seed="t"),
        token="xoxb-test-token",
        signing_secret="test-signing-secret",
        api_url=api_url,
        work=work,
    )
    _record_timestamps(fake)
    server = Server(http_app(bot))
    url = server.start()
    try:
        yield Slack(fake, SlackClient(url), bot, clock, server)
    finally:
        server.stop()
        fake.stop()


def _record_timestamps(fake: FakeSlack) -> None:
    """Keep each postMessage's answered `ts` with its recorded call, for pressing buttons."""
    original = fake._answer

    def answer(method: str, params: dict[str, Any]) -> dict[str, Any]:
        result = original(method, params)
        if method == "chat.postMessage":
            params["_ts"] = result["ts"]
        return result

    fake._answer = answer  # type: ignore[method-assign]


def header(params: dict[str, Any]) -> str:
    blocks = params.get("blocks", [])
    return blocks[0]["text"]["text"] if blocks and blocks[0]["type"] == "header" else ""


def all_text(params: dict[str, Any]) -> str:
    parts = [params.get("text", "")]
    for block in params.get("blocks", []):
        if "text" in block:
            parts.append(block["text"]["text"])
    return "\n".join(parts)


def check_block_kit(params: dict[str, Any]) -> None:
    """Slack's published limits for a message's blocks."""
    blocks = params.get("blocks", [])
    assert 0 < len(blocks) <= 50
    assert len(params.get("text", "")) <= 40000
    ids = []
    for block in blocks:
        assert block["type"] in ("header", "section", "actions", "context")
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150 and block["text"]["type"] == "plain_text"
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        if block["type"] == "actions":
            assert 0 < len(block["elements"]) <= 25
            for button in block["elements"]:
                assert button["type"] == "button" and len(button["text"]["text"]) <= 75
                assert len(button["action_id"]) <= 255 and 0 < len(button["value"]) <= 2000
                ids.append(button["action_id"])
    assert len(ids) == len(set(ids)), "action ids must be unique within a message"


def check_modal(view: dict[str, Any]) -> None:
    assert view["type"] == "modal" and len(view["title"]["text"]) <= 24
    assert len(view["submit"]["text"]) <= 24 and len(view["blocks"]) <= 100
    assert len(view["private_metadata"]) <= 3000
    for block in view["blocks"]:
        assert block["type"] == "input" and len(block["label"]["text"]) <= 2000
        element = block["element"]
        assert len(block.get("hint", {}).get("text", "")) <= 2000
        if element["type"] in ("static_select", "multi_static_select"):
            assert 0 < len(element["options"]) <= 100
            assert all(len(o["text"]["text"]) <= 75 for o in element["options"])
            assert all(len(o["value"]) <= 150 for o in element["options"])
        else:
            assert element["type"] == "plain_text_input" and element["max_length"] <= 3000


def ok(response: Any) -> None:
    assert response.status == 200, response


def test_full_journey_over_the_wire(slack: Slack, bank_db: Database) -> None:
    fake, client = slack.fake, slack.client

    # 1. an admin schedules the channel; a non-admin may not
    mark = fake.mark()
    ok(client.command("UALICE", "schedule 09:00 UTC daily"))
    fake.wait_for(lambda: bool(fake.since(mark, "chat.postEphemeral")))
    refusal = fake.since(mark, "chat.postEphemeral")[0].params
    assert refusal["user"] == "UALICE" and "only workspace admins" in all_text(refusal)
    ok(client.command("UADMIN", "schedule 09:00 UTC daily"))
    fake.wait_for(lambda: any("Scheduled" in all_text(p) for p in slack.posts(mark)))

    # 2. the daily question goes out at 09:00 as a thread root
    slack.clock.advance(timedelta(minutes=5))
    mark = fake.mark()
    assert slack.dojo.run_due()["daily"] == 1
    daily = slack.posts(mark)[0]
    assert header(daily).startswith("Daily question:") and "thread_ts" not in daily
    daily_ts = daily["_ts"]

    # 3. replies in its thread count once, retries and bot messages not at all
    ok(client.thread_message("UCAROL", daily_ts, "clarify first", event_id="Ev1"))
    ok(client.thread_message("UCAROL", daily_ts, "clarify first", event_id="Ev1", retry=1))
    ok(client.thread_message("UCAROL", daily_ts, "and a second thought", event_id="Ev2"))
    ok(client.thread_message("UBOB", daily_ts, "bot echo", event_id="Ev3", bot_id="B9"))
    ok(
        client.thread_message(
            "UDAVE", daily_ts, "edited", event_id="Ev4", subtype="message_changed"
        )
    )

    def answers() -> int:
        with bank_db.unit_of_work() as session:
            return session.scalar(select(func.count()).select_from(DailyAnswer)) or 0

    # a genuine reply sent after the retries: once it counts, the retries were handled before
    ok(client.thread_message("UDAVE", daily_ts, "ranking after retrieval", event_id="Ev5"))
    fake.wait_for(lambda: answers() == 2)
    with bank_db.unit_of_work() as session:
        repliers = sorted(
            session.scalars(
                select(Member.external_id).join(DailyAnswer, DailyAnswer.member_id == Member.id)
            )
        )
    assert repliers == ["UCAROL", "UDAVE"]

    # 4. a mock in a new thread; the interviewer gets the first phase's kit in a direct message
    mark = fake.mark()
    ok(client.command("UALICE", "mock recsys <@UBOB|bob>"))

    def kits(since: int) -> list[dict[str, Any]]:
        return [p for p in slack.posts(since) if "Interviewer kit" in all_text(p)]

    fake.wait_for(lambda: len(slack.posts(mark)) >= 3 and bool(kits(mark)))
    root, phase = slack.posts(mark)[:2]
    assert header(root).startswith("Mock #1 · ") and "thread_ts" not in root
    assert phase["thread_ts"] == root["_ts"] and "Phase 1/4" in header(phase)
    first_kit = kits(mark)
    assert [k["channel"] for k in first_kit] == ["DUBOB"]  # a DM, opened for bob alone
    assert "Clarify" in all_text(first_kit[0]) and "thread_ts" not in first_kit[0]
    assert all(
        "Interviewer kit" not in all_text(c.params) for c in fake.since(mark, "chat.postEphemeral")
    )

    # 5. phases with buttons; each press retires the old buttons with chat.update
    for expected in ("Phase 2/4", "Phase 3/4", "Phase 4/4", "Mock #1 is over"):
        button, ts, thread = slack.last_button("Next phase")
        mark = fake.mark()
        ok(client.press("UBOB", button, ts, thread))

        def moved_on(heading: str = expected, since: int = mark) -> bool:
            posted = any(heading in header(p) for p in slack.posts(since))
            return posted and bool(fake.since(since, "chat.update"))

        fake.wait_for(moved_on)
        updates = fake.since(mark, "chat.update")
        assert updates and updates[0].params["ts"] == ts
        assert not any(b["type"] == "actions" for b in updates[0].params["blocks"])
        for post in slack.posts(mark):
            if post["channel"] != "DUBOB":  # the phase's kit goes to bob's DM
                assert post["thread_ts"] == root["_ts"]
        if expected != "Mock #1 is over":

            def kit_sent(since: int = mark) -> bool:
                return bool(kits(since))

            fake.wait_for(kit_sent)
            assert expected.replace("Phase ", "") in all_text(kits(mark)[0])

    # 6. scoring through the modal: the candidate is refused, three peers vote
    score, score_ts, thread = slack.last_button("Score this mock")
    mark = fake.mark()
    ok(client.press("UALICE", score, score_ts, thread))

    def refused() -> bool:  # other ephemeral notes (e.g. bob's last confirmation) may interleave
        notes = [c.params for c in fake.since(mark, "chat.postEphemeral")]
        return any(
            n["user"] == "UALICE" and "cannot score your own mock" in all_text(n) for n in notes
        )

    fake.wait_for(refused)
    assert not fake.since(mark, "views.open")
    votes = {"UBOB": "3", "UCAROL": "2", "UDAVE": "4"}
    for user, score_value in votes.items():
        mark = fake.mark()
        ok(client.press(user, score, score_ts, thread))

        def opened(since: int = mark) -> bool:
            return bool(fake.since(since, "views.open"))

        fake.wait_for(opened)
        view = fake.since(mark, "views.open")[0].params["view"]
        check_modal(view)
        selects = [b for b in view["blocks"] if b["element"]["type"] == "static_select"]
        assert len(selects) == 7  # six criteria and the signal
        values = {b["block_id"]: score_value for b in selects}
        values["signal"] = "lean-hire"
        values["comment"] = f"from {user}"
        mark = fake.mark()
        ok(client.submit(user, view, values))

        def thanked(since: int = mark) -> bool:
            notes = fake.since(since, "chat.postEphemeral")
            return any("vote is in" in all_text(c.params) for c in notes)

        fake.wait_for(thanked)
    with bank_db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Vote)) == 3
    results = [
        c.params
        for c in fake.calls
        if c.method in ("chat.postEphemeral", "chat.postMessage")
        and "Your result for mock #1" in all_text(c.params)
    ]
    assert len(results) == 1 and results[0]["channel"] == "DUALICE", "a DM: it must last"

    # 7. leaderboard in the channel; progress privately with its charts uploaded
    mark = fake.mark()
    ok(client.command("UALICE", "leaderboard"))
    fake.wait_for(lambda: any("Leaderboard" in header(p) for p in slack.posts(mark)))
    board = next(p for p in slack.posts(mark) if "Leaderboard" in header(p))
    assert "alice" in all_text(board) and board["channel"] == CHANNEL
    mark = fake.mark()
    ok(client.command("UALICE", "progress"))
    fake.wait_for(lambda: len(fake.since(mark, "files.completeUploadExternal")) == 2)
    # progress is private: its charts go to alice's direct messages, not the channel
    assert fake.since(mark, "conversations.open")[0].params["users"] == "UALICE"
    assert all(
        c.params["channel_id"] == "DUALICE"
        for c in fake.since(mark, "files.completeUploadExternal")
    )
    assert all(upload.startswith(b"\x89PNG") for upload in fake.uploads[-2:])

    # every message and update the journey produced stays within Block Kit's limits
    for call in fake.calls:
        if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            check_block_kit(call.params)
    # the manifest asks for every scope the journey needed, and no method goes unlisted
    called = {c.method for c in fake.calls}
    assert called <= set(METHOD_SCOPES), called - set(METHOD_SCOPES)
    needed = {METHOD_SCOPES[m] for m in called} - {None}
    assert needed <= set(manifest()["oauth_config"]["scopes"]["bot"])
    with bank_db.unit_of_work() as session:
        peer_points = session.scalar(
            select(func.count()).select_from(PointsEntry).where(PointsEntry.kind == "peer-vote")
        )
    assert peer_points == 3


def test_requests_must_be_signed_and_fresh(slack: Slack) -> None:
    assert slack.client.command("UALICE", "help", signed=False).status == 401
    stale = int(time.time()) - 6 * 60
    assert slack.client.command("UALICE", "help", timestamp=stale).status == 401
    wrong = SlackClient(slack.client.url, secret="not-the-secret")
    assert wrong.command("UALICE", "help").status == 401  # refused before any listener runs
    assert not slack.fake.of("chat.postEphemeral"), "refused requests reach nothing"


def test_rate_limit_is_retried_and_errors_do_not_break_the_bot(slack: Slack) -> None:
    fake, client = slack.fake, slack.client
    fake.fail_once(
        "chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
    )
    mark = fake.mark()
    ok(client.command("UALICE", "leaderboard"))
    fake.wait_for(lambda: len(fake.since(mark, "chat.postMessage")) == 2)
    assert [c.params["channel"] for c in fake.since(mark, "chat.postMessage")] == [CHANNEL] * 2
    fake.fail_once("chat.postEphemeral", 200, {"ok": False, "error": "channel_not_found"})
    mark = fake.mark()
    ok(client.command("UALICE", "help"))
    fake.wait_for(lambda: len(fake.since(mark, "chat.postEphemeral")) == 1)
    mark = fake.mark()
    ok(client.command("UALICE", "help"))  # the bot is still serving
    fake.wait_for(lambda: len(fake.since(mark, "chat.postEphemeral")) == 1)


def test_every_core_message_fits_block_kit() -> None:
    for message in largest_core_messages():
        check_block_kit(
            {"blocks": blockkit.message_blocks(message), "text": blockkit.fallback_text(message)}
        )
    for form in core_forms():
        check_modal(blockkit.modal_view(form, CHANNEL, "1.2"))


def test_manifest_is_valid_yaml_with_the_needed_scopes() -> None:
    from bot.adapters.slack_manifest import manifest_yaml

    parsed = yaml.safe_load(manifest_yaml("https://dojo.example.org", socket_mode=False))
    assert parsed["features"]["slash_commands"][0]["command"] == "/mlsd"
    assert parsed["settings"]["event_subscriptions"]["request_url"] == (
        "https://dojo.example.org/slack/events"
    )
    assert parsed["oauth_config"]["scopes"]["bot"] == bot_scopes()
    assert {"chat:write", "commands", "users:read", "files:write", "channels:history"} <= set(
        bot_scopes()
    )


def test_bank_add_form_over_the_wire(slack: Slack, bank_db: Database) -> None:
    fake, client = slack.fake, slack.client
    mark = fake.mark()
    ok(client.command("UADMIN", "bank add"))
    fake.wait_for(lambda: bool(fake.since(mark, "views.open")))
    view = fake.since(mark, "views.open")[0].params["view"]
    check_modal(view)
    values = {
        "family": "fraud-detection",
        "slug": "fraud-gift-cards",
        "level": "L4",
        "title": "Gift-card fraud at a retailer",
        "tags": "fraud, gbdt",
        "prompt": "Stolen cards are being laundered through our gift cards. Stop the losses.",
        "baseline": "Velocity rules on card and device.",
        "clarify": "What loss rate?\nHow fast must we decide?\nWhich labels exist?",
        "architecture": "Stream events\nFeature store\nScoring service",
        "deep_dive": "Velocity features\nGBDT model\nPR-AUC offline\nLoss rate online",
        "trade_offs": "Friction vs loss\nRules vs model\nLatency vs depth",
        "follow_ups": "Fraudsters adapt: now what?\nLabels arrive late: now what?",
        "anchors": "\n".join(
            f"{c}: misses it | names it | ties it to losses | quantifies it"
            for c in DEFAULT_RUBRIC.ids
        ),
        "red_flags": "Ignores chargeback delay\nBlocks every new card",
    }
    mark = fake.mark()
    ok(client.submit("UADMIN", view, {**values, "anchors": "ml_depth: only | three | parts"}))
    fake.wait_for(lambda: bool(fake.since(mark, "chat.postEphemeral")))
    refused = all_text(fake.since(mark, "chat.postEphemeral")[0].params)
    assert "not added: anchors" in refused
    mark = fake.mark()
    ok(client.submit("UADMIN", view, values))
    fake.wait_for(lambda: bool(fake.since(mark, "chat.postEphemeral")))
    added = all_text(fake.since(mark, "chat.postEphemeral")[0].params)
    assert "1 added" in added and "fraud-gift-cards is marked incomplete" in added
    assert "missing level_bar, kit, reference_design, annotated follow_ups" in added
    with bank_db.unit_of_work() as session:
        # added from chat: in this workspace's own layer, not the shared bank
        stored = session.scalars(select(Question).where(Question.slug == "fraud-gift-cards")).one()
        assert stored.workspace_id is not None
        assert stored.anchors is not None and stored.anchors["ml_depth"]["4"] == "quantifies it"
        assert stored.red_flags == ["Ignores chargeback delay", "Blocks every new card"]
        assert "fraud-gift-cards" in bank_stats(session, stored.workspace_id).incomplete
    mark = fake.mark()
    ok(client.command("UALICE", "bank add"))  # not an admin
    fake.wait_for(lambda: bool(fake.since(mark, "chat.postEphemeral")))
    assert "only workspace admins" in all_text(fake.since(mark, "chat.postEphemeral")[0].params)
    assert not fake.since(mark, "views.open")


def test_dojo_run_serves_slack_over_http(tmp_path, bank_db: Database) -> None:
    """`dojo run --platform slack --port N` against the fake Web API: health and a command."""
    import os
    import socket
    import subprocess
    import urllib.request

    fake = FakeSlack(users=dict(USERS))
    api_url = fake.start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": bank_db.url,
        "SLACK_BOT_TOKEN": "xoxb-process",
        "SLACK_SIGNING_SECRET": "test-signing-secret",
        "SLACK_API_URL": api_url,
        "DOJO_LOG_LEVEL": "DEBUG",
    }
    env.pop("SLACK_APP_TOKEN", None)
    process = subprocess.Popen(
        [*DOJO_COMMAND, "run", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for the server to listen
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200 and b'"ok": true' in r.read()
                    break
            except OSError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the Slack server did not come up"
                time.sleep(0.2)
        client = SlackClient(f"http://127.0.0.1:{port}")
        ok(client.command("UALICE", "help"))
        fake.wait_for(lambda: bool(fake.of("chat.postEphemeral")))
        assert "mlsd-dojo commands" in all_text(fake.of("chat.postEphemeral")[0])
        assert client.command("UALICE", "help", signed=False).status == 401
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
        fake.stop()
    assert "xoxb-process" not in stderr, "the token is never logged"
    assert "test-signing-secret" not in stderr
    assert "DEBUG" in stderr, "the check ran against the most talkative logging"
