"""Real, signed Slack HTTP requests for the real Bolt app served on a local port."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

SECRET = "test-signing-secret"
TEAM = "T1"
CHANNEL = "C1"


def sign(body: str, timestamp: int, secret: str = SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class Server:
    """Serves an aiohttp application on a free local port from a background thread."""

    def __init__(self, application: web.Application) -> None:
        self.application = application
        self.loop = asyncio.new_event_loop()
        self.url = ""

    def start(self) -> str:
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            # a fake may hold a connection on purpose: shut down without waiting long for it
            self.runner = web.AppRunner(self.application, shutdown_timeout=2.0)
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        assert ready.wait(10)
        return self.url

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


_IDS = itertools.count(1)


@dataclass
class Response:
    status: int
    body: str


@dataclass
class SlackClient:
    """Sends what Slack sends: slash commands, interactions, events; signed unless told not."""

    url: str
    secret: str = SECRET
    team: str = TEAM  # the team every request says it comes from

    response_url: str = "https://hooks.slack.invalid/commands/1"  # tests may point it at a fake

    def __post_init__(self) -> None:
        self._ids = _IDS  # shared: Slack's trigger and view ids are unique across workers

    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signed: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Response:
        ts = int(time.time()) if timestamp is None else timestamp
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            **(headers or {}),
        }
        if signed:
            all_headers["X-Slack-Signature"] = sign(body, ts, self.secret)
        request = urllib.request.Request(
            f"{self.url}/slack/events", data=body.encode(), headers=all_headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Response(response.status, response.read().decode())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.read().decode())

    def command(self, user: str, text: str, channel: str = CHANNEL, **kw: Any) -> Response:
        body = urlencode(
            {
                "token": "legacy",
                "team_id": self.team,
                "team_domain": "dojo",
                "channel_id": channel,
                "channel_name": "practice",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/mlsd",
                "text": text,
                "api_app_id": "A1",
                "response_url": self.response_url,
                "trigger_id": f"trigger-{next(self._ids)}",
            }
        )
        return self.post(body, "application/x-www-form-urlencoded", **kw)

    def interaction(self, payload: dict[str, Any], **kw: Any) -> Response:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **kw)

    def press(
        self,
        user: str,
        button: dict[str, Any],
        message_ts: str,
        thread_ts: str | None,
        channel: str = CHANNEL,
    ) -> Response:
        message: dict[str, Any] = {"type": "message", "ts": message_ts, "user": "UBOT"}
        if thread_ts:
            message["thread_ts"] = thread_ts
        return self.interaction(
            {
                "type": "block_actions",
                "team": {"id": self.team, "domain": "dojo"},
                "user": {"id": user, "username": user.lower(), "team_id": self.team},
                "api_app_id": "A1",
                "trigger_id": f"trigger-{next(self._ids)}",
                "response_url": self.response_url,
                "container": {
                    "type": "message",
                    "message_ts": message_ts,
                    "channel_id": channel,
                    "is_ephemeral": False,
                    **({"thread_ts": thread_ts} if thread_ts else {}),
                },
                "channel": {"id": channel, "name": "practice"},
                "message": message,
                "actions": [
                    {
                        "type": "button",
                        "action_id": button["action_id"],
                        "block_id": "b1",
                        "value": button.get("value", ""),
                        "action_ts": f"{time.time():.6f}-{next(self._ids)}",
                    }
                ],
            }
        )

    def submit(self, user: str, view: dict[str, Any], values: dict[str, str]) -> Response:
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            element = block["element"]
            name = block["block_id"]
            if element["type"] == "static_select":
                state[name] = {
                    name: {"type": "static_select", "selected_option": {"value": values[name]}}
                }
            elif element["type"] == "multi_static_select":  # values: "1,3"
                chosen = [{"value": v} for v in values.get(name, "").split(",") if v]
                state[name] = {name: {"type": "multi_static_select", "selected_options": chosen}}
            else:
                state[name] = {name: {"type": "plain_text_input", "value": values.get(name)}}
        return self.interaction(
            {
                "type": "view_submission",
                "team": {"id": self.team, "domain": "dojo"},
                "user": {"id": user, "username": user.lower(), "team_id": self.team},
                "api_app_id": "A1",
                "trigger_id": f"trigger-{next(self._ids)}",
                "view": {
                    "id": f"V{next(self._ids)}",
                    "type": "modal",
                    "callback_id": view["callback_id"],
                    "private_metadata": view["private_metadata"],
                    "blocks": view["blocks"],
                    "hash": "h1",
                    "state": {"values": state},
                },
            }
        )

    def event(self, event: dict[str, Any], event_id: str) -> Response:
        """Any Events API event (e.g. `user_change`), wrapped as Slack wraps it."""
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": self.team,
                "api_app_id": "A1",
                "event": event,
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
            }
        )
        return self.post(body, "application/json")

    def thread_message(
        self,
        user: str,
        thread_ts: str,
        text: str,
        event_id: str,
        channel: str = CHANNEL,
        retry: int | None = None,
        **extra: Any,
    ) -> Response:
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
            "thread_ts": thread_ts,
            "channel_type": "channel",
            **extra,
        }
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": self.team,
                "api_app_id": "A1",
                "event": event,
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
            }
        )
        headers = (
            {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
            if retry
            else None
        )
        return self.post(body, "application/json", headers=headers)
