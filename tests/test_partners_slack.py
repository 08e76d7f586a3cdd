"""Practice partners over the Slack wire: signed requests to the real Bolt app, a fake Web API.

Pairing with alternating roles, a booking reminded twice and started by "I'm here", a no-show,
a user group ping on the daily post (and no other mention), suggestions approved into only that
team's bank or rejected with a reason, the digest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bank.db import Database
from bank.models import Booking, Interview, Member, MemberNote, Question, Suggestion, Workspace
from scoring.models import PointsEntry
from tests.slack_wire import TEAM
from tests.test_partners import QUESTION
from tests.test_slack import (
    Slack,
    all_text,
    check_block_kit,
    check_modal,
    header,
    ok,
    running_slack,
)
from tests.test_tenancy_wire import slack_team


@pytest.fixture
def wire(bank_db: Database) -> Iterator[Slack]:
    with running_slack(bank_db) as slack:
        yield slack


def ephemerals(slack: Slack, mark: int, user: str) -> list[dict[str, Any]]:
    return [
        c.params for c in slack.fake.since(mark, "chat.postEphemeral") if c.params["user"] == user
    ]


def private_to(slack: Slack, mark: int, user: str) -> list[dict[str, Any]]:
    """Notes to `user`: ephemeral, or by DM (notes that must last and files go there)."""
    dms = [
        c.params
        for c in slack.fake.since(mark, "chat.postMessage")
        if c.params.get("channel") == f"D{user}"
    ]
    return [*ephemerals(slack, mark, user), *dms]


def said(slack: Slack, mark: int, user: str, text: str) -> bool:
    return any(text in all_text(p) for p in private_to(slack, mark, user))


def button(params: dict[str, Any], label: str) -> dict[str, Any]:
    for block in params.get("blocks", []):
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["text"]["text"] == label:
                return dict(element)
    raise AssertionError(f"no [{label}] in {params}")


def candidates(db: Database) -> list[str]:
    with db.unit_of_work() as session:
        return list(
            session.scalars(
                select(Member.external_id)
                .join(Interview, Interview.candidate_id == Member.id)
                .order_by(Interview.number)
            )
        )


def test_pairing_alternates_roles_over_the_wire(wire: Slack, bank_db: Database) -> None:
    fake, client = wire.fake, wire.client
    for number, candidate in ((1, "UALICE"), (2, "UBOB"), (3, "UALICE")):
        mark = fake.mark()

        def told(user: str, text: str, since: int = mark) -> bool:
            return said(wire, since, user, text)

        ok(client.command("UALICE", "pair recsys now"))
        fake.wait_for(lambda: told("UALICE", "You are in the pairing queue"))
        ok(client.command("UBOB", "pair"))
        fake.wait_for(lambda: told("UBOB", "Matched with alice"))
        fake.wait_for(lambda: told("UALICE", "Matched with bob"))
        assert len(candidates(bank_db)) == number
        mark = fake.mark()
        ok(client.command(candidate, f"end #{number}"))
        fake.wait_for(lambda: said(wire, mark, candidate, "ended"))  # noqa: B023
    assert candidates(bank_db) == ["UALICE", "UBOB", "UALICE"]


def test_booking_reminders_start_and_no_show_over_the_wire(wire: Slack, bank_db: Database) -> None:
    fake, client = wire.fake, wire.client
    mark = fake.mark()
    ok(client.command("UALICE", "book recsys at 10:30 UTC"))
    fake.wait_for(lambda: said(wire, mark, "UALICE", "Mock #1 booked"))
    card = next(p for p in wire.posts(mark) if header(p).startswith("Mock #1 booked"))
    check_block_kit(card)
    # the calendar file goes up with the current upload API (files cannot be ephemeral: a DM)
    fake.wait_for(lambda: any(c.method == "files.completeUploadExternal" for c in fake.calls))
    ok(client.press("UBOB", button(card, "Interview"), card["_ts"], None))
    fake.wait_for(lambda: said(wire, mark, "UBOB", "signed up for mock #1 as interviewer"))
    fake.wait_for(lambda: any("bob" in all_text(c.params) for c in fake.since(mark, "chat.update")))
    ok(client.command("UCAROL", "book ads at 10:30 UTC"))  # mock #2: nobody comes to interview
    fake.wait_for(lambda: said(wire, mark, "UCAROL", "Mock #2 booked"))

    for minutes, words in ((35, "in an hour"), (50, "in ten minutes")):
        wire.clock.advance(timedelta(minutes=minutes))
        mark = fake.mark()
        assert wire.dojo.run_due()["bookings"] == 2
        for user in ("UALICE", "UBOB", "UCAROL"):
            assert sum(words in all_text(p) for p in private_to(wire, mark, user)) == 1, user
        assert wire.dojo.run_due()["bookings"] == 0  # never twice

    wire.clock.advance(timedelta(minutes=10))
    mark = fake.mark()
    assert wire.dojo.run_due()["bookings"] == 2
    openings = {header(p): p for p in wire.posts(mark) if "is starting" in header(p)}
    first = openings["Mock #1 is starting: recommendation"]
    ok(client.press("UALICE", button(first, "I'm here"), first["_ts"], None))
    fake.wait_for(lambda: said(wire, mark, "UALICE", "Waiting for: bob"))
    ok(client.press("UBOB", button(first, "I'm here"), first["_ts"], None))
    fake.wait_for(lambda: said(wire, mark, "UBOB", "Mock #1 has started"))
    phase = next(p for p in wire.posts(mark) if "Phase 1/4" in all_text(p))
    assert phase["thread_ts"] == first["_ts"]  # the mock runs in the booking's thread

    wire.clock.advance(timedelta(minutes=10))
    mark = fake.mark()
    assert wire.dojo.run_due()["bookings"] == 1  # mock #2 had no interviewer: a no-show
    cancelled = [p for p in wire.posts(mark) if "did not come" in all_text(p)]
    assert len(cancelled) == 1 and "#2" in all_text(cancelled[0])
    with bank_db.unit_of_work() as session:
        statuses = {n: s for n, s in session.execute(select(Booking.number, Booking.status))}
        assert statuses == {1: "started", 2: "no-show"}
        noted = session.execute(
            select(Member.external_id, MemberNote.kind).join(
                Member, Member.id == MemberNote.member_id
            )
        ).all()
        assert [tuple(row) for row in noted] == [("UCAROL", "no-show")]


def test_group_ping_and_digest_over_the_wire(wire: Slack, bank_db: Database) -> None:
    fake, client = wire.fake, wire.client
    mark = fake.mark()
    ok(client.command("UADMIN", "schedule 09:00 UTC daily ping <!subteam^S0MENTORS|@mentors>"))
    fake.wait_for(lambda: any("mentions group S0MENTORS" in all_text(p) for p in wire.posts(mark)))
    wire.clock.advance(timedelta(minutes=5))
    mark = fake.mark()
    assert wire.dojo.run_due()["daily"] == 1
    daily = wire.posts(mark)[0]
    check_block_kit(daily)
    assert daily["blocks"][0]["text"]["text"] == "<!subteam^S0MENTORS>"
    assert daily["text"].startswith("<!subteam^S0MENTORS> ")
    everything = "\n".join(all_text(c.params) for c in fake.calls)
    assert everything.count("<!subteam^") == 2  # the daily post's block and its text, only
    for loud in ("<!channel>", "<!here>", "<!everyone>"):
        assert loud not in everything
    ok(client.thread_message("UCAROL", daily["_ts"], "clarify first", event_id="Ev1"))
    for _ in range(7):
        wire.clock.advance(timedelta(days=1))
        wire.dojo.run_due()
    digests = [c.params for c in fake.calls if header(c.params).startswith("Weekly digest")]
    assert len(digests) == 1 and "carol: 1 practice" in all_text(digests[0])
    check_block_kit(digests[0])


def test_suggestions_approved_and_rejected_over_the_wire(wire: Slack, bank_db: Database) -> None:
    """Approved into this team's bank only (a second team on the same database neither sees
    the question nor the queue); rejected with a reason the author reads; points counted once."""
    fake, client = wire.fake, wire.client
    second = {**QUESTION, "slug": "fraud-refunds", "title": "Refund abuse"}
    for user, values in (("UCAROL", QUESTION), ("UDAVE", second)):
        mark = fake.mark()
        ok(client.command(user, "suggest"))
        fake.wait_for(lambda: bool(fake.since(mark, "views.open")))  # noqa: B023
        view = fake.since(mark, "views.open")[0].params["view"]
        check_modal(view)
        ok(client.submit(user, view, values))
        fake.wait_for(lambda: said(wire, mark, user, "waits for an admin's review"))  # noqa: B023
    mark = fake.mark()
    ok(client.command("UALICE", "bank review"))
    fake.wait_for(lambda: said(wire, mark, "UALICE", "only workspace admins"))
    ok(client.command("UADMIN", "bank review"))
    fake.wait_for(lambda: said(wire, mark, "UADMIN", "Suggested by carol"))
    card = next(p for p in ephemerals(wire, mark, "UADMIN") if "Suggested by carol" in all_text(p))
    check_block_kit(card)
    mark = fake.mark()
    ok(client.press("UADMIN", button(card, "Approve"), "1.000", None))
    fake.wait_for(lambda: said(wire, mark, "UCAROL", "is in the bank now"))
    fake.wait_for(lambda: said(wire, mark, "UADMIN", "Approved fraud-gift-cards"))
    assert said(wire, mark, "UCAROL", "+25 points")
    following = next(
        p for p in private_to(wire, mark, "UADMIN") if "Suggested by dave" in all_text(p)
    )
    ok(client.press("UADMIN", button(card, "Approve"), "1.000", None))  # a late second click
    fake.wait_for(lambda: said(wire, mark, "UADMIN", "already reviewed"))

    mark = fake.mark()
    ok(client.press("UADMIN", button(following, "Reject"), "2.000", None))
    fake.wait_for(lambda: bool(fake.since(mark, "views.open")))
    reason = fake.since(mark, "views.open")[0].params["view"]
    check_modal(reason)
    ok(client.submit("UADMIN", reason, {"reason": "Too close to gift-card fraud"}))
    fake.wait_for(lambda: said(wire, mark, "UDAVE", "not added: Too close to gift-card fraud"))
    fake.wait_for(lambda: said(wire, mark, "UADMIN", "Rejected fraud-refunds"))

    with slack_team(bank_db, wire.clock, "TB") as other:
        for text, expected in (
            ("bank show fraud-gift-cards", "no question with slug 'fraud-gift-cards'"),
            ("bank review", "No suggested questions are waiting"),
        ):
            there = other.fake.mark()
            other.client.command("UADMINTB", text, channel="CB")
            assert expected in other.ephemeral_after(there, "UADMINTB")
    mark = fake.mark()
    ok(client.command("UBOB", "bank show fraud-gift-cards"))
    fake.wait_for(lambda: said(wire, mark, "UBOB", QUESTION["title"]))
    with bank_db.unit_of_work() as session:
        owners = session.execute(
            select(Question.slug, Workspace.external_id)
            .join(Workspace, Workspace.id == Question.workspace_id)
            .where(Question.slug.in_(("fraud-gift-cards", "fraud-refunds")))
        ).all()
        assert [tuple(row) for row in owners] == [("fraud-gift-cards", TEAM)]
        assert sorted(session.scalars(select(Suggestion.status))) == ["approved", "rejected"]
        entries = session.execute(
            select(Member.external_id, PointsEntry.kind, PointsEntry.points).join(
                Member, Member.id == PointsEntry.member_id
            )
        ).all()
        assert [tuple(row) for row in entries] == [("UCAROL", "suggestion-approved", 25)]
