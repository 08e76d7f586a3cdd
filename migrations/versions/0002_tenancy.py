"""Tenant boundaries: workspace bank layers, platform-owned due work, departed members (issue 11)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 17:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("members", sa.Column("left_at", sa.DateTime(timezone=True), nullable=True))
    # NULL: the shipped, operator-owned bank every workspace reads; otherwise the workspace that
    # added it. Existing rows stay shared: they came from the operator's bank files.
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("workspace_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_questions_workspace_id_workspaces",
            "workspaces",
            ["workspace_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_questions_workspace_id", ["workspace_id"])
    op.create_table(
        "workspace_retirements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_workspace_retirements_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name=op.f("fk_workspace_retirements_question_id_questions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_retirements")),
        sa.UniqueConstraint(
            "workspace_id",
            "question_id",
            name=op.f("uq_workspace_retirements_workspace_id_question_id"),
        ),
    )
    # when an interviewer first took part (joined themselves, wrote in the thread)
    op.add_column(
        "interview_participants",
        sa.Column("took_part_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("interview_participants") as batch:
        batch.drop_column("took_part_at")
    op.drop_table("workspace_retirements")
    with op.batch_alter_table("questions") as batch:
        batch.drop_index("ix_questions_workspace_id")
        batch.drop_constraint("fk_questions_workspace_id_workspaces", type_="foreignkey")
        batch.drop_column("workspace_id")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("left_at")
