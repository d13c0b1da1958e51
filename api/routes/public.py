"""Routes: the public record of flights, for anyone (no account). The reads are shared with
the public pages (:mod:`api.work.public_records`).

- ``GET /api/public/flights``: the latest version of each published disclosure record,
  newest flight first, filtered by ``from``/``to`` (UTC dates of take-off, both included),
  ``asset_id`` (a public asset) and ``purpose`` (contains, any case); ``limit``/``offset``
  paging and the :class:`~api.routes.common.Page` shape. Items leave the route out (see the
  flight, the GeoJSON).
- ``GET /api/public/flights/{flight_id}``: the latest record, its earlier versions, the log
  entries about the flight and the proof status of the latest version's
  ``disclosure_published`` entry, checked here against the latest signed checkpoint, and
  the corrections of the record (``correction`` entries, :mod:`api.work.correcting`).
- ``GET /api/public/flights.geojson`` and ``/api/public/flights.csv``: every published
  record (same filters), streamed; ``GET /api/public/stats``: the statistics.

Lists are kept by caches for :data:`MAX_AGE_S` seconds (``Cache-Control`` says so).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from api.deps import SessionDep
from api.routes.common import MAX_ID, IdPath, Page, PagingDep, not_found
from api.storage.models import Disclosure, Flight
from api.work.correcting import Correction, flight_corrections
from api.work.public_records import (
    Filters,
    LedgerRef,
    ProofStatus,
    disclosure_statement,
    disclosure_versions,
    flight_disclosure,
    list_disclosures,
    proof_status,
    public_stats,
)

__all__ = ["CSV_COLUMNS", "DisclosureFull", "DisclosureSummary", "router"]

router = APIRouter(tags=["public"])

MAX_AGE_S = 2
CACHE = {"Cache-Control": f"public, max-age={MAX_AGE_S}"}
#: Records read per query while streaming an export.
EXPORT_BATCH = 500
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


# --- the API -----------------------------------------------------------------------------------


class DisclosureSummary(BaseModel):
    """A published record in a list (its route left out)."""

    flight_id: int
    version: int
    published_at: datetime
    record_sha256: str
    record: dict[str, Any]

    @classmethod
    def of(cls, row: Disclosure) -> DisclosureSummary:
        record = {k: v for k, v in row.record.items() if k != "route"}
        return cls(
            flight_id=row.flight_id,
            version=row.version,
            published_at=row.published_at,
            record_sha256=row.record_sha256,
            record=record,
        )


class VersionRef(BaseModel):
    version: int
    published_at: datetime
    record_sha256: str


class DisclosureFull(BaseModel):
    """A flight's latest record, its versions, its log entries and the proof status."""

    flight_id: int
    version: int
    published_at: datetime
    record: dict[str, Any]
    record_sha256: str
    versions: list[VersionRef]
    ledger: list[LedgerRef]
    proof: ProofStatus
    corrections: list[Correction] = []  # the log's correction entries (api.work.correcting)


FromQuery = Annotated[
    date | None, Query(alias="from", description="taken off on or after this UTC date")
]
ToQuery = Annotated[date | None, Query(alias="to", description="taken off on or before this date")]
AssetQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="of this public asset")]
PurposeQuery = Annotated[
    str | None, Query(max_length=200, pattern=PRINTABLE, description="purpose contains")
]


def filters_of(
    start: FromQuery = None,
    end: ToQuery = None,
    asset_id: AssetQuery = None,
    purpose: PurposeQuery = None,
) -> Filters:
    """The list's filters from the query (``from``, ``to``, ``asset_id``, ``purpose``)."""
    return Filters(start=start, end=end, asset_id=asset_id, purpose=(purpose or "").strip() or None)


FiltersDep = Annotated[Filters, Depends(filters_of)]


@router.get(
    "/public/flights",
    response_model=Page[DisclosureSummary],
    summary="Published flight records, newest first (anyone)",
)
def list_public_flights(
    request: Request,
    session: SessionDep,
    paging: PagingDep,
    filters: FiltersDep,
) -> Response:
    rows, total = list_disclosures(
        session,
        filters,
        paging.limit,
        paging.offset,
        request.app,
    )
    page = Page[DisclosureSummary](
        items=[DisclosureSummary.of(r) for r in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )
    return Response(page.model_dump_json(), media_type="application/json", headers=CACHE)


@router.get(
    "/public/flights.geojson",
    summary="Every published record as GeoJSON (one LineString per flight)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/geo+json": {}}, "description": "a FeatureCollection"}
    },
)
def public_flights_geojson(
    request: Request,
    filters: FiltersDep,
) -> StreamingResponse:
    db = request.app.state.db

    def chunks() -> Iterator[str]:
        yield '{"type":"FeatureCollection","schema":1,"features":['
        first = True
        for row in _all_records(db, filters):
            feature = {
                "type": "Feature",
                "id": row.flight_id,
                "geometry": row.record.get("route"),
                "properties": _properties(row),
            }
            yield ("" if first else ",\n") + json.dumps(feature, ensure_ascii=False)
            first = False
        yield "]}\n"

    return StreamingResponse(
        chunks(),
        media_type="application/geo+json",
        headers=CACHE | {"Content-Disposition": 'inline; filename="flights.geojson"'},
    )


#: The CSV's columns after the record's own: flattened, one row per flight.
CSV_COLUMNS = (
    "flight_id", "version", "published_at", "record_sha256", "agency", "unit", "purpose",
    "asset_id", "asset_name", "asset_kind", "source", "state", "date", "start", "end",
    "duration_s", "distance_m", "altitude_band", "video", "photos", "track", "retention_days",
    "deletion_date", "data_deleted_at", "verdict", "authorisations", "conforms", "deviations",
    "conformance", "defects", "contact", "pilot", "route_generalised", "route_wkt",
)  # fmt: skip


@router.get(
    "/public/flights.csv",
    summary="Every published record as CSV (one row per flight, the route as WKT)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a header row"}},
)
def public_flights_csv(
    request: Request,
    filters: FiltersDep,
) -> StreamingResponse:
    db = request.app.state.db

    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for row in _all_records(db, filters):
            writer.writerow(_csv_row(row))
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers=CACHE | {"Content-Disposition": 'attachment; filename="flights.csv"'},
    )


@router.get("/public/stats", summary="Statistics of the published records and questions")
def public_statistics(request: Request, session: SessionDep) -> Response:
    body = json.dumps(public_stats(session, request.app))
    return Response(body, media_type="application/json", headers=CACHE)


@router.get(
    "/public/flights/{flight_id}",
    response_model=DisclosureFull,
    summary="A flight's published record, its log entries and its proof status",
    responses={404: {"description": "no published record of that flight"}},
)
def get_public_flight(flight_id: IdPath, request: Request, session: SessionDep) -> Response:
    row = flight_disclosure(session, flight_id)
    if row is None:
        raise not_found("published flight record", flight_id)
    refs, proof = proof_status(request.app, row)
    full = DisclosureFull(
        flight_id=row.flight_id,
        version=row.version,
        published_at=row.published_at,
        record=row.record,
        record_sha256=row.record_sha256,
        versions=[
            VersionRef(
                version=v.version, published_at=v.published_at, record_sha256=v.record_sha256
            )
            for v in disclosure_versions(session, flight_id)
        ],
        ledger=refs,
        proof=proof,
        corrections=flight_corrections(session, flight_id),
    )
    return Response(full.model_dump_json(), media_type="application/json", headers=CACHE)


# --- exports -----------------------------------------------------------------------------------


def _all_records(db: Any, filters: Filters) -> Iterator[Disclosure]:
    """Every matching latest record, newest flight first, read in batches (each its own
    session, so a long download holds no transaction open)."""
    below: int | None = None
    while True:
        statement = disclosure_statement(filters)
        if below is not None:
            statement = statement.where(Flight.id < below)
        with db.sessions() as session:
            rows = list(session.scalars(statement.order_by(Flight.id.desc()).limit(EXPORT_BATCH)))
        yield from rows
        if len(rows) < EXPORT_BATCH:
            return
        below = rows[-1].flight_id


def _properties(row: Disclosure) -> dict[str, Any]:
    record = {k: v for k, v in row.record.items() if k != "route"}
    return record | {
        "version": row.version,
        "published_at": row.published_at.isoformat().replace("+00:00", "Z"),
        "record_sha256": row.record_sha256,
        "page": f"/flights/{row.flight_id}",
    }


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _wkt(route: dict[str, Any] | None) -> str:
    if not route or not route.get("coordinates"):
        return ""
    return "LINESTRING (" + ", ".join(f"{x} {y}" for x, y in route["coordinates"]) + ")"


def _csv_row(row: Disclosure) -> list[Any]:
    r = row.record
    asset = r.get("asset") or {}
    data = r.get("data_collected") or {}
    conformance = r.get("conformance") or {}
    values = {
        "flight_id": row.flight_id,
        "version": row.version,
        "published_at": row.published_at.isoformat().replace("+00:00", "Z"),
        "record_sha256": row.record_sha256,
        "asset_id": asset.get("id"),
        "asset_name": asset.get("name"),
        "asset_kind": asset.get("kind"),
        "video": data.get("video"),
        "photos": data.get("photos"),
        "track": data.get("track"),
        "authorisations": ";".join(r.get("authorisations") or []),
        "conforms": conformance.get("conforms"),
        "deviations": conformance.get("deviations"),
        "conformance": conformance.get("summary"),
        "defects": ";".join(f"{k}={v}" for k, v in sorted((r.get("defects") or {}).items())),
        "route_wkt": _wkt(r.get("route")),
    }
    out = []
    for column in CSV_COLUMNS:
        value = values[column] if column in values else r.get(column)
        out.append(_cell(value) if column != "route_wkt" else value)
    return out
