"""Workspaces, channels and members are created on first sight, idempotently and race-free."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bank.models import Channel, Member, Workspace
from bank.upsert import insert_ignore
from bot.port import Actor, Place


def workspace_for(session: Session, platform: str, external_id: str) -> Workspace:
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
    return session.scalars(
        select(Workspace).where(
            Workspace.platform == platform, Workspace.external_id == external_id
        )
    ).one()


def member_for(session: Session, workspace: Workspace, user_id: str, name: str | None) -> Member:
    insert_ignore(
        session,
        Member,
        {"workspace_id": workspace.id, "external_id": user_id, "display_name": name or user_id},
        ("workspace_id", "external_id"),
    )
    member = session.scalars(
        select(Member).where(Member.workspace_id == workspace.id, Member.external_id == user_id)
    ).one()
    if name and member.display_name != name and name != user_id:
        member.display_name = name
    return member


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


class Seen:
    """The rows behind one event's actor and place, created if new."""

    def __init__(self, session: Session, platform: str, actor: Actor, place: Place) -> None:
        self.workspace = workspace_for(session, platform, actor.workspace_id)
        self.member = member_for(session, self.workspace, actor.user_id, actor.display_name)
        self.channel = channel_for(session, self.workspace, place.channel_id)
        self.is_admin = actor.is_admin or actor.user_id in self.workspace.admin_ids
