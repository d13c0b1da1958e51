"""QGroundControl plan files (``.plan``): one sortie per file.

The mission, geofence and rally points are written as QGroundControl writes them
(plan ``version`` 1, mission ``version`` 2, ArduPilot quadcopter). skyledger's own
metadata (pattern, camera, capture, target, vehicle, settings, sortie number) goes
under a top-level ``"skyledger"`` key that QGroundControl ignores, so a round trip
loses nothing. Reading also accepts what QGroundControl writes: ``ComplexItem``
surveys and corridor scans are flattened into the simple items they saved, ``null``
parameters (QGroundControl's NaN) read as 0, and older items that keep latitude,
longitude and altitude in a separate ``coordinate``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import mapping

from mission.assets import asset_shape
from mission.camera import Camera
from mission.errors import MissionError
from mission.formats.plan_json import (
    MetaDoc,
    check_schema,
    dump_json,
    load_json,
    located,
    location_text,
    meta_dict,
    meta_kwargs,
    validate,
)
from mission.items import MissionItem
from mission.plan import (
    FenceCircle,
    FencePolygon,
    Geofence,
    Home,
    Plan,
    RallyPoint,
    Target,
    Vehicle,
)

FIRMWARE_ARDUPILOT = 3  # MAV_AUTOPILOT_ARDUPILOTMEGA
VEHICLE_QUADROTOR = 2  # MAV_TYPE_QUADROTOR
_MULTIROTORS = {2, 3, 4, 13, 14, 15}  # MAV_TYPE values QGroundControl flies at hoverSpeed
_Num = float | None
Pair = Annotated[list[float], Field(min_length=2, max_length=2)]


class _Lenient(BaseModel):
    """QGroundControl writes many keys skyledger does not need: ignore them."""

    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)


class SimpleItemDoc(_Lenient):
    type: str
    command: int = Field(ge=0, le=65535)
    frame: int = Field(ge=0, le=255)
    autoContinue: bool = True
    params: list[_Num] = Field(min_length=4, max_length=7)
    coordinate: Annotated[list[_Num], Field(min_length=3, max_length=3)] | None = None


class MissionDoc(_Lenient):
    items: list[dict[str, Any]]
    plannedHomePosition: Annotated[list[_Num], Field(min_length=2, max_length=3)]
    cruiseSpeed: _Num = None
    hoverSpeed: _Num = None
    vehicleType: int | None = None


class PolygonDoc(_Lenient):
    polygon: list[Pair] = Field(min_length=3)  # [lat, lon]
    inclusion: bool = True


class CircleCentreDoc(_Lenient):
    center: Pair  # [lat, lon]
    radius: float = Field(gt=0)


class CircleDoc(_Lenient):
    circle: CircleCentreDoc
    inclusion: bool = True


class FenceDoc(_Lenient):
    polygons: list[PolygonDoc] = []
    circles: list[CircleDoc] = []


class RallyPointsDoc(_Lenient):
    points: list[Annotated[list[float], Field(min_length=3, max_length=3)]] = []


class PlanFileDoc(_Lenient):
    fileType: str
    version: int
    mission: MissionDoc
    geoFence: FenceDoc | None = None
    rallyPoints: RallyPointsDoc | None = None
    skyledger: dict[str, Any] | None = None


class PlanMetaDoc(MetaDoc):
    sortie: int = Field(default=1, ge=1)
    sortie_count: int = Field(default=1, ge=1)


# --- writing -------------------------------------------------------------------------------


def _item(seq: int, item: MissionItem) -> dict[str, Any]:
    return {
        "autoContinue": item.autocontinue,
        "command": int(item.command),
        "doJumpId": seq,
        "frame": int(item.frame),
        "params": list(item.params),
        "type": "SimpleItem",
    }


def render_sortie(plan: Plan, index: int) -> str:
    """The ``.plan`` text of sortie ``index`` (0-based) of ``plan``."""
    meta = meta_dict(plan) | {"sortie": index + 1, "sortie_count": len(plan.sorties)}
    speed = plan.vehicle.cruise_speed_ms
    doc = {
        "fileType": "Plan",
        "geoFence": {
            "circles": [
                {
                    "circle": {"center": [c.lat_deg, c.lon_deg], "radius": c.radius_m},
                    "inclusion": c.inclusion,
                    "version": 1,
                }
                for c in plan.geofence.circles
            ],
            "polygons": [
                {
                    "inclusion": p.inclusion,
                    "polygon": [[lat, lon] for lon, lat in p.vertices],
                    "version": 1,
                }
                for p in plan.geofence.polygons
            ],
            "version": 2,
        },
        "groundStation": "skyledger",
        "mission": {
            "cruiseSpeed": speed,
            "firmwareType": FIRMWARE_ARDUPILOT,
            "hoverSpeed": speed,
            "items": [_item(seq, it) for seq, it in enumerate(plan.sorties[index], start=1)],
            "plannedHomePosition": [plan.home.lat_deg, plan.home.lon_deg, plan.home.alt_amsl_m],
            "vehicleType": VEHICLE_QUADROTOR,
            "version": 2,
        },
        "rallyPoints": {
            "points": [[r.lat_deg, r.lon_deg, r.alt_rel_m] for r in plan.rally],
            "version": 2,
        },
        "skyledger": meta,
        "version": 1,
    }
    return dump_json(doc, indent=4) + "\n"


def render(plan: Plan) -> list[str]:
    """One ``.plan`` text per sortie."""
    return [render_sortie(plan, i) for i in range(len(plan.sorties))]


# --- reading -------------------------------------------------------------------------------


def _simple(data: Any, source: str, loc: tuple[int | str, ...]) -> MissionItem:
    doc = validate(SimpleItemDoc, data, source, loc)
    where = location_text(loc)
    params = list(doc.params)
    if len(params) == 4 and doc.coordinate is not None:
        params += doc.coordinate
    if len(params) != 7:
        raise MissionError(
            f"{source}: {where}.params holds {len(doc.params)} values; "
            "expected 7 (or 4 with a 3-value coordinate)"
        )
    p1, p2, p3, p4, lat, lon, alt = (0.0 if p is None else p for p in params)
    with located(source, where):
        return MissionItem(doc.command, doc.frame, p1, p2, p3, p4, lat, lon, alt, doc.autoContinue)


def _items(raw: list[dict[str, Any]], source: str) -> list[MissionItem]:
    out: list[MissionItem] = []
    for i, data in enumerate(raw):
        kind = data.get("type")
        if kind == "SimpleItem":
            out.append(_simple(data, source, ("mission", "items", i)))
        elif kind == "ComplexItem":
            transect = data.get("TransectStyleComplexItem")
            inner = transect.get("Items") if isinstance(transect, dict) else None
            if not isinstance(inner, list):
                name = data.get("complexItemType", "?")
                raise MissionError(
                    f"{source}: mission.items[{i}]: complex item {name!r} stores no mission "
                    "items (only survey and corridor scans do); open the plan in "
                    "QGroundControl, send it to a vehicle and save the mission from there"
                )
            loc = ("mission", "items", i, "TransectStyleComplexItem", "Items")
            out += [_simple(d, source, (*loc, j)) for j, d in enumerate(inner)]
        else:
            raise MissionError(
                f"{source}: mission.items[{i}].type {kind!r} is not 'SimpleItem' or 'ComplexItem'"
            )
    return out


#: QGroundControl's CameraCalc keys for a camera's optics.
_OPTICS = ("SensorWidth", "SensorHeight", "ImageWidth", "ImageHeight", "FocalLength")


def _scan_context(raw: list[dict[str, Any]]) -> dict[str, Any]:
    """Camera and target of a QGroundControl survey or corridor scan, so coverage can be measured.

    Taken from the first complex item whose CameraCalc gives the optics (a "Manual (no
    camera specs)" scan has none) and whose area or line is readable; anything else in it
    is left alone, and a plan without one gets no camera and no target.
    """
    for data in raw:
        if data.get("type") != "ComplexItem" or not isinstance(
            data.get("TransectStyleComplexItem"), dict
        ):
            continue
        calc = data["TransectStyleComplexItem"].get("CameraCalc")
        try:
            camera = _qgc_camera(calc)
            target = _qgc_target(data)
        except (MissionError, TypeError, ValueError, KeyError, IndexError):
            continue
        if camera is not None and target is not None:
            pattern = "survey" if target.kind == "area" else "corridor"
            return {"camera": camera, "target": target, "pattern": pattern}
    return {}


def _qgc_camera(calc: Any) -> Camera | None:
    if not isinstance(calc, dict) or not all(isinstance(calc.get(k), int | float) for k in _OPTICS):
        return None
    sw, sh, iw, ih, f = (float(calc[k]) for k in _OPTICS)
    if calc.get("Landscape", True) is False:  # skyledger's cameras are landscape: turn it round
        sw, sh, iw, ih = sh, sw, ih, iw
    interval = calc.get("MinTriggerInterval")
    interval = float(interval) if isinstance(interval, int | float) and interval > 0 else 0.1
    name = calc.get("CameraName") if isinstance(calc.get("CameraName"), str) else "qgc-camera"
    return Camera(name or "qgc-camera", sw, sh, round(iw), round(ih), f, interval)


def _qgc_target(data: dict[str, Any]) -> Target | None:
    kind = data.get("complexItemType")
    if kind == "survey":
        ring = [[float(lon), float(lat)] for lat, lon in data["polygon"]]
        area = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        return Target(
            kind="area", geometry=mapping(asset_shape(area, "survey polygon", ("Polygon",)))
        )
    if kind == "CorridorScan":
        from mission.corridor import corridor_polygon
        from mission.geodesy import LocalFrame

        line = {
            "type": "LineString",
            "coordinates": [[float(lon), float(lat)] for lat, lon in data["polyline"]],
        }
        geom = asset_shape(line, "corridor polyline", ("LineString",))
        frame = LocalFrame.around(geom)
        band = corridor_polygon(frame.geom_to_local(geom), float(data["CorridorWidth"]))
        return Target(kind="corridor", geometry=mapping(frame.geom_to_wgs84(band)), line=line)
    return None


def _home(mission: MissionDoc, source: str) -> Home:
    lat, lon, *rest = mission.plannedHomePosition
    if lat is None or lon is None:
        raise MissionError(f"{source}: mission.plannedHomePosition has no latitude/longitude")
    alt = rest[0] if rest and rest[0] is not None else 0.0
    with located(source, "mission.plannedHomePosition"):
        return Home(lat, lon, alt)


def _fence(doc: FenceDoc | None) -> Geofence:
    if doc is None:
        return Geofence()
    return Geofence(
        polygons=tuple(
            FencePolygon(tuple((lon, lat) for lat, lon in p.polygon), p.inclusion)
            for p in doc.polygons
        ),
        circles=tuple(
            FenceCircle(c.circle.center[1], c.circle.center[0], c.circle.radius, c.inclusion)
            for c in doc.circles
        ),
    )


def _vehicle(mission: MissionDoc) -> Vehicle:
    speed = mission.hoverSpeed if mission.vehicleType in _MULTIROTORS else mission.cruiseSpeed
    return Vehicle(cruise_speed_ms=speed) if speed is not None and speed > 0 else Vehicle()


def parse(text: str, source: str) -> Plan:
    """Read a QGroundControl ``.plan`` file (one sortie)."""
    data = load_json(text, source)
    if not isinstance(data, dict) or data.get("fileType") != "Plan":
        found = data.get("fileType") if isinstance(data, dict) else type(data).__name__
        raise MissionError(
            f"{source}: fileType {found!r} is not 'Plan': not a QGroundControl plan file"
        )
    doc = validate(PlanFileDoc, data, source)
    if doc.version > 1:
        raise MissionError(
            f"{source}: plan file version {doc.version} is newer than this skyledger reads (1)"
        )
    items = _items(doc.mission.items, source)
    if not items:
        raise MissionError(f"{source}: mission.items is empty; a plan needs at least one item")
    kwargs: dict[str, Any] = {"vehicle": _vehicle(doc.mission), **_scan_context(doc.mission.items)}
    if doc.skyledger is not None:
        check_schema(doc.skyledger, source, "skyledger")
        meta = validate(PlanMetaDoc, doc.skyledger, source, ("skyledger",))
        kwargs = meta_kwargs(meta, source)
    rally = doc.rallyPoints.points if doc.rallyPoints is not None else []
    return Plan(
        home=_home(doc.mission, source),
        sorties=(tuple(items),),
        geofence=_fence(doc.geoFence),
        rally=tuple(RallyPoint(lat, lon, alt) for lat, lon, alt in rally),
        **kwargs,
    )
