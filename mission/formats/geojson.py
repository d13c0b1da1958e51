"""GeoJSON (RFC 7946) plans: a FeatureCollection any GIS or web map can show.

Every feature says what it is in ``properties.kind``:

- ``home``: a Point (lon, lat, alt above sea level);
- ``route``: per sortie, a LineString through the positions flown (lon, lat, alt_rel);
- ``item``: one per mission item, a Point where the item has a position and
  ``"geometry": null`` where it has none (DO_, CONDITION_, RTL), with ``seq``,
  ``sortie``, ``command``, ``frame``, ``params`` (p1..p4), ``alt_m`` and ``autocontinue``;
- ``fence``: inclusion/exclusion Polygons, and circles as Points with ``radius_m``;
- ``rally``: Points (lon, lat, alt_rel);
- ``photo``: each photo's ground footprint as a Polygon, where the plan has a camera.

A top-level ``"skyledger"`` member holds home and the plan's metadata, so reading the
file back rebuilds the plan exactly; ``route`` and ``photo`` features are derived and
ignored when reading.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mission.errors import MissionError
from mission.formats.plan_json import (
    HomeDoc,
    MetaDoc,
    assemble,
    check_schema,
    dump_json,
    home_dict,
    home_from,
    load_json,
    located,
    meta_dict,
    meta_kwargs,
    validate,
)
from mission.items import Cmd, Frame, MissionItem
from mission.plan import FenceCircle, FencePolygon, Geofence, Home, Plan, RallyPoint

if TYPE_CHECKING:
    from mission.analysis import Analysis, Photo

Position = Annotated[list[float], Field(min_length=2, max_length=3)]
Ring = Annotated[list[Position], Field(min_length=4)]


class _Lenient(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)


class CollectionDoc(_Lenient):
    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]
    skyledger: dict[str, Any] | None = None


class FeatureDoc(_Lenient):
    type: Literal["Feature"]
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None


class PointDoc(_Lenient):
    type: Literal["Point"]
    coordinates: Position


class PolygonDoc(_Lenient):
    type: Literal["Polygon"]
    coordinates: list[Ring] = Field(min_length=1)


class ItemPropsDoc(_Lenient):
    sortie: int = Field(ge=1)
    seq: int = Field(ge=1)
    command: int = Field(ge=0, le=65535)
    frame: int = Field(ge=0, le=255)
    params: Annotated[list[float], Field(min_length=4, max_length=4)]
    alt_m: float
    autocontinue: bool = True


class FencePropsDoc(_Lenient):
    inclusion: bool = True
    radius_m: float | None = Field(default=None, gt=0)


class GeoMetaDoc(MetaDoc):
    home: HomeDoc


# --- shared with the KML writer -------------------------------------------------------------


def has_point(item: MissionItem) -> bool:
    """Whether an item is drawn as a point: it carries a latitude/longitude."""
    return not (item.lat_deg == 0.0 and item.lon_deg == 0.0)


def route_points(plan: Plan, index: int) -> list[tuple[float, float, float]]:
    """(lon, lat, alt_rel) of the positions sortie ``index`` flies through, home first."""
    home = plan.home
    pts = [(home.lon_deg, home.lat_deg, 0.0)]
    for item in plan.sorties[index]:
        if item.has_position:
            alt = item.alt_m - home.alt_amsl_m if item.frame == Frame.GLOBAL else item.alt_m
            pts.append((item.lon_deg, item.lat_deg, alt))
        elif item.command == Cmd.NAV_TAKEOFF:
            pts.append((home.lon_deg, home.lat_deg, item.alt_m))
        elif item.command in (Cmd.NAV_RETURN_TO_LAUNCH, Cmd.NAV_LAND):
            pts.append((home.lon_deg, home.lat_deg, pts[-1][2]))
            pts.append((home.lon_deg, home.lat_deg, 0.0))
    return pts if len(pts) >= 2 else []


def photo_footprints(
    plan: Plan, analysis: Analysis | None = None
) -> list[tuple[int, Photo, tuple[tuple[float, float], ...]]]:
    """(photo number from 1, photo, ground footprint corners (lon, lat) counter-clockwise).

    Only photos that see the ground, and only when the plan has a camera. ``analysis``
    is the plan's paper flight when the caller already has it.
    """
    if plan.camera is None:
        return []
    if analysis is None:
        from mission.analysis import analyse

        analysis = analyse(plan)
    out = []
    for n, (photo, corners) in enumerate(
        zip(analysis.photos, analysis.footprints, strict=True), start=1
    ):
        if corners is not None and len(corners) >= 3:
            out.append((n, photo, corners if _area2(corners) >= 0 else corners[::-1]))
    return out


def _area2(ring: tuple[tuple[float, float], ...]) -> float:
    """Twice the signed area (shoelace): positive when counter-clockwise."""
    return sum(
        x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True)
    )


def photo_properties(n: int, photo: Photo) -> dict[str, Any]:
    """What a photo feature tells about its photo (sortie numbered from 1)."""
    return {
        "kind": "photo",
        "photo": n,
        "sortie": photo.sortie + 1,
        "camera_lon_deg": photo.lon_deg,
        "camera_lat_deg": photo.lat_deg,
        "alt_rel_m": photo.alt_rel_m,
        "yaw_deg": photo.yaw_deg,
        "pitch_deg": photo.pitch_deg,
    }


# --- writing -------------------------------------------------------------------------------


def _feature(geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _ring(vertices: tuple[tuple[float, float], ...]) -> list[list[float]]:
    ring = [[lon, lat] for lon, lat in vertices]
    return [*ring, ring[0]]


def render(plan: Plan, analysis: Analysis | None = None) -> list[str]:
    """The ``.geojson`` text of ``plan`` (all sorties in one file)."""
    h = plan.home
    features = [
        _feature(
            {"type": "Point", "coordinates": [h.lon_deg, h.lat_deg, h.alt_amsl_m]}, kind="home"
        )
    ]
    for s, sortie in enumerate(plan.sorties, start=1):
        route = route_points(plan, s - 1)
        if route:
            line = {"type": "LineString", "coordinates": [list(p) for p in route]}
            features.append(_feature(line, kind="route", sortie=s))
        for seq, item in enumerate(sortie, start=1):
            point = {"type": "Point", "coordinates": [item.lon_deg, item.lat_deg, item.alt_m]}
            features.append(
                _feature(
                    point if has_point(item) else None,
                    kind="item",
                    sortie=s,
                    seq=seq,
                    command=int(item.command),
                    name=_command_name(item.command),
                    frame=int(item.frame),
                    params=[item.param1, item.param2, item.param3, item.param4],
                    alt_m=item.alt_m,
                    autocontinue=item.autocontinue,
                )
            )
    for p in plan.geofence.polygons:
        polygon = {"type": "Polygon", "coordinates": [_ring(p.vertices)]}
        features.append(_feature(polygon, kind="fence", inclusion=p.inclusion))
    for c in plan.geofence.circles:
        centre = {"type": "Point", "coordinates": [c.lon_deg, c.lat_deg]}
        features.append(_feature(centre, kind="fence", inclusion=c.inclusion, radius_m=c.radius_m))
    for r in plan.rally:
        point = {"type": "Point", "coordinates": [r.lon_deg, r.lat_deg, r.alt_rel_m]}
        features.append(_feature(point, kind="rally"))
    for n, photo, footprint in photo_footprints(plan, analysis):
        polygon = {"type": "Polygon", "coordinates": [_ring(footprint)]}
        features.append(_feature(polygon, **photo_properties(n, photo)))
    meta = meta_dict(plan) | {"home": home_dict(h)}
    head = dump_json({"type": "FeatureCollection", "skyledger": meta}, indent=None)[:-1]
    rows = ",\n".join(dump_json(f, indent=None) for f in features)
    return [f'{head},\n"features": [\n{rows}\n]}}\n']


def _command_name(command: int) -> str:
    try:
        return Cmd(command).name
    except ValueError:
        return str(int(command))


# --- reading -------------------------------------------------------------------------------


def _point(geometry: Any, source: str, loc: tuple[int | str, ...]) -> list[float]:
    return validate(PointDoc, geometry, source, loc).coordinates


def parse(text: str, source: str) -> Plan:
    """Read a ``.geojson`` plan that :func:`render` (or an editor keeping its properties) wrote."""
    data = load_json(text, source)
    collection = validate(CollectionDoc, data, source)
    home: Home | None = None
    meta: dict[str, Any] = {}
    if collection.skyledger is not None:
        check_schema(collection.skyledger, source, "skyledger")
        doc = validate(GeoMetaDoc, collection.skyledger, source, ("skyledger",))
        home, meta = home_from(doc.home, source), meta_kwargs(doc, source)
    items: dict[int, dict[int, MissionItem]] = defaultdict(dict)
    polygons: list[FencePolygon] = []
    circles: list[FenceCircle] = []
    rally: list[RallyPoint] = []
    for i, raw in enumerate(collection.features):
        loc: tuple[int | str, ...] = ("features", i)
        feature = validate(FeatureDoc, raw, source, loc)
        props = feature.properties or {}
        kind, geometry = props.get("kind"), feature.geometry
        where = f"features[{i}]"
        if kind == "item":
            p = validate(ItemPropsDoc, props, source, (*loc, "properties"))
            lon, lat = _point(geometry, source, (*loc, "geometry"))[:2] if geometry else (0, 0)
            if p.seq in items[p.sortie]:
                raise MissionError(f"{source}: {where}: sortie {p.sortie} has seq {p.seq} twice")
            with located(source, where):
                p1, p2, p3, p4 = p.params
                items[p.sortie][p.seq] = MissionItem(
                    p.command, p.frame, p1, p2, p3, p4, lat, lon, p.alt_m, p.autocontinue
                )
        elif kind == "home" and home is None:
            lon, lat, *alt = _point(geometry, source, (*loc, "geometry"))
            with located(source, where):
                home = Home(lat, lon, alt[0] if alt else 0.0)
        elif kind == "rally":
            coords = _point(geometry, source, (*loc, "geometry"))
            if len(coords) < 3:
                raise MissionError(f"{source}: {where}: a rally point needs lon, lat, alt_rel")
            rally.append(RallyPoint(coords[1], coords[0], coords[2]))
        elif kind == "fence":
            f = validate(FencePropsDoc, props, source, (*loc, "properties"))
            if f.radius_m is not None:
                lon, lat = _point(geometry, source, (*loc, "geometry"))[:2]
                circles.append(FenceCircle(lon, lat, f.radius_m, f.inclusion))
            else:
                ring = validate(PolygonDoc, geometry, source, (*loc, "geometry")).coordinates[0]
                vertices = tuple((v[0], v[1]) for v in ring[:-1])
                polygons.append(FencePolygon(vertices, f.inclusion))
    return assemble(
        source,
        items,
        home,
        Geofence(tuple(polygons), tuple(circles)),
        rally,
        meta,
        items_from="features with properties.kind 'item'",
        home_from="the 'skyledger' member or a 'home' feature",
    )
