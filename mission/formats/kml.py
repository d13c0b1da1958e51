"""KML 2.2 plans for Google Earth and GIS tools, written and read with ElementTree.

The Document holds skyledger's metadata (home, pattern, camera, ...) as JSON text in
an ``ExtendedData`` ``Data name="skyledger"`` element, a Folder per sortie with its
route (a LineString, altitudes relative to the ground at home) and one Placemark per
mission item, and Folders for the geofence, rally points and photo footprints. Every
Placemark says what it is in ``Data name="kind"``; an item Placemark carries ``seq``,
``sortie``, ``command``, ``frame``, ``p1``..``p4``, ``alt_m`` and ``autocontinue`` and
a Point where the item has a position, so reading the file rebuilds the plan exactly.

Reading refuses any ``<!DOCTYPE`` or ``<!ENTITY``: a mission file has no use for
them and they are how XML pulls in other files or expands itself without end.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from mission.errors import MissionError
from mission.formats.geojson import (
    GeoMetaDoc,
    has_point,
    photo_footprints,
    photo_properties,
    route_points,
)
from mission.formats.plan_json import (
    assemble,
    check_schema,
    dump_json,
    home_dict,
    home_from,
    load_json,
    meta_dict,
    meta_kwargs,
    number_text,
    validate,
)
from mission.items import Cmd, Frame, MissionItem
from mission.kmlxml import local_name, parse_kml
from mission.plan import FenceCircle, FencePolygon, Geofence, Home, Plan, RallyPoint

if TYPE_CHECKING:
    from mission.analysis import Analysis

KML_NS = "http://www.opengis.net/kml/2.2"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


# --- writing -------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = text
    return el


def _data(parent: ET.Element, values: dict[str, Any]) -> None:
    extended = _sub(parent, "ExtendedData")
    for key, value in values.items():
        data = _sub(extended, "Data")
        data.set("name", key)
        text = number_text(value) if isinstance(value, float) else str(value)
        _sub(data, "value", "true" if value is True else "false" if value is False else text)


def _coords(points: list[tuple[float, ...]]) -> str:
    return " ".join(",".join(number_text(float(c)) for c in p) for p in points)


def _geometry(parent: ET.Element, kind: str, points: list[tuple[float, ...]], mode: str) -> None:
    if kind == "Polygon":
        geom = _sub(parent, "Polygon")
        _sub(geom, "altitudeMode", mode)
        ring = _sub(_sub(geom, "outerBoundaryIs"), "LinearRing")
        _sub(ring, "coordinates", _coords([*points, points[0]]))
        return
    geom = _sub(parent, kind)
    if kind == "LineString":
        _sub(geom, "tessellate", "1")
    _sub(geom, "altitudeMode", mode)
    _sub(geom, "coordinates", _coords(points))


def _placemark(parent: ET.Element, name: str, data: dict[str, Any]) -> ET.Element:
    pm = _sub(parent, "Placemark")
    _sub(pm, "name", name)
    _data(pm, data)
    return pm


def _item_name(seq: int, item: MissionItem) -> str:
    try:
        return f"{seq} {Cmd(item.command).name}"
    except ValueError:
        return f"{seq} command {int(item.command)}"


def render(plan: Plan, analysis: Analysis | None = None) -> list[str]:
    """The ``.kml`` text of ``plan`` (all sorties in one file)."""
    h = plan.home
    root = ET.Element("kml", {"xmlns": KML_NS})
    doc = _sub(root, "Document")
    _sub(doc, "name", plan.name or "skyledger plan")
    _data(doc, {"skyledger": dump_json(meta_dict(plan) | {"home": home_dict(h)}, indent=None)})
    home = _placemark(doc, "Home", {"kind": "home"})
    _geometry(home, "Point", [(h.lon_deg, h.lat_deg, h.alt_amsl_m)], "absolute")
    for s, sortie in enumerate(plan.sorties, start=1):
        folder = _sub(doc, "Folder")
        _sub(folder, "name", f"Sortie {s}")
        route = route_points(plan, s - 1)
        if route:
            pm = _placemark(folder, f"Route {s}", {"kind": "route", "sortie": s})
            _geometry(pm, "LineString", list(route), "relativeToGround")
        for seq, item in enumerate(sortie, start=1):
            values = {
                "kind": "item",
                "sortie": s,
                "seq": seq,
                "command": int(item.command),
                "frame": int(item.frame),
                "p1": float(item.param1),
                "p2": float(item.param2),
                "p3": float(item.param3),
                "p4": float(item.param4),
                "alt_m": float(item.alt_m),
                "autocontinue": bool(item.autocontinue),
            }
            pm = _placemark(folder, _item_name(seq, item), values)
            if has_point(item):
                mode = "absolute" if item.frame == Frame.GLOBAL else "relativeToGround"
                _geometry(pm, "Point", [(item.lon_deg, item.lat_deg, item.alt_m)], mode)
    if plan.geofence.polygons or plan.geofence.circles:
        folder = _sub(doc, "Folder")
        _sub(folder, "name", "Geofence")
        for p in plan.geofence.polygons:
            pm = _placemark(folder, "Fence", {"kind": "fence", "inclusion": p.inclusion})
            _geometry(pm, "Polygon", list(p.vertices), "clampToGround")
        for c in plan.geofence.circles:
            values = {"kind": "fence", "inclusion": c.inclusion, "radius_m": float(c.radius_m)}
            pm = _placemark(folder, "Fence circle", values)
            _geometry(pm, "Point", [(c.lon_deg, c.lat_deg)], "clampToGround")
    if plan.rally:
        folder = _sub(doc, "Folder")
        _sub(folder, "name", "Rally points")
        for r in plan.rally:
            pm = _placemark(folder, "Rally", {"kind": "rally"})
            _geometry(pm, "Point", [(r.lon_deg, r.lat_deg, r.alt_rel_m)], "relativeToGround")
    footprints = photo_footprints(plan, analysis)
    if footprints:
        folder = _sub(doc, "Folder")
        _sub(folder, "name", "Photos")
        for n, photo, corners in footprints:
            pm = _placemark(folder, f"Photo {n}", photo_properties(n, photo))
            _geometry(pm, "Polygon", list(corners), "clampToGround")
    ET.indent(root)
    return [_DECLARATION + ET.tostring(root, encoding="unicode") + "\n"]


# --- reading -------------------------------------------------------------------------------


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if local_name(c.tag) == name), None)


def _values(el: ET.Element) -> dict[str, str]:
    extended = _child(el, "ExtendedData")
    out: dict[str, str] = {}
    for data in extended if extended is not None else ():
        value = _child(data, "value")
        if local_name(data.tag) == "Data" and data.get("name") and value is not None:
            out[data.get("name", "")] = (value.text or "").strip()
    return out


class _Reader:
    """Typed access to one Placemark's values, with errors that say where."""

    def __init__(self, pm: ET.Element, where: str):
        self.pm, self.where, self.values = pm, where, _values(pm)

    def text(self, key: str) -> str:
        if key not in self.values:
            raise MissionError(f"{self.where}: ExtendedData {key!r} is missing (required)")
        return self.values[key]

    def number(self, key: str) -> float:
        text = self.text(key)
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise MissionError(f"{self.where}: {key} {text!r} is not a finite number")
        return value

    def integer(self, key: str) -> int:
        text = self.text(key)
        try:
            return int(text)
        except ValueError:
            raise MissionError(f"{self.where}: {key} {text!r} is not an integer") from None

    def flag(self, key: str, default: bool = True) -> bool:
        text = self.values.get(key, str(default)).lower()
        if text not in ("true", "false", "1", "0"):
            raise MissionError(f"{self.where}: {key} {text!r} must be true or false")
        return text in ("true", "1")

    def points(self, kind: str) -> list[tuple[float, ...]]:
        geom = next((g for g in self.pm.iter() if local_name(g.tag) == kind), None)
        coords = None
        if geom is not None:
            coords = next((c for c in geom.iter() if local_name(c.tag) == "coordinates"), None)
        if coords is None or not (coords.text or "").strip():
            raise MissionError(f"{self.where}: no {kind} coordinates")
        out = []
        for token in (coords.text or "").split():
            try:
                point = tuple(float(v) for v in token.split(","))
            except ValueError:
                point = ()
            if len(point) not in (2, 3) or not all(math.isfinite(v) for v in point):
                raise MissionError(
                    f"{self.where}: coordinate {token!r} is not lon,lat or lon,lat,alt"
                )
            out.append(point)
        return out

    def has(self, kind: str) -> bool:
        return any(local_name(g.tag) == kind for g in self.pm.iter())


def parse(text: str, source: str) -> Plan:
    """Read a ``.kml`` plan that :func:`render` wrote."""
    root = parse_kml(text, source, "KML plan")
    document = next((el for el in root.iter() if local_name(el.tag) == "Document"), root)
    home: Home | None = None
    meta: dict[str, Any] = {}
    if "skyledger" in (doc_values := _values(document)):
        data = load_json(doc_values["skyledger"], f"{source}: Document skyledger data")
        check_schema(data, source, "skyledger")
        doc = validate(GeoMetaDoc, data, source, ("skyledger",))
        home, meta = home_from(doc.home, source), meta_kwargs(doc, source)
    items: dict[int, dict[int, MissionItem]] = defaultdict(dict)
    polygons: list[FencePolygon] = []
    circles: list[FenceCircle] = []
    rally: list[RallyPoint] = []
    placemarks = [el for el in root.iter() if local_name(el.tag) == "Placemark"]
    for n, pm in enumerate(placemarks, start=1):
        name = _child(pm, "name")
        label = f" ({name.text.strip()!r})" if name is not None and name.text else ""
        r = _Reader(pm, f"{source}: Placemark {n}{label}")
        kind = r.values.get("kind")
        if kind == "item":
            sortie, seq = r.integer("sortie"), r.integer("seq")
            lon, lat = r.points("Point")[0][:2] if r.has("Point") else (0.0, 0.0)
            if seq in items[sortie]:
                raise MissionError(f"{r.where}: sortie {sortie} has seq {seq} twice")
            p1, p2, p3, p4 = (r.number(k) for k in ("p1", "p2", "p3", "p4"))
            command, frame, alt = r.integer("command"), r.integer("frame"), r.number("alt_m")
            if not (0 <= command <= 65535 and 0 <= frame <= 255):
                raise MissionError(
                    f"{r.where}: command {command} must be in 0..65535 and frame {frame} in 0..255"
                )
            try:
                items[sortie][seq] = MissionItem(
                    command, frame, p1, p2, p3, p4, lat, lon, alt, r.flag("autocontinue")
                )
            except MissionError as exc:
                raise MissionError(f"{r.where}: {exc}") from None
        elif kind == "home" and home is None:
            lon, lat, *rest = r.points("Point")[0]
            try:
                home = Home(lat, lon, rest[0] if rest else 0.0)
            except MissionError as exc:
                raise MissionError(f"{r.where}: {exc}") from None
        elif kind == "rally":
            point = r.points("Point")[0]
            if len(point) < 3:
                raise MissionError(f"{r.where}: a rally point needs lon,lat,alt")
            rally.append(RallyPoint(point[1], point[0], point[2]))
        elif kind == "fence" and "radius_m" in r.values:
            lon, lat = r.points("Point")[0][:2]
            circles.append(FenceCircle(lon, lat, r.number("radius_m"), r.flag("inclusion")))
        elif kind == "fence":
            ring = r.points("Polygon")
            vertices = tuple((p[0], p[1]) for p in ring[:-1] if len(ring) > 3)
            if len(vertices) < 3:
                raise MissionError(f"{r.where}: a fence polygon needs at least 3 corners")
            polygons.append(FencePolygon(vertices, r.flag("inclusion")))
    return assemble(
        source,
        items,
        home,
        Geofence(tuple(polygons), tuple(circles)),
        rally,
        meta,
        items_from="Placemarks with ExtendedData kind 'item'",
        home_from="Document skyledger data or a 'home' Placemark",
    )
