"""Volumes per scale and the fixed instant every benchmark runs at."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# A Thursday morning: "this week" holds three and a half days of points, "this month" 25 days.
NOW = datetime(2026, 3, 26, 9, 0, tzinfo=UTC)
QUIET = NOW - timedelta(minutes=10)  # nothing is due: no prompt, reminder, idle mock or result
PLATFORM = "slack"  # what the seeded workspaces say they are; the console port stands in
SEED = "bench"  # the Dojo's seed for question choices
HEAVY_SHARE = 0.30  # of members, channels and mocks that belong to the largest workspace
SCHEDULED_SHARE = 0.25  # of the regular channels that have a daily question
DUE_SHARE = 0.04  # of the due-scan channels whose daily question is due exactly at NOW


@dataclass(frozen=True)
class Scale:
    name: str
    workspaces: int
    members: int
    channels: int
    mocks: int
    votes: int
    ledger: int
    scan_channels: int  # channels in total once the due-scan channels are added
    heavy_member_mocks: int
    interviewers: tuple[int, int]  # per mock, inclusive range


FULL = Scale(
    name="full",
    workspaces=20,
    members=100_000,
    channels=2_000,
    mocks=50_000,
    votes=1_000_000,
    ledger=3_000_000,
    scan_channels=10_000,
    heavy_member_mocks=400,
    interviewers=(1, 3),
)

SMALL = Scale(
    name="small",
    workspaces=20,
    members=1_000,
    channels=20,
    mocks=500,
    votes=10_000,
    ledger=30_000,
    scan_channels=100,
    heavy_member_mocks=40,
    interviewers=(1, 3),
)

SCALES = {scale.name: scale for scale in (SMALL, FULL)}
