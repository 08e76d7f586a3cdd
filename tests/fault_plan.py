"""A scriptable fault plan for the fake Slack and Discord servers (issue 12).

Tests say what the next matching calls answer instead of success: an error exactly as the
platform sends it (status, body, headers such as Retry-After), or a call that is carried out and
then never answered (the connection is dropped, or held open past the client's patience). Kept
apart from the fakes so their own features (teams, guilds, channels) grow independently.

Slack error bodies are `{"ok": false, "error": CODE}` (HTTP 200; 429 for rate limits); Discord's
are `{"code": CODE, "message": …}` with the HTTP status (see shared/reference/platform-errors.md).
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Kind = Literal["error", "drop", "hold"]


@dataclass
class Fault:
    method: str  # Slack: "chat.postMessage"; Discord: "POST" (with `path`)
    path: str = ""  # Discord: a fragment of the REST path, e.g. "/messages"
    kind: Kind = "error"
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


@dataclass
class FaultPlan:
    faults: list[Fault] = field(default_factory=list)
    hold_seconds: float = 3.0  # how long a held call stays unanswered before the drop
    taken: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    # -- scripting -------------------------------------------------------------------------------

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def slack_error(
        self, method: str, error: str, *, times: int = 1, retry_after: int | None = None
    ) -> Fault:
        """Slack's refusal: HTTP 200 `ok: false` (429 + Retry-After for `ratelimited`)."""
        status = 429 if error == "ratelimited" else 200
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return self.add(
            Fault(method, "", "error", status, {"ok": False, "error": error}, headers, times)
        )

    def slack_status(self, method: str, status: int, *, times: int = 1) -> Fault:
        """A bare HTTP error (5xx) from Slack's edge."""
        body = {"ok": False, "error": "service_unavailable"}
        return self.add(Fault(method, "", "error", status, body, {}, times))

    def discord_error(
        self,
        method: str,
        path: str,
        status: int,
        code: int,
        message: str,
        *,
        times: int = 1,
        retry_after: float | None = None,
    ) -> Fault:
        """Discord's refusal: the HTTP status with `{"code", "message"}`."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body: dict[str, Any] = {"code": code, "message": message}
        if retry_after is not None:
            body["retry_after"] = retry_after
        return self.add(Fault(method, path, "error", status, body, headers, times))

    def drop_after(self, method: str, path: str = "", *, times: int = 1) -> Fault:
        """Carry the call out, then close the connection without answering."""
        return self.add(Fault(method, path, "drop", times=times))

    def hold_after(self, method: str, path: str = "", *, times: int = 1) -> Fault:
        """Carry the call out, keep the connection silent `hold_seconds`, then drop it."""
        return self.add(Fault(method, path, "hold", times=times))

    # -- the servers' side -------------------------------------------------------------------

    def take(self, method: str, path: str = "") -> Fault | None:
        """The fault for this call, if one is planned (each fault is used `times` times)."""
        with self._lock:
            for fault in self.faults:
                if fault.method == method and fault.path in path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    self.taken.append(fault)
                    return fault
        return None

    def refusal(self, fault: Fault) -> web.Response:
        # exactly "application/json", as both platforms send it (discord.py checks it verbatim)
        headers = {**fault.headers, "Content-Type": "application/json"}
        return web.Response(body=json.dumps(fault.body), status=fault.status, headers=headers)

    async def unanswered(self, fault: Fault, request: web.Request) -> web.Response:
        """After the call was carried out: no answer ever reaches the client."""
        if fault.kind == "hold":
            await asyncio.sleep(self.hold_seconds)
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # aiohttp drops the request without writing a response
