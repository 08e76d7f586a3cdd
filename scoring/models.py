"""Votes and the points ledger: the only tables the scoring layer owns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bank.orm import Base, utcnow


class Vote(Base):
    """One voter's rubric scores for one mock; re-submitting updates this row, never adds one."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("interview_id", "voter_id"),
        CheckConstraint("signal in ('no-hire', 'lean-no', 'lean-hire', 'hire')", name="signal"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    scores: Mapped[dict[str, int]] = mapped_column(JSON)
    overall: Mapped[float] = mapped_column(Float)
    signal: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text, default="")
    red_flags: Mapped[list[str] | None] = mapped_column(JSON)  # the question's flags ticked
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PointsEntry(Base):
    """A point award. (kind, reference, member) is unique: no retry can count anything twice."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("kind", "reference", "member_id"),
        Index("ix_points_ledger_workspace_created", "workspace_id", "created_at"),
        Index("ix_points_ledger_member_created", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(100))
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
