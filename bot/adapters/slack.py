"""Slack: the real Bolt app for the core (DESIGN.md §2, §6).

Requests are acknowledged on the event loop before any database or Web API call; the work
goes to a bounded queue (bot/workqueue.py) and answers through the Web API (`SLACK_API_URL`),
so no burst pushes an acknowledgement past Slack's 3-second limit.
HTTP mode serves `/slack/events` and `/healthz` with aiohttp; Socket Mode is used when an app
token is configured. Only this module (with blockkit.py) knows it is talking to Slack.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.blockkit import fallback_text, message_blocks, modal_view, submitted_fields
from bot.adapters.faults import attempt, attempt_async, classify_slack
from bot.delivery import describe, retry_async
from bot.engine import Dojo
from bot.grammar import opens_form
from bot.port import (
    Action,
    Actor,
    Command,
    Delivered,
    Message,
    Outcome,
    Permanent,
    Place,
    Reply,
    ResolvedUser,
    Transient,
)
from bot.ratelimit import Pacer
from bot.render import SCORE
from bot.workqueue import BUSY, WorkQueue, shutdown_signal

log = logging.getLogger("dojo.slack")
PLATFORM = "slack"
ADMIN_CACHE_SECONDS = 300
EVENT_TYPE = "mlsd_post"  # message metadata type that carries a post's idempotency key
HISTORY_LIMIT = 200
# thread replies that count as answers: plain, "also send to channel", and with files
ANSWER_SUBTYPES = {None, "thread_broadcast", "file_share"}
# the daily fan-out, per workspace: chat.postMessage allows about one message a second per
# channel with bursts and several hundred a minute per workspace (Web API "Rate limits"); one
# post per channel keeps the first, this the second
FANOUT_RATE = "300/minute"


def web_client(token: str, base_url: str) -> WebClient:
    """A Web API client for `base_url`. No retry handlers: a post whose connection dropped may
    already exist, so retries are the core's decision (bot/delivery.py), not the SDK's."""
    return WebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        retry_handlers=[],
    )


def async_web_client(token: str, base_url: str) -> AsyncWebClient:
    """`web_client` for the event loop (the listeners' lookups and replies)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        retry_handlers=[],
    )


def _metadata(key: str | None) -> dict[str, Any] | None:
    return None if key is None else {"event_type": EVENT_TYPE, "event_payload": {"key": key}}


class SlackPort:
    """The ChatPort over the Web API. Message ids are `ts`; a thread's id is its root's `ts`.

    Keyed posts carry message metadata (`event_type` mlsd_post, the key in `event_payload`),
    which `conversations.history`/`conversations.replies` return with `include_all_metadata`:
    that is how `find` tells whether an unanswered post went through.
    """

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def _call(self, what: str, call: Any) -> tuple[Any, Outcome]:
        return attempt(call, classify_slack, what)

    def post(self, place: Place, message: Message, key: str | None = None) -> Outcome:
        response, outcome = self._call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(
                channel=place.channel_id,
                thread_ts=place.thread_id,
                text=fallback_text(message),
                blocks=message_blocks(message),
                unfurl_links=False,
                metadata=_metadata(key),
            ),
        )
        if response is None:
            return outcome
        ts = str(response["ts"])
        self._attach(place.channel_id, place.thread_id or ts, message)
        return Delivered(ts)

    def start_thread(self, channel_id: str, message: Message, key: str | None = None) -> Outcome:
        return self.post(Place(channel_id), message, key)

    def edit(self, place: Place, message_id: str, message: Message) -> Outcome:
        _, outcome = self._call(
            "chat.update",
            lambda: self.client.chat_update(
                channel=place.channel_id,
                ts=message_id,
                text=fallback_text(message),
                blocks=message_blocks(message),
            ),
        )
        return Delivered(message_id) if isinstance(outcome, Delivered) else outcome

    def send_private(self, user_id: str, place: Place, message: Message) -> Outcome:
        if message.images or message.files:  # files cannot be ephemeral: they go to a DM
            return self.send_direct(user_id, message)
        response, outcome = self._call(
            "chat.postEphemeral",
            lambda: self.client.chat_postEphemeral(
                channel=place.channel_id,
                user=user_id,
                thread_ts=place.thread_id,
                text=fallback_text(message),
                blocks=message_blocks(message),
            ),
        )
        return Delivered(str(response["message_ts"])) if response is not None else outcome

    def send_direct(self, user_id: str, message: Message, key: str | None = None) -> Outcome:
        direct, outcome = self._direct_channel(user_id)
        if direct is None:
            return outcome
        return self.post(Place(direct), message, key)

    def _direct_channel(self, user_id: str) -> tuple[str | None, Outcome]:
        response, outcome = self._call(
            "conversations.open", lambda: self.client.conversations_open(users=user_id)
        )
        return (str(response["channel"]["id"]) if response is not None else None), outcome

    def find(self, place: Place, key: str) -> str | None:
        channel: str | None = place.channel_id
        if place.channel_id.startswith("@"):
            channel, _ = self._direct_channel(place.channel_id[1:])
        if channel is None:
            return None
        if place.thread_id is not None:
            response, _ = self._call(
                "conversations.replies",
                lambda: self.client.conversations_replies(
                    channel=channel,
                    ts=place.thread_id,
                    include_all_metadata=True,
                    limit=HISTORY_LIMIT,
                ),
            )
        else:
            response, _ = self._call(
                "conversations.history",
                lambda: self.client.conversations_history(
                    channel=channel, include_all_metadata=True, limit=HISTORY_LIMIT
                ),
            )
        for found in (response or {}).get("messages", []) if response is not None else []:
            metadata = found.get("metadata") or {}
            if (
                metadata.get("event_type") == EVENT_TYPE
                and (metadata.get("event_payload") or {}).get("key") == key
            ):
                return str(found["ts"])
        return None

    def _attach(self, channel_id: str, thread_ts: str | None, message: Message) -> None:
        """Charts and files go up with the current upload API, into the same thread; a refused
        upload is logged (the message itself is already there)."""
        for filename, data, title in uploads(message):
            upload = functools.partial(
                self.client.files_upload_v2,
                channel=channel_id,
                thread_ts=thread_ts,
                content=data,
                filename=filename,
                title=title,
            )
            self._call("files.upload", upload)


def uploads(message: Message) -> list[tuple[str, bytes, str]]:
    """A message's charts and files as (file name, content, title) for `files_upload_v2`."""
    files = [(i.filename, i.png, i.alt) for i in message.images]
    return files + [(f.filename, f.content.encode(), f.filename) for f in message.files]


_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class SlackUser:
    """What `users.info` says about a user, as far as the bot cares."""

    name: str
    admin: bool  # a workspace admin or owner (`is_admin` / `is_owner`) of `teams`
    teams: frozenset[str]  # their own team, plus every team of their Grid org account
    enterprise_id: str | None
    deleted: bool

    def admin_of(self, team_id: str, enterprise_id: str | None) -> bool:
        """Admin flags count only in a team the user belongs to, or in their own Grid org."""
        member = team_id in self.teams or (
            enterprise_id is not None and enterprise_id == self.enterprise_id
        )
        return self.admin and member


class UserCache:
    """`users.info` answers, kept a few minutes per (team, user): a user id seen in one team's
    request is never answered from another team's lookup. Lookups are awaited on the event loop
    (no thread waits on Slack)."""

    def __init__(self, client: AsyncWebClient, ttl: float = ADMIN_CACHE_SECONDS) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, SlackUser]] = {}

    def cached(self, team_id: str, user_id: str) -> SlackUser | None:
        """What is known without a Web API call (None when not looked up yet)."""
        hit = self._cache.get((team_id, user_id))
        return hit[1] if hit is not None else None

    async def lookup(self, team_id: str, user_id: str) -> SlackUser | None:
        """None when Slack does not know the user (`user_not_found`) or does not answer."""
        key = (team_id, user_id)
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        response, _ = await attempt_async(
            self.client.users_info(user=user_id), "users.info", classify_slack
        )
        if response is None:
            return None
        user = response["user"]
        profile = user.get("profile", {})
        grid = user.get("enterprise_user") or {}
        found = SlackUser(
            name=str(
                profile.get("display_name")
                or profile.get("real_name")
                or user.get("real_name")
                or user.get("name")
                or user_id
            ),
            admin=bool(user.get("is_admin") or user.get("is_owner")),
            teams=frozenset(
                t for t in (user.get("team_id"), *grid.get("teams", ())) if isinstance(t, str)
            ),
            enterprise_id=grid.get("enterprise_id"),
            deleted=bool(user.get("deleted")),
        )
        self._cache[key] = (time.monotonic(), found)
        return found

    def forget(self, team_id: str, user_id: str) -> None:
        self._cache.pop((team_id, user_id), None)


class SlackBot:
    """Wires Bolt's listeners to the core, acknowledging first.

    Every listener acknowledges before any database or Web API call (Slack allows 3 s), then
    hands the rest to the process's `WorkQueue`: lookups and replies are awaited on the event
    loop with `AsyncWebClient`, the core runs on the queue's worker threads. A full queue is
    answered in the acknowledgement itself ("busy, try again").
    """

    def __init__(
        self,
        dojo: Dojo,
        client: AsyncWebClient,
        signing_secret: str | None,
        work: WorkQueue,
        authorized: AuthorizeResult,
    ) -> None:
        """`signing_secret` None: Socket Mode, where requests come over the app's own
        authenticated WebSocket and carry no signature to check."""
        self.dojo = dojo
        self.client = client
        self.work = work
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self._busy_notices = 0
        self.users = UserCache(client)

        async def authorize() -> AuthorizeResult:  # a plain function: Bolt passes by name
            return authorized

        # Bolt's single-team mode calls auth.test on the first request, before its ack: a slow
        # or failing Web API would delay or refuse it. The token's auth.test answer is known
        # from start-up, so Bolt is handed it (its client carries no token of its own).
        self.app = AsyncApp(
            client=AsyncWebClient(base_url=client.base_url, retry_handlers=[]),
            authorize=authorize,
            signing_secret=signing_secret or "",
            request_verification_enabled=bool(signing_secret),
            process_before_response=False,
        )
        self.app.command("/mlsd")(self._on_command)
        self.app.action(re.compile(".+"))(self._on_action)  # every button, by action id
        self.app.view(re.compile(".+"))(self._on_view)  # every form, by callback id
        self.app.event("message")(self._on_event(self._message, "message event"))
        self.app.event("user_change")(self._on_event(self._user_change, "user_change event"))
        self.app.event("team_join")(self._on_event(self._team_join, "team_join event"))

    async def actor(
        self,
        team_id: str,
        user_id: str,
        name: str | None,
        enterprise_id: str | None = None,
        lookup: bool = True,
    ) -> Actor:
        """The actor of a request from `team_id`; admin only within that team (or its org).
        `lookup=False` when a form must open first: `views.open` has to be the handler's first
        Web API call (the trigger lives 3 s), so no `users.info` before it."""
        user = (
            await self.users.lookup(team_id, user_id)
            if lookup
            else self.users.cached(team_id, user_id)
        )
        if user is None:
            return Actor(team_id, user_id, name or user_id, False)
        return Actor(team_id, user_id, user.name, user.admin_of(team_id, enterprise_id))

    async def mentions(self, team_id: str, text: str) -> tuple[ResolvedUser, ...]:
        """The users a command's text mentions, as Slack knows them (the `|label` is ignored);
        unknown or deactivated users are left out, so the core refuses them."""
        resolved = []
        for user_id in dict.fromkeys(_USER_MENTION.findall(text)):
            user = await self.users.lookup(team_id, user_id)
            if user is not None and not user.deleted:
                resolved.append(ResolvedUser(user_id, user.name))
        return tuple(resolved)

    # -- listeners: acknowledge, then queue the work ---------------------------------------------

    async def _on_command(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        if not self.work.admit():
            await ack(text=BUSY, response_type="ephemeral")  # shown to the user as is
            return
        await ack()
        self.work.spawn(self._command(body, respond), "/mlsd command")

    async def _command(self, body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
        team = body["team_id"]
        text = body.get("text", "")
        name, _, args = text.strip().partition(" ")
        form = opens_form(name.lower(), args)
        # the vote form needs no admin flag, so `views.open` goes first (its trigger lives 3 s)
        actor = await self.actor(
            team,
            body["user_id"],
            body.get("user_name"),
            body.get("enterprise_id"),
            lookup=not (form and name.lower() == "vote"),
        )
        place = Place(body["channel_id"])
        command = Command.from_text(
            text,
            actor,
            place,
            event_id=f"{team}:cmd:{body.get('trigger_id')}",  # duplicates are per team
            mentions=await self.mentions(team, text),
        )
        reply = await self.work.run_sync(self.dojo.handle_command, command, opens_form=form)
        await self._answer(reply, actor, place, body.get("trigger_id"), respond)

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        if self.work.admit():
            self.work.spawn(self._action(body, respond), "button")
            return
        if self._busy_notices >= self.work.limit:  # a flood: the notices are bounded too
            log.warning("busy: a button press was refused without a notice")
            return
        self._busy_notices += 1
        try:
            await self._tell_busy(body, respond)
        finally:
            self._busy_notices -= 1

    async def _tell_busy(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        """A button's acknowledgement cannot carry text: response_url, else ephemeral."""
        if body.get("response_url"):
            await respond(text=BUSY, response_type="ephemeral", replace_original=False)
            return
        channel = (body.get("container") or {}).get("channel_id") or (
            body.get("channel") or {}
        ).get("id")
        if channel:
            await attempt_async(
                self.client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=BUSY),
                "chat.postEphemeral",
                classify_slack,
            )

    async def _action(self, body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
        user = body["user"]
        scoring = any(a.get("action_id") == SCORE for a in body.get("actions", []))
        actor = await self.actor(
            body["team"]["id"], user["id"], user.get("username"), _enterprise(body), not scoring
        )
        container = body.get("container", {})
        message = body.get("message", {})
        channel = container.get("channel_id") or body["channel"]["id"]
        thread = message.get("thread_ts") or container.get("thread_ts") or message.get("ts")
        place = Place(channel, thread)
        for element in body.get("actions", []):
            action = Action(
                element["action_id"],
                element.get("value", ""),
                actor,
                place,
                event_id=f"{actor.workspace_id}:act:{element.get('action_ts')}:{user['id']}",
            )
            reply = await self.work.run_sync(self.dojo.handle_action, action, opens_form=scoring)
            await self._answer(reply, actor, place, body.get("trigger_id"), respond)

    async def _on_view(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        if not self.work.admit():
            # the form stays open with what was typed, and says why (`response_action` errors)
            await ack(response_action="errors", errors=_busy_errors(body["view"]))
            return
        await ack()  # closes the modal; the outcome is posted where the form was opened
        self.work.spawn(self._view(body), "form")

    async def _view(self, body: dict[str, Any]) -> None:
        view = body["view"]
        meta = json.loads(view.get("private_metadata") or "{}")
        user = body["user"]
        actor = await self.actor(
            body["team"]["id"], user["id"], user.get("username"), _enterprise(body)
        )
        place = Place(meta.get("channel", ""), meta.get("thread"))
        action = Action(
            meta.get("form", view.get("callback_id", "")),
            meta.get("value", ""),
            actor,
            place,
            submitted_fields(view),
            event_id=f"{actor.workspace_id}:view:{view['id']}:{view.get('hash', '')}",
        )
        reply = await self.work.run_sync(self.dojo.handle_action, action)
        await self._answer(reply, actor, place, None)

    def _on_event(
        self,
        handle: Callable[[dict[str, Any], dict[str, Any]], Coroutine[Any, Any, None]],
        what: str,
    ) -> Callable[[dict[str, Any], dict[str, Any]], Coroutine[Any, Any, None]]:
        """Bolt acknowledges events itself, so an event that reaches a listener is never
        dropped: over HTTP a full queue refuses events before Bolt (503: Slack sends them again
        later); an event that slipped past that gate, or came by Socket Mode, is queued anyway."""

        async def listener(body: dict[str, Any], event: dict[str, Any]) -> None:
            self.work.admit(force=True)
            self.work.spawn(handle(body, event), what)

        return listener

    async def _message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        # People's new replies in threads count (also "send to channel" ones and ones with
        # files); bots, edits, deletions and joins do not.
        if (
            event.get("bot_id")
            or event.get("subtype") not in ANSWER_SUBTYPES
            or not event.get("thread_ts")
            or not event.get("user")
        ):
            return
        if event.get("thread_ts") == event.get("ts"):
            return
        actor = await self.actor(body.get("team_id", ""), event["user"], None)
        place = Place(event["channel"], event["thread_ts"])
        event_id = f"{actor.workspace_id}:{body.get('event_id')}"
        await self.work.run_sync(lambda: self.dojo.handle_message(actor, place, event_id))

    async def _user_change(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """A deactivated user (`deleted: true`) leaves the leaderboards; a re-activated one
        comes back (Events API `user_change`)."""
        user = event["user"]
        team = str(user.get("team_id") or body.get("team_id", ""))
        self.users.forget(team, user["id"])
        change = self.dojo.member_left if user.get("deleted") else self.dojo.member_returned
        await self.work.run_sync(lambda: change(team, user["id"]))

    async def _team_join(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        user = event["user"]
        team = str(user.get("team_id") or body.get("team_id", ""))
        self.users.forget(team, user["id"])
        await self.work.run_sync(lambda: self.dojo.member_returned(team, user["id"]))

    # -- replies ---------------------------------------------------------------------------------

    async def _answer(
        self,
        reply: Reply | None,
        actor: Actor,
        place: Place,
        trigger_id: str | None,
        respond: AsyncRespond | None = None,
    ) -> None:
        """Reply where the actor is: a form opens first; a refused post in a channel the bot
        cannot use goes back through the command's `response_url`, saying why and the fix."""
        if reply is None:
            return  # a duplicate delivery, already answered
        message = reply.message
        if message.form is not None and trigger_id:
            view = modal_view(message.form, place.channel_id, place.thread_id)
            _, opened = await attempt_async(
                self.client.views_open(trigger_id=trigger_id, view=view),
                "views.open",
                classify_slack,
            )
            if isinstance(opened, Delivered):
                return
            # the form's message says how to do the same inline
            message = replace(message, text=f"The form could not open. {message.text}", form=None)
            reply = Reply(message, private=True)
        outcome = await self._deliver(reply, actor, place, message)
        if isinstance(outcome, Permanent | Transient):
            await self._fall_back(outcome, reply, actor, message, respond)

    async def _fall_back(
        self,
        outcome: Permanent | Transient,
        reply: Reply,
        actor: Actor,
        message: Message,
        respond: AsyncRespond | None,
    ) -> None:
        """The reply did not get through (a refusal, or retries spent): the command's
        `response_url` carries it with the reason and the fix; without one (a form) it goes
        to the user's direct messages. An Ambiguous reply is left alone: it may be there."""
        if isinstance(outcome, Permanent):
            note = f"(I cannot post in this channel myself: {describe(outcome)}.)"
        else:
            note = f"(Slack did not take my reply in the channel: {describe(outcome)}.)"
        if respond is not None:
            await respond(
                text=f"{fallback_text(message)}\n{note}",
                blocks=[*message_blocks(message), _context(note)],
                response_type="ephemeral" if reply.private else "in_channel",
                replace_original=False,
            )
        elif not (message.images or message.files):  # those went to the DM already
            noted = replace(message, text=f"{message.text}\n\n{note}")
            await self._direct(actor.user_id, noted)

    async def _deliver(self, reply: Reply, actor: Actor, place: Place, message: Message) -> Outcome:
        """Replies are awaited on the event loop, with the courier's retry rules for unkeyed
        sends (`retry_async`): private text as an ephemeral message, private charts and files in
        a direct message (ephemeral messages cannot carry files), public replies as a post."""
        if not reply.private:
            return await self._post(Place(place.channel_id, place.thread_id), message)
        if message.images or message.files:
            return await self._direct(actor.user_id, message)

        async def ephemeral() -> Outcome:
            response, outcome = await self._call(
                "chat.postEphemeral",
                self.client.chat_postEphemeral(
                    channel=place.channel_id,
                    user=actor.user_id,
                    thread_ts=place.thread_id,
                    text=fallback_text(message),
                    blocks=message_blocks(message),
                ),
            )
            return Delivered(str(response["message_ts"])) if response is not None else outcome

        return await retry_async(ephemeral)

    async def _post(self, place: Place, message: Message) -> Outcome:
        """`SlackPort.post` on the event loop: the message, then its files into its thread (a
        refused upload is logged; the message is already there)."""

        async def post() -> Outcome:
            posted, outcome = await self._call(
                "chat.postMessage",
                self.client.chat_postMessage(
                    channel=place.channel_id,
                    thread_ts=place.thread_id,
                    text=fallback_text(message),
                    blocks=message_blocks(message),
                    unfurl_links=False,
                ),
            )
            return Delivered(str(posted["ts"])) if posted is not None else outcome

        outcome = await retry_async(post)
        if isinstance(outcome, Delivered):
            for filename, data, title in uploads(message):
                await self._call(
                    "files.upload",
                    self.client.files_upload_v2(
                        channel=place.channel_id,
                        thread_ts=place.thread_id or outcome.message_id,
                        content=data,
                        filename=filename,
                        title=title,
                    ),
                )
        return outcome

    async def _direct(self, user_id: str, message: Message) -> Outcome:
        """`SlackPort.send_direct` on the event loop: open the DM, then post there."""

        async def open_direct() -> Outcome:
            opened, outcome = await self._call(
                "conversations.open", self.client.conversations_open(users=user_id)
            )
            return Delivered(str(opened["channel"]["id"])) if opened is not None else outcome

        direct = await retry_async(open_direct)
        if not isinstance(direct, Delivered):
            return direct
        return await self._post(Place(direct.message_id), message)

    async def _call(self, what: str, call: Awaitable[Any]) -> tuple[Any, Outcome]:
        return await attempt_async(call, what, classify_slack)


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _enterprise(body: dict[str, Any]) -> str | None:
    enterprise = body.get("enterprise") or {}
    return enterprise.get("id") if isinstance(enterprise, dict) else None


def _busy_errors(view: dict[str, Any]) -> dict[str, str]:
    """`response_action: errors` needs an input block to show the message under."""
    inputs = [b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input"]
    return {inputs[0]: BUSY} if inputs else {}


def build(
    dojo_factory: Callable[[SlackPort], Dojo],
    token: str,
    signing_secret: str | None,
    api_url: str,
    work: WorkQueue | None = None,
) -> SlackBot:
    """The bot for one token. A bot token belongs to one team (`auth.test`'s `team_id`): this
    process does due work (daily prompts, reminders, results) for that team's channels only.
    The core and the scheduler use a synchronous client on their own threads; the listeners
    an `AsyncWebClient` on the event loop."""
    client = web_client(token, api_url)
    dojo = dojo_factory(SlackPort(client))
    dojo.ctx.fanout = Pacer(FANOUT_RATE)
    auth = client.auth_test()
    dojo.limit_to(frozenset({str(auth["team_id"])}))
    authorized = AuthorizeResult(
        enterprise_id=auth.get("enterprise_id"),
        team_id=auth.get("team_id"),
        bot_user_id=auth.get("user_id"),
        bot_id=auth.get("bot_id"),
        bot_token=token,
    )
    bot_client = async_web_client(token, api_url)
    return SlackBot(dojo, bot_client, signing_secret, work or WorkQueue(), authorized)


_SHAPES: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "event": (dict,),
    "view": (dict,),
    "actions": (list,),
    "user": (dict, str),
    "team": (dict, str),
    "channel": (dict, str),
    "container": (dict,),
    "enterprise": (dict, str, type(None)),
}


def plausible_shape(body: Any) -> bool:
    """The fields Bolt routes on have the types Slack's payloads give them, so a signed but odd
    body is refused with 400 instead of failing inside Bolt with a 500."""
    if not isinstance(body, dict):
        return False
    for key, types in _SHAPES.items():
        if key in body and not isinstance(body[key], types):
            return False
    event = body.get("event")
    if isinstance(event, dict) and not isinstance(event.get("type", ""), str):
        return False
    actions = body.get("actions", [])
    return all(isinstance(action, dict) for action in actions)


def signed_by_slack(verifier: SignatureVerifier, raw: bytes, headers: Any) -> bool:
    """Slack's request signature (HMAC-SHA256 over `v0:timestamp:body`, five-minute window),
    checked on the raw bytes before anything parses them; a garbled header is just unsigned."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not timestamp.isdigit() or not signature:
        return False
    try:
        return bool(verifier.is_valid(raw, timestamp, signature))
    except (ValueError, TypeError):
        return False


def http_app(bot: SlackBot) -> web.Application:
    """`POST /slack/events` for everything Slack sends, `GET /healthz` for load balancers.

    The signature is checked on the raw bytes before anything parses them; an event arriving
    while the work queue is full gets 503, which Slack answers by sending it again later
    (Events API retries), so it is not lost."""

    verifier = bot.verifier
    if verifier is None:
        raise ValueError("HTTP mode needs the signing secret (SLACK_SIGNING_SECRET)")

    async def events(request: web.Request) -> web.Response:
        raw = await request.read()  # aiohttp refuses bodies over 1 MiB with 413 by itself
        if not signed_by_slack(verifier, raw, request.headers):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = AsyncBoltRequest(
                body=raw.decode("utf-8"),
                query=request.query_string,
                headers={k: v for k, v in request.headers.items()},
            )
            if not plausible_shape(bolt_request.body):
                raise ValueError("the body does not have the shape Slack sends")
            if bolt_request.body.get("type") == "event_callback" and bot.work.full():
                return web.json_response({"error": "busy"}, status=503)
            response = await bot.app.async_dispatch(bolt_request)
        except Exception as exc:  # a signed body Bolt cannot read: refused, one log line
            log.warning("malformed Slack request refused (%s: %s)", type(exc).__name__, exc)
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(response)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "in_flight": bot.work.in_flight})

    application = web.Application()
    application.router.add_post("/slack/events", events)
    application.router.add_get("/healthz", healthz)
    application.cleanup_ctx.append(lambda _: serving(bot))
    return application


@asynccontextmanager
async def serving(bot: SlackBot) -> AsyncIterator[None]:
    """One HTTP session for every Web API call while serving (kept-alive connections); at
    shutdown the jobs in flight finish before the session closes."""
    session = aiohttp.ClientSession()
    bot.client.session = bot.app.client.session = session
    try:
        yield
    finally:
        await bot.work.drain()
        await session.close()


def run_slack(
    dojo_factory: Callable[[SlackPort], Dojo],
    token: str,
    signing_secret: str | None,
    api_url: str,
    app_token: str | None,
    port: int,
    work: WorkQueue | None = None,
) -> None:
    """Serve until interrupted: Socket Mode with an app token, HTTP on `port` otherwise."""
    from bot.scheduler import Ticker

    bot = build(dojo_factory, token, signing_secret, api_url, work)
    ticker = Ticker(bot.dojo)
    ticker.start()
    try:
        if app_token:
            asyncio.run(_socket_mode(bot, app_token))
        else:
            web.run_app(http_app(bot), host="0.0.0.0", port=port, print=None)
    finally:
        ticker.stop()


async def _socket_mode(bot: SlackBot, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    stop = shutdown_signal()
    async with serving(bot):
        handler = AsyncSocketModeHandler(bot.app, app_token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        await stop.wait()
        await handler.close_async()  # type: ignore[no-untyped-call]  # then serving() drains
