"""Hostile input: random and nasty commands and form submissions never crash the core, always
get a reply that fits a chat message, and store nothing when they are refused."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bank.db import Database
from bank.models import DailyPrompt, Interview, InterviewParticipant, Member, Workspace
from bot.flows import bank_flow, scoring_flow
from bot.grammar import USAGE, UsageError, parse
from bot.port import Tone
from scoring.models import PointsEntry, Vote
from scoring.rubric import DEFAULT_RUBRIC
from tests.support import Harness

NASTY = [
    "'; DROP TABLE votes; --",
    "<@U123|x> <@!99999999999999999999>",
    "@" * 500,
    "#" * 300,
    "\x00\x01\x02",
    "💥" * 200,
    "ʻokina ‮rtl",
    "9" * 5000,
    "%s%s%n",
    "{{7*7}}",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "\n\n\n",
    "#-1",
    "#99999999999999999999",
    "—",
]
words = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=60),
    st.sampled_from([*USAGE, "now", "off", "#1", "3", "4", "hire", "@bob", "quick"]),
)
COMMAND_TEXT = st.lists(words, max_size=8).map(" ".join)
SUBCOMMANDS = st.one_of(st.sampled_from(list(USAGE)), st.text(max_size=20))
REPLY_LIMIT = 4000  # the shortest platform limit that applies to a reply's text (Discord: 4096)


@settings(max_examples=400, deadline=None)
@given(name=SUBCOMMANDS, args=COMMAND_TEXT)
def test_parser_never_raises_anything_but_usage_errors(name: str, args: str) -> None:
    try:
        parse(name, args)
    except UsageError as exc:
        assert len(exc.text) < 600 and exc.text.count("\n") <= 1


def _counts(db: Database) -> dict[str, int]:
    with db.unit_of_work() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Interview, InterviewParticipant, Vote, DailyPrompt, PointsEntry)
        }


def test_fuzzed_commands_through_the_core(bank_db: Database, tmp_path: Path) -> None:
    harness = Harness(bank_db, tmp_path, admins=())  # nobody is an admin: nothing may change

    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(name=SUBCOMMANDS.filter(lambda n: n not in ("mock", "join")), args=COMMAND_TEXT)
    def run(name: str, args: str) -> None:
        reply = harness.command("mallory", f"{name} {args}")
        assert reply is not None
        assert len(reply.message.text) < REPLY_LIMIT
        assert "Traceback" not in reply.message.text

    run()
    counts = _counts(bank_db)
    # help, leaderboard, progress and bank browsing store nothing; refusals store nothing
    assert counts == {
        "interviews": 0,
        "interview_participants": 0,
        "votes": 0,
        "daily_prompts": 0,
        "points_ledger": 0,
    }


def test_fuzzed_form_submissions(bank_db: Database, tmp_path: Path) -> None:
    harness = Harness(bank_db, tmp_path, admins=("alice",))
    harness.feed("alice: /mlsd mock recsys @bob", "alice: /mlsd end #1")
    forms = {
        scoring_flow.SUBMIT: scoring_flow.vote_form(1, DEFAULT_RUBRIC),
        bank_flow.ADD: bank_flow.add_form(),
        bank_flow.IMPORT: bank_flow.import_form(),
    }
    field_values = st.one_of(
        st.sampled_from(NASTY),
        st.text(max_size=300),
        st.sampled_from(["0", "5", "-1", "3", "hired", "L9", ""]),
    )

    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        form_id=st.sampled_from(list(forms)),
        data=st.data(),
        value=st.sampled_from(["1", "999", "", "x"]),
    )
    def run(form_id: str, data: st.DataObject, value: str) -> None:
        form = forms[form_id]
        fields = {i.name: data.draw(field_values) for i in form.inputs}
        reply = harness.action("mallory", form_id, value, fields=fields)
        assert reply is not None and len(reply.message.text) < REPLY_LIMIT

    run()
    counts = _counts(bank_db)
    assert counts["votes"] == 0, "no fuzzed vote can be valid: signals and scores are drawn wrong"
    with bank_db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Workspace)) == 1
        names = set(session.scalars(select(Member.display_name)))
    assert names <= {"alice", "bob", "mallory"}


def test_mentions_the_platform_did_not_resolve_are_refused(
    bank_db: Database, tmp_path: Path
) -> None:
    """Typed ids are not people: without the platform's resolved data nobody is created."""
    harness = Harness(bank_db, tmp_path)
    before = _counts(bank_db)
    reply = harness.command("alice", "mock recsys <@U999|ghost> <@!123456789012345678>")
    assert reply is not None and reply.message.tone is Tone.ERROR
    assert "could not confirm <@U999>" in reply.message.text
    after = _counts(bank_db)
    assert after == before  # no mock, no participant: nothing at all was written
