"""Rater calibration and level-aware suggestions: properties of the pure functions (hypothesis),
then the whole path on SQLite and PostgreSQL, where results switch to calibrated scores once the
workspace has enough votes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bank.db import Database
from bank.models import Workspace
from bot.flows.scoring_flow import SUBMIT
from scoring import calibration
from scoring.aggregate import LEVELS, Ballot, aggregate, level_cap, suggested_level
from scoring.calibration import MockVote, calibrate, calibrated_scores, leniency
from scoring.rubric import DEFAULT_RUBRIC
from tests.support import Harness
from tests.test_mock_flow import start_mock

PROPERTY = settings(max_examples=60, deadline=None)
IDS = DEFAULT_RUBRIC.ids
VOTERS = ("ana", "ben", "cleo", "dev")
scores_st = st.fixed_dictionaries({c: st.integers(1, 4) for c in IDS})
votes_st = st.lists(
    st.builds(
        MockVote,
        mock=st.sampled_from(("m1", "m2", "m3", "m4")),
        voter=st.sampled_from(VOTERS),
        scores=scores_st,
    ),
    max_size=16,
    unique_by=lambda v: (v.mock, v.voter),
)


@PROPERTY
@given(votes_st)
def test_calibration_never_leaves_1_to_4(votes: list[MockVote]) -> None:
    offsets = leniency(votes)
    assert all(-3 <= o <= 3 for o in offsets.values())
    for vote in votes:
        for score in vote.scores.values():
            assert 1 <= calibrate(score, offsets[vote.voter]) <= 4
    for mock in {v.mock for v in votes}:
        ballots = [Ballot(v.voter, v.scores, "hire") for v in votes if v.mock == mock]
        result = calibrated_scores(ballots, offsets, DEFAULT_RUBRIC)
        assert result is not None
        assert all(1 <= s <= 4 for s in result.criteria.values()) and 1 <= result.overall <= 4


@PROPERTY
@given(st.floats(-10, 10, allow_nan=False), st.integers(1, 4))
def test_calibrate_clamps_any_offset(offset: float, score: int) -> None:
    assert 1 <= calibrate(score, offset) <= 4


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.fixed_dictionaries({c: st.integers(1, 4) for c in IDS}),
            st.fixed_dictionaries({c: st.sampled_from((-2, 0, 2)) for c in IDS}),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_voter_who_agrees_with_the_panel_has_no_offset(
    mocks: list[tuple[dict[str, int], dict[str, int]]],
) -> None:
    votes = []
    for n, (first, gap) in enumerate(mocks):
        # two panelists a gap apart (kept in 1-4), and one who says exactly their mean
        second = {c: s + gap[c] if 1 <= s + gap[c] <= 4 else s for c, s in first.items()}
        middle = {c: (first[c] + second[c]) // 2 for c in IDS}
        second = {c: 2 * middle[c] - first[c] for c in IDS}  # keep the mean whole
        votes += [
            MockVote(f"m{n}", "ana", first),
            MockVote(f"m{n}", "ben", second),
            MockVote(f"m{n}", "agree", middle),
        ]
    assert leniency(votes)["agree"] == pytest.approx(0, abs=1e-12)


@PROPERTY
@given(votes_st, st.randoms(use_true_random=False))
def test_the_order_of_votes_does_not_matter(votes: list[MockVote], rnd: object) -> None:
    shuffled = list(votes)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert leniency(shuffled) == leniency(votes)
    offsets = leniency(votes)
    ballots = [Ballot(v.voter, v.scores, "hire") for v in votes if v.mock == "m1"]
    assert calibrated_scores(ballots, offsets, DEFAULT_RUBRIC) == calibrated_scores(
        list(reversed(ballots)), offsets, DEFAULT_RUBRIC
    )


def test_few_shared_votes_are_shrunk_towards_zero() -> None:
    def lenient(mocks: int) -> float:
        votes = [
            vote
            for n in range(mocks)
            for vote in (
                MockVote(f"m{n}", "ana", dict.fromkeys(IDS, 4)),
                MockVote(f"m{n}", "ben", dict.fromkeys(IDS, 3)),
            )
        ]
        return leniency(votes)["ana"]

    assert 0 < lenient(1) < lenient(5) < lenient(50) < 1  # the plain offset is 1
    assert lenient(50) == pytest.approx(1, abs=0.05)
    assert leniency([MockVote("m1", "solo", dict.fromkeys(IDS, 4))]) == {"solo": 0.0}
    assert calibrated_scores([], {}, DEFAULT_RUBRIC) is None


def test_level_cap_rule() -> None:
    assert [level_cap(level) for level in ("L3", "L4", "L5", "L6")] == ["L4", "L5", "L6", "L6"]
    assert suggested_level(4.0) == "L6"
    assert suggested_level(4.0, "L3") == "L4"  # a perfect answer to an L3 question
    assert suggested_level(3.2, "L3") == "L4" and suggested_level(3.2, "L5") == "L5"
    assert suggested_level(1.5, "L6") == "below L3"  # the cap never lifts a weak answer
    with pytest.raises(ValueError):
        level_cap("L9")


@PROPERTY
@given(st.floats(1, 4), st.sampled_from(("L3", "L4", "L5", "L6")))
def test_the_capped_level_is_never_above_the_uncapped_one(overall: float, level: str) -> None:
    capped, plain = suggested_level(overall, level), suggested_level(overall)
    assert LEVELS.index(capped) <= min(LEVELS.index(plain), LEVELS.index(level_cap(level)))


def test_aggregate_reports_ticked_red_flags_most_ticked_first() -> None:
    ballots = [
        Ballot("ana", dict.fromkeys(IDS, 3), "hire", red_flags=("leaks", "no holdout")),
        Ballot("ben", dict.fromkeys(IDS, 3), "hire", red_flags=("no holdout",)),
        Ballot("cleo", dict.fromkeys(IDS, 3), "hire"),
    ]
    result = aggregate(ballots, DEFAULT_RUBRIC, "L4")
    assert result is not None
    assert result.red_flags == (("no holdout", 2), ("leaks", 1))
    assert (result.level, result.uncapped_level) == ("L5", "L5")


# -- the whole path, on both databases -------------------------------------------------------


def vote(h: Harness, voter: str, number: int, thread: str, score: int) -> None:
    fields = {c: str(score) for c in IDS} | {"signal": "hire"}
    reply = h.action(voter, SUBMIT, str(number), thread, fields)
    assert reply is not None and "vote is in" in reply.message.text, reply


def scored_mock(h: Harness, panel: dict[str, int]) -> str:
    """A mock of alice's, ended and scored by `panel` (voter → score for every criterion);
    returns the text of the result she was sent."""
    number, thread = start_mock(h, "mock recsys " + " ".join(f"@{v}" for v in panel))
    h.command("alice", f"end #{number}")
    before = len(h.private_to("alice"))
    for voter, score in panel.items():
        vote(h, voter, number, thread, score)
    results = [m for m in h.private_to("alice")[before:] if m.title.startswith("Your result")]
    assert len(results) == 1
    return results[0].text


def test_results_switch_to_calibrated_scores_with_enough_votes(
    bank_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calibration, "min_votes", lambda: 4)
    h = Harness(bank_db, tmp_path)
    # bob scores everything 4, carol 2: bob is lenient by 1 point against carol, twice
    first = scored_mock(h, {"bob": 4, "carol": 2})
    assert first.startswith("Overall 3.00 / 4 from 2 voter(s)")  # 2 votes: raw only
    with bank_db.unit_of_work() as session:
        workspace_id = session.query(Workspace.id).scalar()
        assert calibration.workspace_leniency(session, workspace_id) is None
    scored_mock(h, {"bob": 4, "carol": 2})
    with bank_db.unit_of_work() as session:
        offsets = calibration.workspace_leniency(session, workspace_id)
    assert offsets is not None
    bob, carol = sorted(offsets.values(), reverse=True)
    # 12 offsets of +2 each, shrunk by 10 pseudo-votes: 24 / 22
    assert bob == pytest.approx(24 / 22) and carol == pytest.approx(-24 / 22)
    # a mock only bob scores: his 4s are taken down by his leniency, the raw score stays shown
    alone = scored_mock(h, {"bob": 4})
    assert alone.startswith(f"Overall {4 - 24 / 22:.2f} / 4 calibrated (raw 4.00) from 1 voter")
    # progress shows the calibrated overall beside the raw one, from the stored results
    reply = h.command("alice", "progress")
    assert reply is not None
    shown = dict(reply.message.fields)["Overall, calibrated for rater leniency"]
    # the second mock (bob 4, carol 2) calibrates to 3.00 both ways; the third is bob's alone
    assert shown == f"{(3.0 + 4 - 24 / 22) / 2:.2f} (raw 3.50) over 2 mock(s)"
