"""Running totals for leaderboards and stored progress aggregates (issue 15)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 17:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty at first; the bot fills both from the ledger and the votes on its next start
    # (scoring.results.backfill), under the start-up lock, with the code that maintains them.
    op.create_table(
        "member_totals",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=10), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_totals_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_member_totals_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "bucket", "member_id", name=op.f("pk_member_totals")
        ),
    )
    with op.batch_alter_table("member_totals") as batch:
        batch.create_index("ix_member_totals_rank", ["workspace_id", "bucket", "points"])
        batch.create_index("ix_member_totals_member", ["member_id"])
    op.create_table(
        "mock_results",
        sa.Column("interview_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("overall", sa.Float(), nullable=False),
        sa.Column("voters", sa.Integer(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("calibrated_criteria", sa.JSON(), nullable=True),
        sa.Column("calibrated_overall", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["members.id"],
            name=op.f("fk_mock_results_candidate_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_mock_results_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"], ["questions.id"], name=op.f("fk_mock_results_question_id_questions")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_mock_results_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("interview_id", name=op.f("pk_mock_results")),
    )
    with op.batch_alter_table("mock_results") as batch:
        batch.create_index("ix_mock_results_candidate_ended", ["candidate_id", "ended_at"])
    op.create_table(
        "progress_totals",
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(length=40), nullable=False),
        sa.Column("score_sum", sa.Float(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["members.id"],
            name=op.f("fk_progress_totals_candidate_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["families.id"],
            name=op.f("fk_progress_totals_family_id_families"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "candidate_id", "family_id", "criterion", name=op.f("pk_progress_totals")
        ),
    )
    departed = sa.text("left_at IS NOT NULL")
    with op.batch_alter_table("members") as batch:
        batch.create_index(
            "ix_members_departed",
            ["workspace_id"],
            postgresql_where=departed,
            sqlite_where=departed,
        )


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.drop_index("ix_members_departed")
    op.drop_table("progress_totals")
    op.drop_table("mock_results")
    op.drop_table("member_totals")
