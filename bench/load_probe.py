"""What the load bench records: one `Request` per command sent, and the bot process's memory and
CPU read from /proc while a burst runs (the bot is a process of its own, so the figures are its).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUSY = re.compile(r"\bbusy\b|try again", re.IGNORECASE)
# answers that say "try again" for another reason than a full queue (bot/engine.py,
# bot/ratelimit.py): the request failed, or the member hit a fair-use limit
FAILED = re.compile(r"went wrong on my side|clashed with a change|database is not answering")
LIMITED = re.compile(r"Slow down: too many")


@dataclass
class Request:
    """One command sent to the bot, and when its acknowledgement and its answer arrived.

    Times are `time.monotonic()` in the bench process, where the fake also runs, so the fake's
    record of a call's arrival is on the same clock as the send.
    """

    index: int
    key: str  # what its answer is matched by: a Slack channel, a Discord interaction id
    sent: float = 0.0
    acked: float | None = None  # Slack: HTTP response; Discord: first interaction callback
    done: float | None = None  # the answer (or the "busy" answer) reached the fake
    outcome: str = ""  # "ok", "busy", "limited" or "failed", from the answer's text
    status: int | None = None  # Slack: HTTP status of the acknowledgement
    error: str = ""

    @property
    def ack_seconds(self) -> float | None:
        return None if self.acked is None else self.acked - self.sent

    @property
    def done_seconds(self) -> float | None:
        return None if self.done is None else self.done - self.sent

    @property
    def busy(self) -> bool:
        return self.outcome == "busy"

    def finish(self, at: float, text: str) -> None:
        """The first answer counts; later parts of a multi-part answer do not move it."""
        if self.done is None:
            self.done = at
            self.outcome = classify(text)


def classify(text: str) -> str:
    """What an answer says: done ("ok"), refused for load ("busy"), refused by a fair-use rate
    limit ("limited"), or failed; the last two also say "try again", so they are checked first."""
    if FAILED.search(text):
        return "failed"
    if LIMITED.search(text):
        return "limited"
    return "busy" if BUSY.search(text) else "ok"


def says_busy(payload: Any) -> bool:
    return classify(str(payload)) == "busy"


def _status(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def rss_mib(pid: int) -> float:
    """Resident memory now (VmRSS), MiB."""
    return int(_status(pid)["VmRSS"].split()[0]) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Monitor:
    """Samples the bot's RSS every `interval` seconds in a thread; `peak` is the highest seen.

    Sampling (not VmHWM) gives the peak of this burst alone: VmHWM keeps the highest mark since
    the process started, so a later, smaller burst would report an earlier one's peak.
    """

    pid: int
    interval: float = 0.1
    peak: float = 0.0
    samples: list[float] = field(default_factory=list)

    def __enter__(self) -> Monitor:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                value = rss_mib(self.pid)
            except (OSError, KeyError):  # the process ended
                return
            self.samples.append(value)
            self.peak = max(self.peak, value)
            self._stop.wait(self.interval)


def wait_until(condition: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True
