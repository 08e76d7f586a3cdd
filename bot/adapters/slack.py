"""Slack: the real Bolt app for the core (DESIGN.md §2, §6).

Requests are acknowledged at once; the core runs after the ack in Bolt's worker threads and
answers through the Web API (`SLACK_API_URL`), so nothing waits on Slack's 3-second limit.
HTTP mode serves `/slack/events` and `/healthz` with aiohttp; Socket Mode is used when an app
token is configured. Only this module (with blockkit.py) knows it is talking to Slack.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt import Ack, App, BoltRequest
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier

from bot.adapters.blockkit import fallback_text, message_blocks, modal_view, submitted_fields
from bot.engine import Dojo
from bot.port import Action, Actor, Command, Message, Place, Reply, ResolvedUser

log = logging.getLogger("dojo.slack")
PLATFORM = "slack"
ADMIN_CACHE_SECONDS = 300


def web_client(token: str, base_url: str) -> WebClient:
    """A Web API client for `base_url`, retrying rate limits (429) and dropped connections."""
    return WebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=3),
            ConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


class SlackPort:
    """The ChatPort over the Web API. Message ids are `ts`; a thread's id is its root's `ts`."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(self, place: Place, message: Message) -> str:
        response = self.client.chat_postMessage(
            channel=place.channel_id,
            thread_ts=place.thread_id,
            text=fallback_text(message),
            blocks=message_blocks(message),
            unfurl_links=False,
        )
        ts = str(response["ts"])
        self._attach(place.channel_id, place.thread_id or ts, message)
        return ts

    def start_thread(self, channel_id: str, message: Message) -> str:
        return self.post(Place(channel_id), message)

    def edit(self, place: Place, message_id: str, message: Message) -> None:
        self.client.chat_update(
            channel=place.channel_id,
            ts=message_id,
            text=fallback_text(message),
            blocks=message_blocks(message),
        )

    def send_private(
        self, user_id: str, place: Place, message: Message, *, direct: bool = False
    ) -> None:
        if direct:  # a DM stays; an ephemeral message is gone when the client reloads
            channel = str(self.client.conversations_open(users=user_id)["channel"]["id"])
            self.client.chat_postMessage(
                channel=channel, text=fallback_text(message), blocks=message_blocks(message)
            )
            if message.images or message.files:
                self._attach(channel, None, message)
            return
        self.client.chat_postEphemeral(
            channel=place.channel_id,
            user=user_id,
            thread_ts=place.thread_id,
            text=fallback_text(message),
            blocks=message_blocks(message),
        )
        if message.images or message.files:  # files cannot be ephemeral: they go to a DM
            direct = self.client.conversations_open(users=user_id)["channel"]["id"]
            self._attach(str(direct), None, message)

    def _attach(self, channel_id: str, thread_ts: str | None, message: Message) -> None:
        """Charts and files go up with the current upload API, into the same thread."""
        uploads = [(i.filename, i.png, i.alt) for i in message.images]
        uploads += [(f.filename, f.content.encode(), f.filename) for f in message.files]
        for filename, data, title in uploads:
            self.client.files_upload_v2(
                channel=channel_id,
                thread_ts=thread_ts,
                content=data,
                filename=filename,
                title=title,
            )


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
    request is never answered from another team's lookup."""

    def __init__(self, client: WebClient, ttl: float = ADMIN_CACHE_SECONDS) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, SlackUser]] = {}
        self._lock = threading.Lock()

    def lookup(self, team_id: str, user_id: str) -> SlackUser | None:
        """None when Slack does not know the user (`user_not_found`) or refuses to say."""
        key = (team_id, user_id)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
            return None
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
        with self._lock:
            self._cache[key] = (time.monotonic(), found)
        return found

    def forget(self, team_id: str, user_id: str) -> None:
        with self._lock:
            self._cache.pop((team_id, user_id), None)


class SlackBot:
    """Wires Bolt's listeners to the core."""

    def __init__(
        self, dojo: Dojo, client: WebClient, signing_secret: str, token_verification: bool = True
    ) -> None:
        self.dojo = dojo
        self.client = client
        self.verifier = SignatureVerifier(signing_secret)
        self.users = UserCache(client)
        self.app = App(
            client=client,
            signing_secret=signing_secret,
            token_verification_enabled=token_verification,
            process_before_response=False,
        )
        self.app.command("/mlsd")(self._on_command)
        self.app.action(re.compile(".+"))(self._on_action)  # every button, by action id
        self.app.view(re.compile(".+"))(self._on_view)  # every form, by callback id
        self.app.event("message")(self._on_message)
        self.app.event("user_change")(self._on_user_change)
        self.app.event("team_join")(self._on_team_join)

    def actor(
        self, team_id: str, user_id: str, name: str | None, enterprise_id: str | None = None
    ) -> Actor:
        """The actor of a request from `team_id`; admin only within that team (or its org)."""
        user = self.users.lookup(team_id, user_id)
        if user is None:
            return Actor(team_id, user_id, name or user_id, False)
        return Actor(team_id, user_id, user.name, user.admin_of(team_id, enterprise_id))

    def mentions(self, team_id: str, text: str) -> tuple[ResolvedUser, ...]:
        """The users a command's text mentions, as Slack knows them (the `|label` is ignored);
        unknown or deactivated users are left out, so the core refuses them."""
        resolved = []
        for user_id in dict.fromkeys(_USER_MENTION.findall(text)):
            user = self.users.lookup(team_id, user_id)
            if user is not None and not user.deleted:
                resolved.append(ResolvedUser(user_id, user.name))
        return tuple(resolved)

    # -- listeners (run after the ack, in Bolt's worker threads) -------------------------------

    def _on_command(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()
        with self._reported("/mlsd command"):
            self._command(body)

    def _command(self, body: dict[str, Any]) -> None:
        team = body["team_id"]
        actor = self.actor(team, body["user_id"], body.get("user_name"), body.get("enterprise_id"))
        place = Place(body["channel_id"])
        text = body.get("text", "")
        command = Command.from_text(
            text,
            actor,
            place,
            event_id=f"{team}:cmd:{body.get('trigger_id')}",  # duplicates are per team
            mentions=self.mentions(team, text),
        )
        self._answer(self.dojo.handle_command(command), actor, place, body.get("trigger_id"))

    def _on_action(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()
        with self._reported("button"):
            self._action(body)

    def _action(self, body: dict[str, Any]) -> None:
        user = body["user"]
        actor = self.actor(body["team"]["id"], user["id"], user.get("username"), _enterprise(body))
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
            self._answer(self.dojo.handle_action(action), actor, place, body.get("trigger_id"))

    def _on_view(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()  # closes the modal; the outcome is posted where the form was opened
        with self._reported("form"):
            self._view(body)

    def _view(self, body: dict[str, Any]) -> None:
        view = body["view"]
        meta = json.loads(view.get("private_metadata") or "{}")
        user = body["user"]
        actor = self.actor(body["team"]["id"], user["id"], user.get("username"), _enterprise(body))
        place = Place(meta.get("channel", ""), meta.get("thread"))
        action = Action(
            meta.get("form", view.get("callback_id", "")),
            meta.get("value", ""),
            actor,
            place,
            submitted_fields(view),
            event_id=f"{actor.workspace_id}:view:{view['id']}:{view.get('hash', '')}",
        )
        self._answer(self.dojo.handle_action(action), actor, place, None)

    def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        with self._reported("message event"):
            self._message(body, event)

    @contextmanager
    def _reported(self, what: str) -> Iterator[None]:
        """After the ack, failures are logged here: an exception escaping a Bolt listener
        would make Bolt rewrite the (already sent) acknowledgement."""
        try:
            yield
        except SlackApiError as exc:
            log.warning(
                "Slack refused a call while handling a %s: %s", what, exc.response.get("error")
            )
        except Exception:
            log.exception("failed to handle a %s", what)

    def _message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        # Only people's new replies in threads count: not bots, edits, deletions or joins.
        if event.get("bot_id") or event.get("subtype") or not event.get("thread_ts"):
            return
        if event.get("thread_ts") == event.get("ts"):
            return
        actor = self.actor(body.get("team_id", ""), event["user"], None)
        place = Place(event["channel"], event["thread_ts"])
        self.dojo.handle_message(
            actor, place, event_id=f"{actor.workspace_id}:{body.get('event_id')}"
        )

    def _on_user_change(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """A deactivated user (`deleted: true`) leaves the leaderboards; a re-activated one
        comes back (Events API `user_change`)."""
        with self._reported("user_change event"):
            user = event["user"]
            team = str(user.get("team_id") or body.get("team_id", ""))
            self.users.forget(team, user["id"])
            if user.get("deleted"):
                self.dojo.member_left(team, user["id"])
            else:
                self.dojo.member_returned(team, user["id"])

    def _on_team_join(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        with self._reported("team_join event"):
            user = event["user"]
            team = str(user.get("team_id") or body.get("team_id", ""))
            self.users.forget(team, user["id"])
            self.dojo.member_returned(team, user["id"])

    # -- replies ---------------------------------------------------------------------------------

    def _answer(
        self, reply: Reply | None, actor: Actor, place: Place, trigger_id: str | None
    ) -> None:
        if reply is None:
            return  # a duplicate delivery, already answered
        message = reply.message
        if message.form is not None and trigger_id:
            self.client.views_open(
                trigger_id=trigger_id,
                view=modal_view(message.form, place.channel_id, place.thread_id),
            )
            return
        port = self.dojo.ctx.port
        if reply.private:
            port.send_private(actor.user_id, place, message)
        else:
            port.post(Place(place.channel_id, place.thread_id), message)


def _enterprise(body: dict[str, Any]) -> str | None:
    enterprise = body.get("enterprise") or {}
    return enterprise.get("id") if isinstance(enterprise, dict) else None


def build(
    dojo_factory: Callable[[SlackPort], Dojo],
    token: str,
    signing_secret: str,
    api_url: str,
    token_verification: bool = True,
) -> SlackBot:
    """The bot for one token. A bot token belongs to one team (`auth.test`'s `team_id`): this
    process does due work (daily prompts, reminders, results) for that team's channels only."""
    client = web_client(token, api_url)
    dojo = dojo_factory(SlackPort(client))
    dojo.limit_to(frozenset({str(client.auth_test()["team_id"])}))
    return SlackBot(dojo, client, signing_secret, token_verification)


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
    """`POST /slack/events` for everything Slack sends, `GET /healthz` for load balancers."""

    async def events(request: web.Request) -> web.Response:
        raw = await request.read()  # aiohttp refuses bodies over 1 MiB with 413 by itself
        if not signed_by_slack(bot.verifier, raw, request.headers):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = BoltRequest(
                body=raw.decode("utf-8"),
                query=request.query_string,
                headers={k: v for k, v in request.headers.items()},
            )
            if not plausible_shape(bolt_request.body):
                raise ValueError("the body does not have the shape Slack sends")
            response = await asyncio.to_thread(bot.app.dispatch, bolt_request)
        except Exception as exc:  # a signed body Bolt cannot read: refused, one log line
            log.warning("malformed Slack request refused (%s: %s)", type(exc).__name__, exc)
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(response)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    application = web.Application()
    application.router.add_post("/slack/events", events)
    application.router.add_get("/healthz", healthz)
    return application


def run_slack(
    dojo_factory: Callable[[SlackPort], Dojo],
    token: str,
    signing_secret: str,
    api_url: str,
    app_token: str | None,
    port: int,
) -> None:
    """Serve until interrupted: Socket Mode with an app token, HTTP on `port` otherwise."""
    from bot.scheduler import Ticker

    bot = build(dojo_factory, token, signing_secret, api_url)
    ticker = Ticker(bot.dojo)
    ticker.start()
    try:
        if app_token:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            SocketModeHandler(bot.app, app_token).start()  # type: ignore[no-untyped-call]
        else:
            web.run_app(http_app(bot), host="0.0.0.0", port=port, print=None)
    finally:
        ticker.stop()
