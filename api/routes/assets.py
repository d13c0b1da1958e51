"""Assets: the infrastructure a crew inspects (a bridge deck, a power line, a tower ...).

``POST /api/assets`` (crew) takes a GeoJSON Feature or ``{name, kind, geometry, properties,
public}``; the geometry is validated as the planners need it. ``POST /api/assets/sample``
(crew) stores the sample city's assets. The public reads public assets only
(:class:`AssetPublic`); signed-in readers read every asset with all its fields
(:class:`AssetFull`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select

from api.deps import CrewDep, SessionDep, UserDep
from api.routes.common import (
    IdPath,
    Name,
    Page,
    PagingDep,
    answering,
    checked_json,
    fetch_page,
    not_found,
)
from api.storage.models import Asset

__all__ = ["AssetCreate", "AssetFull", "AssetPublic", "SampleLoaded", "router"]

router = APIRouter(tags=["assets"])

AssetKind = Literal["area", "corridor", "structure", "facade"]


class AssetCreate(BaseModel):
    """A GeoJSON Feature (``name`` and ``kind`` may be among its properties), or the fields."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    type: Literal["Feature"] | None = Field(None, description="'Feature' for a GeoJSON Feature")
    id: Annotated[str | int | None, Field(description="a GeoJSON Feature's id (ignored)")] = None
    name: Name | None = Field(None, description="default: properties.name")
    kind: AssetKind | None = Field(
        None, description="default: properties.kind, else from properties.pattern or the geometry"
    )
    geometry: dict[str, Any] = Field(description="GeoJSON Point, LineString or Polygon (lon, lat)")
    properties: dict[str, Any] = Field(default_factory=dict)
    public: bool = Field(True, description="whether the public may see the asset")

    @field_validator("geometry")
    @classmethod
    def _geometry(cls, value: dict[str, Any]) -> dict[str, Any]:
        return checked_json(value, "geometry", max_bytes=1024 * 1024)

    @field_validator("properties")
    @classmethod
    def _properties(cls, value: dict[str, Any]) -> dict[str, Any]:
        return checked_json(value, "properties", max_bytes=64 * 1024)

    @model_validator(mode="after")
    def _name(self) -> AssetCreate:
        if self.name is None:
            name = self.properties.get("name")
            if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
                raise ValueError("name: give a name (1..200 characters) or a properties.name")
            if any(ord(c) < 32 or ord(c) == 127 for c in name):
                raise ValueError("properties.name: must be one line without control characters")
            self.name = name.strip()
        if self.kind is None and self.properties.get("kind") is not None:
            kind = self.properties["kind"]
            if kind not in ("area", "corridor", "structure", "facade"):
                raise ValueError(
                    f"properties.kind {kind!r:.40} is not one of area, corridor, structure, facade"
                )
            self.kind = kind
        return self


class AssetPublic(BaseModel):
    """What anyone may see of a public asset."""

    id: int
    name: str
    kind: str
    title: str | None = None
    geometry: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, asset: Asset) -> AssetPublic:
        title = (asset.properties or {}).get("title")
        return cls(
            id=asset.id,
            name=asset.name,
            kind=asset.kind,
            title=title if isinstance(title, str) else None,
            geometry=asset.geometry,
            created_at=asset.created_at,
        )


class AssetFull(BaseModel):
    """An asset as signed-in readers see it."""

    id: int
    name: str
    kind: str
    title: str | None = None
    geometry: dict[str, Any]
    properties: dict[str, Any]
    public: bool
    created_by: int
    created_at: datetime

    @classmethod
    def of(cls, asset: Asset) -> AssetFull:
        return cls(
            **AssetPublic.of(asset).model_dump(),
            properties=asset.properties or {},
            public=asset.public,
            created_by=asset.created_by,
        )


class SampleLoaded(BaseModel):
    """The sample city's assets, and how many of them this request added."""

    created: int
    items: list[AssetFull]


@router.post("/assets", status_code=201, response_model=AssetFull)
def create_asset(body: AssetCreate, session: SessionDep, user: CrewDep) -> AssetFull:
    """Add an asset (crew, admin)."""
    from api.work import planning

    with answering():
        asset = planning.create_asset(
            session,
            name=str(body.name),
            kind=body.kind,
            geometry=body.geometry,
            properties=body.properties,
            public=body.public,
            user_id=user.id,
        )
    out = AssetFull.of(asset)
    session.commit()
    return out


@router.post("/assets/sample", response_model=SampleLoaded)
def load_sample(session: SessionDep, user: CrewDep) -> SampleLoaded:
    """Store the sample city's assets (crew, admin); those stored already are kept as they are."""
    from api.work import planning

    with answering():
        assets, created = planning.load_sample_assets(session, user.id)
    out = SampleLoaded(created=created, items=[AssetFull.of(a) for a in assets])
    session.commit()
    return out


@router.get("/assets", response_model=Page[AssetFull] | Page[AssetPublic])
def list_assets(
    session: SessionDep, user: UserDep, paging: PagingDep
) -> Page[AssetFull] | Page[AssetPublic]:
    """Assets, newest first: the public sees public assets only, signed-in readers all."""
    statement = select(Asset).order_by(Asset.id.desc())
    if user is None:
        return fetch_page(session, statement.where(Asset.public.is_(True)), paging, AssetPublic.of)
    return fetch_page(session, statement, paging, AssetFull.of)


@router.get("/assets/{asset_id}", response_model=AssetFull | AssetPublic)
def get_asset(asset_id: IdPath, session: SessionDep, user: UserDep) -> AssetFull | AssetPublic:
    """One asset; to the public, a non-public asset does not exist."""
    asset = session.get(Asset, asset_id)
    if asset is None or (user is None and not asset.public):
        raise not_found("asset", asset_id)
    return AssetPublic.of(asset) if user is None else AssetFull.of(asset)
