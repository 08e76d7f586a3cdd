"""Rate limits on the commands that cost the most or reach the most people (issue 13).

Three kinds of request are limited, each per member and per channel, with a moving window from
the `limits` library: posting publicly or opening a thread (`/mlsd mock`, `/mlsd daily now`),
rendering a chart (`/mlsd progress`, `/mlsd leaderboard`) and exporting files (`/mlsd bank
export`). A refused request changes nothing and is answered with the time to wait.

Counters live in `DOJO_RATE_LIMIT_STORAGE` (default `memory://`: per process). Several
processes each keep their own counters, so a member can reach the limit once per process; point
them all at one shared store (e.g. `redis://host:6379`, with the `limits[redis]` extra) to make
the limit hold across processes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from enum import StrEnum

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Kind(StrEnum):
    PUBLIC = "public"  # posts in a channel, opens a thread
    CHART = "chart"  # renders an image
    EXPORT = "export"  # builds and uploads files


WHAT = {
    Kind.PUBLIC: "public posts and new threads",
    Kind.CHART: "charts",
    Kind.EXPORT: "exports",
}


class RateLimitSettings(BaseSettings):
    """`DOJO_RATE_LIMIT_<KIND>_<SCOPE>` in the `limits` notation ("5/minute", "100/hour");
    "off" lifts one limit."""

    model_config = SettingsConfigDict(
        env_prefix="DOJO_RATE_LIMIT_", env_file=".env", extra="ignore"
    )

    public_member: str = "5/minute"
    public_channel: str = "20/minute"
    chart_member: str = "10/minute"
    chart_channel: str = "30/minute"
    export_member: str = "3/minute"
    export_channel: str = "10/minute"
    storage: str = "memory://"

    @field_validator(
        "public_member",
        "public_channel",
        "chart_member",
        "chart_channel",
        "export_member",
        "export_channel",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        value = value.strip().lower()
        if value != "off":
            try:
                parse(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a rate like '5/minute' or 'off'") from None
        return value


class RateLimiter:
    """Checks and counts limited requests; `check` answers how long to wait, or None."""

    def __init__(self, settings: RateLimitSettings | None = None) -> None:
        settings = settings or RateLimitSettings()
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.storage))
        self._lock = threading.Lock()  # test-then-hit is one step for this process's threads
        self._items: dict[tuple[Kind, str], RateLimitItem] = {}
        for kind in Kind:
            for scope in ("member", "channel"):
                rate = getattr(settings, f"{kind.value}_{scope}")
                if rate != "off":
                    self._items[(kind, scope)] = parse(rate)

    def check(self, kind: Kind, workspace_id: str, member_id: str, channel_id: str) -> int | None:
        """Count one request of `kind`; when a limit is reached, nothing is counted and the
        answer is the whole seconds until the oldest counted request leaves the window."""
        keys = {
            "member": (kind.value, "member", workspace_id, member_id),
            "channel": (kind.value, "channel", workspace_id, channel_id),
        }
        limited = [(self._items[(kind, s)], k) for s, k in keys.items() if (kind, s) in self._items]
        with self._lock:
            waits = [
                self._limiter.get_window_stats(item, *key).reset_time - time.time()
                for item, key in limited
                if not self._limiter.test(item, *key)
            ]
            if waits:
                return max(1, math.ceil(max(waits)))
            for item, key in limited:
                self._limiter.hit(item, *key)
            return None

    def reset(self) -> None:
        self._limiter.storage.reset()


def slow_down(kind: Kind, wait: int) -> str:
    return f"Slow down: too many {WHAT[kind]} for now. Try again in {wait} s."


class Pacer:
    """Outbound pacing: unlike `RateLimiter`, which refuses, `wait` sleeps until the send fits
    the rate (a moving window, so a burst up to the rate goes out at once). The scheduled
    fan-out uses one, at the rate its platform's adapter sets (`Context.fanout`)."""

    def __init__(self, rate: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.item = parse(rate)
        self.sleep = sleep
        self._limiter = MovingWindowRateLimiter(storage_from_string("memory://"))

    def wait(self, key: str) -> float:
        """Block until one more send for `key` fits; returns the seconds waited."""
        waited = 0.0
        while not self._limiter.hit(self.item, key):
            reset = self._limiter.get_window_stats(self.item, key).reset_time
            pause = max(0.01, reset - time.time())
            self.sleep(pause)
            waited += pause
        return waited
