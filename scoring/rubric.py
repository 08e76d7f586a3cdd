"""The rubric: six weighted criteria, each scored 1–4 against one-line anchors.

A workspace may replace it with its own (a validated file whose weights sum to 100); everything
downstream reads criteria from a `Rubric`, never from constants.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
    name: Annotated[str, StringConstraints(min_length=2, max_length=40)]
    weight: int = Field(gt=0, le=100)  # percent
    anchors: tuple[Line, Line, Line, Line]  # what a 1, 2, 3 and 4 look like
    advice: Line  # what to practise when this is the weakest criterion


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    criteria: tuple[Criterion, ...] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _weights_sum_to_100(self) -> Rubric:
        total = sum(c.weight for c in self.criteria)
        if total != 100:
            raise ValueError(f"criterion weights must sum to 100, not {total}")
        ids = [c.id for c in self.criteria]
        if len(set(ids)) != len(ids):
            raise ValueError("criterion ids must be unique")
        return self

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.criteria)

    def criterion(self, criterion_id: str) -> Criterion:
        return next(c for c in self.criteria if c.id == criterion_id)


DEFAULT_RUBRIC = Rubric(
    criteria=(
        Criterion(
            id="problem_formulation",
            name="Problem formulation",
            weight=20,
            anchors=(
                "Vague goal; optimises the wrong target",
                "States an ML task but misses the label, loss or key constraints",
                "Clear objective, label and loss tied to the business metric",
                "Precise formulation with edge cases, constraints and a baseline named",
            ),
            advice="Open every answer by turning the business goal into a label, a loss and a "
            "baseline before drawing anything.",
        ),
        Criterion(
            id="system_architecture",
            name="System architecture",
            weight=20,
            anchors=(
                "Missing major components; no thought for scale",
                "Main boxes present but data flow or serving is unclear",
                "Complete data flow from logs to serving, sized for the load",
                "Complete, scaled and monitored, with fallbacks and feedback loops",
            ),
            advice="Practise drawing the full loop in ten minutes: events, features, training, "
            "registry, serving, monitoring.",
        ),
        Criterion(
            id="ml_depth",
            name="ML depth",
            weight=25,
            anchors=(
                "Black-box model choice; no features discussed",
                "Reasonable model but thin features or training story",
                "Thoughtful features, justified model and training strategy",
                "Deep, well-argued modelling choices with alternatives and failure modes",
            ),
            advice="For each design, list fifteen features and defend your model against three "
            "alternatives.",
        ),
        Criterion(
            id="metrics_evaluation",
            name="Metrics & evaluation",
            weight=15,
            anchors=(
                "Only accuracy, or no metrics",
                "Offline metrics only",
                "Offline and online metrics with an A/B test",
                "Metrics tied to the business with guardrails and a sound experiment design",
            ),
            advice="Pair every offline metric with the online metric and guardrails it moves.",
        ),
        Criterion(
            id="trade_off_analysis",
            name="Trade-off analysis",
            weight=10,
            anchors=(
                "Presents one approach as the answer",
                "Mentions alternatives without weighing them",
                "Several alternatives with pros and cons",
                "Trade-offs quantified and tied to a phased plan",
            ),
            advice="Name at least three trade-offs per design, each with what you gain and lose.",
        ),
        Criterion(
            id="communication",
            name="Communication",
            weight=10,
            anchors=(
                "Rambles; ignores the interviewer",
                "Understandable but unstructured or runs out of time",
                "Structured, responds to hints, manages time",
                "Leads the conversation crisply and checks in at each phase",
            ),
            advice="Run quick mocks against the clock and say out loud where you are in the plan.",
        ),
    )
)
assert [c.weight for c in DEFAULT_RUBRIC.criteria] == [20, 20, 25, 15, 10, 10]


def rubric_for(custom: dict[str, object] | None) -> Rubric:
    """The workspace's rubric (stored validated) or the default."""
    return DEFAULT_RUBRIC if custom is None else Rubric.model_validate(custom)
