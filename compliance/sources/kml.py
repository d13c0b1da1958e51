"""Zones drawn in KML (Google Earth, GIS tools): one or more Placemarks per zone.

A Placemark's ``id`` attribute is the zone identifier, else its ``<name>`` is; the
``<name>`` is also the zone's English name unless a ``name`` value says otherwise.
Placemarks sharing an identifier are volumes of one zone. The geometry is a Polygon
(``outerBoundaryIs`` plus any ``innerBoundaryIs``), a MultiGeometry of Polygons, or a Point
with a ``radius_m`` value (a circle). The zone's properties are
``<ExtendedData><Data name="..."><value>...</value></Data>`` with the names of the
project's GeoJSON (docs/zones.md); ``lower``, ``upper``, ``applicability``,
``authorities``, ``camera`` and ``extra`` hold JSON text, ``reasons`` and ``conditions``
JSON lists (or, for reasons, comma-separated names), ``name`` and ``message`` plain text
or a JSON ``{lang: text}`` object.

Reading refuses any ``<!DOCTYPE`` or ``<!ENTITY``: a zone file has no use for them, and
they are how XML pulls in other files or expands itself without end.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from compliance.errors import ComplianceError
from compliance.sources import common as c
from compliance.sources.geojson import Part, zone
from mission.errors import MissionError
from mission.kmlxml import local_name, parse_kml

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    from compliance.zones import Zone

_JSON_VALUES = ("lower", "upper", "applicability", "authorities", "camera", "extra")


def read(text: str, source: str, notes: list[str]) -> list[Zone]:
    """Every zone in a KML document."""
    try:
        root = parse_kml(text, source, "KML zone file")
    except MissionError as exc:
        raise ComplianceError(str(exc)) from None
    groups: dict[str, list[Part]] = {}
    for i, pm in enumerate((el for el in root.iter() if local_name(el.tag) == "Placemark"), 1):
        label = f"Placemark {i}"
        where = c.Where(source, label, notes)
        name_el = _child(pm, "name")
        name = (name_el.text or "").strip() if name_el is not None else ""
        ident = (pm.get("id") or "").strip() or name
        if not ident:
            raise where.error("", "has no id attribute and no <name>; one names the zone")
        props = _values(c.Where(source, f"zone {ident}", notes), pm, label)
        if name and "name" not in props:
            props["name"] = name
        groups.setdefault(ident, []).append(Part(label, props, _geometry(where, pm)))
    if not groups:
        raise ComplianceError(f"{source}: the KML holds no <Placemark>")
    return [zone(source, notes, ident, parts) for ident, parts in groups.items()]


def _values(w: c.Where, pm: ET.Element, label: str) -> dict[str, Any]:
    extended = _child(pm, "ExtendedData")
    out: dict[str, Any] = {}
    for data in extended if extended is not None else ():
        key, value = data.get("name"), _child(data, "value")
        if local_name(data.tag) != "Data" or not key or value is None:
            continue
        raw = (value.text or "").strip()
        out[key] = _decode(w, key, raw, f"{label}.ExtendedData {key!r}")
    return out


def _decode(w: c.Where, key: str, raw: str, field: str) -> Any:
    """A Data value as the GeoJSON property it stands for."""
    as_json = key in _JSON_VALUES or (
        (key in ("reasons", "conditions") and raw.startswith("["))
        or (key in ("name", "message") and raw.startswith("{"))
    )
    if as_json:
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise w.error(field, f"is not JSON ({exc.msg}): {raw[:60]!r}") from None
    if key == "reasons":
        return [r.strip() for r in raw.split(",") if r.strip()]
    return raw


def _geometry(w: c.Where, pm: ET.Element) -> dict[str, Any]:
    """The Placemark's shapes as a GeoJSON geometry (MultiPolygon or Point)."""
    shapes = [g for g in pm.iter() if local_name(g.tag) in ("Polygon", "Point")]
    polygons = [g for g in shapes if local_name(g.tag) == "Polygon"]
    if not shapes:
        raise w.error("", "has no Polygon, MultiGeometry of Polygons or Point")
    if len(polygons) != len(shapes) and (polygons or len(shapes) > 1):
        raise w.error("", "mixes Points and Polygons; draw one circle or polygons per Placemark")
    if not polygons:
        points = _coordinates(w, shapes[0], "Point.coordinates")
        if len(points) != 1:
            raise w.error("Point.coordinates", f"has {len(points)} positions; expected one")
        return {"type": "Point", "coordinates": points[0]}
    parts = []
    for k, poly in enumerate(polygons):
        outer = [b for b in poly if local_name(b.tag) == "outerBoundaryIs"]
        inner = [b for b in poly if local_name(b.tag) == "innerBoundaryIs"]
        if len(outer) != 1:
            raise w.error(f"Polygon[{k}]", f"has {len(outer)} outerBoundaryIs; expected one")
        parts.append(
            [
                _coordinates(w, b, f"Polygon[{k}].{local_name(b.tag)}.LinearRing.coordinates")
                for b in outer + inner
            ]
        )
    return {"type": "MultiPolygon", "coordinates": parts}


def _coordinates(w: c.Where, el: ET.Element, field: str) -> list[list[float]]:
    coords = next((e for e in el.iter() if local_name(e.tag) == "coordinates"), None)
    out = []
    for token in (coords.text or "").split() if coords is not None else ():
        try:
            point = [float(v) for v in token.split(",")]
        except ValueError:
            point = []
        if len(point) not in (2, 3) or not all(math.isfinite(v) for v in point):
            raise w.error(field, f"{token!r} is not lon,lat or lon,lat,alt")
        out.append(point[:2])
    if not out:
        raise w.error(field, "missing or empty")
    return out


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next((ch for ch in el if local_name(ch.tag) == name), None)
