"""Hostile input: rate limits, pruned events (issue 13)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 17:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# No schema change was needed: rate-limit counters live in the `limits` storage (memory or a
# shared store, never this database), and pruning processed events uses the existing index on
# processed_events.processed_at. The revision stays in the chain so the numbering holds.


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
