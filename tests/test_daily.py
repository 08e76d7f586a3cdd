"""Daily prompts through the whole bot, on SQLite and PostgreSQL: schedule, post, catch up, answer.

Time only moves when a test moves the injected clock; "the bot is down" means nobody runs due work,
and "a restart" is a new `Harness` (a new `Dojo`) on the same database.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, func, select

from bank.db import Database
from bank.models import (
    Channel,
    DailyAnswer,
    DailyPrompt,
    Member,
    ProcessedEvent,
    Question,
)
from bank.orm import Base
from bot.adapters.console import CHANNEL, WORKSPACE, Posted
from bot.daily import claim_prompt
from bot.port import Place, Reply, Tone
from bot.render import REVEAL
from scoring.models import PointsEntry
from tests.support import Harness

BERLIN_DAILY = "schedule 09:00 Europe/Berlin daily"
MONDAY_EARLY = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # Mon 07:00 in Berlin (CET, UTC+1)
MONDAY_SLOT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Mon 09:00 in Berlin


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def berlin_nine(day: date) -> datetime:
    """09:00 in Berlin as a UTC instant, written out by hand (not via the code under test)."""
    summer = date(2026, 3, 29) <= day < date(2026, 10, 25)  # CEST +2, else CET +1
    hour = 7 if summer else 8
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)


def daily_posts(harness: Harness) -> list[Posted]:
    return [p for p in harness.port.posted if p.message.title.startswith("Daily question")]


def advance_to(harness: Harness, instant: datetime) -> dict[str, int]:
    delta = instant - harness.clock.now()
    assert delta >= timedelta(0), "tests only move time forward"
    return harness.advance(seconds=delta.total_seconds())


def prompts(db: Database) -> list[DailyPrompt]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(DailyPrompt).order_by(DailyPrompt.local_date)))


def count(db: Database, model: type[Base], *where: ColumnElement[bool]) -> int:
    with db.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def reply_of(reply: Reply | None) -> Reply:
    assert reply is not None, "a first delivery always gets a reply"
    return reply


def scheduled(db: Database, tmp_path: Path, start: datetime, text: str = BERLIN_DAILY) -> Harness:
    harness = Harness(db, tmp_path, start=start)
    reply = reply_of(harness.command("admin", text))
    assert reply.message.tone == Tone.SUCCESS, reply.message.text
    return harness


@pytest.fixture
def second_db(bank_db: Database) -> Iterator[Database]:
    """The same database through a second engine: what a second process would have."""
    other = Database(bank_db.url)
    yield other
    other.dispose()


# -- scheduling ---------------------------------------------------------------------------------


def test_non_admin_is_refused_and_nothing_gets_scheduled(bank_db: Database, tmp_path: Path):
    harness = Harness(bank_db, tmp_path, start=MONDAY_EARLY)
    for text in (BERLIN_DAILY, "schedule off", "daily now"):
        reply = reply_of(harness.command("bob", text))
        assert reply.message.tone == Tone.ERROR, text
        assert "admin" in reply.message.text, text
        assert reply.private
    with bank_db.unit_of_work() as session:
        channel = session.scalars(select(Channel)).one()
        assert not channel.daily_enabled
        assert channel.next_daily_at is None
    for _ in range(3):
        harness.advance(days=1)
    assert daily_posts(harness) == []
    assert prompts(bank_db) == []


def live_through_the_day(harness: Harness, day: date) -> None:
    """Nothing before 09:00 Berlin on `day`, one prompt at 09:00 sharp, nothing more that day."""
    slot = berlin_nine(day)
    before = len(harness.port.posted)
    advance_to(harness, slot - timedelta(minutes=1))
    assert len(harness.port.posted) == before, f"posted before 09:00 on {day}"
    advance_to(harness, slot)
    posted = harness.port.posted[before:]
    new = [p for p in posted if p.place.thread_id is None]  # the yesterday's thread gets its design
    assert all(p.message.title.startswith("Reference design") for p in posted if p not in new)
    assert len(new) == 1, f"{len(new)} posts at 09:00 on {day}"
    assert new[0].message.title.startswith("Daily question: ")
    assert new[0].place == Place(CHANNEL)  # a new thread's root, in the channel
    for later in (timedelta(hours=1), timedelta(hours=6), timedelta(hours=14)):
        advance_to(harness, slot + later)  # 23:00 local at most: still the same day
    roots = [p for p in harness.port.posted[before:] if p.place.thread_id is None]
    assert len(roots) == 1, f"more than one post on {day}"


def test_posts_once_per_local_date_at_nine_berlin_across_dst(bank_db: Database, tmp_path: Path):
    start = utc(3, 25, 6)  # Wed 07:00 CET
    harness = Harness(bank_db, tmp_path, start=start)
    reply = reply_of(harness.command("admin", BERLIN_DAILY))
    assert reply.message.tone == Tone.SUCCESS
    assert "09:00 Europe/Berlin, every day" in reply.message.text
    assert "Next one: Wed 25 Mar 09:00 Europe/Berlin" in reply.message.text
    nothing_yet = reply_of(harness.command("carol", "daily")).message.text
    assert "No daily question has been posted here yet" in nothing_yet

    days = [date(2026, 3, 25) + timedelta(days=n) for n in range(8)]  # Wed 25 Mar .. Wed 1 Apr
    for day in days:
        live_through_the_day(harness, day)

    rows = prompts(bank_db)
    assert [row.local_date for row in rows] == days
    assert [row.posted_at for row in rows] == [berlin_nine(day) for day in days]
    assert rows[3].posted_at == utc(3, 28, 8)  # the spelled-out instants, either side
    assert rows[4].posted_at == utc(3, 29, 7)
    posts = daily_posts(harness)
    assert len(posts) == len(days)
    assert [row.thread_external_id for row in rows] == [p.message_id for p in posts]

    shown = reply_of(harness.command("carol", "daily"))
    assert shown.message.title == "Daily question"
    last_title = posts[-1].message.title.removeprefix("Daily question: ")
    assert f"Wed 01 Apr: {last_title}" in shown.message.text
    assert "09:00 Europe/Berlin" in shown.message.text

    off = reply_of(harness.command("admin", "schedule off"))
    assert off.message.tone != Tone.ERROR
    assert "off" in off.message.text
    posted = len(harness.port.posted)
    for _ in range(3 * 24):
        harness.advance(hours=1)
    assert len(harness.port.posted) == posted
    assert len(prompts(bank_db)) == len(days)
    still = reply_of(harness.command("carol", "daily")).message.text
    assert last_title in still
    assert "no daily question is scheduled here" in still


def test_posts_at_nine_berlin_across_the_autumn_change(bank_db: Database, tmp_path: Path):
    harness = scheduled(bank_db, tmp_path, utc(10, 23, 5))  # Fri 07:00 CEST
    days = [date(2026, 10, 23) + timedelta(days=n) for n in range(4)]  # Fri 23 .. Mon 26 Oct
    for day in days:
        live_through_the_day(harness, day)
    rows = prompts(bank_db)
    assert [row.local_date for row in rows] == days
    expected = [utc(10, 23, 7), utc(10, 24, 7), utc(10, 25, 8), utc(10, 26, 8)]
    assert [row.posted_at for row in rows] == expected


def test_weekdays_only_skips_the_weekend(bank_db: Database, tmp_path: Path):
    harness = scheduled(bank_db, tmp_path, utc(3, 27, 6), "schedule 09:00 Europe/Berlin mon-fri")
    for _ in range(4 * 24):  # Fri 27 .. Mon 30 March, hour by hour
        harness.advance(hours=1)
    rows = prompts(bank_db)
    assert [row.local_date for row in rows] == [date(2026, 3, 27), date(2026, 3, 30)]
    assert [row.posted_at for row in rows] == [utc(3, 27, 8), utc(3, 30, 7)]


def test_rescheduling_later_the_same_day_does_not_post_twice(bank_db: Database, tmp_path: Path):
    harness = scheduled(bank_db, tmp_path, MONDAY_EARLY)
    advance_to(harness, MONDAY_SLOT)
    assert len(daily_posts(harness)) == 1
    reply_of(harness.command("admin", "schedule 11:00 Europe/Berlin daily"))
    advance_to(harness, MONDAY_SLOT + timedelta(hours=6))
    assert len(daily_posts(harness)) == 1
    advance_to(harness, utc(3, 3, 9, 59))  # Tuesday 09:00 is no longer the time
    assert len(daily_posts(harness)) == 1
    advance_to(harness, utc(3, 3, 10))  # Tue 11:00 Berlin: the new time
    assert len(daily_posts(harness)) == 2
    assert [row.posted_at for row in prompts(bank_db)] == [MONDAY_SLOT, utc(3, 3, 10)]


# -- catch-up after downtime ----------------------------------------------------------------------


def test_restart_later_the_same_day_posts_the_missed_prompt_once(bank_db: Database, tmp_path: Path):
    before = scheduled(bank_db, tmp_path / "a", MONDAY_EARLY)
    before.clock.advance(timedelta(hours=6))  # down past the 09:00 slot: nobody runs due work
    assert daily_posts(before) == []

    restart_at = utc(3, 2, 12)  # Mon 13:00 Berlin
    after = Harness(bank_db, tmp_path / "b", start=restart_at)
    done = after.dojo.recover()
    assert done["daily"] == 1
    assert len(daily_posts(after)) == 1
    rows = prompts(bank_db)
    assert [(row.local_date, row.posted_at) for row in rows] == [(date(2026, 3, 2), restart_at)]
    assert rows[0].thread_external_id == daily_posts(after)[0].message_id

    again = after.dojo.recover()
    assert again["daily"] == 0
    assert again["reposted"] == 0
    assert after.dojo.run_due()["daily"] == 0
    advance_to(after, utc(3, 2, 22, 30))  # 23:30 local, still Monday
    assert len(daily_posts(after)) == 1
    assert len(prompts(bank_db)) == 1

    advance_to(after, utc(3, 3, 8))  # Tuesday 09:00: the next one, normally
    assert len(daily_posts(after)) == 2
    assert [row.local_date for row in prompts(bank_db)] == [date(2026, 3, 2), date(2026, 3, 3)]
    assert daily_posts(before) == []


def test_restart_next_day_before_the_slot_skips_the_missed_day(bank_db: Database, tmp_path: Path):
    scheduled(bank_db, tmp_path / "a", MONDAY_EARLY)  # then down all of Monday
    after = Harness(bank_db, tmp_path / "b", start=utc(3, 3, 6))  # Tue 07:00 Berlin
    assert after.dojo.recover()["daily"] == 0
    assert daily_posts(after) == []
    assert prompts(bank_db) == []  # Monday's question is never posted late
    advance_to(after, utc(3, 3, 7, 59))
    assert daily_posts(after) == []
    advance_to(after, utc(3, 3, 8))
    assert len(daily_posts(after)) == 1
    rows = prompts(bank_db)
    assert [(row.local_date, row.posted_at) for row in rows] == [(date(2026, 3, 3), utc(3, 3, 8))]
    advance_to(after, utc(3, 3, 22))
    assert len(daily_posts(after)) == 1


def test_restart_next_day_after_the_slot_posts_that_day_not_the_missed_one(
    bank_db: Database, tmp_path: Path
):
    """Down from Monday morning to Tuesday 11:00: Monday is lost, Tuesday is caught up once.

    Tuesday's 09:00 slot was missed while down and it is still Tuesday: exactly the case the
    same-day catch-up covers, no matter that Monday was missed too.
    """
    scheduled(bank_db, tmp_path / "a", MONDAY_EARLY)
    restart_at = utc(3, 3, 10)  # Tue 11:00 Berlin
    after = Harness(bank_db, tmp_path / "b", start=restart_at)
    after.dojo.recover()
    after.dojo.recover()
    rows = prompts(bank_db)
    assert date(2026, 3, 2) not in [row.local_date for row in rows]  # never posted late
    assert [(row.local_date, row.posted_at) for row in rows] == [(date(2026, 3, 3), restart_at)]
    assert len(daily_posts(after)) == 1


# -- no duplicates --------------------------------------------------------------------------------


def test_two_processes_at_the_same_instant_post_once(
    bank_db: Database, second_db: Database, tmp_path: Path
):
    one = scheduled(bank_db, tmp_path / "a", MONDAY_EARLY)
    two = Harness(second_db, tmp_path / "b", start=MONDAY_EARLY)
    for day in range(3):
        slot = MONDAY_SLOT + timedelta(days=day)
        for harness in (one, two, two, one):
            advance_to(harness, slot)
            harness.dojo.recover()
        assert len(daily_posts(one)) + len(daily_posts(two)) == day + 1
        assert count(bank_db, DailyPrompt) == day + 1


def test_two_processes_racing_in_threads_post_once(
    bank_db: Database, second_db: Database, tmp_path: Path
):
    one = scheduled(bank_db, tmp_path / "a", MONDAY_EARLY)
    two = Harness(second_db, tmp_path / "b", start=MONDAY_EARLY)
    days = 4
    errors: list[BaseException] = []

    def run(harness: Harness, gate: threading.Barrier) -> None:
        try:
            gate.wait(timeout=10)
            harness.dojo.run_due()
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    for day in range(days):
        slot = MONDAY_SLOT + timedelta(days=day)
        for harness in (one, two):
            harness.clock.advance(slot - harness.clock.now())
        gate = threading.Barrier(2)
        threads = [threading.Thread(target=run, args=(h, gate)) for h in (one, two)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
            assert not thread.is_alive()
        assert errors == []
        assert len(daily_posts(one)) + len(daily_posts(two)) == day + 1
    assert count(bank_db, DailyPrompt) == days
    assert count(bank_db, DailyPrompt, DailyPrompt.posted_at.is_(None)) == 0


def test_daily_now_posts_once_a_day(bank_db: Database, tmp_path: Path):
    harness = scheduled(bank_db, tmp_path, MONDAY_EARLY)  # also scheduled for 09:00
    posted = reply_of(harness.command("admin", "daily now"))
    assert posted.message.tone != Tone.ERROR
    assert "Posted" in posted.message.text
    assert len(daily_posts(harness)) == 1

    refused = reply_of(harness.command("admin", "daily now"))
    assert refused.message.tone == Tone.ERROR
    assert "already posted" in refused.message.text
    assert len(daily_posts(harness)) == 1

    advance_to(harness, MONDAY_SLOT + timedelta(hours=1))  # the scheduled slot, same day
    assert len(daily_posts(harness)) == 1
    assert count(bank_db, DailyPrompt) == 1

    advance_to(harness, utc(3, 3, 8))  # Tuesday's slot posts as usual
    assert len(daily_posts(harness)) == 2
    assert reply_of(harness.command("admin", "daily now")).message.tone == Tone.ERROR
    assert count(bank_db, DailyPrompt) == 2


# -- no repeats -----------------------------------------------------------------------------------


def test_sixty_weekdays_without_a_repeat_or_the_same_family_twice(
    bank_db: Database, tmp_path: Path
):
    assert count(bank_db, Question) >= 110
    harness = scheduled(bank_db, tmp_path, MONDAY_EARLY, "schedule 09:00 Europe/Berlin mon-fri")
    harness.advance(hours=4)  # Monday 11:00 local: the first one
    while len(daily_posts(harness)) < 60:
        assert harness.clock.now() < utc(6, 1), "60 weekdays should take 12 weeks"
        harness.advance(days=1)
    with bank_db.unit_of_work() as session:
        rows = session.execute(
            select(DailyPrompt.local_date, Question.id, Question.family_id, Question.title)
            .join(Question, Question.id == DailyPrompt.question_id)
            .order_by(DailyPrompt.local_date)
        ).all()
    assert len(rows) == 60
    assert all(row.local_date.weekday() < 5 for row in rows)
    assert len({row.local_date for row in rows}) == 60
    assert len({row.id for row in rows}) == 60, "a question repeated within 60 days"
    for previous, current in itertools.pairwise(rows):
        assert current.family_id != previous.family_id, f"same family on {current.local_date}"

    posts = daily_posts(harness)
    assert [p.message.title for p in posts] == [f"Daily question: {row.title}" for row in rows]
    for post, previous in zip(posts[1:], rows, strict=False):
        yesterday = dict(post.message.fields)["Previous question"]
        assert yesterday.startswith(previous.title)


# -- answers --------------------------------------------------------------------------------------


def answers_by(db: Database, user: str) -> tuple[int, int]:
    """(daily_answers rows, daily-answer points rows) of one member."""
    with db.unit_of_work() as session:
        member_id = session.scalar(select(Member.id).where(Member.external_id == user))
    if member_id is None:
        return (0, 0)
    return (
        count(db, DailyAnswer, DailyAnswer.member_id == member_id),
        count(
            db,
            PointsEntry,
            PointsEntry.member_id == member_id,
            PointsEntry.kind == "daily-answer",
        ),
    )


def test_a_member_counts_once_per_prompt(bank_db: Database, tmp_path: Path):
    harness = scheduled(bank_db, tmp_path, MONDAY_EARLY)
    advance_to(harness, MONDAY_SLOT)
    assert count(bank_db, DailyAnswer) == 0  # the bot's own post is no answer
    harness.feed("carol #daily: I would start by asking who the users are")
    assert answers_by(bank_db, "carol") == (1, 1)
    harness.feed("carol #daily: and then the labels", "dave #daily: me too")
    assert answers_by(bank_db, "carol") == (1, 1)
    assert answers_by(bank_db, "dave") == (1, 1)
    assert count(bank_db, DailyAnswer) == 2
    assert count(bank_db, PointsEntry) == 2

    advance_to(harness, utc(3, 3, 8))  # a new prompt is a new chance to answer
    harness.feed("carol #daily: today's answer", "carol #daily: still today")
    assert answers_by(bank_db, "carol") == (2, 2)
    rows = prompts(bank_db)
    with bank_db.unit_of_work() as session:
        answered = sorted(session.scalars(select(DailyAnswer.prompt_id)))
    assert answered == sorted([rows[0].id, rows[0].id, rows[1].id])


def test_a_redelivered_event_counts_once(bank_db: Database, tmp_path: Path):
    harness = scheduled(bank_db, tmp_path, MONDAY_EARLY)
    advance_to(harness, MONDAY_SLOT)
    thread = harness.dojo.daily_thread(WORKSPACE, CHANNEL)
    assert thread is not None
    place = Place(CHANNEL, thread)
    harness.dojo.handle_message(harness.actor("erin"), place, event_id="E1")
    harness.dojo.handle_message(harness.actor("erin"), place, event_id="E1")
    assert answers_by(bank_db, "erin") == (1, 1)
    assert count(bank_db, ProcessedEvent, ProcessedEvent.event_id == "E1") == 1
    assert count(bank_db, PointsEntry) == 1


def test_messages_outside_the_daily_thread_do_not_count(bank_db: Database, tmp_path: Path):
    harness = scheduled(bank_db, tmp_path, MONDAY_EARLY)
    advance_to(harness, MONDAY_SLOT)
    assert count(bank_db, DailyAnswer) == 0
    frank = harness.actor("frank")
    harness.dojo.handle_message(frank, Place(CHANNEL), event_id="channel-1")
    harness.dojo.handle_message(frank, Place(CHANNEL, "some-other-thread"), event_id="other-1")
    thread = harness.dojo.daily_thread(WORKSPACE, CHANNEL)
    assert thread is not None
    harness.dojo.handle_message(frank, Place("elsewhere", thread), event_id="elsewhere-1")
    harness.feed("frank: hello everyone", "frank: /mlsd daily")
    assert count(bank_db, DailyAnswer) == 0
    assert count(bank_db, PointsEntry) == 0
    harness.feed("frank #daily: now in the thread")  # the control: this one does count
    assert answers_by(bank_db, "frank") == (1, 1)


def test_reveal_guide_is_private_to_whoever_asks(bank_db: Database, tmp_path: Path):
    harness = scheduled(bank_db, tmp_path, MONDAY_EARLY)
    advance_to(harness, MONDAY_SLOT)
    (row,) = prompts(bank_db)
    (post,) = daily_posts(harness)
    button = next(b for b in post.message.buttons if b.action_id == REVEAL)
    assert button.value == str(row.id)
    with bank_db.unit_of_work() as session:
        title = session.get_one(Question, row.question_id).title

    reply = reply_of(harness.action("carol", REVEAL, str(row.id), thread=row.thread_external_id))
    assert reply.private
    assert reply.message.title == f"Interviewer guide: {title}"
    field_names = [name for name, _ in reply.message.fields]
    assert "Follow-ups" in field_names
    assert "Baseline to expect" in field_names
    assert len(harness.port.posted) == 1  # nothing public

    out = harness.feed("carol: [Reveal the guide]")
    assert "only carol sees this" in out
    assert f"Interviewer guide: {title}" in out

    for bad in ("999999", "not-a-number"):
        refused = reply_of(harness.action("carol", REVEAL, bad))
        assert refused.message.tone == Tone.ERROR


# -- a crash between claim and post ---------------------------------------------------------------


def test_a_claimed_but_unposted_prompt_is_posted_once_on_recover(bank_db: Database, tmp_path: Path):
    crashed = scheduled(bank_db, tmp_path / "a", MONDAY_EARLY)
    crashed.clock.advance(MONDAY_SLOT - MONDAY_EARLY)
    with bank_db.unit_of_work() as session:  # the claim commits, the post never happens
        channel = session.scalars(select(Channel)).one()
        claimed = claim_prompt(session, channel, crashed.clock.now(), "test")
        assert claimed is not None
    assert daily_posts(crashed) == []
    (row,) = prompts(bank_db)
    assert row.posted_at is None
    assert row.thread_external_id is None

    restart_at = MONDAY_SLOT + timedelta(minutes=20)
    after = Harness(bank_db, tmp_path / "b", start=restart_at)
    done = after.dojo.recover()
    assert done["reposted"] == 1
    assert done["daily"] == 0
    (post,) = daily_posts(after)
    assert post.message.title == f"Daily question: {claimed.question.title}"
    (row,) = prompts(bank_db)
    assert row.id == claimed.prompt_id
    assert row.posted_at == restart_at
    assert row.thread_external_id == post.message_id

    again = after.dojo.recover()
    assert again["reposted"] == 0
    assert again["daily"] == 0
    advance_to(after, utc(3, 2, 22))
    assert len(daily_posts(after)) == 1
    advance_to(after, utc(3, 3, 8))  # and the schedule carries on
    assert len(daily_posts(after)) == 2
    assert count(bank_db, DailyPrompt) == 2


def test_a_claim_left_unposted_yesterday_is_not_posted_late(bank_db: Database, tmp_path: Path):
    crashed = scheduled(bank_db, tmp_path / "a", MONDAY_EARLY)
    crashed.clock.advance(MONDAY_SLOT - MONDAY_EARLY)
    with bank_db.unit_of_work() as session:
        channel = session.scalars(select(Channel)).one()
        assert claim_prompt(session, channel, crashed.clock.now(), "test") is not None

    after = Harness(bank_db, tmp_path / "b", start=utc(3, 3, 6))  # Tue 07:00 Berlin
    done = after.dojo.recover()
    assert (done["reposted"], done["daily"]) == (0, 0)
    assert daily_posts(after) == []
    advance_to(after, utc(3, 3, 8))  # Tuesday's own prompt, at its time
    (post,) = daily_posts(after)
    monday, tuesday = prompts(bank_db)
    assert monday.posted_at is None
    assert (tuesday.local_date, tuesday.thread_external_id) == (date(2026, 3, 3), post.message_id)
    assert after.dojo.recover()["reposted"] == 0
