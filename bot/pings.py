"""Which group a channel's daily post mentions (a Discord role, a Slack user group)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bank.models import ChannelPing
from bank.upsert import upsert


def set_group(session: Session, channel_id: int, group_id: str) -> None:
    """Mention `group_id` in the channel's daily posts; an empty id stops the mentions."""
    if not group_id:
        session.execute(delete(ChannelPing).where(ChannelPing.channel_id == channel_id))
        return
    upsert(
        session,
        ChannelPing,
        {"channel_id": channel_id, "group_id": group_id},
        ("channel_id",),
        ("group_id",),
    )


def group_of(session: Session, channel_id: int) -> str | None:
    ping = session.get(ChannelPing, channel_id)
    return ping.group_id if ping else None
