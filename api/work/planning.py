"""Assets and plans as the service keeps them: what the routes and the demo call.

- :func:`create_asset` validates a geometry with :func:`mission.assets.validate_geometry`;
  :func:`load_sample_assets` stores the sample city's assets (idempotent by name), each
  with the city's take-off point as its ``home`` property.
- :func:`plan_asset` plans an asset the way ``skyledger plan PATTERN`` and the demo do:
  the pattern its ``pattern`` property (or its kind) names, geometry parameters (width,
  radius, heights, side) from the asset's properties unless given, image quality and
  overlaps as given, else as the asset's properties suggest, else the command's defaults.
  :func:`store_plan` keeps the project's plan JSON (:mod:`mission.formats`) and its SHA-256.

Checks are in :mod:`api.work.checking`, approvals in :mod:`api.work.approving`.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.storage.models import Asset
from api.storage.models import Plan as PlanRow
from api.work.errors import Invalid

if TYPE_CHECKING:
    from mission.analysis import Analysis
    from mission.plan import Home, Plan

__all__ = [
    "ASSET_KINDS",
    "DEFAULT_CAMERA",
    "DEFAULT_RULES",
    "HomeIn",
    "PlanParams",
    "asset_feature",
    "create_asset",
    "load_plan",
    "load_sample_assets",
    "make_plan",
    "plan_asset",
    "store_plan",
]

DEFAULT_CAMERA = "mavic3-enterprise"
DEFAULT_RULES = "eu-open"
#: The most photos a plan made while the request waits may take (estimated before planning).
MAX_PHOTOS = 20_000
#: The planner each kind of asset is planned with, and the geometries it takes.
ASSET_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "area": ("survey", ("Polygon",)),
    "corridor": ("corridor", ("LineString",)),
    "structure": ("structure", ("Point", "Polygon")),
    "facade": ("facade", ("LineString",)),
}
PATTERN_KIND = {pattern: kind for kind, (pattern, _) in ASSET_KINDS.items()}
Pattern = Literal["survey", "corridor", "structure", "facade"]
#: Which options each pattern takes (besides the common ones).
_PATTERN_OPTIONS: dict[str, frozenset[str]] = {
    "survey": frozenset({"gsd_cm", "alt_rel_m", "angle_deg", "crosshatch", "turnaround_m"}),
    "corridor": frozenset({"gsd_cm", "alt_rel_m", "turnaround_m", "width_m"}),
    "structure": frozenset({"gsd_cm", "standoff_m", "radius_m", "height_m", "gimbal_pitch_deg"}),
    "facade": frozenset({"gsd_cm", "standoff_m", "height_min_m", "height_max_m", "side"}),
}
_ALL_OPTIONS = frozenset().union(*_PATTERN_OPTIONS.values())


class HomeIn(BaseModel):
    """A take-off point: latitude, longitude (degrees) and its ground elevation above sea level."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_amsl_m: float = Field(0.0, ge=-1000, le=10000)


class PlanParams(BaseModel):
    """The options of ``skyledger plan PATTERN`` (overlaps in percent, as there)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    pattern: Pattern | None = Field(
        None, description="default: the asset's pattern property, else its kind's planner"
    )
    camera: str = Field(DEFAULT_CAMERA, max_length=64, description="a preset camera name")
    gsd_cm: float | None = Field(None, gt=0, le=100, description="ground sample distance")
    alt_rel_m: float | None = Field(
        None, gt=0, le=1000, description="survey/corridor height above home (instead of gsd_cm)"
    )
    standoff_m: float | None = Field(None, gt=0, le=500, description="structure/facade distance")
    front_overlap_pct: float | None = Field(None, ge=0, lt=100, description="default 75")
    side_overlap_pct: float | None = Field(None, ge=0, lt=100, description="default 65")
    angle_deg: float | None = Field(None, ge=-360, le=360, description="survey lane bearing")
    crosshatch: bool | None = Field(None, description="survey: fly a second grid at 90°")
    turnaround_m: float | None = Field(None, ge=0, le=1000, description="default 10")
    width_m: float | None = Field(None, gt=0, le=10_000, description="corridor width")
    radius_m: float | None = Field(None, gt=0, le=10_000, description="structure radius")
    height_m: float | None = Field(None, gt=0, le=1000, description="structure height")
    gimbal_pitch_deg: float | None = Field(None, ge=-90, le=90, description="0 = level")
    height_min_m: float | None = Field(None, ge=0, le=1000, description="facade bottom")
    height_max_m: float | None = Field(None, gt=0, le=1000, description="facade top")
    side: Literal["left", "right"] | None = Field(None, description="facade side of the line")
    home: HomeIn | None = Field(None, description="default: the asset's home property")
    hover: bool = Field(False, description="stop for each photo")
    ceiling_m: float = Field(120.0, gt=0, le=10_000, description="max height")
    endurance_s: float | None = Field(None, gt=0, le=86_400, description="per battery")


# --- assets -----------------------------------------------------------------------------------


def _home_property(value: Any, where: str) -> HomeIn | None:
    if value is None:
        return None
    try:
        return HomeIn.model_validate(value)
    except ValueError:
        raise Invalid(
            f"{where}: home must be {{lat, lon, alt_amsl_m}} in degrees and metres"
        ) from None


def create_asset(
    session: Session,
    *,
    name: str,
    kind: str | None,
    geometry: Any,
    properties: dict[str, Any],
    public: bool,
    user_id: int,
) -> Asset:
    """Validate and add an asset; ``kind`` defaults from a ``pattern`` property or the geometry."""
    from mission.assets import validate_geometry
    from mission.errors import MissionError

    pattern = properties.get("pattern")
    if kind is None and isinstance(pattern, str) and pattern in PATTERN_KIND:
        kind = PATTERN_KIND[pattern]
    if kind is None:
        gtype = geometry.get("type") if isinstance(geometry, dict) else None
        kind = {"Polygon": "area", "Point": "structure"}.get(str(gtype))
        if kind is None:
            raise Invalid(f"kind: give one of {', '.join(ASSET_KINDS)} for this geometry")
    if kind not in ASSET_KINDS:
        raise Invalid(f"kind {kind!r} is not one of {', '.join(ASSET_KINDS)}")
    if pattern is not None and pattern not in _PATTERN_OPTIONS:
        raise Invalid(f"properties.pattern {pattern!r} is not one of {', '.join(_PATTERN_OPTIONS)}")
    try:
        clean = validate_geometry(geometry, "geometry", ASSET_KINDS[kind][1])
    except MissionError as exc:
        raise Invalid(str(exc)) from None
    _home_property(properties.get("home"), "properties.home")
    asset = Asset(
        name=name,
        kind=kind,
        geometry=clean,
        properties={**properties, "name": name},
        public=public,
        created_by=user_id,
    )
    session.add(asset)
    session.flush()
    return asset


def load_sample_assets(
    session: Session, user_id: int, public: bool = True
) -> tuple[list[Asset], int]:
    """Store each asset of the sample city not stored yet (by name); return all of them and
    how many were added. The city's home marker becomes each asset's ``home`` property."""
    from mission.assets import find_home, sample_city

    city = sample_city()
    marker = find_home(city, "sample city")
    home = None
    if marker is not None:
        lon, lat = marker["geometry"]["coordinates"]
        home = {"lat": lat, "lon": lon, "alt_amsl_m": marker["properties"].get("alt_amsl_m", 0.0)}
    names = [
        f["properties"]["name"] for f in city["features"] if f["properties"].get("kind") != "home"
    ]
    existing = {a.name: a for a in session.scalars(select(Asset).where(Asset.name.in_(names)))}
    added = 0
    out = []
    for feature in city["features"]:
        props = dict(feature["properties"])
        if props.get("kind") == "home":
            continue
        asset = existing.get(props["name"])
        if asset is None:
            if home is not None:
                props["home"] = home
            asset = create_asset(
                session,
                name=props["name"],
                kind=props.get("kind"),
                geometry=feature["geometry"],
                properties=props,
                public=public,
                user_id=user_id,
            )
            added += 1
        out.append(asset)
    return out, added


def asset_feature(asset: Asset) -> dict[str, Any]:
    """The asset as a GeoJSON Feature (its properties with its name and kind)."""
    props = {**(asset.properties or {}), "name": asset.name, "kind": asset.kind}
    return {"type": "Feature", "id": asset.id, "geometry": asset.geometry, "properties": props}


# --- planning ---------------------------------------------------------------------------------


def _suggested(props: dict[str, Any], key: str, where: str) -> Any:
    """The value of option ``key`` an asset's properties suggest (None when they do not),
    held to the same bounds as a request's."""
    from pydantic import ValidationError

    if props.get(key) is None:
        return None
    try:
        return getattr(PlanParams.model_validate({key: props[key]}), key)
    except ValidationError as exc:
        why = str(exc.errors()[0]["msg"]).rstrip(".")
        raise Invalid(f"{where} property {key} {props[key]!r:.40}: {why}") from None


def _pattern_of(feature: dict[str, Any], params: PlanParams) -> str:
    props = feature.get("properties") or {}
    if params.pattern is not None:
        return params.pattern
    pattern = props.get("pattern")
    if isinstance(pattern, str) and pattern in _PATTERN_OPTIONS:
        return pattern
    kind = props.get("kind")
    if kind in ASSET_KINDS:
        return ASSET_KINDS[kind][0]
    raise Invalid(f"pattern: give one of {', '.join(_PATTERN_OPTIONS)} for this asset")


def _home(params: PlanParams, props: dict[str, Any], where: str) -> Home | None:
    from mission.plan import Home

    given = params.home or _home_property(props.get("home"), f"{where} property")
    if given is None:
        return None
    return Home(lat_deg=given.lat, lon_deg=given.lon, alt_amsl_m=given.alt_amsl_m)


def plan_asset(feature: dict[str, Any], params: PlanParams) -> tuple[Plan, dict[str, Any]]:
    """Plan the asset ``feature`` (see the module's docstring); returns the plan and the
    parameters used (the request's, with what came from the asset filled in)."""
    from mission.camera import PRESETS
    from mission.plan import Vehicle

    props = dict(feature.get("properties") or {})
    where = f"asset {props.get('name') or feature.get('id')!r}"
    pattern = _pattern_of(feature, params)
    shape = _geometry(feature.get("geometry"), ASSET_KINDS[PATTERN_KIND[pattern]][1])
    given = params.model_dump(exclude_none=True, exclude_defaults=True)
    unused = sorted((set(given) & _ALL_OPTIONS) - _PATTERN_OPTIONS[pattern])
    if unused:
        listed = ", ".join(sorted(_PATTERN_OPTIONS[pattern]))
        raise Invalid(f"{unused[0]}: a {pattern} plan does not take it (it takes {listed})")
    if params.camera not in PRESETS:
        raise Invalid(f"camera {params.camera!r} is not a preset: use one of {', '.join(PRESETS)}")
    used: dict[str, Any] = {**given, "pattern": pattern, "camera": params.camera}

    def option(key: str, default: float | None = None) -> float | None:
        value = getattr(params, key)
        if value is None:
            value = _suggested(props, key, where)
        if value is None:
            value = default
        if value is not None:
            used[key] = value
        return value

    def required(key: str) -> float:
        value = option(key)
        if value is None:
            raise Invalid(
                f"{key} is required for a {pattern} plan (or a {key} property on {where})"
            )
        return value

    if params.gsd_cm is not None and (params.alt_rel_m or params.standoff_m):
        other = "alt_rel_m" if params.alt_rel_m else "standoff_m"
        raise Invalid(f"gsd_cm and {other}: give one of them, not both")
    takes = _PATTERN_OPTIONS[pattern]
    suggest = params.gsd_cm is None and params.alt_rel_m is None and params.standoff_m is None
    # without any image quality asked for, the one the asset suggests (as the demo passes it)
    gsd = option("gsd_cm") if suggest and "gsd_cm" in takes else params.gsd_cm
    standoff = option("standoff_m") if suggest and "standoff_m" in takes else params.standoff_m
    front = option("front_overlap_pct", 75.0) or 0.0
    side = option("side_overlap_pct", 65.0) or 0.0
    common: dict[str, Any] = {
        "front_overlap": front / 100.0,
        "side_overlap": side / 100.0,
        "vehicle": None if params.endurance_s is None else Vehicle(endurance_s=params.endurance_s),
        "hover": params.hover,
        "ceiling_m": params.ceiling_m,
        "home": _home(params, props, where),
        "name": params.name or str(props.get("name") or ""),
    }
    camera = PRESETS[params.camera]
    if pattern in ("survey", "corridor"):
        if gsd is None and params.alt_rel_m is None:
            raise Invalid(f"gsd_cm or alt_rel_m is required for a {pattern} plan")
        nadir: dict[str, Any] = {
            "gsd_cm": gsd,
            "altitude_m": params.alt_rel_m,
            "turnaround_m": option("turnaround_m", 10.0),
        }
        distance = params.alt_rel_m or camera.distance_for_gsd(gsd or 1.0)
        if pattern == "survey":
            from mission.survey import plan_survey

            surface = _metric(shape).area * (2 if params.crosshatch else 1)
            _within_budget(camera, distance, front, side, surface, where)
            plan = plan_survey(
                shape,
                camera,
                angle_deg=params.angle_deg,
                crosshatch=bool(params.crosshatch),
                **nadir,
                **common,
            )
        else:
            from mission.corridor import plan_corridor

            width = required("width_m")
            _within_budget(camera, distance, front, side, _metric(shape).length * width, where)
            plan = plan_corridor(shape, width, camera, **nadir, **common)
    elif pattern == "structure":
        from mission.structure import plan_structure

        height = required("height_m")
        distance = standoff or camera.distance_for_gsd(gsd or 1.0)
        where_is: dict[str, Any] = {"footprint": shape}
        if shape["type"] == "Point":
            lon, lat = shape["coordinates"][:2]
            radius = required("radius_m")
            where_is = {"center": (lon, lat), "radius_m": radius}
            around = 2 * math.pi * (radius + distance)
        else:
            around = _metric(shape).length + 2 * math.pi * distance
        _within_budget(camera, distance, front, side, around * height, where)
        plan = plan_structure(
            camera,
            height_m=height,
            standoff_m=standoff,
            gsd_cm=gsd,
            gimbal_pitch_deg=option("gimbal_pitch_deg", 0.0) or 0.0,
            **where_is,
            **common,
        )
    else:
        from mission.facade import plan_facade

        side_of = params.side or _suggested(props, "side", where) or "left"
        used["side"] = side_of
        low, high = required("height_min_m"), required("height_max_m")
        distance = standoff or camera.distance_for_gsd(gsd or 1.0)
        wall = _metric(shape).length * max(high - low, 0.0)
        _within_budget(camera, distance, front, side, wall, where)
        plan = plan_facade(
            shape,
            camera,
            height_min_m=low,
            height_max_m=high,
            standoff_m=standoff,
            gsd_cm=gsd,
            side=side_of,
            **common,
        )
    return plan, used


def _metric(geometry: dict[str, Any]) -> Any:
    """``geometry`` as a shapely shape in metres (near enough for an estimate)."""
    import numpy as np
    import shapely

    shape = shapely.geometry.shape(geometry)
    scale = np.array([111_320.0 * math.cos(math.radians(shape.centroid.y)), 110_540.0])
    return shapely.transform(shape, lambda xy: xy * scale)


def _within_budget(
    camera: Any, distance_m: float, front_pct: float, side_pct: float, surface_m2: float, where: str
) -> None:
    """Refuse, before planning, parameters that would take more photos than :data:`MAX_PHOTOS`
    (the planners' work grows with the photos: millions would hold a request for minutes)."""
    across, along = camera.footprint_m(distance_m)
    cell = across * (1 - side_pct / 100.0) * along * (1 - front_pct / 100.0)
    photos = surface_m2 / cell if cell > 0 else math.inf
    if photos > MAX_PHOTOS:
        raise Invalid(
            f"{where} with these parameters needs about {photos:,.0f} photos, more than the "
            f"{MAX_PHOTOS:,} a plan may take here: ask for a coarser gsd_cm (or a greater "
            "distance), lower overlaps, or split the asset"
        )


def _geometry(geometry: Any, kinds: tuple[str, ...]) -> dict[str, Any]:
    from mission.assets import validate_geometry
    from mission.errors import MissionError

    try:
        return validate_geometry(geometry, "asset geometry", kinds)
    except MissionError as exc:
        hint = " (choose another pattern)" if ", got " in str(exc) else ""
        raise Invalid(f"{exc}{hint}") from None


def _document(plan: Plan, analysis: Analysis | None) -> str:
    from mission import formats

    return formats.render(plan, ".json", analysis)[0]


def store_plan(
    session: Session,
    plan: Plan,
    *,
    source: str,
    user_id: int,
    asset_id: int | None = None,
    params: dict[str, Any] | None = None,
    parent: PlanRow | None = None,
    analysis: Analysis | None = None,
) -> PlanRow:
    """Add a plans row holding ``plan``'s JSON; a repair (``parent``) is the next revision."""
    document = _document(plan, analysis)
    row = PlanRow(
        asset_id=asset_id if parent is None else parent.asset_id,
        name=(plan.name or (parent.name if parent else "") or "plan")[:200],
        revision=1 if parent is None else parent.revision + 1,
        parent_id=None if parent is None else parent.id,
        source=source,
        params=params or {},
        document=document,
        sha256=hashlib.sha256(document.encode("utf-8")).hexdigest(),
        created_by=user_id,
    )
    session.add(row)
    session.flush()
    return row


def make_plan(
    session: Session, asset: Asset, params: PlanParams, user_id: int
) -> tuple[PlanRow, list[str]]:
    """Plan ``asset`` and store the plan; returns its row and the planner's warnings."""
    from mission.analysis import analyse

    plan, used = plan_asset(asset_feature(asset), params)
    analysis = analyse(plan)
    row = store_plan(
        session,
        plan,
        source="planner",
        user_id=user_id,
        asset_id=asset.id,
        params=used,
        analysis=analysis,
    )
    return row, list(analysis.warnings)


def load_plan(row: PlanRow) -> Plan:
    """The :class:`mission.plan.Plan` a plans row holds."""
    from mission import formats

    return formats.parse(row.document, ".json", f"plan {row.id}")


def plan_metrics(row: PlanRow) -> dict[str, Any]:
    """The figures stored with the plan's JSON (distance, duration, photos, ...)."""
    try:
        metrics = json.loads(row.document).get("metrics")
    except (ValueError, AttributeError):
        return {}
    return metrics if isinstance(metrics, dict) else {}
