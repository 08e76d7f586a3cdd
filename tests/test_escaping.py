"""Untrusted text is escaped by each renderer, by construction (issue 13, DESIGN.md §11).

Properties over random unicode and control sequences run through the real renderers (Block Kit,
Discord embeds, the rich console), then one journey per platform shows a hostile display name
reaching a public post neutralised.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import discord
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from bank.db import Database
from bot.adapters import blockkit, discord_render
from bot.adapters.console import ConsolePort, escape_terminal
from bot.adapters.discord import _send_kwargs
from bot.port import Message
from bot.text import Markup, render, segments
from tests.conftest import examples
from tests.test_slack import Slack, all_text, check_block_kit
from tests.test_slack import slack as slack  # the fixture, re-exported

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0ADMIN>",
    "<#C123|general>",
    "<https://evil.example|https://docs.example>",
    "[click me](https://evil.example)",
    "@everyone",
    "@here",
    "<@123456789012345678>",
    "<@&987654321098765432>",
    "\x1b[2J\x1b[31mred",
    "line\rOVERWRITE",
    "\u202egnp.exe",
    "\x07\x00\x1f\x7f\x9b",
    "&amp; &lt;",
    "*bold* _it_ ~s~ `code` ||spoiler|| > quote",
]
untrusted = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=200),
    st.lists(st.sampled_from(HOSTILE) | st.text(max_size=10), max_size=6).map("".join),
)


def _mrkdwn_texts(message: Message) -> list[str]:
    texts = [blockkit.fallback_text(message)]
    for block in blockkit.message_blocks(message):
        if block["type"] in ("section", "context"):
            text = block.get("text") or block["elements"][0]
            if text["type"] == "mrkdwn":
                texts.append(text["text"])
    return texts


def _unescape_slack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@settings(max_examples=examples(300), deadline=None)
@given(text=untrusted, name=untrusted, value=untrusted)
def test_slack_mrkdwn_never_carries_a_control_sequence(text: str, name: str, value: str) -> None:
    message = Message(text, title=name, fields=((name, value),))
    for rendered in _mrkdwn_texts(message):
        assert "<" not in rendered and ">" not in rendered  # no <!…>, <@…>, <url|label>
        assert not re.search(r"&(?!amp;|lt;|gt;)", rendered)
    assert _unescape_slack(blockkit.mrkdwn(text)) == text  # escaped, never altered


def _discord_strings(message: Message) -> list[str]:
    strings: list[str] = []
    for part in discord_render.message_parts(message):
        for embed in part.embeds:
            strings += [embed.title or "", embed.description or ""]
            strings += [f"{f.name}\n{f.value}" for f in embed.fields]
    return strings


@settings(max_examples=examples(300), deadline=None)
@given(text=untrusted, name=untrusted, value=untrusted)
def test_discord_markdown_never_pings_or_hides_a_link(text: str, name: str, value: str) -> None:
    for rendered in _discord_strings(Message(text, title=name, fields=((name, value),))):
        assert "@everyone" not in rendered and "@here" not in rendered
        assert not re.search(r"(?<!\\)<", rendered), "a < that could start a mention"
        assert not re.search(r"(?<!\\)\[", rendered), "a [ that could start a masked link"
        assert not re.search(r"(?<!\\)`", rendered)


def test_every_discord_send_pings_nobody() -> None:
    parts = discord_render.message_parts(Message("@everyone <@1>"))
    mentions = _send_kwargs(parts[0])["allowed_mentions"]
    assert isinstance(mentions, discord.AllowedMentions)
    assert (mentions.everyone, mentions.users, mentions.roles) == (False, False, False)


@settings(max_examples=examples(300), deadline=None)
@given(text=untrusted, name=untrusted)
def test_console_output_has_no_control_characters(text: str, name: str) -> None:
    out = io.StringIO()
    port = ConsolePort(Console(file=out, width=120, color_system=None), Path("/nonexistent"))
    port.show(Message(text, title=name, fields=((name, text),)), to=name)
    printed = out.getvalue()
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", printed)


def test_terminal_escaping_shows_what_was_there() -> None:
    assert escape_terminal("a\x1b[31mb\r\u202e") == "a\\x1b[31mb\\x0d\\u202e"
    assert escape_terminal("naïve\tcafé\n") == "naïve\tcafé\n"


# -- the trusted/untrusted type ---------------------------------------------------------------


@given(arg=untrusted)
def test_markup_format_keeps_arguments_untrusted(arg: str) -> None:
    text = Markup("Started `#{}` for {name}").format(7, name=arg)
    assert str(text) == f"Started `#7` for {arg}"
    assert render(text, lambda s: "X" * len(s)) == "Started `#X` for " + "X" * len(arg)


def test_markup_combinations() -> None:
    trusted = Markup("*{}*").format("<!channel>")
    joined = Markup(", ").join([trusted, "<b>"])
    assert render(joined, blockkit.escape_mrkdwn) == "*&lt;!channel&gt;*, &lt;b&gt;"
    assert render(Markup("`x`") + "<y>", blockkit.escape_mrkdwn) == "`x`&lt;y&gt;"
    assert render("<y>" + Markup("`x`"), blockkit.escape_mrkdwn) == "&lt;y&gt;`x`"
    assert segments("plain") == (("plain", False),)
    assert render(Markup("`{}`").format(Markup("*ok*")), str) == "`*ok*`"
    # our own markup survives on Discord; the same characters from a user do not
    rendered = discord_render.markdown(Markup("`/mlsd join` {}").format("`/x`"))
    assert rendered.startswith("`/mlsd join` ") and rendered.endswith("\\`/x\\`")


# -- journeys ----------------------------------------------------------------------------------


def test_slack_hostile_display_name_reaches_public_posts_escaped(slack: Slack) -> None:
    slack.fake.users["UEVIL"] = {
        "name": "evil",
        "profile": {"display_name": "<!channel> <https://evil.example|docs>"},
    }
    mark = slack.fake.mark()
    response = slack.client.command("UEVIL", "mock recsys")
    assert response.status == 200
    slack.fake.wait_for(lambda: any("Mock #1" in all_text(p) for p in slack.posts(mark)))
    posts: list[dict[str, Any]] = slack.posts(mark)
    for params in posts:
        check_block_kit(params)
        text = all_text(params)
        assert "<!channel>" not in text and "<https://" not in text
    assert any("&lt;!channel&gt;" in all_text(p) for p in posts)


def test_discord_hostile_display_name_pings_nobody(bank_db: Database) -> None:
    """The real discord.py client against the fake: the mock's public root names the member
    escaped, and the request itself says that nobody may be pinged."""
    from bot.clock import ManualClock
    from tests.fake_discord import pointed_at_fake
    from tests.test_discord import START, TOKEN, Running, answer, text_of

    with pointed_at_fake(TOKEN) as fake:
        evil = fake.add_user("evil")
        evil["global_name"] = "@everyone [docs](https://evil.example) <@&1>"
        running = Running(bank_db, ManualClock(start=START))
        try:
            mark = fake.mark()
            answer(fake, fake.slash_command("mlsd", "mock", {"topic": "recsys"}, user=evil))
            root = fake.wait_call("POST", f"/channels/{fake.channel_id}/messages", after=mark)
            shown = text_of(root.body)
            assert "@\u200beveryone" in shown and "@everyone" not in shown
            assert "\\[docs](https://evil.example)" in shown and "\\<@&1>" in shown
            assert "(`/mlsd join` to interview)" in shown  # our own markup stays markup
            assert root.body["allowed_mentions"] == {"parse": []}
        finally:
            running.close()
