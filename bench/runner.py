"""Running the operations, the start-up process, and reporting: a table on stdout and JSON."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench import timing
from bench.ops import Bench, Operation
from bench.timing import Stats

RATIO_GOAL = 1.5
P99_LIMIT = 3.0  # seconds, every operation
CHAT_P99_GOAL = 0.050  # seconds, chat-facing operations (full scale, PostgreSQL)
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Outcome:
    key: str
    title: str
    chat_facing: bool
    stats: Stats
    bare: Stats | None
    note: str

    @property
    def ratio(self) -> float | None:
        """Median over median: the operation against the bare SQL it needs."""
        if self.bare is None or self.bare.p50 <= 0:
            return None
        return self.stats.p50 / self.bare.p50

    def misses(self) -> list[str]:
        missed = []
        if self.ratio is not None and self.ratio > RATIO_GOAL:
            missed.append(f"ratio>{RATIO_GOAL}")
        if self.stats.p99 > P99_LIMIT:
            missed.append("p99>3s")
        elif self.chat_facing and self.stats.p99 > CHAT_P99_GOAL:
            missed.append("p99>50ms")
        return missed

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "chat_facing": self.chat_facing,
            "operation": self.stats.as_ms(),
            "bare_sql": None if self.bare is None else self.bare.as_ms(),
            "ratio_p50": None if self.ratio is None else round(self.ratio, 3),
            "misses": self.misses(),
            "note": self.note,
        }


def run_operation(bench: Bench, operation: Operation) -> Outcome:
    plan = operation.plan
    prepared = operation.prepare(bench, plan.warmup + plan.reps)
    timed, bare = timing.run(plan, prepared.operation, prepared.baseline)
    note = prepared.note
    if prepared.finish is not None:
        note = "; ".join(part for part in (note, prepared.finish()) if part)
    return Outcome(
        operation.key,
        operation.title,
        operation.chat_facing,
        Stats.of(timed),
        Stats.of(bare) if bare else None,
        note,
    )


@dataclass(frozen=True)
class ProcessRun:
    outcome: Outcome
    memory: dict[str, Any]


def run_process_startup(bench: Bench, reps: int) -> ProcessRun:
    """`python -m bench.child` from exec to ready, `reps` times; memory from the median run."""
    fixture, person = bench.fixture, bench.fixture.heavy_member
    command = [
        sys.executable,
        "-m",
        "bench.child",
        fixture.workspace_external,
        person.external_id,
        person.name,
        fixture.channel_external,
    ]
    environment = {**os.environ, "DATABASE_URL": bench.url, "DOJO_LOG_LEVEL": "WARNING"}
    runs: list[tuple[float, dict[str, Any], dict[str, Any]]] = []
    for _ in range(reps):
        started = time.perf_counter()
        with subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None
            ready_line = child.stdout.readline()
            elapsed = time.perf_counter() - started
            board_line = child.stdout.readline()
            child.wait()
        if child.returncode != 0 or not ready_line or not board_line:
            raise RuntimeError(f"the start-up child failed (exit {child.returncode})")
        runs.append((elapsed, json.loads(ready_line), json.loads(board_line)))
    runs.sort(key=lambda run: run[0])
    elapsed, ready, board = runs[len(runs) // 2]
    outcome = Outcome(
        "startup_process",
        "start-up to ready (new process)",
        False,
        Stats.of([run[0] for run in runs]),
        None,
        f"imports {ready['imports_s']:.2f} s of {ready['ready_s']:.2f} s in the median run",
    )
    memory = {
        "rss_after_start_mib": round(ready["rss_kib"] / 1024, 1),
        "peak_after_start_mib": round(ready["peak_kib"] / 1024, 1),
        "rss_after_leaderboard_mib": round(board["rss_kib"] / 1024, 1),
        "peak_after_leaderboard_mib": round(board["peak_kib"] / 1024, 1),
        "leaderboard_commands_ms": {k: round(v * 1000, 1) for k, v in board["seconds"].items()},
    }
    return ProcessRun(outcome, memory)


# -- reporting ------------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    ms = seconds * 1000
    if ms < 1:
        return f"{ms:.3f}"
    if ms < 10:
        return f"{ms:.2f}"
    if ms < 1000:
        return f"{ms:.1f}"
    return f"{ms:,.0f}"


def table(outcomes: list[Outcome]) -> str:
    """A Markdown table: readable in a terminal, pasteable into the README."""
    head = (
        "| operation | n | p50 ms | p99 ms | max ms | bare p50 | bare p99 | ratio | goal |\n"
        "|---|--:|--:|--:|--:|--:|--:|--:|---|"
    )
    lines = [head]
    for o in outcomes:
        bare = o.bare
        ratio = "—" if o.ratio is None else f"{o.ratio:.2f}"
        goal = ", ".join(o.misses()) or "ok"
        lines.append(
            f"| {o.title} | {o.stats.n} | {ms(o.stats.p50)} | {ms(o.stats.p99)} | "
            f"{ms(o.stats.max)} | {ms(bare.p50 if bare else None)} | "
            f"{ms(bare.p99 if bare else None)} | {ratio} | {goal} |"
        )
    return "\n".join(lines)


def notes(outcomes: list[Outcome]) -> str:
    return "\n".join(f"- {o.title}: {o.note}" for o in outcomes if o.note)


def machine(url_backend: str, server_version: str | None) -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": server_version,
        "sqlalchemy": version("sqlalchemy"),
        "psycopg": version("psycopg"),
        "backend": url_backend,
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def server_version(bench: Bench) -> str | None:
    if bench.backend != "postgresql":
        return None
    with bench.engine.connect() as c:
        return str(c.execute(text("SHOW server_version")).scalar_one())
