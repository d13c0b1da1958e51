"""Routes: flights, flown by the service from an approved plan or uploaded as a flight log.

- ``POST /api/flights`` (crew, admin): fly an approved plan on the built-in vehicle or
  ArduPilot SITL as a background job (:func:`api.work.flying.fly_job`); 202 with the
  flight and the job. A plan without an approval in state ``approved`` is a 409.
- ``POST /api/flights/upload`` (crew, admin): a real flight log (``.csv``, ``.tlog``,
  ``.bin``), streamed to the blob store, read with :func:`mission.track.read_track` (a
  log that cannot be read is a 400 and nothing is kept), compared with its plan when one
  is named: at once for a short track (201), as a job for a long one (202).
- ``GET /api/flights`` and ``/api/flights/{id}``: everyone. The public sees only public
  flights and only their public fields (:class:`FlightPublic`); staff get
  :class:`FlightFull`. A non-public flight is a 404 for the public.
- ``GET /api/flights/{id}/track`` (the CSV), ``/log`` (the telemetry log as received or
  recorded) and ``/conformance`` (the report): staff.
"""

from __future__ import annotations

import math
import re
import threading
import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import BlobsDep, CrewDep, JobsDep, ReaderDep, SessionDep, SettingsDep, UserDep
from api.routes.common import (
    IdField,
    IdPath,
    Page,
    PagingDep,
    answering,
    multipart_body,
    not_found,
)
from api.routes.jobs import JobPublic
from api.settings import Settings
from api.storage.models import Asset, File, Flight, Job, User
from api.storage.models import Plan as PlanRow
from api.work.records import discard_blob

__all__ = ["FlightCreate", "FlightFull", "FlightPublic", "router", "visible_flight"]

router = APIRouter(tags=["flights"])

#: Summary figures everyone may see.
PUBLIC_SUMMARY = (
    "vehicle",
    "completed",
    "duration_s",
    "airborne_s",
    "distance_m",
    "photos",
    "max_alt_rel_m",
    "bbox",
)
#: How long a list's total is reused, and how many totals are kept.
RECENT_TTL_S = 2.0
#: What the public's list answers tell caches: as fresh as the kept copy.
PUBLIC_CACHE = {"Cache-Control": f"public, max-age={int(RECENT_TTL_S)}"}
RECENT_KEPT = 256
#: Text fields: one line, no control characters (PostgreSQL refuses NUL in text).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
#: Tracks up to this many samples are compared with their plan during the upload request.
SYNC_CONFORMANCE_SAMPLES = 20_000
#: Content types a flight log part may declare (browsers and tools differ).
LOG_CONTENT_TYPES = (
    "",
    "application/octet-stream",
    "text/csv",
    "text/plain",
    "application/csv",
    "application/vnd.ms-excel",
)


class FlightCreate(BaseModel):
    """Fly an approved plan."""

    model_config = ConfigDict(extra="forbid")

    plan_id: IdField
    vehicle: Literal["builtin", "sitl"] = "builtin"
    purpose: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE),
    ] = Field(description="why it is flown (one line)")
    public: bool = True


class FlightPublic(BaseModel):
    """What anyone may see of a flight: when, where, why, and whether it kept to its plan."""

    id: int
    source: str
    state: str
    purpose: str
    started_at: datetime | None
    ended_at: datetime | None
    asset_id: int | None
    conforms: bool | None
    summary: dict[str, Any]


class FlightFull(FlightPublic):
    """A flight with the fields only staff see."""

    plan_id: int | None
    public: bool
    job_id: int | None
    track_sha256: str | None
    tlog_sha256: str | None
    conformance: dict[str, Any] | None
    created_by: int
    created_at: datetime


class FlightStarted(BaseModel):
    """A flight created with the job that flies it (or compares it with its plan)."""

    flight: FlightFull
    job: JobPublic | None


def _conforms(flight: Flight) -> bool | None:
    value = (flight.conformance or {}).get("conforms")
    return value if isinstance(value, bool) else None


def flight_public(flight: Flight, asset_id: int | None) -> FlightPublic:
    summary = flight.summary or {}
    return FlightPublic(
        id=flight.id,
        source=flight.source,
        state=flight.state,
        purpose=flight.purpose,
        started_at=flight.started_at,
        ended_at=flight.ended_at,
        asset_id=asset_id,
        conforms=_conforms(flight),
        summary={k: summary[k] for k in PUBLIC_SUMMARY if k in summary},
    )


def flight_full(flight: Flight, asset_id: int | None) -> FlightFull:
    return FlightFull(
        **flight_public(flight, asset_id).model_dump(exclude={"summary"}),
        summary=flight.summary or {},
        plan_id=flight.plan_id,
        public=flight.public,
        job_id=flight.job_id,
        track_sha256=flight.track_sha256,
        tlog_sha256=flight.tlog_sha256,
        conformance=flight.conformance,
        created_by=flight.created_by,
        created_at=flight.created_at,
    )


def _assets(session: Session, plan_ids: set[int], public: bool) -> dict[int, int | None]:
    """The asset of each plan (for the public, only public assets)."""
    if not plan_ids:
        return {}
    statement = (
        select(PlanRow.id, PlanRow.asset_id, Asset.public)
        .outerjoin(Asset, Asset.id == PlanRow.asset_id)
        .where(PlanRow.id.in_(plan_ids))
    )
    return {
        plan_id: (asset_id if (asset_public or not public) else None)
        for plan_id, asset_id, asset_public in session.execute(statement)
    }


def _shown(session: Session, flights: list[Flight], user: User | None) -> list[Any]:
    public = user is None
    assets = _assets(session, {f.plan_id for f in flights if f.plan_id is not None}, public)
    convert = flight_public if public else flight_full
    return [convert(f, assets.get(f.plan_id) if f.plan_id else None) for f in flights]


def visible_flight(session: Session, flight_id: int, user: User | None) -> Flight:
    """The flight, or a 404 (also for a non-public flight asked by the public)."""
    flight = session.get(Flight, flight_id)
    if flight is None or (user is None and not flight.public):
        raise not_found("flight", flight_id)
    return flight


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise HTTPException(422, f"{name}: {value.isoformat()} has no UTC offset (add Z or +hh:mm)")
    return value


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class _Recent:
    """Values of recent list queries, kept :data:`RECENT_TTL_S` seconds.

    Two are kept per app: flight counts (counting 100,000 rows costs more than the rest of a
    list request) and the public's list answers (the public asks for the same first pages
    again and again). A flight made by this process clears both at once; one made by another
    worker shows within the TTL. Staff lists always read their items fresh.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        with self._lock:
            found = self._values.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            if len(self._values) >= RECENT_KEPT:
                self._values.clear()
            self._values[key] = (time.monotonic() + RECENT_TTL_S, value)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def expire_all(self) -> None:
        """Make every kept value stale (what the TTL does in time)."""
        with self._lock:
            self._values = {k: (-math.inf, v) for k, (_t, v) in self._values.items()}


def _recent(app: Any) -> tuple[_Recent, _Recent]:
    """The app's (counts, public pages) caches, made on first use (nothing at import)."""
    state = app.state
    caches: tuple[_Recent, _Recent] | None = getattr(state, "flight_lists", None)
    if caches is None:
        caches = state.flight_lists = (_Recent(), _Recent())
    return caches


def flights_changed(app: Any) -> None:
    """Forget the counts and public pages kept for ``app`` (a flight was made or changed)."""
    for cache in _recent(app):
        cache.clear()


@router.get(
    "/flights",
    response_model=Page[FlightFull] | Page[FlightPublic],
    summary="Flights, newest first (the public sees public flights only)",
)
def list_flights(
    request: Request,
    session: SessionDep,
    user: UserDep,
    paging: PagingDep,
    since: Annotated[datetime | None, Query(description="started at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="started before (ISO 8601)")] = None,
    purpose: Annotated[
        str | None,
        Query(min_length=1, max_length=200, pattern=PRINTABLE, description="purpose contains"),
    ] = None,
    asset_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="of this asset")] = None,
) -> Any:
    conditions: list[Any] = []
    if user is None:
        conditions.append(Flight.public == true())
    if _aware(since, "since") is not None:
        conditions.append(Flight.started_at >= since)
    if _aware(until, "until") is not None:
        conditions.append(Flight.started_at < until)
    if purpose is not None:
        conditions.append(Flight.purpose.ilike(_like(purpose), escape="\\"))
    if asset_id is not None:
        plans = select(PlanRow.id).where(PlanRow.asset_id == asset_id)
        if user is None:
            plans = plans.join(Asset, Asset.id == PlanRow.asset_id).where(Asset.public == true())
        conditions.append(Flight.plan_id.in_(plans))
    totals, pages = _recent(request.app)
    page_key = (request.url.query, paging.limit, paging.offset)
    if user is None and (cached := pages.get(page_key)) is not None:
        return Response(cached, media_type="application/json", headers=PUBLIC_CACHE)
    key = (user is None, since, until, purpose, asset_id)
    total = totals.get(key)
    if total is None:
        total = int(session.scalar(select(func.count(Flight.id)).where(*conditions)) or 0)
        totals.put(key, total)
    # the page's ids first (an index scan), then only those rows: deep pages stay cheap
    page = (
        select(Flight.id)
        .where(*conditions)
        .order_by(Flight.id.desc())
        .limit(paging.limit)
        .offset(paging.offset)
    )
    rows = list(
        session.scalars(select(Flight).where(Flight.id.in_(page)).order_by(Flight.id.desc()))
    )
    items = _shown(session, rows, user)
    page_type = Page[FlightPublic] if user is None else Page[FlightFull]
    body = page_type(
        items=items, total=total, limit=paging.limit, offset=paging.offset
    ).model_dump_json()
    if user is None:
        pages.put(page_key, body)
        return Response(body, media_type="application/json", headers=PUBLIC_CACHE)
    return Response(body, media_type="application/json")


@router.get(
    "/flights/{flight_id}",
    response_model=FlightFull | FlightPublic,
    summary="One flight (public fields only for the public)",
)
def get_flight(flight_id: IdPath, session: SessionDep, user: UserDep) -> Any:
    return _json(_shown(session, [visible_flight(session, flight_id, user)], user)[0])


def _json(model: BaseModel) -> Response:
    """``model`` as JSON, as built (the schema chosen by role is not validated again)."""
    return Response(model.model_dump_json(), media_type="application/json")


@router.post(
    "/flights",
    status_code=202,
    response_model=FlightStarted,
    summary="Fly an approved plan (a background job)",
)
def create_flight(
    body: FlightCreate,
    session: SessionDep,
    user: CrewDep,
    settings: SettingsDep,
    blobs: BlobsDep,
    jobs: JobsDep,
    request: Request,
) -> FlightStarted:
    from api.work.flying import start_flight

    with answering():
        flight, job_id = start_flight(
            session,
            jobs,
            request.app.state.db,
            blobs,
            plan_id=body.plan_id,
            vehicle=body.vehicle,
            purpose=body.purpose,
            user_id=user.id,
            public=body.public,
            speedup=settings.flight_speedup,
            settings=settings,
        )
    flights_changed(request.app)
    return _started(session, flight, job_id, user)


def _started(session: Session, flight: Flight, job_id: int | None, user: User) -> FlightStarted:
    """The answer to a request that made a flight: the flight as it is now, and its job."""
    session.refresh(flight)
    job = session.get(Job, job_id) if job_id is not None else None
    if job is not None:
        session.refresh(job)
    return FlightStarted(
        flight=_shown(session, [flight], user)[0],
        job=JobPublic.of(job) if job is not None else None,
    )


# --- uploads ----------------------------------------------------------------------------------


def _check_log(name: str, content_type: str) -> None:
    from api.work.flight_logs import LOG_EXTENSIONS

    ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in LOG_EXTENSIONS:
        raise HTTPException(
            415, f"file {name!r}: a flight log must be .csv, .tlog or .bin (not {ext or 'none'})"
        )
    if content_type not in LOG_CONTENT_TYPES:
        raise HTTPException(
            415,
            f"file {name!r}: content type {content_type!r} is not a flight log "
            "(send application/octet-stream or text/csv)",
        )


def _form_bool(fields: dict[str, str], name: str, default: bool) -> bool:
    text = fields.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise HTTPException(422, f"{name}: {text!r:.40} is not true or false")


def _form_id(fields: dict[str, str], name: str) -> int | None:
    text = fields.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise HTTPException(422, f"{name}: {text!r:.40} is not a record id (a whole number >= 1)")
    return int(text)


_UPLOAD_BODY = multipart_body(
    "the flight log: .csv (skyledger's track), .tlog (MAVLink) or .bin (ArduPilot DataFlash)",
    plan_id={"type": "integer", "minimum": 1},
    purpose={"type": "string", "maxLength": 200},
    public={"type": "boolean", "default": True},
)


@router.post(
    "/flights/upload",
    status_code=201,
    response_model=FlightStarted,
    summary="Upload a flight log (.csv, .tlog, .bin), compared with its plan when one is named",
    openapi_extra=_UPLOAD_BODY,
    responses={202: {"model": FlightStarted, "description": "compared with the plan in a job"}},
)
async def upload_flight(
    request: Request,
    session: SessionDep,
    user: CrewDep,
    settings: SettingsDep,
    blobs: BlobsDep,
    jobs: JobsDep,
) -> Any:
    from api.work.streaming import read_upload

    upload = await read_upload(
        request, blobs, max_bytes=settings.max_upload_bytes, check=_check_log, what="flight log"
    )
    assert upload.stored is not None
    sha = upload.stored.sha256
    try:
        answer = await run_in_threadpool(
            _store_log, session, blobs, jobs, request.app.state.db, user, upload, settings
        )
        flights_changed(request.app)
        return answer
    except BaseException:
        session.rollback()
        await run_in_threadpool(discard_blob, session, blobs, sha)
        raise


def _store_log(
    session: Session, blobs: Any, jobs: Any, db: Any, user: User, upload: Any, settings: Settings
) -> Any:
    from api.work.flight_logs import accept_flight_log
    from api.work.flying import compute_conformance, conformance_job

    fields = upload.fields
    plan_id = _form_id(fields, "plan_id")
    purpose = fields.get("purpose", "").strip()
    if len(purpose) > 200 or not re.fullmatch(PRINTABLE, purpose or " "):
        raise HTTPException(422, "purpose: one line of at most 200 printable characters")
    public = _form_bool(fields, "public", True)
    with answering():
        flight, track = accept_flight_log(
            session, blobs, upload.stored, upload.filename, user_id=user.id,
            plan_id=plan_id, purpose=purpose, public=public, settings=settings,
        )  # fmt: skip
    session.commit()
    job_id = None
    if plan_id is not None and len(track.samples) > SYNC_CONFORMANCE_SAMPLES:
        job_id = jobs.submit(
            "conformance", {"flight_id": flight.id, "plan_id": plan_id},
            conformance_job(db, blobs, flight.id, settings), created_by=user.id,
        )  # fmt: skip
        flight.job_id = job_id
        session.commit()
    elif plan_id is not None:
        try:
            compute_conformance(db, blobs, flight.id, settings)
        except ValueError as exc:  # the track cannot be compared (no airborne samples ...)
            flight.summary = flight.summary | {"conformance_error": " ".join(str(exc).split())}
            session.commit()
    started = _started(session, flight, job_id, user)
    return JSONResponse(started.model_dump(mode="json"), status_code=202 if job_id else 201)


# --- files and reports ------------------------------------------------------------------------


_GONE: dict[str, Any] = {"description": "Deleted at the end of its retention (one line)"}


def _gone(flight: Flight, what: str) -> None:
    """410 Gone, one line, for raw data deleted at the end of their retention."""
    from api.work.retention import deleted_message

    message = deleted_message(flight, what)
    if message is not None:
        raise HTTPException(410, message)


def _blob_response(blobs: Any, sha256: str, media_type: str, filename: str) -> FileResponse:
    if not blobs.exists(sha256):
        raise HTTPException(404, f"the stored file {sha256} is missing from the blob store")
    return FileResponse(blobs.path(sha256), media_type=media_type, filename=filename)


@router.get(
    "/flights/{flight_id}/track",
    response_class=FileResponse,
    summary="The flown track as skyledger's CSV (staff)",
    responses={200: {"content": {"text/csv": {}}}, 410: _GONE},
)
def get_track(
    flight_id: IdPath, session: SessionDep, user: ReaderDep, blobs: BlobsDep
) -> FileResponse:
    flight = visible_flight(session, flight_id, user)
    if flight.track_sha256 is None:
        raise HTTPException(404, f"flight {flight_id} has no track (state {flight.state})")
    _gone(flight, "the track")
    return _blob_response(blobs, flight.track_sha256, "text/csv", f"flight-{flight_id}-track.csv")


@router.get(
    "/flights/{flight_id}/log",
    response_class=FileResponse,
    summary="The flight's telemetry log: the .tlog recorded, or the .tlog/.bin uploaded (staff)",
    responses={200: {"content": {"application/octet-stream": {}}}, 410: _GONE},
)
def get_log(
    flight_id: IdPath, session: SessionDep, user: ReaderDep, blobs: BlobsDep
) -> FileResponse:
    flight = visible_flight(session, flight_id, user)
    if flight.tlog_sha256 is None:
        raise HTTPException(404, f"flight {flight_id} has no telemetry log besides its track")
    _gone(flight, "the telemetry log")
    row = session.get(File, flight.tlog_sha256)
    name = row.name if row is not None else f"flight-{flight_id}.tlog"
    return _blob_response(blobs, flight.tlog_sha256, "application/octet-stream", name)


@router.get(
    "/flights/{flight_id}/conformance",
    response_model=dict[str, Any],
    summary="How the flight kept to its plan, zones and rules (staff)",
)
def get_conformance(flight_id: IdPath, session: SessionDep, user: ReaderDep) -> Any:
    flight = visible_flight(session, flight_id, user)
    if flight.conformance is None:
        why = "it has no plan" if flight.plan_id is None else f"state {flight.state}"
        error = (flight.summary or {}).get("conformance_error")
        raise HTTPException(404, f"flight {flight_id} has no conformance report ({error or why})")
    doc: dict[str, Any] = flight.conformance
    return doc
