"""Exact leg-against-volume geometry in a local metric frame (metres, home-centred).

A leg runs from ``a`` to ``b`` (x east, y north, z up); a point on it is ``a + t (b - a)``
for ``0 ≤ t ≤ 1``. Clipping a leg by a volume's horizontal shape gives the pieces of
``t`` where it is over the shape (a boundary touch counts); the altitudes flown over the
shape follow from ``t`` because altitude changes linearly along a leg.

A check tests thousands of (leg, volume) pairs: :class:`Shapes` holds its volumes as
arrays so that every pair is clipped, measured or tested in a few vectorised calls.
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
        return local_shapes([volume], frame)[0]

    def grown(self, metres: float) -> LocalShape:
        """The shape with everything within ``metres`` of it added."""
        if metres <= 0:
            return self
        if self.center is not None:
            return LocalShape(center=self.center, radius_m=self.radius_m + metres)
        return LocalShape(polygon=self.polygon.buffer(metres, quad_segs=16))

    def clip(self, a: np.ndarray, b: np.ndarray) -> list[Pieces]:
        """For each leg (rows of ``a`` and ``b``, shape (n, 2+)), the ``t`` pieces over the shape."""
        out: list[Pieces] = [[] for _ in range(len(a))]
        for leg, t0, t1 in zip(*self.clip_flat(a, b), strict=True):
            out[leg].append((t0, t1))
        return out

    def clip_flat(
        self, a: np.ndarray, b: np.ndarray, lines: Any = None
    ) -> tuple[list[int], list[float], list[float]]:
        """:meth:`clip` as three flat lists: leg row, ``t0`` and ``t1`` of every piece, each
        leg's pieces together and sorted. ``lines`` may give the legs as shapely lines."""
        rows, t0, t1 = Shapes.of([self]).clip(np.zeros(len(a), int), a, b, lines)
        return rows.tolist(), t0.tolist(), t1.tolist()

    def distance(self, a: np.ndarray, b: np.ndarray, lines: Any = None) -> np.ndarray:
        """Horizontal distance from each leg to the shape (0 where they meet); ``lines`` may
        give the legs as shapely lines."""
        return Shapes.of([self]).distance(np.zeros(len(a), int), a, b, lines)

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


def local_shapes(volumes: Sequence[Volume], frame: LocalFrame) -> list[LocalShape]:
    """Each volume's :class:`LocalShape`, all their coordinates moved into ``frame`` in one
    call; polygons come prepared for fast predicates."""
    import shapely

    chunks: list[np.ndarray] = []
    for volume in volumes:
        if volume.center is not None:
            chunks.append(np.asarray([volume.center], float))
        else:
            chunks.extend(np.asarray(ring, float).reshape(-1, 2) for ring in volume.rings)
    if not chunks:
        return []
    lonlat = np.concatenate(chunks)
    xy = np.column_stack(frame.to_local(lonlat[:, 0], lonlat[:, 1]))
    shapes: list[LocalShape] = []
    at = 0
    for volume in volumes:
        if volume.center is not None and volume.radius_m is not None:
            x, y = xy[at]
            shapes.append(LocalShape(center=(float(x), float(y)), radius_m=volume.radius_m))
            at += 1
            continue
        rings = []
        for ring in volume.rings:
            rings.append(xy[at : at + len(ring)])
            at += len(ring)
        polygon = shapely.Polygon(rings[0], rings[1:])
        shapely.prepare(polygon)
        shapes.append(LocalShape(polygon=polygon))
    return shapes


def segment_point_distance(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Distance from each segment ``a``-``b`` (n, 2) to the point ``c`` (2,), or to its own
    point when ``c`` is (n, 2)."""
    d = b - a
    length2 = np.einsum("ij,ij->i", d, d)
    t = np.where(
        length2 > 0, np.einsum("ij,ij->i", c - a, d) / np.where(length2 > 0, length2, 1), 0
    )
    nearest = a + np.clip(t, 0.0, 1.0)[:, None] * d
    return np.asarray(np.hypot(*(nearest - c).T))


def leg_lines(a: np.ndarray, b: np.ndarray) -> Any:
    """The legs in plan view as an array of shapely lines."""
    import shapely

    coords = np.stack([a[:, :2], b[:, :2]], axis=1)
    return shapely.linestrings(coords)


Flat = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Shapes:
    """Many :class:`LocalShape` as arrays, to test many (leg, shape) pairs in a few calls.

    Every method takes ``which`` (the shape of each pair) and the pairs' legs ``a``, ``b``
    (rows of shape (n, 2+)), and optionally the legs as shapely lines.
    """

    circle: np.ndarray  # (n,) bool
    center: np.ndarray  # (n, 2); circles only
    radius: np.ndarray  # (n,)
    polygon: np.ndarray  # (n,) shapely polygons (prepared), None for circles
    edge_from: np.ndarray  # (e, 2) every polygon's ring edges, shape by shape
    edge_to: np.ndarray
    edge_start: np.ndarray  # (n + 1,) shape k's edges are edge_start[k]:edge_start[k + 1]

    @classmethod
    def of(cls, shapes: Sequence[LocalShape]) -> Shapes:
        import shapely

        circle = np.asarray([s.center is not None for s in shapes], bool).reshape(-1)
        center = np.asarray([s.center or (0.0, 0.0) for s in shapes], float).reshape(-1, 2)
        radius = np.asarray([s.radius_m for s in shapes], float).reshape(-1)
        polygon = np.empty(len(shapes), dtype=object)
        polygon[:] = [s.polygon for s in shapes]
        polygons = np.flatnonzero(~circle)
        shapely.prepare(polygon[polygons])
        parts, part_of = shapely.get_parts(polygon[polygons], return_index=True)
        rings, ring_of = shapely.get_rings(parts, return_index=True)
        coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
        same = coord_ring[1:] == coord_ring[:-1]  # consecutive points of one ring: an edge
        owner = polygons[part_of[ring_of[coord_ring[:-1][same]]]]
        edge_start = np.searchsorted(owner, np.arange(len(shapes) + 1))
        return cls(circle, center, radius, polygon, coords[:-1][same], coords[1:][same], edge_start)

    def clip(self, which: np.ndarray, a: np.ndarray, b: np.ndarray, lines: Any = None) -> Flat:
        """The pieces over the shapes, flat: pair, ``t0`` and ``t1`` of every piece, sorted
        by pair then ``t``. A boundary touch is a piece; a vertical leg is over a shape
        from end to end or not at all."""
        import shapely

        which = np.asarray(which, int)
        a2, b2 = a[:, :2], b[:, :2]
        d = b2 - a2
        length2 = np.einsum("ij,ij->i", d, d)
        vertical = length2 <= VERTICAL_M**2
        circle = self.circle[which]
        out: list[Flat] = [_clip_circles(a2, d, self.center[which], self.radius[which], circle)]
        whole: list[np.ndarray] = []  # pairs whose leg is over the polygon end to end
        rows = np.flatnonzero(~circle & vertical)
        if len(rows):
            points = shapely.points(a2[rows])
            whole.append(rows[shapely.intersects(self.polygon[which[rows]], points)])
        rows = np.flatnonzero(~circle & ~vertical)
        if len(rows):
            lines = leg_lines(a[rows], b[rows]) if lines is None else lines[rows]
            polygons = self.polygon[which[rows]]
            hit = shapely.intersects(polygons, lines)
            rows, lines, polygons = rows[hit], lines[hit], polygons[hit]
            inside = shapely.contains_properly(polygons, lines)  # the boundary never met
            whole.append(rows[inside])
            out.append(self._crossing(which, a2, b2, rows[~inside], lines[~inside]))
        ends = np.concatenate([*whole, np.zeros(0, int)])
        out.append((ends, np.zeros(len(ends)), np.ones(len(ends))))
        pair = np.concatenate([o[0] for o in out])
        t0, t1 = np.concatenate([o[1] for o in out]), np.concatenate([o[2] for o in out])
        order = np.lexsort((t1, t0, pair))
        return pair[order], t0[order], t1[order]

    def _crossing(
        self, which: np.ndarray, a2: np.ndarray, b2: np.ndarray, rows: np.ndarray, lines: Any
    ) -> Flat:
        """Pieces of the ``rows`` pairs, whose legs cross their polygon's boundary: exact
        arithmetic where the crossings are clear, GEOS where a leg grazes a vertex or an
        edge, or an end lies on the boundary."""
        pair, t0, t1, unclear = _crossings(self, which[rows], a2[rows], b2[rows])
        out = [(rows[pair], t0, t1)]
        if unclear.any():
            out.append(_geos_pieces(rows[unclear], a2, b2, lines[unclear], self.polygon[which]))
        return (
            np.concatenate([o[0] for o in out]),
            np.concatenate([o[1] for o in out]),
            np.concatenate([o[2] for o in out]),
        )

    def contains(self, which: np.ndarray, points: np.ndarray, within_m: np.ndarray) -> np.ndarray:
        """Whether each pair's point (rows of ``points``, (n, 2+)) lies on or in its shape, or
        within the pair's ``within_m`` of it."""
        import shapely

        which = np.asarray(which, int)
        out = np.zeros(len(which), bool)
        circle = self.circle[which]
        rows = np.flatnonzero(circle)
        c = self.center[which[rows]]
        d = np.hypot(points[rows, 0] - c[:, 0], points[rows, 1] - c[:, 1])
        out[rows] = d <= self.radius[which[rows]] + within_m[rows]
        for buffered in (False, True):
            rows = np.flatnonzero(~circle & ((within_m > 0) == buffered))
            geoms = shapely.points(points[rows, :2])
            polygons = self.polygon[which[rows]]
            if buffered:
                out[rows] = shapely.dwithin(geoms, polygons, within_m[rows])
            else:
                out[rows] = shapely.intersects(geoms, polygons)
        return out

    def distance(
        self, which: np.ndarray, a: np.ndarray, b: np.ndarray, lines: Any = None
    ) -> np.ndarray:
        """Horizontal distance of each pair's leg from its shape (0 where they meet)."""
        import shapely

        which = np.asarray(which, int)
        out = np.zeros(len(which))
        circle = self.circle[which]
        rows = np.flatnonzero(circle)
        if len(rows):
            c = self.center[which[rows]]
            gap = segment_point_distance(a[rows, :2], b[rows, :2], c)
            out[rows] = np.maximum(gap - self.radius[which[rows]], 0.0)
        rows = np.flatnonzero(~circle)
        if len(rows):
            lines = leg_lines(a[rows], b[rows]) if lines is None else lines[rows]
            out[rows] = shapely.distance(lines, self.polygon[which[rows]])
        return out


def _clip_circles(
    a2: np.ndarray, d: np.ndarray, center: np.ndarray, radius: np.ndarray, rows: np.ndarray
) -> Flat:
    """The piece of each leg (where ``rows``) inside its circle: the roots of |a + t d - c| = r."""
    f = a2 - center
    qa = np.einsum("ij,ij->i", d, d)
    qb = 2.0 * np.einsum("ij,ij->i", f, d)
    qc = np.einsum("ij,ij->i", f, f) - radius**2
    vertical = qa <= VERTICAL_M**2
    disc = qb**2 - 4.0 * qa * qc
    root = np.sqrt(np.maximum(disc, 0.0))
    twice = 2.0 * np.where(vertical, 1.0, qa)
    t0, t1 = (-qb - root) / twice, (-qb + root) / twice
    t0 = np.where(vertical, 0.0, np.maximum(t0, 0.0))
    t1 = np.where(vertical, 1.0, np.minimum(t1, 1.0))
    over = rows & np.where(vertical, qc <= 0, (disc >= 0) & (t1 >= 0.0) & (t0 <= 1.0))
    pair = np.flatnonzero(over)
    return pair, t0[pair], t1[pair]


#: Bound on the relative rounding of the crossing arithmetic, with a wide safety factor.
_EPS = 1e-14


def _crossings(
    shapes: Shapes, which: np.ndarray, a2: np.ndarray, b2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clip legs (rows of ``a2``, ``b2``) that meet their polygon's boundary, by arithmetic.

    Each leg is intersected with every edge of its polygon; with a bound on the rounding
    of each ``t`` (along the leg) and ``s`` (along the edge), a crossing is clear when both
    lie strictly inside 0..1 by more than the bound, and a miss when either lies outside
    by more than it. A leg with any pair in between (an end on the boundary, a vertex on
    the leg, an edge along it) or whose crossings do not alternate in and out of the
    polygon is ``unclear``: its pieces are left to GEOS. Returns (leg, t0, t1, unclear).
    """
    import shapely

    n = len(which)
    counts = shapes.edge_start[which + 1] - shapes.edge_start[which]
    leg = np.repeat(np.arange(n), counts)
    edge = np.arange(len(leg)) - np.repeat(np.cumsum(counts) - counts, counts)
    edge += shapes.edge_start[which][leg]
    p, e = shapes.edge_from[edge], shapes.edge_to[edge] - shapes.edge_from[edge]
    r = (b2 - a2)[leg]
    w = p - a2[leg]
    den = r[:, 0] * e[:, 1] - r[:, 1] * e[:, 0]
    num_t = w[:, 0] * e[:, 1] - w[:, 1] * e[:, 0]
    num_s = w[:, 0] * r[:, 1] - w[:, 1] * r[:, 0]
    # rounding bounds: products of lengths, and of the coordinates' size for the differences
    size = 1.0 + max(np.abs(a2).max(initial=0), np.abs(b2).max(initial=0), np.abs(p).max(initial=0))
    lw, le, lr = np.hypot(*w.T), np.hypot(*e.T), np.hypot(*r.T)
    err_den = _EPS * (lr * le + size * (le + lr))
    err_t = _EPS * (lw * le + size * (le + lw))
    err_s = _EPS * (lw * lr + size * (lr + lw))
    firm = np.abs(den) > 4.0 * err_den
    safe = np.where(firm, den, 1.0)
    t, s = num_t / safe, num_s / safe
    tol_t = (err_t + np.abs(t) * err_den) / np.abs(safe) * 2.0
    tol_s = (err_s + np.abs(s) * err_den) / np.abs(safe) * 2.0
    miss = (t + tol_t < 0) | (t - tol_t > 1) | (s + tol_s < 0) | (s - tol_s > 1)
    cross = (t - tol_t > 0) & (t + tol_t < 1) & (s - tol_s > 0) & (s + tol_s < 1)
    # (nearly) parallel: a miss only when the edge's box stays clear of the leg's box
    lo, hi = np.minimum(a2, b2)[leg], np.maximum(a2, b2)[leg]
    q = p + e
    pad = 1e-9 * size
    apart = (np.maximum(p, q) < lo - pad).any(axis=1) | (np.minimum(p, q) > hi + pad).any(axis=1)
    miss = np.where(firm, miss, apart)
    cross &= firm
    unclear = np.bincount(leg[~(miss | cross)], minlength=n) > 0
    # the clear crossings of each leg in order; near ties are unclear too
    k = np.flatnonzero(cross)
    order = np.lexsort((t[k], leg[k]))
    k = k[order]
    cl, ct, ctol = leg[k], t[k], tol_t[k]
    tie = (cl[1:] == cl[:-1]) & (ct[1:] - ct[:-1] <= ctol[1:] + ctol[:-1])
    unclear[cl[1:][tie]] = True
    crossings = np.bincount(cl, minlength=n)
    unclear |= crossings == 0
    polygon = shapes.polygon[which]
    start_in = shapely.intersects(polygon, shapely.points(a2))
    end_in = shapely.intersects(polygon, shapely.points(b2))
    unclear |= start_in ^ (crossings % 2 == 1) ^ end_in
    # knots 0, crossings..., 1 of each clear leg; every other span between them is inside
    clear = np.flatnonzero(~unclear)
    keep = ~unclear[cl]
    knot_leg = np.concatenate([clear, cl[keep], clear])
    knot_t = np.concatenate([np.zeros(len(clear)), ct[keep], np.ones(len(clear))])
    rank = np.concatenate([np.zeros(len(clear)), np.ones(keep.sum()), np.full(len(clear), 2.0)])
    order = np.lexsort((knot_t, rank, knot_leg))
    knot_leg, knot_t = knot_leg[order], knot_t[order]
    first = np.searchsorted(knot_leg, knot_leg)  # index of each leg's first knot
    span = np.flatnonzero(knot_leg[1:] == knot_leg[:-1])
    inside = start_in[knot_leg[span]] ^ ((span - first[span]) % 2 == 1)
    span = span[inside]
    return knot_leg[span], knot_t[span], knot_t[span + 1], unclear


def _geos_pieces(
    rows: np.ndarray, a2: np.ndarray, b2: np.ndarray, lines: Any, polygons: np.ndarray
) -> Flat:
    """Pieces of the ``rows`` pairs by GEOS: their lines intersected with their polygons."""
    import shapely

    d = b2 - a2
    clipped = shapely.intersection(lines, polygons[rows])
    parts, owner = shapely.get_parts(clipped, return_index=True)
    parts, inner = shapely.get_parts(parts, return_index=True)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    if not len(coords):
        return np.zeros(0, int), np.zeros(0), np.zeros(0)
    pair = rows[owner[inner[part]]]
    t = np.einsum("ij,ij->i", coords - a2[pair], d[pair]) / np.einsum("ij,ij->i", d[pair], d[pair])
    starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
    return (
        pair[starts],
        np.clip(np.minimum.reduceat(t, starts), 0.0, 1.0),
        np.clip(np.maximum.reduceat(t, starts), 0.0, 1.0),
    )


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
    if not legs:
        return None
    a = np.asarray([leg[0] for leg in legs], float)
    b = np.asarray([leg[1] for leg in legs], float)
    return pieces_geojson_many(frame, a, b, [[(k, leg[2]) for k, leg in enumerate(legs)]])[0]


def pieces_geojson_many(
    frame: LocalFrame,
    a: np.ndarray,
    b: np.ndarray,
    groups: Sequence[Sequence[tuple[int, Pieces]]],
) -> list[dict[str, Any] | None]:
    """:func:`pieces_geojson` of each group of (row of ``a`` and ``b``, pieces), every end
    point moved to WGS84 in one call."""
    rows = [row for legs in groups for row, pieces in legs for _ in pieces]
    if not rows:
        return [None for _ in groups]
    ts = np.asarray([t for legs in groups for _, pieces in legs for t in pieces], float)
    start, end = a[rows, :2], b[rows, :2]
    p0 = start + ts[:, :1] * (end - start)
    p1 = start + ts[:, 1:] * (end - start)
    xy = np.stack([p0, p1], axis=1).reshape(-1, 2)
    # pieces share many ends (whole legs, several zones over one leg): transform each once
    keys = np.ascontiguousarray(xy).view(np.complex128).reshape(-1)  # one sortable value a point
    unique, back = np.unique(keys, return_inverse=True)
    lon, lat = frame.to_wgs84(unique.real, unique.imag)
    lon_r, lat_r = round7(lon), round7(lat)
    rounded = [[lon_r[k], lat_r[k]] for k in back.reshape(-1).tolist()]
    out: list[dict[str, Any] | None] = []
    at = 0
    for legs in groups:
        lines: list[list[list[float]]] = []
        points: list[list[float]] = []
        for _, pieces in legs:
            for _ in pieces:
                first, last = rounded[at], rounded[at + 1]
                at += 2
                if first == last:
                    if first not in points:
                        points.append(first)
                else:
                    lines.append([first, last])
        out.append(collection(lines, points))
    return out


def round7(values: np.ndarray) -> list[float]:
    """``[round(v, 7) for v in values]``, exactly, but vectorised.

    ``rint(v × 10⁷) / 10⁷`` is the double nearest the decimal Python's ``round`` picks
    whenever the scaled value is not within rounding of a half (then the integer is
    the same, and the division is correctly rounded); those few, and values too large or
    not finite, are left to ``round``.
    """
    values = np.asarray(values, float).reshape(-1)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values * 1e7
        out = (np.rint(scaled) / 1e7).tolist()
        clear = (np.abs(scaled - np.floor(scaled) - 0.5) > 1e-5) & (np.abs(values) < 1e8)
    for k in np.flatnonzero(~clear).tolist():
        out[k] = round(float(values[k]), 7)
    return out


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
