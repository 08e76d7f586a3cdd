"""Vote rules and the points ledger on SQLite and PostgreSQL, and concurrent votes on PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bank.db import Database
from bank.models import Interview, Member, Question, Workspace
from bank.scope import Scope
from bot import mocks
from bot.community import channel_for, member_for, workspace_for
from bot.phases import PHASES
from scoring.ledger import DEFAULT_POINTS, PointKind, award
from scoring.models import PointsEntry, Vote
from scoring.rubric import DEFAULT_RUBRIC
from scoring.votes import (
    VoteError,
    VoteReceipt,
    all_interviewers_voted,
    claim_result_delivery,
    result_of,
    results_due,
    score_bonus,
    settle_final_result,
    submit_vote,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
ENDED = T0 + timedelta(minutes=45)
SCORES = (3, 3, 4, 3, 2, 3)
NAMES = ("alice", "bob", "carol", "dave")
FORTY_EIGHT_HOURS = timedelta(hours=48)
EVERY = Scope("slack")  # the due-scan of a process that serves every Slack workspace


@dataclass(frozen=True)
class Cast:
    """Ids of one workspace's rows (ids, not ORM objects: every step opens its own session)."""

    workspace_id: int
    channel_id: int
    question_id: int
    members: dict[str, int]

    def __getitem__(self, name: str) -> int:
        return self.members[name]


def make_cast(
    db: Database,
    names: tuple[str, ...] = NAMES,
    workspace: str = "T-one",
    timezone: str = "UTC",
    question_offset: int = 0,
) -> Cast:
    with db.unit_of_work() as session:
        ws = workspace_for(session, "slack", workspace)
        ws.timezone = timezone
        channel = channel_for(session, ws, "C-general")
        members = {name: member_for(session, ws, f"U-{name}", name).id for name in names}
        question = session.scalars(
            select(Question).order_by(Question.slug).offset(question_offset).limit(1)
        ).one()
        return Cast(ws.id, channel.id, question.id, members)


def run_mock(
    db: Database,
    cast: Cast,
    candidate: str,
    panel: tuple[str, ...],
    started: datetime = T0,
    ended: datetime | None = ENDED,
    complete: bool = False,
    question_id: int | None = None,
    took_part: tuple[str, ...] | None = None,
) -> int:
    """Start a mock (and end it at `ended`: through every phase if `complete`); its id.
    `took_part`: the interviewers who take part (default: the whole panel)."""
    with db.unit_of_work() as session:
        interview = mocks.start_mock(
            session,
            session.get_one(Workspace, cast.workspace_id),
            cast.channel_id,
            session.get_one(Member, cast[candidate]),
            [session.get_one(Member, cast[name]) for name in panel],
            session.get_one(Question, question_id or cast.question_id),
            "standard",
            started,
        )
        for name in panel if took_part is None else took_part:
            mocks.took_part(session, interview, session.get_one(Member, cast[name]), started)
        if ended is not None:
            if complete:
                step = (ended - started) / len(PHASES)
                for index in range(1, len(PHASES)):
                    assert mocks.next_phase(session, interview, started + step * index) is not None
                assert mocks.next_phase(session, interview, ended) is None
            else:
                mocks.end(session, interview, ended)
        return interview.id


def cast_vote(
    db: Database,
    interview_id: int,
    voter_id: int,
    at: datetime,
    scores: tuple[int, ...] = SCORES,
    signal: str = "hire",
    comment: str = "",
) -> VoteReceipt:
    with db.unit_of_work() as session:
        return submit_vote(
            session,
            session.get_one(Interview, interview_id),
            session.get_one(Member, voter_id),
            scores,
            signal,
            comment,
            DEFAULT_RUBRIC,
            at,
        )


def vote_rows(db: Database, interview_id: int) -> list[Vote]:
    with db.unit_of_work() as session:
        return list(
            session.scalars(
                select(Vote).where(Vote.interview_id == interview_id).order_by(Vote.voter_id)
            )
        )


def ledger(db: Database, kind: PointKind | None = None) -> list[PointsEntry]:
    with db.unit_of_work() as session:
        query = select(PointsEntry).order_by(PointsEntry.id)
        if kind is not None:
            query = query.where(PointsEntry.kind == kind.value)
        return list(session.scalars(query))


def weighted(scores: tuple[int, ...]) -> float:
    return sum(s * c.weight for s, c in zip(scores, DEFAULT_RUBRIC.criteria, strict=True)) / 100


# -- who may vote, and when ---------------------------------------------------------------------


def test_candidate_cannot_vote_on_their_own_mock(bank_db: Database) -> None:
    cast = make_cast(bank_db)
    mock = run_mock(bank_db, cast, "alice", ("bob",))
    with pytest.raises(VoteError, match="cannot score your own mock"):
        cast_vote(bank_db, mock, cast["alice"], ENDED + timedelta(minutes=5))
    assert vote_rows(bank_db, mock) == []
    assert ledger(bank_db, PointKind.PEER_VOTE) == []


def test_voting_before_the_mock_ended_is_refused(bank_db: Database) -> None:
    cast = make_cast(bank_db)
    mock = run_mock(bank_db, cast, "alice", ("bob",), ended=None)
    with pytest.raises(VoteError, match=r"mock #1 is still running"):
        cast_vote(bank_db, mock, cast["bob"], T0 + timedelta(minutes=5))
    with bank_db.unit_of_work() as session:
        mocks.pause(session.get_one(Interview, mock), T0 + timedelta(minutes=6))
    with pytest.raises(VoteError, match=r"mock #1 is still running"):
        cast_vote(bank_db, mock, cast["carol"], T0 + timedelta(minutes=7))
    assert vote_rows(bank_db, mock) == []
    # once it has ended the same vote is accepted
    with bank_db.unit_of_work() as session:
        mocks.end(session, session.get_one(Interview, mock), T0 + timedelta(minutes=8))
    assert cast_vote(bank_db, mock, cast["bob"], T0 + timedelta(minutes=9)).replaced is False
    assert len(vote_rows(bank_db, mock)) == 1


def test_voting_closes_48_hours_after_the_end(bank_db: Database) -> None:
    cast = make_cast(bank_db)
    mock = run_mock(bank_db, cast, "alice", ("bob", "carol"))
    # the last second before the window closes still counts; at 48 h results become due
    cast_vote(bank_db, mock, cast["bob"], ENDED + FORTY_EIGHT_HOURS - timedelta(seconds=1))
    with pytest.raises(VoteError, match=r"voting on mock #1 closed 48 h after it ended"):
        cast_vote(bank_db, mock, cast["carol"], ENDED + FORTY_EIGHT_HOURS)
    with pytest.raises(VoteError, match="closed 48 h"):
        cast_vote(bank_db, mock, cast["bob"], ENDED + timedelta(days=3), scores=(1,) * 6)
    assert [v.voter_id for v in vote_rows(bank_db, mock)] == [cast["bob"]]
    assert vote_rows(bank_db, mock)[0].scores == dict(zip(DEFAULT_RUBRIC.ids, SCORES, strict=True))


def test_a_member_of_another_workspace_is_refused(bank_db: Database) -> None:
    cast = make_cast(bank_db)
    # the same platform user id, but in another workspace: a different member
    stranger = make_cast(bank_db, names=("bob", "erin"), workspace="T-two")
    assert stranger["bob"] != cast["bob"]
    mock = run_mock(bank_db, cast, "alice", ("bob",))
    for name in ("bob", "erin"):
        with pytest.raises(VoteError, match="only members of this workspace"):
            cast_vote(bank_db, mock, stranger[name], ENDED + timedelta(minutes=1))
    assert vote_rows(bank_db, mock) == []
    assert ledger(bank_db, PointKind.PEER_VOTE) == []


def test_bad_scores_and_signals_are_refused_with_a_clear_message(bank_db: Database) -> None:
    cast = make_cast(bank_db)
    mock = run_mock(bank_db, cast, "alice", ("bob",))
    at = ENDED + timedelta(minutes=1)
    names = ", ".join(c.name for c in DEFAULT_RUBRIC.criteria)
    refused = [
        ((0, 3, 3, 3, 3, 3), "hire", r"Problem formulation is 0: scores must be 1–4"),
        ((3, 3, 3, 3, 3, 5), "hire", r"Communication is 5: scores must be 1–4"),
        ((3, 3, -1, 3, 3, 3), "hire", r"ML depth is -1: scores must be 1–4"),
        ((3, 3, 3, 3, 3), "hire", f"give 6 scores, one per criterion in order: {names}"),
        ((3,) * 7, "hire", "give 6 scores"),
        ((), "hire", "give 6 scores"),
        (SCORES, "maybe", "the signal must be one of no-hire, lean-no, lean-hire, hire"),
    ]
    for scores, signal, message in refused:
        with pytest.raises(VoteError, match=message):
            cast_vote(bank_db, mock, cast["bob"], at, scores=scores, signal=signal)
    assert vote_rows(bank_db, mock) == []
    assert ledger(bank_db, PointKind.PEER_VOTE) == []
    # the boundaries themselves are fine
    cast_vote(bank_db, mock, cast["bob"], at, scores=(1, 4, 1, 4, 1, 4), signal="no-hire")
    assert vote_rows(bank_db, mock)[0].signal == "no-hire"


# -- re-submission, points, the panel -----------------------------------------------------------


def test_resubmitting_replaces_the_vote_and_awards_peer_points_once(bank_db: Database) -> None:
    cast = make_cast(bank_db)
    mock = run_mock(bank_db, cast, "alice", ("bob", "carol"))
    first = cast_vote(bank_db, mock, cast["bob"], ENDED + timedelta(minutes=1), comment="ok")
    assert (first.replaced, first.all_interviewers_voted) == (False, False)
    assert first.overall == pytest.approx(weighted(SCORES))
    latest = (1, 2, 1, 2, 1, 2)
    second = cast_vote(
        bank_db,
        mock,
        cast["bob"],
        ENDED + timedelta(hours=2),
        scores=latest,
        signal="lean-no",
        comment="  needs depth  ",
    )
    assert second.replaced is True
    assert second.overall == pytest.approx(weighted(latest))
    rows = vote_rows(bank_db, mock)
    assert len(rows) == 1
    row = rows[0]
    assert row.voter_id == cast["bob"]
    assert row.scores == dict(zip(DEFAULT_RUBRIC.ids, latest, strict=True))
    assert row.overall == pytest.approx(weighted(latest))
    assert (row.signal, row.comment) == ("lean-no", "needs depth")
    assert row.created_at == ENDED + timedelta(minutes=1)
    assert row.updated_at == ENDED + timedelta(hours=2)
    peer = ledger(bank_db, PointKind.PEER_VOTE)
    assert [(p.member_id, p.points, p.reference) for p in peer] == [
        (cast["bob"], DEFAULT_POINTS[PointKind.PEER_VOTE], f"interview:{mock}")
    ]
    assert peer[0].created_at == ENDED + timedelta(minutes=1)
    with bank_db.unit_of_work() as session:
        result = result_of(session, session.get_one(Interview, mock), DEFAULT_RUBRIC)
    assert result is not None
    assert result.voters == 1
    assert [c.mean for c in result.criteria] == list(latest)
    assert result.comments == ("needs depth",)


def test_all_interviewers_voted_flips_when_the_whole_panel_voted(bank_db: Database) -> None:
    cast = make_cast(bank_db)
    mock = run_mock(bank_db, cast, "alice", ("bob", "carol"))
    solo = run_mock(
        bank_db, cast, "dave", (), started=ENDED, ended=ENDED + timedelta(minutes=30)
    )  # no panel: it never counts as "all voted"

    def flag(interview_id: int) -> bool:
        with bank_db.unit_of_work() as session:
            return all_interviewers_voted(session, session.get_one(Interview, interview_id))

    at = ENDED + timedelta(hours=1)
    assert flag(mock) is False
    assert cast_vote(bank_db, mock, cast["dave"], at).all_interviewers_voted is False  # outsider
    assert cast_vote(bank_db, mock, cast["bob"], at).all_interviewers_voted is False
    assert flag(mock) is False
    assert cast_vote(bank_db, mock, cast["carol"], at).all_interviewers_voted is True
    assert flag(mock) is True
    assert cast_vote(bank_db, mock, cast["bob"], at, scores=(2,) * 6).all_interviewers_voted
    assert cast_vote(bank_db, solo, cast["alice"], at).all_interviewers_voted is False
    assert flag(solo) is False


def test_result_is_claimed_once_and_the_bonus_awarded_once(bank_db: Database) -> None:
    cast = make_cast(bank_db)
    mock = run_mock(bank_db, cast, "alice", ("bob",))
    cast_vote(bank_db, mock, cast["bob"], ENDED, scores=(4, 4, 4, 4, 2, 2))
    with bank_db.unit_of_work() as session:
        assert results_due(session, ENDED + FORTY_EIGHT_HOURS - timedelta(seconds=1), EVERY) == []
        assert results_due(session, ENDED + FORTY_EIGHT_HOURS, EVERY) == [mock]
    claims = []
    for _ in range(2):
        with bank_db.unit_of_work() as session:
            interview = session.get_one(Interview, mock)
            at = ENDED + FORTY_EIGHT_HOURS  # the window closes: settle, then deliver (as the flow)
            claims.append(
                settle_final_result(session, interview, at)
                and claim_result_delivery(session, interview, at, final=True)
            )
            result = result_of(session, interview, DEFAULT_RUBRIC)
            assert result is not None
            score_bonus(session, interview, result, ENDED + FORTY_EIGHT_HOURS)
    assert claims == [True, False]
    with bank_db.unit_of_work() as session:
        assert results_due(session, ENDED + FORTY_EIGHT_HOURS * 2, EVERY) == []
    bonus = ledger(bank_db, PointKind.SCORE_BONUS)
    # overall 3.6 → 10 points per full point above 2 → 16
    assert [(b.member_id, b.points) for b in bonus] == [(cast["alice"], 16)]


def test_voters_with_the_same_display_name_are_counted_separately(bank_db: Database) -> None:
    """Display names are not unique (two people called Sam): each member's vote must count."""
    cast = make_cast(bank_db, names=("alice",))
    with bank_db.unit_of_work() as session:
        ws = session.get_one(Workspace, cast.workspace_id)
        sams = [member_for(session, ws, user, "Sam").id for user in ("U-sam-1", "U-sam-2")]
    mock = run_mock(bank_db, cast, "alice", ())
    cast_vote(bank_db, mock, sams[0], ENDED, scores=(4,) * 6, comment="great")
    cast_vote(bank_db, mock, sams[1], ENDED, scores=(2,) * 6, comment="shaky")
    assert len(vote_rows(bank_db, mock)) == 2
    with bank_db.unit_of_work() as session:
        result = result_of(session, session.get_one(Interview, mock), DEFAULT_RUBRIC)
    assert result is not None
    assert result.voters == 2
    assert result.overall == pytest.approx(3.0)
    assert sorted(result.comments) == ["great", "shaky"]


# -- the points ledger --------------------------------------------------------------------------


def test_an_award_is_recorded_once(db: Database) -> None:
    with db.unit_of_work() as session:
        ws = workspace_for(session, "slack", "T-one")
        bob = member_for(session, ws, "U-bob", "bob")
        carol = member_for(session, ws, "U-carol", "carol")
        ids = (ws.id, bob.id, carol.id)
    ws_id, bob_id, carol_id = ids
    with db.unit_of_work() as session:
        assert award(session, ws_id, bob_id, PointKind.PEER_VOTE, "interview:7", T0) is True
    with db.unit_of_work() as session:
        assert award(session, ws_id, bob_id, PointKind.PEER_VOTE, "interview:7", ENDED, 50) is False
        # a different member, kind or reference is a different award
        assert award(session, ws_id, carol_id, PointKind.PEER_VOTE, "interview:7", T0) is True
        assert award(session, ws_id, bob_id, PointKind.MOCK_INTERVIEWER, "interview:7", T0)
        assert award(session, ws_id, bob_id, PointKind.PEER_VOTE, "interview:8", T0) is True
    rows = ledger(db)
    assert len(rows) == 4
    bob_peer = [r for r in rows if r.member_id == bob_id and r.kind == "peer-vote"]
    assert [(r.reference, r.points, r.created_at) for r in bob_peer] == [
        ("interview:7", 5, T0),
        ("interview:8", 5, T0),
    ]
    mock_points = [r.points for r in rows if r.kind == "mock-interviewer"]
    assert mock_points == [DEFAULT_POINTS[PointKind.MOCK_INTERVIEWER]]


def test_a_completed_mock_awards_candidate_and_panel_once(bank_db: Database) -> None:
    cast = make_cast(bank_db, names=(*NAMES, "erin"))
    completed = run_mock(bank_db, cast, "alice", ("bob", "carol"), complete=True)
    silent = run_mock(bank_db, cast, "erin", ("bob", "carol"), complete=True, took_part=("carol",))
    cut_short = run_mock(
        bank_db, cast, "dave", ("bob",), started=ENDED, ended=ENDED + timedelta(minutes=5)
    )
    rows = ledger(bank_db)
    by = Counter((r.member_id, r.kind, r.reference) for r in rows)
    ref = f"interview:{completed}"
    assert by == {
        (cast["alice"], "mock-candidate", ref): 1,
        (cast["bob"], "mock-interviewer", ref): 1,
        (cast["carol"], "mock-interviewer", ref): 1,
        # named but silent: bob never joined, pressed a control or wrote in the thread
        (cast["erin"], "mock-candidate", f"interview:{silent}"): 1,
        (cast["carol"], "mock-interviewer", f"interview:{silent}"): 1,
    }
    assert all(r.reference != f"interview:{cut_short}" for r in rows)


# -- concurrency (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_concurrent_votes_leave_one_row_and_one_award_per_voter(bank_db: Database) -> None:
    assert bank_db.is_postgresql
    voters = tuple(f"voter{i:02d}" for i in range(50))
    cast = make_cast(bank_db, names=("alice", *voters))
    mock = run_mock(bank_db, cast, "alice", voters[:3])
    variants = [tuple((k + i) % 4 + 1 for i in range(6)) for k in range(4)]
    jobs = [(name, k) for name in voters for k in range(4)]
    random.Random(7).shuffle(jobs)

    def submit(job: tuple[str, int]) -> VoteReceipt:
        name, k = job
        return cast_vote(
            bank_db,
            mock,
            cast[name],
            ENDED + timedelta(minutes=k + 1),
            scores=variants[k],
            signal=("hire", "lean-hire", "lean-no", "no-hire")[k],
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        receipts = list(pool.map(submit, jobs))  # re-raises any exception from a worker
    assert len(receipts) == 200

    rows = vote_rows(bank_db, mock)
    assert len(rows) == 50
    assert sorted(r.voter_id for r in rows) == sorted(cast[name] for name in voters)
    as_dicts = [dict(zip(DEFAULT_RUBRIC.ids, v, strict=True)) for v in variants]
    for row in rows:  # each row is one whole submission, never a mix of two
        k = as_dicts.index(row.scores)
        assert row.overall == pytest.approx(weighted(variants[k]))
        assert row.signal == ("hire", "lean-hire", "lean-no", "no-hire")[k]
    peer = ledger(bank_db, PointKind.PEER_VOTE)
    assert len(peer) == 50
    assert sorted(p.member_id for p in peer) == sorted(cast[name] for name in voters)
    assert {(p.points, p.reference) for p in peer} == {(5, f"interview:{mock}")}
    with bank_db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Vote)) == 50
        interview = session.get_one(Interview, mock)
        assert all_interviewers_voted(session, interview)
        result = result_of(session, interview, DEFAULT_RUBRIC)
    assert result is not None and result.voters == 50
