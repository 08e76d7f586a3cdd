"""A channel's daily questions can be held to a level range; the team's time zone is learned."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bank.db import Database
from bank.models import DailyPrompt, Question, Workspace
from bot.grammar import Schedule, UsageError, parse
from tests.support import Harness


def test_level_range_is_parsed() -> None:
    assert parse("schedule", "09:00 Europe/Berlin mon-fri L4-L6") == Schedule(
        time(9, 0),
        "Europe/Berlin",
        ("mon", "tue", "wed", "thu", "fri"),
        ("L4", "L6"),
    )
    assert parse("schedule", "09:00 l5") == Schedule(time(9, 0), levels=("L5", "L5"))
    with pytest.raises(UsageError, match="runs backwards"):
        parse("schedule", "09:00 L6-L4")


def test_daily_questions_stay_in_the_channel_level_range(bank_db: Database, tmp_path: Path) -> None:
    harness = Harness(bank_db, tmp_path)
    reply = harness.command("admin", "schedule 09:00 Asia/Tokyo daily L6")
    assert reply is not None and "levels L6-L6" in reply.message.text
    for _ in range(10):
        harness.advance(days=1)
    with bank_db.unit_of_work() as session:
        levels = set(
            session.scalars(
                select(Question.level).join(DailyPrompt, DailyPrompt.question_id == Question.id)
            )
        )
        zone = session.scalars(select(Workspace.timezone)).one()
    assert levels == {"L6"}
    assert zone == "Asia/Tokyo"  # the leaderboard's weeks now start on Tokyo's Monday
