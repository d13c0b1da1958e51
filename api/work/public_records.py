"""What the public sees of the published flight records: the reads that the public API
(:mod:`api.routes.public`) and the public pages (:mod:`api.site.pages`) share.

- :func:`list_disclosures`: the latest version of each published record, newest flight first,
  narrowed by :class:`Filters` (UTC dates of take-off, a public asset, purpose text);
- :func:`flight_disclosure`, :func:`disclosure_versions`, :func:`published_questions`;
- :func:`proof_status`: the log entries about a flight and whether its latest record's
  ``disclosure_published`` entry is in the signed log, checked here
  (:func:`compliance.ledger.verify_inclusion` against the latest checkpoint, its signature,
  and the entry's ``record_sha256`` against the record itself);
- :func:`public_stats`: flights per month, the share approved and flown as planned,
  questions answered and the median time to answer, and how many flights are in the log
  without a public record (non-public flights), reused for :data:`STATS_TTL_S` seconds.

A flight marked non-public after its record was published drops out of every read.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, String, and_, case, cast, exists, func, literal, select, true
from sqlalchemy.orm import Session, aliased

from api.storage.models import Asset, Disclosure, Flight, LedgerEntry, Question
from api.storage.models import Plan as PlanRow

__all__ = [
    "Filters",
    "LedgerRef",
    "ProofStatus",
    "disclosure_statement",
    "disclosure_versions",
    "flight_disclosure",
    "list_disclosures",
    "proof_status",
    "public_assets",
    "public_stats",
    "published_questions",
]

log = logging.getLogger("skyledger.api")

#: How long a list's total is reused.
TOTAL_TTL_S = 2.0
#: How long the statistics are reused (counting every record costs more than a page).
STATS_TTL_S = 10.0


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What a list of records is narrowed to (None: no condition)."""

    start: date | None = None
    end: date | None = None
    asset_id: int | None = None
    purpose: str | None = None


def _is_latest() -> Any:
    """True for a record that no later version of the same flight replaces (an index lookup
    per row, so a page read in flight order stops after the page)."""
    newer = aliased(Disclosure)
    return ~exists().where(
        newer.flight_id == Disclosure.flight_id, newer.version > Disclosure.version
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def disclosure_statement(filters: Filters) -> Select[Any]:
    """The latest version of each matching public record (unordered)."""
    taken_off = func.coalesce(Flight.started_at, Flight.ended_at)
    statement = (
        select(Disclosure)
        .join(Flight, Flight.id == Disclosure.flight_id)
        .where(Flight.public == true(), _is_latest())
    )
    if filters.start is not None:
        statement = statement.where(taken_off >= _midnight(filters.start))
    if filters.end is not None:
        statement = statement.where(taken_off < _midnight(filters.end) + timedelta(days=1))
    if filters.purpose:
        statement = statement.where(Flight.purpose.ilike(_like(filters.purpose), escape="\\"))
    if filters.asset_id is not None:
        plans = (
            select(PlanRow.id)
            .join(Asset, Asset.id == PlanRow.asset_id)
            .where(PlanRow.asset_id == filters.asset_id, Asset.public == true())
        )
        statement = statement.where(Flight.plan_id.in_(plans))
    return statement


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def list_disclosures(
    session: Session, filters: Filters, limit: int, offset: int, app: Any = None
) -> tuple[list[Disclosure], int]:
    """One page of the latest records, newest flight first, and how many match in all.

    With ``app``, the total is reused for :data:`TOTAL_TTL_S` seconds (counting 100,000
    records costs more than reading a page of them).
    """
    statement = disclosure_statement(filters)
    total = _kept_total(app, filters)
    if total is None:
        total = int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)
        _keep_total(app, filters, total)
    rows = session.scalars(statement.order_by(Flight.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


_totals_lock = threading.Lock()


def _kept_total(app: Any, filters: Filters) -> int | None:
    if app is None:
        return None
    with _totals_lock:
        kept = getattr(app.state, "public_totals", {}).get(filters)
    return kept[1] if kept is not None and kept[0] > time.monotonic() else None


def _keep_total(app: Any, filters: Filters, total: int) -> None:
    if app is None:
        return
    with _totals_lock:
        totals = getattr(app.state, "public_totals", None)
        if totals is None or len(totals) > 256:
            totals = app.state.public_totals = {}
        totals[filters] = (time.monotonic() + TOTAL_TTL_S, total)


def public_assets(session: Session) -> list[tuple[int, str]]:
    """The public assets that have published flights: (id, name as the records give it)."""
    published = (
        select(Disclosure.id)
        .join(Flight, Flight.id == Disclosure.flight_id)
        .join(PlanRow, PlanRow.id == Flight.plan_id)
        .where(PlanRow.asset_id == Asset.id, Flight.public == true())
    )
    statement = (
        select(Asset.id, Asset.name, Asset.properties)
        .where(Asset.public == true(), published.exists())
        .order_by(Asset.id)
    )
    found = []
    for ident, name, properties in session.execute(statement):
        title = (properties or {}).get("title")
        found.append((int(ident), title if isinstance(title, str) and title.strip() else name))
    return found


def flight_disclosure(session: Session, flight_id: int) -> Disclosure | None:
    """The latest record of a public flight (None: none published)."""
    statement = disclosure_statement(Filters()).where(Disclosure.flight_id == flight_id)
    return session.scalars(statement).first()


def disclosure_versions(session: Session, flight_id: int) -> list[Disclosure]:
    """Every published version of a flight's record, oldest first."""
    statement = (
        select(Disclosure).where(Disclosure.flight_id == flight_id).order_by(Disclosure.version)
    )
    return list(session.scalars(statement))


def published_questions(session: Session, flight_id: int) -> list[dict[str, Any]]:
    """The published questions about a flight (contacts masked) with their answers."""
    statement = (
        select(Question)
        .where(Question.flight_id == flight_id, Question.state == "published")
        .order_by(Question.asked_at, Question.id)
    )
    found = []
    for q in session.scalars(statement):
        after = None
        if q.answer is not None and q.answered_at is not None:
            after = max(0, round((q.answered_at - q.asked_at).total_seconds()))
        found.append(
            {
                "id": q.id,
                "text": q.text_public,
                "lang": q.lang,
                "asked_at": q.asked_at,
                "answer": q.answer,
                "answered_at": q.answered_at if q.answer is not None else None,
                "answered_after_s": after,
            }
        )
    return found


# --- the proof ---------------------------------------------------------------------------------


class LedgerRef(BaseModel):
    """A log entry about a flight."""

    index: int
    kind: str
    leaf_hash: str


class ProofStatus(BaseModel):
    """Whether the record's ``disclosure_published`` entry is in the signed log.

    ``state``: ``verified`` (the inclusion proof against the latest checkpoint verifies, its
    signature too, and the entry names this record's hash), ``failed`` (something did not
    verify: ``message`` says what), ``pending`` (not in a signed checkpoint yet) or
    ``unavailable`` (the log cannot be read now).
    """

    state: str
    message: str
    entry_index: int | None = None
    leaf_hash: str | None = None
    checkpoint: int | None = None  # the first checkpoint that contains the entry
    verified_checkpoint: int | None = None  # the latest, the one the proof was checked against
    tree_size: int | None = None
    root_hash: str | None = None
    audit_path: list[str] = []
    record_matches: bool | None = None


def _leaf_hex(entry: dict[str, Any]) -> str:
    from compliance.ledger import canonical_json, leaf_hash

    return leaf_hash(canonical_json(entry)).hex()


def proof_status(app: Any, disclosure: Disclosure) -> tuple[list[LedgerRef], ProofStatus]:
    """The log entries about ``disclosure``'s flight (with the check and approval of the
    plan its ``flight_flown`` entry names) and the proof of its latest version."""
    ledger = getattr(app.state, "ledger", None)
    if ledger is None:
        return [], ProofStatus(state="pending", message="the log is not running")
    try:
        return _proof(ledger, disclosure)
    except Exception:  # the page still shows the record; the log's own routes say more
        log.exception("proof status of flight %s", disclosure.flight_id)
        return [], ProofStatus(state="unavailable", message="the log could not be read")


def _proof(ledger: Any, disclosure: Disclosure) -> tuple[list[LedgerRef], ProofStatus]:
    from compliance.disclosure import record_sha256
    from compliance.ledger import verify_checkpoint, verify_inclusion

    refs: list[LedgerRef] = []
    target: tuple[int, dict[str, Any], str] | None = None
    plans: set[int] = set()
    for index, kind, entry in ledger.entries_for(f"flight:{disclosure.flight_id}"):
        leaf = _leaf_hex(entry)
        refs.append(LedgerRef(index=index, kind=kind, leaf_hash=leaf))
        data = entry.get("data") or {}
        if kind == "disclosure_published" and data.get("version") == disclosure.version:
            target = (index, data, leaf)
        if kind == "flight_flown" and isinstance(data.get("plan_id"), int):
            plans.add(data["plan_id"])
    for plan_id in plans:  # the check and approval of the plan flown, as the log names it
        refs += [
            LedgerRef(index=index, kind=kind, leaf_hash=_leaf_hex(entry))
            for index, kind, entry in ledger.entries_for(f"plan:{plan_id}")
        ]
    refs.sort(key=lambda ref: ref.index)
    if target is None:
        return refs, ProofStatus(state="pending", message="not yet in the log")
    index, data, leaf = target
    matches = (
        data.get("record_sha256") == disclosure.record_sha256 == record_sha256(disclosure.record)
    )
    latest = ledger.latest_checkpoint()
    if latest is None or latest[1].tree_size <= index:
        return refs, ProofStatus(
            state="pending",
            message="in the log, not yet in a signed checkpoint",
            entry_index=index,
            leaf_hash=leaf,
            record_matches=matches,
        )
    number, checkpoint = latest
    path = list(ledger.inclusion_proof(index, checkpoint.tree_size))
    included = verify_inclusion(
        bytes.fromhex(leaf),
        index,
        checkpoint.tree_size,
        [bytes.fromhex(h) for h in path],
        bytes.fromhex(checkpoint.root_hash),
    )
    signed = verify_checkpoint(checkpoint, ledger.public_key_hex)
    problems = [
        text
        for ok, text in (
            (included, "the inclusion proof does not verify"),
            (signed, "the checkpoint's signature does not verify"),
            (matches, "the entry names another record hash"),
        )
        if not ok
    ]
    return refs, ProofStatus(
        state="failed" if problems else "verified",
        message="; ".join(problems) or "verified",
        entry_index=index,
        leaf_hash=leaf,
        checkpoint=ledger.checkpoint_containing(index),
        verified_checkpoint=number,
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash,
        audit_path=path,
        record_matches=matches,
    )


# --- statistics --------------------------------------------------------------------------------


def _compute_stats(session: Session) -> dict[str, Any]:
    record = Disclosure.record
    month = func.substr(record["date"].as_string(), 1, 7)
    as_planned = and_(
        record["verdict"].as_string() == "APPROVED",
        record[("conformance", "conforms")].as_boolean() == true(),
    )
    per_month = (
        disclosure_statement(Filters())
        .with_only_columns(month, func.count(), func.sum(case((as_planned, 1), else_=0)))
        .group_by(month)
        .order_by(month)
    )
    months: dict[str, int] = {}
    flights = approved_as_planned = 0
    for name, count, planned in session.execute(per_month):
        months[str(name or "")] = int(count)
        flights += int(count)
        approved_as_planned += int(planned or 0)
    states = dict(
        session.execute(
            select(Question.state, func.count(Question.id)).group_by(Question.state)
        ).all()
    )
    waits = [
        (answered - asked).total_seconds()
        for asked, answered in session.execute(
            select(Question.asked_at, Question.answered_at).where(
                Question.state == "published",
                Question.answer.is_not(None),
                Question.answered_at.is_not(None),
            )
        )
        if answered is not None
    ]
    published = int(states.get("published", 0))
    disclosed = select(literal("flight:") + cast(Disclosure.flight_id, String))
    undisclosed = session.scalar(
        select(func.count(func.distinct(LedgerEntry.subject))).where(
            LedgerEntry.kind == "flight_flown", LedgerEntry.subject.not_in(disclosed)
        )
    )
    return {
        "schema": 1,
        "flights": flights,
        "per_month": [{"month": m, "flights": n} for m, n in sorted(months.items())],
        "approved_as_planned": {
            "flights": approved_as_planned,
            "share": approved_as_planned / flights if flights else None,
        },
        "questions": {
            "asked": int(sum(states.values())),
            "published": published,
            "answered": len(waits),
            "answered_share": len(waits) / published if published else None,
            "median_answer_s": round(statistics.median(waits)) if waits else None,
        },
        "undisclosed_flight_entries": int(undisclosed or 0),
        "generated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


_stats_lock = threading.Lock()


def public_stats(session: Session, app: Any) -> dict[str, Any]:
    """The statistics (see ``GET /api/public/stats``), reused for :data:`STATS_TTL_S` s."""
    with _stats_lock:
        kept = getattr(app.state, "public_stats", None)
    if kept is not None and kept[0] > time.monotonic():
        return dict(kept[1])
    stats = _compute_stats(session)
    with _stats_lock:
        app.state.public_stats = (time.monotonic() + STATS_TTL_S, stats)
    return stats
