"""A test harness around the real console adapter: the core driven as a whole conversation.

The console channel doubles as the test backend (DESIGN.md §9, errbot's idea): tests feed it
script lines or call the core directly, then read what was posted, edited and sent privately.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from bank.db import Database
from bot.adapters.console import CHANNEL, WORKSPACE, ConsoleChannel, ConsolePort
from bot.clock import ManualClock
from bot.engine import Dojo
from bot.port import Action, Actor, Command, Message, Place, Reply

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
DOJO_COMMAND = [sys.executable, "-c", "from bot.cli import main; main()"]  # `dojo`, this venv


@dataclass
class Harness:
    db: Database
    out_dir: Path
    start: datetime = START
    admins: tuple[str, ...] = ("admin",)
    buffer: io.StringIO = field(default_factory=io.StringIO)

    def __post_init__(self) -> None:
        self.clock = ManualClock(start=self.start, speed=0)
        self.port = ConsolePort(
            Console(file=self.buffer, width=200, highlight=False, soft_wrap=True), self.out_dir
        )
        self.dojo = Dojo(self.db, self.port, self.clock, platform="console", seed="test")
        self.channel = ConsoleChannel(self.dojo, self.port, self.clock, self.admins, echo=True)

    # script-level driving (exactly what `dojo run` does with stdin)
    def feed(self, *lines: str) -> str:
        before = len(self.buffer.getvalue())
        for line in lines:
            self.channel.feed(line)
        return self.buffer.getvalue()[before:]

    # core-level driving
    def actor(self, name: str) -> Actor:
        return Actor(WORKSPACE, name, name, is_admin=name in self.admins)

    def command(
        self, name: str, text: str, thread: str | None = None, event_id: str | None = None
    ) -> Reply | None:
        return self.dojo.handle_command(
            Command.from_text(text, self.actor(name), Place(CHANNEL, thread), event_id)
        )

    def action(
        self,
        name: str,
        action_id: str,
        value: str,
        thread: str | None = None,
        fields: dict[str, str] | None = None,
        event_id: str | None = None,
    ) -> Reply | None:
        return self.dojo.handle_action(
            Action(
                action_id, value, self.actor(name), Place(CHANNEL, thread), fields or {}, event_id
            )
        )

    def advance(self, **delta: float) -> dict[str, int]:
        self.clock.advance(timedelta(**delta))
        return self.dojo.run_due()

    def texts(self) -> list[str]:
        """Every public message posted so far, title and text together."""
        return [f"{p.message.title}\n{p.message.text}" for p in self.port.posted]

    def private_to(self, user: str) -> list[Message]:
        return [message for who, message in self.port.private if who == user]
