"""Workspaces, channels and members are created on first sight, idempotently and race-free.

`Seen` is the one place that decides which workspace an event belongs to (DESIGN.md §10): the
workspace of the *place* it happens in, not of the person acting. A channel belongs to the first
workspace that brought it to the bot; a Slack channel shared between teams (Slack Connect,
Enterprise Grid) keeps that one owner, so it has one schedule, one daily question and one set of
mock numbers, whoever clicks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bank.models import Channel, Member, Workspace
from bank.upsert import insert_ignore
from bot.port import Actor, Place


def workspace_for(session: Session, platform: str, external_id: str) -> Workspace:
    """The workspace, created on first sight. Read first: almost every call finds it, and a
    read takes no write lock (on SQLite, writers queue behind each other)."""
    query = select(Workspace).where(
        Workspace.platform == platform, Workspace.external_id == external_id
    )
    found = session.scalars(query).first()
    if found is not None:
        return found
    insert_ignore(
        session,
        Workspace,
        {
            "platform": platform,
            "external_id": external_id,
            "timezone": "UTC",
            "admin_ids": [],
            "next_mock_number": 1,
        },
        ("platform", "external_id"),
    )
    return session.scalars(query).one()


def member_for(session: Session, workspace: Workspace, user_id: str, name: str | None) -> Member:
    """The member, created on first sight (read first, as in `workspace_for`)."""
    query = select(Member).where(Member.workspace_id == workspace.id, Member.external_id == user_id)
    member = session.scalars(query).first()
    if member is None:
        insert_ignore(
            session,
            Member,
            {"workspace_id": workspace.id, "external_id": user_id, "display_name": name or user_id},
            ("workspace_id", "external_id"),
        )
        member = session.scalars(query).one()
    if name and member.display_name != name and name != user_id:
        member.display_name = name
    return member


def known_channel(session: Session, platform: str, channel_id: str) -> Channel | None:
    """The channel with this platform id in any workspace of the platform (channel ids are
    unique per platform), oldest first."""
    return session.scalars(
        select(Channel)
        .join(Workspace, Workspace.id == Channel.workspace_id)
        .where(Workspace.platform == platform, Channel.external_id == channel_id)
        .order_by(Channel.id)
        .limit(1)
    ).first()


def channel_for(session: Session, workspace: Workspace, channel_id: str) -> Channel:
    insert_ignore(
        session,
        Channel,
        {
            "workspace_id": workspace.id,
            "external_id": channel_id,
            "daily_enabled": False,
            "timezone": "UTC",
            "days": "mon,tue,wed,thu,fri",
        },
        ("workspace_id", "external_id"),
    )
    return session.scalars(
        select(Channel).where(
            Channel.workspace_id == workspace.id, Channel.external_id == channel_id
        )
    ).one()


def set_left(
    session: Session, platform: str, workspace_id: str, user_id: str, when: datetime | None
) -> bool:
    """Mark a member as gone (`when`) or back (None); True if a member row changed."""
    member = session.scalars(
        select(Member)
        .join(Workspace, Workspace.id == Member.workspace_id)
        .where(
            Workspace.platform == platform,
            Workspace.external_id == workspace_id,
            Member.external_id == user_id,
        )
    ).first()
    if member is None or (member.left_at is None) == (when is None):
        return False
    member.left_at = when
    return True


class Seen:
    """The rows behind one event's actor and place, created if new.

    The workspace is the place's (see the module docstring). The platform's admin flag counts only
    there when the actor comes from that same workspace: an admin of another team acting in a
    shared channel is an ordinary member here. A member who acts is present: a departure mark
    (`left_at`) is cleared.
    """

    def __init__(self, session: Session, platform: str, actor: Actor, place: Place) -> None:
        home = workspace_for(session, platform, actor.workspace_id)
        # an empty id (a form without its channel) never matches another workspace's row
        channel = known_channel(session, platform, place.channel_id) if place.channel_id else None
        if channel is None:
            channel = channel_for(session, home, place.channel_id)
        self.channel = channel
        self.workspace = (
            home
            if channel.workspace_id == home.id
            else session.get_one(Workspace, channel.workspace_id)
        )
        self.member = member_for(session, self.workspace, actor.user_id, actor.display_name)
        if self.member.left_at is not None:
            self.member.left_at = None
        platform_admin = actor.is_admin and self.workspace.id == home.id
        self.is_admin = platform_admin or actor.user_id in self.workspace.admin_ids
