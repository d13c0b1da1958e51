"""Survey of an area: parallel lanes (lawnmower) with a nadir camera.

Lanes are placed so each one is responsible for a strip one lane-spacing wide; the
camera runs over the part of the strip that touches the area, so concave outlines
and holes are covered without photographing what is not there. The lane angle is
given, or chosen among the directions of the area's outline to minimise the flight.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry.base import BaseGeometry

from mission.assets import asset_shape
from mission.camera import Camera, check_overlap
from mission.errors import MissionError
from mission.geodesy import LocalFrame
from mission.plan import Capture, Home, Plan, Target, Vehicle
from mission.route import Flight, Pass, build_plan, capture_span, check_height, path_time_s

#: Gaps in a lane shorter than this many footprints are flown with the camera on.
BRIDGE_GAP_FOOTPRINTS = 0.5
#: Lane angles missing up to this fraction of the area more than the best one are still tried for length.
ANGLE_MISS_TOLERANCE = 0.001
#: How many times a stretch that cannot reach a narrow tip is followed by one aimed at it.
MAX_TIP_STRETCHES = 3
#: Sideways positions tried for a lane that cannot reach into a narrow corner.
NUDGES = 9


@dataclass(frozen=True)
class NadirSetup:
    """Altitude, camera use and speed of a survey or corridor with the camera pointing down."""

    altitude_m: float
    capture: Capture
    footprint_across_m: float
    footprint_along_m: float
    speed_ms: float


def nadir_setup(
    camera: Camera,
    *,
    gsd_cm: float | None,
    altitude_m: float | None,
    front_overlap: float,
    side_overlap: float,
    ceiling_m: float,
    vehicle: Vehicle,
    hover: bool,
) -> NadirSetup:
    """Resolve GSD or altitude, the overlaps and the speed for a downward camera."""
    check_overlap(front_overlap, "front overlap")
    check_overlap(side_overlap, "side overlap")
    if (gsd_cm is None) == (altitude_m is None):
        raise MissionError("give exactly one of GSD (cm/px) or altitude (m)")
    if gsd_cm is not None:
        altitude = camera.distance_for_gsd(gsd_cm)
        if altitude > ceiling_m:
            raise MissionError(
                f"GSD {gsd_cm:g} cm/px with camera {camera.name} needs {altitude:.1f} m above ground, "
                f"over the ceiling {ceiling_m:g} m: ask for at most "
                f"{camera.gsd_cm(ceiling_m):.2f} cm/px or a longer lens"
            )
    else:
        assert altitude_m is not None
        altitude = altitude_m
    check_height(altitude, ceiling_m, "altitude")
    across, along = camera.footprint_m(altitude)
    trigger = along * (1.0 - front_overlap)
    spacing = across * (1.0 - side_overlap)
    speed = (
        vehicle.cruise_speed_ms
        if hover
        else min(vehicle.cruise_speed_ms, camera.max_speed_ms(trigger))
    )
    capture = Capture(
        distance_m=altitude,
        front_overlap=front_overlap,
        side_overlap=side_overlap,
        gsd_cm=camera.gsd_cm(altitude),
        trigger_distance_m=trigger,
        line_spacing_m=spacing,
        gimbal_pitch_deg=-90.0,
        hover=hover,
    )
    return NadirSetup(altitude, capture, across, along, speed)


def _lane_axes(bearing_deg: float) -> list[float]:
    """Affine matrix to (s along lanes on ``bearing_deg``, t across) in shapely's order.

    s = x·sin b + y·cos b and t = x·cos b − y·sin b: a reflection, so the same matrix
    also maps (s, t) back to (x, y).
    """
    b = math.radians(bearing_deg)
    sb, cb = math.sin(b), math.cos(b)
    return [sb, cb, cb, -sb, 0.0, 0.0]


def _centre_inside(
    poly_st: BaseGeometry, ts: np.ndarray, minx: float, maxx: float
) -> list[list[tuple[float, float]]]:
    """For each t, the s-ranges where the line at that t is inside the area (boundary included)."""
    lines = shapely.linestrings([[(minx - 1.0, t), (maxx + 1.0, t)] for t in ts])
    return [
        [(g.bounds[0], g.bounds[2]) for g in shapely.get_parts(c) if g.length > 0]
        for c in shapely.intersection(lines, poly_st)
    ]


def _nudges(
    t: float, half_across: float, parts: list[BaseGeometry], lo: float, hi: float
) -> Iterator[float]:
    """Sideways positions to try for the line flown over one stretch of a strip.

    The photos, ``2·half_across`` wide, must still span the stretch's own t-extent, which
    bounds the line's position. Tried in order: the strip's centre, evenly spread
    positions, then through the stretch's farthest vertices at either end: a line
    through them reaches as far into a sharp tip as any line can.
    """
    t0 = min(g.bounds[1] for g in parts)
    t1 = max(g.bounds[3] for g in parts)
    low, high = t1 - half_across, t0 + half_across
    if low <= t <= high:
        yield t
    yield from np.linspace(low, high, NUDGES)
    coords = np.concatenate([shapely.get_coordinates(g) for g in parts])
    coords = coords[(coords[:, 0] >= lo - 1e-6) & (coords[:, 0] <= hi + 1e-6)]
    for vertex in (coords[np.argmin(coords[:, 0])], coords[np.argmax(coords[:, 0])]):
        yield float(np.clip(vertex[1], low, high))


def _lane_intervals(
    poly_st: BaseGeometry, spacing: float, across: float, along: float, trigger: float
) -> tuple[list[list[tuple[float, float, float]]], float]:
    """The stretches to fly, lane by lane, each ``(t, start, stop)`` of the camera, and the area missed.

    Each lane is responsible for a strip ``spacing`` wide; one stretch of it touches the
    area from s = lo to hi. The line flown sits where its photos still span the stretch
    across, and is moved off the strip's centre when that lets its photos, with waypoints
    kept inside the area (between s = a and b), reach further into a narrow corner. What
    no position reaches becomes a stretch of its own; what is still out of reach is
    counted as missed (m²: uncovered length times strip width), so lane angles can be
    compared.
    """
    minx, miny, maxx, maxy = poly_st.bounds
    extent = maxy - miny
    n = max(1, math.ceil(extent / spacing - 1e-9))
    first = miny + (extent - (n - 1) * spacing) / 2.0
    ts = first + spacing * np.arange(n)
    strips = shapely.box(minx - 1.0, ts - spacing / 2.0, maxx + 1.0, ts + spacing / 2.0)
    pieces = shapely.intersection(strips, poly_st)

    def inside(t: float) -> list[tuple[float, float]]:
        line = shapely.intersection(shapely.LineString([(minx - 1.0, t), (maxx + 1.0, t)]), poly_st)
        return [(g.bounds[0], g.bounds[2]) for g in shapely.get_parts(line) if g.length > 0]

    lanes = []
    missed_m2 = 0.0
    for t, piece in zip(ts, pieces, strict=True):
        groups: list[list[BaseGeometry]] = []
        for g in sorted(
            (g for g in shapely.get_parts(piece) if g.area > 1e-6), key=lambda g: g.bounds[0]
        ):
            if (
                groups
                and g.bounds[0] - max(h.bounds[2] for h in groups[-1])
                <= BRIDGE_GAP_FOOTPRINTS * along
            ):
                groups[-1].append(g)
            else:
                groups.append([g])
        lane: list[tuple[float, float, float]] = []
        work = [(parts, 0) for parts in groups]
        while work:
            parts, depth = work.pop()
            lo, hi = min(g.bounds[0] for g in parts), max(g.bounds[2] for g in parts)
            best: tuple[float, float, float, float, float, float] | None = None
            for t_line in _nudges(float(t), across / 2.0, parts, lo, hi):
                # each stretch of the line inside the area (a concave outline can cut it in
                # several) is a place the camera may start and stop
                for a_in, b_in in inside(t_line):
                    a, b = max(lo, a_in), min(hi, b_in)
                    if b < a:
                        continue
                    start, stop = capture_span(lo, hi, a, b, trigger, along)
                    seen_lo = start - along / 2.0
                    last = start + math.floor((stop - start) / trigger + 1e-9) * trigger
                    seen_hi = last + along / 2.0
                    missed = max(seen_lo - lo, 0.0) + max(hi - seen_hi, 0.0)
                    if best is None or missed < best[0] - 1e-6:
                        best = (missed, float(t_line), start, stop, seen_lo, seen_hi)
                if best is not None and best[0] <= 1e-6:
                    break
            if best is None:  # no line inside the area reaches this sliver
                missed_m2 += sum(g.area for g in parts)
                continue
            missed, t_line, start, stop, seen_lo, seen_hi = best
            lane.append((t_line, start, stop))
            if missed <= 1e-6:
                continue
            if depth >= MAX_TIP_STRETCHES:
                missed_m2 += missed * spacing
                continue
            # What this line cannot reach (a narrow tip) becomes a stretch of its own.
            for s0, s1 in ((seen_hi, hi + 1.0), (lo - 1.0, seen_lo)):
                if s1 > s0:
                    cut = shapely.box(s0, miny - 1.0, s1, maxy + 1.0)
                    rest = [
                        g
                        for g in shapely.get_parts(
                            shapely.intersection(shapely.union_all(parts), cut)
                        )
                        if g.area > 1e-6
                    ]
                    if rest:
                        work.append((rest, depth + 1))
        lane.sort(key=lambda stretch: stretch[1])
        if lane:
            lanes.append(lane)
    return lanes, missed_m2


def lanes_for_angle(
    poly: BaseGeometry,
    bearing_deg: float,
    setup: NadirSetup,
    turnaround_m: float,
) -> tuple[list[list[Pass]], float]:
    """Lanes (each a list of passes, one per stretch of area it crosses), and the area missed."""
    axes = _lane_axes(bearing_deg)
    poly_st = affinity.affine_transform(poly, axes)
    cap = setup.capture
    along = setup.footprint_along_m
    lanes: list[list[Pass]] = []
    intervals, missed_m2 = _lane_intervals(
        poly_st, cap.line_spacing_m, setup.footprint_across_m, along, cap.trigger_distance_m
    )
    for i, stretches in enumerate(intervals):
        if i % 2:  # boustrophedon: every other lane flies back
            stretches = [(t, b, a) for t, a, b in reversed(stretches)]
        lane = []
        for k, (t, a, b) in enumerate(stretches):
            direction = 1.0 if b >= a else -1.0
            # straight on from the stretch before, or turn in (at a lane's end, or onto a
            # stretch moved sideways to reach a tip) so the first photo faces along the lane
            turn_in = k == 0 or stretches[k - 1][0] != t
            turn_out = k == len(stretches) - 1 or stretches[k + 1][0] != t
            lead_in = (a - direction * turnaround_m, t) if turn_in and turnaround_m > 0 else None
            lead_out = (b + direction * turnaround_m, t) if turn_out and turnaround_m > 0 else None
            pts = [(a, t), (b, t)] if abs(b - a) > 1e-6 else [(a, t)]
            lane.append(_to_pass(pts, lead_in, lead_out, axes, setup.altitude_m))
        lanes.append(lane)
    return lanes, missed_m2


def _to_pass(
    pts: Sequence[tuple[float, float]],
    lead_in: tuple[float, float] | None,
    lead_out: tuple[float, float] | None,
    axes: list[float],
    alt: float,
) -> Pass:
    a, b, d, e, _, _ = axes

    def xy(p: tuple[float, float]) -> tuple[float, float, float]:
        s, t = p
        return (a * s + b * t, d * s + e * t, alt)

    return Pass(
        points=tuple(xy(p) for p in pts),
        lead_in=xy(lead_in) if lead_in else None,
        lead_out=xy(lead_out) if lead_out else None,
    )


def order_from_home(lanes: list[list[Pass]]) -> list[Pass]:
    """Fly the lanes starting from whichever end of the pattern is nearest home (the origin)."""

    def start(ls: list[list[Pass]]) -> float:
        first = ls[0][0].all_points()[0]
        return math.hypot(first[0], first[1])

    def reverse_lane(lane: list[Pass]) -> list[Pass]:
        return [
            Pass(points=tuple(reversed(p.points)), lead_in=p.lead_out, lead_out=p.lead_in)
            for p in reversed(lane)
        ]

    options = [
        lanes,
        list(reversed(lanes)),
        [reverse_lane(lane) for lane in lanes],
        [reverse_lane(lane) for lane in reversed(lanes)],
    ]
    best = min(options, key=start)
    return [p for lane in best for p in lane]


def route_time_s(passes: Sequence[Pass], speed_ms: float, vehicle: Vehicle) -> float:
    """Seconds to fly home → every pass in order → home, slowing for every turn."""
    pts = [(0.0, 0.0, 0.0)] + [p for ps in passes for p in ps.all_points()] + [(0.0, 0.0, 0.0)]
    return path_time_s(pts, speed_ms, vehicle)


def candidate_angles(poly: BaseGeometry) -> list[float]:
    """Lane bearings worth trying: along each edge of the convex hull, and north/east."""
    hull = np.asarray(poly.convex_hull.exterior.coords)
    d = np.diff(hull, axis=0)
    length = np.hypot(d[:, 0], d[:, 1])
    bearings = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 180.0
    order = np.argsort(-length)[:24]
    picked = {round(float(b), 1) % 180.0 for b in bearings[order]} | {0.0, 90.0}
    return sorted(picked)


def plan_survey(
    area: dict[str, Any],
    camera: Camera,
    *,
    gsd_cm: float | None = None,
    altitude_m: float | None = None,
    front_overlap: float = 0.75,
    side_overlap: float = 0.65,
    angle_deg: float | None = None,
    turnaround_m: float = 10.0,
    crosshatch: bool = False,
    home: Home | None = None,
    vehicle: Vehicle | None = None,
    hover: bool = False,
    ceiling_m: float = 120.0,
    name: str = "",
) -> Plan:
    """Plan a survey of a Polygon (lon/lat GeoJSON geometry; holes and concave outlines allowed).

    ``angle_deg`` is the bearing of the lanes (0: lanes run north-south, 90: east-west);
    when omitted the bearing giving the shortest flight is chosen (in time, so that
    the stop at each turn counts as well as the distance). ``turnaround_m`` is
    flown straight before and after each lane with the camera off, so the vehicle faces
    along the lane when it takes the lane's first photo; with 0 that photo is taken still
    facing the way the vehicle came, and the coverage figure shows it.
    """
    vehicle = vehicle or Vehicle()
    geom = asset_shape(area, "survey area", ("Polygon",))
    if not math.isfinite(turnaround_m) or turnaround_m < 0:
        raise MissionError(f"turnaround {turnaround_m} m must be ≥ 0")
    if angle_deg is not None and not math.isfinite(angle_deg):
        raise MissionError(
            f"lane angle {angle_deg} is not a number (degrees, 0 = north-south lanes)"
        )
    setup = nadir_setup(
        camera,
        gsd_cm=gsd_cm,
        altitude_m=altitude_m,
        front_overlap=front_overlap,
        side_overlap=side_overlap,
        ceiling_m=ceiling_m,
        vehicle=vehicle,
        hover=hover,
    )
    if home is None:
        first = shapely.get_coordinates(geom)[0]
        home = Home(lat_deg=float(first[1]), lon_deg=float(first[0]))
    frame = LocalFrame(home.lon_deg, home.lat_deg)
    poly = frame.geom_to_local(geom)

    def passes_for(bearing: float) -> tuple[list[Pass], float]:
        lanes, missed_m2 = lanes_for_angle(poly, bearing, setup, turnaround_m)
        return order_from_home(lanes), missed_m2

    if angle_deg is None:
        # The quickest flight among the angles that miss least (sharp corners can defeat some).
        tried = {b: passes_for(b) for b in candidate_angles(poly)}
        least = min(missed for _, missed in tried.values()) + ANGLE_MISS_TOLERANCE * poly.area
        angle_deg, (passes, _) = min(
            ((b, r) for b, r in tried.items() if r[1] <= least),
            key=lambda br: route_time_s(br[1][0], setup.speed_ms, vehicle),
        )
    else:
        passes, _ = passes_for(angle_deg)
    if crosshatch:
        passes += passes_for((angle_deg + 90.0) % 180.0)[0]
    return build_plan(
        frame=frame,
        home=home,
        passes=passes,
        flight=Flight(setup.speed_ms, setup.capture),
        vehicle=vehicle,
        camera=camera,
        target=Target(kind="area", geometry=area),
        pattern="survey",
        name=name,
        settings={
            "angle_deg": round(angle_deg % 180.0, 3),
            "turnaround_m": turnaround_m,
            "crosshatch": crosshatch,
            "altitude_m": setup.altitude_m,
            "speed_ms": setup.speed_ms,
        },
    )
