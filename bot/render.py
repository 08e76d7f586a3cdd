"""Neutral messages the core shows: what the daily prompt, a mock's thread and its phases say.

Only words and structure live here; each adapter turns a `Message` into its platform's format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bank.models import Question
from bank.schema import CRITERIA
from bot.grammar import DEFAULT_EXTEND_MINUTES
from bot.mocks import PhaseTime
from bot.phases import PHASES
from bot.port import Button, Image, Message, Style, Tone
from bot.text import Markup

NEXT = "mock:next"
PAUSE = "mock:pause"
RESUME = "mock:resume"
EXTEND = "mock:extend"
END = "mock:end"
SCORE = "vote:open"
REVEAL = "daily:reveal"
LEVEL_KEYS = ("L4", "L5", "L6")


def duration(seconds: int) -> str:
    minutes, secs = divmod(max(0, seconds), 60)
    return f"{minutes} min" if secs == 0 else f"{minutes}:{secs:02d} min"


def family_line(question: Question) -> str:
    """Family, level and (format v1 only) difficulty: v2 questions let the level say it."""
    difficulty = f" · {question.difficulty}" if question.difficulty else ""
    return f"{question.family.name} · {question.level}{difficulty}"


def follow_up_line(item: str | Mapping[str, Any]) -> str:
    """A follow-up: a plain line (v1) or `{ask, probes, covers}` (v2)."""
    if isinstance(item, str):
        return item
    probes = str(item["probes"]).replace("_", " ")
    return f"{item['ask']} (probes {probes}; a good answer: {item['covers']})"


def top_signals(question: Question) -> list[tuple[str, str]]:
    """What a top answer shows per criterion: v1 strong signals, else the v2 anchors for a 4."""
    if question.strong_signals:
        return [(k, str(v)) for k, v in question.strong_signals.items()]
    anchors = question.anchors or {}
    return [(c, str(anchors[c]["4"])) for c in CRITERIA if c in anchors]


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"• {line}" for line in lines)


def daily_prompt(question: Question, prompt_id: int, previous: Question | None) -> Message:
    hint = "; ".join(question.guide["clarify"][:2])
    buttons = [Button("Reveal the guide", REVEAL, str(prompt_id))]
    fields = [("Family", family_line(question)), ("A strong answer starts by asking", hint)]
    if previous is not None:
        fields.append(
            (
                "Previous question",
                Markup("{} — `/mlsd bank show {}`").format(previous.title, previous.slug),
            )
        )
    return Message(
        title=f"Daily question: {question.title}",
        text=f"{question.prompt}\n\nAnswer in this thread. Cover the four phases: clarify, "
        "architecture, deep dive, trade-offs.",
        fields=tuple(fields),
        buttons=tuple(buttons),
    )


def guide(question: Question) -> Message:
    """The full interviewer's guide: private to interviewers, or revealed after a daily."""
    fields = [
        (
            f"{phase.name} ({phase.standard_minutes} min)",
            "\n".join(f"• {line}" for line in question.guide[phase.key]),
        )
        for phase in PHASES
    ]
    fields.append(("Follow-ups", _bullets([follow_up_line(f) for f in question.follow_ups])))
    fields.append(("Baseline to expect", question.baseline))
    fields.append(
        (
            "Strong signals" if question.strong_signals else "What a 4 looks like",
            _bullets([f"{key.replace('_', ' ')}: {text}" for key, text in top_signals(question)]),
        )
    )
    if question.red_flags:
        fields.append(("Red flags", _bullets(question.red_flags)))
    if question.level_bar:
        fields.append(
            ("Level bar", _bullets([f"{lvl}: {question.level_bar[lvl]}" for lvl in LEVEL_KEYS]))
        )
    return Message(
        title=f"Interviewer guide: {question.title}", text=question.prompt, fields=tuple(fields)
    )


def mock_root(
    number: int, question: Question, candidate: str, interviewers: Sequence[str], variant: str
) -> Message:
    who = ", ".join(interviewers) or Markup("none yet (`/mlsd join` to interview)")
    total = sum(p.quick_minutes if variant == "quick" else p.standard_minutes for p in PHASES)
    return Message(
        title=f"Mock #{number} · {question.title}",
        text=question.prompt,
        fields=(
            ("Candidate", candidate),
            ("Interviewers", who),
            ("Format", f"{variant}, {total} min in four phases"),
            ("Family", family_line(question)),
        ),
    )


def button_value(number: int, phase_index: int) -> str:
    """Buttons carry the mock and the phase they belong to, so a stale press does nothing."""
    return f"{number}:{phase_index}"


def parse_button_value(value: str) -> tuple[int | None, int | None]:
    number, _, phase = value.partition(":")
    return (int(number) if number.isdigit() else None, int(phase) if phase.isdigit() else None)


def phase_buttons(number: int, phase_index: int, paused: bool = False) -> tuple[Button, ...]:
    value = button_value(number, phase_index)
    if paused:
        return (
            Button("Resume", RESUME, value, Style.PRIMARY),
            Button("End", END, value, Style.DANGER),
        )
    return (
        Button("Next phase", NEXT, value, Style.PRIMARY),
        Button("Pause", PAUSE, value),
        Button(f"Extend +{DEFAULT_EXTEND_MINUTES}", EXTEND, value),
        Button("End", END, value, Style.DANGER),
    )


def phase_message(number: int, phase_index: int, budget: int, question: Question) -> Message:
    phase = PHASES[phase_index]
    return Message(
        title=f"#{number} · Phase {phase_index + 1}/{len(PHASES)} · {phase.name}"
        f" ({duration(budget)})",
        text=f"Cover: {phase.focus}. The phase ends in {duration(budget)}.",
        buttons=phase_buttons(number, phase_index),
        tone=Tone.PHASE,
    )


def controls_retired(phase_index: int, phase_over: bool) -> Message:
    """What a superseded controls message becomes: its phase named, no live buttons."""
    phase = PHASES[phase_index]
    if phase_over:
        return Message(f"{phase.name} is over.", tone=Tone.PHASE)
    return Message(f"{phase.name}: the controls are on the newest message below.", tone=Tone.PHASE)


def reminder(number: int, phase_index: int, kind: str, last_phase: bool) -> Message:
    phase = PHASES[phase_index]
    if kind == "warning":
        return Message(f"#{number} · one minute left in {phase.name}.", tone=Tone.WARNING)
    step = "Press Next phase to finish" if last_phase else "Press Next phase"
    return Message(
        f"#{number} · time is up for {phase.name}. {step} when ready, or extend it.",
        buttons=phase_buttons(number, phase_index),
        tone=Tone.WARNING,
    )


def summary(number: int, times: Sequence[PhaseTime], reason: str) -> Message:
    lines = [
        f"{t.name}: {duration(t.spent_seconds)} of {duration(t.budget_seconds)}" for t in times
    ]
    total = sum(t.spent_seconds for t in times)
    reasons = {
        "completed": "all four phases done",
        "ended": "ended early",
        "idle": "closed after two idle hours",
    }
    return Message(
        title=f"Mock #{number} is over ({reasons.get(reason, reason)})",
        text="\n".join(lines)
        + f"\nTotal: {duration(total)}."
        + f"\nInterviewers and peers: score it with the button or `/mlsd vote #{number}`.",
        buttons=(Button("Score this mock", SCORE, str(number), Style.PRIMARY),),
        tone=Tone.SUCCESS,
    )


def phase_kit(number: int, phase_index: int, question: Question) -> Message:
    """What the interviewers need in this phase only, sent privately at its start: the phase's
    guide, the facts to give only when the candidate asks, and the hints from gentle to explicit.
    Format v1 questions have no kit: their guide lines (and in the deep dive, follow-ups) remain.
    """
    phase = PHASES[phase_index]
    fields = [("Expect", _bullets(question.guide[phase.key]))]
    if phase_index == 0:
        fields.append(("Baseline to expect", question.baseline))
    kit = question.kit or {}
    facts = [str(f["fact"]) for f in kit.get("facts", []) if f["phase"] == phase.key]
    if facts:
        fields.append(("Give only when asked", _bullets(facts)))
    hints = [str(h) for h in kit.get("hints", {}).get(phase.key, [])]
    if hints:
        ladder = "\n".join(f"{i}. {hint}" for i, hint in enumerate(hints, start=1))
        fields.append(("If the candidate is stuck (gentle first)", ladder))
    if phase.key == "deep_dive":
        fields.append(("Follow-ups", _bullets([follow_up_line(f) for f in question.follow_ups])))
    if phase_index == len(PHASES) - 1 and question.red_flags:
        fields.append(("Red flags to note for scoring", _bullets(question.red_flags)))
    return Message(
        title=f"Interviewer kit · mock #{number} · {phase.name}",
        text=f"Phase {phase_index + 1}/{len(PHASES)}: the candidate was asked to cover "
        f"{phase.focus}.",
        fields=tuple(fields),
        tone=Tone.PHASE,
    )


def reference_design(
    slug: str, title: str, design: Mapping[str, Any], diagram_png: bytes | None = None
) -> Message:
    """One good answer, posted in the thread once the vote is over: the walkthrough, the key
    estimates, and the diagram as a PNG when one was rendered, else as its Mermaid source."""
    fields = [("Key estimates", _bullets([str(e) for e in design.get("estimates", [])]))]
    source = design.get("diagram")
    images: tuple[Image, ...] = ()
    if source and diagram_png is not None:
        images = (Image(f"{slug}-design.png", diagram_png, "Reference design diagram"),)
    elif source:
        fields.append(("Diagram (Mermaid source)", f"```\n{source}\n```"))
    return Message(
        title=f"Reference design: {title}",
        text=str(design["walkthrough"]),
        fields=tuple(fields),
        images=images,
    )
