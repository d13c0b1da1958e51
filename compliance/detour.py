"""Detour transit legs around prohibited zones along the shortest path round their outlines.

The obstacles are the active PROHIBITED volumes whose band the leg's altitudes reach,
grown by the rule set's margin plus :data:`compliance.remedy.DETOUR_CLEARANCE_M`. The
shortest path between two points outside them runs through their corners, so it is found
on the visibility graph of the grown outlines' vertices (Dijkstra). Legs that take photos
are never detoured (that would change what is captured), nor are legs to or from a point
inside an obstacle, nor any leg when the zone covers the plan's asset.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from compliance.geometry import LocalShape, overlaps_band
from compliance.index import ZoneIndex
from compliance.legs import Route, Window
from compliance.rules import RuleSet
from mission import items as it
from mission.items import MissionItem
from mission.plan import FenceCircle, FencePolygon, Geofence, Plan

#: Circles are drawn with this many segments per quarter when they become obstacles.
_QUAD_SEGS = 8


def shortest_path(
    start: tuple[float, float], end: tuple[float, float], obstacles: Any
) -> list[tuple[float, float]] | None:
    """Corner points of the shortest path from ``start`` to ``end`` around ``obstacles``.

    ``obstacles`` is a shapely (Multi)Polygon; the path may run along its outline but not
    through it. Returns the points between the two ends ([] when the straight line is
    clear), or None when an end is inside an obstacle or no path exists.

    >>> import shapely
    >>> square = shapely.box(-1, -1, 1, 1)
    >>> shortest_path((-3, 0), (3, 0), square)
    [(-1.0, -1.0), (1.0, -1.0)]
    """
    import shapely

    inner = obstacles.buffer(-1e-6 * max(1.0, _size(obstacles)))
    if shapely.intersects(shapely.points([start, end]), inner).any():
        return None
    if not shapely.LineString([start, end]).intersects(inner):
        return []
    corners = [
        tuple(c)
        for part in shapely.get_parts(obstacles)
        for c in np.asarray(part.exterior.coords)[:-1]
    ]
    nodes = np.asarray([start, end, *corners], float)
    n = len(nodes)
    i, j = np.triu_indices(n, 1)
    lines = shapely.linestrings(np.stack([nodes[i], nodes[j]], axis=1))
    clear = ~shapely.intersects(lines, inner)
    weight = np.full((n, n), np.inf)
    lengths = np.hypot(*(nodes[i] - nodes[j]).T)
    weight[i[clear], j[clear]] = lengths[clear]
    weight[j[clear], i[clear]] = lengths[clear]
    best = np.full(n, np.inf)
    previous = np.full(n, -1)
    best[0] = 0.0
    queue = [(0.0, 0)]
    while queue:
        cost, node = heapq.heappop(queue)
        if node == 1:
            break
        if cost > best[node]:
            continue
        for other in np.flatnonzero(np.isfinite(weight[node])):
            total = cost + weight[node, other]
            if total < best[other]:
                best[other], previous[other] = total, node
                heapq.heappush(queue, (float(total), int(other)))
    if not np.isfinite(best[1]):
        return None
    path, node = [], int(previous[1])
    while node > 0:
        path.append((float(nodes[node, 0]), float(nodes[node, 1])))
        node = int(previous[node])
    return path[::-1]


def _size(geom: Any) -> float:
    minx, miny, maxx, maxy = geom.bounds
    return float(max(maxx - minx, maxy - miny))


def detour(
    plan: Plan, index: ZoneIndex, rules: RuleSet, window: Window, remedies: list[Any]
) -> Plan:
    """The plan with its transit legs and RTL returns routed around prohibited zones."""
    import shapely

    from compliance.remedy import DETOUR_CLEARANCE_M, Remedy
    from compliance.schedule import active_intervals
    from mission.analysis import analyse

    analysis = analyse(plan)
    route = Route.of(plan, analysis)
    clearance = max(rules.zone_margin_m, 0.0) + DETOUR_CLEARANCE_M
    _rows, volumes = index.query(route.boxes(clearance + 1000.0))
    zones: list[tuple[str, LocalShape, tuple[float, float]]] = []
    for number in sorted(set(volumes.tolist())):
        ref = index.volumes[number]
        zone = index.zones[ref.zone]
        if zone.restriction != "PROHIBITED" or not active_intervals(zone, *window):
            continue
        zones.append(
            (
                zone.identifier,
                LocalShape.of(ref.volume, route.frame),
                ref.volume.band_amsl_m(route.home_amsl_m),
            )
        )
    if not zones:
        return plan
    asset = _asset(plan, route)
    sorties = [list(s) for s in plan.sorties]
    inserts: list[dict[int, list[MissionItem]]] = [{} for _ in sorties]
    used: list[LocalShape] = []
    added: list[tuple[float, float]] = []
    for k, leg in enumerate(analysis.legs):
        low = min(leg.start[2], leg.end[2]) + route.home_amsl_m
        high = max(leg.start[2], leg.end[2]) + route.home_amsl_m
        hit = [
            (zone_id, shape)
            for zone_id, shape, band in zones
            if overlaps_band(low, high, band)
            and float(shape.distance(route.a[k : k + 1], route.b[k : k + 1])[0])
            < max(rules.zone_margin_m, 0.0) + 1e-9
        ]
        if not hit:
            continue
        names = ", ".join(sorted({zone_id for zone_id, _ in hit}))
        why = _refuse(leg, hit, asset)
        if why is None:
            grown = shapely.union_all([_polygon(shape.grown(clearance)) for _, shape in hit])
            path = shortest_path(tuple(route.a[k, :2]), tuple(route.b[k, :2]), grown)
            why = "an end of the leg is inside the zone's clearance" if path is None else None
        if why is not None or path is None:
            remedies.append(
                Remedy(
                    "airspace.prohibited",
                    f"sortie {leg.sortie + 1} item {leg.seq}: not detoured around {names}: {why}",
                    False,
                    names,
                    leg.sortie + 1,
                )
            )
            continue
        z0 = leg.start[2] if leg.kind == "waypoint" else max(leg.start[2], leg.end[2])
        z1 = leg.end[2] if leg.kind == "waypoint" else z0
        points = np.asarray([route.a[k, :2], *path, route.b[k, :2]], float)
        along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))])
        waypoints = []
        for point, s in zip(points[1:-1], along[1:-1], strict=True):
            lon, lat = route.frame.point_to_wgs84(float(point[0]), float(point[1]))
            alt = z0 + (z1 - z0) * s / along[-1]
            waypoints.append(it.waypoint(round(lat, 8), round(lon, 8), round(float(alt), 3)))
            added.append((float(point[0]), float(point[1])))
        inserts[leg.sortie].setdefault(leg.seq, []).extend(waypoints)
        used += [shape for _, shape in hit]
        remedies.append(
            Remedy(
                "airspace.prohibited",
                f"sortie {leg.sortie + 1} item {leg.seq} ({leg.kind}): detoured around {names} "
                f"by {len(waypoints)} waypoints, {along[-1] - np.hypot(*(points[-1] - points[0])):.0f} m longer",
                True,
                names,
                leg.sortie + 1,
            )
        )
    if not added:
        return plan
    rebuilt = tuple(
        tuple(
            item
            for seq, original in enumerate(items, start=1)
            for item in (*inserts[s].get(seq, []), original)
        )
        for s, items in enumerate(sorties)
    )
    fence = exclusion_fence(plan, _unique(used), route, np.asarray(added))
    return replace(plan, sorties=rebuilt, geofence=fence)


def _refuse(leg: Any, hit: Sequence[tuple[str, LocalShape]], asset: Any) -> str | None:
    """Why a leg may not be detoured, or None."""
    if leg.kind not in ("waypoint", "rtl"):
        return f"its {leg.kind} leg cannot be moved"
    if leg.trigger_m > 0:
        return "the camera is on along it (a detour would change what is captured)"
    if leg.kind == "rtl" and abs(leg.start[2] - leg.end[2]) > 1e-6:
        return "the climb or descent of RTL is vertical"
    if asset is not None and any(asset.intersects(_polygon(shape)) for _, shape in hit):
        return "the asset itself is inside the zone"
    return None


def _asset(plan: Plan, route: Route) -> Any:
    """The plan's target outline in the local frame, or None."""
    if plan.target is None:
        return None
    from shapely.geometry import shape

    geom = route.frame.geom_to_local(shape(plan.target.geometry))
    if plan.target.radius_m:
        geom = geom.buffer(plan.target.radius_m)
    return geom


def _polygon(shape: LocalShape) -> Any:
    if shape.center is None:
        return shape.polygon
    import shapely

    # The polygon's edges are chords: push the corners out so the chords stay outside the circle.
    reach = shape.radius_m / np.cos(np.pi / (4 * _QUAD_SEGS))
    return shapely.Point(shape.center).buffer(reach, quad_segs=_QUAD_SEGS)


def _unique(shapes: Sequence[LocalShape]) -> list[LocalShape]:
    out: list[LocalShape] = []
    for shape in shapes:
        if not any(shape is other for other in out):
            out.append(shape)
    return out


def exclusion_fence(
    plan: Plan, shapes: Sequence[LocalShape], route: Route, extra_points: np.ndarray
) -> Geofence:
    """The plan's fence with ``shapes`` as exclusions and its inclusion grown to hold ``extra_points``."""
    import shapely

    from mission.route import FENCE_MARGIN_M

    frame = route.frame

    def vertices(ring: Any) -> tuple[tuple[float, float], ...]:
        lon, lat = frame.to_wgs84(*np.asarray(ring.coords)[:-1].T)
        return tuple(
            (round(float(a), 8), round(float(b), 8)) for a, b in zip(lon, lat, strict=True)
        )

    polygons = []
    around = shapely.MultiPoint(extra_points[:, :2]).convex_hull.buffer(FENCE_MARGIN_M, quad_segs=2)
    for polygon in plan.geofence.polygons:
        if polygon.inclusion:
            local = frame.geom_to_local(shapely.Polygon(polygon.vertices))
            polygon = FencePolygon(
                vertices(shapely.union_all([local, around]).convex_hull.exterior)
            )
        polygons.append(polygon)
    circles = list(plan.geofence.circles)
    for shape in shapes:
        if shape.center is not None:
            lon, lat = frame.point_to_wgs84(*shape.center)
            circles.append(
                FenceCircle(round(lon, 8), round(lat, 8), round(shape.radius_m, 2), inclusion=False)
            )
        else:
            polygons.append(FencePolygon(vertices(shape.polygon.exterior), inclusion=False))
    return Geofence(tuple(polygons), tuple(circles))
