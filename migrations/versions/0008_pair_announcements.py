"""Pairs matched but not yet told: an announcement a crash cut off is finished later (issue 16)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 22:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pair_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("announcing_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("interview_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("booking_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_pair_requests_interview_id_interviews"),
            "interviews",
            ["interview_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_pair_requests_booking_id_bookings"),
            "bookings",
            ["booking_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Matches made before this revision were announced in their own command: never again.
    op.execute(
        "UPDATE pair_requests SET announced_at = closed_at, announcing_at = closed_at "
        "WHERE status = 'matched'"
    )


def downgrade() -> None:
    with op.batch_alter_table("pair_requests", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_pair_requests_booking_id_bookings"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_pair_requests_interview_id_interviews"), type_="foreignkey"
        )
        batch_op.drop_column("booking_id")
        batch_op.drop_column("interview_id")
        batch_op.drop_column("announced_at")
        batch_op.drop_column("announcing_at")
