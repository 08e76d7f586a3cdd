"""Mock interviews through the core's API on SQLite and PostgreSQL: the whole lifecycle."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bank.db import Database
from bank.models import Interview, InterviewPhase
from bot import render
from bot.port import Reply
from scoring.models import PointsEntry
from tests.support import Harness


def start_mock(h: Harness, text: str = "mock recsys @bob") -> tuple[int, str]:
    reply = h.command("alice", text)
    assert reply is not None and "started" in reply.message.text, reply
    with h.db.unit_of_work() as session:
        interview = session.scalars(select(Interview).order_by(Interview.id.desc())).first()
        assert interview is not None and interview.thread_external_id is not None
        return interview.number, interview.thread_external_id


def interview_row(h: Harness, number: int) -> Interview:
    with h.db.unit_of_work() as session:
        return session.scalars(select(Interview).where(Interview.number == number)).one()


def button_value(h: Harness, label: str) -> tuple[str, str]:
    found = h.port.find_button(label)
    assert found is not None, f"no [{label}] button"
    return found[1].action_id, found[1].value


def press(h: Harness, user: str, label: str, event_id: str | None = None) -> Reply | None:
    action_id, value = button_value(h, label)
    found = h.port.find_button(label)
    assert found is not None
    return h.action(user, action_id, value, thread=found[0].place.thread_id, event_id=event_id)


def test_full_mock_lifecycle(bank_db: Database, tmp_path: Path) -> None:
    h = Harness(bank_db, tmp_path)
    number, _ = start_mock(h)
    root = h.port.posted[0]
    assert root.place.thread_id is None and root.message.title.startswith(f"Mock #{number} · ")
    assert "Candidate: alice" not in root.message.text  # names are fields, the text is the prompt
    assert ("Candidate", "alice") in root.message.fields
    # the interviewer gets the first phase's kit privately, the candidate does not
    assert [m.title for m in h.private_to("bob")] == [f"Interviewer kit · mock #{number} · Clarify"]
    assert not any(m.title.startswith("Interviewer kit") for m in h.private_to("alice"))
    assert h.command("carol", f"join #{number}") is not None
    assert any(m.title.endswith("· Clarify") for m in h.private_to("carol"))
    h.feed(f"bob #{number}: what does success look like for the business?")  # bob takes part

    # timers: one warning a minute before the 8-minute budget, one time-up, never repeated
    assert h.advance(minutes=6)["reminders"] == 0
    assert h.advance(minutes=1)["reminders"] == 1
    assert h.advance(seconds=30)["reminders"] == 0
    assert h.advance(seconds=30)["reminders"] == 1
    assert h.advance(minutes=5)["reminders"] == 0
    texts = "\n".join(h.texts())
    assert texts.count("one minute left in Clarify") == 1
    assert texts.count("time is up for Clarify") == 1

    # only the newest message carries live controls: the phase message lost its buttons when
    # the time-up message (with buttons) superseded it, and that one loses them on Next
    phase_message = next(
        p
        for p in h.port.posted
        if "Phase 1/4" in p.message.text + p.message.title
        or p.message.text == "Clarify: the controls are on the newest message below."
    )
    assert phase_message.message.buttons == ()
    live = h.port.find_button("Next phase")
    assert live is not None and "time is up" in live[0].message.text
    press(h, "bob", "Next phase")
    edited = next(p for p in h.port.posted if p.message_id == live[0].message_id)
    assert edited.message.buttons == () and edited.message.text == "Clarify is over."
    assert interview_row(h, number).phase_index == 1

    # pause: time stands still; resume: the same time left; extend adds to it
    h.advance(minutes=4)
    h.command("alice", f"pause #{number}")
    assert interview_row(h, number).paused_remaining_seconds == 6 * 60
    assert h.advance(hours=1)["reminders"] == 0
    h.command("bob", f"resume #{number}")
    row = interview_row(h, number)
    assert row.status == "running" and row.phase_deadline is not None
    assert round((row.phase_deadline - h.clock.now()).total_seconds()) == 6 * 60
    h.command("bob", f"extend 3 #{number}")
    deadline = interview_row(h, number).phase_deadline
    assert deadline is not None and round((deadline - h.clock.now()).total_seconds()) == 540

    for _ in range(3):
        press(h, "bob", "Next phase")
    row = interview_row(h, number)
    assert row.status == "ended" and row.end_reason == "completed"
    summary = h.port.posted[-1].message
    assert summary.title == f"Mock #{number} is over (all four phases done)"
    assert "Architecture: 4 min of 13 min" in summary.text  # paused hour not counted
    assert [b.label for b in summary.buttons] == ["Score this mock"]
    with bank_db.unit_of_work() as session:
        kinds = sorted(session.scalars(select(PointsEntry.kind)))
    assert kinds == ["mock-candidate", "mock-interviewer", "mock-interviewer"]


def test_only_participants_or_admins_control(bank_db: Database, tmp_path: Path) -> None:
    h = Harness(bank_db, tmp_path, admins=("admin",))
    number, _ = start_mock(h)
    refused = h.command("mallory", f"next #{number}")
    assert refused is not None and refused.private and "only the candidate" in refused.message.text
    assert interview_row(h, number).phase_index == 0
    assert "Mock" in h.command("admin", f"next #{number}").message.text  # type: ignore[union-attr]
    assert interview_row(h, number).phase_index == 1


def test_one_running_mock_per_candidate(bank_db: Database, tmp_path: Path) -> None:
    h = Harness(bank_db, tmp_path)
    number, _ = start_mock(h)
    second = h.command("alice", "mock fraud")
    assert second is not None and "already have a mock running" in second.message.text
    h.command("alice", f"end #{number}")
    start_mock(h, "mock fraud")


def test_stale_and_duplicate_presses_do_nothing(bank_db: Database, tmp_path: Path) -> None:
    h = Harness(bank_db, tmp_path)
    number, thread = start_mock(h)
    action_id, value = button_value(h, "Next phase")
    h.action("bob", action_id, value, thread=thread, event_id="click-1")
    assert h.action("bob", action_id, value, thread=thread, event_id="click-1") is None  # retry
    stale = h.action("bob", action_id, value, thread=thread, event_id="click-2")  # old button
    assert stale is not None and "is over" in stale.message.text
    assert interview_row(h, number).phase_index == 1
    assert value == render.button_value(number, 0)


def test_idle_mock_is_closed(bank_db: Database, tmp_path: Path) -> None:
    h = Harness(bank_db, tmp_path)
    number, _ = start_mock(h)
    h.advance(hours=1)
    h.feed(f"bob #{number}: still thinking")  # activity keeps it open
    assert h.advance(minutes=90)["idle"] == 0
    assert h.advance(minutes=31)["idle"] == 1
    row = interview_row(h, number)
    assert row.status == "ended" and row.end_reason == "idle"
    assert "closed after two idle hours" in h.port.posted[-1].message.title


def test_quick_variant_budgets(bank_db: Database, tmp_path: Path) -> None:
    h = Harness(bank_db, tmp_path)
    number, _ = start_mock(h, "mock search quick")
    for _ in range(4):
        h.command("alice", f"next #{number}")
    with bank_db.unit_of_work() as session:
        budgets = session.scalars(
            select(InterviewPhase.budget_seconds)
            .join(Interview, Interview.id == InterviewPhase.interview_id)
            .where(Interview.number == number)
            .order_by(InterviewPhase.phase_index)
        )
        assert sum(budgets) == 25 * 60
        assert session.scalar(select(func.count()).select_from(Interview)) == 1
