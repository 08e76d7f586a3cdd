"""The scoring form of a format-v2 question over the wire: Slack's modal and Discord's modal
pages show this question's anchors within the platforms' limits, take ticked red flags, and the
result and the reference design come back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bank.catalog import import_banks
from bank.db import Database
from scoring.models import Vote
from tests.fake_discord import FakeDiscord
from tests.test_anchors_bank import V2_SLUG, v2_banks
from tests.test_discord import Running, answer, buttons, check_limits, newest_with, text_of
from tests.test_discord import fake as fake  # the fixture
from tests.test_partners_discord import reply_text
from tests.test_slack import (
    START,
    Slack,
    all_text,
    check_block_kit,
    check_modal,
    header,
    ok,
)
from tests.test_slack import slack as slack  # the fixture

FULL_ANCHOR = "Handles the offer feedback loop and compares a risk model with an uplift model."
FLAGS = (
    "Trains on features computed after the prediction date.",
    "Treats a declined card the same as a decision to cancel.",
)


def clean_cut(shown: str, full: str) -> bool:
    """`shown` is `full`, or its beginning cut at a word end with "…"."""
    if shown == full:
        return True
    kept = shown.removesuffix("…")
    return shown.endswith("…") and full.startswith(kept) and full[len(kept)] in " ,;:."


def with_v2(db: Database) -> None:
    with db.unit_of_work() as session:
        import_banks(session, v2_banks())


def test_slack_modal_shows_the_anchors(slack: Slack, bank_db: Database) -> None:
    with_v2(bank_db)
    fake, client = slack.fake, slack.client
    mark = fake.mark()
    ok(client.command("UALICE", f"mock {V2_SLUG} <@UBOB|bob>"))
    fake.wait_for(lambda: any(p["channel"] == "DUBOB" for p in slack.posts(mark)))
    root = slack.posts(mark)[0]
    ok(client.command("UALICE", "end #1"))
    fake.wait_for(lambda: any("Mock #1 is over" in header(p) for p in slack.posts(mark)))
    score, ts, thread = slack.last_button("Score this mock")
    mark = fake.mark()
    ok(client.press("UBOB", score, ts, thread))
    fake.wait_for(lambda: bool(fake.since(mark, "views.open")))
    view = fake.since(mark, "views.open")[0].params["view"]
    check_modal(view)
    blocks = {b["block_id"]: b for b in view["blocks"]}
    four = blocks["ml_depth"]["element"]["options"][3]
    assert four["value"] == "4" and clean_cut(four["text"]["text"], f"4 · {FULL_ANCHOR}")
    assert len(four["text"]["text"]) <= 75 and four["text"]["text"].endswith("…")
    assert f"4: {FULL_ANCHOR}" in blocks["ml_depth"]["hint"]["text"]  # the whole anchor
    red = blocks["red_flags"]
    assert red["element"]["type"] == "multi_static_select" and red["optional"] is True
    assert [o["value"] for o in red["element"]["options"]] == ["1", "2", "3"]

    values = dict.fromkeys(("problem_formulation", "system_architecture", "ml_depth"), "4")
    values |= dict.fromkeys(("metrics_evaluation", "trade_off_analysis", "communication"), "4")
    values |= {"signal": "hire", "red_flags": "1,3", "comment": "clear"}
    mark = fake.mark()
    ok(client.submit("UBOB", view, values))

    def results() -> list[dict[str, Any]]:
        return [
            c.params
            for c in fake.since(mark, "chat.postMessage")
            if "Your result for mock #1" in all_text(c.params)
        ]

    fake.wait_for(lambda: bool(results()))
    result = all_text(results()[0])
    # a result must last: a direct message to the candidate
    assert results()[0]["channel"] == "DUALICE" and f"At a 4: {FULL_ANCHOR}" in result
    assert FLAGS[1] in result and "suggests L5" in result
    fake.wait_for(lambda: any("Reference design" in header(p) for p in slack.posts(mark)))
    design = next(p for p in slack.posts(mark) if "Reference design" in header(p))
    assert design["thread_ts"] == root["_ts"] and "graph LR" in all_text(design)
    with bank_db.unit_of_work() as session:
        assert session.scalars(select(Vote.red_flags)).one() == list(FLAGS)
    for call in fake.calls:
        if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            check_block_kit(call.params)


def test_discord_modal_pages_show_the_anchors(fake: FakeDiscord, bank_db: Database) -> None:
    from bot.clock import ManualClock

    with_v2(bank_db)
    running = Running(bank_db, ManualClock(start=START))
    try:
        # the words come in the answer, or in its follow-up when a busy machine made it defer
        started = reply_text(
            fake,
            fake.slash_command(
                "mlsd", "mock", {"topic": V2_SLUG, "interviewer": fake.bob["id"]}, user=fake.alice
            ),
        )
        assert "Mock #1 started" in started
        kit = fake.wait_call(
            "POST", "/messages", where=lambda c: "Interviewer kit" in text_of(c.body)
        )
        assert "200,000 offers a week" in text_of(kit.body)
        mock_thread = fake.wait_call("POST", "/threads").path.split("/")[-2]
        controls = newest_with(fake, "End", mock_thread)
        answer(fake, fake.button_press(buttons(controls)["End"], controls, user=fake.alice))
        summary = newest_with(fake, "Score this mock", mock_thread)
        opened = answer(
            fake, fake.button_press(buttons(summary)["Score this mock"], summary, user=fake.bob)
        )
        assert opened["type"] == 9
        check_limits(opened)
        first_page = opened["data"]
        selects = {
            row["component"]["custom_id"]: row["component"] for row in first_page["components"]
        }
        four = selects["ml_depth"]["options"][3]
        assert four["label"] == "4" and len(four["description"]) <= 100
        assert clean_cut(four["description"], FULL_ANCHOR)
        for component in selects.values():
            for option in component["options"]:
                assert len(option.get("description") or "") <= 100
        fields = {name: "4" for name in selects}
        saved = answer(fake, fake.modal_submit(first_page["custom_id"], fields, user=fake.bob))
        continue_id = next(
            b["custom_id"] for row in saved["data"]["components"] for b in row["components"]
        )
        note = next(
            m for m in reversed(list(fake.messages.values())) if continue_id in buttons(m).values()
        )
        page_two = answer(fake, fake.button_press(continue_id, note, user=fake.bob))
        check_limits(page_two)
        second = {
            row["component"]["custom_id"]: row["component"]
            for row in page_two["data"]["components"]
        }
        red = second["red_flags"]
        assert red["min_values"] == 0 and red["max_values"] == 3 and not red.get("required", True)
        assert [o["label"] for o in red["options"]][
            1
        ] == "Sends offers to everyone with a high risk score without measuring the effect."
        last = {"communication": "4", "signal": "hire", "comment": "good", "red_flags": ["1", "3"]}
        answer(fake, fake.modal_submit(page_two["data"]["custom_id"], last, user=fake.bob))

        def voted() -> list[list[str] | None]:
            with bank_db.unit_of_work() as session:
                return list(session.scalars(select(Vote.red_flags)))

        fake.wait_for(lambda: bool(voted()))
        assert voted() == [list(FLAGS)]
        design = fake.wait_call(
            "POST",
            f"/channels/{mock_thread}/messages",
            where=lambda c: "Reference design" in text_of(c.body),
        )
        assert "graph LR" in text_of(design.body)
    finally:
        running.close()
    for call in fake.calls:
        if call.method in ("POST", "PATCH") and isinstance(call.body, dict):
            check_limits(call.body)
