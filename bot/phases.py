"""The four phases of the 45-minute blueprint, with budgets for a standard and a quick mock."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    key: str  # the matching key of a question's guide
    name: str
    focus: str
    standard_minutes: int  # the upper bound of the blueprint's range
    quick_minutes: int


PHASES: tuple[Phase, ...] = (
    Phase("clarify", "Clarify", "requirements, scale, constraints and the ML objective", 8, 4),
    Phase("architecture", "Architecture", "data flow from raw events to served predictions", 10, 6),
    Phase("deep_dive", "Deep dive", "features, model choice, metrics, serving and scaling", 20, 10),
    Phase("trade_offs", "Trade-offs", "alternatives, limitations, extensions and rollout", 7, 5),
)
VARIANTS = ("standard", "quick")
WARNING_SECONDS = 60


def budget_seconds(phase_index: int, variant: str) -> int:
    phase = PHASES[phase_index]
    return 60 * (phase.quick_minutes if variant == "quick" else phase.standard_minutes)
