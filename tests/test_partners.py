"""Practice partners as console journeys, on SQLite and PostgreSQL: the pairing queue with fair
roles, booked mocks with reminders, the start and no-shows, suggested questions, the digest, role
pings, and every one of them across a restart (a new process on the same database)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from bank.catalog import BankError, get_question
from bank.db import Database
from bank.models import (
    Booking,
    BookingRsvp,
    Digest,
    Interview,
    Member,
    MemberNote,
    PairRequest,
    Question,
    Suggestion,
    Workspace,
)
from bot import partner_render as words
from bot.flows import partner_flow
from bot.port import Action, Actor, Command, Message, Outcome, Permanent, Place
from scoring.models import PointsEntry
from scoring.rubric import DEFAULT_RUBRIC
from tests.support import START, Harness
from tests.test_console_scripts import assert_in_order, run_script

QUESTION = {
    "family": "fraud-detection",
    "slug": "fraud-gift-cards",
    "level": "L4",
    "title": "Gift-card fraud at a retailer",
    "tags": "fraud, gbdt",
    "prompt": "Stolen cards are being laundered through our gift cards. Stop the losses.",
    "baseline": "Velocity rules on card and device.",
    "clarify": "What loss rate?\nHow fast must we decide?\nWhich labels exist?",
    "architecture": "Stream events\nFeature store\nScoring service",
    "deep_dive": "Velocity features\nGBDT model\nPR-AUC offline\nLoss rate online",
    "trade_offs": "Friction vs loss\nRules vs model\nLatency vs depth",
    "follow_ups": "Fraudsters adapt: now what?\nLabels arrive late: now what?",
    "anchors": "\n".join(
        f"{c}: misses it | names it | ties it to losses | quantifies it" for c in DEFAULT_RUBRIC.ids
    ),
    "red_flags": "Ignores chargeback delay\nBlocks every new card",
}


def harness(db: Database, tmp_path: Path, start=START) -> Harness:
    return Harness(db, tmp_path / "out", start=start)


def candidates(db: Database) -> list[str]:
    with db.unit_of_work() as session:
        return list(
            session.scalars(
                select(Member.display_name)
                .join(Interview, Interview.candidate_id == Member.id)
                .order_by(Interview.number)
            )
        )


def private_texts(h: Harness, user: str) -> list[str]:
    return [f"{m.title}\n{m.text}" for m in h.private_to(user)]


def test_pairing_matches_and_alternates_roles_over_three_rounds(
    bank_db: Database, tmp_path: Path
) -> None:
    h = harness(bank_db, tmp_path)
    for round_number in range(1, 4):
        queued = h.command("alice", "pair recsys L4 now")
        assert queued is not None and "You are in the pairing queue" in queued.message.text
        matched = h.command("bob", "pair recommendation L5")
        assert matched is not None and "Matched with alice" in matched.message.text
        # both told privately; the one who waited by a private note
        assert "Matched with bob" in private_texts(h, "alice")[-1]
        assert f"Mock #{round_number}" in matched.message.text
        h.command("alice" if round_number != 2 else "bob", f"end #{round_number}")
        h.advance(minutes=5)
    assert candidates(bank_db) == ["alice", "bob", "alice"]  # never the same twice in a row
    with bank_db.unit_of_work() as session:
        roles = session.execute(
            select(Member.display_name, PairRequest.role)
            .join(Member, Member.id == PairRequest.member_id)
            .order_by(PairRequest.id)
        ).all()
    assert [role for name, role in roles if name == "alice"] == [
        "candidate",
        "interviewer",
        "candidate",
    ]
    # the interviewer got the guide of the mock
    assert any("Interviewer kit" in text for text in private_texts(h, "bob"))


def test_pairing_refusals_leaving_expiry_and_no_fit(bank_db: Database, tmp_path: Path) -> None:
    h = harness(bank_db, tmp_path)
    assert "pairing queue" in h.command("carol", "pair L3 now").message.text  # type: ignore[union-attr]
    again = h.command("carol", "pair")
    assert again is not None and "already in the pairing queue" in again.message.text
    assert "left the pairing queue" in h.command("carol", "pair leave").message.text  # type: ignore[union-attr]
    assert "were not in the queue" in h.command("carol", "pair leave").message.text  # type: ignore[union-attr]
    # different topics, or levels two steps apart, do not match
    h.command("erin", "pair ads")
    frank = h.command("frank", "pair search")
    assert frank is not None and "1 other(s) waiting with no fit" in frank.message.text
    h.command("erin", "pair leave")
    h.command("frank", "pair leave")
    h.command("carol", "pair L3")
    no_fit = h.command("dave", "pair L5")
    assert no_fit is not None and "1 other(s) waiting with no fit" in no_fit.message.text
    unknown = h.command("gina", "pair underwater-basket-weaving")
    assert unknown is not None and "no questions match" in unknown.message.text
    bad = h.command("gina", "pair 25:00")
    assert bad is not None and "Usage: /mlsd pair" in bad.message.text
    # nobody matched: after the wait, each hears it once, privately
    h.advance(minutes=31)
    h.advance(minutes=5)
    for user, expected in (("carol", 1), ("dave", 1), ("erin", 0), ("frank", 0)):
        notes = [t for t in private_texts(h, user) if "Nobody matched" in t]
        assert len(notes) == expected, user
    with bank_db.unit_of_work() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(PairRequest).where(PairRequest.status == "waiting")
            )
            == 0
        )
    assert candidates(bank_db) == []


def test_a_later_window_books_the_mock_for_both(bank_db: Database, tmp_path: Path) -> None:
    h = harness(bank_db, tmp_path)
    h.command("alice", "pair ads 18:00 UTC")
    other = h.command("bob", "pair ads 17:30 UTC")
    assert other is not None and "Matched with alice for Mon 02 Mar 18:00 UTC" in other.message.text
    assert other.message.files and other.message.files[0].filename.endswith(".ics")
    card = h.port.posted[-1].message
    assert card.title == "Mock #1 booked: ads" and "bob" in dict(card.fields)["Interviewers"]
    with bank_db.unit_of_work() as session:
        rsvps = session.execute(
            select(Member.display_name, BookingRsvp.role).join(
                Member, Member.id == BookingRsvp.member_id
            )
        ).all()
    assert sorted(rsvps) == [("alice", "candidate"), ("bob", "interviewer")]


def booking_id(db: Database) -> str:
    with db.unit_of_work() as session:
        return str(session.scalars(select(Booking.id).order_by(Booking.id.desc())).first())


def test_booking_is_reminded_twice_and_starts_across_restarts(
    bank_db: Database, tmp_path: Path
) -> None:
    h = harness(bank_db, tmp_path)
    booked = h.command("alice", "book recsys at 10:00 UTC")
    assert booked is not None and "Mock #1 booked for Mon 02 Mar 10:00 UTC" in booked.message.text
    calendar = Calendar.from_ical(booked.message.files[0].content)
    event = calendar.walk("VEVENT")[0]
    assert event.decoded("dtstart") == START + timedelta(hours=2)
    assert "Mock #1" in str(event.get("summary"))
    value = booking_id(bank_db)
    signed = h.action("bob", words.INTERVIEW, value)
    assert signed is not None and "signed up for mock #1 as interviewer" in signed.message.text
    h.action("carol", words.WATCH, value)
    own = h.action("alice", words.INTERVIEW, value)
    assert own is not None and "you are the candidate" in own.message.text
    early = h.action("bob", words.HERE, value)
    assert early is not None and "not open yet" in early.message.text

    h.advance(minutes=59)  # 08:59: nothing yet
    assert all("Reminder" not in t for u in "abc" for t in private_texts(h, u))
    h.advance(minutes=1)  # 09:00: the hour reminder, to all three
    for user in ("alice", "bob", "carol"):
        assert sum("in an hour" in t for t in private_texts(h, user)) == 1
    # a restart: the new process neither repeats the hour reminder nor loses the next one
    h2 = harness(bank_db, tmp_path, start=START + timedelta(hours=1))
    h2.dojo.recover()
    assert h2.port.private == []
    h2.advance(minutes=50)  # 09:50
    for user in ("alice", "bob", "carol"):
        texts = private_texts(h2, user)
        assert sum("in ten minutes" in t for t in texts) == 1 and not any(
            "hour" in t for t in texts
        )
    h2.advance(minutes=10)  # 10:00: the thread opens
    opening = h2.port.posted[-1].message
    assert opening.title == "Mock #1 is starting: recommendation"
    h3 = harness(bank_db, tmp_path, start=START + timedelta(hours=2, minutes=1))
    h3.dojo.recover()
    assert h3.port.posted == []  # opened once
    waiting = h3.action("alice", words.HERE, value)
    assert waiting is not None and "Waiting for: bob" in waiting.message.text
    started = h3.action("bob", words.HERE, value)
    assert started is not None and "Mock #1 has started" in started.message.text
    with bank_db.unit_of_work() as session:
        interview = session.scalars(select(Interview)).one()
        booking = session.scalars(select(Booking)).one()
        assert (interview.number, interview.status) == (1, "running")
        assert interview.thread_external_id == booking.thread_external_id is not None
        assert booking.status == "started" and booking.interview_id == interview.id
    assert any("Phase 1/4" in t for t in h3.texts())
    assert any("Interviewer kit" in t for t in private_texts(h3, "bob"))
    again = h3.action("bob", words.HERE, value)  # a late double click
    assert again is not None and "is started" in again.message.text
    assert candidates(bank_db) == ["alice"]


def test_a_no_show_is_cancelled_without_points_and_noted(bank_db: Database, tmp_path: Path) -> None:
    h = harness(bank_db, tmp_path)
    h.command("alice", "book recsys at 08:30 UTC")
    value = booking_id(bank_db)
    h.action("bob", words.INTERVIEW, value)
    h.advance(minutes=30)  # the thread opens; only alice comes
    assert h.action("alice", words.HERE, value) is not None
    h.advance(minutes=9)
    with bank_db.unit_of_work() as session:
        assert session.scalars(select(Booking.status)).one() == "open"
    h.advance(minutes=1)  # the grace is over
    assert "bob did not come" in h.texts()[-1] or any("bob did not come" in t for t in h.texts())
    with bank_db.unit_of_work() as session:
        assert session.scalars(select(Booking.status)).one() == "no-show"
        notes = session.execute(
            select(Member.display_name, MemberNote.kind).join(
                Member, Member.id == MemberNote.member_id
            )
        ).all()
        assert notes == [("bob", "no-show")]
        assert session.scalar(select(func.count()).select_from(PointsEntry)) == 0
        assert session.scalar(select(func.count()).select_from(Interview)) == 0
    progress = h.command("bob", "progress")
    assert (
        progress is not None and ("No-shows", "1 booked mock(s) missed") in progress.message.fields
    )
    late = h.action("bob", words.HERE, value)
    assert late is not None and "no-show" in late.message.text
    h.advance(hours=1)
    with bank_db.unit_of_work() as session:  # noted once, whatever the ticks
        assert session.scalar(select(func.count()).select_from(MemberNote)) == 1


def test_cancel_and_booking_refusals(bank_db: Database, tmp_path: Path) -> None:
    h = harness(bank_db, tmp_path)
    past = h.command("alice", "book recsys at 07:00 UTC today")
    assert past is not None and "that time has passed" in past.message.text
    bad = h.command("alice", "book recsys 10:00")
    assert bad is not None and "Usage: /mlsd book" in bad.message.text
    h.command("alice", "book recsys at 10:00 UTC")
    clash = h.command("alice", "book ads at 10:30 UTC")
    assert clash is not None and "already signed up for mock #1" in clash.message.text
    value = booking_id(bank_db)
    stranger = h.action("bob", words.CANCEL, value)
    assert stranger is not None and "not signed up" in stranger.message.text
    cancelled = h.action("alice", words.CANCEL, value)
    assert cancelled is not None and "cancelled" in cancelled.message.text
    assert h.port.posted[-1].message.title.startswith("Mock #1")  # the card was edited
    assert "was cancelled" in h.port.posted[-1].message.text
    h.advance(hours=3)
    assert all("Reminder" not in t for t in private_texts(h, "alice"))
    listing = h.command("alice", "bookings")
    assert listing is not None and "No mocks are booked" in listing.message.text


def test_suggestion_is_reviewed_approved_and_rewarded(bank_db: Database, tmp_path: Path) -> None:
    h = harness(bank_db, tmp_path)
    opened = h.command("carol", "suggest")
    assert opened is not None and opened.message.form is not None
    broken = h.action("carol", partner_flow.SUGGEST, "", fields={**QUESTION, "level": "L9"})
    assert broken is not None and "not sent" in broken.message.text
    sent = h.action("carol", partner_flow.SUGGEST, "", fields=QUESTION)
    assert sent is not None and "waits for an admin's review" in sent.message.text
    other = {**QUESTION, "slug": "fraud-refunds", "title": "Refund abuse"}
    h.action("dave", partner_flow.SUGGEST, "", fields=other)
    refused = h.command("carol", "bank review")
    assert refused is not None and "only workspace admins" in refused.message.text
    card = h.command("admin", "bank review")
    assert card is not None and card.message.title.startswith("Suggested by carol")
    first = card.message.buttons[0].value
    not_admin = h.action("carol", words.APPROVE, first)
    assert not_admin is not None and "only workspace admins" in not_admin.message.text
    approved = h.action("admin", words.APPROVE, first)
    assert approved is not None and "Approved fraud-gift-cards" in approved.message.text
    assert approved.message.title.startswith("Suggested by dave")  # the next one
    twice = h.action("admin", words.APPROVE, first)
    assert twice is not None and "already reviewed" in twice.message.text
    with bank_db.unit_of_work() as session:
        workspace = session.scalars(select(Workspace)).one()
        assert get_question(session, "fraud-gift-cards", workspace.id).title == QUESTION["title"]
        elsewhere = Workspace(platform="console", external_id="elsewhere", admin_ids=[])
        session.add(elsewhere)
        session.flush()
        with pytest.raises(BankError):  # only in this workspace's bank
            get_question(session, "fraud-gift-cards", elsewhere.id)
        entries = session.execute(
            select(Member.display_name, PointsEntry.kind, PointsEntry.points).join(
                Member, Member.id == PointsEntry.member_id
            )
        ).all()
    assert entries == [("carol", "suggestion-approved", 25)]
    assert any("is in the bank now" in t for t in private_texts(h, "carol"))
    # reject with a reason (a form); the author reads it; the bank is unchanged
    second = approved.message.buttons[1].value
    form = h.action("admin", words.REJECT, second)
    assert form is not None and form.message.form is not None
    empty = h.action("admin", partner_flow.REASON, second, fields={"reason": " "})
    assert empty is not None and "give a reason" in empty.message.text
    done = h.action("admin", partner_flow.REASON, second, fields={"reason": "Too close to #1"})
    assert done is not None and "No suggested questions are waiting" in done.message.text
    assert any("not added: Too close to #1" in t for t in private_texts(h, "dave"))
    with bank_db.unit_of_work() as session:
        assert session.scalar(select(Question).where(Question.slug == "fraud-refunds")) is None
        assert sorted(session.scalars(select(Suggestion.status))) == ["approved", "rejected"]


def test_suggestions_stay_in_their_workspace(bank_db: Database, tmp_path: Path) -> None:
    h = harness(bank_db, tmp_path)
    h.action("carol", partner_flow.SUGGEST, "", fields=QUESTION)
    with bank_db.unit_of_work() as session:
        suggestion_id = str(session.scalars(select(Suggestion.id)).one())
    outsider = Actor("other-team", "boss", "boss", is_admin=True)
    where = Place("elsewhere")
    review = h.dojo.handle_command(Command.from_text("bank review", outsider, where))
    assert review is not None and "No suggested questions are waiting" in review.message.text
    taken = h.dojo.handle_action(Action(words.APPROVE, suggestion_id, outsider, where))
    assert taken is not None and "no longer exists" in taken.message.text
    with bank_db.unit_of_work() as session:
        assert session.scalars(select(Suggestion.status)).one() == "pending"


def test_weekly_digest_and_role_ping(bank_db: Database, tmp_path: Path) -> None:
    h = harness(bank_db, tmp_path)
    scheduled = h.command("admin", "schedule 09:00 UTC daily ping @&mentors")
    assert scheduled is not None and "mentions group mentors" in scheduled.message.text
    h.advance(hours=1)  # Monday 09:00: the first daily post, mentioning the group only
    daily = next(p.message for p in h.port.posted if p.message.title.startswith("Daily question"))
    assert daily.mentions == ("mentors",)
    assert not [p for p in h.port.posted if p.message.title.startswith("Weekly digest")]
    h.feed("carol #daily: I would clarify the objective first")
    h.command("alice", "book recsys at 10:00 UTC 2026-03-10")
    h.action("carol", partner_flow.SUGGEST, "", fields=QUESTION)
    for _ in range(6):
        h.advance(days=1)  # Sunday 09:00
    h.feed("dave #daily: and the latency budget")
    h.advance(days=1)  # Monday 09:00 a week later: the digest
    digests = [p.message for p in h.port.posted if p.message.title.startswith("Weekly digest")]
    assert len(digests) == 1
    fields = dict(digests[0].fields)
    assert "carol: 1 practice, streak" in fields["Who practised"]
    assert "dave: 1 practice" in fields["Who practised"]
    assert "#1 Tue 10 Mar 10:00 UTC" in fields["Booked for the coming week"]
    assert fields["Questions waiting for review"] == "1"
    # a restart the same day posts nothing again
    h2 = harness(bank_db, tmp_path, start=START + timedelta(days=7, hours=2))
    h2.dojo.recover()
    assert not [p for p in h2.port.posted if p.message.title.startswith("Weekly digest")]
    with bank_db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Digest)) == 2  # baseline + one
    # switching the ping off: the next daily post mentions nobody
    h2.command("admin", "schedule 09:00 UTC daily ping off")
    h2.advance(days=1)
    latest = [p.message for p in h2.port.posted if p.message.title.startswith("Daily question")]
    assert latest and latest[-1].mentions == ()


def test_the_queue_survives_a_restart(bank_db: Database, tmp_path: Path) -> None:
    h = harness(bank_db, tmp_path)
    h.command("alice", "pair recsys now")
    h2 = harness(bank_db, tmp_path, start=START + timedelta(minutes=10))
    h2.dojo.recover()
    matched = h2.command("bob", "pair")
    assert matched is not None and "Matched with alice" in matched.message.text
    assert any("Matched with bob" in t for t in private_texts(h2, "alice"))
    assert candidates(bank_db) == ["alice"]


def test_a_refused_thread_is_opened_at_the_next_tick_and_nobody_is_a_no_show(
    bank_db: Database, tmp_path: Path
) -> None:
    h = harness(bank_db, tmp_path)
    h.command("alice", "book recsys at 08:30 UTC")
    value = booking_id(bank_db)
    h.action("bob", words.INTERVIEW, value)
    real = h.port.start_thread
    refused: list[str] = []

    def refuse(channel_id: str, message: Message, key: str | None = None) -> Outcome:
        refused.append(channel_id)
        return Permanent("the platform is away", "try later")

    h.port.start_thread = refuse  # type: ignore[method-assign]
    h.advance(minutes=30)
    h.advance(minutes=15)  # still away past the grace: the booking waits, nobody is blamed
    assert len(refused) == 2
    with bank_db.unit_of_work() as session:
        assert session.scalars(select(Booking.status)).one() == "booked"
        assert session.scalar(select(func.count()).select_from(MemberNote)) == 0
    h.port.start_thread = real  # type: ignore[method-assign]
    h.advance(minutes=1)
    assert h.port.posted[-1].message.title == "Mock #1 is starting: recommendation"
    h.advance(minutes=9)  # the grace runs from the opening
    with bank_db.unit_of_work() as session:
        assert session.scalars(select(Booking.status)).one() == "open"
    h.action("alice", words.HERE, value)
    started = h.action("bob", words.HERE, value)
    assert started is not None and "has started" in started.message.text


def test_the_scripted_week_example(tmp_path: Path) -> None:
    out = run_script(
        "partners-week.txt", tmp_path, "--admins", "lead", "--start", "2026-03-02T08:00:00"
    )
    assert_in_order(
        out,
        "Each one mentions group mlsd-practice",
        "Mock #1 · ",
        "Candidate: alice",
        "Matched with bob: you are the candidate",
        "Mock #2 · ",
        "Candidate: bob",
        "Nobody matched your pairing request",
        "Mock #3 booked: ads",
        "calendar file is attached",
        "file saved: dojo-output/mock-3.ics",
        "dojo → dave (only dave sees this): Reminder: booked mock #3 (ads) starts in an hour",
        "dojo → dave (only dave sees this): Reminder: booked mock #3 (ads) starts in ten minutes",
        "Mock #3 is starting: ads",
        "Waiting for: carol",
        "#3 · Phase 1/4",
        "Mock #4 is cancelled: gina did not come in time",
        "No-shows: 1 booked mock(s) missed",
        "waits for an admin's review",
        "is in the bank now (`/mlsd bank show fraud-gift-cards`): +25 points",
        "@mlsd-practice",
        "Weekly digest · week of 09 Mar 2026",
        "carol: 2 practices",
    )
    assert (tmp_path / "dojo-output" / "mock-3.ics").read_text().startswith("BEGIN:VCALENDAR")


def test_members_busy_as_candidates_are_not_paired(bank_db: Database, tmp_path: Path) -> None:
    h = harness(bank_db, tmp_path)
    h.command("zoe", "mock recsys")  # a solo mock, running
    busy = h.command("zoe", "pair now")
    assert busy is not None and "end it before pairing again" in busy.message.text
    h.command("yuri", "pair now")
    h.command("yuri", "mock fraud")  # started a mock of their own while waiting
    waiting = h.command("xena", "pair now")
    assert waiting is not None and "1 other(s) waiting with no fit" in waiting.message.text
    h.command("yuri", "end #2")
    matched = h.command("wim", "pair now")
    assert matched is not None and "Matched with yuri" in matched.message.text
