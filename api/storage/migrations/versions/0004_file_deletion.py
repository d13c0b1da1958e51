"""Retention: when a file's bytes were deleted, and when a flight's footage, track and log
were deleted at the end of its retention (and after how many days).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("flights") as batch:
        batch.add_column(sa.Column("data_deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("deleted_after_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flights") as batch:
        batch.drop_column("deleted_after_days")
        batch.drop_column("data_deleted_at")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("deleted_at")
