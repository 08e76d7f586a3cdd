"""The grammar of practice partners: pair, book, bookings, suggest, bank review, schedule pings."""

from __future__ import annotations

from datetime import time

import pytest

from bot.grammar import (
    BankCommand,
    Book,
    Bookings,
    Pair,
    Schedule,
    Suggest,
    UsageError,
    parse,
    parse_group,
)


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("pair", "", Pair()),
        ("pair", "recsys L4 now", Pair("recsys", "L4")),
        ("pair", "feed ranking l5", Pair("feed ranking", "L5")),
        ("pair", "LEAVE", Pair(leave=True)),
        (
            "pair",
            "ads 18:00 Europe/Berlin mon-fri",
            Pair("ads", None, time(18), "Europe/Berlin", ("mon", "tue", "wed", "thu", "fri")),
        ),
        ("pair", "7:30 weekends", Pair(None, None, time(7, 30), None, ("sat", "sun"))),
        ("book", "ads at 18:30", Book("ads", time(18, 30))),
        ("book", "at 09:00 UTC 2026-03-04", Book(None, time(9), "UTC", "2026-03-04")),
        (
            "book",
            "fraud detection AT 9:05 tomorrow",
            Book("fraud detection", time(9, 5), None, "tomorrow"),
        ),
        ("book", "recsys at 10:00 fri", Book("recsys", time(10), None, "fri")),
        ("bookings", "", Bookings()),
        ("suggest", "", Suggest()),
        ("bank", "review", BankCommand("review")),
        ("schedule", "09:00 ping <@&1234>", Schedule(time(9), ping="1234")),
        (
            "schedule",
            "09:00 UTC ping <!subteam^S0ML|@ml-practice> daily",
            Schedule(
                time(9), "UTC", ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), ping="S0ML"
            ),
        ),
        ("schedule", "09:00 ping @&mentors", Schedule(time(9), ping="mentors")),
        ("schedule", "09:00 ping off", Schedule(time(9), ping="")),
    ],
)
def test_partner_forms_parse(name: str, args: str, expected: object) -> None:
    assert parse(name, args) == expected


@pytest.mark.parametrize(
    ("name", "args", "reason"),
    [
        ("pair", "25:00", "not a time of day"),
        ("pair", "now 18:00", "unexpected '18:00'"),
        ("pair", "L4 L5", "unexpected 'L5'"),
        ("pair", "18:00 Mars/Olympus", "unexpected 'Mars/Olympus'"),
        ("pair", "x" * 81, "too long"),
        ("book", "ads 18:30", "say when"),
        ("book", "ads at", "give a time"),
        ("book", "ads at noon", "not a time of day"),
        ("book", "ads at 18:30 someday", "unexpected 'someday'"),
        ("bookings", "all", "takes no arguments"),
        ("suggest", "a question", "takes no arguments"),
        ("schedule", "09:00 ping", "say which role"),
        ("schedule", "09:00 ping @here", "not a role or user group"),
        ("schedule", "09:00 ping <!channel>", "not a role or user group"),
        ("schedule", "09:00 ping <@123>", "not a role or user group"),  # a user, not a group
    ],
)
def test_partner_forms_refuse_with_usage(name: str, args: str, reason: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse(name, args)
    assert reason in refused.value.text and f"Usage: /mlsd {name}" in refused.value.text


def test_only_group_mentions_are_groups() -> None:
    assert parse_group("<@&42>") == "42"
    assert parse_group("<!subteam^SABC123>") == "SABC123"
    assert parse_group("<!subteam^S1|@team>") == "S1"
    for token in ("<!here>", "<!everyone>", "<@42>", "@everyone", "<!subteam^s1>", "<@&x>"):
        assert parse_group(token) is None
