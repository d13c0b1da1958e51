"""Routes: the defects found in footage, their crops, and the inspections' reports.

Everyone may read the defects of public flights (and their crops: every picture the
pipeline keeps is redacted before it is stored); staff read those of every flight.

- ``GET /api/defects``: defects, filtered by ``flight_id``, ``class`` and
  ``bbox=minlon,minlat,maxlon,maxlat``; paged.
- ``GET /api/flights/{id}/defects``: a flight's defects as a GeoJSON FeatureCollection.
- ``GET /api/flights/{id}/inspections`` and ``GET /api/inspections/{id}``: what each
  detection run found (counts per class).
- ``GET /api/defects/{id}/crop``: the defect's redacted picture (JPEG).
- ``GET /api/inspections/{id}/report`` (staff): the HTML report;
  ``/api/inspections/{id}/geojson`` (staff): the defects file as the pipeline wrote it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.deps import BlobsDep, ReaderDep, SessionDep, UserDep
from api.routes.common import IdPath, Page, PagingDep, fetch_page, not_found
from api.routes.flights import PRINTABLE, visible_flight
from api.storage.models import Defect, Flight, Inspection, User

__all__ = ["DefectPublic", "InspectionPublic", "parse_bbox", "router"]

router = APIRouter(tags=["defects"])

GEOJSON = "application/geo+json"


class DefectPublic(BaseModel):
    """A distinct defect placed on the map (WGS84), with its 1-sigma error."""

    id: int
    flight_id: int
    inspection_id: int
    class_name: str
    confidence: float
    lon: float
    lat: float
    error_m: float
    sightings: int
    time_s: float
    crop_url: str | None

    @classmethod
    def of(cls, row: Defect) -> DefectPublic:
        return cls(
            id=row.id,
            flight_id=row.flight_id,
            inspection_id=row.inspection_id,
            class_name=row.class_name,
            confidence=row.confidence,
            lon=row.lon,
            lat=row.lat,
            error_m=row.error_m,
            sightings=row.sightings,
            time_s=row.time_s,
            crop_url=f"/api/defects/{row.id}/crop" if row.crop_sha256 else None,
        )


class InspectionPublic(BaseModel):
    """One detection run over a footage upload: how many defects of each class."""

    id: int
    flight_id: int
    footage_id: int
    counts: dict[str, int]
    defects: int
    job_id: int | None
    created_at: datetime
    report_url: str | None

    @classmethod
    def of(cls, row: Inspection) -> InspectionPublic:
        counts = {str(k): int(v) for k, v in (row.counts or {}).items()}
        return cls(
            id=row.id,
            flight_id=row.flight_id,
            footage_id=row.footage_id,
            counts=counts,
            defects=sum(counts.values()),
            job_id=row.job_id,
            created_at=row.created_at,
            report_url=f"/api/inspections/{row.id}/report" if row.report_sha256 else None,
        )


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` in degrees (a 422 naming what is wrong).

    >>> parse_bbox("149.16,-35.37,149.17,-35.36")
    (149.16, -35.37, 149.17, -35.36)
    """
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise HTTPException(
            422, f"bbox: {text!r:.80} is not minlon,minlat,maxlon,maxlat (four numbers)"
        )
    west, south, east, north = values
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise HTTPException(
            422,
            f"bbox: {text!r:.80} must have -180 <= minlon <= maxlon <= 180 and "
            "-90 <= minlat <= maxlat <= 90",
        )
    return west, south, east, north


def _visible(statement: Select[Any], user: User | None) -> Select[Any]:
    """Only defects of public flights for the public."""
    if user is not None:
        return statement
    public = select(Flight.id).where(Flight.public.is_(True))
    return statement.where(Defect.flight_id.in_(public))


@router.get("/defects", response_model=Page[DefectPublic], summary="Defects found, newest first")
def list_defects(
    session: SessionDep,
    user: UserDep,
    paging: PagingDep,
    flight_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="of this flight")
    ] = None,
    class_name: Annotated[
        str | None,
        Query(
            alias="class",
            min_length=1,
            max_length=64,
            pattern=PRINTABLE,
            description="only defects of this class",
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        Query(max_length=200, description="minlon,minlat,maxlon,maxlat (WGS84 degrees)"),
    ] = None,
) -> Page[DefectPublic]:
    statement = _visible(select(Defect), user)
    if flight_id is not None:
        statement = statement.where(Defect.flight_id == flight_id)
    if class_name is not None:
        statement = statement.where(Defect.class_name == class_name)
    if bbox is not None:
        west, south, east, north = parse_bbox(bbox)
        statement = statement.where(
            Defect.lon >= west, Defect.lon <= east, Defect.lat >= south, Defect.lat <= north
        )
    statement = statement.order_by(Defect.id.desc())
    return fetch_page(session, statement, paging, DefectPublic.of)


def feature(row: Defect) -> dict[str, Any]:
    """A defect as a GeoJSON Point feature."""
    props = DefectPublic.of(row).model_dump()
    props["class"] = props.pop("class_name")
    return {
        "type": "Feature",
        "id": row.id,
        "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
        "properties": props,
    }


@router.get(
    "/flights/{flight_id}/defects",
    summary="A flight's defects as a GeoJSON FeatureCollection",
    responses={200: {"content": {GEOJSON: {}}}},
)
def flight_defects(flight_id: IdPath, session: SessionDep, user: UserDep) -> Response:
    import json

    flight = visible_flight(session, flight_id, user)
    rows = session.scalars(select(Defect).where(Defect.flight_id == flight.id).order_by(Defect.id))
    doc = {
        "type": "FeatureCollection",
        "features": [feature(row) for row in rows],
        "skyledger": {"schema": "skyledger.flight-defects", "version": 1, "flight_id": flight.id},
    }
    return Response(json.dumps(doc), media_type=GEOJSON)


def _inspection(session: Session, inspection_id: int, user: User | None) -> Inspection:
    row = session.get(Inspection, inspection_id)
    if row is None:
        raise not_found("inspection", inspection_id)
    try:
        visible_flight(session, row.flight_id, user)
    except HTTPException:
        raise not_found("inspection", inspection_id) from None
    return row


@router.get(
    "/flights/{flight_id}/inspections",
    response_model=list[InspectionPublic],
    summary="What each detection run over a flight's footage found",
)
def flight_inspections(
    flight_id: IdPath, session: SessionDep, user: UserDep
) -> list[InspectionPublic]:
    flight = visible_flight(session, flight_id, user)
    rows = session.scalars(
        select(Inspection).where(Inspection.flight_id == flight.id).order_by(Inspection.id)
    )
    return [InspectionPublic.of(row) for row in rows]


@router.get(
    "/inspections/{inspection_id}",
    response_model=InspectionPublic,
    summary="One detection run: defects per class",
)
def get_inspection(inspection_id: IdPath, session: SessionDep, user: UserDep) -> InspectionPublic:
    return InspectionPublic.of(_inspection(session, inspection_id, user))


def _blob(blobs: Any, sha256: str | None, what: str, media_type: str) -> FileResponse:
    if sha256 is None or not blobs.exists(sha256):
        raise HTTPException(404, f"{what} is not stored")
    return FileResponse(blobs.path(sha256), media_type=media_type)


@router.get(
    "/inspections/{inspection_id}/report",
    response_class=FileResponse,
    summary="The inspection's HTML report (staff)",
    responses={200: {"content": {"text/html": {}}}},
)
def inspection_report(
    inspection_id: IdPath, session: SessionDep, user: ReaderDep, blobs: BlobsDep
) -> FileResponse:
    row = _inspection(session, inspection_id, user)
    return _blob(blobs, row.report_sha256, f"the report of inspection {inspection_id}", "text/html")


@router.get(
    "/inspections/{inspection_id}/geojson",
    response_class=FileResponse,
    summary="The inspection's defects as the pipeline wrote them (staff)",
    responses={200: {"content": {GEOJSON: {}}}},
)
def inspection_geojson(
    inspection_id: IdPath, session: SessionDep, user: ReaderDep, blobs: BlobsDep
) -> FileResponse:
    row = _inspection(session, inspection_id, user)
    what = f"the defects file of inspection {inspection_id}"
    return _blob(blobs, row.geojson_sha256, what, GEOJSON)


@router.get(
    "/defects/{defect_id}/crop",
    response_class=FileResponse,
    summary="A defect's redacted picture (JPEG)",
    responses={200: {"content": {"image/jpeg": {}}}},
)
def defect_crop(
    defect_id: IdPath, session: SessionDep, user: UserDep, blobs: BlobsDep
) -> FileResponse:
    row = session.get(Defect, defect_id)
    if row is None:
        raise not_found("defect", defect_id)
    try:
        visible_flight(session, row.flight_id, user)
    except HTTPException:
        raise not_found("defect", defect_id) from None
    return _blob(blobs, row.crop_sha256, f"a picture of defect {defect_id}", "image/jpeg")
