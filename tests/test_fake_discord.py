"""The real discord.py client against the fake Discord: login, gateway, commands, components.

No project code: a plain `discord.Client` with a command tree and a persistent view runs in its
own event-loop thread, the test plays Discord through `FakeDiscord` and waits for the calls.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import discord
import pytest
from discord import app_commands

from tests.fake_discord import EPHEMERAL, MANAGE_GUILD, FakeDiscord, pointed_at_fake

TOKEN = "fake-bot-token"
T = TypeVar("T")


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with pointed_at_fake(TOKEN) as server:
        yield server


class Running:
    """A client started in a background event loop; `call` runs a coroutine there."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.main = asyncio.run_coroutine_threadsafe(client.start(TOKEN), self.loop)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.call(self.client.close())
        self.main.result(10)
        self.call(self._cancel_leftovers())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @staticmethod
    async def _cancel_leftovers() -> None:
        """Cancel what discord.py leaves behind (e.g. a pending ready timer) before closing."""
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class AnswerModal(discord.ui.Modal, title="Your answer"):
    answer: discord.ui.Label[AnswerModal] = discord.ui.Label(
        text="Answer", component=discord.ui.TextInput(custom_id="answer")
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.answer.component, discord.ui.TextInput)
        value = self.answer.component.value
        await interaction.response.send_message(f"got {value}", ephemeral=True)


class Board(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Answer", custom_id="t:1")
    async def answer(self, interaction: discord.Interaction, _: discord.ui.Button[Board]) -> None:
        await interaction.response.send_modal(AnswerModal(custom_id="m:1"))

    @discord.ui.button(label="Close", custom_id="t:2")
    async def close(self, interaction: discord.Interaction, _: discord.ui.Button[Board]) -> None:
        await interaction.response.edit_message(content="closed", view=None)


class SmokeClient(discord.Client):
    def __init__(self, guild_id: str, intents: discord.Intents) -> None:
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.guild = discord.Object(int(guild_id))
        self.tree = app_commands.CommandTree(self)
        self.seen: list[str] = []
        self.resumed = 0
        mlsd = app_commands.Group(name="mlsd", description="ML system design dojo")

        @mlsd.command(name="help", description="How the dojo works")
        async def help_(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("hi", ephemeral=True)

        self.tree.add_command(mlsd, guild=self.guild)

    async def setup_hook(self) -> None:
        self.add_view(Board())

    async def on_resumed(self) -> None:
        self.resumed += 1

    async def on_message(self, message: discord.Message) -> None:
        if message.author != self.user:
            self.seen.append(message.content)


def message_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = True
    return intents


def test_discord_py_client_against_the_fake(fake: FakeDiscord) -> None:
    client = SmokeClient(fake.guild_id, message_intents())
    running = Running(client)
    try:
        fake.wait_connected()
        running.call(client.wait_until_ready())
        assert client.user is not None and str(client.user.id) == fake.bot["id"]
        login = fake.since(0, "GET", "/users/@me")[0]
        assert login.authorization == f"Bot {TOKEN}"
        assert fake.since(0, "GET", "/oauth2/applications/@me")
        identify = next(p for p in fake.gateway_received if p["op"] == 2)
        assert identify["d"]["intents"] == message_intents().value
        guild = client.get_guild(int(fake.guild_id))
        assert guild is not None and guild.get_channel(int(fake.channel_id)) is not None

        # Sync the tree to the guild: a bulk overwrite that assigns ids.
        synced = running.call(client.tree.sync(guild=client.guild))
        assert [c.name for c in synced] == ["mlsd"]
        put = fake.wait_call("PUT", f"/guilds/{fake.guild_id}/commands")
        assert put.body[0]["options"][0]["name"] == "help"

        # /mlsd help → an ephemeral channel message.
        slash = fake.slash_command("mlsd", "help", user=fake.alice)
        assert slash["data"]["guild_id"] == fake.guild_id
        assert slash["data"]["id"] == fake.commands[fake.guild_id][0]["id"]
        assert fake.dispatch("INTERACTION_CREATE", slash) == 1
        answer = fake.callback(slash)
        assert answer.status == 200 and answer.query["with_response"] in ("1", "true")
        assert answer.body["type"] == 4
        assert answer.body["data"]["content"] == "hi"
        assert answer.body["data"]["flags"] == EPHEMERAL

        # A message with a file and the persistent buttons, sent as multipart.
        async def post() -> discord.Message:
            channel = client.get_channel(int(fake.channel_id))
            assert isinstance(channel, discord.TextChannel)
            png = discord.File(io.BytesIO(b"\x89PNG fake"), filename="board.png")
            return await channel.send("Today's prompt", file=png, view=Board())

        mark = fake.mark()
        message = running.call(post())
        sent = fake.wait_call("POST", f"/channels/{fake.channel_id}/messages", after=mark)
        assert sent.filenames == ["board.png"]
        assert sent.files[0].data == b"\x89PNG fake"
        assert sent.body["content"] == "Today's prompt"
        assert message.attachments[0].filename == "board.png"
        assert running.call(message.attachments[0].read()) == b"\x89PNG fake"
        stored = fake.messages[str(message.id)]
        assert [b["custom_id"] for b in stored["components"][0]["components"]] == ["t:1", "t:2"]

        # Button → modal; modal submit → ephemeral answer with the typed value.
        press = fake.button_press("t:1", stored, user=fake.bob)
        fake.dispatch("INTERACTION_CREATE", press)
        opened = fake.callback(press)
        assert opened.body["type"] == 9 and opened.body["data"]["custom_id"] == "m:1"
        submit = fake.modal_submit("m:1", {"answer": "42"}, user=fake.bob)
        assert submit["data"]["components"][0]["type"] == 18
        assert submit["message"]["id"] == stored["id"]
        fake.dispatch("INTERACTION_CREATE", submit)
        got = fake.callback(submit)
        assert got.body["type"] == 4
        assert got.body["data"]["content"] == "got 42"
        assert got.body["data"]["flags"] == EPHEMERAL

        # The other button edits the message it sits on (UPDATE_MESSAGE).
        close = fake.button_press("t:2", stored, user=fake.bob)
        fake.dispatch("INTERACTION_CREATE", close)
        assert fake.callback(close).body["type"] == 7
        assert fake.messages[str(message.id)]["content"] == "closed"
        assert fake.messages[str(message.id)]["components"] == []

        # A thread from the message (its id is the message's), a post in it, a user's reply.
        mark = fake.mark()
        thread = running.call(message.create_thread(name="Mock interview"))
        path = f"/channels/{fake.channel_id}/messages/{message.id}/threads"
        assert fake.wait_call("POST", path, after=mark).body["name"] == "Mock interview"
        assert thread.id == message.id and thread.parent_id == int(fake.channel_id)
        running.call(thread.send("Welcome"))
        fake.wait_call("POST", f"/channels/{thread.id}/messages", after=mark)
        fake.dispatch("MESSAGE_CREATE", fake.message_create(thread.id, fake.bob, "my answer"))
        fake.wait_for(lambda: "my answer" in client.seen)

        # A 429 with Discord's headers is retried by discord.py.
        mark = fake.mark()
        fake.fail_once("POST", f"/channels/{thread.id}/messages", retry_after=0.01)
        running.call(thread.send("again"))
        assert [c.status for c in fake.since(mark, "POST", f"/channels/{thread.id}/")] == [429, 200]

        # A dropped socket is resumed, and events flow again.
        fake.disconnect(4000)
        fake.wait_for(lambda: client.resumed == 1)
        assert [p["op"] for p in fake.gateway_received if p["op"] in (2, 6)] == [2, 6]
        fake.dispatch("MESSAGE_CREATE", fake.message_create(thread.id, fake.bob, "after resume"))
        fake.wait_for(lambda: "after resume" in client.seen)
    finally:
        running.close()
    fake.wait_for(lambda: fake.connected == 0)


def test_sharded_client_and_message_content_intent(fake: FakeDiscord) -> None:
    sharded = discord.AutoShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    seen: list[str] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    sharded.event(on_message)
    running = Running(sharded)
    try:
        fake.wait_connected()
        running.call(sharded.wait_until_ready())
        assert fake.since(0, "GET", "/gateway/bot")
        identify = next(p for p in fake.gateway_received if p["op"] == 2)
        assert identify["d"]["shard"] == [0, 1]
        # Without the MESSAGE_CONTENT intent Discord blanks other people's messages...
        fake.dispatch("MESSAGE_CREATE", fake.message_create(fake.channel_id, fake.bob, "secret"))
        # ...but not those that mention the bot.
        mention = f"<@{fake.bot['id']}> hello"
        fake.dispatch("MESSAGE_CREATE", fake.message_create(fake.channel_id, fake.bob, mention))
        fake.wait_for(lambda: len(seen) == 2)
        assert seen == ["", mention]
        # Unknown routes are 404 JSON, recorded.
        with pytest.raises(discord.NotFound):
            running.call(sharded.http.request(discord.http.Route("GET", "/nowhere")))
        assert fake.since(0, "GET", "/nowhere")[0].status == 404
    finally:
        running.close()


class Picker(discord.ui.View):
    @discord.ui.select(custom_id="s:1", options=[discord.SelectOption(label=x) for x in "abc"])
    async def pick(
        self, interaction: discord.Interaction, select: discord.ui.Select[Picker]
    ) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content=f"picked {select.values[0]}")


class FollowupClient(SmokeClient):
    def __init__(self, guild_id: str) -> None:
        super().__init__(guild_id, message_intents())

        @self.tree.command(name="start", description="Start a mock", guild=self.guild)
        async def start(interaction: discord.Interaction, topic: str, minutes: int) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send(f"{topic} for {minutes}")
            await interaction.edit_original_response(content=f"{topic} for {minutes}!")
            await interaction.followup.send("pick one", view=Picker(), ephemeral=True)


def test_deferred_followups_fetches_and_errors(fake: FakeDiscord) -> None:
    client = FollowupClient(fake.guild_id)
    running = Running(client)
    try:
        running.call(client.wait_until_ready())
        running.call(client.tree.sync(guild=client.guild))
        schema = fake.commands[fake.guild_id]
        assert {c["name"] for c in schema} == {"mlsd", "start"}

        # Deferred response, first follow-up fills the "thinking" message, then an edit.
        slash = fake.slash_command("start", options={"topic": "feeds", "minutes": 30})
        assert slash["data"]["options"][1] == {"name": "minutes", "type": 4, "value": 30}
        mark = fake.mark()
        fake.dispatch("INTERACTION_CREATE", slash)
        assert fake.callback(slash).body == {"type": 5}
        fake.wait_call("PATCH", "/messages/@original", after=mark)
        fake.wait_for(lambda: len(fake.since(mark, "POST", "/webhooks/")) == 2)
        record = fake.interactions[slash["id"]]
        original = fake.messages[record.original_id or ""]
        assert original["content"] == "feeds for 30!" and not original["flags"]
        picker_msg = fake.messages[record.followup_ids[0]]
        assert picker_msg["flags"] == EPHEMERAL
        assert [c.query["wait"] for c in fake.since(mark, "POST", "/webhooks/")] == ["1", "1"]

        # A select on the ephemeral follow-up: defer the update, then edit that message.
        choice = fake.select("s:1", ["b"], picker_msg, user=fake.bob)
        fake.dispatch("INTERACTION_CREATE", choice)
        assert fake.callback(choice).body == {"type": 6}
        fake.wait_for(lambda: fake.messages[picker_msg["id"]]["content"] == "picked b")

        # Fetches and a DM.
        async def fetches() -> tuple[discord.Member, discord.TextChannel]:
            guild = client.get_guild(int(fake.guild_id))
            assert guild is not None
            member = await guild.fetch_member(int(fake.alice["id"]))
            channel = await client.fetch_channel(int(fake.channel_id))
            assert isinstance(channel, discord.TextChannel)
            thread = await channel.create_thread(
                name="solo", type=discord.ChannelType.public_thread
            )
            assert isinstance(await client.fetch_channel(thread.id), discord.Thread)
            dm = await member.create_dm()
            await dm.send("psst")
            return member, channel

        member, channel = running.call(fetches())
        assert member.guild_permissions.manage_guild
        guild = client.get_guild(int(fake.guild_id))
        assert guild is not None
        bob = running.call(guild.fetch_member(int(fake.bob["id"])))
        assert not bob.guild_permissions.manage_guild
        fake.set_manage_guild(fake.bob, True)
        bob = running.call(guild.fetch_member(int(fake.bob["id"])))
        assert bob.guild_permissions.manage_guild
        promoted = fake.slash_command("mlsd", "help", user=fake.bob)
        assert int(promoted["member"]["permissions"]) & MANAGE_GUILD
        assert channel.name == "practice"
        assert fake.since(0, "POST", f"/channels/{fake.channel_id}/threads")[0].body["type"] == 11

        # Errors come back as Discord's JSON errors.
        with pytest.raises(discord.HTTPException) as too_long:
            running.call(channel.send("x" * 2001))
        assert too_long.value.code == 50035
        with pytest.raises(discord.NotFound) as unknown:
            running.call(client.fetch_channel(1))
        assert unknown.value.code == 10003
        with pytest.raises(AssertionError, match="not registered"):
            fake.slash_command("unknown")  # Discord never sends commands the bot did not sync
    finally:
        running.close()
