"""Which workspaces a process may act for on its own initiative (DESIGN.md §10).

Due work (daily prompts, phase reminders, idle closes, result deliveries) is found by scans over
shared tables. Each scan filters by the process's `Scope`: the platform whose token it holds and,
where a token covers only some workspaces (a Slack bot token belongs to one team), those
workspaces. So a Slack process never posts to a Discord channel id, nor to another team's channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import InstrumentedAttribute

from bank.models import Workspace


@dataclass(frozen=True)
class Scope:
    platform: str
    # external ids (Slack team ids, Discord guild ids); None: every workspace of the platform
    workspaces: frozenset[str] | None = None

    def workspace_ids(self) -> Select[int]:
        """A subquery of the `workspaces.id`s this process owns."""
        query = select(Workspace.id).where(Workspace.platform == self.platform)
        if self.workspaces is not None:
            query = query.where(Workspace.external_id.in_(sorted(self.workspaces)))
        return query

    def owns(self, workspace_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        """The one claim filter every due-work scan applies to its rows' workspace column."""
        return workspace_id.in_(self.workspace_ids())
