"""Slack Block Kit for the core's neutral messages and forms, within Block Kit's limits.

Pure functions (no network), so every message the core can produce is checked against the
limits in tests. Images and files are not blocks: the Slack adapter uploads them separately.
"""

from __future__ import annotations

import json
from typing import Any

from bot.port import Choice, Form, FormInput, Message, Style, clip_words
from bot.text import render

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTONS_PER_ACTIONS = 5  # Slack allows 25; five keeps rows readable on phones
MAX_FALLBACK_TEXT = 3000
MAX_MODAL_TITLE = 24
MAX_OPTION_TEXT = 75
MAX_OPTIONS = 100
MAX_INPUT_LENGTH = 3000
MAX_MODAL_BLOCKS = 100
MAX_HINT_TEXT = 2000

Block = dict[str, Any]


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_MRKDWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_mrkdwn(text: str) -> str:
    """Slack's documented escaping for untrusted text in mrkdwn: `&`, `<`, `>`. With `<` gone, no
    `<!channel>`, `<!here>`, `<@U…>` or `<url|label>` can be formed (Slack "Formatting text")."""
    return text.translate(_MRKDWN)


def mrkdwn(text: str) -> str:
    """A core text as mrkdwn: our own markup kept, everything untrusted escaped."""
    return render(text, escape_mrkdwn)


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def _sections(text: str) -> list[Block]:
    """Text split into sections of at most 3,000 characters, on line boundaries when possible."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > MAX_SECTION_TEXT:
            chunks.append(line[:MAX_SECTION_TEXT])
            line = line[MAX_SECTION_TEXT:]
        if len(current) + len(line) + 1 > MAX_SECTION_TEXT:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks if c]


def group_mentions(message: Message) -> str:
    """Slack's user group mention syntax (`<!subteam^ID>`) for the groups a message names; only
    well-formed ids, so nothing typed can become `<!channel>` or another group."""
    return " ".join(f"<!subteam^{g}>" for g in message.mentions if g.isalnum() and g.isupper())


def message_blocks(message: Message) -> list[Block]:
    blocks: list[Block] = []
    if pings := group_mentions(message):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": pings}})
    if message.title:
        blocks.append({"type": "header", "text": plain(message.title, MAX_HEADER_TEXT)})
    blocks.extend(_sections(mrkdwn(message.text)))
    for name, value in message.fields:
        blocks.extend(_sections(f"*{mrkdwn(name)}*\n{mrkdwn(value)}"))
    buttons = [
        {
            "type": "button",
            "text": plain(button.label, MAX_BUTTON_TEXT),
            "action_id": button.action_id,
            "value": button.value or "-",
            **({"style": button.style.value} if button.style is not Style.DEFAULT else {}),
        }
        for button in message.buttons
    ]
    rows = [
        buttons[i : i + MAX_BUTTONS_PER_ACTIONS]
        for i in range(0, len(buttons), MAX_BUTTONS_PER_ACTIONS)
    ]
    action_blocks: list[Block] = [{"type": "actions", "elements": row} for row in rows]
    room = MAX_BLOCKS - len(action_blocks)
    if len(blocks) > room:
        blocks = [
            *blocks[: room - 1],
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": "(shortened: Slack shows at most 50 blocks)"}
                ],
            },
        ]
    return blocks + action_blocks


def fallback_text(message: Message) -> str:
    """The notification text Slack shows where blocks cannot be rendered."""
    head = f"{message.title}: " if message.title else ""
    pings = group_mentions(message)  # our own syntax around ids we checked: not escaped
    text = clip(mrkdwn(head + message.text), MAX_FALLBACK_TEXT - len(pings) - 1)
    return (f"{pings} {text}" if pings else text) or "mlsd-dojo"


def _option_text(choice: Choice) -> str:
    """An option's label with its description (a scoring anchor), clipped at a word to the
    75 characters Slack allows; the full descriptions go in the input's hint."""
    text = f"{choice.label} · {choice.description}" if choice.description else choice.label
    return clip_words(text, MAX_OPTION_TEXT)


def _anchors_hint(item: FormInput) -> str:
    """Every option's full description (the anchors) under the select, each clipped at a word
    so that all of them fit the hint's 2,000 characters."""
    described = [c for c in item.choices if c.description]
    if not described:
        return ""
    room = MAX_HINT_TEXT // len(described) - 1
    return "\n".join(clip_words(f"{c.label}: {c.description}", room) for c in described)


def _input_block(item: FormInput) -> Block:
    if item.is_choice:
        element: dict[str, Any] = {
            "type": "multi_static_select" if item.multiple else "static_select",
            "action_id": item.name,
            "placeholder": plain("Choose", 150),
            "options": [
                {"text": plain(_option_text(c), MAX_OPTION_TEXT), "value": c.value}
                for c in item.choices[:MAX_OPTIONS]
            ],
        }
    else:
        element = {
            "type": "plain_text_input",
            "action_id": item.name,
            "multiline": item.multiline,
            "max_length": min(item.max_length, MAX_INPUT_LENGTH),
        }
    block: Block = {
        "type": "input",
        "block_id": item.name,
        "label": plain(item.label, 2000),
        "element": element,
        "optional": not item.required,
    }
    hint = _anchors_hint(item) or item.hint
    if hint:
        block["hint"] = plain(hint, MAX_HINT_TEXT)
    return block


def modal_view(form: Form, channel_id: str, thread_id: str | None) -> dict[str, Any]:
    """A modal for the form; where it was opened rides along in `private_metadata`."""
    metadata = {
        "form": form.form_id,
        "value": form.value,
        "channel": channel_id,
        "thread": thread_id,
    }
    return {
        "type": "modal",
        "callback_id": form.form_id,
        "title": plain(form.title, MAX_MODAL_TITLE),
        "submit": plain(form.submit_label, MAX_MODAL_TITLE),
        "close": plain("Cancel", MAX_MODAL_TITLE),
        "private_metadata": json.dumps(metadata),
        "blocks": [_input_block(item) for item in form.inputs][:MAX_MODAL_BLOCKS],
    }


def submitted_fields(view: dict[str, Any]) -> dict[str, str]:
    """A submitted modal's values, flattened to name → text (a select gives its value)."""
    fields: dict[str, str] = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        for state in actions.values():
            if state.get("type") == "static_select":
                option = state.get("selected_option") or {}
                fields[block_id] = str(option.get("value", ""))
            elif state.get("type") == "multi_static_select":
                chosen = state.get("selected_options") or []
                fields[block_id] = ",".join(str(o.get("value", "")) for o in chosen)
            else:
                fields[block_id] = str(state.get("value") or "")
    return fields
