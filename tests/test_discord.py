"""The Discord adapter over the wire: the real discord.py client against the fake Discord."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import discord
import pytest
from sqlalchemy import func, select

from bank.db import Database
from bank.models import DailyAnswer
from bot.adapters.discord import DojoDiscord, client_id_from_token, invite_url
from bot.clock import ManualClock
from bot.engine import Dojo
from bot.workqueue import WorkQueue
from scoring.models import MockResult, PointsEntry, Vote
from tests.fake_discord import EPHEMERAL, FakeDiscord, pointed_at_fake

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.fake.token"
START = datetime(2026, 3, 2, 8, 55, tzinfo=UTC)
# tests check what the answers say: on a loaded machine the core may need longer than the bot's
# short wait before deferring (tests/test_ack_first.py checks the deferral itself)
ANSWER_PATIENCE = 2.0
T = TypeVar("T")


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with pointed_at_fake(TOKEN) as server:
        yield server


class Running:
    """The bot on its own event loop thread, like `dojo run` but stoppable from the test."""

    def __init__(
        self,
        db: Database,
        clock: ManualClock,
        work: WorkQueue | None = None,
        answer_within: float = ANSWER_PATIENCE,
    ) -> None:
        self.bot = DojoDiscord(
            lambda port: Dojo(db, port, clock, platform="discord", seed="t"),
            guild_ready_timeout=0.05,
            work=work,
            answer_within=answer_within,
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.main = asyncio.run_coroutine_threadsafe(self.bot.start(TOKEN), self.loop)
        self.call(asyncio.wait_for(self.bot.synced.wait(), 20))

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.call(self.bot.close())
        self.main.result(20)

        async def leftovers() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.call(leftovers())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def answer(fake: FakeDiscord, interaction: dict[str, Any]) -> Any:
    """Dispatch an interaction and return the bot's first answer; it must come within 3 s."""
    sent = time.monotonic()
    fake.dispatch("INTERACTION_CREATE", interaction)
    call = fake.callback(interaction, timeout=10)
    assert time.monotonic() - sent < 3.0, "Discord drops interactions answered after 3 seconds"
    return call.body


def followups(fake: FakeDiscord, interaction: dict[str, Any], mark: int) -> list[dict[str, Any]]:
    return [
        c.body for c in fake.since(mark, "POST", "/webhooks/") if interaction["token"] in c.path
    ]


def text_of(payload: dict[str, Any]) -> str:
    data = payload.get("data", payload)
    parts = [data.get("content") or ""]
    for embed in data.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


def buttons(message: dict[str, Any]) -> dict[str, str]:
    return {
        b["label"]: b["custom_id"]
        for row in message.get("components", [])
        for b in row.get("components", [])
        if b.get("type") == 2
    }


def newest_with(fake: FakeDiscord, label: str, channel_id: str) -> Any:
    for message in reversed(fake.messages_in(channel_id)):
        if label in buttons(message):
            return message
    raise AssertionError(f"no message with [{label}] in {channel_id}")


def check_limits(payload: dict[str, Any]) -> None:
    """Discord's documented limits for a message or an interaction response."""
    data = payload.get("data", payload) or {}
    assert len(data.get("content") or "") <= 2000
    embeds = data.get("embeds") or []
    assert len(embeds) <= 10
    total = 0
    for embed in embeds:
        assert len(embed.get("title") or "") <= 256
        assert len(embed.get("description") or "") <= 4096
        assert len(embed.get("fields", [])) <= 25
        for field in embed.get("fields", []):
            assert len(field["name"]) <= 256 and len(field["value"]) <= 1024
        total += len(embed.get("title") or "") + len(embed.get("description") or "")
        total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    assert total <= 6000
    rows = data.get("components") or []
    assert len(rows) <= 5
    for row in rows:
        if row.get("type") == 1:
            assert len(row["components"]) <= 5
            for item in row["components"]:
                assert len(item.get("custom_id", "")) <= 100
                assert len(item.get("options", [])) <= 25
        elif row.get("type") == 18:  # a label in a modal
            component = row["component"]
            assert len(row["label"]) <= 45
            assert len(component.get("options", [])) <= 25


def points(db: Database, kind: str) -> int:
    with db.unit_of_work() as session:
        return (
            session.scalar(
                select(func.count()).select_from(PointsEntry).where(PointsEntry.kind == kind)
            )
            or 0
        )


def test_full_journey_over_the_wire(fake: FakeDiscord, bank_db: Database) -> None:
    carol, dave = fake.add_user("carol"), fake.add_user("dave")
    clock = ManualClock(start=START)
    running = Running(bank_db, clock)
    try:
        sync = fake.wait_call("PUT", f"/guilds/{fake.guild_id}/commands")
        names = {o["name"] for o in sync.body[0]["options"]}
        assert {"mock", "vote", "leaderboard", "progress", "schedule", "bank"} <= names

        # 1. schedule: refused to a plain member, done by someone with Manage Server
        refused = answer(
            fake,
            fake.slash_command(
                "mlsd", "schedule", {"time": "09:00", "timezone": "UTC"}, user=fake.bob
            ),
        )
        assert refused["data"]["flags"] & EPHEMERAL and "only workspace admins" in text_of(refused)
        done = answer(
            fake,
            fake.slash_command(
                "mlsd",
                "schedule",
                {"time": "09:00", "timezone": "UTC", "days": "daily"},
                user=fake.alice,
            ),
        )
        assert "Scheduled" in text_of(done) and not (done["data"].get("flags") or 0) & EPHEMERAL

        # 2. the daily question at 09:00, with a thread for answers; a reply counts once
        clock.advance(timedelta(minutes=5))
        mark = fake.mark()
        assert running.bot.dojo.run_due()["daily"] == 1
        post = fake.wait_call("POST", f"/channels/{fake.channel_id}/messages", after=mark)
        assert "Daily question" in text_of(post.body)
        thread = fake.wait_call("POST", "/threads", after=mark)
        thread_id = thread.path.split("/")[-2]  # a thread started on a message has its id
        for _ in range(2):
            fake.dispatch("MESSAGE_CREATE", fake.message_create(thread_id, carol, "clarify first"))

        def answers() -> int:
            with bank_db.unit_of_work() as session:
                return session.scalar(select(func.count()).select_from(DailyAnswer)) or 0

        fake.wait_for(lambda: answers() == 1)

        # 3. a mock in a thread; the interviewer gets the phase's kit in a direct message
        mark = fake.mark()
        started = answer(
            fake,
            fake.slash_command(
                "mlsd", "mock", {"topic": "recsys", "interviewer": fake.bob["id"]}, user=fake.alice
            ),
        )
        assert "Mock #1 started" in text_of(started) and started["data"]["flags"] & EPHEMERAL
        fake.wait_call("POST", "/users/@me/channels", after=mark)
        guide = fake.wait_call(
            "POST", "/messages", after=mark, where=lambda c: "Interviewer kit" in text_of(c.body)
        )
        assert guide.path.split("/")[-2] not in (fake.channel_id,)
        mock_thread = fake.wait_call("POST", "/threads", after=mark).path.split("/")[-2]
        first = newest_with(fake, "Next phase", mock_thread)
        # 4. phases by button; the old buttons are taken away by an edit. A double click sends
        # two interactions built from the same (still unedited) message.
        clock.advance(timedelta(minutes=4))
        press = fake.button_press(buttons(first)["Next phase"], first, user=fake.bob)
        double_click = fake.button_press(buttons(first)["Next phase"], first, user=fake.bob)
        assert answer(fake, press)["type"] in (4, 5)
        fake.wait_call("PATCH", f"/messages/{first['id']}")
        assert buttons(fake.messages[first["id"]]) == {}
        second = newest_with(fake, "Next phase", mock_thread)
        assert "Phase 2/4" in text_of(second)
        double = answer(fake, double_click)
        assert "that is over" in text_of(double) or double["type"] == 5  # a second click: no-op
        assert newest_with(fake, "Next phase", mock_thread)["id"] == second["id"]

        # 5. a restart: the persistent buttons of the old process still answer
        running.close()
        running = Running(bank_db, clock)
        clock.advance(timedelta(minutes=4))
        press = fake.button_press(buttons(second)["Next phase"], second, user=fake.bob)
        assert answer(fake, press)["type"] in (4, 5)
        for _ in range(2):
            clock.advance(timedelta(minutes=4))  # a real practice, not Next-Next-End
            latest = newest_with(fake, "Next phase", mock_thread)
            answer(fake, fake.button_press(buttons(latest)["Next phase"], latest, user=fake.bob))
        summary = newest_with(fake, "Score this mock", mock_thread)
        assert "Mock #1 is over" in text_of(summary)

        # 6. scoring in two modal pages; the candidate is refused; a replayed submit counts once
        own = answer(
            fake, fake.button_press(buttons(summary)["Score this mock"], summary, user=fake.alice)
        )
        assert "cannot score your own mock" in text_of(own)
        for voter, score in ((fake.bob, "3"), (carol, "2"), (dave, "4")):
            opened = answer(
                fake, fake.button_press(buttons(summary)["Score this mock"], summary, user=voter)
            )
            assert opened["type"] == 9
            check_limits(opened)
            first_page = opened["data"]
            fields = {row["component"]["custom_id"]: score for row in first_page["components"]}
            saved = answer(fake, fake.modal_submit(first_page["custom_id"], fields, user=voter))
            assert "Saved part 1 of 2" in text_of(saved)
            mark = fake.mark()
            continue_id = next(
                b["custom_id"] for row in saved["data"]["components"] for b in row["components"]
            )
            note = next(
                m
                for m in reversed(list(fake.messages.values()))
                if continue_id in buttons(m).values()
            )
            page_two = answer(fake, fake.button_press(continue_id, note, user=voter))
            assert page_two["type"] == 9
            fixed = {"signal": "hire", "comment": "good", "red_flags": "1"}  # tick one red flag
            last = {
                row["component"]["custom_id"]: fixed.get(row["component"]["custom_id"], score)
                for row in page_two["data"]["components"]
            }
            submit = fake.modal_submit(page_two["data"]["custom_id"], last, user=voter)
            thanked = answer(fake, submit)
            if thanked["type"] == 5:  # deferred: the words come as a follow-up
                fake.wait_call("POST", "/webhooks/", after=mark)
        fake.wait_for(lambda: points(bank_db, "peer-vote") == 3)
        with bank_db.unit_of_work() as session:
            assert session.scalar(select(func.count()).select_from(Vote)) == 3
        assert points(bank_db, "peer-vote") == 3

        def settled() -> int:  # the panel has voted: the result goes out (and progress shows it)
            with bank_db.unit_of_work() as session:
                return session.scalar(select(func.count()).select_from(MockResult)) or 0

        fake.wait_for(lambda: settled() == 1)

        # 7. leaderboard in the channel, progress with its charts attached
        board = answer(
            fake, fake.slash_command("mlsd", "leaderboard", {"period": "week"}, user=fake.alice)
        )
        assert "Leaderboard" in text_of(board) and "1. Alice" in text_of(board)
        progress_ix = fake.slash_command("mlsd", "progress", user=fake.alice)
        progress = answer(fake, progress_ix)
        # the charts come with the answer, or in the follow-up when the answer was deferred
        charted = fake.wait_call(
            "POST",
            progress_ix["token"] if progress["type"] == 5 else progress_ix["id"],
            where=lambda c: any(name.endswith(".png") for name in c.filenames),
        )
        assert charted.filenames, progress
    finally:
        running.close()

    for call in fake.calls:
        if call.method in ("POST", "PATCH") and isinstance(call.body, dict):
            check_limits(call.body)


def test_inline_vote_and_admin_rules(fake: FakeDiscord, bank_db: Database) -> None:
    clock = ManualClock(start=START)
    running = Running(bank_db, clock)
    try:
        answer(fake, fake.slash_command("mlsd", "mock", {"topic": "fraud"}, user=fake.alice))
        answer(fake, fake.slash_command("mlsd", "end", {"mock": 1}, user=fake.alice))
        vote = fake.slash_command(
            "mlsd",
            "vote",
            {"mock": 1, "scores": "3 3 4 3 2 3", "signal": "hire", "comment": "clear"},
            user=fake.bob,
        )
        voted = answer(fake, vote)
        # Discord delivering the same interaction again: seen, and nothing counted twice
        fake.dispatch("INTERACTION_CREATE", vote)
        fake.wait_for(lambda: len(fake.since(0, "POST", f"/interactions/{vote['id']}/")) >= 2)
        assert points(bank_db, "peer-vote") == 1
        text = text_of(voted)
        if voted["type"] == 5:
            text = text_of(fake.wait_call("POST", "/webhooks/").body)
        assert "vote is in" in text
        bad = answer(
            fake,
            fake.slash_command(
                "mlsd",
                "vote",
                {"mock": 1, "scores": "5 3 3 3 3 3", "signal": "hire"},
                user=fake.bob,
            ),
        )
        assert "every score must be 1–4" in text_of(bad)
        retire = answer(
            fake,
            fake.slash_command(
                "mlsd", "bank", {"action": "retire", "argument": "fraud-promo-abuse"}, user=fake.bob
            ),
        )
        assert "only workspace admins" in text_of(retire)
    finally:
        running.close()


def test_invite_url_names_the_permissions() -> None:
    url = invite_url(client_id_from_token(TOKEN))
    assert "client_id=123456789012345678" in url
    assert "scope=bot+applications.commands" in url
    permissions = int(url.split("permissions=")[1].split("&")[0])
    granted = discord.Permissions(permissions)
    assert granted.send_messages and granted.create_public_threads and granted.attach_files
    assert not granted.administrator and not granted.manage_guild


def test_dojo_run_serves_discord(fake: FakeDiscord, bank_db: Database, tmp_path: Any) -> None:
    """`dojo run --platform discord` with only DISCORD_API_URL: it asks the fake for its
    gateway, connects, syncs /mlsd and answers; the token never shows up in its logs."""
    import os
    import subprocess

    from tests.support import DOJO_COMMAND

    env = {
        **os.environ,
        "DATABASE_URL": bank_db.url,
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_URL": f"{fake.base_url}/api/v10",
        "DOJO_LOG_LEVEL": "DEBUG",
    }
    for name in ("SLACK_BOT_TOKEN", "DISCORD_GATEWAY_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        [*DOJO_COMMAND, "run", "--platform", "discord"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        fake.wait_call("GET", "/gateway", timeout=60)
        fake.wait_connected(timeout=60)
        fake.wait_call("PUT", f"/guilds/{fake.guild_id}/commands", timeout=60)
        mark = fake.mark()
        ix = fake.slash_command("mlsd", "help", user=fake.bob)
        reply = answer(fake, ix)
        if reply["type"] == 5:  # deferred (a busy machine): the answer is the follow-up
            fake.wait_for(lambda: bool(followups(fake, ix, mark)))
            reply = {"data": followups(fake, ix, mark)[0]}
        assert "mlsd-dojo commands" in text_of(reply) and reply["data"]["flags"] & EPHEMERAL
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert TOKEN not in stderr and "DEBUG" in stderr


def test_every_core_message_fits_discord() -> None:
    from bot.adapters.discord_render import form_pages, message_parts, modal_item, view_for
    from tests.support import core_forms, largest_core_messages

    for message in largest_core_messages():
        for part in message_parts(message):
            view = view_for(part.buttons)
            check_limits(
                {
                    "embeds": [e.to_dict() for e in part.embeds],
                    "components": view.to_components() if view else [],
                }
            )
    for form in core_forms():
        pages = form_pages(form)
        assert len(pages) <= 3, "a form takes at most three modal steps"
        for page in pages:
            items = [modal_item(i).to_component_dict() for i in page]
            check_limits({"components": items})
            assert len(items) <= 5
