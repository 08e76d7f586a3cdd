"""A local stand-in for Discord: the REST API under /api/v10 and the gateway WebSocket.

The real discord.py client is pointed at it by setting ``discord.http.Route.BASE`` to
``f"{fake.base_url}/api/v10"`` and ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` to
``yarl.URL(fake.gateway_url)``. Nothing reaches discord.com.

REST answers carry the exact content type ``application/json`` (discord.py compares it
literally, so ``web.json_response``'s ``; charset=utf-8`` would make it read text), the
``X-RateLimit-*`` headers and ``Via`` (discord.py treats a 429 without ``Via`` as a Cloudflare
ban). Every request is recorded as a `Call` (JSON body, or for multipart the ``payload_json``
part plus the uploaded files). The gateway says HELLO, answers IDENTIFY with READY and one
GUILD_CREATE, acknowledges heartbeats, resumes sessions, answers member requests, and filters
what it dispatches by the intents the client identified with (and blanks message content
without the MESSAGE_CONTENT intent, as Discord does).

The fake keeps a small world: one guild with a category and a text channel, an owner, an
admin with Manage Server ("alice") and a plain member ("bob"), the messages and threads the
bot and tests create, the application commands the bot synced, and the interactions tests
dispatch. Builders (`slash_command`, `button_press`, `select`, `modal_submit`,
`message_create`) return gateway ``d`` payloads in Discord's documented shapes; send them
with `dispatch`. Tests wait for calls (`wait_for`, `wait_call`) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
import math
import mimetypes
import re
import secrets
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import discord
import yarl
from aiohttp import BodyPartReader, WSMsgType, web

from tests.fault_plan import FaultPlan
from tests.slack_wire import Server

DISCORD_EPOCH_MS = 1420070400000
API_PREFIX = "/api/v10"

# Permission bits (https://discord.com/developers/docs/topics/permissions).
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | CREATE_PRIVATE_THREADS
    | SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_MESSAGES | MANAGE_THREADS

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
GUILD_MESSAGE_TYPING = 1 << 11
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
DIRECT_MESSAGE_TYPING = 1 << 14
MESSAGE_CONTENT = 1 << 15

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
HAS_THREAD = 1 << 5

# Interaction and callback types.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
SINGLE_VALUE_INPUTS = (4, 21, 23)  # text input, radio group, checkbox: "value", not "values"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


# -- records ----------------------------------------------------------------------------------


@dataclass
class Upload:
    """One file part of a multipart request (``files[N]``)."""

    field: str
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class Call:
    """One REST request: ``path`` is relative to /api/v10 (e.g. ``/channels/1/messages``)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    files: list[Upload]
    authorization: str | None
    at: float
    status: int = 0

    @property
    def filenames(self) -> list[str]:
        return [f.filename for f in self.files]


@dataclass
class Interaction:
    """An interaction a builder created, and what the bot answered to it."""

    id: str
    token: str
    type: int
    channel_id: str
    guild_id: str | None
    user: dict[str, Any]
    payload: dict[str, Any]
    message_id: str | None = None
    response_type: int | None = None
    original_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)


@dataclass
class _Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    files: list[Upload]


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


_Handler = Callable[[_Request], _Reply]


@dataclass
class _Failure:
    method: str
    path_contains: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class _Session:
    id: str
    intents: int
    shard: list[int] | None
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Socket:
    ws: web.WebSocketResponse
    lock: asyncio.Lock
    session: _Session | None = None
    ready: bool = False
    closed_by_server: bool = False


def ok(body: Any, status: int = 200) -> _Reply:
    return _Reply(status, body)


def no_content() -> _Reply:
    return _Reply(204)


def error(status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> _Reply:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return _Reply(status, body)


def invalid_form(errors: dict[str, Any]) -> _Reply:
    return error(400, 50035, "Invalid Form Body", errors)


def _field_error(path: list[str], code: str, message: str) -> dict[str, Any]:
    """Discord nests form errors by the field's path: {"content": {"_errors": [...]}}."""
    tree: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        tree = {key: tree}
    return tree


def _int_flag(value: Any) -> int:
    return int(value or 0)


# -- the fake ---------------------------------------------------------------------------------


@dataclass
class FakeDiscord:
    """Discord's REST API and gateway on a local port, with a small guild to talk in.

    ``token``: when set, REST calls (except interaction callbacks and webhooks, which Discord
    authenticates by their token) must send ``Authorization: Bot <token>`` or get a 401, and an
    IDENTIFY with another token is closed with 4004.
    """

    token: str | None = None
    guild_name: str = "Dojo"
    bot_name: str = "dojo"
    heartbeat_interval: int = 41250
    shards: int = 1
    echo: bool = True
    calls: list[Call] = field(default_factory=list)
    gateway_received: list[dict[str, Any]] = field(default_factory=list)
    gateway_sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    plan: FaultPlan = field(default_factory=FaultPlan)  # scripted refusals and dropped answers
    nonces: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # seconds every REST answer waits before it leaves, as a real round trip to Discord does;
    # may be changed while running (the load bench compares an instant API with a realistic one)
    latency: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._last_id = 0
        self.base_url = ""
        self.gateway_url = ""
        self.heartbeats = 0
        self._loop_thread = 0
        self._failures: list[_Failure] = []
        self._sockets: list[_Socket] = []
        self._sessions: dict[str, _Session] = {}
        self._routes: list[tuple[str, str, re.Pattern[str], _Handler]] = []
        self._pending_events: list[tuple[str, dict[str, Any]]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self._users_by_id: dict[str, dict[str, Any]] = {}
        self.members: dict[str, dict[str, Any]] = {}
        self.roles: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.attachment_data: dict[str, bytes] = {}
        self.commands: dict[str | None, list[dict[str, Any]]] = {None: []}
        self.synced = False
        self.interactions: dict[str, Interaction] = {}
        self._by_token: dict[str, Interaction] = {}
        self.modals: dict[str, dict[str, Any]] = {}
        self._modal_origin: dict[str, str | None] = {}
        self._build_world()
        self._register_routes()

    # -- world ---------------------------------------------------------------------------------

    def new_id(self) -> str:
        """A snowflake: the current time in its top bits, strictly increasing."""
        with self._lock:
            candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
            self._last_id = max(self._last_id + 1, candidate)
            return str(self._last_id)

    def _build_world(self) -> None:
        self.bot = self._make_user(self.bot_name, bot=True)
        self.application_id = self.bot["id"]
        self.guild_id = self.new_id()
        self.guild_names = {self.guild_id: self.guild_name}  # every server the bot is in
        self.joined_at = now_iso()
        self.roles[self.guild_id] = self._role(self.guild_id, "@everyone", EVERYONE_PERMISSIONS, 0)
        admin_role = self.add_role("Dojo Admin", MANAGE_GUILD)
        self.admin_role_id = admin_role["id"]
        bot_role = self.add_role(self.bot_name, BOT_PERMISSIONS)
        bot_role.update(managed=True, tags={"bot_id": self.bot["id"]})
        self._add_member(self.bot, [bot_role["id"]])
        self.owner = self.add_user("owner")
        self.alice = self.add_user("alice", manage_guild=True)
        self.bob = self.add_user("bob")
        self.category_id = self.new_id()
        self.channels[self.category_id] = {
            "id": self.category_id,
            "type": 4,
            "guild_id": self.guild_id,
            "name": "Text Channels",
            "position": 0,
            "parent_id": None,
            "nsfw": False,
            "flags": 0,
            "permission_overwrites": [],
        }
        self.channel_id = self.add_channel("practice")["id"]
        self.guild_channel_ids = {self.guild_id: self.channel_id}

    def _make_user(self, username: str, *, bot: bool = False) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": self.new_id(),
            "username": username,
            "discriminator": "0",
            "global_name": None if bot else username.capitalize(),
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if bot:
            user["bot"] = True
        with self._lock:
            self.users[username] = user
            self._users_by_id[user["id"]] = user
        return user

    def _role(self, role_id: str, name: str, permissions: int, position: int) -> dict[str, Any]:
        return {
            "id": role_id,
            "name": name,
            "description": None,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def add_role(self, name: str, permissions: int) -> dict[str, Any]:
        with self._lock:
            role = self._role(self.new_id(), name, permissions, len(self.roles))
            self.roles[role["id"]] = role
            return role

    def _add_member(self, user: dict[str, Any], roles: list[str]) -> dict[str, Any]:
        member: dict[str, Any] = {
            "roles": roles,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "banner": None,
            "communication_disabled_until": None,
            "unusual_dm_activity_until": None,
        }
        with self._lock:
            self.members[user["id"]] = member
        return member

    def add_user(
        self, username: str, *, manage_guild: bool = False, roles: Iterable[str] = ()
    ) -> dict[str, Any]:
        """A guild member; ``manage_guild`` gives them the "Dojo Admin" role (Manage Server)."""
        user = self._make_user(username)
        role_ids = list(roles)
        if manage_guild:
            role_ids.append(self.admin_role_id)
        self._add_member(user, role_ids)
        return user

    def set_manage_guild(self, user: dict[str, Any] | str | int, allowed: bool) -> None:
        """Give or take the "Dojo Admin" role (Manage Server).

        Later payloads carry the new roles and permission bitfield, so discord.py's
        ``Member.guild_permissions`` (computed from roles) and ``Interaction.permissions``
        (the payload's ``member.permissions``) agree.
        """
        with self._lock:
            roles: list[str] = self.members[self.user(user)["id"]]["roles"]
            if allowed and self.admin_role_id not in roles:
                roles.append(self.admin_role_id)
            elif not allowed and self.admin_role_id in roles:
                roles.remove(self.admin_role_id)

    def add_guild(self, name: str) -> str:
        """Another server the bot is in, with one text channel (``channel_ids[guild]``); its
        members and roles are the first server's (the same people are in both)."""
        guild_id = self.new_id()
        with self._lock:
            self.guild_names[guild_id] = name
        self.guild_channel_ids[guild_id] = self.add_channel("practice", guild_id=guild_id)["id"]
        return guild_id

    def add_channel(
        self, name: str, *, parent_id: str | None = None, guild_id: str | None = None
    ) -> dict[str, Any]:
        with self._lock:
            channel: dict[str, Any] = {
                "id": self.new_id(),
                "type": 0,
                "guild_id": guild_id or self.guild_id,
                "name": name,
                "position": sum(1 for c in self.channels.values() if c["type"] == 0),
                "parent_id": parent_id or self.category_id,
                "topic": None,
                "nsfw": False,
                "rate_limit_per_user": 0,
                "last_message_id": None,
                "permission_overwrites": [],
                "flags": 0,
                "default_thread_rate_limit_per_user": 0,
            }
            self.channels[channel["id"]] = channel
            return channel

    def user(self, ref: dict[str, Any] | str | int | None) -> dict[str, Any]:
        """A user by payload, id or username; None means "bob", the plain member."""
        if ref is None:
            return self.bob
        if isinstance(ref, dict):
            return ref
        key = str(ref)
        with self._lock:
            found = self._users_by_id.get(key) or self.users.get(key)
        if found is None:
            raise KeyError(f"unknown user {ref!r}")
        return found

    def member(self, user_id: str) -> dict[str, Any]:
        """The member payload with its user, as REST and GUILD_CREATE give it."""
        with self._lock:
            return {**copy.deepcopy(self.members[user_id]), "user": self._users_by_id[user_id]}

    def permissions_of(self, user_id: str) -> int:
        with self._lock:
            if self.owner_id == user_id:
                return ALL_PERMISSIONS
            member = self.members.get(user_id)
            total = int(self.roles[self.guild_id]["permissions"])
            for role_id in member["roles"] if member else []:
                total |= int(self.roles[role_id]["permissions"])
        return ALL_PERMISSIONS if total & ADMINISTRATOR else total

    @property
    def owner_id(self) -> str:
        return cast(str, self.owner["id"])

    def guild_payload(self, guild_id: str | None = None) -> dict[str, Any]:
        guild_id = guild_id or self.guild_id
        return {
            "id": guild_id,
            "name": self.guild_names[guild_id],
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": self.owner_id,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "widget_channel_id": None,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": list(self.roles.values()),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": self.guild_channel_ids[guild_id],
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "max_presences": None,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "nsfw": False,
            "premium_progress_bar_enabled": False,
            "incidents_data": None,
            "hub_type": None,
            "latest_onboarding_question_id": None,
        }

    def _guild_create(self, intents: int, guild_id: str | None = None) -> dict[str, Any]:
        guild_id = guild_id or self.guild_id
        with self._lock:
            guild = self.guild_payload(guild_id)
            # Without GUILD_PRESENCES Discord sends only the bot itself (and voice users).
            member_ids = list(self.members) if intents & GUILD_PRESENCES else [self.bot["id"]]
            guild.update(
                joined_at=self.joined_at,
                large=False,
                lazy=True,
                unavailable=False,
                member_count=len(self.members),
                voice_states=[],
                members=[self.member(uid) for uid in member_ids],
                channels=[
                    {k: v for k, v in c.items() if k != "guild_id"}
                    for c in self.channels.values()
                    if c["type"] in (0, 2, 4, 5, 13, 15) and c.get("guild_id") == guild_id
                ],
                threads=[
                    copy.deepcopy(c)
                    for c in self.channels.values()
                    if c["type"] in (10, 11, 12)
                    and not c["thread_metadata"]["archived"]
                    and c.get("guild_id") == guild_id
                ],
                presences=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
                embedded_activities=[],
                application_command_counts={},
            )
            return guild

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> str:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        app.on_shutdown.append(self._on_shutdown)
        self._server = Server(app)
        self.base_url = self._server.start()
        self._loop_thread = cast(int, self._run(self._thread_ident()))
        self.gateway_url = self.base_url.replace("http://", "ws://") + "/gateway"
        return self.base_url

    def stop(self) -> None:
        self._server.stop()

    @staticmethod
    async def _thread_ident() -> int:
        return threading.get_ident()

    async def _on_shutdown(self, _app: web.Application) -> None:
        await self._close_all(1001)

    # -- test helpers --------------------------------------------------------------------------

    def fail_once(
        self,
        method: str,
        path_contains: str,
        status: int = 429,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float = 0.05,
    ) -> None:
        """Answer the next matching request with an error; by default a 429 as Discord sends it.

        A 429 carries ``retry_after`` in the body and Retry-After, X-RateLimit-* and Via
        headers (discord.py retries a 429 only when Via is present).
        """
        if status == 429:
            reset = time.time() + retry_after
            default_headers = {
                "Retry-After": str(math.ceil(retry_after)),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{reset:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Scope": "user",
            }
            default_body: dict[str, Any] = {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": False,
            }
        else:
            default_headers = {}
            default_body = {"message": f"{status}: error injected by the test", "code": 0}
        failure = _Failure(
            method.upper(),
            path_contains,
            status,
            body if body is not None else default_body,
            {**default_headers, **(headers or {})},
        )
        with self._lock:
            self._failures.append(failure)

    def mark(self) -> int:
        with self._lock:
            return len(self.calls)

    def since(
        self, mark: int = 0, method: str | None = None, path_contains: str | None = None
    ) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls[mark:]
                if (method is None or c.method == method.upper())
                and (path_contains is None or path_contains in c.path)
            ]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                recent = [(c.method, c.path, c.status) for c in self.since(max(0, self.mark() - 8))]
                raise AssertionError(f"expected Discord calls did not arrive; recent: {recent}")
            time.sleep(0.01)

    def wait_call(
        self,
        method: str,
        path_contains: str,
        *,
        after: int = 0,
        timeout: float = 10,
        where: Callable[[Call], bool] | None = None,
    ) -> Call:
        """The first answered call after mark ``after`` matching method, path and ``where``."""
        found: list[Call] = []

        def arrived() -> bool:
            found[:] = [
                c
                for c in self.since(after, method, path_contains)
                if c.status and (where is None or where(c))
            ]
            return bool(found)

        self.wait_for(arrived, timeout)
        return found[0]

    def callback(self, interaction: dict[str, Any], timeout: float = 10) -> Call:
        """The bot's answer (POST .../callback) to an interaction a builder made."""
        return self.wait_call("POST", f"/interactions/{interaction['id']}/", timeout=timeout)

    def wait_connected(self, count: int = 1, timeout: float = 10) -> None:
        """Until ``count`` clients have identified and got READY and GUILD_CREATE."""

        def connected() -> bool:
            return sum(1 for s in list(self._sockets) if s.ready) >= count

        deadline = time.monotonic() + timeout
        while not connected():
            if time.monotonic() > deadline:
                raise AssertionError("no client connected to the fake gateway")
            time.sleep(0.01)

    @property
    def connected(self) -> int:
        return sum(1 for s in list(self._sockets) if s.ready)

    def messages_in(self, channel_id: str) -> list[dict[str, Any]]:
        with self._lock:
            found = [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]
            return sorted(found, key=lambda m: int(m["id"]))

    def thread_of(self, message_id: str) -> dict[str, Any] | None:
        with self._lock:
            channel = self.channels.get(str(message_id))
            return channel if channel and channel["type"] in (11, 12) else None

    # -- gateway: thread-safe entry points -----------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("call the fake's blocking helpers from the test thread")
        return asyncio.run_coroutine_threadsafe(coro, self._server.loop).result(timeout)

    def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Send a DISPATCH (op 0) to every identified client; returns how many received it.

        Clients whose intents do not cover the event do not get it, and messages lose their
        content for clients without MESSAGE_CONTENT (unless they mention the bot), like Discord.
        """
        return cast(int, self._run(self._broadcast(event, data)))

    def disconnect(self, code: int = 4000) -> None:
        """Close every client socket from the server side (the client should RESUME)."""
        self._run(self._close_all(code))

    def send_reconnect(self) -> None:
        """Send op 7 RECONNECT to every client."""
        self._run(self._send_all({"op": 7, "d": None, "s": None, "t": None}))

    def invalidate_sessions(self, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION and forget the sessions unless ``resumable``."""
        if not resumable:
            with self._lock:
                self._sessions.clear()
        self._run(self._send_all({"op": 9, "d": resumable, "s": None, "t": None}))

    # -- gateway: server side ------------------------------------------------------------------

    async def _send(self, sock: _Socket, payload: dict[str, Any]) -> None:
        async with sock.lock:
            if not sock.ws.closed:
                await sock.ws.send_str(json.dumps(payload))

    async def _send_dispatch(self, sock: _Socket, event: str, data: dict[str, Any]) -> None:
        session = sock.session
        assert session is not None
        async with sock.lock:
            session.seq += 1
            payload = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.events.append(payload)
            if not sock.ws.closed:
                await sock.ws.send_str(json.dumps(payload))

    async def _send_all(self, payload: dict[str, Any]) -> None:
        for sock in list(self._sockets):
            await self._send(sock, payload)

    async def _close_all(self, code: int) -> None:
        for sock in list(self._sockets):
            sock.closed_by_server = True
            await sock.ws.close(code=code)

    @staticmethod
    def _intent_for(event: str, data: dict[str, Any]) -> int:
        in_guild = bool(data.get("guild_id"))
        if event.startswith("MESSAGE_REACTION"):
            return GUILD_MESSAGE_REACTIONS if in_guild else DIRECT_MESSAGE_REACTIONS
        if event.startswith("MESSAGE_"):
            return GUILD_MESSAGES if in_guild else DIRECT_MESSAGES
        if event == "TYPING_START":
            return GUILD_MESSAGE_TYPING if in_guild else DIRECT_MESSAGE_TYPING
        if event.startswith("GUILD_MEMBER_") or event == "THREAD_MEMBERS_UPDATE":
            return GUILD_MEMBERS
        if event == "PRESENCE_UPDATE":
            return GUILD_PRESENCES
        if event.startswith(("GUILD_", "CHANNEL_", "THREAD_")) and event != "GUILD_MEMBERS_CHUNK":
            return GUILDS
        return 0

    def _for_session(self, session: _Session, event: str, data: dict[str, Any]) -> dict[str, Any]:
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or session.intents & MESSAGE_CONTENT:
            return data
        author = data.get("author") or {}
        mentioned = any(m.get("id") == self.bot["id"] for m in data.get("mentions", []))
        if not data.get("guild_id") or author.get("id") == self.bot["id"] or mentioned:
            return data
        blanked = dict(data)
        blanked.update(content="", embeds=[], attachments=[], components=[])
        blanked.pop("poll", None)
        return blanked

    async def _broadcast(self, event: str, data: dict[str, Any]) -> int:
        with self._lock:
            self.gateway_sent.append((event, data))
        needed = self._intent_for(event, data)
        delivered = 0
        for sock in list(self._sockets):
            session = sock.session
            if not sock.ready or session is None or (needed and not session.intents & needed):
                continue
            await self._send_dispatch(sock, event, self._for_session(session, event, data))
            delivered += 1
        return delivered

    async def _flush_events(self) -> None:
        """Send the gateway events REST handlers produced (after their response is built)."""
        with self._lock:
            events, self._pending_events = self._pending_events, []
        for event, data in events:
            await self._broadcast(event, data)

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        if self.echo:
            with self._lock:
                self._pending_events.append((event, data))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        sock = _Socket(ws, asyncio.Lock())
        self._sockets.append(sock)
        hello = {"heartbeat_interval": self.heartbeat_interval, "_trace": ["fake-discord-gateway"]}
        await self._send(sock, {"op": 10, "d": hello, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._on_gateway_payload(sock, json.loads(msg.data))
        finally:
            self._sockets.remove(sock)
            # A client closing with 1000/1001 ends its session; other codes keep it resumable.
            ended = not sock.closed_by_server and ws.close_code in (1000, 1001)
            if sock.session is not None and ended:
                with self._lock:
                    self._sessions.pop(sock.session.id, None)
        return ws

    async def _on_gateway_payload(self, sock: _Socket, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        if op == 1:
            self.heartbeats += 1
            await self._send(sock, {"op": 11, "d": None, "s": None, "t": None})
            return
        with self._lock:
            self.gateway_received.append(payload)
        data = payload.get("d") or {}
        if op == 2:
            await self._identify(sock, data)
        elif op == 6:
            await self._resume(sock, data)
        elif op == 8:
            await self._request_members(sock, data)

    async def _identify(self, sock: _Socket, data: dict[str, Any]) -> None:
        if self.token is not None and data.get("token") != self.token:
            await sock.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = _Session(secrets.token_hex(16), int(data.get("intents", 0)), data.get("shard"))
        with self._lock:
            self._sessions[session.id] = session
        sock.session = session
        ready: dict[str, Any] = {
            "v": 10,
            "user": {**self.bot, "verified": True, "mfa_enabled": False, "email": None},
            "user_settings": {},
            "guilds": [{"id": g, "unavailable": True} for g in self.guild_names],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["local"],
            "auth": {},
            "application": {"id": self.application_id, "flags": self.application_flags},
            "_trace": ["fake-discord-gateway"],
        }
        shard_id, shard_count = session.shard or [0, 1]
        if session.shard is not None:
            ready["shard"] = session.shard
        await self._send_dispatch(sock, "READY", ready)
        for guild_id in list(self.guild_names):
            if (int(guild_id) >> 22) % max(shard_count, 1) == shard_id:
                created = self._guild_create(session.intents, guild_id)
                await self._send_dispatch(sock, "GUILD_CREATE", created)
        sock.ready = True

    async def _resume(self, sock: _Socket, data: dict[str, Any]) -> None:
        with self._lock:
            session = self._sessions.get(str(data.get("session_id")))
        if session is None or (self.token is not None and data.get("token") != self.token):
            await self._send(sock, {"op": 9, "d": False, "s": None, "t": None})
            return
        sock.session = session
        last = int(data.get("seq") or 0)
        async with sock.lock:
            for missed in [e for e in session.events if e["s"] > last]:
                await sock.ws.send_str(json.dumps(missed))
        await self._send_dispatch(sock, "RESUMED", {"_trace": ["fake-discord-gateway"]})
        sock.ready = True

    async def _request_members(self, sock: _Socket, data: dict[str, Any]) -> None:
        if sock.session is None:
            return
        with self._lock:
            wanted = {str(u) for u in data.get("user_ids") or []}
            query = (data.get("query") or "").lower()
            limit = int(data.get("limit") or 0)
            members = [
                self.member(uid)
                for uid, user in self._users_by_id.items()
                if uid in self.members
                and (uid in wanted if wanted else user["username"].lower().startswith(query))
            ]
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(data.get("guild_id")),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": sorted(wanted - {m["user"]["id"] for m in members}),
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(sock, "GUILD_MEMBERS_CHUNK", chunk)

    # -- REST plumbing -------------------------------------------------------------------------

    application_flags = (1 << 12) | (1 << 15) | (1 << 19)  # the three *_LIMITED intent flags

    def _register_routes(self) -> None:
        table: list[tuple[str, str, _Handler]] = [
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/users/@me", self._get_me),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/users/{user_id}", self._get_user),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/@me", self._get_application),
            ("GET", "/applications/{app_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/commands", self._put_commands),
            ("POST", "/applications/{app_id}/commands", self._post_command),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
            ("POST", "/applications/{app_id}/guilds/{guild_id}/commands", self._post_command),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app_id}/{token}", self._followup),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("PATCH", "/channels/{channel_id}", self._patch_channel),
            ("GET", "/channels/{channel_id}/messages", self._list_messages),
            ("POST", "/channels/{channel_id}/messages", self._post_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._patch_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message),
            (
                "POST",
                "/channels/{channel_id}/messages/{message_id}/threads",
                self._thread_from_message,
            ),
            ("POST", "/channels/{channel_id}/threads", self._thread_without_message),
            ("POST", "/channels/{channel_id}/typing", self._no_content),
            (
                "PUT",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                self._reaction,
            ),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                self._reaction,
            ),
            ("PUT", "/channels/{channel_id}/thread-members/{user_id}", self._thread_member),
            ("DELETE", "/channels/{channel_id}/thread-members/{user_id}", self._thread_member),
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/channels", self._get_guild_channels),
            ("POST", "/guilds/{guild_id}/channels", self._create_guild_channel),
            ("DELETE", "/channels/{channel_id}", self._delete_channel),
            ("GET", "/guilds/{guild_id}/roles", self._get_roles),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
            ("GET", "/guilds/{guild_id}/threads/active", self._active_threads),
        ]
        for method, template, handler in table:
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            self._routes.append((method, template, re.compile(f"^{pattern}$"), handler))

    async def _read(self, request: web.Request) -> tuple[Any, list[Upload]]:
        files: list[Upload] = []
        if request.content_type.startswith("multipart/"):
            body: Any = None
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                elif part.filename is not None:
                    files.append(
                        Upload(
                            part.name or "",
                            part.filename,
                            part.headers.get("Content-Type"),
                            bytes(await part.read()),
                        )
                    )
            return body, files
        raw = await request.text()
        if not raw:
            return None, files
        return json.loads(raw), files

    def _ratelimit_headers(self, template: str) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": hashlib.md5(template.encode()).hexdigest(),
        }

    async def _rest(self, request: web.Request) -> web.Response:
        path = request.path
        relative = path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path
        body, files = await self._read(request)
        call = Call(
            request.method,
            relative,
            dict(request.query),
            body,
            files,
            request.headers.get("Authorization"),
            time.monotonic(),
        )
        with self._lock:
            self.calls.append(call)
            failure = next(
                (
                    f
                    for f in self._failures
                    if f.method == request.method and f.path_contains in relative
                ),
                None,
            )
            if failure is not None:
                self._failures.remove(failure)
        route = self._match(request.method, relative) if path.startswith(API_PREFIX) else None
        template = route[0] if route is not None else relative
        fault = self.plan.take(request.method, relative) if failure is None else None
        if fault is not None and fault.kind == "error":
            call.status = fault.status
            await self._delay()
            return self.plan.refusal(fault)
        if failure is not None:
            reply = _Reply(failure.status, failure.body, failure.headers)
        elif route is None:
            reply = error(404, 0, "Unknown route")
        else:
            reply = self._handle(route, call)
        reply.headers = {**self._ratelimit_headers(template), "Via": "1.1 google", **reply.headers}
        call.status = reply.status
        response = self._response(reply)
        await self._flush_events()
        await self._delay()
        if fault is not None:  # carried out, but the answer never arrives
            return await self.plan.unanswered(fault, request)
        return response

    async def _delay(self) -> None:
        if self.latency > 0:
            await asyncio.sleep(self.latency)  # never blocks the fake's other requests

    def _match(self, method: str, relative: str) -> tuple[str, _Handler, dict[str, str]] | None:
        for route_method, template, pattern, handler in self._routes:
            matched = pattern.match(relative)
            if matched is not None and route_method == method:
                return template, handler, matched.groupdict()
        return None

    def _handle(self, route: tuple[str, _Handler, dict[str, str]], call: Call) -> _Reply:
        template, handler, params = route
        public = template.startswith(("/interactions/", "/webhooks/"))
        if self.token is not None and not public and call.authorization != f"Bot {self.token}":
            return error(401, 0, "401: Unauthorized")
        request = _Request(call.method, call.path, params, call.query, call.body, call.files)
        try:
            with self._lock:
                return handler(request)
        except _Abort as abort:
            return abort.reply

    @staticmethod
    def _response(reply: _Reply) -> web.Response:
        headers = dict(reply.headers)
        if reply.status == 204 or reply.body is None:
            return web.Response(status=reply.status, headers=headers)
        headers["Content-Type"] = "application/json"
        return web.Response(status=reply.status, body=json.dumps(reply.body), headers=headers)

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self.attachment_data.get(request.match_info["attachment_id"])
        if data is None:
            return web.Response(status=404, text="Not Found")
        kind = mimetypes.guess_type(request.match_info["filename"])[0]
        return web.Response(body=data, content_type=kind or "application/octet-stream")

    # -- REST: lookups -------------------------------------------------------------------------

    def _channel(self, channel_id: str) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise _Abort(error(404, 10003, "Unknown Channel"))
        return channel

    def _message(self, channel_id: str, message_id: str) -> dict[str, Any]:
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            raise _Abort(error(404, 10008, "Unknown Message"))
        return message

    def _check_guild(self, guild_id: str) -> None:
        if guild_id not in self.guild_names:
            raise _Abort(error(404, 10004, "Unknown Guild"))

    def _check_app(self, app_id: str) -> None:
        if app_id != self.application_id:
            raise _Abort(error(404, 10002, "Unknown Application"))

    # -- REST: session and users ---------------------------------------------------------------

    def _get_gateway(self, req: _Request) -> _Reply:
        return ok({"url": self.gateway_url})

    def _get_gateway_bot(self, req: _Request) -> _Reply:
        return ok(
            {
                "url": self.gateway_url,
                "shards": self.shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14400000,
                    "max_concurrency": 1,
                },
            }
        )

    def _get_me(self, req: _Request) -> _Reply:
        return ok(
            {
                **self.bot,
                "verified": True,
                "mfa_enabled": False,
                "locale": "en-US",
                "email": None,
                "premium_type": 0,
                "bio": "",
            }
        )

    def _get_user(self, req: _Request) -> _Reply:
        user = self._users_by_id.get(req.params["user_id"])
        return ok(user) if user else error(404, 10013, "Unknown User")

    def _get_application(self, req: _Request) -> _Reply:
        return ok(
            {
                "id": self.application_id,
                "name": self.bot_name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": self.application_flags,
                "owner": self.owner,
                "team": None,
                "bot": self.bot,
                "hook": True,
                "is_monetized": False,
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "redirect_uris": [],
                "tags": [],
                "approximate_guild_count": 1,
                "integration_types_config": {"0": {}},
            }
        )

    def dm_channel(self, user: dict[str, Any]) -> str:
        """The id of the DM channel with `user` (opened now if new), e.g. to plan a refusal."""
        request = _Request("POST", "/users/@me/channels", {}, {}, {"recipient_id": user["id"]}, [])
        with self._lock:
            return str(self._open_dm(request).body["id"])

    def _open_dm(self, req: _Request) -> _Reply:
        recipient = self._users_by_id.get(str((req.body or {}).get("recipient_id")))
        if recipient is None:
            return invalid_form(_field_error(["recipient_id"], "NUMBER_TYPE_COERCE", "Invalid"))
        for channel in self.channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == recipient["id"]:
                return ok(channel)
        channel = {
            "id": self.new_id(),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [recipient],
        }
        self.channels[channel["id"]] = channel
        return ok(channel)

    # -- REST: application commands ------------------------------------------------------------

    def _get_commands(self, req: _Request) -> _Reply:
        self._check_app(req.params["app_id"])
        guild_id = req.params.get("guild_id")
        if guild_id is not None:
            self._check_guild(guild_id)
        return ok(self.commands.get(guild_id, []))

    @staticmethod
    def _command_errors(index: str, command: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        kind = command.get("type", 1)
        name = str(command.get("name", ""))
        if not COMMAND_NAME.match(name) or (kind == 1 and name != name.lower()):
            errors.update(_field_error([index, "name"], "APPLICATION_COMMAND_INVALID_NAME", name))
        description = str(command.get("description", ""))
        if kind == 1 and not 1 <= len(description) <= 100:
            errors.update(
                _field_error([index, "description"], "BASE_TYPE_BAD_LENGTH", "1 to 100 characters")
            )
        options = command.get("options") or []
        if len(options) > 25:
            errors.update(_field_error([index, "options"], "BASE_TYPE_MAX_LENGTH", "25 or fewer"))
        names = [o.get("name") for o in options]
        if len(set(names)) != len(names):
            errors.update(
                _field_error(
                    [index, "options"], "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", ""
                )
            )
        for position, option in enumerate(options):
            inner = FakeDiscord._command_errors(str(position), {"type": 1, **option})
            if inner:
                errors.setdefault(index, {}).setdefault("options", {}).update(inner)
        return errors

    def _store_command(self, command: dict[str, Any], guild_id: str | None) -> dict[str, Any]:
        existing = {(c["name"], c.get("type", 1)): c for c in self.commands.get(guild_id, [])}
        previous = existing.get((command["name"], command.get("type", 1)))
        stored: dict[str, Any] = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            "name_localizations": None,
            "description_localizations": None,
            "contexts": None,
            "integration_types": [0],
            **command,
            "id": previous["id"] if previous else self.new_id(),
            "application_id": self.application_id,
            "version": self.new_id(),
        }
        if guild_id is not None:
            stored["guild_id"] = guild_id
        else:
            stored.setdefault("dm_permission", True)
        return stored

    def _put_commands(self, req: _Request) -> _Reply:
        self._check_app(req.params["app_id"])
        guild_id = req.params.get("guild_id")
        if guild_id is not None:
            self._check_guild(guild_id)
        commands = req.body if isinstance(req.body, list) else []
        errors: dict[str, Any] = {}
        for index, command in enumerate(commands):
            errors.update(self._command_errors(str(index), command))
        if len(commands) > 100:
            errors.update(_field_error([], "BASE_TYPE_MAX_LENGTH", "100 or fewer commands"))
        if errors:
            return invalid_form(errors)
        stored = [self._store_command(c, guild_id) for c in commands]
        self.commands[guild_id] = stored
        self.synced = True
        return ok(stored)

    def _post_command(self, req: _Request) -> _Reply:
        self._check_app(req.params["app_id"])
        guild_id = req.params.get("guild_id")
        command = req.body or {}
        errors = self._command_errors("0", command)
        if errors:
            return invalid_form(errors)
        stored = self._store_command(command, guild_id)
        current = [
            c
            for c in self.commands.get(guild_id, [])
            if (c["name"], c.get("type", 1)) != (stored["name"], stored["type"])
        ]
        self.commands[guild_id] = [*current, stored]
        self.synced = True
        return ok(stored, 201)

    # -- REST: messages ------------------------------------------------------------------------

    def _message_errors(self, payload: dict[str, Any], files: list[Upload]) -> _Reply | None:
        content = payload.get("content") or ""
        if len(content) > 2000:
            return invalid_form(
                _field_error(
                    ["content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."
                )
            )
        embeds = payload.get("embeds") or []
        if len(embeds) > 10:
            return invalid_form(
                _field_error(["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
            )
        for index, embed in enumerate(embeds):
            limits = {"title": 256, "description": 4096}
            for key, limit in limits.items():
                if len(embed.get(key) or "") > limit:
                    return invalid_form(
                        _field_error(
                            ["embeds", str(index), key],
                            "BASE_TYPE_MAX_LENGTH",
                            f"Must be {limit} or fewer in length.",
                        )
                    )
            if len(embed.get("fields") or []) > 25:
                return invalid_form(
                    _field_error(["embeds", str(index), "fields"], "BASE_TYPE_MAX_LENGTH", "25")
                )
        components = payload.get("components") or []
        v2 = _int_flag(payload.get("flags")) & (1 << 15)
        if not v2 and len(components) > 5:
            return invalid_form(
                _field_error(
                    ["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."
                )
            )
        for component in _walk(components):
            custom_id = component.get("custom_id")
            if custom_id is not None and not 1 <= len(custom_id) <= 100:
                return invalid_form(
                    _field_error(["components"], "BASE_TYPE_BAD_LENGTH", "custom_id 1 to 100")
                )
            if component.get("type") == 1 and len(component.get("components") or []) > 5:
                return invalid_form(
                    _field_error(["components"], "BASE_TYPE_MAX_LENGTH", "5 per action row")
                )
        if not (content or embeds or components or files or payload.get("sticker_ids")) and not (
            payload.get("poll") or payload.get("attachments")
        ):
            return error(400, 50006, "Cannot send an empty message")
        return None

    def _attachments(
        self,
        channel_id: str,
        payload: dict[str, Any],
        files: list[Upload],
        existing: list[dict[str, Any]],
        ephemeral: bool,
    ) -> list[dict[str, Any]]:
        """New attachments from ``files[N]`` parts, plus the existing ones the payload keeps."""
        by_index = {f.field[len("files[") : -1]: f for f in files if f.field.startswith("files[")}
        kept = {str(a["id"]): a for a in existing}
        listed = payload.get("attachments")
        result: list[dict[str, Any]] = []
        used: set[str] = set()
        entries = listed if listed is not None else [{"id": i} for i in by_index]
        for entry in entries:
            key = str(entry.get("id"))
            if key in kept:
                result.append(kept[key])
            elif key in by_index:
                used.add(key)
                result.append(self._attachment(channel_id, by_index[key], entry, ephemeral))
        if listed is None:
            result = [*existing, *result]
        for key, upload in by_index.items():
            if key not in used and listed is not None:
                result.append(self._attachment(channel_id, upload, {}, ephemeral))
        return result

    def _attachment(
        self, channel_id: str, upload: Upload, entry: dict[str, Any], ephemeral: bool
    ) -> dict[str, Any]:
        attachment_id = self.new_id()
        filename = entry.get("filename") or upload.filename
        self.attachment_data[attachment_id] = upload.data
        url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
        kind = upload.content_type
        if not kind or kind == "application/octet-stream":
            kind = mimetypes.guess_type(filename)[0] or kind
        attachment: dict[str, Any] = {
            "id": attachment_id,
            "filename": filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": kind,
        }
        if entry.get("description"):
            attachment["description"] = entry["description"]
        if ephemeral:
            attachment["ephemeral"] = True
        return attachment

    def _mentions(self, content: str) -> tuple[list[dict[str, Any]], list[str]]:
        users = [
            self._users_by_id[uid]
            for uid in dict.fromkeys(MENTION.findall(content))
            if uid in self._users_by_id
        ]
        roles = [rid for rid in dict.fromkeys(ROLE_MENTION.findall(content)) if rid in self.roles]
        return users, roles

    def _build_message(
        self,
        channel_id: str,
        payload: dict[str, Any],
        files: list[Upload],
        *,
        author: dict[str, Any],
        message_type: int = 0,
        webhook_id: str | None = None,
        interaction: Interaction | None = None,
    ) -> dict[str, Any]:
        flags = _int_flag(payload.get("flags"))
        content = payload.get("content") or ""
        mentions, role_mentions = self._mentions(content)
        message_id = self.new_id()
        message: dict[str, Any] = {
            "id": message_id,
            "type": message_type,
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts")),
            "mention_everyone": False,
            "mentions": mentions,
            "mention_roles": role_mentions,
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "flags": flags,
        }
        message["attachments"] = self._attachments(
            channel_id, payload, files, [], bool(flags & EPHEMERAL)
        )
        message["embeds"] = self._embeds(payload.get("embeds") or [], message["attachments"])
        message["components"] = _number_components(payload.get("components") or [])
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        reference = payload.get("message_reference")
        if reference and reference.get("message_id") in self.messages:
            referenced = copy.deepcopy(self.messages[str(reference["message_id"])])
            referenced.pop("referenced_message", None)
            message["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
                **({"guild_id": self._guild_of(channel_id)} if self._in_guild(channel_id) else {}),
            }
            message["referenced_message"] = referenced
            if message_type == 0:
                message["type"] = 19
        if webhook_id is not None:
            message["webhook_id"] = webhook_id
            message["application_id"] = self.application_id
        if interaction is not None:
            message["interaction_metadata"] = self._interaction_metadata(interaction)
        channel = self.channels[channel_id]
        channel["last_message_id"] = message_id
        if channel["type"] in (10, 11, 12):
            message["position"] = channel["total_message_sent"]
            channel["message_count"] += 1
            channel["total_message_sent"] += 1
        self.messages[message_id] = message
        return message

    def _embeds(
        self, embeds: list[dict[str, Any]], attachments: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        urls = {f"attachment://{a['filename']}": a["url"] for a in attachments}
        result = []
        for embed in copy.deepcopy(embeds):
            embed.setdefault("type", "rich")
            for key in ("image", "thumbnail"):
                media = embed.get(key)
                if media and media.get("url") in urls:
                    media["proxy_url"] = media["url"] = urls[media["url"]]
            result.append(embed)
        return result

    def _in_guild(self, channel_id: str) -> bool:
        return self._guild_of(channel_id) in self.guild_names

    def _guild_of(self, channel_id: str) -> str | None:
        guild_id = self.channels[channel_id].get("guild_id")
        return None if guild_id is None else str(guild_id)

    def gateway_message(self, message: dict[str, Any]) -> dict[str, Any]:
        """A stored message as MESSAGE_CREATE carries it: plus guild_id and the author's member."""
        event = copy.deepcopy(message)
        if self._in_guild(message["channel_id"]):
            event["guild_id"] = self._guild_of(message["channel_id"])
            author_id = message["author"]["id"]
            if author_id in self.members and "webhook_id" not in message:
                event["member"] = copy.deepcopy(self.members[author_id])
            for mention in event["mentions"]:
                if mention["id"] in self.members:
                    mention["member"] = copy.deepcopy(self.members[mention["id"]])
        return event

    def _apply_edit(
        self, message: dict[str, Any], payload: dict[str, Any], files: list[Upload]
    ) -> None:
        if "content" in payload:
            message["content"] = payload["content"] or ""
            message["mentions"], message["mention_roles"] = self._mentions(message["content"])
        if "attachments" in payload or files:
            message["attachments"] = self._attachments(
                message["channel_id"],
                payload,
                files,
                message["attachments"],
                bool(message["flags"] & EPHEMERAL),
            )
        if "embeds" in payload:
            message["embeds"] = self._embeds(payload["embeds"] or [], message["attachments"])
        if "components" in payload:
            message["components"] = _number_components(payload["components"] or [])
        if "flags" in payload and payload["flags"] is not None:
            keep = message["flags"] & (EPHEMERAL | HAS_THREAD)
            message["flags"] = keep | (_int_flag(payload["flags"]) & ~EPHEMERAL)
        message["flags"] &= ~LOADING
        message["edited_timestamp"] = now_iso()

    def _list_messages(self, req: _Request) -> _Reply:
        channel = self._channel(req.params["channel_id"])
        found = sorted(
            (m for m in self.messages.values() if m["channel_id"] == channel["id"]),
            key=lambda m: int(m["id"]),
            reverse=True,
        )
        if "before" in req.query:
            found = [m for m in found if int(m["id"]) < int(req.query["before"])]
        if "after" in req.query:
            found = [m for m in found if int(m["id"]) > int(req.query["after"])]
        return ok(found[: int(req.query.get("limit", 50))])

    def _post_message(self, req: _Request) -> _Reply:
        channel_id = req.params["channel_id"]
        channel = self._channel(channel_id)
        payload = req.body or {}
        problem = self._message_errors(payload, req.files)
        if problem is not None:
            return problem
        if channel["type"] in (11, 12) and channel["thread_metadata"]["archived"]:
            if channel["thread_metadata"].get("locked"):
                return error(400, 50083, "Thread is archived")
            channel["thread_metadata"]["archived"] = False
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            earlier = self.nonces.get((channel_id, str(nonce)))
            if earlier is not None:  # the same nonce again: the first message, not a second
                return ok(earlier)
        message = self._build_message(channel_id, payload, req.files, author=self.bot)
        if nonce is not None:
            message["nonce"] = nonce
            self.nonces[(channel_id, str(nonce))] = message
        self._emit("MESSAGE_CREATE", self.gateway_message(message))
        return ok(message)

    def _get_message(self, req: _Request) -> _Reply:
        return ok(self._message(req.params["channel_id"], req.params["message_id"]))

    def _patch_message(self, req: _Request) -> _Reply:
        message = self._message(req.params["channel_id"], req.params["message_id"])
        if message["author"]["id"] != self.bot["id"]:
            return error(403, 50005, "Cannot edit a message authored by another user")
        payload = req.body or {}
        self._apply_edit(message, payload, req.files)
        self._emit("MESSAGE_UPDATE", self.gateway_message(message))
        return ok(message)

    def _delete_message(self, req: _Request) -> _Reply:
        message = self._message(req.params["channel_id"], req.params["message_id"])
        del self.messages[message["id"]]
        event = {"id": message["id"], "channel_id": message["channel_id"]}
        if self._in_guild(message["channel_id"]):
            event["guild_id"] = self._guild_of(message["channel_id"])
        self._emit("MESSAGE_DELETE", event)
        return no_content()

    def _reaction(self, req: _Request) -> _Reply:
        self._message(req.params["channel_id"], req.params["message_id"])
        return no_content()

    def _no_content(self, req: _Request) -> _Reply:
        self._channel(req.params["channel_id"])
        return no_content()

    # -- REST: channels and threads ------------------------------------------------------------

    def _get_channel(self, req: _Request) -> _Reply:
        return ok(self._channel(req.params["channel_id"]))

    def _patch_channel(self, req: _Request) -> _Reply:
        channel = self._channel(req.params["channel_id"])
        payload = req.body or {}
        if channel["type"] in (10, 11, 12):
            metadata = channel["thread_metadata"]
            for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                if key in payload:
                    metadata[key] = payload[key]
                    if key == "archived":
                        metadata["archive_timestamp"] = now_iso()
            for key in ("name", "rate_limit_per_user", "flags", "applied_tags"):
                if key in payload:
                    channel[key] = payload[key]
            self._emit("THREAD_UPDATE", copy.deepcopy(channel))
        else:
            for key in ("name", "topic", "nsfw", "rate_limit_per_user", "position", "parent_id"):
                if key in payload:
                    channel[key] = payload[key]
            self._emit("CHANNEL_UPDATE", copy.deepcopy(channel))
        return ok(channel)

    def _new_thread(
        self, thread_id: str, parent: dict[str, Any], payload: dict[str, Any], kind: int
    ) -> _Reply:
        name = str(payload.get("name") or "")
        if not 1 <= len(name) <= 100:
            return invalid_form(_field_error(["name"], "BASE_TYPE_BAD_LENGTH", "1 to 100"))
        if parent["type"] not in (0, 5):
            return error(400, 50024, "Cannot execute action on this channel type")
        created = now_iso()
        thread: dict[str, Any] = {
            "id": thread_id,
            "type": kind,
            "guild_id": parent.get("guild_id", self.guild_id),
            "parent_id": parent["id"],
            "owner_id": self.bot["id"],
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": payload.get("rate_limit_per_user") or 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": payload.get("auto_archive_duration") or 1440,
                "archive_timestamp": created,
                "locked": False,
                "create_timestamp": created,
                **({"invitable": payload.get("invitable", True)} if kind == 12 else {}),
            },
            "member": {
                "id": thread_id,
                "user_id": self.bot["id"],
                "join_timestamp": created,
                "flags": 0,
            },
        }
        self.channels[thread_id] = thread
        self._emit("THREAD_CREATE", {**copy.deepcopy(thread), "newly_created": True})
        return ok(thread, 201)

    def _thread_from_message(self, req: _Request) -> _Reply:
        parent = self._channel(req.params["channel_id"])
        message = self._message(parent["id"], req.params["message_id"])
        if message["id"] in self.channels:
            return error(400, 160004, "A thread has already been created for this message")
        reply = self._new_thread(message["id"], parent, req.body or {}, 11)
        if reply.status < 300:
            message["thread"] = copy.deepcopy(reply.body)
            message["flags"] |= HAS_THREAD
        return reply

    def _thread_without_message(self, req: _Request) -> _Reply:
        parent = self._channel(req.params["channel_id"])
        payload = req.body or {}
        return self._new_thread(self.new_id(), parent, payload, int(payload.get("type") or 12))

    def _thread_member(self, req: _Request) -> _Reply:
        thread = self._channel(req.params["channel_id"])
        if thread["type"] not in (10, 11, 12):
            return error(400, 50024, "Cannot execute action on this channel type")
        return no_content()

    # -- REST: guild ---------------------------------------------------------------------------

    def _get_guild(self, req: _Request) -> _Reply:
        self._check_guild(req.params["guild_id"])
        return ok(self.guild_payload())

    def _get_guild_channels(self, req: _Request) -> _Reply:
        self._check_guild(req.params["guild_id"])
        return ok([c for c in self.channels.values() if c["type"] in (0, 2, 4, 5, 13, 15)])

    def _create_guild_channel(self, req: _Request) -> _Reply:
        """Create a text (0) or voice (2) channel; needs Manage Channels, like Discord."""
        self._check_guild(req.params["guild_id"])
        if not self.permissions_of(self.bot["id"]) & MANAGE_CHANNELS:
            return error(403, 50013, "Missing Permissions")
        payload = req.body or {}
        kind = int(payload.get("type") or 0)
        if kind not in (0, 2):
            return error(400, 50035, "Invalid Form Body")
        with self._lock:
            channel: dict[str, Any] = {
                "id": self.new_id(),
                "type": kind,
                "guild_id": self.guild_id,
                "name": str(payload.get("name") or "channel"),
                "position": len(self.channels),
                "parent_id": payload.get("parent_id"),
                "permission_overwrites": [],
                "flags": 0,
                "nsfw": False,
                **({"bitrate": 64000, "user_limit": 0, "rtc_region": None} if kind == 2 else {}),
                **({"topic": None, "last_message_id": None} if kind == 0 else {}),
            }
            self.channels[channel["id"]] = channel
        return ok(channel, 201)

    def _delete_channel(self, req: _Request) -> _Reply:
        channel = self._channel(req.params["channel_id"])
        if channel["type"] in (0, 2) and not self.permissions_of(self.bot["id"]) & MANAGE_CHANNELS:
            return error(403, 50013, "Missing Permissions")
        with self._lock:
            del self.channels[channel["id"]]
        return ok(channel)

    def _get_roles(self, req: _Request) -> _Reply:
        self._check_guild(req.params["guild_id"])
        return ok(list(self.roles.values()))

    def _get_member(self, req: _Request) -> _Reply:
        self._check_guild(req.params["guild_id"])
        if req.params["user_id"] not in self.members:
            return error(404, 10007, "Unknown Member")
        return ok(self.member(req.params["user_id"]))

    def _active_threads(self, req: _Request) -> _Reply:
        self._check_guild(req.params["guild_id"])
        threads = [
            c
            for c in self.channels.values()
            if c["type"] in (10, 11, 12) and not c["thread_metadata"]["archived"]
        ]
        return ok({"threads": threads, "members": [t["member"] for t in threads]})

    # -- REST: interactions --------------------------------------------------------------------

    def _interaction_metadata(self, interaction: Interaction) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "id": interaction.id,
            "type": interaction.type,
            "user": interaction.user,
            "authorizing_integration_owners": (
                {"0": interaction.guild_id}
                if interaction.guild_id
                else {"1": interaction.user["id"]}
            ),
        }
        if interaction.type == APPLICATION_COMMAND:
            metadata["name"] = interaction.payload["data"]["name"]
            metadata["command_type"] = interaction.payload["data"].get("type", 1)
        if interaction.message_id is not None:
            metadata["interacted_message_id"] = interaction.message_id
        if interaction.original_id is not None:
            metadata["original_response_message_id"] = interaction.original_id
        return metadata

    def _interaction_message(
        self, interaction: Interaction, payload: dict[str, Any], files: list[Upload]
    ) -> dict[str, Any]:
        kind = 20 if interaction.type == APPLICATION_COMMAND else 0
        return self._build_message(
            interaction.channel_id,
            payload,
            files,
            author=self.bot,
            message_type=kind,
            webhook_id=self.application_id,
            interaction=interaction,
        )

    def _announce(self, event: str, message: dict[str, Any]) -> None:
        if not message["flags"] & EPHEMERAL:
            self._emit(event, self.gateway_message(message))

    def _callback(self, req: _Request) -> _Reply:
        interaction = self.interactions.get(req.params["interaction_id"])
        if interaction is None or interaction.token != req.params["token"]:
            return error(404, 10062, "Unknown interaction")
        if interaction.response_type is not None:
            return error(400, 40060, "Interaction has already been acknowledged.")
        body = req.body or {}
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        allowed = {
            PONG: {PING},
            CHANNEL_MESSAGE: {APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT},
            DEFERRED_CHANNEL_MESSAGE: {APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT},
            DEFERRED_UPDATE_MESSAGE: {MESSAGE_COMPONENT, MODAL_SUBMIT},
            UPDATE_MESSAGE: {MESSAGE_COMPONENT, MODAL_SUBMIT},
            AUTOCOMPLETE_RESULT: {AUTOCOMPLETE},
            MODAL: {APPLICATION_COMMAND, MESSAGE_COMPONENT},
        }
        if interaction.type not in allowed.get(kind, set()):
            return invalid_form(
                _field_error(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", f"{kind}")
            )
        if kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE) and interaction.message_id is None:
            return error(400, 40060, "Interaction has no message to update")
        message: dict[str, Any] | None = None
        if kind == CHANNEL_MESSAGE:
            problem = self._message_errors(data, req.files)
            if problem is not None:
                return problem
            message = self._interaction_message(interaction, data, req.files)
            self._announce("MESSAGE_CREATE", message)
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            loading = {"flags": LOADING | (_int_flag(data.get("flags")) & EPHEMERAL)}
            message = self._interaction_message(interaction, loading, [])
            self._announce("MESSAGE_CREATE", message)
        elif kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            message = self.messages.get(interaction.message_id or "")
            if message is None:
                return error(404, 10008, "Unknown Message")
            if kind == UPDATE_MESSAGE:
                self._apply_edit(message, data, req.files)
                self._announce("MESSAGE_UPDATE", message)
        elif kind == MODAL:
            modal = copy.deepcopy(data)
            modal["components"] = _number_components(modal.get("components") or [])
            if not 1 <= len(str(modal.get("title", ""))) <= 45 or len(modal["components"]) > 5:
                return invalid_form(_field_error(["data"], "BASE_TYPE_BAD_LENGTH", "modal"))
            self.modals[str(modal.get("custom_id"))] = modal
            self._modal_origin[str(modal.get("custom_id"))] = interaction.message_id
        interaction.response_type = kind
        if message is not None:
            interaction.original_id = message["id"]
        if "with_response" not in req.query or req.query["with_response"] in ("0", "false"):
            return no_content()
        summary: dict[str, Any] = {
            "id": interaction.id,
            "type": interaction.type,
            "activity_instance_id": None,
            "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": bool(message and message["flags"] & EPHEMERAL),
        }
        if message is not None:
            summary["response_message_id"] = message["id"]
        resource: dict[str, Any] = {"type": kind}
        if message is not None and kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            resource["message"] = message
        return ok({"interaction": summary, "resource": resource})

    def _webhook_interaction(self, req: _Request) -> Interaction:
        interaction = self._by_token.get(req.params["token"])
        if interaction is None or req.params["app_id"] != self.application_id:
            raise _Abort(error(404, 10015, "Unknown Webhook"))
        if interaction.response_type is None:
            # The interaction's webhook only exists once the interaction was acknowledged.
            raise _Abort(error(404, 10015, "Unknown Webhook"))
        return interaction

    def _followup(self, req: _Request) -> _Reply:
        interaction = self._webhook_interaction(req)
        payload = req.body or {}
        problem = self._message_errors(payload, req.files)
        if problem is not None:
            return problem
        original = self.messages.get(interaction.original_id or "")
        if original is not None and original["flags"] & LOADING:
            # The first follow-up after a deferred response fills in the "thinking" message.
            edit = {k: v for k, v in payload.items() if k != "flags"}
            self._apply_edit(original, edit, req.files)
            self._announce("MESSAGE_UPDATE", original)
            message = original
        else:
            message = self._interaction_message(interaction, payload, req.files)
            interaction.followup_ids.append(message["id"])
            self._announce("MESSAGE_CREATE", message)
        if req.query.get("wait") in ("1", "true", "True"):
            return ok(message)
        return no_content()

    def _webhook_message(self, req: _Request) -> _Reply:
        interaction = self._webhook_interaction(req)
        wanted = req.params["message_id"]
        if wanted == "@original":
            message_id = interaction.original_id
        elif wanted == interaction.original_id or wanted in interaction.followup_ids:
            message_id = wanted
        else:
            message_id = None
        message = self.messages.get(message_id or "")
        if message is None:
            return error(404, 10008, "Unknown Message")
        if req.method == "GET":
            return ok(message)
        if req.method == "DELETE":
            del self.messages[message["id"]]
            if not message["flags"] & EPHEMERAL:
                event = {"id": message["id"], "channel_id": message["channel_id"]}
                if self._in_guild(message["channel_id"]):
                    event["guild_id"] = self._guild_of(message["channel_id"])
                self._emit("MESSAGE_DELETE", event)
            return no_content()
        payload = req.body or {}
        self._apply_edit(message, payload, req.files)
        self._announce("MESSAGE_UPDATE", message)
        return ok(message)

    # -- builders ------------------------------------------------------------------------------

    def _channel_for_interaction(self, channel_id: str, permissions: int) -> dict[str, Any]:
        channel = copy.deepcopy(self.channels[channel_id])
        channel["permissions"] = str(permissions)
        return channel

    def _member_for_interaction(self, user: dict[str, Any], permissions: int) -> dict[str, Any]:
        base = self.members.get(user["id"]) or self._add_member(user, [])
        return {**copy.deepcopy(base), "user": user, "permissions": str(permissions)}

    def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        user: dict[str, Any] | str | int | None,
        channel_id: str | int | None,
        permissions: int | None,
        message: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        who = self.user(user)
        with self._lock:
            channel = self._channel_or_fail(channel_id)
            guild_id = channel.get("guild_id")
            interaction_id = self.new_id()
            token = f"interaction-token-{interaction_id}-{secrets.token_hex(8)}"
            perms = self.permissions_of(who["id"]) if permissions is None else permissions
            payload: dict[str, Any] = {
                "id": interaction_id,
                "application_id": self.application_id,
                "type": kind,
                "data": data,
                "channel_id": channel["id"],
                "channel": self._channel_for_interaction(channel["id"], perms),
                "token": token,
                "version": 1,
                "locale": locale,
                "app_permissions": str(self.permissions_of(self.bot["id"])),
                "entitlements": [],
                "entitlement_sku_ids": [],
                "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            }
            if guild_id:
                payload.update(
                    guild_id=guild_id,
                    guild={"id": guild_id, "locale": "en-US", "features": []},
                    guild_locale="en-US",
                    member=self._member_for_interaction(who, perms),
                    authorizing_integration_owners={"0": guild_id},
                    context=0,
                )
            else:
                payload.update(user=who, authorizing_integration_owners={"1": who["id"]}, context=1)
            if message is not None:
                payload["message"] = copy.deepcopy(message)
            record = Interaction(
                interaction_id,
                token,
                kind,
                channel["id"],
                guild_id,
                who,
                payload,
                message_id=message["id"] if message is not None else None,
            )
            self.interactions[interaction_id] = record
            self._by_token[token] = record
            return payload

    def _channel_or_fail(self, channel_id: str | int | None) -> dict[str, Any]:
        key = str(channel_id) if channel_id is not None else self.channel_id
        if key not in self.channels:
            raise KeyError(f"unknown channel {channel_id!r}")
        return self.channels[key]

    def _find_command(self, name: str, guild_id: str) -> tuple[dict[str, Any] | None, bool]:
        for command in self.commands.get(guild_id, []):
            if command["name"] == name and command.get("type", 1) == 1:
                return command, True
        for command in self.commands.get(None, []):
            if command["name"] == name and command.get("type", 1) == 1:
                return command, False
        return None, True

    def _resolve_option(self, option: dict[str, Any], resolved: dict[str, dict[str, Any]]) -> None:
        value = str(option["value"])
        kind = option["type"]
        if kind in (6, 9) and value in self._users_by_id:
            resolved.setdefault("users", {})[value] = self._users_by_id[value]
            if value in self.members:
                member = copy.deepcopy(self.members[value])
                member["permissions"] = str(self.permissions_of(value))
                resolved.setdefault("members", {})[value] = member
        elif kind == 7 and value in self.channels:
            channel = self._channel_for_interaction(value, self.permissions_of(self.bot["id"]))
            resolved.setdefault("channels", {})[value] = channel
        elif kind in (8, 9) and value in self.roles:
            resolved.setdefault("roles", {})[value] = self.roles[value]

    def slash_command(
        self,
        name: str,
        subcommand: str | None = None,
        options: dict[str, Any] | list[dict[str, Any]] | None = None,
        user: dict[str, Any] | str | int | None = None,
        channel_id: str | int | None = None,
        guild_id: str | int | None = None,
        *,
        permissions: int | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """INTERACTION_CREATE ``d`` for ``/name [group] subcommand option:value ...``.

        ``subcommand`` may be "group sub". ``options`` maps option names to values (their
        types come from the synced command, else from the Python type) or is a raw option list.
        The command id and ``data.guild_id`` follow what the bot synced: a guild command
        carries the guild id, a global one does not. Once the bot has synced, building an
        unregistered command fails, since Discord would never send it. ``permissions``
        overrides only the payload's ``member.permissions`` (``Interaction.permissions``);
        discord.py computes ``Member.guild_permissions`` from roles, so to change what an
        adapter sees there use `set_manage_guild` (or `add_user(manage_guild=True)`).
        """
        with self._lock:
            guild = str(guild_id) if guild_id is not None else self.guild_id
            command, in_guild = self._find_command(name, guild)
            if command is None and self.synced:
                raise AssertionError(f"/{name} is not registered; the bot synced {self.commands}")
            schema: list[dict[str, Any]] = command["options"] if command else []
            resolved: dict[str, dict[str, Any]] = {}
            leaf: list[dict[str, Any]] = []
            top = leaf
            parts = (subcommand or "").split()
            for depth, part in enumerate(parts):
                node_schema = next((o for o in schema if o.get("name") == part), None)
                default_kind = 1 if depth == len(parts) - 1 else 2  # subcommand / group
                kind = node_schema["type"] if node_schema else default_kind
                schema = (node_schema or {}).get("options") or []
                node: dict[str, Any] = {"name": part, "type": kind, "options": []}
                leaf.append(node)
                leaf = node["options"]
            if isinstance(options, list):
                leaf.extend(options)
            else:
                for option_name, value in (options or {}).items():
                    option_schema = next((o for o in schema if o.get("name") == option_name), None)
                    kind = option_schema["type"] if option_schema else _option_type(value)
                    option = {"name": option_name, "type": kind, "value": value}
                    leaf.append(option)
                    self._resolve_option(option, resolved)
            data: dict[str, Any] = {
                "id": command["id"] if command else self.new_id(),
                "name": name,
                "type": 1,
                "options": top,
            }
            if in_guild:
                data["guild_id"] = guild
            if resolved:
                data["resolved"] = resolved
        channel = channel_id if channel_id is not None else self.channel_id
        return self._interaction(
            APPLICATION_COMMAND, data, user, channel, permissions, None, locale
        )

    def _stored_message(self, message: dict[str, Any] | str | int) -> dict[str, Any]:
        key = str(message["id"]) if isinstance(message, dict) else str(message)
        with self._lock:
            stored = self.messages.get(key)
        if stored is not None:
            return stored
        if isinstance(message, dict):
            return message
        raise KeyError(f"unknown message {message!r}")

    def button_press(
        self,
        custom_id: str,
        message: dict[str, Any] | str | int,
        user: dict[str, Any] | str | int | None = None,
        *,
        channel_id: str | int | None = None,
        permissions: int | None = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE ``d`` for a click on a button of ``message`` (payload or id)."""
        found = self._stored_message(message)
        data = {"custom_id": custom_id, "component_type": 2}
        channel = channel_id if channel_id is not None else found["channel_id"]
        return self._interaction(MESSAGE_COMPONENT, data, user, channel, permissions, found)

    def select(
        self,
        custom_id: str,
        values: list[str],
        message: dict[str, Any] | str | int,
        user: dict[str, Any] | str | int | None = None,
        *,
        component_type: int = 3,
        resolved: dict[str, Any] | None = None,
        channel_id: str | int | None = None,
        permissions: int | None = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE ``d`` for a select menu choice (3 = string select)."""
        found = self._stored_message(message)
        data: dict[str, Any] = {
            "custom_id": custom_id,
            "component_type": component_type,
            "values": list(values),
        }
        if resolved is not None:
            data["resolved"] = resolved
        channel = channel_id if channel_id is not None else found["channel_id"]
        return self._interaction(MESSAGE_COMPONENT, data, user, channel, permissions, found)

    def modal_submit(
        self,
        custom_id: str,
        fields: dict[str, Any],
        user: dict[str, Any] | str | int | None = None,
        *,
        channel_id: str | int | None = None,
        message: dict[str, Any] | str | int | None = None,
        permissions: int | None = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE ``d`` (type 5) for submitting modal ``custom_id``.

        When the bot opened that modal through this fake, the submission mirrors its layout:
        action rows (type 1) come back as rows of ``{type 4, custom_id, value}``, labels
        (type 18) as ``{type 18, component: {...}}``, selects with ``values``. A field the modal
        does not have is an error. A modal opened from a button carries that button's message.
        """
        with self._lock:
            modal = self.modals.get(custom_id)
            origin = self._modal_origin.get(custom_id)
            origin_message = self.messages.get(origin) if origin is not None else None
        if modal is None:
            components = [
                {"type": 1, "id": 2 * n + 1, "components": [_submitted(cid, value, 2 * n + 2)]}
                for n, (cid, value) in enumerate(fields.items())
            ]
        else:
            unknown = set(fields) - {
                c["custom_id"] for c in _walk(modal["components"]) if "custom_id" in c
            }
            if unknown:
                raise AssertionError(f"modal {custom_id!r} has no fields {sorted(unknown)}")
            components = [_submission(c, fields) for c in modal["components"]]
        data = {"custom_id": custom_id, "components": components}
        found = None
        if message is not None:
            found = self._stored_message(message)
        elif origin_message is not None:
            found = origin_message
        channel = channel_id if channel_id is not None else (found or {}).get("channel_id")
        return self._interaction(MODAL_SUBMIT, data, user, channel, permissions, found)

    def message_create(
        self,
        channel_id: str | int,
        author: dict[str, Any] | str | int | None,
        content: str,
        *,
        attachments: list[tuple[str, bytes]] | None = None,
        reply_to: str | None = None,
    ) -> dict[str, Any]:
        """MESSAGE_CREATE ``d`` for a user posting ``content`` (e.g. in a thread), stored too."""
        who = self.user(author)
        with self._lock:
            channel = self._channel_or_fail(channel_id)
            files = [
                Upload(f"files[{n}]", name, None, data)
                for n, (name, data) in enumerate(attachments or [])
            ]
            payload: dict[str, Any] = {"content": content}
            if reply_to is not None:
                payload["message_reference"] = {"message_id": str(reply_to)}
            message = self._build_message(channel["id"], payload, files, author=who)
            return self.gateway_message(message)


class _Abort(Exception):
    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply.body)
        self.reply = reply


def _walk(components: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for component in components:
        yield component
        yield from _walk(component.get("components") or [])
        for key in ("component", "accessory"):
            if isinstance(component.get(key), dict):
                yield from _walk([component[key]])


def _number_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copy components and give each an ``id`` in order, as Discord does when none is set."""
    numbered = copy.deepcopy(components)
    taken = {c["id"] for c in _walk(numbered) if c.get("id") is not None}
    counter = itertools.count(1)
    for component in _walk(numbered):
        if component.get("id") is None:
            component["id"] = next(n for n in counter if n not in taken)
    return numbered


def _option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _submitted(custom_id: str, value: Any, component_id: int) -> dict[str, Any]:
    if isinstance(value, list):
        return {"type": 3, "id": component_id, "custom_id": custom_id, "values": value}
    return {"type": 4, "id": component_id, "custom_id": custom_id, "value": value}


def _submission(component: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """What Discord sends back for one component of a submitted modal."""
    kind = component.get("type")
    if kind == 1:
        inner = [_submission(c, fields) for c in component.get("components") or []]
        return {"type": 1, "id": component.get("id"), "components": inner}
    if kind == 18:
        return {
            "type": 18,
            "id": component.get("id"),
            "component": _submission(component["component"], fields),
        }
    custom_id = component.get("custom_id")
    submitted: dict[str, Any] = {"type": kind, "id": component.get("id")}
    if custom_id is None:  # text displays and other static parts
        return submitted
    submitted["custom_id"] = custom_id
    if kind in SINGLE_VALUE_INPUTS:
        default = {4: component.get("value") or "", 21: None, 23: False}[kind]
        submitted["value"] = fields.get(custom_id, default)
    else:  # selects (3, 5-8), file uploads (19), checkbox groups (22)
        chosen = fields.get(custom_id, [])
        submitted["values"] = [chosen] if isinstance(chosen, str) else list(chosen)
    return submitted


@contextmanager
def pointed_at_fake(token: str) -> Iterator[FakeDiscord]:
    """A running fake with discord.py's REST base and gateway pointed at it, and back after."""
    server = FakeDiscord(token=token)
    server.start()
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = f"{server.base_url}{API_PREFIX}"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    try:
        yield server
    finally:
        discord.http.Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
        server.stop()
