"""The bank file format: one YAML file per question family, validated with pydantic.

Every shipped and imported question passes through these models, so the completeness rules
(four phase guides, three trade-offs, signals for all six rubric criteria) live here once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=600)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=20, max_length=3000)]
Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9+.-]*$", max_length=40)]


class Level(StrEnum):
    L3 = "L3"
    L4 = "L4"
    L5 = "L5"
    L6 = "L6"


class Difficulty(StrEnum):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


class Strict(BaseModel):
    """Unknown keys are typos, not extensions: reject them so nothing is silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PhaseGuide(Strict):
    """What an interviewer expects in each of the four phases of the 45-minute blueprint."""

    clarify: list[Line] = Field(min_length=3)
    architecture: list[Line] = Field(min_length=3)
    deep_dive: list[Line] = Field(min_length=4)
    trade_offs: list[Line] = Field(min_length=3)


class StrongSignals(Strict):
    """What a strong answer shows, one entry per rubric criterion (keys are the criterion ids)."""

    problem_formulation: Line
    system_architecture: Line
    ml_depth: Line
    metrics_evaluation: Line
    trade_off_analysis: Line
    communication: Line


class Status(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class QuestionSpec(Strict):
    slug: Slug
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=120)]
    prompt: Text
    level: Level
    difficulty: Difficulty
    tags: list[Tag] = Field(min_length=1, max_length=12)
    baseline: Line
    guide: PhaseGuide
    follow_ups: list[Line] = Field(min_length=2)
    strong_signals: StrongSignals
    status: Status = Status.ACTIVE


class BankFile(Strict):
    """One family: its id, display name, the words people use for it, and its questions."""

    family: Slug
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=60)]
    aliases: list[Tag] = Field(default_factory=list)
    questions: list[QuestionSpec] = Field(min_length=1)

    @field_validator("questions")
    @classmethod
    def _unique_slugs(cls, questions: list[QuestionSpec]) -> list[QuestionSpec]:
        seen: set[str] = set()
        for question in questions:
            if question.slug in seen:
                raise ValueError(f"duplicate slug {question.slug!r}")
            seen.add(question.slug)
        return questions
