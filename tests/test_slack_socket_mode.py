"""`dojo run` in Slack Socket Mode (an app-level token, no public URL) against a fake Slack that
speaks the Socket Mode protocol: `apps.connections.open` hands out a WebSocket URL, requests
arrive there as envelopes, and the app acknowledges each by its `envelope_id`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from bank.db import Database
from tests.fake_slack import FakeSlack
from tests.slack_wire import Server
from tests.support import DOJO_COMMAND
from tests.test_slack import USERS, all_text

APP_TOKEN = "xapp-1-A1-socket-test"


@dataclass
class SocketModeSlack(FakeSlack):
    """The fake Web API plus one Socket Mode link."""

    acks: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._sockets: list[web.WebSocketResponse] = []
        link = web.Application()
        link.router.add_get("/link", self._link)
        self._link_server = Server(link)
        self.link_url = self._link_server.start().replace("http://", "ws://") + "/link"

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "apps.connections.open":
            return {"ok": True, "url": self.link_url}
        return super()._answer(method, params)

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1})
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
        return socket

    @property
    def connected(self) -> bool:
        return any(not s.closed for s in self._sockets)

    def send(self, envelope: dict[str, Any]) -> None:
        socket = next(s for s in reversed(self._sockets) if not s.closed)
        loop = self._link_server.loop
        asyncio.run_coroutine_threadsafe(socket.send_json(envelope), loop).result(5)

    def stop(self) -> None:
        async def close_all() -> None:
            for socket in self._sockets:
                await socket.close()

        asyncio.run_coroutine_threadsafe(close_all(), self._link_server.loop).result(5)
        self._link_server.stop()
        super().stop()


def _slash_command(envelope_id: str, text: str) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "legacy",
            "team_id": "T1",
            "team_domain": "dojo",
            "channel_id": "C1",
            "user_id": "UALICE",
            "user_name": "alice",
            "command": "/mlsd",
            "text": text,
            "api_app_id": "A1",
            "response_url": "https://hooks.slack.invalid/commands/1",
            "trigger_id": f"trigger-{envelope_id}",
        },
    }


@dataclass
class SocketModeRun:
    """`dojo run` in Socket Mode and its fake; `stderr` is filled in once the process ended."""

    fake: SocketModeSlack
    process: subprocess.Popen[str]
    stderr: str = ""


@contextmanager
def socket_mode_bot(db: Database, cwd: Path, **settings: str) -> Iterator[SocketModeRun]:
    """`dojo run --platform slack` with an app token against a fresh fake, once its Socket Mode
    link is open; `settings` are extra environment variables. Stopped (SIGTERM) at the end."""
    fake = SocketModeSlack(users=dict(USERS))
    api_url = fake.start()
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "SLACK_BOT_TOKEN": "xoxb-socket",
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": api_url,
        "DOJO_LOG_LEVEL": "INFO",
        **settings,
    }
    env.pop("SLACK_SIGNING_SECRET", None)
    process = subprocess.Popen(
        [*DOJO_COMMAND, "run", "--platform", "slack"],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    run = SocketModeRun(fake, process)
    try:
        deadline = time.monotonic() + 60
        while not fake.connected:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the app never opened its Socket Mode link"
            time.sleep(0.1)
        yield run
    finally:
        if process.poll() is None:
            process.terminate()
        run.stderr = process.communicate(timeout=30)[1]
        fake.stop()


def acked(fake: SocketModeSlack, envelope_id: str) -> bool:
    return any(a.get("envelope_id") == envelope_id for a in fake.acks)


def test_dojo_run_serves_slack_in_socket_mode(tmp_path: Path, bank_db: Database) -> None:
    with socket_mode_bot(bank_db, tmp_path) as run:
        fake = run.fake
        fake.send(_slash_command("env-1", "help"))
        fake.wait_for(lambda: acked(fake, "env-1"))
        fake.wait_for(lambda: bool(fake.of("chat.postEphemeral")))
        assert "mlsd-dojo commands" in all_text(fake.of("chat.postEphemeral")[0])
        assert [a["envelope_id"] for a in fake.acks] == ["env-1"]  # acknowledged once
    assert APP_TOKEN not in run.stderr and "xoxb-socket" not in run.stderr
