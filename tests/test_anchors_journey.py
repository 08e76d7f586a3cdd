"""Issue 14 through the console adapter on SQLite and PostgreSQL: a format-v2 question brings the
interviewers a kit per phase, forms carry its anchors and red flags, results are level-aware and
the reference design closes the thread."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from bank.catalog import get_question, import_banks
from bank.db import Database
from bank.models import DailyPrompt
from bot.flows.scoring_flow import SUBMIT
from bot.port import Message, Outcome, Permanent, Place
from scoring.models import Vote
from tests.support import Harness
from tests.test_anchors_bank import V2_SLUG, v1_bank, v2_banks
from tests.test_mock_flow import press, start_mock

SCORES = {
    "problem_formulation": "4",
    "system_architecture": "4",
    "ml_depth": "4",
    "metrics_evaluation": "4",
    "trade_off_analysis": "4",
    "communication": "4",
}


@pytest.fixture
def v2_harness(bank_db: Database, tmp_path: Path) -> Harness:
    with bank_db.unit_of_work() as session:
        import_banks(session, v2_banks())
    return Harness(bank_db, tmp_path)


def kits(h: Harness, user: str) -> list[Message]:
    return [m for m in h.private_to(user) if m.title.startswith("Interviewer kit")]


def field(message: Message, name: str) -> str:
    return next(value for key, value in message.fields if key.startswith(name))


def test_the_kit_arrives_phase_by_phase(v2_harness: Harness) -> None:
    h = v2_harness
    number, _ = start_mock(h, "mock churn @bob")
    # at the start only the Clarify kit, not the whole guide at once
    [clarify] = kits(h, "bob")
    assert clarify.title == f"Interviewer kit · mock #{number} · Clarify"
    assert "200,000 offers a week" in field(clarify, "Give only when asked")
    assert "one-day delay" not in str(clarify.fields)  # an architecture fact waits its turn
    assert field(clarify, "If the candidate is stuck").startswith("1. When do you find out")
    assert not kits(h, "alice")  # the candidate only sees the phase's focus, in the thread
    assert "Cover: requirements, scale" in h.port.posted[1].message.text

    for expected, fact in (
        ("Architecture", "one-day delay"),
        ("Deep dive", "failed payment"),
        ("Trade-offs", None),
    ):
        press(h, "bob", "Next phase")
        latest = kits(h, "bob")[-1]
        assert latest.title.endswith(f"· {expected}")
        if fact is not None:
            assert fact in field(latest, "Give only when asked")
    assert [k.title.rsplit("· ", 1)[1] for k in kits(h, "bob")] == [
        "Clarify",
        "Architecture",
        "Deep dive",
        "Trade-offs",
    ]
    assert "(probes metrics evaluation" in field(kits(h, "bob")[2], "Follow-ups")
    assert "Trains on features computed" in field(kits(h, "bob")[3], "Red flags")
    # a late joiner gets the kit of the phase in progress, not the first
    h.command("carol", f"join #{number}")
    assert [k.title for k in kits(h, "carol")] == [f"Interviewer kit · mock #{number} · Trade-offs"]
    assert not kits(h, "alice")


def test_form_results_and_reference_design(v2_harness: Harness) -> None:
    h = v2_harness
    number, thread = start_mock(h, "mock churn @bob")
    h.command("alice", f"end #{number}")
    opened = h.action("bob", "vote:open", str(number), thread=thread)
    assert opened is not None and opened.message.form is not None
    inputs = {i.name: i for i in opened.message.form.inputs}
    ml = [c.description for c in inputs["ml_depth"].choices]
    assert ml[3].startswith("Handles the offer feedback loop")  # this question's anchor for a 4
    flags = inputs["red_flags"]
    assert flags.multiple and not flags.required and len(flags.choices) == 3
    # the console shows the anchors as text
    assert "4 Handles the offer feedback loop" in h.feed(f"bob: /mlsd vote #{number}")

    wrong = h.action("bob", SUBMIT, str(number), thread, {**SCORES, "red_flags": "9"})
    assert wrong is not None and "no red flag '9'" in wrong.message.text
    assert not h.private_to("alice")  # nothing delivered for a refused vote

    fields = {**SCORES, "signal": "hire", "red_flags": "1,3", "comment": "clear"}
    reply = h.action("bob", SUBMIT, str(number), thread, fields)
    assert reply is not None and "vote is in" in reply.message.text
    with h.db.unit_of_work() as session:
        vote = session.scalars(select(Vote)).one()
        assert vote.red_flags == [
            "Trains on features computed after the prediction date.",
            "Treats a declined card the same as a decision to cancel.",
        ]
    [result] = [m for m in h.private_to("alice") if m.title.startswith("Your result")]
    # all 4s on an L4 question: the score alone reads L6, the question can show L5 at most
    assert "suggests L5. The score alone reads as L6; an L4 question can show up to L5." in (
        result.text
    )
    assert "At a 4: Handles the offer feedback loop" in field(result, "ML depth")
    assert field(result, "What L6 adds").startswith("Sets a retention strategy across teams")
    assert "Treats a declined card the same" in field(result, "Red flags voters ticked")
    # closure: the reference design in the mock's thread, after the results note
    texts = [p.message for p in h.port.posted if p.place.thread_id == thread]
    assert texts[-2].text.startswith(f"Mock #{number}: results are in")
    design = texts[-1]
    assert design.title == "Reference design: Predicting which subscribers will cancel a music plan"
    assert design.text.startswith("The strong answer starts by pinning down the label.")
    assert "graph LR" in field(design, "Diagram (Mermaid source)")  # no renderer installed
    assert "40 million subscribers" in field(design, "Key estimates")
    # a changed vote revises the result, but the design is not posted twice
    h.action("bob", SUBMIT, str(number), thread, {**fields, "ml_depth": "3"})
    h.advance(hours=49)
    designs = [p for p in h.port.posted if p.message.title.startswith("Reference design")]
    assert len(designs) == 1


def fake_renderer(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "mmdc"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_the_diagram_is_a_png_when_a_renderer_is_installed(
    v2_harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # writes a PNG header to the file after -o, like mermaid-cli
    script = fake_renderer(tmp_path, "printf '\\211PNG\\r\\n\\032\\nfake' > \"$4\"")
    monkeypatch.setenv("DOJO_MERMAID_CLI", str(script))
    h = v2_harness
    number, thread = start_mock(h, "mock churn @bob")
    h.command("alice", f"end #{number}")
    h.action("bob", SUBMIT, str(number), thread, {**SCORES, "signal": "hire"})
    design = h.port.posted[-1].message
    assert [i.filename for i in design.images] == [f"{V2_SLUG}-design.png"]
    assert design.images[0].png.startswith(b"\x89PNG")
    assert not any(name.startswith("Diagram") for name, _ in design.fields)


def test_a_failing_renderer_falls_back_to_the_source(
    v2_harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOJO_MERMAID_CLI", str(fake_renderer(tmp_path, "exit 3")))
    h = v2_harness
    number, thread = start_mock(h, "mock churn @bob")
    h.command("alice", f"end #{number}")
    h.action("bob", SUBMIT, str(number), thread, {**SCORES, "signal": "hire"})
    design = h.port.posted[-1].message
    assert not design.images and "graph LR" in field(design, "Diagram (Mermaid source)")


def test_a_v1_question_still_runs_without_kit_extras_or_design(
    bank_db: Database, tmp_path: Path
) -> None:
    with bank_db.unit_of_work() as session:
        import_banks(session, [v1_bank()])
    h = Harness(bank_db, tmp_path)
    number, thread = start_mock(h, "mock legacy-ledger-reconciliation @bob")
    [clarify] = kits(h, "bob")
    assert [name for name, _ in clarify.fields] == ["Expect", "Baseline to expect"]
    h.command("alice", f"end #{number}")
    h.action("bob", SUBMIT, str(number), thread, {**SCORES, "signal": "hire"})
    assert not any(p.message.title.startswith("Reference design") for p in h.port.posted)
    [result] = [m for m in h.private_to("alice") if m.title.startswith("Your result")]
    assert "At a 4: Precise formulation" in field(result, "Problem formulation")  # the rubric's


def test_a_daily_thread_closes_with_its_design_at_the_next_daily(v2_harness: Harness) -> None:
    h = v2_harness
    reply = h.command("admin", "schedule 09:00 UTC daily")
    assert reply is not None and "Scheduled" in reply.message.text
    assert h.advance(hours=1)["daily"] == 1  # Monday 09:00
    with h.db.unit_of_work() as session:
        monday = session.scalars(select(DailyPrompt)).one()
        # Monday's question is the v2 one, whatever the draw picked
        monday.question_id = get_question(session, V2_SLUG).id
        monday_thread = monday.thread_external_id
    assert not any(p.message.title.startswith("Reference design") for p in h.port.posted)
    assert h.advance(days=1)["daily"] == 1  # Tuesday's post closes Monday's thread
    designs = [p for p in h.port.posted if p.message.title.startswith("Reference design")]
    assert [d.place.thread_id for d in designs] == [monday_thread]
    tuesday = next(p for p in h.port.posted if p.message.title.startswith("Daily question"))
    assert designs[0].place.channel_id == tuesday.place.channel_id


def test_a_refused_closure_post_does_not_stop_the_daily(
    v2_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = v2_harness
    h.command("admin", "schedule 09:00 UTC daily")
    h.advance(hours=1)
    with h.db.unit_of_work() as session:
        monday = session.scalars(select(DailyPrompt)).one()
        monday.question_id = get_question(session, V2_SLUG).id
        monday_thread = monday.thread_external_id
    original = h.port.post

    def refuse_in_old_thread(place: Place, message: Message, key: str | None = None) -> Outcome:
        if place.thread_id == monday_thread:
            return Permanent("the thread is archived", "unarchive the thread", "50083")
        return original(place, message, key)

    monkeypatch.setattr(h.port, "post", refuse_in_old_thread)
    assert h.advance(days=1)["daily"] == 1
    with h.db.unit_of_work() as session:
        assert len(session.scalars(select(DailyPrompt.posted_at)).all()) == 2
        assert all(session.scalars(select(DailyPrompt.posted_at)))
