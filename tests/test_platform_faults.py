"""What the core does with each class of platform failure (issue 12), on SQLite and PostgreSQL.

The console port is the test backend: `port.plan(...)` makes its next calls answer a Permanent,
Transient or Ambiguous outcome (an Ambiguous post is printed first: it went out, the answer was
lost). Waits between retries are recorded by the harness instead of slept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bank.db import Database
from bank.models import Channel, DailyPrompt, Delivery, Interview
from bot import drafts
from bot.delivery import MAX_WAIT
from bot.flows import scoring_flow
from bot.port import Ambiguous, Delivered, Message, Permanent, Place, Transient
from scoring.rubric import DEFAULT_RUBRIC
from tests.support import Harness

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday 08:00 UTC
ARCHIVED = Permanent("the channel is archived", "unarchive the channel", "is_archived")
HIDDEN = Permanent("I cannot see this channel", "invite me to the channel", "channel_not_found")
DMS_CLOSED = Permanent("that member does not accept direct messages", "allow DMs", "50007")


def scheduled(bank_db: Database, tmp_path: Path) -> Harness:
    h = Harness(bank_db, tmp_path, start=START, admins=("lead",))
    reply = h.command("lead", "schedule 09:00 UTC daily")
    assert reply is not None and "Scheduled" in reply.message.text
    return h


def daily_posts(h: Harness) -> int:
    return sum(p.message.title.startswith("Daily question") for p in h.port.posted)


def count(h: Harness, text: str) -> int:
    return h.buffer.getvalue().count(text)


def test_a_permanent_refusal_pauses_the_schedule_and_tells_an_admin_once(
    bank_db: Database, tmp_path: Path
) -> None:
    h = scheduled(bank_db, tmp_path)
    h.port.plan(ARCHIVED)
    assert h.advance(hours=1)["daily"] == 0
    assert not h.port.planned, "the refused post was attempted exactly once"
    with bank_db.unit_of_work() as session:
        channel = session.scalars(select(Channel)).one()
        assert channel.paused_reason == "the channel is archived"
        assert channel.paused_fix == "unarchive the channel"
        assert channel.next_daily_at is None
        assert session.scalar(select(func.count(DailyPrompt.id))) == 0, "the day was taken back"
    # never retried: days pass, nothing is attempted
    h.advance(days=2)
    assert daily_posts(h) == 0
    # a member's command says nothing about it; the admin's first command says it, once
    member = h.command("carol", "help")
    assert member is not None and "paused" not in member.message.text
    first = h.command("lead", "help")
    assert first is not None and "is paused: the channel is archived" in first.message.text
    assert "unarchive the channel" in first.message.text
    again = h.command("lead", "help")
    assert again is not None and "is paused" not in again.message.text
    # `/mlsd schedule` shows the reason; setting the schedule again resumes it
    shown = h.command("carol", "schedule")
    assert shown is not None and "PAUSED: the channel is archived" in shown.message.text
    assert h.command("lead", "schedule 09:00 UTC daily") is not None
    h.advance(days=1)
    assert daily_posts(h) == 1


def test_daily_now_in_a_refusing_channel_says_why_without_an_error(
    bank_db: Database, tmp_path: Path
) -> None:
    h = scheduled(bank_db, tmp_path)
    h.port.plan(HIDDEN)
    reply = h.command("lead", "daily now")
    assert reply is not None
    assert "I could not post the daily question here: I cannot see this channel" in (
        reply.message.text
    )
    assert "invite me" in reply.message.text and "went wrong" not in reply.message.text


def test_transient_refusals_are_retried_honouring_retry_after(
    bank_db: Database, tmp_path: Path
) -> None:
    h = scheduled(bank_db, tmp_path)
    h.port.plan(Transient(2.0, "ratelimited"), Transient(None, "http_503"))
    assert h.advance(hours=1)["daily"] == 1
    assert h.waits == [2.0, 1.0], "Retry-After first, then the backoff"
    assert daily_posts(h) == 1


def test_a_long_rate_limit_is_left_to_a_later_tick_and_posted_once(
    bank_db: Database, tmp_path: Path
) -> None:
    h = scheduled(bank_db, tmp_path)
    h.port.plan(Transient(MAX_WAIT * 6, "ratelimited"))
    assert h.advance(hours=1)["daily"] == 0
    assert h.waits == [] and daily_posts(h) == 0
    done = h.advance(minutes=3)
    assert done["reposted"] == 1
    h.advance(minutes=3)
    assert daily_posts(h) == 1
    with bank_db.unit_of_work() as session:
        prompt = session.scalars(select(DailyPrompt)).one()
        assert prompt.posted_at is not None


def test_an_unanswered_post_is_looked_up_not_doubled(bank_db: Database, tmp_path: Path) -> None:
    h = scheduled(bank_db, tmp_path)
    h.port.plan(Ambiguous("connection reset after sending"))
    assert h.advance(hours=1)["daily"] == 1
    h.advance(minutes=5)
    assert daily_posts(h) == 1, "found by its key, not posted again"
    with bank_db.unit_of_work() as session:
        row = session.scalars(select(Delivery)).one()
        assert row.state == "delivered" and row.key.startswith("daily:")


def _mock(h: Harness) -> int:
    reply = h.command("alice", "mock recsys @bob")
    assert reply is not None and "started" in reply.message.text, reply
    with h.db.unit_of_work() as session:
        return session.scalars(select(Interview.number)).one()


def test_a_reminder_claimed_before_a_crash_is_sent_once_after_the_restart(
    bank_db: Database, tmp_path: Path
) -> None:
    h = Harness(bank_db, tmp_path, start=START)
    _mock(h)
    h.port.plan(Transient(MAX_WAIT * 6))  # the reminder is claimed, its post refused for now
    assert h.advance(minutes=7)["reminders"] == 1
    assert count(h, "one minute left in Clarify") == 0
    again = Harness(bank_db, tmp_path, start=h.clock.now())  # a restart on the same database
    assert again.dojo.recover()["resent"] == 1
    again.dojo.run_due()
    total = count(h, "one minute left in Clarify") + count(again, "one minute left in Clarify")
    assert total == 1


def test_an_unanswered_reminder_is_not_repeated_after_a_restart(
    bank_db: Database, tmp_path: Path
) -> None:
    h = Harness(bank_db, tmp_path, start=START)
    _mock(h)
    h.port.plan(Ambiguous("timeout"))
    h.advance(minutes=7)
    again = Harness(bank_db, tmp_path, start=h.clock.now())
    again.dojo.recover()
    total = count(h, "one minute left in Clarify") + count(again, "one minute left in Clarify")
    assert total == 1


def test_closed_dms_never_lose_the_result_and_the_voter_sees_no_error(
    bank_db: Database, tmp_path: Path
) -> None:
    h = Harness(bank_db, tmp_path, start=START)
    number = _mock(h)
    assert h.command("bob", f"end #{number}") is not None
    # the candidate accepts no DMs and no private note can be shown in the thread either
    h.port.plan(DMS_CLOSED, DMS_CLOSED)
    reply = h.command("bob", f"vote #{number} 3 3 3 3 3 3 hire")
    assert reply is not None and "Thanks! Your vote is in" in reply.message.text
    fallback = [t for t in h.texts() if "I could not send it to you privately" in t]
    assert len(fallback) == 1 and "/mlsd progress" in fallback[0]
    assert any("results are in" in t for t in h.texts())


def test_a_kit_falls_back_to_a_private_note_when_dms_are_closed(
    bank_db: Database, tmp_path: Path
) -> None:
    h = Harness(bank_db, tmp_path, start=START)
    h.port.plan(Transient(None), Transient(None))  # thread root: busy twice, then fine
    number = _mock(h)
    h.port.plan(Delivered(), DMS_CLOSED)  # "carol joined" is posted; her DMs are closed
    reply = h.command("carol", f"join #{number}")
    assert reply is not None and "the kit for this phase is in your messages" in reply.message.text
    assert any(m.title.startswith("Interviewer kit") for m in h.private_to("carol"))


def test_a_saved_change_with_a_refused_post_is_reported_honestly(
    bank_db: Database, tmp_path: Path
) -> None:
    h = Harness(bank_db, tmp_path, start=START)
    number = _mock(h)
    h.port.plan(HIDDEN)
    reply = h.command("bob", f"next #{number}")
    assert reply is not None
    text = reply.message.text
    assert "Architecture has begun" in text
    assert "I could not post in the mock's thread: I cannot see this channel" in text
    assert "went wrong" not in text and "Try again" not in text
    with bank_db.unit_of_work() as session:
        assert session.scalars(select(Interview.phase_index)).one() == 1


def test_a_mock_whose_thread_is_refused_is_not_started(bank_db: Database, tmp_path: Path) -> None:
    h = Harness(bank_db, tmp_path, start=START)
    h.port.plan(HIDDEN)
    reply = h.command("alice", "mock recsys @bob")
    assert reply is not None
    assert "I could not open a thread for the mock here: I cannot see this channel" in (
        reply.message.text
    )
    with bank_db.unit_of_work() as session:
        assert session.scalar(select(func.count(Interview.id))) == 0
        assert session.scalar(select(func.count(Delivery.id))) == 0


def test_console_ids_are_unique_across_restarts(bank_db: Database, tmp_path: Path) -> None:
    first = Harness(bank_db, tmp_path, start=START)
    second = Harness(bank_db, tmp_path, start=START)
    message = Message("hello")
    outcomes = [h.port.post(Place("general"), message) for h in (first, second)]
    ids = {o.message_id for o in outcomes if isinstance(o, Delivered)}
    assert len(ids) == 2


def test_the_next_slot_announced_is_the_one_that_will_be_posted(
    bank_db: Database, tmp_path: Path
) -> None:
    h = scheduled(bank_db, tmp_path)
    h.advance(hours=1)  # Monday's question is posted at 09:00
    assert daily_posts(h) == 1
    h.advance(hours=1)
    reply = h.command("lead", "schedule 11:00 UTC daily")
    assert reply is not None and "Next one: Tue 03 Mar 11:00" in reply.message.text
    # late in a day, a zone where it is still Monday: Monday is taken there too
    h.advance(hours=11)  # Mon 21:00 UTC = Mon 13:00 in Los Angeles
    reply = h.command("lead", "schedule 14:00 America/Los_Angeles daily")
    assert reply is not None and "Next one: Tue 03 Mar 14:00" in reply.message.text
    h.advance(hours=2)
    assert daily_posts(h) == 1


def test_form_drafts_are_shared_through_the_database_and_expire(bank_db: Database) -> None:
    form = scoring_flow.vote_form(3, DEFAULT_RUBRIC)
    drafts.save(bank_db, "discord", "U1", "vote@3", form, {"problem_formulation": "3"}, START)
    later = START + timedelta(minutes=5)
    # another process (a restart, another shard) reads the same draft
    assert drafts.load(bank_db, "discord", "U1", "vote@3", later) == (
        form,
        {"problem_formulation": "3"},
    )
    assert drafts.load(bank_db, "discord", "U2", "vote@3", later) is None, "per user"
    drafts.save(bank_db, "discord", "U1", "vote@3", form, {"ml_depth": "2"}, later)
    assert drafts.load(bank_db, "discord", "U1", "vote@3", later) == (form, {"ml_depth": "2"})
    assert drafts.load(bank_db, "discord", "U1", "vote@3", later + timedelta(minutes=16)) is None
