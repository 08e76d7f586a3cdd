"""Timing: repeated calls, percentiles, and an operation measured next to its bare-SQL baseline."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stats:
    n: int
    p50: float  # seconds
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        ordered = sorted(samples)
        return cls(
            len(ordered),
            _percentile(ordered, 50),
            _percentile(ordered, 99),
            ordered[-1],
            sum(ordered) / len(ordered),
        )

    def as_ms(self) -> dict[str, float]:
        return {
            "n": self.n,
            "p50_ms": round(self.p50 * 1000, 4),
            "p99_ms": round(self.p99 * 1000, 4),
            "max_ms": round(self.max * 1000, 4),
            "mean_ms": round(self.mean * 1000, 4),
        }


def _percentile(ordered: Sequence[float], percent: float) -> float:
    """Nearest rank: the smallest sample with at least `percent` % of samples at or below it."""
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Plan:
    """How often to run: `reps` measured calls after `warmup`, stopping early after `budget` s."""

    reps: int
    warmup: int = 3
    budget: float = 30.0
    minimum: int = 10


def run(
    plan: Plan,
    operation: Callable[[int], object],
    baseline: Callable[[int], object] | None = None,
) -> tuple[list[float], list[float]]:
    """Call `operation(i)` (and `baseline(i)` right after it, same i) for i = 0, 1, …

    Alternating the two gives both the same cache and the same drift. Inputs that must differ per
    call (a new voter, a new candidate) are indexed by i: warm-up calls use the first indices.
    """
    gc.collect()
    clock = time.perf_counter
    for i in range(plan.warmup):
        operation(i)
        if baseline is not None:
            baseline(i)
    timed: list[float] = []
    bare: list[float] = []
    started = clock()
    for rep in range(plan.reps):
        i = plan.warmup + rep
        t0 = clock()
        operation(i)
        timed.append(clock() - t0)
        if baseline is not None:
            t0 = clock()
            baseline(i)
            bare.append(clock() - t0)
        if rep + 1 >= plan.minimum and clock() - started > plan.budget:
            break
    return timed, bare
