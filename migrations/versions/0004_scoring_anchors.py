"""Scores people can trust: bank v2 columns, ticked red flags on votes (issue 14)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 17:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

V2_JSON = ("anchors", "red_flags", "level_bar", "kit", "reference_design", "variants")


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        # format v2 drops both; v1 questions keep theirs
        batch.alter_column("difficulty", existing_type=sa.String(length=10), nullable=True)
        batch.alter_column("strong_signals", existing_type=sa.JSON(), nullable=True)
        for name in V2_JSON:
            batch.add_column(sa.Column(name, sa.JSON(), nullable=True))
        batch.add_column(sa.Column("ladder", sa.String(length=80), nullable=True))
    op.add_column("votes", sa.Column("red_flags", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("votes") as batch:
        batch.drop_column("red_flags")
    # a v2 question has no v1 fields: give it placeholders so the NOT NULLs can come back
    op.execute("UPDATE questions SET difficulty = 'medium' WHERE difficulty IS NULL")
    questions = sa.table("questions", sa.column("strong_signals", sa.JSON()))
    op.execute(
        questions.update().where(questions.c.strong_signals.is_(None)).values(strong_signals={})
    )
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("ladder")
        for name in reversed(V2_JSON):
            batch.drop_column(name)
        batch.alter_column("strong_signals", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("difficulty", existing_type=sa.String(length=10), nullable=False)
