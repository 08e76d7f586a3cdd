"""The controlled vocabulary of concepts that questions are tagged with (`bank/vocabulary.yaml`).

Tags are the bank's index for "practise position bias": a tag means the question's interviewer
material really discusses the concept, so tags are derived from each concept's keywords and a
test keeps the shipped files in step. Aliases let members type the words they know.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, StringConstraints, field_validator, model_validator

from bank.schema import Criterion, QuestionSpec, Strict, Tag

VOCABULARY_PATH = Path(str(files("bank") / "vocabulary.yaml"))
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=60)]


class Concept(Strict):
    id: Tag
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=60)]
    aliases: list[Tag] = Field(default_factory=list)
    keywords: list[Keyword] = Field(min_length=1)
    criteria: list[Criterion] = Field(min_length=1, max_length=3)

    @property
    def pattern(self) -> re.Pattern[str]:
        """One regex for all keywords: whole words (plurals too), or any ending after a `*`."""
        parts = []
        for keyword in self.keywords:
            stem = keyword.lower().rstrip("*")
            tail = r"[\w-]*" if keyword.endswith("*") else r"(?:s|es)?(?![\w-])"
            parts.append(r"(?<!\w)" + re.escape(stem) + tail)
        return re.compile("|".join(parts))


class Vocabulary(Strict):
    concepts: list[Concept] = Field(min_length=1)

    @field_validator("concepts")
    @classmethod
    def _unique_words(cls, concepts: list[Concept]) -> list[Concept]:
        """An id or alias naming two concepts would make `resolve` ambiguous."""
        seen: dict[str, str] = {}
        for concept in concepts:
            for word in (concept.id, *concept.aliases):
                if word in seen and seen[word] != concept.id:
                    raise ValueError(f"{word!r} names both {seen[word]!r} and {concept.id!r}")
                seen[word] = concept.id
        return concepts

    @model_validator(mode="after")
    def _patterns_compile(self) -> Vocabulary:
        for concept in self.concepts:
            _ = concept.pattern
        return self

    @property
    def ids(self) -> set[str]:
        return {concept.id for concept in self.concepts}

    def resolve(self, word: str) -> str | None:
        """The concept id a typed word names (id or alias, any case), or None."""
        wanted = word.strip().lower().replace(" ", "-").replace("_", "-")
        for concept in self.concepts:
            if wanted == concept.id or wanted in concept.aliases:
                return concept.id
        return None

    def discussed_in(self, text: str) -> list[str]:
        """Ids of the concepts whose keywords occur in `text`, in vocabulary order."""
        lowered = text.lower()
        return [c.id for c in self.concepts if c.pattern.search(lowered)]

    def for_criterion(self, criterion: str) -> list[str]:
        """Concepts that exercise a rubric criterion (for "practise your weakest criterion")."""
        return [c.id for c in self.concepts if criterion in c.criteria]


@cache
def vocabulary(path: Path = VOCABULARY_PATH) -> Vocabulary:
    """The validated vocabulary (pydantic ValidationError or yaml.YAMLError if the file is bad)."""
    return Vocabulary.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def interviewer_material(question: QuestionSpec) -> str:
    """The text a question's tags must be grounded in: guide, follow-ups, anchors, design."""
    parts: list[str] = [question.prompt, question.baseline]
    parts += [line for lines in question.guide.model_dump().values() for line in lines]
    for follow_up in question.follow_ups:
        parts += [follow_up] if isinstance(follow_up, str) else [follow_up.ask, follow_up.covers]
    if question.anchors is not None:
        parts += [a for c in question.anchors.model_dump().values() for a in c.values()]
    parts += question.red_flags or []
    if question.reference_design is not None:
        parts.append(question.reference_design.walkthrough)
    return "\n".join(parts)


def all_text(question: QuestionSpec) -> str:
    """Every sentence of a question, kit and reference design included: what the number checks
    read, since interviewers repeat the held-back facts and estimates to candidates."""
    parts = [interviewer_material(question)]
    if question.kit is not None:
        parts += [fact.fact for fact in question.kit.facts]
        parts += [hint for hints in question.kit.hints.model_dump().values() for hint in hints]
    if question.reference_design is not None:
        parts += question.reference_design.estimates
    if question.level_bar is not None:
        parts += [question.level_bar.L4, question.level_bar.L5, question.level_bar.L6]
    parts += [variant.change for variant in question.variants]
    return "\n".join(parts)


def tag_problems(questions: Iterable[QuestionSpec], vocab: Vocabulary) -> list[str]:
    """One line per question whose tags differ from the concepts its material discusses."""
    problems = []
    for question in questions:
        wanted = vocab.discussed_in(interviewer_material(question))
        unknown = sorted(set(question.tags) - vocab.ids)
        missing = [t for t in wanted if t not in question.tags]
        unfounded = [t for t in question.tags if t in vocab.ids and t not in wanted]
        for label, tags in (("unknown", unknown), ("missing", missing), ("unfounded", unfounded)):
            if tags:
                problems.append(f"{question.slug}: {label} tags: {', '.join(tags)}")
    return problems


_SLUG_LINE = re.compile(r"^(?P<lead>\s*-\s+)slug:\s*(?P<slug>[a-z0-9-]+)\s*$")
_TAGS_LINE = re.compile(r"^(?P<indent>\s*)tags:\s*(?P<rest>.*)$")


def rewrite_tags(text: str, tags: dict[str, list[str]]) -> str:
    """`text` (a bank file) with each listed question's `tags` replaced, all else untouched.

    Editing lines rather than re-dumping keeps the authors' YAML layout (folded blocks, quoting).
    Flow lists (`tags: [a, b]`, also over several lines) and block lists (`tags:` then `- a`
    lines) are read; the result is always a one-line flow list.
    """
    out: list[str] = []
    slug: str | None = None
    key_indent = -1  # a question's keys sit at the column of its `slug` key
    skip: str | None = None  # "flow": until the closing bracket; "block": while `- item` lines
    for line in text.splitlines(keepends=True):
        if skip == "flow":
            skip = None if "]" in line else "flow"
            continue
        if skip == "block":
            if re.match(r"^\s*-\s", line) and not _SLUG_LINE.match(line):
                continue
            skip = None
        if match := _SLUG_LINE.match(line):
            slug, key_indent = match["slug"], len(match["lead"])
        elif (
            (match := _TAGS_LINE.match(line))
            and slug in tags
            and len(match["indent"]) == key_indent
        ):
            out.append(f"{match['indent']}tags: [{', '.join(tags[slug])}]\n")
            rest = match["rest"].strip()
            skip = "block" if not rest else ("flow" if "]" not in rest else None)
            continue
        out.append(line)
    return "".join(out)
