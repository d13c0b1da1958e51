"""File sizes in 64 bits (an upload at the 2 GiB default limit overflowed a 32-bit integer on
PostgreSQL) and an index on flights (public, id) for the public flight list, which counts and
pages public flights on every request.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
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
    with op.batch_alter_table("files") as batch:
        batch.alter_column(
            "size", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
        )
    op.create_index("ix_flights_public_id", "flights", ["public", "id"])


def downgrade() -> None:
    op.drop_index("ix_flights_public_id", table_name="flights")
    with op.batch_alter_table("files") as batch:
        batch.alter_column(
            "size", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
        )
