"""Tenant boundaries (issue 11) driven through the core's front door, on SQLite and PostgreSQL.

Two Slack teams and two Discord servers share one database. Tenant B tries every command and
button against tenant A's mocks, bank, leaderboard and progress; due work is claimed only by a
process whose platform (and Slack team) owns the channel; identity comes only from
platform-resolved mentions. The adapters' own parts (users.info per team, Discord DMs, role ids)
are tested over the wire in test_tenancy_wire.py.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from sqlalchemy import select

from bank.db import Database
from bank.models import Channel, Interview, Member, Question, Workspace
from bank.scope import Scope
from bank.selection import daily_question_for_channel
from bot import render
from bot.adapters.console import ConsolePort
from bot.clock import ManualClock
from bot.engine import Dojo
from bot.flows import bank_flow
from bot.port import Action, Actor, Command, Place, Reply, ResolvedUser, Tone
from bot.scheduler import Leadership
from scoring.ledger import PointKind, award
from scoring.models import PointsEntry
from tests.support import START
from tests.test_bank_files import bank_dict, question_dict

SLUG = "recs-similar-items"  # a shipped question every workspace sees


@dataclass(frozen=True)
class Tenant:
    """One workspace: its platform, external id, a channel, an admin and two members."""

    platform: str
    workspace: str
    channel: str
    admin: str
    alice: str
    bob: str

    def actor(self, user: str, *, admin: bool = False, workspace: str | None = None) -> Actor:
        return Actor(workspace or self.workspace, user, f"name-of-{user}", is_admin=admin)


SLACK_A = Tenant("slack", "TA", "CA", "UADMA", "UALICEA", "UBOBA")
SLACK_B = Tenant("slack", "TB", "CB", "UADMB", "UALICEB", "UBOBB")
DISCORD_A = Tenant("discord", "1001", "2001", "3001", "3002", "3003")
DISCORD_B = Tenant("discord", "1002", "2002", "4001", "4002", "4003")


class World:
    """One database, one Dojo per platform (each with its own recording port), one clock."""

    def __init__(self, db: Database, tmp: Path, max_interviewers: int = 4) -> None:
        self.db = db
        self.clock = ManualClock(start=START, speed=0)
        self.ports: dict[str, ConsolePort] = {}
        self.dojos: dict[str, Dojo] = {}
        for platform in ("slack", "discord"):
            port = ConsolePort(Console(file=io.StringIO(), width=200), tmp / platform)
            self.ports[platform] = port
            self.dojos[platform] = Dojo(
                db, port, self.clock, platform, seed="t", max_interviewers=max_interviewers
            )

    def command(
        self,
        tenant: Tenant,
        user: str,
        text: str,
        *,
        admin: bool = False,
        channel: str | None = None,
        thread: str | None = None,
        mentions: tuple[ResolvedUser, ...] = (),
        workspace: str | None = None,
    ) -> Reply:
        reply = self.dojos[tenant.platform].handle_command(
            Command.from_text(
                text,
                tenant.actor(user, admin=admin, workspace=workspace),
                Place(tenant.channel if channel is None else channel, thread),
                mentions=mentions,
            )
        )
        assert reply is not None
        return reply

    def press(
        self,
        tenant: Tenant,
        user: str,
        action_id: str,
        value: str,
        *,
        admin: bool = False,
        channel: str | None = None,
        thread: str | None = None,
        fields: dict[str, str] | None = None,
        workspace: str | None = None,
    ) -> Reply:
        reply = self.dojos[tenant.platform].handle_action(
            Action(
                action_id,
                value,
                tenant.actor(user, admin=admin, workspace=workspace),
                Place(tenant.channel if channel is None else channel, thread),
                fields or {},
            )
        )
        assert reply is not None
        return reply

    def start_mock(self, tenant: Tenant, topic: str = SLUG) -> tuple[int, str]:
        """alice starts a mock with bob (a resolved mention); (number, thread id)."""
        reply = self.command(
            tenant,
            tenant.alice,
            f"mock {topic} <@{tenant.bob}>",
            mentions=(ResolvedUser(tenant.bob, "Bob"),),
        )
        assert reply.message.tone is Tone.SUCCESS, reply.message.text
        with self.db.unit_of_work() as session:
            interview = session.scalars(
                select(Interview)
                .join(Workspace, Workspace.id == Interview.workspace_id)
                .where(Workspace.external_id == tenant.workspace)
                .order_by(Interview.id.desc())
            ).first()
            assert interview is not None and interview.thread_external_id is not None
            return interview.number, interview.thread_external_id

    def workspace_id(self, tenant: Tenant) -> int:
        with self.db.unit_of_work() as session:
            found = session.scalar(
                select(Workspace.id).where(
                    Workspace.platform == tenant.platform,
                    Workspace.external_id == tenant.workspace,
                )
            )
            assert found is not None
            return found

    def channel_posts(self, platform: str) -> list[str]:
        return [
            p.place.channel_id for p in self.ports[platform].posted if p.place.thread_id is None
        ]


@pytest.fixture
def world(bank_db: Database, tmp_path: Path) -> Iterator[World]:
    yield World(bank_db, tmp_path)


def refused(reply: Reply, fragment: str) -> None:
    assert reply.private
    assert reply.message.tone is Tone.ERROR, reply.message.text
    assert fragment in reply.message.text, reply.message.text


PAIRS = [
    pytest.param(SLACK_A, SLACK_B, id="slack"),
    pytest.param(DISCORD_A, DISCORD_B, id="discord"),
]


# -- mocks, votes, controls -----------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_tenant_b_cannot_touch_tenant_a_mocks(world: World, a: Tenant, b: Tenant) -> None:
    number, thread = world.start_mock(a)
    for verb in ("next", "pause", "resume", "extend 5", "end", "join"):
        refused(world.command(b, b.admin, f"{verb} #{number}", admin=True), f"no mock #{number}")
    refused(
        world.command(b, b.alice, f"vote #{number} 3 3 3 3 3 3 hire", admin=True),
        f"no mock #{number}",
    )
    for action in (render.NEXT, render.END, render.PAUSE):
        refused(
            world.press(b, b.admin, action, f"{number}:0", admin=True, thread=thread),
            f"no mock #{number}",
        )
    refused(world.press(b, b.admin, render.SCORE, str(number)), f"no mock #{number}")
    # A's mock did not move
    with world.db.unit_of_work() as session:
        interview = session.scalars(select(Interview).where(Interview.number == number)).one()
        assert (interview.status, interview.phase_index) == ("running", 0)
    # and the same commands work in A
    assert world.command(a, a.bob, f"next #{number}").message.tone is not Tone.ERROR


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_leaderboard_and_progress_are_per_workspace(world: World, a: Tenant, b: Tenant) -> None:
    number, _ = world.start_mock(a)
    world.clock.advance(timedelta(minutes=20))
    world.command(a, a.alice, f"end #{number}")
    with world.db.unit_of_work() as session:
        award(  # through the ledger's one award function, so the running totals follow
            session,
            world.workspace_id(a),
            session.scalars(select(Member.id).where(Member.external_id == a.alice)).one(),
            PointKind.DAILY_ANSWER,
            "prompt:x",
            world.clock.now(),
            5,
        )
    board_a = world.command(a, a.bob, "leaderboard all").message.text
    assert "name-of-" in board_a and "5 pts" in board_a
    board_b = world.command(b, b.alice, "leaderboard all").message.text
    assert a.alice not in board_b and "name-of-" + a.alice not in board_b
    assert "No points" in board_b
    # B names A's user (as if its platform resolved that id): a stranger with no history in B
    report = world.command(
        b, b.alice, f"progress <@{a.alice}>", mentions=(ResolvedUser(a.alice, "Alice"),)
    )
    assert dict(report.message.fields)["Mocks done"] == "0"


# -- the bank -------------------------------------------------------------------------------------


def _draws(world: World, tenant: Tenant, days: int = 12) -> list[str]:
    """The daily questions a channel of `tenant` would get over `days` days (no side effects)."""
    with world.db.unit_of_work() as session:
        workspace = world.workspace_id(tenant)
        channel = session.scalars(
            select(Channel).where(
                Channel.workspace_id == workspace, Channel.external_id == tenant.channel
            )
        ).one()
        slugs = []
        for day in range(days):
            question = daily_question_for_channel(
                session, channel.id, f"s:{day}", None, None, workspace
            )
            assert question is not None
            slugs.append(question.slug)
        session.rollback()
        return slugs


def _yaml(slug: str, family: str = "recommendation") -> str:
    """A pasted bank file with one new question (its text unlike any shipped question)."""
    question = question_dict(
        slug,
        title="Suggest tonight's board game to each table of a games club",
        prompt="A board-game club logs which games each table played and how much fun it was. "
        "Design what proposes tonight's game for every table of four players.",
    )
    return yaml.safe_dump(bank_dict(family, [question]), sort_keys=False)


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_a_bank_change_in_b_leaves_a_unchanged(world: World, a: Tenant, b: Tenant) -> None:
    world.command(a, a.alice, "bank list")  # both workspaces and channels exist
    world.command(b, b.alice, "bank list")
    before = _draws(world, a)
    # B retires what A draws first, and imports a question of its own
    retire = world.command(b, b.admin, f"bank retire {before[0]}", admin=True)
    assert retire.message.tone is Tone.SUCCESS
    imported = world.press(
        b, b.admin, bank_flow.IMPORT, "", admin=True, fields={"yaml": _yaml("club-game-night")}
    )
    assert "1 added" in imported.message.text, imported.message.text
    assert _draws(world, a) == before
    assert before[0] not in _draws(world, b)
    # A does not see B's question anywhere; B sees it everywhere
    refused(world.command(a, a.alice, "bank show club-game-night"), "no question")
    assert (
        "club-game-night" not in world.command(a, a.alice, "bank list recommendation").message.text
    )
    refused(world.command(a, a.alice, "mock club-game-night"), "no questions match")
    assert "club-game-night" in world.command(b, b.alice, "bank list recommendation").message.text
    assert world.command(b, b.alice, "bank show club-game-night").message.title
    exported_a = world.command(a, a.alice, "bank export").message.files
    exported_b = world.command(b, b.alice, "bank export").message.files
    assert not any("club-game-night" in f.content for f in exported_a)
    assert any("club-game-night" in f.content for f in exported_b)
    assert any(f"slug: {before[0]}" in f.content for f in exported_a)
    assert not any(f"slug: {before[0]}" in f.content for f in exported_b)
    # A's stats: nothing retired; B's: one retired, one more question
    stats_a = world.command(a, a.alice, "bank stats").message.text
    stats_b = world.command(b, b.alice, "bank stats").message.text
    assert "0 retired" in stats_a and "1 retired" in stats_b
    # the shared question itself is untouched for everyone
    with world.db.unit_of_work() as session:
        shared = session.scalars(select(Question).where(Question.slug == before[0])).one()
        assert shared.status == "active" and shared.workspace_id is None


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_b_cannot_overwrite_shared_or_a_questions(world: World, a: Tenant, b: Tenant) -> None:
    world.command(a, a.alice, "bank list")
    world.command(b, b.alice, "bank list")
    added = world.press(
        a, a.admin, bank_flow.IMPORT, "", admin=True, fields={"yaml": _yaml("club-game-night")}
    )
    assert "1 added" in added.message.text
    # the same slug from B: refused, A's row untouched; a shipped slug: refused
    hijack = world.press(
        b, b.admin, bank_flow.IMPORT, "", admin=True, fields={"yaml": _yaml("club-game-night")}
    )
    assert "already used by another workspace" in hijack.message.text
    shipped = world.press(
        b, b.admin, bank_flow.IMPORT, "", admin=True, fields={"yaml": _yaml(SLUG)}
    )
    assert "already used by the shared bank" in shipped.message.text
    with world.db.unit_of_work() as session:
        owner = session.scalars(
            select(Question.workspace_id).where(Question.slug == "club-game-night")
        ).one()
        assert owner == world.workspace_id(a)
    # B cannot retire A's question (it does not exist in B's view)
    refused(world.command(b, b.admin, "bank retire club-game-night", admin=True), "no question")
    # a member who is no admin changes nothing
    refused(world.command(a, a.bob, f"bank retire {SLUG}"), "only workspace admins")


def test_stats_count_only_the_workspace_s_own_draws(world: World) -> None:
    a, b = SLACK_A, SLACK_B
    world.start_mock(a)
    drawn_a = world.command(a, a.alice, "bank stats").message.text
    drawn_b = world.command(b, b.alice, "bank stats").message.text
    assert f"{SLUG} (1)" in drawn_a
    assert "Most drawn: none yet" in drawn_b


# -- due work -------------------------------------------------------------------------------------


def test_due_work_is_claimed_only_by_the_owning_process(world: World) -> None:
    """A Slack process for team A, one for team B and a Discord process share the database:
    each posts only its own channels' daily question, exactly once."""
    for tenant in (SLACK_A, SLACK_B, DISCORD_A):
        reply = world.command(tenant, tenant.admin, "schedule 09:00 UTC daily", admin=True)
        assert reply.message.tone is Tone.SUCCESS
    slack_a = world.dojos["slack"]
    slack_a.limit_to(frozenset({SLACK_A.workspace}))
    discord = world.dojos["discord"]
    world.clock.advance(timedelta(hours=2))  # 10:00: every schedule is due
    assert discord.run_due()["daily"] == 1
    assert slack_a.run_due()["daily"] == 1
    assert world.channel_posts("discord") == [DISCORD_A.channel]
    assert world.channel_posts("slack") == [SLACK_A.channel]
    # again: nothing more; team B's prompt waits for a process holding team B's token
    assert slack_a.run_due()["daily"] == 0 and discord.run_due()["daily"] == 0
    team_b = Dojo(world.db, world.ports["slack"], world.clock, "slack", seed="t")
    team_b.limit_to(frozenset({SLACK_B.workspace}))
    assert team_b.run_due()["daily"] == 1
    assert world.channel_posts("slack") == [SLACK_A.channel, SLACK_B.channel]


def test_reminders_idle_closes_and_results_stay_with_their_platform(world: World) -> None:
    number, thread = world.start_mock(DISCORD_A)
    slack = world.dojos["slack"]
    discord = world.dojos["discord"]
    world.clock.advance(timedelta(hours=3))  # the phase ran out long ago; the mock is idle
    assert not any(slack.run_due().values())  # nothing of the Discord server's is due here
    assert world.ports["slack"].posted == []
    done = discord.run_due()
    assert done["reminders"] == 1 and done["idle"] == 1
    assert all(p.place.thread_id == thread for p in world.ports["discord"].posted[2:])
    world.clock.advance(timedelta(days=3))
    assert slack.run_due()["results"] == 0
    with world.db.unit_of_work() as session:
        interview = session.scalars(select(Interview).where(Interview.number == number)).one()
        assert interview.results_final_at is None  # only the Discord process settles it
    discord.run_due()
    with world.db.unit_of_work() as session:
        interview = session.scalars(select(Interview).where(Interview.number == number)).one()
        assert interview.results_final_at is not None


# -- identity -------------------------------------------------------------------------------------


def test_typed_names_and_unresolved_mentions_are_refused(world: World) -> None:
    a = SLACK_A
    refused(world.command(a, a.alice, f"mock {SLUG} @bob"), "@ picker")
    refused(world.command(a, a.alice, f"mock {SLUG} <@UNOBODY>"), "could not confirm <@UNOBODY>")
    refused(world.command(a, a.alice, "progress @admin"), "@ picker")
    with world.db.unit_of_work() as session:
        assert session.scalars(select(Interview)).all() == []
        names = set(session.scalars(select(Member.external_id)))
        assert "bob" not in names and "UNOBODY" not in names


def test_a_label_cannot_rename_a_member(world: World) -> None:
    a = SLACK_A
    reply = world.command(
        a,
        a.alice,
        f"mock {SLUG} <@{a.bob}|The CEO>",
        mentions=(ResolvedUser(a.bob, "Bob Builder"),),
    )
    assert reply.message.tone is Tone.SUCCESS
    root = world.ports["slack"].posted[0].message
    assert dict(root.fields)["Interviewers"] == "Bob Builder"
    assert "CEO" not in str(root)
    with world.db.unit_of_work() as session:
        bob = session.scalars(select(Member).where(Member.external_id == a.bob)).one()
        assert bob.display_name == "Bob Builder"  # shown by name before bob ever used the bot
    # names refresh when the member acts
    world.dojos["slack"].handle_command(
        Command.from_text("leaderboard", Actor(a.workspace, a.bob, "Bobby"), Place(a.channel))
    )
    with world.db.unit_of_work() as session:
        bob = session.scalars(select(Member).where(Member.external_id == a.bob)).one()
        assert bob.display_name == "Bobby"


def test_interviewers_per_mock_are_capped(bank_db: Database, tmp_path: Path) -> None:
    a = SLACK_A
    world = World(bank_db, tmp_path)
    crowd = tuple(ResolvedUser(f"U{i:03d}", f"person {i}") for i in range(25))
    text = "mock " + SLUG + " " + " ".join(f"<@{u.user_id}>" for u in crowd)
    refused(world.command(a, a.alice, text, mentions=crowd), "at most 4 interviewers")
    four = " ".join(f"<@{u.user_id}>" for u in crowd[:4])
    ok = world.command(a, a.alice, f"mock {SLUG} {four}", mentions=crowd[:4])
    assert ok.message.tone is Tone.SUCCESS
    small = World(bank_db, tmp_path, max_interviewers=2)
    three = " ".join(f"<@{u.user_id}>" for u in crowd[4:7])
    refused(
        small.command(a, a.bob, f"mock {SLUG} {three}", mentions=crowd[4:7]),
        "at most 2 interviewers",
    )


def test_interviewer_points_need_taking_part(world: World) -> None:
    """bob and carol are named; carol writes in the thread, dave joins, bob does nothing."""
    a = SLACK_A
    carol, dave = "UCAROLA", "UDAVEA"
    mentions = (ResolvedUser(a.bob, "Bob"), ResolvedUser(carol, "Carol"))
    world.command(a, a.alice, f"mock {SLUG} <@{a.bob}> <@{carol}>", mentions=mentions)
    with world.db.unit_of_work() as session:
        interview = session.scalars(select(Interview)).one()
        number, thread = interview.number, interview.thread_external_id
    assert thread is not None
    dojo = world.dojos["slack"]
    dojo.handle_message(a.actor(carol), Place(a.channel, thread))
    world.command(a, dave, f"join #{number}")
    for _ in range(4):
        world.clock.advance(timedelta(minutes=6))
        world.command(a, a.alice, f"next #{number}")
    with world.db.unit_of_work() as session:
        rows = session.execute(
            select(Member.external_id, PointsEntry.kind).join(
                PointsEntry, PointsEntry.member_id == Member.id
            )
        ).all()
    assert sorted(rows) == sorted(
        [(a.alice, "mock-candidate"), (carol, "mock-interviewer"), (dave, "mock-interviewer")]
    )


# -- shared places, threads, guides, people who left ----------------------------------------------


def test_a_shared_slack_channel_belongs_to_one_workspace(world: World) -> None:
    """Channel CS is shared by teams A and B (Slack Connect); A brought it first."""
    a, b = SLACK_A, SLACK_B
    shared = "CSHARED"
    world.command(a, a.admin, "schedule 09:00 UTC daily", admin=True, channel=shared)
    # B's admin is an ordinary member in A's channel: no schedule change
    refused(
        world.command(b, b.admin, "schedule off", admin=True, channel=shared),
        "only workspace admins",
    )
    world.command(b, b.admin, "schedule 10:00 UTC daily", admin=True)  # B's own channel: fine
    # one daily question in the shared channel, whichever team's process runs
    world.clock.advance(timedelta(hours=2))
    assert world.dojos["slack"].run_due()["daily"] == 2
    assert sorted(world.channel_posts("slack")) == sorted([shared, b.channel])
    # a mock started there by B's user is a mock of A's workspace; buttons act on it
    reply = world.command(b, b.alice, f"mock {SLUG}", channel=shared)
    assert reply.message.tone is Tone.SUCCESS
    with world.db.unit_of_work() as session:
        interview = session.scalars(select(Interview)).one()
        assert interview.workspace_id == world.workspace_id(a)
        number, thread = interview.number, interview.thread_external_id
    pressed = world.press(b, b.alice, render.NEXT, f"{number}:0", channel=shared, thread=thread)
    assert pressed.message.tone is not Tone.ERROR, pressed.message.text
    # in B's own channel, "#1" means B's own mocks (there are none)
    refused(world.command(b, b.alice, f"next #{number}"), f"no mock #{number}")


def test_thread_activity_is_matched_within_its_channel(world: World) -> None:
    a, b = SLACK_A, SLACK_B
    _, thread = world.start_mock(a)
    with world.db.unit_of_work() as session:
        before = session.scalars(select(Interview)).one().last_activity_at
    world.clock.advance(timedelta(minutes=30))
    # the same thread id in another team's channel is another thread
    world.dojos["slack"].handle_message(b.actor(b.bob), Place(b.channel, thread))
    with world.db.unit_of_work() as session:
        assert session.scalars(select(Interview)).one().last_activity_at == before
    world.dojos["slack"].handle_message(a.actor(a.bob), Place(a.channel, thread))
    with world.db.unit_of_work() as session:
        assert session.scalars(select(Interview)).one().last_activity_at > before


def test_the_candidate_sees_only_the_prompt_of_their_running_mock(world: World) -> None:
    a = SLACK_A
    number, _ = world.start_mock(a)
    mine = world.command(a, a.alice, f"bank show {SLUG}").message
    assert "guide stays with your interviewers" in mine.text and not mine.fields
    theirs = world.command(a, a.bob, f"bank show {SLUG}").message
    assert any(name.startswith("Clarify") for name, _ in theirs.fields)
    other = world.command(a, a.alice, "bank show fraud-card-checkout").message
    assert other.fields  # another question: the whole guide
    export = world.command(a, a.alice, "bank export").message  # nor through an export
    assert f"{SLUG} is left out" in export.text and export.files
    assert not any(f"slug: {SLUG}\n" in f.content for f in export.files)
    world.command(a, a.alice, f"end #{number}")
    assert world.command(a, a.alice, f"bank show {SLUG}").message.fields


def test_a_candidate_cannot_interview_on_their_own_running_question(world: World) -> None:
    """Nor get its kit another way: named on a second mock of it, or joining one."""
    a = SLACK_A
    number, _ = world.start_mock(a)  # alice is the candidate of SLUG
    named = world.command(
        a, a.bob, f"mock {SLUG} <@{a.alice}>", mentions=(ResolvedUser(a.alice, "Alice"),)
    )
    assert named.message.tone is Tone.ERROR and "candidate of a running mock" in named.message.text
    solo = world.command(a, a.admin, f"mock {SLUG}")
    assert solo.message.tone is Tone.SUCCESS
    second = solo.message.text.split("#")[1].split()[0].strip(".:")
    joined = world.command(a, a.alice, f"join #{second}").message
    assert joined.tone is Tone.ERROR and "candidate of a running mock" in joined.text
    world.command(a, a.alice, f"end #{number}")
    assert world.command(a, a.alice, f"join #{second}").message.tone is not Tone.ERROR


def test_people_who_left_disappear_from_leaderboards(world: World) -> None:
    a = SLACK_A
    world.command(a, a.alice, "leaderboard")
    world.command(a, a.bob, "leaderboard")
    with world.db.unit_of_work() as session:
        for user, points in ((a.alice, 5), (a.bob, 3)):
            member = session.scalars(select(Member).where(Member.external_id == user)).one()
            award(
                session,
                member.workspace_id,
                member.id,
                PointKind.DAILY_ANSWER,
                "prompt:1",
                world.clock.now(),
                points,
            )
    dojo = world.dojos["slack"]
    assert dojo.member_left(a.workspace, a.alice)
    assert not dojo.member_left(a.workspace, a.alice)  # already gone
    assert not dojo.member_left(a.workspace, "UNKNOWN")
    assert not dojo.member_left(SLACK_B.workspace, a.bob)  # not a member of B
    board = world.command(a, a.bob, "leaderboard all").message.text
    assert "name-of-" + a.alice not in board and "3 pts" in board
    assert dojo.member_returned(a.workspace, a.alice)
    board = world.command(a, a.bob, "leaderboard all").message.text
    assert "5 pts" in board  # history kept
    # leaving again, then acting: they are back
    dojo.member_left(a.workspace, a.alice)
    world.command(a, a.alice, "daily")
    assert "5 pts" in world.command(a, a.bob, "leaderboard all").message.text


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_each_scope_has_its_own_scheduler_leader(db: Database) -> None:
    """On PostgreSQL one process leads per scope: a Slack process and a Discord process both
    run their due work; a second process of the same scope waits."""
    slack_a = Leadership(db, Scope("slack", frozenset({"TA"})))
    slack_a_again = Leadership(db, Scope("slack", frozenset({"TA"})))
    slack_b = Leadership(db, Scope("slack", frozenset({"TB"})))
    discord = Leadership(db, Scope("discord"))
    try:
        assert slack_a.is_leader() and slack_b.is_leader() and discord.is_leader()
        assert not slack_a_again.is_leader()
        slack_a.release()
        assert slack_a_again.is_leader()
    finally:
        for leadership in (slack_a, slack_a_again, slack_b, discord):
            leadership.release()


def test_a_place_without_a_channel_stays_in_the_actor_s_workspace(world: World) -> None:
    """A form that lost its channel id must not land in whichever workspace saw "" first."""
    for tenant in (SLACK_A, SLACK_B):
        world.command(tenant, tenant.alice, "leaderboard", channel="")
    with world.db.unit_of_work() as session:
        owners = set(
            session.scalars(
                select(Workspace.external_id)
                .join(Channel, Channel.workspace_id == Workspace.id)
                .where(Channel.external_id == "")
            )
        )
    assert owners == {SLACK_A.workspace, SLACK_B.workspace}
