"""Discord embeds, buttons and modal pages for the core's neutral messages and forms.

Discord's limits decide the shape: an embed holds 4,096 characters of description and 25 fields
of 1,024, a message at most 6,000 embed characters and 10 embeds, a row 5 buttons, a message 5
rows, a modal 5 inputs. A long message becomes several parts; a long form becomes pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import discord

from bot.port import Button, Form, FormInput, Message, Style, Tone, clip_words
from bot.text import render

MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FIELDS = 25
MAX_EMBED_TOTAL = 6000
MAX_EMBEDS = 10
MAX_BUTTONS_PER_ROW = 5
MAX_ROWS = 5
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
MAX_MODAL_INPUTS = 5
MAX_MODAL_TITLE = 45
MAX_LABEL = 45
MAX_LABEL_DESCRIPTION = 100
MAX_SELECT_OPTIONS = 25
MAX_OPTION_LABEL = 100
MAX_OPTION_DESCRIPTION = 100
MAX_TEXT_INPUT = 4000
BUTTON_PREFIX = "dojo:"

COLOURS = {
    Tone.INFO: discord.Colour.blurple(),
    Tone.SUCCESS: discord.Colour.green(),
    Tone.WARNING: discord.Colour.gold(),
    Tone.ERROR: discord.Colour.red(),
    Tone.PHASE: discord.Colour.purple(),
}
STYLES = {
    Style.DEFAULT: discord.ButtonStyle.secondary,
    Style.PRIMARY: discord.ButtonStyle.primary,
    Style.DANGER: discord.ButtonStyle.danger,
}


NO_PINGS = discord.AllowedMentions.none()


MARKDOWN_OPENERS = "<[`*_~|"


def _escape_openers(escaped: str) -> str:
    """`<`, `[` and the formatting characters escaped wherever discord.py left them bare (inside
    a whole masked link it escapes only the `[`, so a backtick in the URL part stayed live);
    pairs it already escaped are copied as they are."""
    out: list[str] = []
    chars = iter(escaped)
    for char in chars:
        if char == "\\":
            out += [char, next(chars, "")]
        else:
            out.append("\\" + char if char in MARKDOWN_OPENERS else char)
    return "".join(out)


def escape_markdown(text: str) -> str:
    """Untrusted text for Discord markdown: formatting and masked links escaped, `<` escaped so no
    `<@id>`, `<@&role>` or `<#channel>` forms, and `@everyone`/`@here` broken by discord.py's own
    helpers. Sends also carry `AllowedMentions.none()`, so even a missed mention cannot ping."""
    escaped = _escape_openers(discord.utils.escape_markdown(text))
    return discord.utils.escape_mentions(escaped)


def markdown(text: str) -> str:
    """A core text as Discord markdown: our own markup kept, everything untrusted escaped."""
    return render(text, escape_markdown)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def custom_id(button: Button) -> str:
    """Buttons are addressed by the core's action id and value; both must fit Discord's 100."""
    value = f"{BUTTON_PREFIX}{button.action_id}|{button.value}"
    if len(value) > MAX_CUSTOM_ID:
        raise ValueError(f"button id too long for Discord: {value!r}")
    return value


@dataclass
class Part:
    """One Discord message: its embeds, and (on the last part) the buttons and files."""

    embeds: list[discord.Embed] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # groups to mention (first part only)


def _chunks(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for line in text.splitlines() or [""]:
        while len(line) > limit:
            pieces.append(line[:limit])
            line = line[limit:]
        if current and len(current) + len(line) + 1 > limit:
            pieces.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current or not pieces:
        pieces.append(current)
    return pieces


def _embeds(message: Message) -> list[discord.Embed]:
    colour = COLOURS[message.tone]
    embeds = [
        discord.Embed(description=chunk or None, colour=colour)
        for chunk in _chunks(markdown(message.text), MAX_DESCRIPTION)
    ]
    if message.title:
        embeds[0].title = clip(markdown(message.title), MAX_TITLE)
    current = embeds[-1]
    for raw_name, value in message.fields:
        name = markdown(raw_name)
        for index, chunk in enumerate(_chunks(markdown(value), MAX_FIELD_VALUE)):
            if len(current.fields) >= MAX_FIELDS or len(current) + len(chunk) + 64 > 3000:
                current = discord.Embed(colour=colour)
                embeds.append(current)
            label = name if index == 0 else f"{name} (cont.)"
            current.add_field(name=clip(label, MAX_FIELD_NAME), value=chunk or "-", inline=False)
    return embeds


def message_parts(message: Message) -> list[Part]:
    """Embeds grouped into messages under the 6,000-character and 10-embed limits."""
    parts: list[Part] = [Part()]
    for embed in _embeds(message):
        part = parts[-1]
        total = sum(len(e) for e in part.embeds)
        if part.embeds and (total + len(embed) > MAX_EMBED_TOTAL or len(part.embeds) >= MAX_EMBEDS):
            parts.append(Part())
        parts[-1].embeds.append(embed)
    parts[0].mentions = list(message.mentions)
    parts[-1].buttons = list(message.buttons[: MAX_BUTTONS_PER_ROW * MAX_ROWS])
    parts[-1].files = [(i.filename, i.png) for i in message.images]
    parts[-1].files += [(f.filename, f.content.encode()) for f in message.files]
    return parts


def view_for(buttons: list[Button]) -> discord.ui.View | None:
    """A persistent view (no timeout): its buttons answer also after a restart."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for index, button in enumerate(buttons):
        view.add_item(
            discord.ui.Button(
                label=clip(button.label, MAX_BUTTON_LABEL),
                custom_id=custom_id(button),
                style=STYLES[button.style],
                row=index // MAX_BUTTONS_PER_ROW,
            )
        )
    return view


def form_pages(form: Form) -> list[tuple[FormInput, ...]]:
    """A form split into modals of at most five inputs each."""
    inputs = form.inputs
    return [inputs[i : i + MAX_MODAL_INPUTS] for i in range(0, len(inputs), MAX_MODAL_INPUTS)]


def modal_item(item: FormInput) -> discord.ui.Label[discord.ui.Modal]:
    """One input of a modal: a select (choices) or a text input, under its label."""
    label = clip(item.label, MAX_LABEL)
    description = (
        clip(
            item.hint or (item.label if len(item.label) > MAX_LABEL else ""), MAX_LABEL_DESCRIPTION
        )
        or None
    )
    component: discord.ui.Item[discord.ui.Modal]
    if item.is_choice:
        options = [
            discord.SelectOption(
                label=clip_words(c.label, MAX_OPTION_LABEL),
                value=c.value,
                description=clip_words(c.description, MAX_OPTION_DESCRIPTION) or None,
            )
            for c in item.choices[:MAX_SELECT_OPTIONS]
        ]
        component = discord.ui.Select(
            custom_id=item.name,
            required=item.required,
            min_values=1 if item.required else 0,
            max_values=len(options) if item.multiple else 1,
            options=options,
        )
    else:
        component = discord.ui.TextInput(
            custom_id=item.name,
            required=item.required,
            style=discord.TextStyle.paragraph if item.multiline else discord.TextStyle.short,
            max_length=min(item.max_length, MAX_TEXT_INPUT),
        )
    return discord.ui.Label(text=label, description=description, component=component)
