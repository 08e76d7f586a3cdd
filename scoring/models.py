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

from bank.models import Member
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


class MemberTotal(Base):
    """A member's points in one period bucket, kept in step with every ledger write.

    `bucket` is `all`, a month `2026-03` or an ISO week `2026-W13`, both in the workspace's time
    zone. The leaderboard reads the top and a caller's rank from `ix_member_totals_rank` instead
    of summing the ledger; `dojo scoring rebuild` recomputes every row from the ledger.
    """

    __tablename__ = "member_totals"
    __table_args__ = (
        Index("ix_member_totals_rank", "workspace_id", "bucket", "points"),
        Index("ix_member_totals_member", "member_id"),
    )

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    bucket: Mapped[str] = mapped_column(String(10), primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    points: Mapped[int] = mapped_column(Integer)


class MockResult(Base):
    """A settled mock's result, written when it is delivered and rewritten when revised.

    Progress reads these instead of every vote. `criteria` maps criterion id → mean score (1–4);
    `signals` maps signal → number of voters. The calibrated columns stay NULL until rater
    calibration fills them (see `scoring.results.calibrated`).
    """

    __tablename__ = "mock_results"
    __table_args__ = (Index("ix_mock_results_candidate_ended", "candidate_id", "ended_at"),)

    interview_id: Mapped[int] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"))
    ended_at: Mapped[datetime] = mapped_column()
    settled_at: Mapped[datetime] = mapped_column()
    criteria: Mapped[dict[str, float]] = mapped_column(JSON)
    overall: Mapped[float] = mapped_column(Float)
    voters: Mapped[int] = mapped_column(Integer)
    signals: Mapped[dict[str, int]] = mapped_column(JSON)
    calibrated_criteria: Mapped[dict[str, float] | None] = mapped_column(JSON)
    calibrated_overall: Mapped[float | None] = mapped_column(Float)


class ProgressTotal(Base):
    """A member's running sum and count of one criterion's per-mock means in one question family.

    Kept with `mock_results` (a revised result moves the sums by its difference), so progress
    averages and the weakest family are a lookup of at most families × criteria rows, whatever
    the number of mocks.
    """

    __tablename__ = "progress_totals"

    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    family_id: Mapped[int] = mapped_column(
        ForeignKey("families.id", ondelete="CASCADE"), primary_key=True
    )
    criterion: Mapped[str] = mapped_column(String(40), primary_key=True)
    score_sum: Mapped[float] = mapped_column(Float)
    scored: Mapped[int] = mapped_column(Integer)


# Departed members are few: the leaderboard subtracts those ranked above the caller through this
# small partial index instead of joining every member above them.
Index(
    "ix_members_departed",
    Member.workspace_id,
    postgresql_where=Member.left_at.is_not(None),
    sqlite_where=Member.left_at.is_not(None),
)
