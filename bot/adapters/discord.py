"""Discord: the real discord.py client for the core (DESIGN.md §2, §6).

`/mlsd` is an app-command group whose options are turned back into the core's command text, so
the grammar stays in one place. Buttons are dynamic items (their custom ids carry the core's
action id and value) registered at start, so they keep working after a restart. Forms become
modals of at most five inputs; longer forms are filled in pages. The core runs in worker threads;
the ChatPort hands its calls to the client's event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import discord
import yarl
from discord import app_commands

from bot import drafts
from bot.adapters.discord_partners import add_partner_commands
from bot.adapters.discord_render import (
    MAX_MODAL_TITLE,
    NO_PINGS,
    Part,
    clip,
    custom_id,
    form_pages,
    message_parts,
    modal_item,
    view_for,
)
from bot.adapters.faults import attempt_async
from bot.delivery import describe
from bot.engine import Dojo
from bot.grammar import (
    DEFAULT_EXTEND_MINUTES,
    MAX_EXTEND_MINUTES,
    PERIODS,
    SIGNALS,
    USAGE,
    opens_form,
)
from bot.partner_render import REJECT
from bot.port import (
    Action,
    Actor,
    Ambiguous,
    Button,
    Command,
    Delivered,
    Form,
    Message,
    Outcome,
    Place,
    Reply,
    ResolvedUser,
    Style,
)
from bot.ratelimit import Pacer
from bot.render import SCORE
from bot.workqueue import BUSY, WorkQueue, shutdown_signal

log = logging.getLogger("dojo.discord")
PLATFORM = "discord"
# seconds of core work before the interaction is deferred: long enough for a quick answer to go
# out directly, short enough that a queue behind a burst still answers well inside Discord's 3 s.
# A form must be the first response, so what may answer with one waits longer for the core.
ANSWER_WITHIN = 0.15
FORM_WITHIN = 2.0
# the daily fan-out: a bot may make 50 requests a second in all; discord.py follows the
# per-route buckets from the X-RateLimit headers, this leaves room for interactive answers
FANOUT_RATE = "40/second"
FORM_BUTTONS = frozenset({SCORE, REJECT})  # buttons whose answer is a form (score, reason)
MANAGE_GUILD = discord.Permissions(manage_guild=True)
# What the bot needs in a channel: see `invite_url`.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)
T = TypeVar("T")
PORT_TIMEOUT = 60.0  # seconds a core thread waits for a platform call on the client's loop
THREAD_EXISTS = 160004  # "A thread has already been created for this message"


def nonce(key: str | None, part: int) -> str | None:
    """Discord's idempotency key for a message: at most 25 characters, stable per key and part."""
    if key is None:
        return None
    return hashlib.blake2b(f"{key}#{part}".encode(), digest_size=12).hexdigest()


NO_SERVER = (
    "/mlsd works inside a server: a direct message belongs to no server's practice, "
    "so nothing is read or changed from here."
)


def point_at(api_url: str | None, gateway_url: str | None) -> None:
    """Send REST and the gateway elsewhere (HTTP proxies, tests): discord.py reads class attrs."""
    if api_url:
        discord.http.Route.BASE = api_url.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


async def discover_gateway(api_url: str, token: str) -> str:
    """A plain Client does not ask for its gateway; behind DISCORD_API_URL we do (GET /gateway)."""
    import aiohttp

    headers = {"Authorization": f"Bot {token}"}  # Discord does not need it; proxies may
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(f"{api_url.rstrip('/')}/gateway") as response,
    ):
        data = await response.json(content_type=None)
    return str(data["url"])


class RoleError(ValueError):
    """A role named for `dojo admins set` that is unknown or ambiguous; the text says which."""


def admin_role_ids(entries: Sequence[str], roles: Sequence[tuple[str, str]]) -> list[str]:
    """The role ids `dojo admins set` stores: an entry is a role id of the server, or a role
    name that exactly one of its roles has (case-insensitive). `roles` is (id, name) pairs.
    Raises `RoleError` for an unknown or ambiguous entry."""
    ids = {role_id for role_id, _ in roles}
    chosen: set[str] = set()
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        if entry in ids:
            chosen.add(entry)
            continue
        named = [rid for rid, name in roles if name.casefold() == entry.casefold()]
        if not named:
            raise RoleError(f"the server has no role {entry!r}")
        if len(named) > 1:
            raise RoleError(
                f"{len(named)} roles are named {entry!r}: give the one you mean by id "
                f"({', '.join(sorted(named))})"
            )
        chosen.add(named[0])
    return sorted(chosen)


async def fetch_roles(api_url: str, token: str, guild_id: str) -> list[tuple[str, str]]:
    """(id, name) of every role of a server (`GET /guilds/{guild.id}/roles`)."""
    import aiohttp

    headers = {"Authorization": f"Bot {token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(f"{api_url.rstrip('/')}/guilds/{guild_id}/roles") as response,
    ):
        if response.status != 200:
            raise RoleError(f"Discord refused to list the server's roles (HTTP {response.status})")
        data = await response.json(content_type=None)
    return [(str(role["id"]), str(role["name"])) for role in data]


def invite_url(client_id: str, voice_rooms: bool = False) -> str:
    """Manage Channels is asked for only when voice rooms are on (DISCORD_VOICE_ROOMS)."""
    permissions = (
        PERMISSIONS | discord.Permissions(manage_channels=True) if voice_rooms else PERMISSIONS
    )
    return discord.utils.oauth_url(
        client_id, permissions=permissions, scopes=("bot", "applications.commands")
    )


class DiscordPort:
    """The ChatPort: runs discord.py coroutines on the client's loop from the core's threads.

    Keyed posts carry a message `nonce` with `enforce_nonce`, so a repeat after an unanswered
    call returns the first message instead of a second one; `find` has nothing to look up.
    """

    def __init__(self, bot: DojoDiscord) -> None:
        self.bot = bot

    def _run(self, coroutine: Coroutine[Any, Any, Outcome]) -> Outcome:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.bot.loop)
        try:
            return future.result(timeout=PORT_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return Ambiguous(f"no answer within {PORT_TIMEOUT:.0f} s")

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine that is not a delivery (voice rooms) on the client's loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.bot.loop).result(PORT_TIMEOUT)

    def post(self, place: Place, message: Message, key: str | None = None) -> Outcome:
        channel = int(place.thread_id or place.channel_id)
        return self._run(self.bot.send_parts(channel, message, key))

    def start_thread(self, channel_id: str, message: Message, key: str | None = None) -> Outcome:
        return self._run(self.bot.start_thread(int(channel_id), message, key))

    def edit(self, place: Place, message_id: str, message: Message) -> Outcome:
        channel = int(place.thread_id or place.channel_id)
        return self._run(self.bot.edit(channel, int(message_id), message))

    def send_private(self, user_id: str, place: Place, message: Message) -> Outcome:
        """Outside an interaction Discord has no ephemeral messages: a direct message."""
        return self._run(self.bot.direct_message(int(user_id), message))

    def send_direct(self, user_id: str, message: Message, key: str | None = None) -> Outcome:
        return self._run(self.bot.direct_message(int(user_id), message, key))

    def find(self, place: Place, key: str) -> str | None:
        return None  # the nonce makes the repeated post itself idempotent

    @property
    def voice_rooms(self) -> bool:
        return self.bot.voice_rooms

    def open_voice_room(self, channel_id: str, name: str) -> str:
        return self._call(self.bot.open_voice_room(int(channel_id), name))

    def close_voice_room(self, room_id: str) -> None:
        self._call(self.bot.close_voice_room(int(room_id)))


class CoreButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"dojo:(?P<action>[a-z:]+)\|(?P<value>[^|]*)",
):
    """Every button the core renders; matched by custom id, so restarts do not orphan it."""

    def __init__(self, action: str, value: str, label: str = "…") -> None:
        self.action, self.value = action, value
        super().__init__(
            discord.ui.Button(label=label, custom_id=custom_id(Button(label, action, value)))
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CoreButton:
        return cls(match["action"], match["value"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = interaction.client
        assert isinstance(bot, DojoDiscord)
        await bot.on_button(interaction, self.action, self.value)


class FormPage(discord.ui.Modal):
    """One page of a core form; the last page submits the whole form to the core."""

    def __init__(self, bot: DojoDiscord, form: Form, page: int, place: Place) -> None:
        pages = form_pages(form)
        suffix = f" ({page + 1}/{len(pages)})" if len(pages) > 1 else ""
        super().__init__(
            title=clip(form.title + suffix, MAX_MODAL_TITLE),
            timeout=900,
            custom_id=f"form:{form.form_id}:{page}",
        )
        self.bot, self.form, self.page, self.place = bot, form, page, place
        for item in pages[page]:
            self.add_item(modal_item(item))
        self.last = page == len(pages) - 1

    def values(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for child in self.walk_children():
            if isinstance(child, discord.ui.Select):
                fields[str(child.custom_id)] = ",".join(str(v) for v in child.values)
            elif isinstance(child, discord.ui.TextInput):
                fields[str(child.custom_id)] = child.value
        return fields

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self.bot.on_form_page(interaction, self)


class DojoDiscord(discord.AutoShardedClient):
    """The bot. Sharding is automatic when asked for (`shard_count=None`), one shard otherwise."""

    def __init__(
        self,
        dojo_factory: Callable[[DiscordPort], Dojo],
        *,
        sharded: bool = False,
        sync_commands: bool = True,
        voice_rooms: bool = False,
        members_intent: bool = False,
        work: WorkQueue | None = None,
        answer_within: float = ANSWER_WITHIN,
        **options: Any,
    ) -> None:
        """`answer_within`: seconds of core work before a plain answer is deferred (tests that
        check answers rather than deferrals raise it, so a loaded machine does not defer)."""
        intents = discord.Intents.default()  # guild messages without message content
        # GUILD_MEMBER_REMOVE/ADD come only with the privileged Server Members intent, which must
        # also be switched on in the Developer Portal (DISCORD_MEMBERS_INTENT)
        intents.members = members_intent
        options.setdefault("allowed_mentions", NO_PINGS)  # a feature that pings must ask for it
        super().__init__(intents=intents, shard_count=None if sharded else 1, **options)
        self.tree = app_commands.CommandTree(self)
        self.dojo = dojo_factory(DiscordPort(self))
        self.dojo.ctx.fanout = Pacer(FANOUT_RATE)
        self.sync_commands = sync_commands
        self.work = work or WorkQueue()
        self.answer_within = answer_within
        self.voice_rooms = voice_rooms
        self.tree.add_command(build_group(self))
        self.synced = asyncio.Event()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CoreButton)

    async def close(self) -> None:
        """Jobs in flight finish (or are cancelled after a while) before the connection goes:
        their answers still need it."""
        await self.work.drain()
        await super().close()

    async def on_ready(self) -> None:
        if self.sync_commands and not self.synced.is_set():
            for guild in self.guilds:
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            log.info("commands synced to %d guild(s)", len(self.guilds))
        self.synced.set()

    # -- the core, off the event loop ----------------------------------------------------------

    def actor(self, interaction: discord.Interaction[Any]) -> Actor:
        assert interaction.guild_id is not None  # DMs are refused before the core is asked
        return self.actor_of(interaction.guild_id, interaction.user)

    def actor_of(self, guild_id: int, user: discord.abc.User) -> Actor:
        """Admin: Manage Server, or a role whose *id* `dojo admins set` stored (a role name
        can be copied by anyone who may create roles; an id cannot)."""
        roles = {str(r.id) for r in getattr(user, "roles", ()) if not r.is_default()}
        is_admin = isinstance(user, discord.Member) and (
            user.guild_permissions.manage_guild
            # no role but @everyone: no stored role can match, no database read needed
            or bool(roles and roles & self.dojo.admin_ids(str(guild_id)))
        )
        return Actor(str(guild_id), str(user.id), user.display_name, bool(is_admin))

    @staticmethod
    def place_of(interaction: discord.Interaction[Any]) -> Place:
        channel = interaction.channel
        if isinstance(channel, discord.Thread):
            return Place(str(channel.parent_id), str(channel.id))
        return Place(str(interaction.channel_id))

    async def answer(
        self,
        interaction: discord.Interaction[Any],
        work: Callable[[], Reply | None],
        form_possible: bool = False,
    ) -> None:
        """Queue the core's work, or answer "busy" at once when the queue is full.
        `form_possible`: the answer may be a form, so deferring early would lose it."""
        if not self.work.admit():
            await interaction.response.send_message(BUSY, ephemeral=True)
            return
        within = max(FORM_WITHIN, self.answer_within) if form_possible else self.answer_within
        what = f"/{interaction.command.name}" if interaction.command else "button"
        self.work.spawn(self._answer(interaction, work, within, form_possible), what)

    async def _answer(
        self,
        interaction: discord.Interaction[Any],
        work: Callable[[], Reply | None],
        within: float,
        form_possible: bool,
    ) -> None:
        """Run the core; answer in time (defer if it takes long), privately when it says so."""
        task = asyncio.ensure_future(self.work.run_sync(work, opens_form=form_possible))
        done, _ = await asyncio.wait({task}, timeout=within)
        deferred = not done
        if deferred:
            await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await task
        if reply is None:  # a duplicate delivery: already answered
            if not interaction.response.is_done():
                await interaction.response.defer()
            return
        form = reply.message.form
        if form is not None and not interaction.response.is_done():
            await interaction.response.send_modal(
                FormPage(self, form, 0, self.place_of(interaction))
            )
            return
        if deferred and not reply.private:
            # the deferral made the first answer private: a public reply goes to the channel
            posted = await self.send_parts(int(interaction.channel_id or 0), reply.message)
            if isinstance(posted, Delivered):
                await interaction.followup.send("Posted in the channel.", ephemeral=True)
                return
            note = f"I could not post this in the channel: {describe(posted)}."
            reply = Reply(replace(reply.message, text=f"{reply.message.text}\n\n{note}"))
        await self.respond(interaction, reply)

    async def respond(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        message = reply.message
        if message.form is not None:
            message = Message(
                message.text + "\n(Use the command again to open the form.)",
                title=message.title,
                tone=message.tone,
            )
        for part in message_parts(message):
            kwargs = _send_kwargs(part)
            if not interaction.response.is_done():
                await interaction.response.send_message(ephemeral=reply.private, **kwargs)
            else:
                await interaction.followup.send(ephemeral=reply.private, **kwargs)

    async def refuse_dm(self, interaction: discord.Interaction[Any]) -> bool:
        """Interactions without a server (DMs) are answered with a refusal, never pooled."""
        if interaction.guild_id is not None:
            return False
        await interaction.response.send_message(NO_SERVER, ephemeral=True)
        return True

    async def on_command(
        self,
        interaction: discord.Interaction[Any],
        name: str,
        args: Sequence[str | None],
        members: Sequence[discord.abc.User | None] = (),
    ) -> None:
        """`members`: the user options Discord resolved (the only people a command can name)."""
        if await self.refuse_dm(interaction):
            return
        text = " ".join(a for a in args if a)
        place = self.place_of(interaction)
        mentions = tuple(ResolvedUser(str(m.id), m.display_name) for m in members if m is not None)

        def work() -> Reply | None:  # in a worker thread: the admin lookup reads the database
            command = Command(
                name,
                text,
                self.actor(interaction),
                place,
                event_id=f"ix:{interaction.id}",
                mentions=mentions,
            )
            return self.dojo.handle_command(command)

        await self.answer(interaction, work, opens_form(name, text))

    async def on_button(
        self, interaction: discord.Interaction[Any], action_id: str, value: str
    ) -> None:
        if await self.refuse_dm(interaction):
            return
        place = self.place_of(interaction)
        if action_id == "form:next":
            await self.open_next_page(interaction, value, place)
            return

        def work() -> Reply | None:  # in a worker thread: the admin lookup reads the database
            action = Action(
                action_id, value, self.actor(interaction), place, event_id=f"ix:{interaction.id}"
            )
            return self.dojo.handle_action(action)

        await self.answer(interaction, work, action_id in FORM_BUTTONS)

    # -- multi-page forms (Discord modals hold five inputs) ------------------------------------

    async def on_form_page(self, interaction: discord.Interaction[Any], page: FormPage) -> None:
        if await self.refuse_dm(interaction):
            return
        key = (interaction.user.id, f"{page.form.form_id}@{page.form.value}")
        user, now = str(interaction.user.id), self.dojo.ctx.now()
        saved = await self.work.run_sync(drafts.load, self.dojo.db, PLATFORM, user, key[1], now)
        fields = {**(saved[1] if saved else {}), **page.values()}
        if page.last:
            await self.work.run_sync(drafts.drop, self.dojo.db, PLATFORM, user, key[1])
        else:  # in the database: a restart or another shard can take the next page
            await self.work.run_sync(
                drafts.save, self.dojo.db, PLATFORM, user, key[1], page.form, fields, now
            )
        if not page.last:
            total = len(form_pages(page.form))
            following = Button(
                f"Continue ({page.page + 2}/{total})",
                "form:next",
                f"{key[1]}:{page.page + 1}",  # the form, what it is for, the next page
                Style.PRIMARY,
            )
            view = view_for([following])
            assert view is not None
            await interaction.response.send_message(
                f"Saved part {page.page + 1} of {total}.", ephemeral=True, view=view
            )
            return

        def work() -> Reply | None:  # in a worker thread: the admin lookup reads the database
            action = Action(
                page.form.form_id,
                page.form.value,
                self.actor(interaction),
                page.place,
                fields,
                event_id=f"ix:{interaction.id}",
            )
            return self.dojo.handle_action(action)

        await self.answer(interaction, work)  # a form submission: no modal answers a modal

    async def open_next_page(
        self, interaction: discord.Interaction[Any], value: str, place: Place
    ) -> None:
        form_key, _, page = value.rpartition(":")
        saved = await self.work.run_sync(
            drafts.load,
            self.dojo.db,
            PLATFORM,
            str(interaction.user.id),
            form_key,
            self.dojo.ctx.now(),
        )
        if saved is None or not page.isdigit():
            await interaction.response.send_message(
                "That form has expired; start again with the command.", ephemeral=True
            )
            return
        await interaction.response.send_modal(FormPage(self, saved[0], int(page), place))

    # -- what the port asks for ----------------------------------------------------------------

    async def channel(self, channel_id: int) -> discord.abc.Messageable:
        channel = self.get_channel(channel_id) or await self.fetch_channel(channel_id)
        assert isinstance(channel, discord.abc.Messageable)
        return channel

    async def send_parts(
        self, channel_id: int, message: Message, key: str | None = None
    ) -> Outcome:
        channel, outcome = await attempt_async(self.channel(channel_id), "fetch channel")
        if channel is None:
            return outcome
        last: discord.Message | None = None
        for index, part in enumerate(message_parts(message)):
            last, outcome = await attempt_async(
                channel.send(**_send_kwargs(part, nonce(key, index))), "send message"
            )
            if last is None:
                return outcome
        assert last is not None
        return Delivered(str(last.id))

    async def start_thread(
        self, channel_id: int, message: Message, key: str | None = None
    ) -> Outcome:
        channel, outcome = await attempt_async(self.channel(channel_id), "fetch channel")
        if channel is None:
            return outcome
        parts = message_parts(message)
        root, outcome = await attempt_async(
            channel.send(**_send_kwargs(parts[0], nonce(key, 0))), "send thread root"
        )
        if root is None:
            return outcome
        thread, outcome = await attempt_async(
            root.create_thread(
                name=clip(message.title or message.text, 100), auto_archive_duration=1440
            ),
            "create thread",
        )
        if thread is None:
            if getattr(outcome, "code", "") == str(THREAD_EXISTS):  # a repeat: it is there
                return Delivered(str(root.id))  # a message's thread has the message's id
            return outcome
        for index, part in enumerate(parts[1:], start=1):
            sent, outcome = await attempt_async(
                thread.send(**_send_kwargs(part, nonce(key, index))), "send in thread"
            )
            if sent is None:
                log.warning(
                    "thread %s opened, but part %d was refused: %s", thread.id, index, outcome
                )
        return Delivered(str(thread.id))

    async def edit(self, channel_id: int, message_id: int, message: Message) -> Outcome:
        channel, outcome = await attempt_async(self.channel(channel_id), "fetch channel")
        if channel is None:
            return outcome
        part = message_parts(message)[-1]
        partial = channel.get_partial_message(message_id)  # type: ignore[attr-defined]
        edited, outcome = await attempt_async(
            partial.edit(
                embeds=part.embeds, view=view_for(part.buttons), allowed_mentions=NO_PINGS
            ),
            "edit message",
        )
        return Delivered(str(message_id)) if edited is not None else outcome

    async def direct_message(
        self, user_id: int, message: Message, key: str | None = None
    ) -> Outcome:
        async def fetch() -> discord.User:
            return self.get_user(user_id) or await self.fetch_user(user_id)

        user, outcome = await attempt_async(fetch(), "fetch user")
        if user is None:
            return outcome
        last: discord.Message | None = None
        for index, part in enumerate(message_parts(message)):
            last, outcome = await attempt_async(
                user.send(**_send_kwargs(part, nonce(key, index))), "direct message"
            )
            if last is None:
                return outcome
        return Delivered(str(last.id) if last is not None else "")

    async def open_voice_room(self, channel_id: int, name: str) -> str:
        """A voice channel in the text channel's category (Manage Channels)."""
        channel = await self.channel(channel_id)
        assert isinstance(channel, discord.TextChannel)
        room = await channel.guild.create_voice_channel(
            name, category=channel.category, reason="mlsd-dojo mock"
        )
        return str(room.id)

    async def close_voice_room(self, room_id: int) -> None:
        try:
            room = self.get_channel(room_id) or await self.fetch_channel(room_id)
            assert isinstance(room, discord.VoiceChannel)
            await room.delete(reason="mlsd-dojo mock ended")
        except discord.NotFound:
            pass  # removed by hand already

    # -- events ---------------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """Replies in threads: daily participation, mock activity (authorship, not content)."""
        if message.author.bot or not isinstance(message.channel, discord.Thread):
            return
        if message.guild is None:
            return
        actor = Actor(str(message.guild.id), str(message.author.id), message.author.display_name)
        place = Place(str(message.channel.parent_id), str(message.channel.id))
        await self.work.run_sync(self.dojo.handle_message, actor, place, f"msg:{message.id}")

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """GUILD_MEMBER_REMOVE (Server Members intent): hidden from leaderboards, history kept."""
        await self.work.run_sync(self.dojo.member_left, str(payload.guild_id), str(payload.user.id))

    async def on_member_join(self, member: discord.Member) -> None:
        """GUILD_MEMBER_ADD: someone who left and came back reappears on leaderboards."""
        await self.work.run_sync(self.dojo.member_returned, str(member.guild.id), str(member.id))


def _send_kwargs(part: Part, nonce: str | None = None) -> dict[str, Any]:
    """Embeds never ping; a message that names groups mentions exactly those roles (and no user,
    @everyone or other role), everything else mentions nobody."""
    kwargs: dict[str, Any] = {"embeds": part.embeds, "allowed_mentions": NO_PINGS}
    if nonce is not None:  # discord.py sends enforce_nonce with it
        kwargs["nonce"] = nonce
    roles = [discord.Object(int(group)) for group in part.mentions if group.isdigit()]
    if roles:
        kwargs["content"] = " ".join(f"<@&{role.id}>" for role in roles)
        kwargs["allowed_mentions"] = discord.AllowedMentions(
            everyone=False, users=False, roles=roles, replied_user=False
        )
    view = view_for(part.buttons)
    if view is not None:
        kwargs["view"] = view
    if part.files:
        import io

        kwargs["files"] = [
            discord.File(io.BytesIO(data), filename=name) for name, data in part.files
        ]
    return kwargs


# -- the /mlsd command group -------------------------------------------------------------------


def _describe(name: str) -> str:
    return clip(USAGE[name][1], 100)


def build_group(bot: DojoDiscord) -> app_commands.Group:
    group = app_commands.Group(name="mlsd", description="ML system design practice")

    def mention(member: discord.abc.User | None) -> str | None:
        return f"<@{member.id}>" if member else None

    def mock_ref(number: int | None) -> str | None:
        return f"#{number}" if number is not None else None

    async def topics(
        interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        guild = str(interaction.guild_id) if interaction.guild_id else None
        return await bot.work.run_sync(_topic_choices, bot.dojo, guild, current)

    @group.command(name="help", description=_describe("help"))
    async def help_(interaction: discord.Interaction[Any], command: str | None = None) -> None:
        await bot.on_command(interaction, "help", [command])

    @group.command(name="daily", description=_describe("daily"))
    async def daily(interaction: discord.Interaction[Any], now: bool = False) -> None:
        await bot.on_command(interaction, "daily", ["now" if now else None])

    @group.command(name="schedule", description=_describe("schedule"))
    @app_commands.describe(
        time="HH:MM, or off",
        timezone="e.g. Europe/Berlin",
        days="e.g. mon-fri, daily",
        ping="a role the daily post mentions",
        no_ping="stop mentioning a role",
    )
    async def schedule(
        interaction: discord.Interaction[Any],
        time: str,
        timezone: str | None = None,
        days: str | None = None,
        ping: discord.Role | None = None,
        no_ping: bool = False,
    ) -> None:
        mention = f"ping <@&{ping.id}>" if ping else "ping off" if no_ping else None
        await bot.on_command(interaction, "schedule", [time, timezone, days, mention])

    @group.command(name="mock", description=_describe("mock"))
    @app_commands.autocomplete(topic=topics)
    async def mock(
        interaction: discord.Interaction[Any],
        topic: str | None = None,
        interviewer: discord.Member | None = None,
        interviewer2: discord.Member | None = None,
        quick: bool = False,
    ) -> None:
        await bot.on_command(
            interaction,
            "mock",
            [topic, "quick" if quick else None, mention(interviewer), mention(interviewer2)],
            [interviewer, interviewer2],
        )

    def control(verb: str) -> None:
        async def run(interaction: discord.Interaction[Any], mock: int | None = None) -> None:
            await bot.on_command(interaction, verb, [mock_ref(mock)])

        group.command(name=verb, description=_describe(verb))(run)

    for verb in ("join", "next", "pause", "resume", "end"):
        control(verb)

    @group.command(name="extend", description=_describe("extend"))
    async def extend(
        interaction: discord.Interaction[Any],
        minutes: app_commands.Range[int, 1, MAX_EXTEND_MINUTES] = DEFAULT_EXTEND_MINUTES,
        mock: int | None = None,
    ) -> None:
        await bot.on_command(interaction, "extend", [str(minutes), mock_ref(mock)])

    @group.command(name="vote", description=_describe("vote"))
    @app_commands.describe(scores="six scores 1-4 in rubric order, e.g. 3 4 2 3 3 4 (none: form)")
    @app_commands.choices(signal=[app_commands.Choice(name=s, value=s) for s in SIGNALS])
    async def vote(
        interaction: discord.Interaction[Any],
        mock: int | None = None,
        scores: str | None = None,
        signal: app_commands.Choice[str] | None = None,
        comment: str | None = None,
    ) -> None:
        await bot.on_command(
            interaction, "vote", [mock_ref(mock), scores, signal.value if signal else None, comment]
        )

    @group.command(name="leaderboard", description=_describe("leaderboard"))
    @app_commands.choices(period=[app_commands.Choice(name=p, value=p) for p in PERIODS])
    async def leaderboard(
        interaction: discord.Interaction[Any], period: app_commands.Choice[str] | None = None
    ) -> None:
        await bot.on_command(interaction, "leaderboard", [period.value if period else None])

    @group.command(name="progress", description=_describe("progress"))
    async def progress(
        interaction: discord.Interaction[Any], member: discord.Member | None = None
    ) -> None:
        await bot.on_command(interaction, "progress", [mention(member)], [member])

    @group.command(name="bank", description=_describe("bank"))
    @app_commands.choices(
        action=[
            app_commands.Choice(name=v, value=v)
            for v in ("list", "show", "add", "import", "export", "retire", "stats", "review")
        ]
    )
    @app_commands.autocomplete(argument=topics)
    async def bank(
        interaction: discord.Interaction[Any],
        action: app_commands.Choice[str],
        argument: str | None = None,
    ) -> None:
        await bot.on_command(interaction, "bank", [action.value, argument])

    add_partner_commands(group, bot, topics)
    return group


def _topic_choices(
    dojo: Dojo, guild_id: str | None, current: str
) -> list[app_commands.Choice[str]]:
    """Families and question slugs of the server's bank that start with (or contain) what was
    typed, at most 25."""
    wanted = current.strip().lower()
    names = dojo.topics(guild_id)
    matches = [n for n in names if n.startswith(wanted)] + [
        n for n in names if wanted and wanted in n and not n.startswith(wanted)
    ]
    return [app_commands.Choice(name=n, value=n) for n in matches[:25]]


def run_discord(
    dojo_factory: Callable[[DiscordPort], Dojo],
    token: str,
    api_url: str | None,
    gateway_url: str | None,
    sharded: bool,
    voice_rooms: bool = False,
    members_intent: bool = False,
    work: WorkQueue | None = None,
) -> None:
    """Connect and serve until interrupted; the scheduler runs beside the gateway connection."""
    from bot.scheduler import Ticker

    if api_url and not gateway_url:
        gateway_url = asyncio.run(discover_gateway(api_url, token))
    point_at(api_url, gateway_url)
    bot = DojoDiscord(
        dojo_factory,
        sharded=sharded,
        voice_rooms=voice_rooms,
        members_intent=members_intent,
        work=work,
    )
    ticker = Ticker(bot.dojo)
    ticker.start()
    try:
        asyncio.run(_serve(bot, token))
    finally:
        ticker.stop()


async def _serve(bot: DojoDiscord, token: str) -> None:
    """`Client.run` without its Ctrl-C-only handling: SIGTERM (systemd, containers) closes
    the client the same way, after the interactions in flight are answered."""
    stop = shutdown_signal()
    async with bot:
        runner = asyncio.create_task(bot.start(token))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not runner.done():
            await bot.close()
        await runner  # a login failure surfaces here


def sync_commands(
    dojo_factory: Callable[[DiscordPort], Dojo],
    token: str,
    api_url: str | None,
    gateway_url: str | None,
) -> int:
    """Connect, sync `/mlsd` to every guild the bot is in, disconnect; returns the guild count."""
    if api_url and not gateway_url:
        gateway_url = asyncio.run(discover_gateway(api_url, token))
    point_at(api_url, gateway_url)
    bot = DojoDiscord(dojo_factory)

    async def main() -> int:
        async with bot:
            runner = asyncio.create_task(bot.start(token))
            await asyncio.wait_for(bot.synced.wait(), timeout=120)
            count = len(bot.guilds)
            await bot.close()
            await asyncio.gather(runner, return_exceptions=True)
            return count

    return asyncio.run(main())


def client_id_from_token(token: str) -> str:
    """A bot token starts with the bot's user id (= the application id), base64-encoded."""
    import base64

    head = token.split(".", 1)[0]
    return base64.b64decode(head + "=" * (-len(head) % 4)).decode()
