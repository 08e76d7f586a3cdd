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
from typing import Any

from rich.console import Console

from bank.db import Database
from bot.adapters.console import (
    CHANNEL,
    WORKSPACE,
    ConsoleChannel,
    ConsolePort,
    console_mentions,
)
from bot.clock import ManualClock
from bot.engine import Dojo
from bot.port import Action, Actor, Command, Form, Message, Place, Reply

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
        typed, mentions = console_mentions(text)
        return self.dojo.handle_command(
            Command.from_text(typed, self.actor(name), Place(CHANNEL, thread), event_id, mentions)
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


def largest_core_messages() -> list[Message]:
    """Every kind of message the core renders, filled with the longest content it can get:
    adapters check these against their platform's limits."""
    from types import SimpleNamespace

    from bank.files import BUILTIN_DIR, load_bank_file
    from bot import render
    from bot.grammar import help_text
    from bot.mocks import PhaseTime
    from scoring.aggregate import Ballot, aggregate
    from scoring.rubric import DEFAULT_RUBRIC

    longest = max(
        (q for path in BUILTIN_DIR.glob("*.yaml") for q in load_bank_file(path).bank.questions),
        key=lambda q: len(q.model_dump_json()),
    )
    question: Any = SimpleNamespace(
        **longest.model_dump(mode="json"), family=SimpleNamespace(name="Recommendation systems")
    )
    comments = [
        Ballot(str(i), dict.fromkeys(DEFAULT_RUBRIC.ids, 1 + i % 4), "hire", "c" * 2000)
        for i in range(6)
    ]
    result = aggregate(comments, DEFAULT_RUBRIC)
    assert result is not None
    from bot.flows import scoring_flow
    from bot.flows.scoring_flow import result_message

    v2 = largest_v2_question()
    design = render.reference_design(v2.slug, v2.title, v2.reference_design)
    flagged = [
        Ballot(
            str(i), dict.fromkeys(DEFAULT_RUBRIC.ids, 4), "hire", "c" * 2000, tuple(v2.red_flags)
        )
        for i in range(6)
    ]
    v2_result = aggregate(flagged, DEFAULT_RUBRIC, "L3")
    assert v2_result is not None
    anchors = scoring_flow.criterion_anchors(v2, DEFAULT_RUBRIC)
    return [
        render.guide(v2),
        *(render.phase_kit(1, i, v2) for i in range(4)),
        design,
        scoring_flow.result_message(1, v2_result, False, anchors, None, "L3", v2.level_bar),
        render.guide(question),
        render.daily_prompt(question, 1, question),
        render.mock_root(1, question, "alice", ["bob"] * 20, "standard"),
        render.phase_message(1, 0, 480, question),
        render.reminder(1, 3, "timeup", last_phase=True),
        render.summary(1, [PhaseTime("Clarify", 600, 480)] * 4, "completed"),
        result_message(1, result),
        Message(help_text(), title="help"),
        Message("x" * 10000, title="t" * 400, fields=(("f", "y" * 5000),) * 60),
    ]


def core_forms() -> list[Form]:
    from bot.flows import bank_flow, scoring_flow
    from scoring.rubric import DEFAULT_RUBRIC

    return [
        scoring_flow.vote_form(1, DEFAULT_RUBRIC),
        scoring_flow.vote_form(1, DEFAULT_RUBRIC, largest_v2_question()),
        bank_flow.add_form(),
        bank_flow.import_form(),
    ]


def largest_v2_question() -> Any:
    """The v2 test question with every text at its schema maximum: 600-character anchors, four
    red flags, twelve facts, three hints a phase, a 4,000-character walkthrough, a long diagram."""
    from types import SimpleNamespace

    from bank.files import load_bank_file

    path = Path(__file__).parent / "fixtures" / "v2" / "churn.yaml"
    data = load_bank_file(path).bank.questions[0].model_dump(mode="json", by_alias=True)
    long = "word " * 119 + "end."  # 600 characters
    data["anchors"] = {
        c: {str(i): f"{i}{long}"[:600] for i in range(1, 5)} for c in data["anchors"]
    }
    data["red_flags"] = [f"{n}{long}"[:600] for n in range(4)]
    phases = ("clarify", "architecture", "deep_dive", "trade_offs")
    data["kit"] = {
        "facts": [{"phase": phases[n % 4], "fact": long} for n in range(12)],
        "hints": {phase: [long] * 3 for phase in phases},
    }
    data["reference_design"] = {
        "walkthrough": ("word " * 800)[:4000],
        "estimates": [long] * 8,
        "diagram": "graph LR\n" + "  a[A] --> b[B]\n" * 180,
    }
    data["follow_ups"] = [{"ask": long, "probes": "ml_depth", "covers": long}] * 6
    return SimpleNamespace(**data, family=SimpleNamespace(name="Churn prediction"))
