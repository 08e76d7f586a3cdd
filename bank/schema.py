"""The bank file format: one YAML file per question family, validated with pydantic.

Every shipped and imported question passes through these models, so the completeness rules
(four phase guides, three trade-offs, scoring anchors for all six rubric criteria) live here once.

Format v2 (``version: 2`` at the top of a file) adds what makes two peers score the same mock
alike: per-criterion anchors for scores 1-4 *on this problem*, red flags, a bar per level,
annotated follow-ups, an interviewer kit (held-back facts and hint ladders per phase) and a
reference design. Version 1 files (no ``version`` key) still load; their questions lack the v2
material and `QuestionSpec.is_complete` says so.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

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


Criterion = Literal[
    "problem_formulation",
    "system_architecture",
    "ml_depth",
    "metrics_evaluation",
    "trade_off_analysis",
    "communication",
]
Phase = Literal["clarify", "architecture", "deep_dive", "trade_offs"]
CRITERIA: tuple[str, ...] = tuple(StrongSignals.model_fields)
PHASES: tuple[str, ...] = tuple(PhaseGuide.model_fields)


class ScoreAnchors(Strict):
    """What a 1, 2, 3 and 4 look like on this problem, as things an interviewer can observe."""

    one: Line = Field(alias="1")
    two: Line = Field(alias="2")
    three: Line = Field(alias="3")
    four: Line = Field(alias="4")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _int_keys(cls, data: object) -> object:
        """YAML reads `1:` as an integer key; accept it as the score it names."""
        if isinstance(data, dict):
            return {str(k) if isinstance(k, int) else k: v for k, v in data.items()}
        return data

    def for_score(self, score: int) -> str:
        """The anchor text for an integer score 1-4 (ValueError outside)."""
        if not 1 <= score <= 4:
            raise ValueError(f"score {score} is outside 1-4")
        return (self.one, self.two, self.three, self.four)[score - 1]


class Anchors(Strict):
    """One `ScoreAnchors` per rubric criterion (keys are the criterion ids)."""

    problem_formulation: ScoreAnchors
    system_architecture: ScoreAnchors
    ml_depth: ScoreAnchors
    metrics_evaluation: ScoreAnchors
    trade_off_analysis: ScoreAnchors
    communication: ScoreAnchors


class LevelBar(Strict):
    """What an L4, L5 and L6 answer adds here: scope, ambiguity, roadmap, org-level trade-offs."""

    L4: Line
    L5: Line
    L6: Line


class FollowUp(Strict):
    """A follow-up question, the criterion it probes, and what a good answer covers."""

    ask: Line
    probes: Criterion
    covers: Line


class HeldBackFact(Strict):
    """A fact the interviewer gives only when the candidate asks, and the phase it belongs to."""

    phase: Phase
    fact: Line


class HintLadders(Strict):
    """Per phase, 2-3 hints from gentle to explicit for a candidate who is stuck."""

    clarify: list[Line] = Field(min_length=2, max_length=3)
    architecture: list[Line] = Field(min_length=2, max_length=3)
    deep_dive: list[Line] = Field(min_length=2, max_length=3)
    trade_offs: list[Line] = Field(min_length=2, max_length=3)


class InterviewerKit(Strict):
    facts: list[HeldBackFact] = Field(min_length=3, max_length=12)
    hints: HintLadders


class ReferenceDesign(Strict):
    """A good answer walked through (250-500 words), key estimates, an optional Mermaid diagram."""

    walkthrough: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=200, max_length=4000)
    ]
    estimates: list[Line] = Field(min_length=2, max_length=8)
    diagram: Annotated[str, StringConstraints(strip_whitespace=True, max_length=3000)] | None = None

    @field_validator("walkthrough")
    @classmethod
    def _word_count(cls, text: str) -> str:
        words = len(text.split())
        if not 250 <= words <= 500:
            raise ValueError(f"the walkthrough has {words} words; it needs 250-500")
        return text


class Variant(Strict):
    """A constraint change a mock can draw as a curveball ("now end-to-end encrypted")."""

    name: Slug
    change: Line


class Status(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class QuestionSpec(Strict):
    """One question. v1 files carry `difficulty`, plain follow-ups and `strong_signals`; v2 files
    drop `difficulty` (the level already says what the problem demands) and add the v2 material."""

    slug: Slug
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=120)]
    prompt: Text
    level: Level
    difficulty: Difficulty | None = None
    tags: list[Tag] = Field(min_length=1, max_length=24)
    baseline: Line
    guide: PhaseGuide
    follow_ups: list[FollowUp | Line] = Field(min_length=2)
    strong_signals: StrongSignals | None = None
    anchors: Anchors | None = None
    red_flags: list[Line] | None = Field(default=None, min_length=2, max_length=4)
    level_bar: LevelBar | None = None
    kit: InterviewerKit | None = None
    reference_design: ReferenceDesign | None = None
    ladder: Slug | None = None
    variants: list[Variant] = Field(default_factory=list, max_length=4)
    status: Status = Status.ACTIVE

    @model_validator(mode="after")
    def _scored_somehow(self) -> QuestionSpec:
        """A question needs something to score against: v1 `strong_signals` or v2 `anchors`."""
        if self.strong_signals is None and self.anchors is None:
            raise ValueError("strong_signals (format v1) or anchors (format v2) is required")
        return self

    @property
    def missing(self) -> list[str]:
        """The format-v2 parts this question lacks (annotated follow-ups count as one part)."""
        parts = [
            name
            for name in ("anchors", "red_flags", "level_bar", "kit", "reference_design")
            if getattr(self, name) is None
        ]
        if not all(isinstance(f, FollowUp) for f in self.follow_ups):
            parts.append("annotated follow_ups")
        return parts

    @property
    def is_complete(self) -> bool:
        """True when every v2 part is present and every follow-up is annotated."""
        return not self.missing


class BankFile(Strict):
    """One family: its id, display name, the words people use for it, and its questions."""

    version: Literal[1, 2] = 1
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

    @model_validator(mode="after")
    def _v2_is_complete(self) -> BankFile:
        """A file that says `version: 2` must be complete: no half-migrated question slips in."""
        if self.version == 2:
            missing = [q.slug for q in self.questions if not q.is_complete or q.difficulty]
            if missing:
                raise ValueError(
                    "version 2 needs anchors, red_flags, level_bar, kit, reference_design and "
                    f"annotated follow_ups (and no difficulty) in: {', '.join(missing)}"
                )
        return self
