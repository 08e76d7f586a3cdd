"""The fakes' Web API latency: every answer waits that long, the waits overlap (an asyncio
sleep, not a blocked server), and it can be changed while the fake runs (the load bench does)."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tests.fake_discord import API_PREFIX, FakeDiscord
from tests.fake_slack import FakeSlack

LATENCY = 0.25
PARALLEL = 8


def _timed(call: Callable[[], object]) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def _post(url: str) -> Callable[[], object]:
    def call() -> object:
        request = urllib.request.Request(url, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.read()

    return call


def _get(url: str) -> Callable[[], object]:
    def call() -> object:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.read()

    return call


def _check(call: Callable[[], object], set_latency: Callable[[float], None]) -> None:
    with ThreadPoolExecutor(PARALLEL) as pool:
        started = time.monotonic()
        each = list(pool.map(lambda _: _timed(call), range(PARALLEL)))
        together = time.monotonic() - started
    assert min(each) >= LATENCY
    assert together < PARALLEL * LATENCY * 0.75, "the waits must overlap"
    set_latency(0.0)
    assert _timed(call) < LATENCY


def test_slack_fake_answers_after_its_latency() -> None:
    fake = FakeSlack(latency=LATENCY)
    url = fake.start()
    try:
        _check(_post(f"{url}auth.test"), lambda s: setattr(fake, "latency", s))
        assert [c.method for c in fake.calls].count("auth.test") == PARALLEL + 1
    finally:
        fake.stop()


def test_discord_fake_answers_after_its_latency() -> None:
    fake = FakeDiscord(latency=LATENCY)
    fake.start()
    try:
        _check(_get(f"{fake.base_url}{API_PREFIX}/gateway"), lambda s: setattr(fake, "latency", s))
        assert len(fake.since(0, "GET", "/gateway")) == PARALLEL + 1
    finally:
        fake.stop()
