"""The two platforms under load: a fake in this process, the real bot (`dojo run`) in another.

Each rig starts its fake (tests/fake_slack.py, tests/fake_discord.py), the bot pointed at it,
and prepares the workspace through the bot itself: members who each voted once on mock #1 (so
the leaderboard has history) and mock #2 left open for the measured votes. `fire` sends one
command the way the platform does; `Matcher.poll` reads the fake's records to see when each
command was acknowledged and answered.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.load_probe import Request, wait_until
from tests.fake_discord import API_PREFIX, FakeDiscord
from tests.fake_slack import FakeSlack
from tests.slack_wire import SECRET, SlackClient, sign
from tests.support import DOJO_COMMAND

MEMBERS = 100  # people sending the measured commands, in turn
CHANNELS = 20  # channels they send them from, in turn
SCORES = "3 3 3 3 3 3"
DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.fake.token"  # the fake's application id, base64
COMMANDS = ("help", "vote", "leaderboard")
MEASURED_MOCK = 2  # mock #1 collects the warm-up votes; #2 takes the measured ones


class RigError(Exception):
    """The bot did not come up or did not answer while the workspace was being prepared."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotProcess:
    """`dojo run` in a process of its own; its log goes to a file (a full pipe would stall it)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="dojo-load-"))  # no stray .env is read
        self.log_path = self.workdir / "bot.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [*DOJO_COMMAND, "run", *args],
            env=env,
            cwd=self.workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


LIMITS = ("PUBLIC", "CHART", "EXPORT")


def _env(database_url: str, rate_limits: bool, **values: str) -> dict[str, str]:
    """The bot's environment. Without `rate_limits` the fair-use limits are lifted: a crowd of
    100 asking the leaderboard would otherwise mostly measure the cheap refusal."""
    env = {**os.environ, "DATABASE_URL": database_url, "DOJO_LOG_LEVEL": "WARNING", **values}
    if not rate_limits:
        for kind in LIMITS:
            for scope in ("MEMBER", "CHANNEL"):
                env[f"DOJO_RATE_LIMIT_{kind}_{scope}"] = "off"
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DISCORD_TOKEN", "DISCORD_GATEWAY_URL"):
        if name not in values:
            env.pop(name, None)
    return env


class Matcher:
    """Pairs the calls that reach a fake with the requests they answer; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.strays = 0  # answers no request was waiting for: a pairing problem if above 0

    def add(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)
            self._added(request)

    def _added(self, request: Request) -> None:
        raise NotImplementedError

    def poll(self) -> None:
        raise NotImplementedError


# -- Slack -----------------------------------------------------------------------------------------

SLACK_ANSWERS = ("chat.postEphemeral", "chat.postMessage", "views.open")


class SlackMatcher(Matcher):
    """An answer in channel C belongs to the oldest unanswered request sent from C (commands
    carry no id the answer repeats); a `response_url` post names its request in the path."""

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__()
        self.fake = fake
        self.mark = fake.mark()
        self.waiting: dict[str, deque[Request]] = defaultdict(deque)
        self.by_index: dict[str, Request] = {}

    def _added(self, request: Request) -> None:
        self.waiting[request.key].append(request)
        self.by_index[str(request.index)] = request

    def poll(self) -> None:
        calls = self.fake.since(self.mark)
        self.mark += len(calls)
        with self.lock:
            for call in calls:
                if call.method == "response_url":
                    request = self.by_index.get(call.path)
                    if request is None:
                        self.strays += 1
                    else:
                        request.finish(call.at, str(call.params))
                    continue
                if call.method not in SLACK_ANSWERS:
                    continue
                queue = self.waiting.get(str(call.params.get("channel", "")))
                while queue and queue[0].done is not None:
                    queue.popleft()  # answered already (e.g. "busy" in the acknowledgement)
                if queue:
                    queue.popleft().finish(call.at, str(call.params))
                elif queue is not None:
                    self.strays += 1


class SlackRig:
    platform = "slack"

    def __init__(
        self, database_url: str, members: int = MEMBERS, rate_limits: bool = False
    ) -> None:
        self.members = members
        users = {
            f"U{i:03d}": {"name": f"member{i}", "profile": {"display_name": f"member{i}"}}
            for i in range(members)
        }
        users["UHOST"] = {"name": "host", "profile": {"display_name": "host"}}
        users["UINT"] = {"name": "interviewer", "profile": {"display_name": "interviewer"}}
        self.fake = FakeSlack(users=users)
        api_url = self.fake.start()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.bot = BotProcess(
            ["--platform", "slack", "--port", str(self.port)],
            _env(
                database_url,
                rate_limits,
                SLACK_BOT_TOKEN="xoxb-load-bench",
                SLACK_SIGNING_SECRET=SECRET,
                SLACK_API_URL=api_url,
            ),
        )
        self._ids = iter(range(1, 10**9))

    def wait_ready(self) -> None:
        import urllib.request

        def healthy() -> bool:
            if not self.bot.alive():
                raise RigError(f"the Slack bot exited:\n{self.bot.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as reply:
                    return bool(reply.status == 200)
            except OSError:
                return False

        if not wait_until(healthy, 90, 0.2):
            raise RigError(f"the Slack bot did not come up:\n{self.bot.log_tail()}")

    def prepare(self) -> None:
        """Two mocks in channel CMOCK, both ended; every member votes once on mock #1."""
        client = SlackClient(self.url)
        for number in (1, 2):
            self._closed_loop(client, "UHOST", "mock recsys <@UINT|interviewer>", "CMOCK")
            self._closed_loop(client, "UINT", f"end #{number}", "CMOCK")
        for i in range(self.members):
            self._closed_loop(client, f"U{i:03d}", f"vote #1 {SCORES} hire", self.channel(i))

    def _closed_loop(self, client: SlackClient, user: str, text: str, channel: str) -> None:
        mark = self.fake.mark()
        reply = client.command(user, text, channel=channel)
        if reply.status != 200:
            raise RigError(f"`{text}` was refused: {reply.status} {reply.body}")

        def answered() -> bool:
            return any(
                c.params.get("channel") == channel
                for c in self.fake.since(mark)
                if c.method in SLACK_ANSWERS
            )

        if not wait_until(answered, 30):
            raise RigError(f"no answer to `{text}`:\n{self.bot.log_tail()}")

    @staticmethod
    def channel(i: int) -> str:
        return f"C{i % CHANNELS:03d}"

    def text(self, command: str) -> str:
        return {"help": "help", "vote": f"vote #{MEASURED_MOCK} {SCORES} hire"}.get(
            command, command
        )

    def matcher(self) -> SlackMatcher:
        return SlackMatcher(self.fake)

    def set_latency(self, seconds: float) -> None:
        self.fake.latency = seconds

    async def fire(
        self, session: aiohttp.ClientSession, matcher: Matcher, command: str, i: int
    ) -> Request:
        """A signed slash command, as Slack sends it; the HTTP response is the acknowledgement."""
        index = next(self._ids)
        channel = self.channel(i)
        body = urlencode(
            {
                "token": "legacy",
                "team_id": "T1",
                "team_domain": "dojo",
                "channel_id": channel,
                "channel_name": "practice",
                "user_id": f"U{i % self.members:03d}",
                "user_name": f"member{i % self.members}",
                "command": "/mlsd",
                "text": self.text(command),
                "api_app_id": "A1",
                "response_url": self.fake.base_url.replace("/api/", f"/respond/{index}"),
                "trigger_id": f"load-{index}",
            }
        )
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": sign(body, stamp),
        }
        request = Request(index, channel)
        matcher.add(request)
        request.sent = time.monotonic()
        try:
            async with session.post(f"{self.url}/slack/events", data=body, headers=headers) as r:
                text = await r.text()
                request.acked = time.monotonic()
                request.status = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            request.error = type(exc).__name__
            return request
        if request.status != 200:
            request.error = f"HTTP {request.status}"
        elif text.strip():  # answered (or refused as busy) in the acknowledgement itself
            with matcher.lock:
                request.finish(request.acked, text)
        return request

    async def floor(self, session: aiohttp.ClientSession, n: int) -> list[float]:
        """The fake's own round trip (`auth.test`), with the latency it is set to."""
        samples = []
        for _ in range(n):
            started = time.monotonic()
            async with session.post(f"{self.fake.base_url}auth.test", data="") as r:
                await r.read()
            samples.append(time.monotonic() - started)
        return samples

    def stop(self) -> None:
        self.bot.stop()
        self.fake.stop()


# -- Discord ---------------------------------------------------------------------------------------

CALLBACK = re.compile(r"^/interactions/(\d+)/[^/]+/callback$")
WEBHOOK = re.compile(r"^/webhooks/\d+/([^/]+)(/messages/@original)?$")
ANSWERING_CALLBACKS = (4, 7, 9)  # a message, an updated message, a modal; 5 and 6 defer


class DiscordMatcher(Matcher):
    """Every interaction has an id and a token: its callback names the id, follow-ups (after a
    deferral) the token."""

    def __init__(self, fake: FakeDiscord) -> None:
        super().__init__()
        self.fake = fake
        self.mark = fake.mark()
        self.by_id: dict[str, Request] = {}
        self.by_token: dict[str, Request] = {}

    def _added(self, request: Request) -> None:
        self.by_id[request.key] = request

    def add_token(self, token: str, request: Request) -> None:
        with self.lock:
            self.by_token[token] = request

    def poll(self) -> None:
        calls = self.fake.since(self.mark)
        self.mark += len(calls)
        with self.lock:
            for call in calls:
                callback = CALLBACK.match(call.path)
                if callback is not None and call.method == "POST":
                    request = self.by_id.get(callback.group(1))
                    if request is None:
                        self.strays += 1
                        continue
                    if request.acked is None:
                        request.acked = call.at
                    if int((call.body or {}).get("type", 0)) in ANSWERING_CALLBACKS:
                        request.finish(call.at, str(call.body))
                    continue
                webhook = WEBHOOK.match(call.path)
                if webhook is not None and call.method in ("POST", "PATCH"):
                    request = self.by_token.get(webhook.group(1))
                    if request is None:
                        self.strays += 1
                    else:
                        request.finish(call.at, str(call.body))


class DiscordRig:
    platform = "discord"

    def __init__(
        self, database_url: str, members: int = MEMBERS, rate_limits: bool = False
    ) -> None:
        self.fake = FakeDiscord(token=DISCORD_TOKEN)
        self.fake.start()
        self.members = [self.fake.add_user(f"member{i}") for i in range(members)]
        self.interviewer = self.fake.add_user("interviewer")
        self.channels = [self.fake.channel_id] + [
            self.fake.add_channel(f"room{i}")["id"] for i in range(1, CHANNELS)
        ]
        self.bot = BotProcess(
            ["--platform", "discord"],
            _env(
                database_url,
                rate_limits,
                DISCORD_TOKEN=DISCORD_TOKEN,
                DISCORD_API_URL=f"{self.fake.base_url}{API_PREFIX}",
            ),
        )
        # dispatching waits for the fake's loop; a pool keeps the sender's schedule free of it
        self._pool = concurrent.futures.ThreadPoolExecutor(16, thread_name_prefix="dispatch")

    def wait_ready(self) -> None:
        def synced() -> bool:
            if not self.bot.alive():
                raise RigError(f"the Discord bot exited:\n{self.bot.log_tail()}")
            puts = self.fake.since(0, "PUT", f"/guilds/{self.fake.guild_id}/commands")
            return self.fake.connected >= 1 and any(c.status == 200 for c in puts)

        if not wait_until(synced, 90, 0.2):
            raise RigError(f"the Discord bot did not connect:\n{self.bot.log_tail()}")

    def prepare(self) -> None:
        """Two mocks, both ended; every member votes once on mock #1."""
        host, interviewer = self.fake.alice, self.interviewer
        for number in (1, 2):
            options = {"topic": "recsys", "interviewer": interviewer["id"]}
            self._closed_loop(self.fake.slash_command("mlsd", "mock", options, user=host))
            self._closed_loop(
                self.fake.slash_command("mlsd", "end", {"mock": number}, user=interviewer)
            )
        for i in range(len(self.members)):
            self._closed_loop(self.payload("vote", i, mock=1))

    def _closed_loop(self, payload: dict[str, Any]) -> None:
        matcher = DiscordMatcher(self.fake)
        request = Request(0, str(payload["id"]))
        matcher.add(request)
        matcher.add_token(str(payload["token"]), request)
        self.fake.dispatch("INTERACTION_CREATE", payload)

        def answered() -> bool:
            matcher.poll()
            return request.done is not None

        if not wait_until(answered, 30):
            raise RigError(f"no answer to {payload['data']}:\n{self.bot.log_tail()}")

    def payload(self, command: str, i: int, mock: int = MEASURED_MOCK) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if command == "vote":
            options = {"mock": mock, "scores": SCORES, "signal": "hire"}
        return self.fake.slash_command(
            "mlsd",
            command,
            options,
            user=self.members[i % len(self.members)],
            channel_id=self.channels[i % CHANNELS],
        )

    def matcher(self) -> DiscordMatcher:
        return DiscordMatcher(self.fake)

    def set_latency(self, seconds: float) -> None:
        self.fake.latency = seconds

    async def fire(
        self, session: aiohttp.ClientSession, matcher: Matcher, command: str, i: int
    ) -> Request:
        """An INTERACTION_CREATE through the fake gateway to the bot's discord.py client."""
        assert isinstance(matcher, DiscordMatcher)
        payload = self.payload(command, i)
        request = Request(int(payload["id"]) % 10**9, str(payload["id"]))
        matcher.add(request)
        matcher.add_token(str(payload["token"]), request)
        request.sent = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self._pool, self.fake.dispatch, "INTERACTION_CREATE", payload
            )
        except Exception as exc:  # the gateway could not take it: counted, never raised
            request.error = type(exc).__name__
        return request

    async def floor(self, session: aiohttp.ClientSession, n: int) -> list[float]:
        """The fake's own round trip (`GET /gateway`), with the latency it is set to."""
        samples = []
        for _ in range(n):
            started = time.monotonic()
            async with session.get(f"{self.fake.base_url}{API_PREFIX}/gateway") as r:
                await r.read()
            samples.append(time.monotonic() - started)
        return samples

    def stop(self) -> None:
        self.bot.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.fake.stop()


Rig = SlackRig | DiscordRig
