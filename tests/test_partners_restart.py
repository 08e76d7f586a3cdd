"""Practice partners survive a restart at any point, on SQLite and PostgreSQL.

One scripted week (a pairing queue with a match and an expiry, two booked mocks with reminders,
one started and one a no-show, a suggestion reviewed, the weekly digest) is run once per stop:
either the bot process is replaced between two steps (a new `Dojo` on the same database, which
catches up with `recover()` like `dojo run` does on start), or it dies in the middle of due work
right before a chosen call to the platform, after the work was claimed (a `BaseException` that
no `except Exception` catches, so open transactions roll back as they would under SIGKILL).
Whatever the stop, what people see at the end is the same: every note, reminder, thread and
digest exactly once, each point and no-show recorded once.

The pair command that makes a match (and its mock, in the same transaction) is stopped too:
right after that commit, at the thread, before the first phase, before the kit and before the
partner's note (a restart finishes the announcement: the thread opened once, both members told
once), and after that note (the member who asked gets a note instead of the lost answer).

Not covered: a kill inside any other command of a member; like every command, that one is
answered or not, and the member asks again.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bank.db import Database
from bank.models import Booking, Digest, Member, MemberNote, PairRequest, Suggestion
from bot import partner_render as words
from bot.flows import partner_flow
from bot.port import Delivered, Message, Outcome, Place, Reply
from scoring.models import PointsEntry
from tests.support import START, Harness
from tests.test_partners import QUESTION

PORT_CALLS = ("post", "start_thread", "edit", "send_private", "send_direct")


class Killed(BaseException):
    """The process died here: nothing after this point of the step ran."""


def _booking(h: Harness, number: int) -> str:
    with h.db.unit_of_work() as session:
        return str(session.scalars(select(Booking.id).where(Booking.number == number)).one())


def _suggestion(h: Harness) -> str:
    with h.db.unit_of_work() as session:
        return str(session.scalars(select(Suggestion.id)).one())


def _until(hour: int, minute: int, days: int = 0) -> Callable[[Harness], None]:
    """A scheduler tick at that time of the scripted Monday (`days` later): due work runs."""

    def tick(h: Harness) -> None:
        target = START.replace(hour=hour, minute=minute) + timedelta(days=days)
        h.advance(seconds=(target - h.clock.now()).total_seconds())

    return tick


def _here(h: Harness) -> None:
    value = _booking(h, 2)
    h.action("alice", words.HERE, value)
    h.action("bob", words.HERE, value)


def _book(h: Harness) -> None:
    h.command("alice", "book recsys at 10:30 UTC")
    h.action("bob", words.INTERVIEW, _booking(h, 2))
    h.command("carol", "book ads at 10:30 UTC")  # nobody comes to interview: a no-show


STEPS: list[tuple[str, Callable[[Harness], Any]]] = [
    ("schedule", lambda h: h.command("admin", "schedule 09:00 UTC daily")),
    ("suggest", lambda h: h.action("carol", partner_flow.SUGGEST, "", fields=QUESTION)),
    ("queue", lambda h: (h.command("alice", "pair recsys now"), h.command("dave", "pair ads"))),
    ("match", lambda h: h.command("bob", "pair")),
    ("end", lambda h: h.command("alice", "end #1")),
    ("book", _book),
    ("expiry", _until(8, 40)),  # dave's wait is over: nobody matched
    ("daily", _until(9, 0)),  # the first daily post; the digest's first week is only recorded
    ("hour", _until(9, 30)),  # reminders an hour before #2 and #3
    ("soon", _until(10, 20)),  # ten minutes before
    ("open", _until(10, 30)),  # both threads open
    ("here", _here),  # #2 starts
    ("grace", _until(10, 40)),  # nobody came to interview carol on #3: a no-show
    ("review", lambda h: h.action("admin", words.APPROVE, _suggestion(h))),
    ("week", _until(9, 0, days=7)),  # next Monday's first slot: the digest
    ("after", _until(12, 0, days=7)),  # later ticks add nothing
]


@dataclass(frozen=True)
class Stop:
    """Where the process stops: after a step, or during it, right before its `call`-th
    platform call (counting only calls whose message mentions `about`), or right when it calls
    `code` ("module.function")."""

    after: str
    call: int = 0
    about: str = ""
    code: str = ""

    @property
    def during(self) -> bool:
        return bool(self.call or self.code)

    def __str__(self) -> str:
        if self.code:
            return f"during-{self.after}-at-{self.code.rpartition('.')[2]}"
        if not self.call:
            return f"after-{self.after}"
        return f"during-{self.after}-{self.about or 'call'}-{self.call}".replace(" ", "-")


STOPS = [
    Stop("queue"),  # two members queued, a suggestion waiting for review
    Stop("match", code="bot.flows.partner_flow._open_match"),  # matched (mock #1's rows too)
    Stop("match", 1, "Mock #1 · "),  # the thread asked for, its ledger row left pending
    Stop("match", 1, "Phase 1/4"),  # the thread opened, no first phase
    Stop("match", 1, "Interviewer kit"),  # the first phase posted, no kit
    Stop("match", 1, "Matched with"),  # the mock complete, the partner's note queued
    Stop("match", code="bot.pairing.mark_announced"),  # the partner told, the asker not answered
    Stop("book"),  # before any reminder
    Stop("expiry", 1, "Nobody matched"),  # nobody matched: claimed, not told yet
    Stop("hour", 1, "in an hour"),  # reminders claimed, none sent
    Stop("hour", 2, "in an hour"),  # one sent, the others not
    Stop("hour"),  # before the ten-minute reminder
    Stop("soon", 1, "in ten minutes"),
    Stop("soon"),  # before the start time
    Stop("open", 1, "is starting"),  # at the start time: claimed, no thread yet
    Stop("open"),  # in the grace period, nobody here yet
    Stop("grace", 1, "did not come"),  # the no-show claimed (and noted), the notice not posted
    Stop("week", 1, "Weekly digest"),  # the digest claimed, not posted
    Stop("week"),  # posted: later ticks of a new process do not post it again
]


@dataclass
class Run:
    """The processes of one scripted week, and everything each of them showed people."""

    db: Database
    out: Path
    processes: list[Harness] = field(default_factory=list)
    replies: list[tuple[str, str]] = field(default_factory=list)  # (user, words) answered
    posts: list[str] = field(default_factory=list)  # every public post as it went out

    def start(self) -> Harness:
        at = self.processes[-1].clock.now() if self.processes else START
        h = Harness(self.db, self.out, start=at)
        restart = bool(self.processes)
        self.processes.append(h)
        for name in ("handle_command", "handle_action"):
            setattr(h.dojo, name, self._recording(getattr(h.dojo, name)))
        real_post = h.port.post

        def post(place: Place, message: Message, key: str | None = None) -> Outcome:
            outcome = real_post(place, message, key)
            if isinstance(outcome, Delivered):  # later edits do not rewrite history here
                self.posts.append(f"{message.title}\n{message.text}")
            return outcome

        h.port.post = post  # type: ignore[method-assign]
        if restart:
            h.dojo.recover()  # what `dojo run` does on start
        return h

    def _recording(self, handle: Callable[[Any], Reply | None]) -> Callable[[Any], Reply | None]:
        def recorded(request: Any) -> Reply | None:
            reply = handle(request)
            if reply is not None:
                text = f"{reply.message.title}\n{reply.message.text}"
                self.replies.append((request.actor.user_id, text))
            return reply

        return recorded

    def kill_at(self, h: Harness, stop: Stop) -> Callable[[], None]:
        """Make the process die right before the platform call or the code `stop` names;
        returns what puts the code back for the next process."""
        if stop.code:
            module = importlib.import_module(stop.code.rpartition(".")[0])
            name = stop.code.rpartition(".")[2]
            real_code = getattr(module, name)

            def dead(*args: Any, **kwargs: Any) -> Any:
                raise Killed

            setattr(module, name, dead)
            return lambda: setattr(module, name, real_code)
        seen = [0]
        for name in PORT_CALLS:
            real = getattr(h.port, name)

            def dying(*args: Any, _real: Callable[..., Any] = real, **kwargs: Any) -> Any:
                message = next(a for a in (*args, *kwargs.values()) if isinstance(a, Message))
                seen[0] += stop.about in f"{message.title}\n{message.text}"
                if seen[0] == stop.call:
                    raise Killed
                return _real(*args, **kwargs)

            setattr(h.port, name, dying)
        return lambda: None

    def private(self) -> Counter[tuple[str, str]]:
        """(user, words) of every private note and answer, over all processes."""
        notes = [
            (user, f"{m.title}\n{m.text}") for h in self.processes for user, m in h.port.private
        ]
        return Counter(notes + self.replies)


def count(texts: list[str], words_: str) -> int:
    return sum(words_ in text for text in texts)


@pytest.mark.parametrize("stop", STOPS, ids=str)
def test_a_partner_week_survives_a_stop(bank_db: Database, tmp_path: Path, stop: Stop) -> None:
    run = Run(bank_db, tmp_path / "out")
    h = run.start()
    for name, step in STEPS:
        if stop.during and name == stop.after:
            revive = run.kill_at(h, stop)
            try:
                step(h)
            except Killed:
                revive()
                h = run.start()
            else:
                revive()
                pytest.fail(f"step {name} never reached {stop}")
            continue
        step(h)
        if name == stop.after:
            h = run.start()
    assert len(run.processes) == 2

    notes = run.private()

    def told(user: str, words_: str) -> int:
        return sum(n for (who, text), n in notes.items() if who == user and words_ in text)

    for user in ("alice", "bob"):
        assert told(user, "Matched with") == 1, user
    for number in (1, 2):  # bob interviews both: one kit for each mock's first phase
        assert told("bob", f"Interviewer kit · mock #{number} · Clarify") == 1, number
    assert told("dave", "Nobody matched") == 1
    for user in ("alice", "bob", "carol"):
        assert told(user, "in an hour") == 1, user
        assert told(user, "in ten minutes") == 1, user
    assert told("carol", "is in the bank now") == 1
    public = run.posts
    for number in (2, 3):
        assert count(public, f"Mock #{number} is starting") == 1, number
    assert count(public, "Phase 1/4") == 2  # mock #1 (paired) and #2 (booked)
    assert count(public, "Mock #1 · ") == 1  # the paired mock's thread
    assert count(public, "did not come") == 1
    assert count(public, "Weekly digest") == 1
    with bank_db.unit_of_work() as session:
        statuses = {n: s for n, s in session.execute(select(Booking.number, Booking.status))}
        assert statuses == {2: "started", 3: "no-show"}
        no_shows = session.execute(
            select(Member.display_name, MemberNote.kind).join(
                Member, Member.id == MemberNote.member_id
            )
        ).all()
        assert [tuple(row) for row in no_shows] == [("carol", "no-show")]
        kinds = Counter(session.scalars(select(PointsEntry.kind)))
        assert kinds["suggestion-approved"] == 1
        requests = session.execute(select(PairRequest.status, PairRequest.announced_at)).all()
        assert sorted(status for status, _ in requests) == ["expired", "matched", "matched"]
        assert all(at is not None for status, at in requests if status == "matched")
        assert session.scalars(select(Suggestion.status)).one() == "approved"
        posted = session.scalars(select(Digest.posted_at)).all()
        assert len(posted) == 2 and all(posted)  # the first week recorded, the second posted


def test_a_booked_match_cut_off_is_announced_once_by_one_of_two_processes(
    bank_db: Database, tmp_path: Path
) -> None:
    """A match for a later window dies before its booking card; two processes running due work
    leave it alone during the grace, then exactly one finishes it: one card, one note each
    (with the calendar file), however many ticks follow."""
    first = Harness(bank_db, tmp_path / "first")
    first.command("alice", "pair ads 18:00 UTC")
    real_post = first.port.post

    def dies_at_the_card(place: Place, message: Message, key: str | None = None) -> Outcome:
        if message.title.startswith("Mock #1 booked"):
            raise Killed
        return real_post(place, message, key)

    first.port.post = dies_at_the_card  # type: ignore[method-assign]
    with pytest.raises(Killed):
        first.command("bob", "pair ads 17:30 UTC")
    others = [Harness(bank_db, tmp_path / name, start=START) for name in ("second", "third")]
    assert [h.advance(minutes=1)["pairs_announced"] for h in others] == [0, 0]  # in the grace
    assert [h.advance(minutes=2)["pairs_announced"] for h in others] == [1, 0]
    for h in others:
        h.advance(minutes=5)
    cards = [p for h in others for p in h.texts() if p.startswith("Mock #1 booked")]
    assert len(cards) == 1
    for user, partner in (("alice", "bob"), ("bob", "alice")):
        notes = [m for h in others for m in h.private_to(user) if "Matched with" in m.text]
        assert len(notes) == 1, user
        assert f"Matched with {partner} for Mon 02 Mar 18:00 UTC" in notes[0].text
        assert [f.filename for f in notes[0].files] == ["mock-1.ics"]
    with bank_db.unit_of_work() as session:
        rows = session.execute(
            select(PairRequest.booking_id, PairRequest.announced_at).where(
                PairRequest.status == "matched"
            )
        ).all()
    assert len(rows) == 2 and all(booking is not None and at for booking, at in rows)
