"""skyledger's own plan JSON (``.json``), and the schema pieces the other formats share.

The document is versioned: ``{"schema": "skyledger.plan", "version": 1, ...}`` and holds
everything a :class:`~mission.plan.Plan` holds. Pydantic models describe what may be in
the file; the frozen dataclasses of :mod:`mission.plan` are built from them. The
``.plan``, ``.geojson`` and ``.kml`` writers embed the same metadata (:class:`MetaDoc`)
so a round trip through them loses nothing either.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mission.camera import Camera
from mission.errors import MissionError
from mission.items import MissionItem
from mission.plan import (
    PLAN_SCHEMA,
    PLAN_SCHEMA_VERSION,
    Capture,
    FenceCircle,
    FencePolygon,
    Geofence,
    Home,
    Pattern,
    Plan,
    RallyPoint,
    Target,
    TargetKind,
    Vehicle,
)

if TYPE_CHECKING:
    from mission.analysis import Analysis

M = TypeVar("M", bound=BaseModel)
Pair = Annotated[list[float], Field(min_length=2, max_length=2)]
_VEHICLE = Vehicle()


# --- helpers every reader and writer uses ---------------------------------------------


def number_text(value: float) -> str:
    """The shortest text that reads back as exactly ``value``, never in exponent form.

    >>> number_text(-35.363262), number_text(100.0), number_text(1.5e-07)
    ('-35.363262', '100', '0.00000015')
    """
    text = repr(float(value))
    if "e" in text:
        text = format(Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows; write a finite number")


def load_json(text: str, source: str) -> Any:
    """Parse JSON text, turning every failure into a one-line :class:`MissionError`."""
    try:
        return json.loads(text.lstrip("\ufeff"), parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise MissionError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise MissionError(f"{source}: not valid JSON ({exc})") from None


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} value {value!r} cannot be written as JSON")


def dump_json(data: Any, indent: int | None = 2, sort_keys: bool = False) -> str:
    """JSON text with exact (repr) floats; a value JSON cannot hold is a :class:`MissionError`."""
    try:
        return json.dumps(
            data,
            indent=indent,
            sort_keys=sort_keys,
            allow_nan=False,
            ensure_ascii=False,
            default=_json_default,
        )
    except (TypeError, ValueError) as exc:
        raise MissionError(f"cannot write the plan as JSON: {exc}") from None


def location_text(loc: tuple[int | str, ...]) -> str:
    """``("mission", "items", 3)`` as ``mission.items[3]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "document"


def validate(model: type[M], data: Any, source: str, loc: tuple[int | str, ...] = ()) -> M:
    """Validate ``data`` against ``model``; the first error becomes a one-line MissionError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = location_text(loc + tuple(err["loc"]))
        if err["type"] == "missing":
            raise MissionError(f"{source}: {where} is missing (required)") from None
        got = repr(err.get("input"))
        got = got if len(got) <= 60 else got[:57] + "..."
        raise MissionError(f"{source}: {where}: {err['msg']} (got {got})") from None


@contextmanager
def located(source: str, where: str = "") -> Iterator[None]:
    """Prefix a MissionError raised by a model's own checks with the file and place."""
    try:
        yield
    except MissionError as exc:
        prefix = f"{source}: {where}: " if where else f"{source}: "
        raise MissionError(prefix + str(exc)) from None


def check_schema(data: Any, source: str, where: str = "") -> None:
    """Reject a document that is not a skyledger plan or is newer than this code reads."""
    at = f"{where}." if where else ""
    if not isinstance(data, dict):
        what = f"{where} " if where else ""
        raise MissionError(f"{source}: {what}must be a JSON object, not {type(data).__name__}")
    schema = data.get("schema")
    if schema != PLAN_SCHEMA:
        raise MissionError(f"{source}: {at}schema {schema!r} is not {PLAN_SCHEMA!r}")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise MissionError(f"{source}: {at}version {version!r} must be an integer >= 1")
    if version > PLAN_SCHEMA_VERSION:
        raise MissionError(
            f"{source}: {at}version {version} is newer than this skyledger reads "
            f"({PLAN_SCHEMA_VERSION}); upgrade skyledger"
        )


# --- the document -----------------------------------------------------------------------


class _Doc(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class HomeDoc(_Doc):
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float = 0.0


class ItemDoc(_Doc):
    command: int = Field(ge=0, le=65535)
    frame: int = Field(ge=0, le=255)
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    alt_m: float = 0.0
    autocontinue: bool = True


class CameraDoc(_Doc):
    name: str = Field(min_length=1)
    sensor_width_mm: float
    sensor_height_mm: float
    image_width_px: int
    image_height_px: int
    focal_length_mm: float
    min_trigger_interval_s: float


class CaptureDoc(_Doc):
    distance_m: float
    front_overlap: float
    side_overlap: float
    gsd_cm: float
    trigger_distance_m: float
    line_spacing_m: float
    gimbal_pitch_deg: float
    hover: bool = False


class TargetDoc(_Doc):
    kind: TargetKind
    geometry: dict[str, Any]
    radius_m: float | None = None
    height_min_m: float | None = None
    height_max_m: float | None = None
    line: dict[str, Any] | None = None


class VehicleDoc(_Doc):
    name: str = _VEHICLE.name
    cruise_speed_ms: float = _VEHICLE.cruise_speed_ms
    climb_speed_ms: float = _VEHICLE.climb_speed_ms
    descent_speed_ms: float = _VEHICLE.descent_speed_ms
    land_speed_ms: float = _VEHICLE.land_speed_ms
    accel_ms2: float = _VEHICLE.accel_ms2
    endurance_s: float = _VEHICLE.endurance_s
    max_items: int = _VEHICLE.max_items
    rtl_alt_m: float = _VEHICLE.rtl_alt_m


class FencePolygonDoc(_Doc):
    vertices: list[Pair] = Field(min_length=3)  # (lon, lat), not closed
    inclusion: bool = True


class FenceCircleDoc(_Doc):
    lon_deg: float
    lat_deg: float
    radius_m: float = Field(gt=0)
    inclusion: bool = True


class GeofenceDoc(_Doc):
    polygons: list[FencePolygonDoc] = []
    circles: list[FenceCircleDoc] = []


class RallyDoc(_Doc):
    lat_deg: float
    lon_deg: float
    alt_rel_m: float


class MetaDoc(_Doc):
    """What a plan was made for: the part of a plan that mission items do not carry."""

    schema_: Literal["skyledger.plan"] = Field(alias="schema")
    version: int
    pattern: Pattern = "imported"
    name: str = ""
    camera: CameraDoc | None = None
    capture: CaptureDoc | None = None
    target: TargetDoc | None = None
    vehicle: VehicleDoc = VehicleDoc()
    settings: dict[str, Any] = {}
    revision: int = Field(default=1, ge=1)
    derived_from: str | None = None


class PlanDoc(MetaDoc):
    """The whole ``.json`` document."""

    home: HomeDoc
    geofence: GeofenceDoc = GeofenceDoc()
    rally: list[RallyDoc] = []
    #: What the plan does when flown, for readers of the file; recomputed from the items on reading.
    metrics: dict[str, Any] | None = None
    sorties: list[Annotated[list[ItemDoc], Field(min_length=1)]] = Field(min_length=1)


# --- dataclasses <-> documents -----------------------------------------------------------


def meta_dict(plan: Plan) -> dict[str, Any]:
    """The metadata member every skyledger file carries (JSON-ready)."""
    return {
        "schema": PLAN_SCHEMA,
        "version": PLAN_SCHEMA_VERSION,
        "name": plan.name,
        "pattern": plan.pattern,
        "vehicle": asdict(plan.vehicle),
        "camera": None if plan.camera is None else asdict(plan.camera),
        "capture": None if plan.capture is None else asdict(plan.capture),
        "target": None if plan.target is None else asdict(plan.target),
        "settings": plan.settings,
        "revision": plan.revision,
        "derived_from": plan.derived_from,
    }


def meta_kwargs(doc: MetaDoc, source: str) -> dict[str, Any]:
    """Keyword arguments of :class:`Plan` that :func:`meta_dict` wrote."""
    with located(source):
        return {
            "pattern": doc.pattern,
            "name": doc.name,
            "camera": None if doc.camera is None else Camera(**doc.camera.model_dump()),
            "capture": None if doc.capture is None else Capture(**doc.capture.model_dump()),
            "target": None if doc.target is None else Target(**doc.target.model_dump()),
            "vehicle": Vehicle(**doc.vehicle.model_dump()),
            "settings": doc.settings,
            "revision": doc.revision,
            "derived_from": doc.derived_from,
        }


def home_dict(home: Home) -> dict[str, Any]:
    return asdict(home)


def home_from(doc: HomeDoc, source: str) -> Home:
    with located(source):
        return Home(doc.lat_deg, doc.lon_deg, doc.alt_amsl_m)


def item_dict(item: MissionItem) -> dict[str, Any]:
    data = asdict(item)
    data["command"], data["frame"] = int(item.command), int(item.frame)
    return data


def geofence_dict(fence: Geofence) -> dict[str, Any]:
    return {
        "polygons": [
            {"vertices": [list(v) for v in p.vertices], "inclusion": p.inclusion}
            for p in fence.polygons
        ],
        "circles": [asdict(c) for c in fence.circles],
    }


def geofence_from(doc: GeofenceDoc) -> Geofence:
    return Geofence(
        polygons=tuple(
            FencePolygon(tuple((v[0], v[1]) for v in p.vertices), p.inclusion) for p in doc.polygons
        ),
        circles=tuple(
            FenceCircle(c.lon_deg, c.lat_deg, c.radius_m, c.inclusion) for c in doc.circles
        ),
    )


def assemble(
    source: str,
    items: dict[int, dict[int, MissionItem]],
    home: Home | None,
    fence: Geofence,
    rally: list[RallyPoint],
    meta: dict[str, Any],
    *,
    items_from: str,
    home_from: str,
) -> Plan:
    """A plan from what a feature-by-feature reader (GeoJSON, KML) collected.

    ``items`` maps sortie to seq to item; ``items_from`` and ``home_from`` say, for the
    messages, where in the file items and home should have been.
    """
    if not items:
        raise MissionError(f"{source}: no mission items ({items_from}); is this a skyledger plan?")
    if home is None:
        raise MissionError(f"{source}: no home ({home_from})")
    sorties = tuple(tuple(seqs[k] for k in sorted(seqs)) for _, seqs in sorted(items.items()))
    return Plan(home, sorties, geofence=fence, rally=tuple(rally), **meta)


def render(plan: Plan, analysis: Analysis | None = None) -> list[str]:
    """The ``.json`` text of ``plan`` (all sorties in one file), with its metrics."""
    if analysis is None:
        from mission.analysis import analyse

        analysis = analyse(plan)
    doc = meta_dict(plan)
    doc["home"] = home_dict(plan.home)
    doc["geofence"] = geofence_dict(plan.geofence)
    doc["rally"] = [asdict(r) for r in plan.rally]
    doc["metrics"] = analysis.metrics.to_dict()
    lines = [f"  {dump_json(key)}: {dump_json(value, indent=None)}," for key, value in doc.items()]
    sorties = [
        "    [\n"
        + ",\n".join("      " + dump_json(item_dict(i), indent=None) for i in sortie)
        + "\n    ]"
        for sortie in plan.sorties
    ]
    return ["{\n" + "\n".join(lines) + '\n  "sorties": [\n' + ",\n".join(sorties) + "\n  ]\n}\n"]


def parse(text: str, source: str) -> Plan:
    """Read a skyledger ``.json`` plan."""
    data = load_json(text, source)
    check_schema(data, source)
    doc = validate(PlanDoc, data, source)
    home = home_from(doc.home, source)
    meta = meta_kwargs(doc, source)
    sorties = []
    for s, sortie in enumerate(doc.sorties):
        items = []
        for i, item in enumerate(sortie):
            with located(source, f"sorties[{s}][{i}]"):
                items.append(MissionItem(**item.model_dump()))
        sorties.append(tuple(items))
    rally = tuple(RallyPoint(r.lat_deg, r.lon_deg, r.alt_rel_m) for r in doc.rally)
    return Plan(home, tuple(sorties), geofence=geofence_from(doc.geofence), rally=rally, **meta)
