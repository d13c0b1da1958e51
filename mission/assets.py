"""The crews' input geometry: GeoJSON or KML text in, one validated GeoJSON geometry out.

A crew describes an asset as a GeoJSON Geometry, Feature or FeatureCollection, or as a
KML document (Google Earth, QGIS, most GIS tools write both). This module takes the
*text* of such a file (it opens no files) and returns plain GeoJSON dicts in WGS84
longitude/latitude order, checked so that a planner can trust them:

- the geometry type is one the caller accepts (``expected Polygon, got LineString``);
- every position is a finite longitude/latitude, and a latitude outside ±90 is reported
  as a probable lon/lat swap;
- a polygon's rings have at least 3 distinct vertices and do not cross themselves
  (the message says where), a line has a length.

Features whose ``properties.kind`` is ``"home"`` mark the take-off site: they are never
chosen as the asset unless asked for by name, and :func:`find_home` returns them.

The sample city shipped in ``mission/data/sample_city.geojson`` is a made-up district
around ArduPilot SITL's default home (CMAC field, Canberra) with one asset per
inspection pattern; :func:`sample_city` and :func:`sample_asset` read it.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from importlib import resources
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

from mission.errors import MissionError
from mission.geodesy import check_lonlat
from mission.kmlxml import local_name, parse_kml

__all__ = [
    "GEOMETRY_TYPES",
    "FeatureChoiceError",
    "asset_shape",
    "feature_name",
    "find_home",
    "pick_feature",
    "read_document",
    "read_feature",
    "read_geometry",
    "sample_asset",
    "sample_city",
    "validate_geometry",
]

#: The geometry types the planners work with.
GEOMETRY_TYPES = ("Point", "LineString", "Polygon")
_MULTI = {"MultiPoint": "Point", "MultiLineString": "LineString", "MultiPolygon": "Polygon"}
_ALL_GEOJSON_TYPES = (*GEOMETRY_TYPES, *_MULTI, "GeometryCollection")
FORMATS = ("geojson", "kml")
SAMPLE_CITY_FILE = "sample_city.geojson"

Feature = dict[str, Any]


class FeatureChoiceError(MissionError):
    """The document holds several features and the caller did not say which one to use."""

    def __init__(self, message: str, names: list[str]):
        super().__init__(message)
        self.names = names


# --- reading documents --------------------------------------------------------------------


def read_geometry(
    text: str,
    source: str,
    kinds: tuple[str, ...] = GEOMETRY_TYPES,
    *,
    feature: str | None = None,
    fmt: str | None = None,
) -> dict[str, Any]:
    """The validated GeoJSON geometry of one feature of a GeoJSON or KML text.

    ``source`` names the text in messages (usually the file name); ``kinds`` are the
    geometry types accepted; ``feature`` picks a feature by ``properties.name`` or
    ``id`` (KML: the Placemark's ``<name>`` or ``id``); ``fmt`` is ``"geojson"``,
    ``"kml"`` or ``None`` to tell by the content.

    >>> read_geometry('{"type": "Point", "coordinates": [149.1652, -35.3633]}', "tower", ("Point",))
    {'type': 'Point', 'coordinates': [149.1652, -35.3633]}
    >>> read_geometry('{"type": "Point", "coordinates": [-35.3633, 149.1652]}', "tower")
    Traceback (most recent call last):
    ...
    mission.errors.MissionError: tower: position 1 latitude 149.1652 is outside -90..90 (are longitude and latitude swapped? GeoJSON order is lon, lat)
    """
    return read_feature(text, source, kinds, feature=feature, fmt=fmt)["geometry"]


def read_feature(
    text: str,
    source: str,
    kinds: tuple[str, ...] = GEOMETRY_TYPES,
    *,
    feature: str | None = None,
    fmt: str | None = None,
) -> Feature:
    """Like :func:`read_geometry`, but the whole Feature (its properties carry parameters)."""
    return pick_feature(read_document(text, source, fmt), source, kinds, feature=feature)


def read_document(text: str, source: str, fmt: str | None = None) -> dict[str, Any]:
    """A GeoJSON or KML text as a FeatureCollection whose geometries are not yet validated.

    A bare geometry or a single Feature becomes a collection of one; each KML Placemark
    becomes a Feature with its ``<name>`` and ``<ExtendedData>`` as properties.
    """
    if fmt is None:
        fmt = _detect_format(text, source)
    fmt = fmt.lower().lstrip(".")
    if fmt in ("geojson", "json"):
        return _geojson_document(text, source)
    if fmt == "kml":
        return _kml_document(text, source)
    raise MissionError(f"{source}: format {fmt!r} is not one of {', '.join(FORMATS)}")


def _detect_format(text: str, source: str) -> str:
    head = text.lstrip("\ufeff \t\r\n")
    if not head:
        raise MissionError(f"{source}: is empty; expected GeoJSON or KML")
    if head.startswith("<"):
        return "kml"
    return "geojson"  # anything else gets the JSON parser's message, with its line


def _geojson_document(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise MissionError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise MissionError(f"{source}: JSON nested too deeply to be GeoJSON") from None
    if not isinstance(data, dict):
        raise MissionError(
            f"{source}: expected a GeoJSON object (Geometry, Feature or FeatureCollection), "
            f"got a JSON {type(data).__name__}"
        )
    kind = data.get("type")
    if kind == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list):
            raise MissionError(f"{source}: a FeatureCollection needs a 'features' list")
        for i, f in enumerate(features, 1):
            _check_feature(f, f"{source}: feature {i}")
        return {"type": "FeatureCollection", "features": features}
    if kind == "Feature":
        _check_feature(data, source)
        return {"type": "FeatureCollection", "features": [data]}
    if kind in _ALL_GEOJSON_TYPES:
        return {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {}, "geometry": data}],
        }
    raise MissionError(
        f"{source}: type {kind!r} is not GeoJSON; expected a Geometry "
        f"({', '.join(GEOMETRY_TYPES)}), a Feature or a FeatureCollection"
    )


def _check_feature(value: Any, where: str) -> None:
    if not isinstance(value, dict) or value.get("type") != "Feature":
        raise MissionError(f"{where}: expected a GeoJSON Feature object")
    props = value.get("properties")
    if props is None:
        value["properties"] = {}
    elif not isinstance(props, dict):
        raise MissionError(f"{where}: properties must be a JSON object or null")


# --- KML ------------------------------------------------------------------------------------


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if local_name(c.tag) == name]


def _kml_document(text: str, source: str) -> dict[str, Any]:
    root = parse_kml(text, source, "KML asset file", malformed="not valid KML")
    placemarks = [el for el in root.iter() if local_name(el.tag) == "Placemark"]
    if not placemarks:
        raise MissionError(f"{source}: the KML holds no <Placemark>")
    features = []
    for i, pm in enumerate(placemarks, 1):
        where = f"{source}: Placemark {i}"
        props: dict[str, Any] = {}
        names = _children(pm, "name")
        if names and (names[0].text or "").strip():
            props["name"] = (names[0].text or "").strip()
            where = f"{source}: Placemark {props['name']!r}"
        for data in pm.iter():
            tag = local_name(data.tag)
            if tag in ("Data", "SimpleData") and data.get("name"):
                raw = data.text if tag == "SimpleData" else _first_text(data, "value")
                props[str(data.get("name"))] = _kml_value(raw)
        geoms = [
            _kml_geometry(el, where)
            for el in pm.iter()
            if local_name(el.tag) in GEOMETRY_TYPES and el is not pm
        ]
        feature: Feature = {"type": "Feature", "properties": props, "geometry": None}
        if pm.get("id"):
            feature["id"] = pm.get("id")
        if len(geoms) == 1:
            feature["geometry"] = geoms[0]
        elif geoms:
            types = {g["type"] for g in geoms}
            if len(types) == 1:
                only = types.pop()
                feature["geometry"] = {
                    "type": f"Multi{only}",
                    "coordinates": [g["coordinates"] for g in geoms],
                }
            else:
                feature["geometry"] = {"type": "GeometryCollection", "geometries": geoms}
        features.append(feature)
    return {"type": "FeatureCollection", "features": features}


def _first_text(el: ET.Element, name: str) -> str | None:
    found = _children(el, name)
    return found[0].text if found else None


def _kml_value(raw: str | None) -> Any:
    value = (raw or "").strip()
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def _kml_coords(el: ET.Element | None, where: str) -> list[list[float]]:
    coords = None if el is None else _children(el, "coordinates")
    if not coords:
        raise MissionError(f"{where}: missing <coordinates>")
    out = []
    for token in (coords[0].text or "").split():
        parts = token.split(",")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) not in (2, 3):
            raise MissionError(f"{where}: KML coordinates {token!r} are not lon,lat[,alt] numbers")
        out.append(numbers)
    return out


def _kml_geometry(el: ET.Element, where: str) -> dict[str, Any]:
    kind = local_name(el.tag)
    if kind == "Point":
        coords = _kml_coords(el, where)
        if len(coords) != 1:
            raise MissionError(f"{where}: a <Point> needs one lon,lat, got {len(coords)}")
        return {"type": "Point", "coordinates": coords[0]}
    if kind == "LineString":
        return {"type": "LineString", "coordinates": _kml_coords(el, where)}
    rings = []
    for boundary in ("outerBoundaryIs", "innerBoundaryIs"):
        for b in _children(el, boundary):
            for ring in _children(b, "LinearRing"):
                rings.append(_kml_coords(ring, where))
    if not _children(el, "outerBoundaryIs"):
        raise MissionError(f"{where}: a <Polygon> needs an <outerBoundaryIs>")
    return {"type": "Polygon", "coordinates": rings}


# --- choosing a feature ---------------------------------------------------------------------


def feature_name(feature: Feature) -> str | None:
    """A feature's name: ``properties.name``, else its ``id``, else ``None``."""
    name = (feature.get("properties") or {}).get("name")
    if isinstance(name, str) and name:
        return name
    fid = feature.get("id")
    return str(fid) if fid is not None else None


def _is_home(feature: Feature) -> bool:
    return (feature.get("properties") or {}).get("kind") == "home"


def pick_feature(
    document: dict[str, Any],
    source: str,
    kinds: tuple[str, ...] = GEOMETRY_TYPES,
    *,
    feature: str | None = None,
) -> Feature:
    """The one feature to use from a :func:`read_document` collection, its geometry validated.

    Without ``feature`` the collection must hold exactly one feature besides any home
    marker; with it, the feature whose name or id matches.
    """
    features: list[Feature] = document["features"]
    names = [feature_name(f) or f"#{i}" for i, f in enumerate(features, 1)]
    if feature is not None:
        matches = [
            f
            for f in features
            if feature in (feature_name(f), None if f.get("id") is None else str(f.get("id")))
        ]
        if not matches:
            listed = ", ".join(names) if names else "none"
            raise MissionError(f"{source}: no feature named {feature!r}; features: {listed}")
        if len(matches) > 1:
            raise MissionError(f"{source}: {len(matches)} features are named {feature!r}")
        chosen = matches[0]
        where = f"{source} feature {feature!r}"
    else:
        candidates = [f for f in features if not _is_home(f)]
        if not features:
            raise MissionError(f"{source}: holds no features")
        if not candidates:
            raise MissionError(f"{source}: holds only the home position, no asset to plan")
        if len(candidates) > 1:
            asset_names = [feature_name(f) or "(unnamed)" for f in candidates]
            raise FeatureChoiceError(
                f"{source}: holds {len(candidates)} features ({', '.join(asset_names)}); "
                "choose one by name",
                asset_names,
            )
        chosen = candidates[0]
        name = feature_name(chosen)
        where = source if len(features) == 1 or name is None else f"{source} feature {name!r}"
    geometry = validate_geometry(chosen.get("geometry"), where, kinds)
    out = {"type": "Feature", "properties": dict(chosen.get("properties") or {})}
    if chosen.get("id") is not None:
        out["id"] = chosen["id"]
    out["geometry"] = geometry
    return out


def find_home(document: dict[str, Any], source: str) -> Feature | None:
    """The feature of ``kind`` ``"home"`` (a validated Point), or ``None`` when there is none."""
    homes = [f for f in document["features"] if _is_home(f)]
    if not homes:
        return None
    if len(homes) > 1:
        raise MissionError(f"{source}: holds {len(homes)} features of kind 'home'; keep one")
    home = homes[0]
    where = f"{source} feature {feature_name(home) or 'home'!r}"
    alt = (home.get("properties") or {}).get("alt_amsl_m")
    if alt is not None and (
        isinstance(alt, bool) or not isinstance(alt, int | float) or not math.isfinite(alt)
    ):
        raise MissionError(f"{where}: alt_amsl_m {alt!r} is not a number")
    return {
        "type": "Feature",
        "properties": dict(home.get("properties") or {}),
        "geometry": validate_geometry(home.get("geometry"), where, ("Point",)),
    }


# --- validating geometry --------------------------------------------------------------------


def validate_geometry(geometry: Any, source: str, kinds: tuple[str, ...]) -> dict[str, Any]:
    """Check a GeoJSON geometry and return it cleaned: 2D positions, closed and oriented rings.

    A Multi* geometry with a single part is taken as that part.

    >>> validate_geometry({"type": "LineString", "coordinates": [[149.1, -35.3]] * 2}, "line", ("LineString",))
    Traceback (most recent call last):
    ...
    mission.errors.MissionError: line: the line has zero length (its 2 positions are one point); it needs 2 distinct positions
    """
    if geometry is None:
        raise MissionError(f"{source}: has no geometry (null); expected {_one_of(kinds)}")
    if not isinstance(geometry, dict):
        raise MissionError(
            f"{source}: geometry must be a GeoJSON object; expected {_one_of(kinds)}"
        )
    gtype = geometry.get("type")
    coords = geometry.get("coordinates")
    parts = ""
    if gtype in _MULTI and isinstance(coords, list):
        if len(coords) == 1:
            gtype, coords = _MULTI[gtype], coords[0]
        else:
            parts = f" with {len(coords)} parts (give each part as its own feature)"
    if gtype not in kinds:
        if gtype in _ALL_GEOJSON_TYPES:
            raise MissionError(f"{source}: expected {_one_of(kinds)}, got {gtype}{parts}")
        raise MissionError(
            f"{source}: geometry type {gtype!r} is not GeoJSON; expected {_one_of(kinds)}"
        )
    if gtype == "Point":
        return {"type": "Point", "coordinates": list(_position(coords, source, 1))}
    if gtype == "LineString":
        return {"type": "LineString", "coordinates": _line(coords, source)}
    return {"type": "Polygon", "coordinates": _polygon(coords, source)}


def asset_shape(geometry: Any, source: str, kinds: tuple[str, ...]) -> BaseGeometry:
    """:func:`validate_geometry`, as a shapely geometry for the planners."""
    return shapely.geometry.shape(validate_geometry(geometry, source, kinds))


def _one_of(kinds: tuple[str, ...]) -> str:
    if len(kinds) < 2:
        return kinds[0] if kinds else "no geometry"
    return f"{', '.join(kinds[:-1])} or {kinds[-1]}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _position(value: Any, source: str, index: int) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) < 2
        or not all(_number(v) for v in value[:3])
    ):
        raise MissionError(
            f"{source}: position {index} {value!r} is not a [longitude, latitude] number pair"
        )
    lon, lat = float(value[0]), float(value[1])
    check_lonlat(lon, lat, f"{source}: position {index}")
    return lon, lat


def _positions(value: Any, source: str, what: str) -> list[tuple[float, float]]:
    if not isinstance(value, list | tuple) or not value:
        raise MissionError(f"{source}: {what} must be a non-empty list of [lon, lat] positions")
    return [_position(p, source, i) for i, p in enumerate(value, 1)]


def _dedupe(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop positions equal to the one before them."""
    out: list[tuple[float, float]] = []
    for p in points:
        if not out or p != out[-1]:
            out.append(p)
    return out


def _line(coords: Any, source: str) -> list[list[float]]:
    points = _positions(coords, source, "a LineString's coordinates")
    if len(points) < 2:
        raise MissionError(f"{source}: a line needs at least 2 positions, got {len(points)}")
    kept = _dedupe(points)
    if len(kept) < 2:
        raise MissionError(
            f"{source}: the line has zero length (its {len(points)} positions are one point); "
            "it needs 2 distinct positions"
        )
    return [list(p) for p in kept]


_VALIDITY = re.compile(r"^(?P<reason>.*?)\[(?P<x>\S+) (?P<y>\S+)\]$")
_HINTS = {
    "self-intersection": "the outline must not cross itself",
    "ring self-intersection": "a ring must not touch itself",
    "hole lies outside shell": "every hole must lie inside the outer ring",
    "interior is disconnected": "holes must not split the polygon in pieces",
    "nested holes": "holes must not lie inside other holes",
    "nested shells": "give one outer ring per polygon",
}


def _polygon(coords: Any, source: str) -> list[list[list[float]]]:
    if not isinstance(coords, list | tuple) or not coords:
        raise MissionError(
            f"{source}: a Polygon's coordinates must be a list of rings "
            "(each a list of [lon, lat] positions)"
        )
    rings: list[list[tuple[float, float]]] = []
    for r, ring in enumerate(coords):
        what = "the outer ring" if r == 0 else f"hole {r}"
        if isinstance(ring, list | tuple) and ring and _number(ring[0]):
            raise MissionError(
                f"{source}: a Polygon's coordinates must be a list of rings, got a list of "
                "numbers (wrap the ring in one more [ ])"
            )
        points = _dedupe(_positions(ring, source, f"{what} of the Polygon"))
        if len(points) > 1 and points[0] == points[-1]:
            points.pop()  # closed as GeoJSON wants; closed again below
        if len(set(points)) < 3:
            raise MissionError(
                f"{source}: {what} has {len(set(points))} distinct vertices; "
                "a polygon needs at least 3"
            )
        rings.append(points)
    poly = shapely.Polygon(rings[0], rings[1:])
    if shapely.MultiPoint(rings[0]).convex_hull.area <= 0.0:
        raise MissionError(
            f"{source}: the polygon has zero area (its outer ring's vertices lie on one line)"
        )
    if not poly.is_valid:
        raise MissionError(f"{source}: the polygon is not valid: {_explain(poly)}")
    poly = orient(poly, 1.0)  # RFC 7946: exterior counter-clockwise, holes clockwise
    return [[list(c[:2]) for c in ring.coords] for ring in (poly.exterior, *poly.interiors)]


def _explain(poly: shapely.Polygon) -> str:
    text = explain_validity(poly)
    m = _VALIDITY.match(text)
    if not m:
        return text.lower()
    reason = m["reason"].strip().lower()
    hint = _HINTS.get(reason)
    where = f"{reason} at lon {round(float(m['x']), 7)}, lat {round(float(m['y']), 7)}"
    return f"{where} ({hint})" if hint else where


# --- the sample city ------------------------------------------------------------------------


def sample_city() -> dict[str, Any]:
    """The sample district as a GeoJSON FeatureCollection (a fresh copy each call)."""
    text = (resources.files("mission") / "data" / SAMPLE_CITY_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def sample_asset(name: str) -> Feature:
    """One Feature of :func:`sample_city` by its ``properties.name`` (``"bridge-deck"``, ...)."""
    city = sample_city()
    for feature in city["features"]:
        if feature_name(feature) == name:
            return feature
    names = ", ".join(feature_name(f) or "?" for f in city["features"])
    raise MissionError(f"sample city has no asset {name!r}; assets: {names}")
