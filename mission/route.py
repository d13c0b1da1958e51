"""From passes in a local frame to mission items, split into battery-sized sorties.

Every planner describes its flight as :class:`Pass` objects: stretches flown with the
camera working, with optional turnaround points before and after. :func:`build_plan`
turns them into ArduPilot mission items (take-off, speed, gimbal, camera triggering,
RTL), estimates each pass's time and starts a new sortie, returning home in between,
whenever the next pass would not fit in the vehicle's endurance or item limit; each
packed sortie is then timed with the paper flight of :mod:`mission.analysis` and gives
back passes until it truly fits.

ArduPilot starts the DO commands that follow a NAV command once that NAV command is
complete, so ``WAYPOINT(a), DO_SET_CAM_TRIGG_DIST(d), WAYPOINT(b)`` triggers from a to b.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import shapely
from shapely.geometry import MultiPoint

from mission import items as it
from mission.camera import Camera
from mission.errors import MissionError
from mission.geodesy import LocalFrame
from mission.plan import (
    Capture,
    FencePolygon,
    Geofence,
    Home,
    Pattern,
    Plan,
    Target,
    Vehicle,
)

Point3 = tuple[float, float, float]  # x_m east, y_m north, alt_rel_m above home

#: Margin of the inclusion geofence around everything the plan flies over, metres.
FENCE_MARGIN_M = 30.0


@dataclass(frozen=True)
class Pass:
    """A stretch flown with the camera on, in the local frame (x east, y north, alt above home).

    ``lead_in`` and ``lead_out`` are turnaround points flown with the camera off, so the
    vehicle is straight and at speed when the first photo is taken. ``heading_deg`` holds a
    fixed heading along the pass (facades); ``roi`` points the camera at a place (structures).
    """

    points: tuple[Point3, ...]
    lead_in: Point3 | None = None
    lead_out: Point3 | None = None
    heading_deg: float | None = None
    roi: Point3 | None = None

    def __post_init__(self) -> None:
        if len(self.points) < 1:
            raise MissionError("a pass needs at least one point")

    def all_points(self) -> list[Point3]:
        pts = list(self.points)
        if self.lead_in is not None:
            pts.insert(0, self.lead_in)
        if self.lead_out is not None:
            pts.append(self.lead_out)
        return pts

    def length_m(self) -> float:
        pts = np.asarray(self.all_points(), float)
        return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum()) if len(pts) > 1 else 0.0


@dataclass(frozen=True)
class Flight:
    """Speeds and camera use shared by all passes of a plan."""

    speed_ms: float
    capture: Capture
    hover_hold_s: float = 1.0
    #: Height above home that clears everything near the passes (a tower, a building). When
    #: set, each sortie takes off to it, crosses to its first pass above it and climbs back
    #: to it before RTL, which flies home straight at the height it starts from.
    clearance_alt_m: float | None = None


def leg_time_s(a: Point3, b: Point3, speed_ms: float, vehicle: Vehicle) -> float:
    """Seconds to fly a straight leg, the slower of the horizontal and vertical parts."""
    horizontal = math.hypot(b[0] - a[0], b[1] - a[1])
    dz = b[2] - a[2]
    vz = vehicle.climb_speed_ms if dz > 0 else vehicle.descent_speed_ms
    return max(horizontal / speed_ms, abs(dz) / vz)


def corner_time_s(
    prev: Point3, here: Point3, nxt: Point3, speed_ms: float, vehicle: Vehicle
) -> float:
    """Extra seconds to slow down for a corner: a full stop and restart (v/a) for a U-turn."""
    u = np.subtract(here, prev)
    v = np.subtract(nxt, here)
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu < 1e-6 or nv < 1e-6:
        return 0.0
    cos_turn = float(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))
    return (1.0 - cos_turn) / 2.0 * speed_ms / vehicle.accel_ms2


def path_time_s(points: Sequence[Point3], speed_ms: float, vehicle: Vehicle) -> float:
    """Seconds to fly through ``points``, stopping at the ends and slowing for corners."""
    if len(points) < 2:
        return 0.0
    total = sum(leg_time_s(a, b, speed_ms, vehicle) for a, b in itertools.pairwise(points))
    total += sum(
        corner_time_s(a, b, c, speed_ms, vehicle)
        for a, b, c in zip(points, points[1:], points[2:], strict=False)
    )
    return total + speed_ms / vehicle.accel_ms2  # accelerate at the start, stop at the end


def takeoff_time_s(alt_rel_m: float, vehicle: Vehicle) -> float:
    return max(alt_rel_m, 0.0) / vehicle.climb_speed_ms


def return_time_s(start: Point3, vehicle: Vehicle) -> float:
    """RTL from ``start``: climb to RTL_ALT if lower, fly home, descend, land at LAND_SPEED."""
    alt = max(start[2], vehicle.rtl_alt_m)
    climb = (alt - start[2]) / vehicle.climb_speed_ms
    horizontal = math.hypot(start[0], start[1]) / vehicle.cruise_speed_ms
    slow = min(alt, 10.0)
    descent = (alt - slow) / vehicle.descent_speed_ms + slow / vehicle.land_speed_ms
    return climb + horizontal + descent


def trigger_fractions(
    a: Point3, b: Point3, last: Point3, trigger_m: float, limit: int = 1_000_000
) -> list[float]:
    """Where on the leg a→b (as fractions) a distance trigger fires, the last photo being at ``last``.

    ArduPilot fires when the horizontal distance from the last photo reaches the trigger
    distance, so after a bend the next photo comes where the leg leaves a circle of that
    radius around the last one, and then every trigger distance along the leg. At most
    ``limit`` fractions are returned.
    """
    ab = np.subtract(b[:2], a[:2])
    length = float(np.hypot(*ab))
    if length < 1e-9 or trigger_m <= 0:
        return []
    u = ab / length
    w = np.subtract(a[:2], last[:2])
    bq = float(np.dot(w, u))
    disc = bq * bq - (float(np.dot(w, w)) - trigger_m * trigger_m)
    if disc < 0:
        return []
    first = max(-bq + math.sqrt(disc), 0.0)
    if first > length + 1e-9:
        return []
    count = min(math.floor((length - first) / trigger_m + 1e-9) + 1, max(limit, 0))
    at = first + trigger_m * np.arange(count)
    return [float(x) / length for x in at]


def _split_pass(p: Pass, fraction: float) -> tuple[Pass, Pass]:
    """Cut a pass's camera stretch at ``fraction`` of its length (0 < fraction < 1)."""
    pts = np.asarray(p.points, float)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    at = fraction * cum[-1]
    i = int(np.searchsorted(cum, at, side="right") - 1)
    i = min(max(i, 0), len(seg) - 1)
    t = (at - cum[i]) / seg[i] if seg[i] > 0 else 0.0
    cut = tuple(float(c) for c in pts[i] + t * (pts[i + 1] - pts[i]))
    first = (*tuple(map(tuple, pts[: i + 1])), cut)
    second = (cut, *map(tuple, pts[i + 1 :]))
    return (
        replace(p, points=first, lead_out=None),
        replace(p, points=second, lead_in=None),
    )


class _SortieBuilder:
    """Items and time of one sortie being filled."""

    def __init__(self, frame: LocalFrame, flight: Flight, vehicle: Vehicle, takeoff_alt: float):
        self.frame = frame
        self.flight = flight
        self.vehicle = vehicle
        self.clearance = flight.clearance_alt_m
        if self.clearance is not None:
            takeoff_alt = max(takeoff_alt, self.clearance)
        self.items: list[it.MissionItem] = [
            it.takeoff(takeoff_alt),
            it.change_speed(flight.speed_ms),
            it.gimbal_pitch(flight.capture.gimbal_pitch_deg),
        ]
        self.position: Point3 = (0.0, 0.0, takeoff_alt)
        self.time_s = takeoff_time_s(takeoff_alt, vehicle)
        self.roi: Point3 | None = None
        self.passes = 0

    def _wp(self, p: Point3, hold_s: float = 0.0) -> it.MissionItem:
        lon, lat = self.frame.point_to_wgs84(p[0], p[1])
        return it.waypoint(lat, lon, round(p[2], 2), hold_s)

    def pass_items(self, p: Pass) -> tuple[list[it.MissionItem], float, Point3]:
        """Items for ``p`` flown from the current position, their time and the end position."""
        out: list[it.MissionItem] = []
        if p.roi != self.roi:
            if p.roi is None:  # the mount returns to its default mode: set the pitch again
                out += [it.roi_none(), it.gimbal_pitch(self.flight.capture.gimbal_pitch_deg)]
            else:
                lon, lat = self.frame.point_to_wgs84(p.roi[0], p.roi[1])
                out.append(it.roi_location(lat, lon, round(p.roi[2], 2)))
        yaw = [it.condition_yaw(p.heading_deg)] if p.heading_deg is not None else []
        path = [self.position, *p.all_points()]
        if self.clearance is not None and self.passes == 0:  # cross over, then descend onto it
            x, y, z = path[1]
            path.insert(1, (x, y, max(z, self.clearance)))
            out += [self._wp(path[1]), *yaw]
        if p.lead_in is not None:
            out += [self._wp(p.lead_in), *yaw]
        capture = self.flight.capture
        if capture.hover:
            stops = _resample(p.points, capture.trigger_distance_m)
            for s in stops:
                out += [self._wp(s, self.flight.hover_hold_s), *yaw, it.capture_one()]
            hover_time = len(stops) * (
                self.flight.hover_hold_s + self.flight.speed_ms / self.vehicle.accel_ms2
            )
        else:
            out += [self._wp(p.points[0]), *yaw, it.trigger_distance(capture.trigger_distance_m)]
            for q in p.points[1:]:
                out += [self._wp(q), *yaw]
            out.append(it.trigger_distance(0.0))
            hover_time = 0.0
        if p.lead_out is not None:
            out += [self._wp(p.lead_out), *yaw]
        seconds = path_time_s(path, self.flight.speed_ms, self.vehicle) + hover_time
        return out, seconds, path[-1]

    def fits(self, extra_items: int, extra_s: float, end: Point3) -> bool:
        items = len(self.items) + extra_items + 3 + 1  # climb, ROI_NONE, RTL; home as item 0
        seconds = self.time_s + extra_s + return_time_s(self._climbed(end), self.vehicle)
        seconds += (self._climbed(end)[2] - end[2]) / self.vehicle.climb_speed_ms
        return items <= self.vehicle.max_items and seconds <= self.vehicle.endurance_s

    def add(self, p: Pass, out: list[it.MissionItem], seconds: float, end: Point3) -> None:
        self.items += out
        self.time_s += seconds
        self.position = end
        self.roi = p.roi
        self.passes += 1

    def _climbed(self, at: Point3) -> Point3:
        """Where the sortie's way home starts: above ``at`` at the clearance height, if any."""
        return at if self.clearance is None else (at[0], at[1], max(at[2], self.clearance))

    def finish(self) -> tuple[it.MissionItem, ...]:
        top = self._climbed(self.position)
        climb = [self._wp(top)] if top != self.position else []
        tail = [it.roi_none()] if self.roi is not None else []
        return (*self.items, *climb, *tail, it.return_to_launch())


def _resample(points: Sequence[Point3], spacing_m: float) -> list[Point3]:
    """Points every ``spacing_m`` along a polyline, the first at its start."""
    pts = np.asarray(points, float)
    if len(pts) == 1:
        return [points[0]]
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    n = math.floor(cum[-1] / spacing_m + 1e-9)
    at = np.arange(n + 1) * spacing_m
    cols = [np.interp(at, cum, pts[:, k]) for k in range(3)]
    return [(float(x), float(y), float(z)) for x, y, z in zip(*cols, strict=True)]


def build_plan(
    *,
    frame: LocalFrame,
    home: Home,
    passes: Sequence[Pass],
    flight: Flight,
    vehicle: Vehicle,
    camera: Camera,
    target: Target,
    pattern: Pattern,
    name: str = "",
    settings: dict[str, object] | None = None,
) -> Plan:
    """Turn passes into a plan, one sortie per battery, each starting and ending at home.

    ``frame`` must be centred on ``home``: the local origin is where the vehicle takes off.
    """
    if not passes:
        raise MissionError("the target produced no flight lines: is it smaller than one photo?")
    origin = frame.point_to_local(home.lon_deg, home.lat_deg)
    if math.hypot(*origin) > 0.01:
        raise MissionError("internal: the local frame must be centred on home")
    from mission.analysis import sortie_duration_s

    def pack(taken: Sequence[Pass]) -> tuple[it.MissionItem, ...]:
        builder = _SortieBuilder(frame, flight, vehicle, taken[0].all_points()[0][2])
        for p in taken:
            builder.add(p, *builder.pass_items(p))
        return builder.finish()

    def flown_s(items: tuple[it.MissionItem, ...]) -> float:
        return sortie_duration_s(items, home, vehicle)

    queue = list(passes)
    sorties: list[tuple[it.MissionItem, ...]] = []
    while queue:
        # Fill a battery by the quick estimate, then check it on paper and give back passes.
        builder = _SortieBuilder(frame, flight, vehicle, queue[0].all_points()[0][2])
        taken = 0
        for p in queue:
            out, seconds, end = builder.pass_items(p)
            if not builder.fits(len(out), seconds, end):
                break
            builder.add(p, out, seconds, end)
            taken += 1
        items = builder.finish() if taken else ()
        while taken > 1 and flown_s(items) > vehicle.endurance_s:
            taken -= 1
            items = pack(queue[:taken])
        if taken == 0 or flown_s(items) > vehicle.endurance_s:
            # One pass alone is too long for a battery: cut it, or give up if it cannot be cut.
            p = queue[0]
            if len(p.points) < 2 or p.length_m() < 2 * flight.capture.trigger_distance_m:
                x, y, _ = p.all_points()[0]
                raise MissionError(
                    f"the {pattern} part {math.hypot(x, y):.0f} m from home cannot be flown within one "
                    f"sortie (endurance {vehicle.endurance_s:.0f} s, {vehicle.max_items} items): "
                    "plan from a home nearer the target or give a longer endurance"
                )
            queue[:1] = list(_split_pass(p, 0.5))
            continue
        sorties.append(items)
        del queue[:taken]
    return Plan(
        home=home,
        sorties=tuple(sorties),
        pattern=pattern,
        name=name,
        camera=camera,
        capture=flight.capture,
        target=target,
        vehicle=vehicle,
        geofence=_inclusion_fence(frame, passes),
        settings=dict(settings or {}),
    )


def _inclusion_fence(frame: LocalFrame, passes: Sequence[Pass]) -> Geofence:
    """One inclusion polygon: the convex hull of home and every point flown, plus a margin."""
    pts = [(0.0, 0.0)] + [(x, y) for p in passes for (x, y, _z) in p.all_points()]
    hull = MultiPoint(pts).convex_hull.buffer(FENCE_MARGIN_M, quad_segs=2)
    hull = shapely.simplify(hull, 2.0)
    lon, lat = frame.to_wgs84(*np.asarray(hull.exterior.coords[:-1]).T)
    vertices = tuple(
        (round(float(a), 8), round(float(b), 8)) for a, b in zip(lon, lat, strict=True)
    )
    return Geofence(polygons=(FencePolygon(vertices, inclusion=True),))


def capture_span(
    lo: float, hi: float, a: float, b: float, trigger: float, along: float
) -> tuple[float, float]:
    """Camera on/off positions whose photos cover [lo, hi], with waypoints kept within [a, b].

    Photos every ``trigger`` cover half a footprint (``along``) either side: the first
    must be within half a footprint of ``lo`` and the last of ``hi``. The fewest photos
    that do it are centred as far as [a, b] allows; where a sharp corner puts that out of
    reach, the photos go as far into it as the waypoints may. The stop is a little past
    the last trigger point, so a trigger exactly there is not missed.

    >>> capture_span(0.0, 100.0, 0.0, 100.0, 30.0, 40.0)
    (20.0, 80.5)
    """
    eps = min(0.5, 0.05 * trigger)
    b = max(b - eps, a)  # room for the stop just past the last trigger point
    n = max(math.ceil((hi - lo - along) / trigger - 1e-9), 0)
    earliest = max(a, hi - along / 2.0 - n * trigger)
    latest = min(lo + along / 2.0, b - n * trigger)
    if earliest <= latest + 1e-9:
        centred = lo + (hi - lo - n * trigger) / 2.0
        first = min(max(centred, earliest), max(latest, earliest))
    else:
        n = max(
            min(
                math.ceil((hi - along / 2.0 - a) / trigger - 1e-9),
                math.floor((b - a) / trigger + 1e-9),
            ),
            0,
        )
        first = max(a, min(lo + along / 2.0, b - n * trigger))
    return first, first + n * trigger + eps


def check_height(alt_rel_m: float, ceiling_m: float, what: str) -> None:
    """Refuse a flight height above the ceiling or too near the ground."""
    if not math.isfinite(alt_rel_m) or alt_rel_m < MIN_ALT_M:
        raise MissionError(
            f"{what} {alt_rel_m:.1f} m is below the minimum {MIN_ALT_M:.0f} m above home"
        )
    if alt_rel_m > ceiling_m:
        raise MissionError(f"{what} {alt_rel_m:.1f} m is above the ceiling {ceiling_m:.0f} m")


#: Lowest flight height skyledger plans, metres above home.
MIN_ALT_M = 2.0
