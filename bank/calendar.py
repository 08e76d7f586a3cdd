"""Local-time arithmetic for daily schedules, on `zoneinfo` so daylight saving is handled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def local_date(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def slot_on(day: date, at: time, timezone: str) -> datetime:
    """The UTC instant of local time `at` on local date `day`."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


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
        candidate = slot_on(candidate_date, at, timezone)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: some day within a week is always scheduled")


def scheduled_days_back(end: date, days: tuple[str, ...], limit: int) -> Iterator[date]:
    """Scheduled local dates from `end` backwards, at most `limit` calendar days back."""
    for offset in range(limit):
        day = end - timedelta(days=offset)
        if WEEKDAYS[day.weekday()] in days:
            yield day
