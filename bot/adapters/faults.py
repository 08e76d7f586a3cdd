"""One classification of platform failures (DESIGN.md §11, shared/reference/platform-errors.md).

Adapters call the platforms and hand the core a typed `Outcome`; this module is the only place
that knows which documented error is permanent for its place, which is transient, and which
leaves us not knowing whether the call took effect. Sources: Slack Web API `error` strings
(`SlackApiError.response["error"]`, HTTP 429 + `Retry-After`), Discord JSON error codes
(`HTTPException.code`) and HTTP statuses.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import urllib.error
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import discord
from slack_sdk.errors import SlackApiError

from bot.port import Ambiguous, Delivered, Outcome, Permanent, Transient

log = logging.getLogger("dojo.faults")
T = TypeVar("T")

INVITE = "invite me to the channel (`/invite @mlsd-dojo`)"
UNARCHIVE = "unarchive the channel, or schedule the daily question in another one"
OPEN_DMS = "allow direct messages from the app (or use `/mlsd progress` to see results)"
PERMISSIONS = (
    "grant me View Channel, Send Messages, Send Messages in Threads, Create Public Threads, "
    "Embed Links, Attach Files and Read Message History in this channel"
)
REPORT = "this is a bug on our side: please report it"

# Slack `error` strings that will not change by retrying: reason, fix.
SLACK_PERMANENT: dict[str, tuple[str, str]] = {
    "is_archived": ("the channel is archived", UNARCHIVE),
    "not_in_channel": ("I am not a member of this channel", INVITE),
    "channel_not_found": ("I cannot see this channel (private, or deleted)", INVITE),
    "user_not_in_channel": ("that person is not in this channel", "add them to the channel"),
    "cannot_dm_bot": ("that user is a bot, which cannot get direct messages", OPEN_DMS),
    "user_disabled": ("that account is deactivated", "nothing: the account is gone"),
    "user_not_found": ("I cannot find that user", OPEN_DMS),
    "messages_tab_disabled": ("that person has direct messages turned off", OPEN_DMS),
    "expired_trigger_id": ("the form could not open in time", "use the inline command instead"),
    "invalid_trigger_id": ("the form could not open in time", "use the inline command instead"),
    "message_not_found": ("that message was deleted", "nothing: it is gone"),
    "cant_update_message": ("that message is not mine to change", "nothing to do"),
    "restricted_action": ("posting here is restricted by the workspace", "ask an owner"),
    "msg_too_long": ("Slack refused the message as too long", REPORT),
    "invalid_blocks": ("Slack refused the message layout", REPORT),
    "no_text": ("Slack refused an empty message", REPORT),
}
SLACK_TRANSIENT = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}

# Discord JSON error codes that will not change by retrying: reason, fix.
DISCORD_PERMANENT: dict[int, tuple[str, str]] = {
    10003: ("the channel or thread no longer exists, or I cannot see it", PERMISSIONS),
    10008: ("that message was deleted", "nothing: it is gone"),
    10062: ("the interaction expired", "run the command again"),
    40060: ("the interaction was already answered", "nothing to do"),
    50001: ("I cannot see this channel (Missing Access)", PERMISSIONS),
    50007: ("that member does not accept direct messages from me", OPEN_DMS),
    50013: ("I lack a permission in this channel (Missing Permissions)", PERMISSIONS),
    50083: ("the thread is archived", "unarchive the thread, or start a new one"),
    160002: ("I cannot read this channel's history", PERMISSIONS),
}
DISCORD_TRANSIENT = {130000}  # API resource overloaded


def classify_slack(exc: BaseException) -> Outcome:
    """Map a `SlackApiError` or a connection error from slack_sdk's urllib client."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        data = response.data if isinstance(response.data, dict) else {}  # a proxy's HTML page
        error = str(data.get("error") or "")
        status = int(response.status_code)
        if status == 429 or error == "ratelimited":
            return Transient(_seconds(response.headers.get("Retry-After")), "ratelimited")
        if status >= 500 or error in SLACK_TRANSIENT:
            return Transient(None, error or f"http_{status}")
        reason, fix = SLACK_PERMANENT.get(error, (f"Slack refused it ({error})", REPORT))
        return Permanent(reason, fix, error)
    return _connection(exc)


def classify_discord(exc: BaseException) -> Outcome:
    """Map a discord.py `HTTPException` (status + JSON code) or an aiohttp connection error."""
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429 or exc.code in DISCORD_TRANSIENT or exc.status >= 500:
            headers = getattr(exc.response, "headers", {}) or {}
            return Transient(_seconds(headers.get("Retry-After")), str(exc.code or exc.status))
        known = DISCORD_PERMANENT.get(exc.code)
        if known is not None:
            return Permanent(known[0], known[1], str(exc.code))
        return Permanent(f"Discord refused it ({exc.status} {exc.text or exc.code})", REPORT)
    return _connection(exc)


def _connection(exc: BaseException) -> Outcome:
    """Connection failures: before the request was sent it is safe to retry; after, unknown."""
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError):
        return Transient(None, "connect")
    if isinstance(exc, urllib.error.URLError):  # urllib: raised while connecting or sending
        return Transient(None, "connect")
    if isinstance(
        exc,
        http.client.RemoteDisconnected
        | aiohttp.ServerDisconnectedError
        | aiohttp.ClientOSError
        | aiohttp.ClientPayloadError
        | ConnectionError
        | TimeoutError
        | asyncio.TimeoutError,
    ):
        return Ambiguous(type(exc).__name__)
    raise exc  # not a platform failure: a bug, let it surface


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def attempt(
    call: Callable[[], T], classify: Callable[[BaseException], Outcome], what: str
) -> tuple[T | None, Outcome]:
    """Run one platform call; its value with `Delivered()`, or None with the failure's class."""
    try:
        return call(), Delivered()
    except Exception as exc:
        outcome = classify(exc)
        log.warning("%s: %s (%s)", what, outcome, exc)
        return None, outcome


async def attempt_async(
    call: Awaitable[T],
    what: str,
    classify: Callable[[BaseException], Outcome] = classify_discord,
) -> tuple[T | None, Outcome]:
    """`attempt` for a coroutine (awaited here): discord.py's, or slack_sdk's async client."""
    try:
        return await call, Delivered()
    except Exception as exc:
        outcome = classify(exc)
        log.warning("%s: %s (%s)", what, outcome, exc)
        return None, outcome
