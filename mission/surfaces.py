"""Vertical surfaces and their coverage by photos.

A structure (a cylinder, or a prism on its footprint polygon) and a facade (a vertical
face standing on a line) are made of vertical planar facets. Unrolled, the surface is a
plane: ``s`` metres along the perimeter (structure, counter-clockwise from a circle's
east point or from the footprint's first vertex) or along the line (facade, from its
first point), and ``z`` metres above home. Heights above ground are taken as heights
above home: the ground is assumed flat at home's elevation.

A photo's footprint on a facet is the part of the facet inside the camera's view
pyramid (landscape: the horizontal field of view comes from the sensor width, the
vertical one from the sensor height), cut to the target's heights and to the range
limit. Occlusion (one part of a concave building hiding another) is not modelled.
Yaw is taken as a heading in the frame's grid (a few thousandths of a degree from
true heading within a kilometre of home).

The covered area is the union of all footprints, computed exactly but cheaply: the
pieces of one photo are joined across facet edges, consecutive photos of a row into
one band (envelopes of their edges), and only those bands go to ``shapely.union_all``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.geometry import Polygon, shape
from shapely.geometry.polygon import orient

from mission.camera import Camera
from mission.errors import MissionError
from mission.geodesy import LocalFrame
from mission.plan import Target
from mission.standoff import MAX_INCIDENCE_DEG, half_fov_deg

if TYPE_CHECKING:
    from mission.analysis import Photo

#: A photo counts only for the parts of a facet nearer than this along its optical axis, metres.
MAX_RANGE_M = 150.0
#: Facets of a round structure stay within this distance of the true circle, metres.
CIRCLE_SAG_M = 0.05


# --- the surface as facets -----------------------------------------------------------------


@dataclass(frozen=True)
class Surface:
    """Vertical facets in a local frame: facet ``i`` runs from ``start[i]`` along ``along[i]``."""

    start: np.ndarray  # (F, 2) x, y of each facet's first end
    along: np.ndarray  # (F, 2) unit horizontal direction
    length: np.ndarray  # (F,) metres
    s0: np.ndarray  # (F,) unrolled position of each facet's first end
    z_min: float
    z_max: float
    two_sided: bool  # a facade: seen from either side; a structure: only from outside

    @property
    def perimeter_m(self) -> float:
        return float(self.s0[-1] + self.length[-1])

    @property
    def outward(self) -> np.ndarray:
        """Unit normals to the right of each facet (outward for a counter-clockwise outline)."""
        return np.column_stack([self.along[:, 1], -self.along[:, 0]])


def _facets(points: np.ndarray, z_min: float, z_max: float, two_sided: bool) -> Surface:
    d = np.diff(points, axis=0)
    length = np.hypot(d[:, 0], d[:, 1])
    keep = length > 1e-9
    start, d, length = points[:-1][keep], d[keep], length[keep]
    s0 = np.concatenate([[0.0], np.cumsum(length)[:-1]])
    return Surface(start, d / length[:, None], length, s0, z_min, z_max, two_sided)


def target_surface(target: Target, frame: LocalFrame) -> Surface:
    """The facets of a ``structure`` or ``facade`` target in ``frame``."""
    if target.kind not in ("structure", "facade"):
        raise MissionError(f"target kind {target.kind!r} is not a vertical surface")
    z_min = target.height_min_m or 0.0
    if target.height_max_m is None or not target.height_max_m > z_min:
        raise MissionError(
            f"{target.kind} target height {z_min:g}..{target.height_max_m} m is not a range"
        )
    geom = frame.geom_to_local(shape(target.geometry))
    kind = geom.geom_type
    if target.kind == "facade":
        if kind != "LineString":
            raise MissionError(f"facade target geometry is a {kind}, expected LineString")
        return _facets(np.asarray(geom.coords)[:, :2], z_min, target.height_max_m, True)
    if kind == "Point":
        radius = target.radius_m
        if radius is None or not radius > 0:
            raise MissionError(f"structure target radius {radius} m must be > 0")
        n = max(36, min(720, math.ceil(math.pi / math.acos(max(1.0 - CIRCLE_SAG_M / radius, 0)))))
        a = np.linspace(0.0, 2.0 * math.pi, n + 1)
        ring = np.column_stack([geom.x + radius * np.cos(a), geom.y + radius * np.sin(a)])
    elif kind == "Polygon":
        ring = np.asarray(orient(Polygon(geom.exterior), 1.0).exterior.coords)[:, :2]
    else:
        raise MissionError(f"structure target geometry is a {kind}, expected Point or Polygon")
    return _facets(ring, z_min, target.height_max_m, False)


# --- photo footprints on the facets ------------------------------------------------------------


def _clip(poly: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Cut convex polygons (M, K, 2) to ``a·u + b·z + c ≥ 0`` (Sutherland–Hodgman, vectorised).

    Polygons with fewer than K vertices repeat their last one; the result has K + 1
    columns, padded the same way (all zero where nothing is left).
    """
    m, k, _ = poly.shape
    val = a[:, None] * poly[..., 0] + b[:, None] * poly[..., 1] + c[:, None]
    nxt, val_nxt = np.roll(poly, -1, axis=1), np.roll(val, -1, axis=1)
    inside = val >= 0.0
    cross = inside != (val_nxt >= 0.0)
    t = np.where(cross, val / np.where(cross, val - val_nxt, 1.0), 0.0)
    candidates = np.stack([poly, poly + t[..., None] * (nxt - poly)], axis=2).reshape(m, 2 * k, 2)
    keep = np.stack([inside, cross], axis=2).reshape(m, 2 * k)
    position = np.cumsum(keep, axis=1) - 1
    count = position[:, -1] + 1
    out = np.zeros((m, k + 1, 2))
    rows, cols = np.nonzero(keep)
    out[rows, position[rows, cols]] = candidates[rows, cols]
    pick = np.minimum(np.arange(k + 1)[None, :], np.maximum(count - 1, 0)[:, None])
    return np.take_along_axis(out, pick[..., None], axis=1)


def _shoelace(poly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed areas (M,) and centroids (M, 2) of padded polygons (M, K, 2)."""
    x, y = poly[..., 0], poly[..., 1]
    x1, y1 = np.roll(x, -1, axis=1), np.roll(y, -1, axis=1)
    cross = x * y1 - x1 * y
    area = cross.sum(axis=1) / 2.0
    safe = np.where(np.abs(area) > 1e-12, area, 1.0)
    cx = ((x + x1) * cross).sum(axis=1) / (6.0 * safe)
    cy = ((y + y1) * cross).sum(axis=1) / (6.0 * safe)
    return area, np.column_stack([cx, cy])


@dataclass(frozen=True)
class Footprints:
    """Photo footprints on an unrolled surface, one convex piece per (photo, facet) seen.

    ``pieces[i]`` is a (K, 2) array of (s, z) vertices, counter-clockwise, repeating its
    last vertex as padding.
    """

    pieces: np.ndarray  # (M, K, 2)
    photo: np.ndarray  # (M,) index of the photo
    facet: np.ndarray  # (M,) index of the facet
    gsd_cm: np.ndarray  # (M,) slant-range GSD on the optical axis, else at the centroid
    on_axis: np.ndarray  # (M,) whether the photo's optical axis meets the surface in this piece


def footprints(
    surface: Surface,
    camera: Camera,
    photos: Sequence[Photo],
    *,
    max_incidence_deg: float = MAX_INCIDENCE_DEG,
    max_range_m: float = MAX_RANGE_M,
) -> Footprints:
    """Where each photo sees the surface, as convex pieces in the unrolled (s, z) plane."""
    pos = np.array([(p.x_m, p.y_m, p.alt_rel_m) for p in photos], float).reshape(-1, 3)
    yaw = np.radians([p.yaw_deg for p in photos])
    pitch = np.radians([p.pitch_deg for p in photos])
    fwd = np.column_stack([np.sin(yaw) * np.cos(pitch), np.cos(yaw) * np.cos(pitch), np.sin(pitch)])
    right = np.column_stack([np.cos(yaw), -np.sin(yaw), np.zeros_like(yaw)])
    up = np.cross(right, fwd)
    th, tv = (math.tan(math.radians(a)) for a in half_fov_deg(camera))
    # Inward normals of the view pyramid's sides (left, right, bottom, top) and the far plane.
    normals = np.stack(
        [right + th * fwd, -right + th * fwd, up + tv * fwd, -up + tv * fwd, -fwd], axis=1
    )
    offsets = -np.einsum("pkc,pc->pk", normals, pos)
    offsets[:, 4] += max_range_m

    # Cheap (photo, facet) tests: in front, facing it squarely enough, near enough, in view.
    out_n = surface.outward
    side = pos[:, :2] @ out_n.T - np.einsum("fc,fc->f", surface.start, out_n)[None, :]
    sign = np.where(side >= 0.0, 1.0, -1.0) if surface.two_sided else np.ones_like(side)
    ok = (sign * side > 1e-9) & (sign * side <= max_range_m)
    ok &= -sign * (fwd[:, :2] @ out_n.T) >= math.cos(math.radians(max_incidence_deg))
    end = surface.start + surface.along * surface.length[:, None]
    for k in range(4):
        nk = normals[:, k]
        reach = np.maximum(nk[:, :2] @ surface.start.T, nk[:, :2] @ end.T)
        zt = np.maximum(nk[:, 2] * surface.z_min, nk[:, 2] * surface.z_max)
        ok &= reach + (zt + offsets[:, k])[:, None] >= 0.0
    ip, jf = np.nonzero(ok)

    # Each pair's footprint in facet coordinates (u along the facet, z): clip the facet.
    length = surface.length[jf]
    z0, z1 = surface.z_min, surface.z_max
    poly = np.zeros((len(ip), 4, 2))
    poly[:, :, 0] = np.column_stack([np.zeros_like(length), length, length, np.zeros_like(length)])
    poly[:, :, 1] = [z0, z0, z1, z1]
    start, along = surface.start[jf], surface.along[jf]
    for k in range(5):
        nk = normals[ip, k]
        a = np.einsum("mc,mc->m", nk[:, :2], along)
        c = np.einsum("mc,mc->m", nk[:, :2], start) + offsets[ip, k]
        poly = _clip(poly, a, nk[:, 2], c)
    area, centroid = _shoelace(poly)
    seen = area > 1e-6
    poly, ip, jf, centroid = poly[seen], ip[seen], jf[seen], centroid[seen]
    start, along, length = start[seen], along[seen], length[seen]
    # GSD where the optical axis meets the facet, if it does within the target; else at the
    # piece's centroid (the photo then only sees the surface off its centre).
    normal = np.column_stack([surface.outward[jf], np.zeros(len(jf))])
    ahead = np.einsum("mc,mc->m", fwd[ip], normal)
    depth = np.einsum("mc,mc->m", np.column_stack([start, np.zeros(len(jf))]) - pos[ip], normal)
    depth = np.where(np.abs(ahead) > 1e-9, depth / np.where(ahead == 0.0, 1.0, ahead), -1.0)
    hit = pos[ip] + depth[:, None] * fwd[ip]
    u_hit = np.einsum("mc,mc->m", hit[:, :2] - start, along)
    on_axis = (depth > 0) & (depth <= max_range_m) & (u_hit >= 0) & (u_hit <= length)
    on_axis &= (hit[:, 2] >= z0) & (hit[:, 2] <= z1)
    spot = np.column_stack([start + along * centroid[:, :1], centroid[:, 1]])
    distance = np.where(on_axis, depth, np.linalg.norm(spot - pos[ip], axis=1))
    poly[..., 0] += surface.s0[jf][:, None]
    return Footprints(poly, ip, jf, camera.gsd_cm(1.0) * distance, on_axis)


@dataclass(frozen=True)
class _Chains:
    """Outlines that span an interval of s each, as lower and upper chains ascending in s."""

    low: np.ndarray  # (N, 2) vertices of the lower chains
    low_of: np.ndarray  # (N,) the outline of each, ascending
    up: np.ndarray  # (M, 2) vertices of the upper chains, from the lower chain's ends
    up_of: np.ndarray  # (M,)

    def rings(self, which: np.ndarray) -> np.ndarray:
        """Polygons of the outlines ``which`` (ascending indices)."""
        pick_low, pick_up = np.isin(self.low_of, which), np.isin(self.up_of, which)
        xy = np.vstack([self.low[pick_low], self.up[pick_up]])
        of = np.concatenate([self.low_of[pick_low], self.up_of[pick_up]])
        order = np.lexsort((np.r_[np.arange(pick_low.sum()), -1 - np.arange(pick_up.sum())], of))
        rings = shapely.linearrings(xy[order], indices=np.searchsorted(which, of[order]))
        return np.asarray(shapely.polygons(rings))


def _photo_outlines(fp: Footprints, surface: Surface) -> _Chains:
    """One outline per run of pieces of the same photo on neighbouring facets (their union).

    Neighbouring pieces of one photo share their boundary on the facets' common edge, so
    the union is bounded by the pieces' lower chains, left to right, and upper chains.
    """
    m, k, _ = fp.pieces.shape
    s, z = fp.pieces[..., 0], fp.pieces[..., 1]
    lo, hi = s.min(axis=1), s.max(axis=1)
    edge0 = surface.s0[fp.facet]
    edge1 = edge0 + surface.length[fp.facet]
    tol = 1e-7 * max(1.0, surface.perimeter_m)
    joins = (
        (fp.photo[1:] == fp.photo[:-1])
        & (fp.facet[1:] == fp.facet[:-1] + 1)
        & (hi[:-1] >= edge1[:-1] - tol)
        & (lo[1:] <= edge0[1:] + tol)
    )
    group = np.concatenate([[0], np.cumsum(~joins)])
    rank = np.arange(m) - np.concatenate([[0], np.nonzero(~joins)[0] + 1])[group]
    # Lower chain: from the lowest leftmost vertex, counter-clockwise, to the lowest rightmost.
    first = np.argmin(np.where(s <= lo[:, None] + tol, z, np.inf), axis=1)
    last = np.argmin(np.where(s >= hi[:, None] - tol, z, np.inf), axis=1)
    order = (first[:, None] + np.arange(k)[None, :]) % k
    rolled = np.take_along_axis(fp.pieces, order[..., None], axis=1)
    upper = np.arange(k)[None, :] > ((last - first) % k)[:, None]
    keys = (
        np.broadcast_to(np.arange(k), (m, k)).ravel(),
        np.where(upper, -rank[:, None], rank[:, None]).ravel(),
        upper.ravel(),
        np.repeat(group, k),
    )
    sort = np.lexsort(keys)
    xy, outline, on_top = rolled.reshape(-1, 2)[sort], keys[3][sort], keys[2][sort]
    low, low_of = xy[~on_top], outline[~on_top]
    n = int(outline[-1]) + 1
    ends = np.searchsorted(low_of, np.arange(n)), np.searchsorted(low_of, np.arange(n), "right") - 1
    # Upper chains run right to left: reverse them, from the lower chain's first vertex to its last.
    pick = np.nonzero(on_top)[0]
    up = np.vstack([low[ends[0]], xy[pick], low[ends[1]]])
    up_of = np.concatenate([np.arange(n), outline[pick], np.arange(n)])
    order = np.lexsort((np.concatenate([np.full(n, -np.inf), -pick, np.full(n, np.inf)]), up_of))
    return _Chains(low, low_of, up[order], up_of[order])


def _segment_pick(key: np.ndarray, value: np.ndarray, count: int, top: bool) -> np.ndarray:
    """For each segment 0..count-1 of ``key``, the index of its largest (or smallest) value."""
    order = np.lexsort((value if top else -value, key))
    last = np.searchsorted(key[order], np.arange(count), side="right") - 1
    return order[last]


def _envelope(
    cuts: np.ndarray, k: np.ndarray, left: np.ndarray, right: np.ndarray, top: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Upper (``top``) or lower envelope of the lines ``(left, right)`` over intervals ``k``.

    Keeps the lines on top at each interval's two ends, meeting where they cross, and
    returns the chain's points and the places where some other line rises above it
    (cut there and try again; exact once there are none).
    """
    count = len(cuts) - 1
    i, j = _segment_pick(k, left, count, top), _segment_pick(k, right, count, top)
    li, ri, lj, rj = left[i], right[i], left[j], right[j]
    slope = (ri - li) - (rj - lj)
    t = (lj - li) / np.where(np.abs(slope) > 1e-12, slope, np.inf)
    cross = (t > 0) & (t < 1)
    t = np.where(cross, t, 0.5)
    s0, s1 = cuts[:-1], cuts[1:]
    probe = li + t * (ri - li)
    others = left + t[k] * (right - left)
    best = others[_segment_pick(k, others, count, top)]
    missed = (best > probe + 1e-9) if top else (best < probe - 1e-9)
    pts = np.stack(
        [
            np.column_stack([s0, li]),
            np.column_stack([s0 + t * (s1 - s0), probe]),
            np.column_stack([s1, rj]),
        ],
        axis=1,
    )
    chain = pts[np.column_stack([np.ones_like(cross), cross, np.ones_like(cross)])]
    return chain, (s0 + t * (s1 - s0))[missed]


def _merge_run(low: np.ndarray, up: np.ndarray, low_of: np.ndarray, up_of: np.ndarray) -> Any:
    """The union of consecutive outlines, or None where it is not one band along s.

    ``low``/``up`` hold the outlines' lower and upper chains, each ascending in s, and
    ``low_of``/``up_of`` the outline (0..n-1) of each vertex. Where all outlines present
    at an s share a height the union there is one interval, bounded by the lower
    envelope of the lower chains and the upper envelope of the upper ones.
    """
    n = int(low_of[-1]) + 1
    low, up = low.copy(), up.copy()
    low[:, 0], up[:, 0] = np.round(low[:, 0], 6), np.round(up[:, 0], 6)  # one s per step
    ends = (
        low[np.searchsorted(low_of, np.arange(n))],
        low[np.searchsorted(low_of, np.arange(n), side="right") - 1],
    )
    cuts = np.unique(np.concatenate([low[:, 0], up[:, 0]]))
    shift = float(cuts[-1] - cuts[0]) + 1.0
    for _ in range(10):
        a, b = np.searchsorted(cuts, ends[0][:, 0]), np.searchsorted(cuts, ends[1][:, 0])
        spans = b - a
        owner = np.repeat(np.arange(n), spans)
        k = np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans - a, spans)
        if len(np.unique(k)) < len(cuts) - 1:  # a gap along s
            return None
        # Every chain at the ends of the intervals it spans, in one call per chain kind
        # (outline m shifted by m·shift along s): read a quarter in from either end and
        # extend the line to the ends, so vertical steps in a chain do not matter.
        q1 = 0.75 * cuts[k] + 0.25 * cuts[k + 1] + owner * shift
        q3 = 0.25 * cuts[k] + 0.75 * cuts[k + 1] + owner * shift
        values = []
        for chain, of in ((low, low_of), (up, up_of)):
            xp, fp = chain[:, 0] + of * shift, chain[:, 1]
            v1, v3 = np.interp(q1, xp, fp), np.interp(q3, xp, fp)
            values += [1.5 * v1 - 0.5 * v3, 1.5 * v3 - 0.5 * v1]
        low_l, low_r, up_l, up_r = values
        for lows, ups in ((low_l, up_l), (low_r, up_r)):
            top = lows[_segment_pick(k, lows, len(cuts) - 1, True)]
            bottom = ups[_segment_pick(k, ups, len(cuts) - 1, False)]
            if np.any(top > bottom + 1e-6):
                return None
        upper, more_up = _envelope(cuts, k, up_l, up_r, True)
        lower, more_low = _envelope(cuts, k, low_l, low_r, False)
        if not len(more_up) and not len(more_low):
            break
        cuts = np.unique(np.concatenate([cuts, more_up, more_low]))
    merged = shapely.Polygon(np.round(np.vstack([lower, upper[::-1]]), 9))  # no 1e-13 crossings
    return merged if merged.is_valid else None


def _row_unions(ch: _Chains) -> list[Any]:
    """Polygons covering the outlines: runs of consecutive overlapping ones merged into one."""
    low, low_of, up, up_of = ch.low, ch.low_of, ch.up, ch.up_of
    n = int(low_of[-1]) + 1
    low_at = np.searchsorted(low_of, np.arange(n + 1))
    up_at = np.searchsorted(up_of, np.arange(n + 1))
    lo, hi = low[low_at[:-1], 0], low[low_at[1:] - 1, 0]
    # Neighbours join where they overlap along s and, at both ends of the overlap, in height.
    shift = float(hi.max() - lo.min()) + 1.0
    a, b = np.maximum(lo[:-1], lo[1:]), np.minimum(hi[:-1], hi[1:])
    joinable = b - a > 1e-6
    for at in (a + 1e-3 * (b - a), b - 1e-3 * (b - a)):
        z = [
            np.interp(at + (np.arange(n - 1) + step) * shift, c[:, 0] + of * shift, c[:, 1])
            for step in (0, 1)
            for c, of in ((low, low_of), (up, up_of))
        ]
        joinable &= np.maximum(z[0], z[2]) <= np.minimum(z[1], z[3]) + 1e-6
    cuts = (np.nonzero(~joinable)[0] + 1).tolist()
    out: list[Any] = []
    single: list[int] = []

    def merge(begin: int, end: int) -> None:
        if end - begin == 1:
            single.append(begin)
            return
        ls, us = slice(low_at[begin], low_at[end]), slice(up_at[begin], up_at[end])
        merged = _merge_run(low[ls], up[us], low_of[ls] - begin, up_of[us] - begin)
        if merged is not None:
            out.append(merged)
        else:  # not one band (photos seeing it from far apart, or just touching): halve
            merge(begin, (begin + end) // 2)
            merge((begin + end) // 2, end)

    for begin, end in zip([0, *cuts], [*cuts, n], strict=True):
        merge(begin, end)
    if single:
        out += list(ch.rings(np.asarray(single)))
    return out


def surface_coverage(
    target: Target,
    camera: Camera,
    photos: Sequence[Photo],
    frame: LocalFrame,
    *,
    max_incidence_deg: float = MAX_INCIDENCE_DEG,
    max_range_m: float = MAX_RANGE_M,
) -> tuple[float, float | None]:
    """(Fraction 0..1 of the target surface inside some photo, mean GSD in cm/px or None).

    The GSD of a photo is the slant-range GSD where its optical axis meets the surface
    (else the finest at the centroids of its footprint pieces); the mean is over the
    photos that see the target at all. Photos facing away,
    farther than ``max_range_m`` or more than ``max_incidence_deg`` off a facet's normal
    do not count for that facet.
    """
    surface = target_surface(target, frame)
    total = surface.perimeter_m * (surface.z_max - surface.z_min)
    if not photos or total <= 0:
        return 0.0, None
    fp = footprints(
        surface, camera, photos, max_incidence_deg=max_incidence_deg, max_range_m=max_range_m
    )
    if len(fp.photo) == 0:
        return 0.0, None
    polys = _row_unions(_photo_outlines(fp, surface))
    rect = shapely.box(0.0, surface.z_min, surface.perimeter_m, surface.z_max)
    covered = shapely.intersection(shapely.union_all(polys), rect).area
    order = np.lexsort((fp.gsd_cm, ~fp.on_axis, fp.photo))  # on the axis first, else the finest
    _, first = np.unique(fp.photo[order], return_index=True)
    gsd = float(np.mean(fp.gsd_cm[order][first]))
    return min(1.0, float(covered / total)), gsd
