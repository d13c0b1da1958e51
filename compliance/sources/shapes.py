"""Horizontal shapes of zone volumes: positions, cleaned polygon rings, repairs, circles.

Every reader sends its polygons through :func:`polygons`, so all formats get the same
treatment: repeated consecutive points are dropped and open rings closed (both noted),
a ring needs three distinct points, and an invalid polygon is repaired with shapely's
``make_valid`` only where the repair is unambiguous.

Unambiguous means the repaired polygons cover the area the ring encloses as drawn: the
absolute shoelace area of the exterior less that of the holes, within 1 %. A spike (the
ring running out and back along one line) or a ring touching itself passes this test and
is repaired. A bow-tie does not when its lobes are of similar size: its two lobes wind
in opposite senses, so the shoelace area is the *difference* of the lobes while
``make_valid`` keeps their *sum*. Such a ring is most often a rectangle with two corners
swapped, and neither the two triangles nor the rectangle can be chosen safely, so the
import stops. A bow-tie with one lobe under about 0.5 % of the other (a vertex pushed
just past an edge) differs by less than 1 % and is split into its lobes, noted.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from compliance.sources.common import Where, items, num_text, number
from mission.errors import MissionError
from mission.geodesy import check_lonlat

Point = tuple[float, float]
Ring = tuple[Point, ...]
Rings = tuple[Ring, ...]

#: Largest relative difference between the drawn and the repaired area still accepted.
REPAIR_TOLERANCE = 0.01


def position(w: Where, value: Any, field: str) -> Point:
    """A (lon, lat) from ``[lon, lat]`` or ``[lon, lat, alt]`` (the altitude is ignored)."""
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        raise w.error(field, f"{value!r} is not a [longitude, latitude] position")
    lon, lat = number(w, value[0], field), number(w, value[1], field)
    if lon is None or lat is None:
        raise w.error(field, f"{value!r} is not a [longitude, latitude] position")
    try:
        check_lonlat(lon, lat, "position")
    except MissionError as exc:
        raise w.error(field, str(exc)) from None
    return (lon, lat)


def ring(w: Where, value: Any, field: str) -> Ring:
    """One closed ring without repeated consecutive points and with ≥ 3 distinct points."""
    points: list[Point] = []
    for i, entry in enumerate(items(w, value, field)):
        point = position(w, entry, f"{field}[{i}]")
        if points and point == points[-1]:
            shown = f"[{num_text(point[0])}, {num_text(point[1])}]"
            w.note(f"{field}: repeated point {shown} removed")
            continue
        points.append(point)
    distinct = len(set(points))
    if distinct < 3:
        raise w.error(field, f"has {distinct} distinct points; a polygon ring needs at least 3")
    if points[0] != points[-1]:
        w.note(f"{field}: polygon ring closed")
        points.append(points[0])
    return tuple(points)


def polygons(w: Where, value: Any, field: str) -> list[Rings]:
    """GeoJSON polygon coordinates (exterior then holes) as one or more valid polygons."""
    rings = [ring(w, r, f"{field}[{i}]") for i, r in enumerate(items(w, value, field))]
    if not rings:
        raise w.error(field, "has no rings; expected [[ [lon, lat], ... ]]")
    return _valid(w, tuple(rings), field)


def circle(w: Where, center: Any, radius_m: Any, field: str) -> tuple[Point, float]:
    """A circle's centre and radius in metres (> 0)."""
    radius = number(w, radius_m, f"{field}.radius")
    if radius is None or radius <= 0:
        raise w.error(f"{field}.radius", f"{radius_m!r} must be a number > 0")
    return position(w, center, f"{field}.center"), radius


def shoelace(points: Ring) -> float:
    """Signed area of a ring in coordinate units (positive anticlockwise).

    >>> shoelace(((0, 0), (2, 0), (2, 1), (0, 1), (0, 0)))
    2.0
    """
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(points))


def _valid(w: Where, rings: Rings, field: str) -> list[Rings]:
    from shapely.geometry import Polygon
    from shapely.validation import explain_validity, make_valid

    shape = Polygon(rings[0], rings[1:])
    if shape.is_valid:
        return [rings]
    drawn = abs(shoelace(rings[0])) - sum(abs(shoelace(h)) for h in rings[1:])
    fixed = make_valid(shape)
    parts = [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type == "Polygon"]
    parts += [
        p for g in getattr(fixed, "geoms", []) if g.geom_type == "MultiPolygon" for p in g.geoms
    ]
    area = sum(p.area for p in parts)
    if not parts or drawn <= 0 or abs(area - drawn) > REPAIR_TOLERANCE * drawn:
        raise w.error(
            f"{field}:",
            "polygon is self-intersecting and cannot be repaired unambiguously "
            f"({explain_validity(shape)}; drawn area and repaired area differ by more than 1 %)",
        )
    leftovers = any(
        g.geom_type not in ("Polygon", "MultiPolygon") for g in getattr(fixed, "geoms", [])
    )
    if len(parts) > 1:
        w.note(f"{field}: self-intersecting ring repaired (split into {len(parts)} polygons)")
    elif leftovers:
        w.note(f"{field}: spike removed (a zero-area part of the ring)")
    else:
        w.note(f"{field}: self-intersecting ring repaired")
    return [
        (
            tuple((x, y) for x, y in p.exterior.coords),
            *(tuple((x, y) for x, y in hole.coords) for hole in p.interiors),
        )
        for p in parts
    ]
