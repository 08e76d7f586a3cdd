"""The load bench (bench/load.py) works end to end: a tiny rate for two seconds on SQLite, both
platforms, every command answered. Figures are read, not judged: timings are the bench's job."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bench import load
from bench.load_probe import Request, classify, says_busy


@pytest.mark.slow
def test_load_bench_runs_on_both_platforms(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    argv = ["--platform", "both", "--db", "sqlite", "--rates", "4", "--seconds", "2"]
    argv += ["--latency", "0.05", "--members", "3", "--after", "0", "--json", str(out)]
    assert load.main(argv) == 0
    document = json.loads(out.read_text())
    cells = document["cells"]
    expected = {
        (platform, command, 0.05)
        for platform in ("slack", "discord")
        for command in ("help", "vote", "leaderboard")
    }
    assert {(c["platform"], c["command"], c["latency"]) for c in cells} == expected
    for cell in cells:
        assert cell["sent"] == 8, cell
        assert cell["lost"] == cell["errors"] == cell["busy"] == cell["failed"] == 0, cell
        assert cell["limited"] == 0, cell
        assert cell["strays"] == 0, "every answer belongs to exactly one command"
        assert cell["answered"] == 8, cell
        assert cell["ack"]["n"] == 8 and cell["done"]["n"] == 8, cell
        assert 0 < cell["ack"]["p50_ms"] <= cell["ack"]["max_ms"] < 30_000, cell
        assert 0 < cell["done"]["p50_ms"] <= cell["done"]["max_ms"] < 30_000, cell
        assert 0 < cell["rss_idle_mib"] <= cell["rss_peak_mib"], cell
        assert cell["rss_after_mib"] > 0 and cell["cpu_seconds"] > 0, cell
    # the floor is the fake's own round trip: with 50 ms of latency it takes at least that
    slow_floors = [f for f in document["floors"] if f["latency"] == 0.05]
    assert len(slow_floors) == 2
    assert all(f["stats"]["p50_ms"] >= 50 for f in slow_floors)


def test_an_answer_counts_once_and_says_whether_it_was_busy() -> None:
    request = Request(1, "C1", sent=time.monotonic())
    request.finish(request.sent + 0.2, "{'text': 'The bot is busy, try again in a moment'}")
    request.finish(request.sent + 0.9, "{'text': 'Thanks! Your vote is in'}")
    assert request.busy and request.done_seconds == pytest.approx(0.2)
    assert says_busy("Too many requests: please try again.")
    assert not says_busy("Thanks! Your vote is in for mock #2")
    # other answers that say "try again" are not overload
    assert classify("Slow down: too many charts for now. Try again in 12 s.") == "limited"
    assert classify("Something went wrong on my side; it has been logged. Please try again.") == (
        "failed"
    )
    assert classify("Leaderboard · all time\n  1. member3 — 5 pts") == "ok"
