"""Hostile input: random and nasty commands and form submissions never crash the core, always
get a reply that fits a chat message, and store nothing when they are refused."""

from __future__ import annotations

import io
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from sqlalchemy import func, select

from bank.db import Database
from bank.files import BankFileError, parse_bank_text
from bank.models import DailyPrompt, Interview, InterviewParticipant, Member, Workspace
from bot.adapters import blockkit, discord_render
from bot.adapters.console import ConsolePort
from bot.flows import bank_flow, scoring_flow
from bot.grammar import USAGE, UsageError, parse
from bot.port import Actor, Command, Message, Place, Tone
from scoring.models import PointsEntry, Vote
from scoring.rubric import DEFAULT_RUBRIC
from tests.conftest import examples
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


@settings(max_examples=examples(400), deadline=None)
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
        max_examples=examples(150),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
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
        max_examples=examples(150),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
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


# -- issue 13: hostile names, comments, bank files and payload shapes --------------------------

CONTROL = [
    "<!channel>",
    "<!here|here>",
    "<@U0ADMIN>",
    "<https://evil.example|docs>",
    "[docs](https://evil.example)",
    "@everyone",
    "<@&123456789012345678>",
    "\x1b[2J",
    "\r",
    "\u202e",
    "\x07",
]
HOSTILE_TEXT = st.one_of(
    st.sampled_from(CONTROL),
    st.text(max_size=80),
    st.lists(st.sampled_from(CONTROL) | st.text(max_size=8), max_size=5).map("".join),
)
NAME = HOSTILE_TEXT.filter(lambda n: n.strip() != "")


def assert_safe_everywhere(message: Message) -> None:
    """A message as each platform would send it: within limits, nothing live from users."""
    blocks = blockkit.message_blocks(message)
    assert 0 < len(blocks) <= blockkit.MAX_BLOCKS
    for block in blocks:
        text = block.get("text", {})
        if text.get("type") == "mrkdwn":
            assert len(text["text"]) <= blockkit.MAX_SECTION_TEXT
            assert "<!" not in text["text"] and "<@" not in text["text"]
            assert "<http" not in text["text"]
    assert "<!" not in blockkit.fallback_text(message)
    for part in discord_render.message_parts(message):
        assert len(part.embeds) <= discord_render.MAX_EMBEDS
        assert sum(len(e) for e in part.embeds) <= discord_render.MAX_EMBED_TOTAL
        for embed in part.embeds:
            shown = [embed.title or "", embed.description or ""]
            shown += [f"{f.name} {f.value}" for f in embed.fields]
            for text in shown:
                assert "@everyone" not in text and not re.search(r"(?<!\\)<[@#]", text)
                assert not re.search(r"(?<!\\)\[[^\]]*\]\(", text)
    out = io.StringIO()
    ConsolePort(Console(file=out, width=120, color_system=None), Path("/nonexistent")).show(
        Message(message.text, title=message.title, fields=message.fields)
    )
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]", out.getvalue())


def test_fuzzed_display_names_reach_every_platform_escaped(
    bank_db: Database, tmp_path: Path
) -> None:
    harness = Harness(bank_db, tmp_path)

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(name=NAME, topic=HOSTILE_TEXT)
    def run(name: str, topic: str) -> None:
        actor = Actor("console", f"user-{abs(hash(name)) % 10**9}", name)
        before = len(harness.port.posted)
        for text in ("mock recsys", f"mock {topic}", "progress", "leaderboard"):
            reply = harness.dojo.handle_command(Command.from_text(text, actor, Place("general")))
            assert reply is not None and len(reply.message.text) < REPLY_LIMIT
            assert_safe_everywhere(reply.message)
        for posted in harness.port.posted[before:]:
            assert_safe_everywhere(posted.message)

    run()


def test_fuzzed_comments_and_forms_render_safely(bank_db: Database, tmp_path: Path) -> None:
    harness = Harness(bank_db, tmp_path, admins=("alice",))
    harness.feed("alice: /mlsd mock recsys @bob", "alice: /mlsd end #1")

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(comment=HOSTILE_TEXT, form_id=st.sampled_from([scoring_flow.SUBMIT, bank_flow.ADD]))
    def run(comment: str, form_id: str) -> None:
        form = (
            scoring_flow.vote_form(1, DEFAULT_RUBRIC)
            if form_id == scoring_flow.SUBMIT
            else (bank_flow.add_form())
        )
        fields = {i.name: comment for i in form.inputs}
        before = len(harness.port.posted)
        reply = harness.action("bob", form_id, "1", fields=fields)
        assert reply is not None
        assert_safe_everywhere(reply.message)
        for posted in harness.port.posted[before:]:
            assert_safe_everywhere(posted.message)

    run()


YAML_PIECES = st.sampled_from(
    [
        "family: x\n",
        "questions:\n",
        "  - slug: a\n",
        "- ",
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a ",
        "!!python/object:os.system ",
        "? ",
        ": ",
        "'",
        '"',
        "\t",
        "\x00",
        "é",
        "%YAML 1.1\n",
        "---\n",
    ]
)


@settings(max_examples=examples(300), deadline=None)
@given(text=st.one_of(st.text(max_size=200), st.lists(YAML_PIECES, max_size=30).map("".join)))
def test_fuzzed_bank_files_fail_only_as_bank_file_errors(text: str) -> None:
    try:
        parse_bank_text(text, Path("fuzz.yaml"))
    except BankFileError as exc:
        assert exc.problems and all(p.startswith("fuzz.yaml") for p in exc.problems)
        assert "Traceback" not in str(exc)


@settings(max_examples=examples(200), deadline=None)
@given(action=st.from_regex(r"[a-z:]{1,20}", fullmatch=True), value=st.text(max_size=40))
def test_fuzzed_discord_custom_ids(action: str, value: str) -> None:
    """Whatever a button's custom id says, the template either does not match or gives the
    core an action id and value that it answers with a short reply (or ignores)."""
    custom = f"{discord_render.BUTTON_PREFIX}{action}|{value}"
    match = re.fullmatch(r"dojo:(?P<action>[a-z:]+)\|(?P<value>[^|]*)", custom)
    if match is None:
        assert "|" in value
        return
    assert (match["action"], match["value"]) == (action, value)


def test_fuzzed_discord_actions_through_the_core(bank_db: Database, tmp_path: Path) -> None:
    harness = Harness(bank_db, tmp_path)

    @settings(
        max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        action=st.sampled_from(
            ["mock:next", "mock:pause", "mock:end", "vote:open", "daily:reveal", "x:y", "bank:add"]
        ),
        value=st.text(max_size=30),
    )
    def run(action: str, value: str) -> None:
        reply = harness.action("mallory", action, value)
        assert reply is not None and len(reply.message.text) < REPLY_LIMIT
        assert_safe_everywhere(reply.message)

    run()
    assert _counts(bank_db)["votes"] == 0
