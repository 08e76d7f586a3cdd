"""The practice-partner subcommands of the Discord `/mlsd` group: pair, book, bookings, suggest.

Like the rest of the group, options are joined back into the core's command text, so the one
grammar in `bot.grammar` parses them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.adapters.discord_render import clip
from bot.grammar import USAGE

if TYPE_CHECKING:
    from bot.adapters.discord import DojoDiscord

Autocomplete = Callable[
    [discord.Interaction[Any], str], Coroutine[Any, Any, list[app_commands.Choice[str]]]
]
LEVELS = [app_commands.Choice(name=level, value=level) for level in ("L3", "L4", "L5", "L6")]


def add_partner_commands(group: app_commands.Group, bot: DojoDiscord, topics: Autocomplete) -> None:
    def describe(name: str) -> str:
        return clip(USAGE[name][1], 100)

    @group.command(name="pair", description=describe("pair"))
    @app_commands.describe(
        when="now, or HH:MM for a window of an hour",
        timezone="e.g. Europe/Berlin",
        days="e.g. mon-fri",
        leave="leave the queue instead",
    )
    @app_commands.choices(level=LEVELS)
    @app_commands.autocomplete(topic=topics)
    async def pair(
        interaction: discord.Interaction[Any],
        topic: str | None = None,
        level: app_commands.Choice[str] | None = None,
        when: str | None = None,
        timezone: str | None = None,
        days: str | None = None,
        leave: bool = False,
    ) -> None:
        if leave:
            await bot.on_command(interaction, "pair", ["leave"])
            return
        await bot.on_command(
            interaction,
            "pair",
            [topic, level.value if level else None, when, timezone, days],
        )

    @group.command(name="book", description=describe("book"))
    @app_commands.describe(
        time="HH:MM", timezone="e.g. Europe/Berlin", date="YYYY-MM-DD, today, tomorrow or a weekday"
    )
    @app_commands.autocomplete(topic=topics)
    async def book(
        interaction: discord.Interaction[Any],
        time: str,
        topic: str | None = None,
        timezone: str | None = None,
        date: str | None = None,
    ) -> None:
        await bot.on_command(interaction, "book", [topic, "at", time, timezone, date])

    @group.command(name="bookings", description=describe("bookings"))
    async def bookings(interaction: discord.Interaction[Any]) -> None:
        await bot.on_command(interaction, "bookings", [])

    @group.command(name="suggest", description=describe("suggest"))
    async def suggest(interaction: discord.Interaction[Any]) -> None:
        await bot.on_command(interaction, "suggest", [])
