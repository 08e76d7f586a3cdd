"""Neutral messages the core shows: what the daily prompt, a mock's thread and its phases say.

Only words and structure live here; each adapter turns a `Message` into its platform's format.
"""

from __future__ import annotations

from collections.abc import Sequence

from bank.models import Question
from bot.grammar import DEFAULT_EXTEND_MINUTES
from bot.mocks import PhaseTime
from bot.phases import PHASES
from bot.port import Button, Message, Style, Tone
from bot.text import Markup

NEXT = "mock:next"
PAUSE = "mock:pause"
RESUME = "mock:resume"
EXTEND = "mock:extend"
END = "mock:end"
SCORE = "vote:open"
REVEAL = "daily:reveal"


def duration(seconds: int) -> str:
    minutes, secs = divmod(max(0, seconds), 60)
    return f"{minutes} min" if secs == 0 else f"{minutes}:{secs:02d} min"


def family_line(question: Question) -> str:
    return f"{question.family.name} · {question.level} · {question.difficulty}"


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
    fields.append(("Follow-ups", "\n".join(f"• {line}" for line in question.follow_ups)))
    fields.append(("Baseline to expect", question.baseline))
    fields.append(
        (
            "Strong signals",
            "\n".join(
                f"• {key.replace('_', ' ')}: {text}"
                for key, text in question.strong_signals.items()
            ),
        )
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
