"""The regulator's audit: every record of a time range, non-public fields included, and the
transparency log's audit result. Regulators and admins only.

``GET /api/audit/export?start=&end=&format=json|csv`` streams every record whose time falls
in ``[start, end)`` (ISO 8601 with an offset, or a date meaning 00:00 UTC; without ``start``
or ``end`` the range is open on that side, so no parameters export everything, the flights
the simulator dated to their planned windows to come included):

========================  ===================================================
record type (JSON key)    its time
========================  ===================================================
plan (plans)              created_at
check (checks)            created_at
approval (approvals)      requested_at
flight (flights)          started_at, or created_at for a flight not started
footage (footage)         uploaded_at
inspection (inspections)  created_at
defect (defects)          its inspection's created_at
note (notes)              created_at
question (questions)      asked_at (pending, published and rejected alike)
disclosure (disclosures)  published_at
ledger_entry              logged_at (the entry as a JSON object, its index and leaf hash)
ledger_checkpoint         its timestamp
user (users), asset       every one, whatever the range: the records refer to them
========================  ===================================================

Every column of each table is exported (a user's name, role and state; never a token's salt
or hash). ``format=json`` is one document ``{"schema": "skyledger.audit-export", "version":
1, "range", "generated_at", "agency", "unit", "ledger": {tree_size, pending, checkpoint,
public_key}, "<record type key>": [rows ...], ..., "counts": {...}}``; ``format=csv`` is one
table with the header ``record_type,id,time,fields`` where ``fields`` is the row's JSON and a
first row of record type ``export`` carries the schema, range and ledger as its fields. Both
are read in one transaction (a consistent snapshot) and streamed.

``GET /api/audit/ledger`` recomputes the whole log (:meth:`api.ledger.LedgerStore.audit`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from api.deps import RegulatorDep
from api.storage import models as m

__all__ = ["EXPORT_SCHEMA", "EXPORT_VERSION", "RECORD_TYPES", "router"]

router = APIRouter(tags=["audit"])

EXPORT_SCHEMA = "skyledger.audit-export"
EXPORT_VERSION = 1
_USER_FIELDS = ("id", "name", "role", "disabled", "created_at")


@dataclass(frozen=True)
class _RecordType:
    """One kind of record in the export: its table, the JSON key of its list, and the time
    that puts a row in a range (None: every row)."""

    name: str
    key: str
    model: Any
    time: Callable[[], Any] | None
    fields: tuple[str, ...] | None = None

    def statement(self, start: datetime | None, end: datetime | None) -> Select[Any]:
        model = self.model
        key = model.idx if model is m.LedgerEntry else model.id
        if self.time is None:
            return select(model, model.created_at).order_by(key)
        when = self.time()
        statement = select(model, when)
        if model is m.Defect:
            statement = statement.join(m.Inspection, m.Defect.inspection_id == m.Inspection.id)
        bound: Callable[[datetime], Any] = _ms if model is m.LedgerCheckpoint else _same
        if start is not None:
            statement = statement.where(when >= bound(start))
        if end is not None:
            statement = statement.where(when < bound(end))
        return statement.order_by(key)


RECORD_TYPES: tuple[_RecordType, ...] = (
    _RecordType("user", "users", m.User, None, _USER_FIELDS),
    _RecordType("asset", "assets", m.Asset, None),
    _RecordType("plan", "plans", m.Plan, lambda: m.Plan.created_at),
    _RecordType("check", "checks", m.Check, lambda: m.Check.created_at),
    _RecordType("approval", "approvals", m.Approval, lambda: m.Approval.requested_at),
    _RecordType(
        "flight",
        "flights",
        m.Flight,
        lambda: func.coalesce(m.Flight.started_at, m.Flight.created_at),
    ),
    _RecordType("footage", "footage", m.Footage, lambda: m.Footage.uploaded_at),
    _RecordType("inspection", "inspections", m.Inspection, lambda: m.Inspection.created_at),
    _RecordType("defect", "defects", m.Defect, lambda: m.Inspection.created_at),
    _RecordType("note", "notes", m.Note, lambda: m.Note.created_at),
    _RecordType("question", "questions", m.Question, lambda: m.Question.asked_at),
    _RecordType("disclosure", "disclosures", m.Disclosure, lambda: m.Disclosure.published_at),
    _RecordType("ledger_entry", "ledger_entries", m.LedgerEntry, lambda: m.LedgerEntry.logged_at),
    _RecordType(
        "ledger_checkpoint",
        "ledger_checkpoints",
        m.LedgerCheckpoint,
        lambda: m.LedgerCheckpoint.timestamp_ms,
    ),
)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _same(when: datetime) -> datetime:
    return when


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _instant(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time with an offset, or a date (00:00 UTC); None when not given."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        when = datetime.fromisoformat(text)
        if when.tzinfo is not None:
            when = when.astimezone(UTC)
    except (ValueError, OverflowError):
        raise HTTPException(
            422, f"{name} {text[:40]!r} is not an ISO 8601 date or time (2026-12-07T07:00Z)"
        ) from None
    if when.tzinfo is None:
        raise HTTPException(
            422, f"{name} {text[:40]!r} has no UTC offset: add Z or one like +01:00"
        )
    return when


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    return value


def _fields(kind: _RecordType, row: Any) -> dict[str, Any]:
    """Every exported column of ``row`` (JSON text columns as their documents)."""
    names = kind.fields or tuple(column.key for column in row.__table__.columns)
    fields = {name: _jsonable(getattr(row, name)) for name in names}
    for text_column in ("document", "entry"):  # a plan's JSON, a ledger entry's canonical JSON
        if isinstance(fields.get(text_column), str):
            with contextlib.suppress(ValueError):  # else kept as the text it is
                fields[text_column] = json.loads(fields[text_column])
    return fields


def _row_time(kind: _RecordType, when: Any) -> str | None:
    if isinstance(when, int) and kind.model is m.LedgerCheckpoint:
        return _iso(datetime.fromtimestamp(when / 1000, UTC))
    return _iso(when) if isinstance(when, datetime) else None


def _snapshot(session: Session) -> None:
    """Make the session's reads one consistent snapshot (one read transaction)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    elif dialect == "sqlite":
        # pysqlite starts no transaction for reads by itself
        session.connection().exec_driver_sql("BEGIN")


def _rows(
    request: Request, start: datetime | None, end: datetime | None
) -> Iterator[tuple[str, Any, dict[str, Any] | None]]:
    """``("header", None, header)``, then ``(record type, (id, time), fields)`` for every row
    and ``("end", None, counts)``; all read in one transaction."""
    app = request.app
    with Session(app.state.db.engine) as session:
        _snapshot(session)
        size = int(session.scalar(select(func.count()).select_from(m.LedgerEntry)) or 0)
        pending = int(session.scalar(select(func.count()).select_from(m.LedgerOutbox)) or 0)
        latest = session.scalar(
            select(m.LedgerCheckpoint).order_by(m.LedgerCheckpoint.id.desc()).limit(1)
        )
        settings = app.state.settings
        header = {
            "schema": EXPORT_SCHEMA,
            "version": EXPORT_VERSION,
            "generated_at": _iso(datetime.now(UTC)),
            "range": {"start": _iso(start) if start else None, "end": _iso(end) if end else None},
            "agency": settings.agency,
            "unit": settings.unit,
            "ledger": {
                "tree_size": size,
                "pending": pending,
                "checkpoint": _fields(RECORD_TYPES[-1], latest) if latest else None,
                "public_key": getattr(getattr(app.state, "ledger", None), "public_key_hex", None),
            },
        }
        yield "header", None, header
        counts: dict[str, int] = {}
        for kind in RECORD_TYPES:
            counts[kind.key] = 0
            yield "section", kind, None
            result = session.execute(kind.statement(start, end).execution_options(yield_per=500))
            for row, when in result:
                counts[kind.key] += 1
                ident = row.idx if kind.model is m.LedgerEntry else row.id
                yield kind.name, (ident, _row_time(kind, when)), _fields(kind, row)
            session.expunge_all()
        yield "end", None, counts
        session.rollback()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _json_stream(rows: Iterator[tuple[str, Any, Any]]) -> Iterator[str]:
    in_list = first = False
    for what, extra, fields in rows:
        if what == "header":
            yield _dumps(fields)[:-1]  # the header object, left open for the lists
        elif what == "section":
            yield ("]," if in_list else ",") + f'"{extra.key}":['
            in_list = first = True
        elif what == "end":
            yield ("]" if in_list else "") + f',"counts":{_dumps(fields)}}}\n'
        else:
            yield ("" if first else ",") + _dumps(fields)
            first = False


def _csv_stream(rows: Iterator[tuple[str, Any, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["record_type", "id", "time", "fields"])
    for what, extra, fields in rows:
        if what == "header":
            writer.writerow(["export", "", fields["generated_at"], _dumps(fields)])
        elif what == "end":
            writer.writerow(["counts", "", "", _dumps(fields)])
        elif what != "section":
            ident, when = extra
            writer.writerow([what, ident, when or "", _dumps(fields)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _chunked(parts: Iterator[str], size: int = 64 * 1024) -> Iterator[bytes]:
    """The parts joined into chunks of about ``size`` bytes."""
    pending: list[str] = []
    held = 0
    for part in parts:
        pending.append(part)
        held += len(part)
        if held >= size:
            yield "".join(pending).encode()
            pending, held = [], 0
    if pending:
        yield "".join(pending).encode()


@router.get("/audit/export", response_class=StreamingResponse)
def export(
    request: Request,
    user: RegulatorDep,
    start: Annotated[
        str | None, Query(description="ISO 8601 with an offset, or a date (00:00 UTC)")
    ] = None,
    end: Annotated[
        str | None, Query(description="the range's end (excluded); none by default")
    ] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> StreamingResponse:
    """Every record of ``[start, end)`` with its non-public fields (regulator, admin), as one
    JSON document or one CSV table (see the module's docstring for the record types)."""
    begin = _instant(start, "start")
    finish = _instant(end, "end")
    if begin is not None and finish is not None and begin >= finish:
        raise HTTPException(422, f"start {_iso(begin)} must be before end {_iso(finish)}")
    name = "skyledger-audit" + "".join(
        f"-{word}-{when.strftime('%Y%m%dT%H%M%SZ')}"
        for word, when in (("from", begin), ("to", finish))
        if when is not None
    )
    rows = _rows(request, begin, finish)
    if format == "csv":
        parts, media_type = _csv_stream(rows), "text/csv; charset=utf-8"
    else:
        parts, media_type = _json_stream(rows), "application/json"
    return StreamingResponse(
        _chunked(parts),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{format}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/audit/ledger")
def audit_ledger(request: Request, user: RegulatorDep) -> dict[str, Any]:
    """Recompute every leaf and node of the transparency log and check every checkpoint
    (regulator, admin): ``ok``, the first bad index or checkpoint and a one-line message."""
    result: dict[str, Any] = request.app.state.ledger.audit().to_json()
    return result
