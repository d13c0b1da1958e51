"""The service's tables (SQLAlchemy 2 ORM). Schema changes go through Alembic migrations
(:mod:`api.storage.migrate`); a test checks that the migrations and these classes agree.

Every time column is :class:`UTCDateTime`: stored in UTC, returned timezone-aware (SQLite
keeps no offset of its own). JSON columns hold documents the project writes itself (plan
parameters, compliance reports, conformance summaries).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ROLES",
    "Approval",
    "Asset",
    "Base",
    "Check",
    "Defect",
    "Disclosure",
    "File",
    "Flight",
    "Footage",
    "Inspection",
    "Job",
    "LedgerCheckpoint",
    "LedgerEntry",
    "LedgerOutbox",
    "Note",
    "Plan",
    "Question",
    "User",
    "WebSession",
    "utcnow",
]

#: The roles a user can have; ``public`` is everyone without a token.
ROLES = ("crew", "regulator", "admin")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"datetime {value.isoformat()} has no time zone (UTC is needed)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


def _user_fk(nullable: bool = False) -> Mapped[Any]:
    return mapped_column(ForeignKey("users.id"), nullable=nullable)


def _created() -> Mapped[Any]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class User(Base):
    """A person with a role and an API token (only a salted hash of its secret is kept)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    token_id: Mapped[str] = mapped_column(String(32), unique=True, index=True, nullable=False)
    token_salt: Mapped[str] = mapped_column(String(64), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[datetime] = _created()


class WebSession(Base):
    """A staff member's browser session (cookie) with its CSRF token."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = _user_fk()
    csrf: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class File(Base):
    """A stored file, named by the SHA-256 of its bytes; ``deleted_at`` is when its bytes
    were deleted at the end of their retention (the row stays: records name it)."""

    __tablename__ = "files"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    media_type: Mapped[str] = mapped_column(String(128), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = _created()
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Asset(Base):
    """A piece of infrastructure to inspect: a GeoJSON geometry and its properties."""

    __tablename__ = "assets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    public: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_by: Mapped[int] = _user_fk()
    created_at: Mapped[datetime] = _created()


class Plan(Base):
    """One revision of a flight plan; a fixed plan is a new row naming its parent."""

    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # planner, upload, fix
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    document: Mapped[str] = mapped_column(Text, nullable=False)  # the project's plan JSON
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_by: Mapped[int] = _user_fk()
    created_at: Mapped[datetime] = _created()


class Check(Base):
    """A compliance check of a plan for a time window, and its report."""

    __tablename__ = "checks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), nullable=False, index=True)
    verdict: Mapped[str] = mapped_column(String(32), nullable=False)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    fixed_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"), nullable=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    rules: Mapped[str] = mapped_column(String(64), nullable=False)
    created_by: Mapped[int] = _user_fk()
    created_at: Mapped[datetime] = _created()


class Approval(Base):
    """A request to fly a plan and its decision: who decided what, and when."""

    __tablename__ = "approvals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), nullable=False, index=True)
    check_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # requested/approved/rejected
    requested_by: Mapped[int] = _user_fk()
    requested_at: Mapped[datetime] = _created()
    decided_by: Mapped[int | None] = _user_fk(nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="", nullable=False)
    authorisations: Mapped[list[Any]] = mapped_column(JSON, default=list, nullable=False)


class Flight(Base):
    """A flight: flown by the service (built-in vehicle, SITL) or uploaded as a log."""

    __tablename__ = "flights"
    __table_args__ = (Index("ix_flights_public_id", "public", "id"),)  # the public list
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"), nullable=True, index=True)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # builtin, sitl, upload
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # queued/flying/flown/failed
    purpose: Mapped[str] = mapped_column(String(200), default="", nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    track_sha256: Mapped[str | None] = mapped_column(ForeignKey("files.sha256"), nullable=True)
    tlog_sha256: Mapped[str | None] = mapped_column(ForeignKey("files.sha256"), nullable=True)
    conformance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)
    public: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_by: Mapped[int] = _user_fk()
    created_at: Mapped[datetime] = _created()
    # footage, track and log deleted at the end of a retention of this many days
    data_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deleted_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Footage(Base):
    """A video (or a zip of photos) uploaded for a flight."""

    __tablename__ = "footage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flight_id: Mapped[int] = mapped_column(ForeignKey("flights.id"), nullable=False, index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("files.sha256"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # video, photos
    offset_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    uploaded_by: Mapped[int] = _user_fk()
    uploaded_at: Mapped[datetime] = _created()


class Inspection(Base):
    """The defects found in one footage upload: its GeoJSON, report and counts."""

    __tablename__ = "inspections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flight_id: Mapped[int] = mapped_column(ForeignKey("flights.id"), nullable=False, index=True)
    footage_id: Mapped[int] = mapped_column(ForeignKey("footage.id"), nullable=False)
    geojson_sha256: Mapped[str] = mapped_column(ForeignKey("files.sha256"), nullable=False)
    report_sha256: Mapped[str | None] = mapped_column(ForeignKey("files.sha256"), nullable=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)
    created_at: Mapped[datetime] = _created()


class Defect(Base):
    """One distinct defect placed on the map."""

    __tablename__ = "defects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(
        ForeignKey("inspections.id"), nullable=False, index=True
    )
    flight_id: Mapped[int] = mapped_column(ForeignKey("flights.id"), nullable=False, index=True)
    class_name: Mapped[str] = mapped_column(String(64), nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    lon: Mapped[float] = mapped_column(Float, nullable=False)
    lat: Mapped[float] = mapped_column(Float, nullable=False)
    error_m: Mapped[float] = mapped_column(Float, nullable=False)
    sightings: Mapped[int] = mapped_column(Integer, nullable=False)
    time_s: Mapped[float] = mapped_column(Float, nullable=False)
    crop_sha256: Mapped[str | None] = mapped_column(ForeignKey("files.sha256"), nullable=True)


class Job(Base):
    """Long work run in the background, with its progress; never lost silently."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    percent: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    message: Mapped[str] = mapped_column(Text, default="", nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[int | None] = _user_fk(nullable=True)
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Note(Base):
    """A note a regulator (or staff) wrote on a record."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(16), nullable=False)
    subject_id: Mapped[int] = mapped_column(Integer, nullable=False)
    author_id: Mapped[int] = _user_fk()
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created()


class LedgerEntry(Base):
    """One entry of the transparency log: its canonical JSON (the leaf's bytes) and leaf hash.

    Rows are only ever inserted, by :class:`api.ledger.LedgerStore`, in index order.
    """

    __tablename__ = "ledger_entries"
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    subject: Mapped[str] = mapped_column(String(64), nullable=False, index=True)  # "flight:12"
    entry: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON (RFC 8785)
    leaf_hash: Mapped[str] = mapped_column(String(64), nullable=False)  # lowercase hex
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class LedgerCheckpoint(Base):
    """A signed tree head: the log's size and root at a time, signed with the log's key."""

    __tablename__ = "ledger_checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    root_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    signature: Mapped[str] = mapped_column(String(128), nullable=False)
    public_key: Mapped[str] = mapped_column(String(64), nullable=False)


class LedgerOutbox(Base):
    """An entry waiting to be appended, written in the same transaction as the record it
    describes (so a record and its entry commit together) and drained into the log after."""

    __tablename__ = "ledger_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    subject: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    corrects: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = _created()


class Disclosure(Base):
    """One published version of a flight's public disclosure record (never edited: a new
    version is a new row)."""

    __tablename__ = "disclosures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flight_id: Mapped[int] = mapped_column(ForeignKey("flights.id"), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    record: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    record_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    published_at: Mapped[datetime] = _created()


class Question(Base):
    """A citizen's question about a flight, its review by staff and the answer."""

    __tablename__ = "questions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flight_id: Mapped[int] = mapped_column(ForeignKey("flights.id"), nullable=False, index=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)  # as asked: staff only
    text_public: Mapped[str] = mapped_column(Text, nullable=False)  # contacts masked
    lang: Mapped[str] = mapped_column(String(8), default="en", nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # pending/published/rejected
    asked_at: Mapped[datetime] = _created()
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reviewed_by: Mapped[int | None] = _user_fk(nullable=True)
    review_note: Mapped[str] = mapped_column(Text, default="", nullable=False)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answered_by: Mapped[int | None] = _user_fk(nullable=True)
