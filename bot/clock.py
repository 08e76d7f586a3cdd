"""Injectable time. The core never reads the wall clock itself, so tests and scripts move time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """Real time scaled by `speed` (0 = frozen) plus explicit jumps: tests, scripts and demos."""

    def __init__(self, start: datetime | None = None, speed: float = 0.0) -> None:
        self._base = start or datetime.now(UTC)
        self._speed = speed
        self._origin = time.monotonic()
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._origin) * self._speed
            return self._base + self._offset + timedelta(seconds=elapsed)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta
