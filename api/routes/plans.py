"""Plans: made by the planner from an asset and parameters, or uploaded as a mission file.

``POST /api/plans`` (crew) plans an asset with the options of ``skyledger plan PATTERN``;
``POST /api/plans/upload`` (crew) reads a ``.plan``, ``.waypoints`` or skyledger ``.json``
file. Every plan is kept as the project's plan JSON with its SHA-256; a plan repaired by a
check is a new plan naming its parent. Signed-in readers list plans, read one with its
figures (distance, duration, photos ...) and download it in any mission format.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import CrewDep, ReaderDep, SessionDep
from api.routes.common import (
    MAX_ID,
    IdField,
    IdPath,
    Page,
    PagingDep,
    answering,
    fetch_page,
    get_or_404,
)
from api.storage.models import Asset
from api.storage.models import Plan as PlanRow
from api.work.planning import PlanParams

__all__ = ["MAX_UPLOAD_BYTES", "PlanCreate", "PlanCreated", "PlanFull", "router"]

router = APIRouter(tags=["plans"])

#: The largest mission file accepted.
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
UPLOAD_EXTENSIONS = (".plan", ".waypoints", ".json")
#: The most mission items and photos an uploaded plan may hold (checking work grows with both).
MAX_UPLOAD_ITEMS = 10_000
MAX_UPLOAD_PHOTOS = 30_000
#: Download formats: media type of each.
MEDIA_TYPES = {
    "json": "application/json",
    "plan": "application/json",
    "waypoints": "text/plain; charset=utf-8",
    "kml": "application/vnd.google-earth.kml+xml",
    "geojson": "application/geo+json",
}


class PlanCreate(PlanParams):
    """The asset to plan and the planner's options (as ``skyledger plan PATTERN`` takes them)."""

    asset_id: IdField


class PlanFull(BaseModel):
    """A plan as signed-in readers see it; ``metrics`` are its figures flown on paper."""

    id: int
    asset_id: int | None
    name: str
    revision: int
    parent_id: int | None
    source: str
    params: dict[str, Any]
    sha256: str
    created_by: int
    created_at: datetime
    metrics: dict[str, Any] = Field(
        default_factory=dict,
        description="distance_m, duration_s, photos, gsd_cm, coverage, items, sorties",
    )

    @classmethod
    def of(cls, row: PlanRow, metrics: bool = True) -> PlanFull:
        from api.work.planning import plan_metrics

        return cls(
            id=row.id,
            asset_id=row.asset_id,
            name=row.name,
            revision=row.revision,
            parent_id=row.parent_id,
            source=row.source,
            params=row.params or {},
            sha256=row.sha256,
            created_by=row.created_by,
            created_at=row.created_at,
            metrics=plan_metrics(row) if metrics else {},
        )


class PlanCreated(PlanFull):
    """A new plan, with what the planner warned about."""

    warnings: list[str] = Field(default_factory=list)


@router.post("/plans", status_code=201, response_model=PlanCreated)
def create_plan(body: PlanCreate, session: SessionDep, user: CrewDep) -> PlanCreated:
    """Plan an asset (crew, admin); the planner runs while the request waits."""
    from api.work import planning

    asset = get_or_404(session, Asset, body.asset_id, "asset")
    params = PlanParams.model_validate(body.model_dump(exclude={"asset_id"}, exclude_unset=True))
    with answering():
        row, warnings = planning.make_plan(session, asset, params, user.id)
    out = PlanCreated(**PlanFull.of(row).model_dump(), warnings=warnings)
    session.commit()
    return out


def _safe_name(name: str) -> str:
    """A file name reduced to letters, digits, ``._-`` (no folders), for messages and names."""
    base = re.split(r"[\\/]", name)[-1]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")[:100] or "plan"


@router.post("/plans/upload", status_code=201, response_model=PlanCreated)
def upload_plan(
    session: SessionDep,
    user: CrewDep,
    file: Annotated[UploadFile, File(description=".plan, .waypoints or skyledger .json, ≤ 5 MB")],
    name: Annotated[str | None, Form(max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")] = None,
    asset_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> PlanCreated:
    """Store an uploaded mission file as a plan (crew, admin)."""
    from dataclasses import replace

    from api.work import planning
    from mission import formats
    from mission.analysis import analyse
    from mission.errors import MissionError

    shown = _safe_name(file.filename or "")
    ext = next((e for e in UPLOAD_EXTENSIONS if shown.lower().endswith(e)), None)
    if ext is None:
        raise HTTPException(
            422, f"file {shown!r}: the name must end in {', '.join(UPLOAD_EXTENSIONS)}"
        )
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"file {shown!r} is larger than {MAX_UPLOAD_BYTES} bytes (5 MB)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(400, f"file {shown!r} is not UTF-8 text") from None
    if asset_id is not None:
        get_or_404(session, Asset, asset_id, "asset")
    try:
        plan = formats.parse(text, ext, shown)
        if len(plan.items) > MAX_UPLOAD_ITEMS:
            raise HTTPException(
                422,
                f"file {shown!r} holds {len(plan.items)} mission items; at most "
                f"{MAX_UPLOAD_ITEMS} are taken",
            )
        if name:
            plan = replace(plan, name=name.strip())
        analysis = analyse(plan)
        if analysis.metrics.photos > MAX_UPLOAD_PHOTOS:
            raise HTTPException(
                422,
                f"file {shown!r} takes {analysis.metrics.photos} photos; at most "
                f"{MAX_UPLOAD_PHOTOS} are taken",
            )
    except MissionError as exc:
        raise HTTPException(400, " ".join(str(exc).split())) from None
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        raise HTTPException(
            400, f"file {shown!r} cannot be read as a {ext} mission ({type(exc).__name__})"
        ) from None
    with answering():
        row = planning.store_plan(
            session,
            plan,
            source="upload",
            user_id=user.id,
            asset_id=asset_id,
            params={"file": shown, "format": ext},
            analysis=analysis,
        )
    out = PlanCreated(**PlanFull.of(row).model_dump(), warnings=list(analysis.warnings))
    session.commit()
    return out


@router.get("/plans", response_model=Page[PlanFull])
def list_plans(
    session: SessionDep,
    user: ReaderDep,
    paging: PagingDep,
    asset_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Page[PlanFull]:
    """Plans, newest first (signed-in readers); ``?asset_id=`` keeps one asset's plans."""
    statement = select(PlanRow).order_by(PlanRow.id.desc())
    if asset_id is not None:
        statement = statement.where(PlanRow.asset_id == asset_id)
    return fetch_page(session, statement, paging, lambda row: PlanFull.of(row, metrics=False))


@router.get("/plans/{plan_id}", response_model=PlanFull)
def get_plan(plan_id: IdPath, session: SessionDep, user: ReaderDep) -> PlanFull:
    """One plan with its figures (signed-in readers)."""
    return PlanFull.of(get_or_404(session, PlanRow, plan_id, "plan"))


@router.get(
    "/plans/{plan_id}/file",
    response_class=Response,
    responses={200: {"description": "the mission file", "content": {"application/json": {}}}},
)
def plan_file(
    plan_id: IdPath,
    session: SessionDep,
    user: ReaderDep,
    format: Annotated[
        Literal["json", "plan", "waypoints", "kml", "geojson"],
        Query(description="the file format"),
    ] = "json",
    sortie: Annotated[
        int | None, Query(ge=1, le=10_000, description="for .plan/.waypoints: which sortie")
    ] = None,
) -> Response:
    """The plan as a mission file to download (signed-in readers).

    ``.plan`` and ``.waypoints`` hold one sortie each: a plan of several sorties needs
    ``?sortie=N``."""
    from api.work import planning
    from mission import formats

    row = get_or_404(session, PlanRow, plan_id, "plan")
    ext = f".{format}"
    stem = f"{_safe_name(row.name)}-r{row.revision}"
    if ext == ".json":
        texts = [row.document]
    else:
        plan = planning.load_plan(row)
        texts = formats.render(plan, ext)
    names = formats.output_names(stem, ext, len(texts))
    index = 0
    if len(texts) > 1:
        if sortie is None:
            raise HTTPException(
                422, f"sortie: plan {plan_id} has {len(texts)} sorties; add ?sortie=1..{len(texts)}"
            )
        if sortie > len(texts):
            raise HTTPException(
                422, f"sortie {sortie}: plan {plan_id} has sorties 1..{len(texts)} only"
            )
        index = sortie - 1
    elif sortie not in (None, 1):
        raise HTTPException(422, f"sortie {sortie}: plan {plan_id} has one sortie")
    return Response(
        texts[index],
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{names[index]}"'},
    )
