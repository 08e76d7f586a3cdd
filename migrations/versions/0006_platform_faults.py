"""Platform faults: paused schedules, delivery ledger, form drafts (issue 12)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 17:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PAUSE_COLUMNS = ("paused_reason", "paused_fix", "paused_at", "pause_told_at")


def upgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_reason", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("paused_fix", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pause_told_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("channel_external_id", sa.String(length=64), nullable=True),
        sa.Column("thread_external_id", sa.String(length=64), nullable=True),
        sa.Column("user_external_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("platform", "key", name=op.f("uq_deliveries_platform_key")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_pending", ["state", "created_at"], unique=False)
    op.create_table(
        "form_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("user_external_id", sa.String(length=64), nullable=False),
        sa.Column("form_key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_drafts")),
        sa.UniqueConstraint(
            "platform",
            "user_external_id",
            "form_key",
            name=op.f("uq_form_drafts_platform_user_external_id_form_key"),
        ),
    )
    with op.batch_alter_table("form_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_drafts_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("form_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_drafts_expires_at"))
    op.drop_table("form_drafts")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_pending")
    op.drop_table("deliveries")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        for column in reversed(PAUSE_COLUMNS):
            batch_op.drop_column(column)
