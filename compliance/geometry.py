"""Exact leg-against-volume geometry in a local metric frame (metres, home-centred).

A leg runs from ``a`` to ``b`` (x east, y north, z up); a point on it is ``a + t (b - a)``
for ``0 ≤ t ≤ 1``. Clipping a leg by a volume's horizontal shape gives the pieces of
``t`` where it is over the shape (a boundary touch counts); the altitudes flown over the
shape follow from ``t`` because altitude changes linearly along a leg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from compliance.zones import Volume
from mission.geodesy import LocalFrame

#: Horizontal lengths below this (metres) make a leg vertical: a point in plan view.
VERTICAL_M = 1e-6

Pieces = list[tuple[float, float]]


@dataclass(frozen=True)
class LocalShape:
    """A volume's horizontal shape in the local frame: a shapely polygon or a circle."""

    polygon: Any = None  # shapely Polygon in metres
    center: tuple[float, float] | None = None
    radius_m: float = 0.0

    @classmethod
    def of(cls, volume: Volume, frame: LocalFrame) -> LocalShape:
        if volume.center is not None and volume.radius_m is not None:
            return cls(center=frame.point_to_local(*volume.center), radius_m=volume.radius_m)
        import shapely

        exterior, *holes = volume.rings
        polygon = shapely.Polygon(exterior, holes)
        return cls(polygon=frame.geom_to_local(polygon))

    def grown(self, metres: float) -> LocalShape:
        """The shape with everything within ``metres`` of it added."""
        if metres <= 0:
            return self
        if self.center is not None:
            return LocalShape(center=self.center, radius_m=self.radius_m + metres)
        return LocalShape(polygon=self.polygon.buffer(metres, quad_segs=16))

    def clip(self, a: np.ndarray, b: np.ndarray) -> list[Pieces]:
        """For each leg (rows of ``a`` and ``b``, shape (n, 2+)), the ``t`` pieces over the shape."""
        if self.center is not None:
            return _clip_circle(a, b, self.center, self.radius_m)
        return _clip_polygon(a, b, self.polygon)

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Horizontal distance from each leg to the shape (0 where they meet)."""
        if self.center is not None:
            c = np.asarray(self.center, float)
            return np.maximum(segment_point_distance(a[:, :2], b[:, :2], c) - self.radius_m, 0.0)
        import shapely

        return np.asarray(shapely.distance(_lines(a, b), self.polygon), float)

    def contains(self, points: np.ndarray, within_m: float = 0.0) -> np.ndarray:
        """Which (n, 2+) points lie on or in the shape, or within ``within_m`` of it."""
        points = np.asarray(points, float).reshape(-1, points.shape[-1] if points.ndim > 1 else 2)
        if self.center is not None:
            d = np.hypot(points[:, 0] - self.center[0], points[:, 1] - self.center[1])
            return np.asarray(d <= self.radius_m + within_m)
        import shapely

        geoms = shapely.points(points[:, 0], points[:, 1])
        if within_m > 0:
            return np.asarray(shapely.dwithin(geoms, self.polygon, within_m))
        return np.asarray(shapely.intersects(geoms, self.polygon))


def segment_point_distance(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Distance from each segment ``a``-``b`` (n, 2) to the point ``c`` (2,)."""
    d = b - a
    length2 = np.einsum("ij,ij->i", d, d)
    t = np.where(
        length2 > 0, np.einsum("ij,ij->i", c - a, d) / np.where(length2 > 0, length2, 1), 0
    )
    nearest = a + np.clip(t, 0.0, 1.0)[:, None] * d
    return np.asarray(np.hypot(*(nearest - c).T))


def _clip_circle(
    a: np.ndarray, b: np.ndarray, center: tuple[float, float], radius_m: float
) -> list[Pieces]:
    d = b[:, :2] - a[:, :2]
    f = a[:, :2] - np.asarray(center, float)
    qa = np.einsum("ij,ij->i", d, d)
    qb = 2.0 * np.einsum("ij,ij->i", f, d)
    qc = np.einsum("ij,ij->i", f, f) - radius_m**2
    out: list[Pieces] = []
    for k in range(len(a)):
        if qa[k] <= VERTICAL_M**2:
            out.append([(0.0, 1.0)] if qc[k] <= 0 else [])
            continue
        disc = qb[k] ** 2 - 4.0 * qa[k] * qc[k]
        if disc < 0:
            out.append([])
            continue
        root = np.sqrt(disc)
        t0, t1 = (-qb[k] - root) / (2.0 * qa[k]), (-qb[k] + root) / (2.0 * qa[k])
        if t1 < 0.0 or t0 > 1.0:
            out.append([])
        else:
            out.append([(max(float(t0), 0.0), min(float(t1), 1.0))])
    return out


def _lines(a: np.ndarray, b: np.ndarray) -> Any:
    import shapely

    coords = np.stack([a[:, :2], b[:, :2]], axis=1)
    return shapely.linestrings(coords)


def _clip_polygon(a: np.ndarray, b: np.ndarray, polygon: Any) -> list[Pieces]:
    import shapely

    a2, b2 = a[:, :2], b[:, :2]
    d = b2 - a2
    length2 = np.einsum("ij,ij->i", d, d)
    vertical = length2 <= VERTICAL_M**2
    out: list[Pieces] = [[] for _ in range(len(a))]
    if vertical.any():
        inside = shapely.intersects(shapely.points(a2[vertical]), polygon)
        for k, hit in zip(np.flatnonzero(vertical), inside, strict=True):
            if hit:
                out[k] = [(0.0, 1.0)]
    flat = np.flatnonzero(~vertical)
    if not len(flat):
        return out
    lines = _lines(a[flat], b[flat])
    hits = shapely.intersects(lines, polygon)
    for k in flat[hits]:
        clipped = shapely.intersection(shapely.linestrings([a2[k], b2[k]]), polygon)
        pieces: Pieces = []
        for part in shapely.get_parts(shapely.get_parts(clipped)):
            coords = shapely.get_coordinates(part)
            if not len(coords):
                continue
            t = (coords - a2[k]) @ d[k] / length2[k]
            pieces.append((float(np.clip(t.min(), 0, 1)), float(np.clip(t.max(), 0, 1))))
        out[k] = sorted(pieces)
    return out


def altitude_range(z0: float, z1: float, t0: float, t1: float) -> tuple[float, float]:
    """Lowest and highest altitude flown between ``t0`` and ``t1`` on a leg from ``z0`` to ``z1``."""
    za, zb = z0 + t0 * (z1 - z0), z0 + t1 * (z1 - z0)
    return (min(za, zb), max(za, zb))


def overlaps_band(low: float, high: float, band: tuple[float, float]) -> bool:
    """True when altitudes ``low..high`` reach strictly inside ``band`` (touching a limit is not entering)."""
    return high > band[0] and low < band[1]


def pieces_geojson(
    frame: LocalFrame, legs: Sequence[tuple[np.ndarray, np.ndarray, Pieces]]
) -> dict[str, Any] | None:
    """GeoJSON (WGS84) of the clipped pieces of some legs: lines, points for vertical stretches."""
    lines: list[list[list[float]]] = []
    points: list[list[float]] = []
    for a, b, pieces in legs:
        for t0, t1 in pieces:
            p0, p1 = a[:2] + t0 * (b[:2] - a[:2]), a[:2] + t1 * (b[:2] - a[:2])
            lon, lat = frame.to_wgs84([p0[0], p1[0]], [p0[1], p1[1]])
            first = [round(float(lon[0]), 7), round(float(lat[0]), 7)]
            last = [round(float(lon[1]), 7), round(float(lat[1]), 7)]
            if first == last:
                if first not in points:
                    points.append(first)
            else:
                lines.append([first, last])
    return collection(lines, points)


def collection(lines: list[list[list[float]]], points: list[list[float]]) -> dict[str, Any] | None:
    """A GeoJSON geometry of some lines and points: Multi* when one kind, else a collection."""
    parts: list[dict[str, Any]] = []
    if lines:
        parts.append({"type": "MultiLineString", "coordinates": lines})
    if points:
        parts.append({"type": "MultiPoint", "coordinates": points})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"type": "GeometryCollection", "geometries": parts}
