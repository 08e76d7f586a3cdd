"""Local-time arithmetic for daily schedules: 09:00 stays 09:00 across clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bank.calendar import WEEKDAYS, local_date, next_occurrence

NINE = time(9, 0)
EVERY_DAY = WEEKDAYS
MON_FRI = ("mon", "tue", "wed", "thu", "fri")
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        # Europe/Berlin springs forward on 2026-03-29 (CET +1 → CEST +2)
        (BERLIN, utc(2026, 3, 27, 12), utc(2026, 3, 28, 8)),
        (BERLIN, utc(2026, 3, 28, 8), utc(2026, 3, 29, 7)),
        (BERLIN, utc(2026, 3, 28, 23, 30), utc(2026, 3, 29, 7)),  # 00:30 local, same day
        (BERLIN, utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 7)),  # just after the jump
        (BERLIN, utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)),
        # Europe/Berlin falls back on 2026-10-25 (CEST +2 → CET +1)
        (BERLIN, utc(2026, 10, 23, 12), utc(2026, 10, 24, 7)),
        (BERLIN, utc(2026, 10, 24, 7), utc(2026, 10, 25, 8)),
        (BERLIN, utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 8)),  # 02:30 CEST, first pass
        (BERLIN, utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 8)),  # 02:30 CET, second pass
        (BERLIN, utc(2026, 10, 25, 8), utc(2026, 10, 26, 8)),
        # America/New_York springs forward on 2026-03-08 (EST -5 → EDT -4)
        (NEW_YORK, utc(2026, 3, 6, 20), utc(2026, 3, 7, 14)),
        (NEW_YORK, utc(2026, 3, 7, 14), utc(2026, 3, 8, 13)),
        (NEW_YORK, utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)),
        # America/New_York falls back on 2026-11-01 (EDT -4 → EST -5)
        (NEW_YORK, utc(2026, 10, 31, 13), utc(2026, 11, 1, 14)),
        (NEW_YORK, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 14)),  # 01:30 local, ambiguous
        (NEW_YORK, utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)),
    ],
)
def test_nine_local_on_both_sides_of_dst(zone: str, after: datetime, expected: datetime) -> None:
    got = next_occurrence(after, NINE, zone, EVERY_DAY)
    assert got == expected
    assert got.utcoffset() == timedelta(0)  # always returned in UTC
    local = got.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (9, 0)


@pytest.mark.parametrize(
    ("zone", "start", "change", "before_hour", "after_hour"),
    [
        (BERLIN, date(2026, 3, 25), date(2026, 3, 29), 8, 7),
        (BERLIN, date(2026, 10, 21), date(2026, 10, 25), 7, 8),
        (NEW_YORK, date(2026, 3, 4), date(2026, 3, 8), 14, 13),
        (NEW_YORK, date(2026, 10, 28), date(2026, 11, 1), 13, 14),
    ],
)
def test_chained_occurrences_give_one_nine_oclock_per_local_date(
    zone: str, start: date, change: date, before_hour: int, after_hour: int
) -> None:
    instant = datetime.combine(start, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    seen = []
    for _ in range(9):
        instant = next_occurrence(instant, NINE, zone, EVERY_DAY)
        seen.append(instant)
    dates = [local_date(moment, zone) for moment in seen]
    assert dates == [start + timedelta(days=n) for n in range(9)]
    for moment, day in zip(seen, dates, strict=True):
        assert moment.hour == (before_hour if day < change else after_hour), (day, moment)
        assert moment.astimezone(ZoneInfo(zone)).time() == NINE


def test_skips_days_not_in_the_schedule() -> None:
    friday_after_slot = utc(2026, 3, 27, 9)  # Fri 10:00 Berlin
    # the weekend is skipped, and Monday is already summer time
    assert next_occurrence(friday_after_slot, NINE, BERLIN, MON_FRI) == utc(2026, 3, 30, 7)
    saturday = utc(2026, 3, 28, 6)
    assert next_occurrence(saturday, NINE, BERLIN, MON_FRI) == utc(2026, 3, 30, 7)
    friday_before_slot = utc(2026, 3, 27, 7)
    assert next_occurrence(friday_before_slot, NINE, BERLIN, MON_FRI) == utc(2026, 3, 27, 8)
    # a single weekday a week: Wednesday → next Wednesday
    wednesday_slot = utc(2026, 3, 25, 8)
    assert next_occurrence(wednesday_slot, NINE, BERLIN, ("wed",)) == utc(2026, 4, 1, 7)
    assert next_occurrence(utc(2026, 3, 26, 8), NINE, BERLIN, ("wed",)) == utc(2026, 4, 1, 7)


def test_weekday_is_judged_in_local_time_not_utc() -> None:
    # Sunday 23:30 UTC is already Monday 01:30 in Berlin (and still Sunday in New York)
    sunday_night = utc(2026, 3, 29, 23, 30)
    assert next_occurrence(sunday_night, NINE, BERLIN, ("mon",)) == utc(2026, 3, 30, 7)
    assert next_occurrence(sunday_night, NINE, NEW_YORK, ("sun",)) == utc(2026, 4, 5, 13)
    assert next_occurrence(sunday_night, time(20, 0), NEW_YORK, ("sun",)) == utc(2026, 3, 30, 0)
    # Monday 01:00 UTC is still Sunday 21:00 in New York: 22:00 that Sunday comes next
    monday_utc = utc(2026, 3, 30, 1)
    assert next_occurrence(monday_utc, time(22, 0), NEW_YORK, ("sun",)) == utc(2026, 3, 30, 2)
    assert next_occurrence(monday_utc, time(22, 0), NEW_YORK, EVERY_DAY) == utc(2026, 3, 30, 2)


def test_strictly_after() -> None:
    slot = utc(2026, 3, 26, 8)  # Thu 09:00 Berlin
    assert next_occurrence(slot - timedelta(microseconds=1), NINE, BERLIN, MON_FRI) == slot
    assert next_occurrence(slot, NINE, BERLIN, MON_FRI) == utc(2026, 3, 27, 8)
    assert next_occurrence(slot + timedelta(seconds=1), NINE, BERLIN, MON_FRI) == utc(
        2026, 3, 27, 8
    )


def test_accepts_any_aware_input_zone() -> None:
    after = datetime(2026, 3, 26, 9, 0, tzinfo=ZoneInfo(BERLIN))  # exactly the slot, not UTC
    assert next_occurrence(after, NINE, BERLIN, EVERY_DAY) == utc(2026, 3, 27, 8)


def test_ambiguous_local_time_occurs_once_on_fall_back_day() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25; the schedule must fire only once that day
    at = time(2, 30)
    first = next_occurrence(utc(2026, 10, 24, 12), at, BERLIN, EVERY_DAY)
    assert local_date(first, BERLIN) == date(2026, 10, 25)
    second = next_occurrence(first, at, BERLIN, EVERY_DAY)
    assert local_date(second, BERLIN) == date(2026, 10, 26)
    assert second.astimezone(ZoneInfo(BERLIN)).time() == at


def test_nonexistent_local_time_still_fires_that_day() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29; the day still gets exactly one occurrence
    at = time(2, 30)
    first = next_occurrence(utc(2026, 3, 28, 12), at, BERLIN, EVERY_DAY)
    assert local_date(first, BERLIN) == date(2026, 3, 29)
    second = next_occurrence(first, at, BERLIN, EVERY_DAY)
    assert local_date(second, BERLIN) == date(2026, 3, 30)
    assert second == utc(2026, 3, 30, 0, 30)


def test_no_days_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        next_occurrence(utc(2026, 3, 26), NINE, BERLIN, ())


@pytest.mark.parametrize(
    ("instant", "zone", "expected"),
    [
        (utc(2026, 3, 28, 23, 30), BERLIN, date(2026, 3, 29)),
        (utc(2026, 3, 28, 22, 59), BERLIN, date(2026, 3, 28)),
        (utc(2026, 3, 29, 21, 59), BERLIN, date(2026, 3, 29)),  # 23:59 CEST
        (utc(2026, 3, 29, 22, 0), BERLIN, date(2026, 3, 30)),
        (utc(2026, 3, 9, 3, 59), NEW_YORK, date(2026, 3, 8)),  # 23:59 EDT
        (utc(2026, 3, 9, 4, 0), NEW_YORK, date(2026, 3, 9)),
        (utc(2026, 11, 2, 4, 59), NEW_YORK, date(2026, 11, 1)),  # 23:59 EST
    ],
)
def test_local_date(instant: datetime, zone: str, expected: date) -> None:
    assert local_date(instant, zone) == expected
