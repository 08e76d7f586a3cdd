"""A local stand-in for Slack's Web API: records every call and answers like Slack does.

It serves the methods the adapter uses (and the file-upload URL that `files_upload_v2` posts
to), can be told to fail a method once with `ok: false` or a 429 with Retry-After, and lets
tests wait for the calls they expect instead of sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fault_plan import FaultPlan
from tests.slack_wire import Server


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)  # when it arrived (load bench timings)
    path: str = ""  # the `response_url` path segment it was posted to, e.g. "1"


@dataclass
class FakeSlack:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = field(
        default_factory=dict
    )
    uploads: list[bytes] = field(default_factory=list)
    # the team the bot token belongs to (`auth.test`), and every user's team unless they say
    team_id: str = "T1"

    plan: FaultPlan = field(default_factory=FaultPlan)  # scripted refusals and dropped answers
    messages: list[dict[str, Any]] = field(default_factory=list)  # what the bot posted
    # seconds every answer waits before it leaves, as a real Web API round trip does; may be
    # changed while running (the load bench compares an instant API with a realistic one)
    latency: float = 0.0

    def __post_init__(self) -> None:
        self._ts = itertools.count(1)
        self._files = itertools.count(1)
        self._lock = threading.Lock()
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # Slack takes read methods as GET too
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{command}", self._respond)
        self._server = Server(app)
        self.base_url = self._server.start() + "/api/"
        return self.base_url

    def stop(self) -> None:
        self._server.stop()

    @property
    def response_url(self) -> str:
        """A slash command's `response_url` that lands here (recorded as method "response_url")."""
        return self.base_url.replace("/api/", "/respond/1")

    # -- test helpers ----------------------------------------------------------------------------

    def fail_once(
        self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self.failures.setdefault(method, []).append((status, body, headers or {}))

    def of(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c.params for c in self.calls if c.method == method]

    def mark(self) -> int:
        with self._lock:
            return len(self.calls)

    def since(self, mark: int, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls[mark:] if method is None or c.method == method]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 15) -> None:
        """Wait for calls the bot makes after acknowledging (its work runs in the background)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"expected Slack calls did not arrive: {self.calls[-5:]}")
            time.sleep(0.02)

    # -- handlers --------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        response = await self._api_answer(request)
        await self._delay()
        return response

    async def _delay(self) -> None:
        if self.latency > 0:
            await asyncio.sleep(self.latency)  # never blocks the fake's other requests

    async def _api_answer(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.text()
        if request.content_type == "application/json":
            params: dict[str, Any] = json.loads(raw or "{}")
        else:
            params = dict(parse_qsl(raw))
        params = {**request.query, **params}
        for key in ("blocks", "view", "attachments", "files"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        with self._lock:
            self.calls.append(Call(method, params))
            queued = self.failures.get(method)
            failure = queued.pop(0) if queued else None
        if failure is not None:
            status, body, headers = failure
            return web.json_response(body, status=status, headers=headers)
        fault = self.plan.take(method)
        if fault is not None and fault.kind == "error":
            return self.plan.refusal(fault)
        with self._lock:
            answer = self._answer(method, params)
        if fault is not None:  # carried out, but the answer never arrives
            await self._delay()
            return await self.plan.unanswered(fault, request)
        return web.json_response(answer)

    async def _respond(self, request: web.Request) -> web.Response:
        params = json.loads(await request.text() or "{}")
        with self._lock:
            self.calls.append(Call("response_url", params, path=request.match_info["command"]))
        await self._delay()
        return web.Response(text="ok")

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://dojo-test.slack.com/",
                "team": "Dojo",
                "user": "dojo",
                "team_id": self.team_id,
                "user_id": "UBOT",
                "bot_id": "BBOT",
            }
        if method == "chat.update":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            metadata = params.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            self.messages.append(
                {
                    "channel": params.get("channel"),
                    "ts": ts,
                    "thread_ts": params.get("thread_ts"),
                    "text": params.get("text"),
                    "metadata": metadata,
                }
            )
            return {"ok": True, "channel": params.get("channel"), "ts": ts}
        if method in ("conversations.history", "conversations.replies"):
            return self._history(method, params)
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V1", **params.get("view", {})}}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{params.get('users', 'X')}"}}
        if method == "users.info":
            user_id = params.get("user", "")
            info = self.users.get(user_id)
            if info is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user_id, "team_id": self.team_id, **info}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._files)}"
            return {
                "ok": True,
                "file_id": file_id,
                "upload_url": self.base_url.replace("/api/", f"/upload/{file_id}"),
            }
        if method == "files.completeUploadExternal":
            files = params.get("files", [])
            return {
                "ok": True,
                "files": [{"id": f.get("id"), "title": f.get("title")} for f in files],
            }
        return {"ok": False, "error": "unknown_method"}

    def _history(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Newest first, like Slack; metadata only when asked for with include_all_metadata."""
        channel = params.get("channel")
        if method == "conversations.replies":
            root = params.get("ts")
            found = [
                m
                for m in self.messages
                if m["channel"] == channel and (m["ts"] == root or m["thread_ts"] == root)
            ]
        else:
            found = [m for m in self.messages if m["channel"] == channel and not m["thread_ts"]]
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        shown = []
        for message in reversed(found):
            item = {"type": "message", "ts": message["ts"], "text": message["text"]}
            if message["thread_ts"]:
                item["thread_ts"] = message["thread_ts"]
            if with_metadata and message["metadata"]:
                item["metadata"] = message["metadata"]
            shown.append(item)
        return {"ok": True, "messages": shown[: int(params.get("limit") or 100)]}

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        with self._lock:
            self.uploads.append(data)
        await self._delay()
        return web.Response(text=f"OK - {len(data)}")
