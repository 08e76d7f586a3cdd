"""Local-time arithmetic for daily schedules, on `zoneinfo` so daylight saving is handled."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.grammar import WEEKDAYS


def local_date(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def next_occurrence(after: datetime, at: time, timezone: str, days: tuple[str, ...]) -> datetime:
    """The first instant strictly after `after` that is `at` local time on one of `days`.

    Computed per local date, so 09:00 stays 09:00 on both sides of a clock change.
    """
    if not days:
        raise ValueError("a schedule needs at least one day")
    zone = ZoneInfo(timezone)
    day = after.astimezone(zone).date()
    for offset in range(8):
        candidate_date = day + timedelta(days=offset)
        if WEEKDAYS[candidate_date.weekday()] not in days:
            continue
        candidate = datetime.combine(candidate_date, at, tzinfo=zone).astimezone(UTC)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: some day within a week is always scheduled")


def scheduled_days_between(start: date, end: date, days: tuple[str, ...]) -> list[date]:
    """Scheduled local dates from `start` to `end` inclusive (for streaks)."""
    span = (end - start).days
    every = (start + timedelta(days=i) for i in range(span + 1))
    return [d for d in every if WEEKDAYS[d.weekday()] in days]
