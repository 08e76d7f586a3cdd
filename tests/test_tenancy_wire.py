"""Tenant boundaries at the adapters, over the wire (issue 11).

Slack: two teams, each with its own bot token, fake Web API and Bolt app, on one database; signed
requests claim to come from either team. Discord: the real discord.py client against the fake
REST + gateway. And a Slack process beside a Discord process on one database, each with a daily
question due: each platform receives only its own post, exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from bank.db import Database
from bank.models import Interview, Member, Workspace
from bot.adapters.discord import (
    NO_SERVER,
    DojoDiscord,
    RoleError,
    admin_role_ids,
    fetch_roles,
)
from bot.adapters.slack import SlackBot, build, http_app
from bot.clock import ManualClock
from bot.engine import Dojo
from bot.port import Actor, Command, Place
from tests.fake_discord import API_PREFIX, EPHEMERAL, FakeDiscord, pointed_at_fake
from tests.fake_slack import FakeSlack
from tests.slack_wire import Server, SlackClient
from tests.test_discord import ANSWER_PATIENCE, TOKEN, answer, text_of

T = TypeVar("T")

START = datetime(2026, 3, 2, 8, 55, tzinfo=UTC)


def slack_users(team: str) -> dict[str, dict[str, Any]]:
    low = team.lower()
    return {
        f"UADMIN{team}": {
            "name": f"lead-{low}",
            "is_admin": True,
            "profile": {"display_name": "Lead"},
        },
        f"UALICE{team}": {"name": f"alice-{low}", "profile": {"display_name": "Alice"}},
        f"UBOB{team}": {"name": f"bob-{low}", "profile": {"display_name": "Bob"}},
        # an admin of another team who can reach this one (a Slack Connect guest): no admin here
        "UOUTSIDER": {
            "name": "outsider",
            "is_admin": True,
            "team_id": "TX",
            "profile": {"display_name": "Outsider"},
        },
        # an admin whose Enterprise Grid account spans this team: admin here too
        "UGRID": {
            "name": "grid",
            "is_owner": True,
            "team_id": "TX",
            "enterprise_user": {"enterprise_id": "E1", "teams": ["TX", team]},
            "profile": {"display_name": "Grid Owner"},
        },
        "UGONE": {"name": "gone", "deleted": True, "profile": {"display_name": "Gone"}},
    }


@dataclass
class SlackTeam:
    team: str
    fake: FakeSlack
    client: SlackClient
    bot: SlackBot
    server: Server

    def run(self, job: Coroutine[Any, Any, T]) -> T:
        """Await `job` on the bot's event loop (its HTTP session lives there)."""
        return asyncio.run_coroutine_threadsafe(job, self.server.loop).result(10)

    @property
    def dojo(self) -> Dojo:
        return self.bot.dojo

    def ephemeral_after(self, mark: int, user: str) -> str:
        self.fake.wait_for(
            lambda: any(
                c.params["user"] == user for c in self.fake.since(mark, "chat.postEphemeral")
            )
        )
        call = next(
            c for c in self.fake.since(mark, "chat.postEphemeral") if c.params["user"] == user
        )
        return str(call.params.get("text", ""))


@contextmanager
def slack_team(db: Database, clock: ManualClock, team: str) -> Iterator[SlackTeam]:
    fake = FakeSlack(users=slack_users(team), team_id=team)
    api_url = fake.start()
    bot = build(
        lambda port: Dojo(db, port, clock, platform="slack", seed="t"),
        token=f"xoxb-{team}",
        signing_secret="test-signing-secret",
        api_url=api_url,
    )
    server = Server(http_app(bot))
    url = server.start()
    try:
        yield SlackTeam(team, fake, SlackClient(url, team=team), bot, server)
    finally:
        server.stop()
        fake.stop()


@pytest.fixture
def teams(bank_db: Database) -> Iterator[tuple[SlackTeam, SlackTeam]]:
    clock = ManualClock(start=START)
    with ExitStack() as stack:
        a = stack.enter_context(slack_team(bank_db, clock, "TA"))
        b = stack.enter_context(slack_team(bank_db, clock, "TB"))
        yield a, b


def test_each_slack_process_serves_its_own_team(teams: tuple[SlackTeam, SlackTeam]) -> None:
    a, b = teams
    assert a.dojo.ctx.scope.workspaces == frozenset({"TA"})  # from auth.test
    assert b.dojo.ctx.scope.workspaces == frozenset({"TB"})


def test_team_b_commands_do_not_reach_team_a_mocks(
    teams: tuple[SlackTeam, SlackTeam], bank_db: Database
) -> None:
    a, b = teams
    mark = a.fake.mark()
    a.client.command("UALICETA", "mock recsys <@UBOBTA>", channel="CA")
    assert "Mock #1 started" in a.ephemeral_after(mark, "UALICETA")
    b_mark, a_mark = b.fake.mark(), a.fake.mark()
    b.client.command("UADMINTB", "end #1", channel="CB")
    assert "there is no mock #1" in b.ephemeral_after(b_mark, "UADMINTB")
    assert a.fake.since(a_mark) == []  # team A's Web API was not called for it
    with bank_db.unit_of_work() as session:
        assert session.scalars(select(Interview.status)).one() == "running"


def test_slack_admin_counts_only_within_its_team(teams: tuple[SlackTeam, SlackTeam]) -> None:
    a, _ = teams
    mark = a.fake.mark()
    a.client.command("UOUTSIDER", "schedule 09:00 UTC daily", channel="CA")
    assert "only workspace admins" in a.ephemeral_after(mark, "UOUTSIDER")
    mark = a.fake.mark()
    a.client.command("UGRID", "schedule 09:00 UTC daily", channel="CA")
    a.fake.wait_for(
        lambda: any("Scheduled" in str(c.params) for c in a.fake.since(mark, "chat.postMessage"))
    )
    # the same user id looked up for team A says nothing about team B (cached per team)
    assert a.run(a.bot.users.lookup("TA", "UGRID")) is not None
    assert a.run(a.bot.actor("TB", "UOUTSIDER", None)).is_admin is False


def test_slack_mentions_are_resolved_by_slack(
    teams: tuple[SlackTeam, SlackTeam], bank_db: Database
) -> None:
    a, _ = teams
    mark = a.fake.mark()
    a.client.command("UALICETA", "mock recsys @UBOBTA", channel="CA")
    assert "@ picker" in a.ephemeral_after(mark, "UALICETA")
    mark = a.fake.mark()
    a.client.command("UALICETA", "mock recsys <@UGONE>", channel="CA")
    assert "could not confirm" in a.ephemeral_after(mark, "UALICETA")
    mark = a.fake.mark()
    crowd = " ".join(f"<@UBOBTA|x{i}>" for i in range(1)) + "".join(
        f" <@UP{i:02d}>" for i in range(24)
    )
    a.fake.users.update({f"UP{i:02d}": {"name": f"p{i}"} for i in range(24)})
    a.client.command("UALICETA", f"mock recsys {crowd}", channel="CA")
    assert "at most 4 interviewers" in a.ephemeral_after(mark, "UALICETA")
    mark = a.fake.mark()
    a.client.command("UALICETA", "mock recsys <@UBOBTA|The CEO>", channel="CA")
    a.fake.wait_for(lambda: bool(a.fake.since(mark, "chat.postMessage")))
    root = a.fake.since(mark, "chat.postMessage")[0].params
    assert "Bob" in str(root["blocks"]) and "CEO" not in str(root)
    with bank_db.unit_of_work() as session:
        bob = session.scalars(select(Member).where(Member.external_id == "UBOBTA")).one()
        assert bob.display_name == "Bob"


def test_slack_deactivation_hides_a_member_until_they_return(
    teams: tuple[SlackTeam, SlackTeam], bank_db: Database
) -> None:
    a, _ = teams
    a.dojo.handle_command(
        Command.from_text("leaderboard", Actor("TA", "UBOBTA", "Bob"), Place("CA"))
    )

    def left() -> bool:
        with bank_db.unit_of_work() as session:
            member = session.scalars(select(Member).where(Member.external_id == "UBOBTA")).one()
            return member.left_at is not None

    user = {"id": "UBOBTA", "team_id": "TA", "deleted": True, "name": "bob-ta"}
    a.client.event({"type": "user_change", "user": user}, event_id="Ev-gone")
    a.fake.wait_for(left)
    a.client.event({"type": "user_change", "user": {**user, "deleted": False}}, "Ev-back")
    a.fake.wait_for(lambda: left() is False)


# -- Discord --------------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with pointed_at_fake(TOKEN) as server:
        yield server


class DiscordRunning:
    """The discord.py bot on its own loop thread (see tests/test_discord.py's `Running`)."""

    def __init__(self, db: Database, clock: ManualClock, members_intent: bool = False) -> None:
        import threading

        self.bot = DojoDiscord(
            lambda port: Dojo(db, port, clock, platform="discord", seed="t"),
            guild_ready_timeout=0.05,
            members_intent=members_intent,
            answer_within=ANSWER_PATIENCE,
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.main = asyncio.run_coroutine_threadsafe(self.bot.start(TOKEN), self.loop)
        asyncio.run_coroutine_threadsafe(
            asyncio.wait_for(self.bot.synced.wait(), 20), self.loop
        ).result(30)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.bot.close(), self.loop).result(30)
        self.main.result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@contextmanager
def discord_bot(db: Database, clock: ManualClock, **kw: Any) -> Iterator[DiscordRunning]:
    running = DiscordRunning(db, clock, **kw)
    try:
        yield running
    finally:
        running.close()


def _dm_channel(fake: FakeDiscord, user: dict[str, Any]) -> str:
    channel: dict[str, Any] = {
        "id": fake.new_id(),
        "type": 1,
        "last_message_id": None,
        "flags": 0,
        "recipients": [user],
    }
    fake.channels[channel["id"]] = channel
    return str(channel["id"])


def test_discord_dms_are_refused_not_pooled(fake: FakeDiscord, bank_db: Database) -> None:
    with discord_bot(bank_db, ManualClock(start=START)):
        dm = _dm_channel(fake, fake.alice)
        for sub, options in (("leaderboard", {}), ("bank", {"action": "list"})):
            reply = answer(
                fake, fake.slash_command("mlsd", sub, options, user=fake.alice, channel_id=dm)
            )
            assert reply["data"]["flags"] & EPHEMERAL and NO_SERVER in text_of(reply)
    with bank_db.unit_of_work() as session:
        assert session.scalars(select(Workspace.external_id)).all() == []


def test_discord_admin_roles_are_ids(fake: FakeDiscord, bank_db: Database) -> None:
    helpers = fake.add_role("Dojo Helpers", 0)
    twin = fake.add_role("Dojo Helpers", 0)  # anyone who may create roles can copy a name
    helper = fake.add_user("helper", roles=[helpers["id"]])
    copycat = fake.add_user("copycat", roles=[twin["id"]])
    with bank_db.unit_of_work() as session:
        from bot.community import workspace_for

        workspace_for(session, "discord", fake.guild_id).admin_ids = [helpers["id"]]
    with discord_bot(bank_db, ManualClock(start=START)):
        for user, allowed in ((helper, True), (copycat, False)):
            reply = answer(
                fake,
                fake.slash_command(
                    "mlsd", "schedule", {"time": "09:00", "timezone": "UTC"}, user=user
                ),
            )
            assert ("only workspace admins" in text_of(reply)) is not allowed, text_of(reply)
    roles = asyncio.run(fetch_roles(f"{fake.base_url}{API_PREFIX}", TOKEN, fake.guild_id))
    assert (helpers["id"], "Dojo Helpers") in roles
    with pytest.raises(RoleError, match="2 roles are named 'dojo helpers'"):
        admin_role_ids(["dojo helpers"], roles)
    with pytest.raises(RoleError, match="no role 'nobody'"):
        admin_role_ids(["nobody"], roles)
    assert admin_role_ids([twin["id"], "Dojo Admin"], roles) == sorted(
        [twin["id"], fake.admin_role_id]
    )


def test_discord_member_remove_hides_them(fake: FakeDiscord, bank_db: Database) -> None:
    bob = fake.bob
    with discord_bot(bank_db, ManualClock(start=START), members_intent=True) as running:
        running.bot.dojo.handle_command(
            Command.from_text(
                "leaderboard", Actor(fake.guild_id, bob["id"], "Bob"), Place(fake.channel_id)
            )
        )
        fake.dispatch("GUILD_MEMBER_REMOVE", {"guild_id": fake.guild_id, "user": bob})

        def left() -> bool:
            with bank_db.unit_of_work() as session:
                member = session.scalars(
                    select(Member).where(Member.external_id == bob["id"])
                ).one()
                return member.left_at is not None

        fake.wait_for(left)


# -- a Slack process and a Discord process on one database ----------------------------------------


def test_each_platform_posts_only_its_own_daily_question(
    fake: FakeDiscord, bank_db: Database
) -> None:
    clock = ManualClock(start=START)
    with slack_team(bank_db, clock, "TA") as slack, discord_bot(bank_db, clock) as discord_run:
        discord = discord_run.bot.dojo
        slack.dojo.handle_command(
            Command.from_text(
                "schedule 09:00 UTC daily", Actor("TA", "UADMINTA", "Lead", True), Place("CA")
            )
        )
        discord.handle_command(
            Command.from_text(
                "schedule 09:00 UTC daily",
                Actor(fake.guild_id, fake.alice["id"], "Alice", True),
                Place(fake.channel_id),
            )
        )
        clock.advance(timedelta(minutes=10))
        slack_mark, discord_mark = slack.fake.mark(), fake.mark()
        # both processes tick, twice each, in either order
        assert slack.dojo.run_due()["daily"] == 1
        assert discord.run_due()["daily"] == 1
        assert slack.dojo.run_due()["daily"] == 0 and discord.run_due()["daily"] == 0
        posts = slack.fake.since(slack_mark, "chat.postMessage")
        assert [p.params["channel"] for p in posts] == ["CA"]
        sent = [c.path for c in fake.since(discord_mark, "POST")]
        assert sent.count(f"/channels/{fake.channel_id}/messages") == 1
        assert not any("/channels/CA" in path for path in sent)
        assert all(c.params.get("channel") != fake.channel_id for c in slack.fake.calls)


def test_dojo_admins_set_stores_discord_role_ids(fake: FakeDiscord, tmp_path: Path) -> None:
    """The operator names a role; the CLI asks Discord for the server's roles and stores the id."""
    from tests.test_config_cli import dojo

    fake.add_role("Twins", 0)
    fake.add_role("Twins", 0)
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dojo.db'}",
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_URL": f"{fake.base_url}{API_PREFIX}",
    }
    workspace = f"discord:{fake.guild_id}"
    ok = dojo("admins", "set", "Dojo Admin", "--workspace", workspace, env=env)
    assert ok.returncode == 0, ok.stderr
    assert fake.admin_role_id in ok.stdout
    shown = dojo("admins", "show", "--workspace", workspace, env=env)
    assert shown.stdout.strip() == fake.admin_role_id
    twins = dojo("admins", "set", "twins", "--workspace", workspace, env=env)
    assert twins.returncode == 1 and "2 roles are named 'twins'" in twins.stderr
    unknown = dojo("admins", "set", "Nobody", "--workspace", workspace, env=env)
    assert unknown.returncode == 1 and "no role 'Nobody'" in unknown.stderr
    assert dojo("admins", "show", "--workspace", workspace, env=env).stdout.strip() == (
        fake.admin_role_id
    )


def test_two_discord_servers_on_one_database(fake: FakeDiscord, bank_db: Database) -> None:
    """One bot in two servers: server B's commands and buttons never reach server A's mock,
    leaderboard or bank, and each server's daily question goes to its own channel once."""
    other = fake.add_guild("Other server")
    other_channel = fake.guild_channel_ids[other]
    clock = ManualClock(start=START)
    with discord_bot(bank_db, clock) as running:
        started = answer(
            fake,
            fake.slash_command(
                "mlsd", "mock", {"topic": "recsys", "interviewer": fake.bob["id"]}, user=fake.alice
            ),
        )
        assert "Mock #1 started" in text_of(started)
        root = next(m for m in fake.messages_in(fake.channel_id) if "Mock #1" in text_of(m))
        assert "Interviewers: bob" in text_of(root).replace("Bob", "bob")
        # the same people, in server B: "#1" means B's own mocks, of which there are none
        for sub, options in (("end", {"mock": 1}), ("next", {"mock": 1}), ("join", {"mock": 1})):
            ix = fake.slash_command(
                "mlsd", sub, options, user=fake.alice, channel_id=other_channel, guild_id=other
            )
            assert "there is no mock #1" in text_of(answer(fake, ix))
        ix = fake.slash_command(
            "mlsd",
            "bank",
            {"action": "retire", "argument": "recs-similar-items"},
            user=fake.alice,
            channel_id=other_channel,
            guild_id=other,
        )
        assert "Retired recs-similar-items in this workspace" in text_of(answer(fake, ix))
        ix = fake.slash_command(
            "mlsd", "bank", {"action": "show", "argument": "recs-similar-items"}
        )
        assert "no question" not in text_of(answer(fake, ix))
        with bank_db.unit_of_work() as session:
            interview = session.scalars(select(Interview)).one()
            assert interview.status == "running"
            guilds = set(session.scalars(select(Workspace.external_id)))
        assert guilds == {fake.guild_id, other}
        # one daily question per server, each in its own channel, exactly once
        dojo = running.bot.dojo
        for guild, channel in ((fake.guild_id, fake.channel_id), (other, other_channel)):
            dojo.handle_command(
                Command.from_text(
                    "schedule 09:00 UTC daily",
                    Actor(guild, fake.alice["id"], "Alice", True),
                    Place(channel),
                )
            )
        clock.advance(timedelta(minutes=10))
        mark = fake.mark()
        assert dojo.run_due()["daily"] == 2
        assert dojo.run_due()["daily"] == 0
        sent = [c.path for c in fake.since(mark, "POST")]
        assert sent.count(f"/channels/{fake.channel_id}/messages") == 1
        assert sent.count(f"/channels/{other_channel}/messages") == 1
