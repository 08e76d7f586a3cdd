"""Practice partners over the Discord wire: the real discord.py client against the fake Discord.

Pairing with alternating roles, a booking reminded twice (direct messages) and started by
"I'm here" in its thread, a no-show, a role ping whose `allowed_mentions` names only that role,
the weekly digest, and member-suggested questions reviewed with buttons (approved into only that
server's bank, or rejected with a reason).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import discord
import pytest
from sqlalchemy import select

from bank.db import Database
from bank.models import Booking, DailyAnswer, Interview, Member, Question, Suggestion, Workspace
from bot.adapters.discord import DojoDiscord, invite_url
from bot.clock import ManualClock
from bot.engine import Dojo
from scoring.models import PointsEntry
from tests.fake_discord import EPHEMERAL, MANAGE_CHANNELS, FakeDiscord, pointed_at_fake
from tests.test_discord import (
    ANSWER_PATIENCE,
    START,
    TOKEN,
    Running,
    answer,
    buttons,
    check_limits,
    newest_with,
    text_of,
)
from tests.test_partners import QUESTION


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with pointed_at_fake(TOKEN) as server:
        yield server


def reply_text(fake: FakeDiscord, interaction: dict[str, Any]) -> str:
    """The words of an interaction's answer, also when it was deferred to a follow-up."""
    first = answer(fake, interaction)
    if first["type"] == 5:
        return text_of(
            fake.wait_call(
                "POST", "/webhooks/", where=lambda c: interaction["token"] in c.path
            ).body
        )
    return text_of(first)


def direct_messages(fake: FakeDiscord, mark: int, words: str) -> int:
    dms = {cid for cid, channel in fake.channels.items() if channel["type"] == 1}
    return sum(
        words in text_of(c.body)
        for c in fake.since(mark, "POST", "/messages")
        if isinstance(c.body, dict) and c.path.split("/")[-2] in dms
    )


def candidates(db: Database) -> list[str]:
    with db.unit_of_work() as session:
        return list(
            session.scalars(
                select(Member.display_name)
                .join(Interview, Interview.candidate_id == Member.id)
                .order_by(Interview.number)
            )
        )


def test_pairing_and_booking_over_the_wire(fake: FakeDiscord, bank_db: Database) -> None:
    carol = fake.add_user("carol")
    clock = ManualClock(start=START)
    running = Running(bank_db, clock)
    try:
        sync = fake.wait_call("PUT", f"/guilds/{fake.guild_id}/commands")
        names = {o["name"] for o in sync.body[0]["options"]}
        assert {"pair", "book", "bookings", "suggest"} <= names

        # three rounds: the roles swap every time
        for number, candidate in ((1, fake.alice), (2, fake.bob), (3, fake.alice)):
            queued = fake.slash_command(
                "mlsd", "pair", {"topic": "recsys", "when": "now"}, user=fake.alice
            )
            assert "You are in the pairing queue" in reply_text(fake, queued)
            mark = fake.mark()
            matched = fake.slash_command("mlsd", "pair", {}, user=fake.bob)
            first = answer(fake, matched)
            assert first["type"] == 5 or first["data"]["flags"] & EPHEMERAL

            def settled(expected: int = number, since: int = mark) -> bool:
                return (
                    len(candidates(bank_db)) == expected
                    and direct_messages(fake, since, "Matched with") >= 1
                )

            fake.wait_for(settled)
            answer(fake, fake.slash_command("mlsd", "end", {"mock": number}, user=candidate))
        assert candidates(bank_db) == ["Alice", "Bob", "Alice"]

        # a booking: reminded twice by direct message, opened, started by "I'm here"
        booked = fake.slash_command(
            "mlsd", "book", {"time": "10:30", "topic": "recsys", "timezone": "UTC"}, user=fake.alice
        )
        assert "Mock #4 booked" in reply_text(fake, booked)
        card = newest_with(fake, "Interview", fake.channel_id)
        answer(fake, fake.button_press(buttons(card)["Interview"], card, user=fake.bob))
        fake.wait_call("PATCH", f"/messages/{card['id']}")
        nobody = fake.slash_command(
            "mlsd", "book", {"time": "10:30", "topic": "ads", "timezone": "UTC"}, user=carol
        )
        assert "Mock #5 booked" in reply_text(fake, nobody)
        for minutes, words in ((35, "in an hour"), (50, "in ten minutes")):
            clock.advance(timedelta(minutes=minutes))
            mark = fake.mark()
            assert running.bot.dojo.run_due()["bookings"] == 2
            assert direct_messages(fake, mark, words) == 3  # alice, bob, carol
        clock.advance(timedelta(minutes=10))
        mark = fake.mark()
        assert running.bot.dojo.run_due()["bookings"] == 2
        threads = [c.path.split("/")[-2] for c in fake.since(mark, "POST", "/threads")]
        assert len(threads) == 2
        opening = next(
            m
            for m in fake.messages.values()
            if "Mock #4 is starting" in text_of(m) and "I'm here" in buttons(m)
        )
        for user in (fake.alice, fake.bob):
            answer(fake, fake.button_press(buttons(opening)["I'm here"], opening, user=user))
        fake.wait_for(
            lambda: any("Phase 1/4" in text_of(m) for t in threads for m in fake.messages_in(t))
        )
        clock.advance(timedelta(minutes=10))
        mark = fake.mark()
        assert running.bot.dojo.run_due()["bookings"] == 1
        fake.wait_for(
            lambda: any("did not come" in text_of(c.body) for c in fake.since(mark, "POST"))
        )
        with bank_db.unit_of_work() as session:
            statuses = {n: s for n, s in session.execute(select(Booking.number, Booking.status))}
        assert statuses == {4: "started", 5: "no-show"}
    finally:
        running.close()
    for call in fake.calls:
        if call.method in ("POST", "PATCH") and isinstance(call.body, dict):
            check_limits(call.body)


def test_role_ping_and_digest_over_the_wire(fake: FakeDiscord, bank_db: Database) -> None:
    role = fake.add_role("mlsd-practice", 0)
    clock = ManualClock(start=START)
    running = Running(bank_db, clock)
    try:
        done = fake.slash_command(
            "mlsd",
            "schedule",
            {"time": "09:00", "timezone": "UTC", "days": "daily", "ping": role["id"]},
            user=fake.alice,
        )
        assert f"mentions group {role['id']}" in reply_text(fake, done)
        clock.advance(timedelta(minutes=5))
        mark = fake.mark()
        assert running.bot.dojo.run_due()["daily"] == 1
        post = fake.wait_call("POST", f"/channels/{fake.channel_id}/messages", after=mark)
        assert post.body["content"] == f"<@&{role['id']}>"
        mentions = post.body["allowed_mentions"]
        assert [str(r) for r in mentions["roles"]] == [role["id"]] and mentions["parse"] == []
        assert not mentions.get("users") and not mentions.get("replied_user")
        thread_id = fake.wait_call("POST", "/threads", after=mark).path.split("/")[-2]
        carol = fake.add_user("carol")
        fake.dispatch("MESSAGE_CREATE", fake.message_create(thread_id, carol, "clarify first"))

        def answered() -> bool:
            with bank_db.unit_of_work() as session:
                return session.scalar(select(DailyAnswer.id)) is not None

        fake.wait_for(answered)
        for _day in range(7):
            clock.advance(timedelta(days=1))
            running.bot.dojo.run_due()
        digest = fake.wait_call(
            "POST",
            f"/channels/{fake.channel_id}/messages",
            where=lambda c: "Weekly digest" in text_of(c.body),
        )
        assert "Carol: 1 practice" in text_of(digest.body)
        assert "content" not in digest.body or not digest.body["content"]
    finally:
        running.close()
    assert not fake.since(0, "POST", f"/guilds/{fake.guild_id}/channels")  # voice rooms are off
    # nothing else the bot sent could mention anyone
    for call in fake.calls:
        if call.method == "POST" and isinstance(call.body, dict) and "embeds" in call.body:
            allowed = call.body.get("allowed_mentions")
            assert allowed is not None and allowed["parse"] == [] and not allowed.get("users")
            if allowed.get("roles"):  # only daily questions, and only that role
                assert [str(r) for r in allowed["roles"]] == [role["id"]]
                assert text_of(call.body).startswith(f"<@&{role['id']}>\nDaily question")


def test_voice_rooms_beside_mocks_only_when_switched_on(
    fake: FakeDiscord, bank_db: Database
) -> None:
    off = invite_url("123456789012345678")
    on = invite_url("123456789012345678", voice_rooms=True)
    manage_channels = discord.Permissions(manage_channels=True).value
    permissions = {url: int(url.split("permissions=")[1].split("&")[0]) for url in (off, on)}
    assert not permissions[off] & manage_channels and permissions[on] & manage_channels

    voice_role = fake.add_role("dojo voice", MANAGE_CHANNELS)
    fake.members[fake.bot["id"]]["roles"].append(voice_role["id"])
    clock = ManualClock(start=START)
    bot = DojoDiscord(
        lambda port: Dojo(bank_db, port, clock, platform="discord", seed="t"),
        guild_ready_timeout=0.05,
        voice_rooms=True,
        answer_within=ANSWER_PATIENCE,
    )
    running = Running.__new__(Running)
    running.bot = bot
    running.loop = asyncio.new_event_loop()
    running.thread = threading.Thread(target=running.loop.run_forever, daemon=True)
    running.thread.start()
    running.main = asyncio.run_coroutine_threadsafe(bot.start(TOKEN), running.loop)
    running.call(asyncio.wait_for(bot.synced.wait(), 20))
    try:
        answer(fake, fake.slash_command("mlsd", "mock", {"topic": "fraud"}, user=fake.alice))
        mark = fake.mark()
        assert bot.dojo.run_due()["voice_rooms"] == 1
        created = fake.wait_call("POST", f"/guilds/{fake.guild_id}/channels", after=mark)
        assert created.body["type"] == 2 and created.body["name"] == "mock-1"
        room = next(c for c in fake.channels.values() if c.get("name") == "mock-1")
        assert bot.dojo.run_due()["voice_rooms"] == 0  # one room per mock
        answer(fake, fake.slash_command("mlsd", "end", {"mock": 1}, user=fake.alice))
        mark = fake.mark()
        assert bot.dojo.run_due()["voice_rooms"] == 1
        fake.wait_call("DELETE", f"/channels/{room['id']}", after=mark)
        assert room["id"] not in fake.channels
        # without the permission: no room, one logged failure, no retry at every tick
        fake.members[fake.bot["id"]]["roles"].remove(voice_role["id"])
        answer(fake, fake.slash_command("mlsd", "mock", {"topic": "fraud"}, user=fake.alice))
        assert bot.dojo.run_due()["voice_rooms"] == 0
        mark = fake.mark()
        bot.dojo.run_due()
        assert not fake.since(mark, "POST", "/channels")
    finally:
        running.close()


def fill_form(
    fake: FakeDiscord, opened: dict[str, Any], user: dict[str, Any], values: dict[str, str]
) -> dict[str, Any]:
    """Fill a core form page by page (Discord modals hold five inputs) as a member would:
    submit a page, press "Continue" on the bot's note, get the next modal. Returns the last
    submission (the interaction the core answers)."""
    page = opened
    while True:
        assert page["type"] == 9, page  # a modal
        check_limits(page)
        fields = {
            row["component"]["custom_id"]: values[row["component"]["custom_id"]]
            for row in page["data"]["components"]
        }
        submission = fake.modal_submit(page["data"]["custom_id"], fields, user=user)
        saved = answer(fake, submission)
        if "Saved part" not in text_of(saved):
            return submission
        onward = next(
            b["custom_id"] for row in saved["data"]["components"] for b in row["components"]
        )
        note = next(
            m for m in reversed(list(fake.messages.values())) if onward in buttons(m).values()
        )
        page = answer(fake, fake.button_press(onward, note, user=user))


def reply_message(fake: FakeDiscord, interaction: dict[str, Any]) -> dict[str, Any]:
    """The stored message that answered an interaction (its buttons can be pressed)."""
    answer(fake, interaction)

    def stored() -> dict[str, Any] | None:
        found = fake.interactions[interaction["id"]].original_id
        message = fake.messages.get(found or "")
        return message if message is not None and text_of(message).strip() else None

    fake.wait_for(lambda: stored() is not None)
    message = stored()
    assert message is not None
    return message


def test_suggestions_reviewed_with_buttons_over_the_wire(
    fake: FakeDiscord, bank_db: Database
) -> None:
    other = fake.add_guild("Other server")
    other_channel = fake.guild_channel_ids[other]
    carol, dave = fake.add_user("carol"), fake.add_user("dave")
    second = {**QUESTION, "slug": "fraud-refunds", "title": "Refund abuse"}
    running = Running(bank_db, ManualClock(start=START))
    try:
        for user, values in ((carol, QUESTION), (dave, second)):
            opened = answer(fake, fake.slash_command("mlsd", "suggest", {}, user=user))
            sent = fill_form(fake, opened, user, values)
            assert "waits for an admin's review" in reply_text(fake, sent)
        refused = fake.slash_command("mlsd", "bank", {"action": "review"}, user=fake.bob)
        assert "only workspace admins" in reply_text(fake, refused)

        card = reply_message(
            fake, fake.slash_command("mlsd", "bank", {"action": "review"}, user=fake.alice)
        )
        assert card["flags"] & EPHEMERAL and "Suggested by Carol" in text_of(card)
        mark = fake.mark()
        approved = reply_message(
            fake, fake.button_press(buttons(card)["Approve"], card, user=fake.alice)
        )
        assert "Approved fraud-gift-cards" in text_of(approved)
        assert "Suggested by Dave" in text_of(approved)  # the next one waits below
        fake.wait_for(lambda: direct_messages(fake, mark, "is in the bank now") == 1)
        assert direct_messages(fake, mark, "+25 points") == 1

        form = answer(
            fake, fake.button_press(buttons(approved)["Reject"], approved, user=fake.alice)
        )
        assert form["type"] == 9
        mark = fake.mark()
        done = fill_form(fake, form, fake.alice, {"reason": "Too close to gift-card fraud"})
        assert "Rejected fraud-refunds" in reply_text(fake, done)
        fake.wait_for(
            lambda: direct_messages(fake, mark, "not added: Too close to gift-card fraud") == 1
        )

        # the approved question is in this server's bank only
        shown = fake.slash_command(
            "mlsd", "bank", {"action": "show", "argument": "fraud-gift-cards"}, user=fake.bob
        )
        assert QUESTION["title"] in reply_text(fake, shown)
        elsewhere = fake.slash_command(
            "mlsd",
            "bank",
            {"action": "show", "argument": "fraud-gift-cards"},
            user=fake.bob,
            channel_id=other_channel,
            guild_id=other,
        )
        assert "no question with slug 'fraud-gift-cards'" in reply_text(fake, elsewhere)
        late = fake.button_press(buttons(card)["Approve"], card, user=fake.alice)
        assert "already reviewed" in reply_text(fake, late)
    finally:
        running.close()
    with bank_db.unit_of_work() as session:
        owners = session.execute(
            select(Question.slug, Workspace.external_id)
            .join(Workspace, Workspace.id == Question.workspace_id)
            .where(Question.slug.in_(("fraud-gift-cards", "fraud-refunds")))
        ).all()
        assert [tuple(row) for row in owners] == [("fraud-gift-cards", fake.guild_id)]
        assert sorted(session.scalars(select(Suggestion.status))) == ["approved", "rejected"]
        entries = session.execute(
            select(Member.external_id, PointsEntry.kind, PointsEntry.points).join(
                Member, Member.id == PointsEntry.member_id
            )
        ).all()
        assert [tuple(row) for row in entries] == [(carol["id"], "suggestion-approved", 25)]
    for call in fake.calls:
        if call.method in ("POST", "PATCH") and isinstance(call.body, dict):
            check_limits(call.body)
