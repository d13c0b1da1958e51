"""The transparency log (entries, signed checkpoints, the outbox entries wait in until they
are appended), the published disclosure records of flights, and citizens' questions.

Self-contained like 0001: it names its own types and constraint names.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=f"fk_{table}_{column}_{referred}")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
        _time("logged_at"),
        sa.PrimaryKeyConstraint("idx", name="pk_ledger_entries"),
    )
    op.create_index("ix_ledger_entries_subject", "ledger_entries", ["subject"])

    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_checkpoints"),
    )
    op.create_index("ix_ledger_checkpoints_tree_size", "ledger_checkpoints", ["tree_size"])

    op.create_table(
        "ledger_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("corrects", sa.BigInteger(), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_outbox"),
    )

    op.create_table(
        "disclosures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flight_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        _time("published_at"),
        sa.PrimaryKeyConstraint("id", name="pk_disclosures"),
        _fk("disclosures", "flight_id", "flights.id"),
    )
    op.create_index("ix_disclosures_flight_id", "disclosures", ["flight_id"])

    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flight_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_public", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _time("asked_at"),
        _time("reviewed_at", nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        _time("answered_at", nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_questions"),
        _fk("questions", "flight_id", "flights.id"),
        _fk("questions", "reviewed_by", "users.id"),
        _fk("questions", "answered_by", "users.id"),
    )
    op.create_index("ix_questions_flight_id", "questions", ["flight_id"])


def downgrade() -> None:
    op.drop_table("questions")
    op.drop_table("disclosures")
    op.drop_table("ledger_outbox")
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_entries")
