"""The initial schema: users and sessions, files, assets, plans, checks, approvals, flights,
footage, inspections, defects, jobs and notes (see api/storage/models.py).

Self-contained: it names its own types (every time column is a timezone-aware DateTime, which
``models.UTCDateTime`` wraps) so that later changes to the models never change what it does.
Constraints carry explicit names (``pk_``, ``fk_``, ``uq_``, ``ix_``) so later migrations can
alter them, on SQLite through batch mode too.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: In the order they are created: every table after the tables it refers to.
TABLES = (
    "users",
    "web_sessions",
    "files",
    "jobs",
    "assets",
    "plans",
    "checks",
    "approvals",
    "flights",
    "footage",
    "inspections",
    "defects",
    "notes",
)


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=f"fk_{table}_{column}_{referred}")


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("token_salt", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_index("ix_users_token_id", "users", ["token_id"], unique=True)

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        _fk("web_sessions", "user_id", "users.id"),
    )

    op.create_table(
        "files",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("sha256", name="pk_files"),
    )

    op.create_table(
        "jobs",
        _id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _time("created_at"),
        _time("started_at", nullable=True),
        _time("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        _fk("jobs", "created_by", "users.id"),
    )
    op.create_index("ix_jobs_state", "jobs", ["state"])

    op.create_table(
        "assets",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_assets"),
        _fk("assets", "created_by", "users.id"),
    )

    op.create_table(
        "plans",
        _id(),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
        _fk("plans", "asset_id", "assets.id"),
        _fk("plans", "parent_id", "plans.id"),
        _fk("plans", "created_by", "users.id"),
    )

    op.create_table(
        "checks",
        _id(),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("fixed_plan_id", sa.Integer(), nullable=True),
        _time("window_start"),
        _time("window_end"),
        sa.Column("rules", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_checks"),
        _fk("checks", "plan_id", "plans.id"),
        _fk("checks", "fixed_plan_id", "plans.id"),
        _fk("checks", "created_by", "users.id"),
    )
    op.create_index("ix_checks_plan_id", "checks", ["plan_id"])

    op.create_table(
        "approvals",
        _id(),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        _time("requested_at"),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        _time("decided_at", nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("authorisations", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
        _fk("approvals", "plan_id", "plans.id"),
        _fk("approvals", "check_id", "checks.id"),
        _fk("approvals", "requested_by", "users.id"),
        _fk("approvals", "decided_by", "users.id"),
    )
    op.create_index("ix_approvals_plan_id", "approvals", ["plan_id"])

    op.create_table(
        "flights",
        _id(),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        _time("started_at", nullable=True),
        _time("ended_at", nullable=True),
        sa.Column("track_sha256", sa.String(64), nullable=True),
        sa.Column("tlog_sha256", sa.String(64), nullable=True),
        sa.Column("conformance", sa.JSON(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_flights"),
        _fk("flights", "plan_id", "plans.id"),
        _fk("flights", "track_sha256", "files.sha256"),
        _fk("flights", "tlog_sha256", "files.sha256"),
        _fk("flights", "job_id", "jobs.id"),
        _fk("flights", "created_by", "users.id"),
    )
    op.create_index("ix_flights_plan_id", "flights", ["plan_id"])
    op.create_index("ix_flights_started_at", "flights", ["started_at"])

    op.create_table(
        "footage",
        _id(),
        sa.Column("flight_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("offset_s", sa.Float(), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        _time("uploaded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_footage"),
        _fk("footage", "flight_id", "flights.id"),
        _fk("footage", "sha256", "files.sha256"),
        _fk("footage", "uploaded_by", "users.id"),
    )
    op.create_index("ix_footage_flight_id", "footage", ["flight_id"])

    op.create_table(
        "inspections",
        _id(),
        sa.Column("flight_id", sa.Integer(), nullable=False),
        sa.Column("footage_id", sa.Integer(), nullable=False),
        sa.Column("geojson_sha256", sa.String(64), nullable=False),
        sa.Column("report_sha256", sa.String(64), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_inspections"),
        _fk("inspections", "flight_id", "flights.id"),
        _fk("inspections", "footage_id", "footage.id"),
        _fk("inspections", "geojson_sha256", "files.sha256"),
        _fk("inspections", "report_sha256", "files.sha256"),
        _fk("inspections", "job_id", "jobs.id"),
    )
    op.create_index("ix_inspections_flight_id", "inspections", ["flight_id"])

    op.create_table(
        "defects",
        _id(),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("flight_id", sa.Integer(), nullable=False),
        sa.Column("class_name", sa.String(64), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("error_m", sa.Float(), nullable=False),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("time_s", sa.Float(), nullable=False),
        sa.Column("crop_sha256", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_defects"),
        _fk("defects", "inspection_id", "inspections.id"),
        _fk("defects", "flight_id", "flights.id"),
        _fk("defects", "crop_sha256", "files.sha256"),
    )
    op.create_index("ix_defects_inspection_id", "defects", ["inspection_id"])
    op.create_index("ix_defects_flight_id", "defects", ["flight_id"])

    op.create_table(
        "notes",
        _id(),
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_notes"),
        _fk("notes", "author_id", "users.id"),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)  # its indexes go with it
