"""After the vote, closure: the question's reference design for the thread, diagram included
(a PNG when a Mermaid renderer is installed, else its source as text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bank.models import Question
from bot import diagram, render
from bot.port import Message


@dataclass(frozen=True)
class Design:
    """A question's reference design, read inside a transaction and rendered after it (the
    diagram renderer may take seconds)."""

    slug: str
    title: str
    design: dict[str, Any]


def design_of(question: Question) -> Design | None:
    """None for a question without a reference design (format v1)."""
    if not question.reference_design:
        return None
    return Design(question.slug, question.title, dict(question.reference_design))


def reference_design_message(design: Design) -> Message:
    source = design.design.get("diagram")
    png = diagram.mermaid_png(str(source)) if source else None
    return render.reference_design(design.slug, design.title, design.design, png)
