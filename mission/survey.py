"""Survey of an area: parallel lanes (lawnmower) with a nadir camera.

Lanes are placed so each one is responsible for a strip one lane-spacing wide; the
camera runs over the part of the strip that touches the area, so concave outlines
and holes are covered without photographing what is not there. The lane angle is
given, or chosen among the directions of the area's outline to minimise the flight.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry.base import BaseGeometry

from mission.camera import Camera, check_overlap
from mission.errors import MissionError
from mission.geodesy import LocalFrame, shape_lonlat
from mission.plan import Capture, Home, Plan, Target, Vehicle
from mission.route import Flight, Pass, build_plan, capture_span, check_height

#: Gaps in a lane shorter than this many footprints are flown with the camera on.
BRIDGE_GAP_FOOTPRINTS = 0.5


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


def _lane_intervals(
    poly_st: BaseGeometry, spacing: float, along: float
) -> list[tuple[float, list[tuple[float, float]]]]:
    """For each lane (its t), the s-intervals of its strip that touch the area."""
    minx, miny, maxx, maxy = poly_st.bounds
    extent = maxy - miny
    n = max(1, math.ceil(extent / spacing - 1e-9))
    first = miny + (extent - (n - 1) * spacing) / 2.0
    ts = first + spacing * np.arange(n)
    strips = shapely.box(minx - 1.0, ts - spacing / 2.0, maxx + 1.0, ts + spacing / 2.0)
    pieces = shapely.intersection(strips, poly_st)
    lanes = []
    for t, piece in zip(ts, pieces, strict=True):
        parts = [g for g in shapely.get_parts(piece) if g.area > 1e-6]
        if not parts:
            continue
        spans = sorted((g.bounds[0], g.bounds[2]) for g in parts)
        merged: list[tuple[float, float]] = [spans[0]]
        for lo, hi in spans[1:]:
            if lo - merged[-1][1] <= BRIDGE_GAP_FOOTPRINTS * along:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        lanes.append((float(t), merged))
    return lanes


def lanes_for_angle(
    poly: BaseGeometry,
    bearing_deg: float,
    setup: NadirSetup,
    turnaround_m: float,
) -> list[list[Pass]]:
    """Lanes (each a list of passes, one per stretch of area it crosses) in flight order."""
    axes = _lane_axes(bearing_deg)
    poly_st = affinity.affine_transform(poly, axes)
    cap = setup.capture
    lanes: list[list[Pass]] = []
    for i, (t, spans) in enumerate(
        _lane_intervals(poly_st, cap.line_spacing_m, setup.footprint_along_m)
    ):
        stretches = []
        for lo, hi in spans:
            start, stop = capture_span(hi - lo, cap.trigger_distance_m, setup.footprint_along_m)
            stretches.append((lo + start, lo + stop))
        if i % 2:  # boustrophedon: every other lane flies back
            stretches = [(b, a) for a, b in reversed(stretches)]
        lane = []
        for k, (a, b) in enumerate(stretches):
            direction = 1.0 if b >= a else -1.0
            lead_in = (a - direction * turnaround_m, t) if k == 0 and turnaround_m > 0 else None
            lead_out = (
                (b + direction * turnaround_m, t)
                if k == len(stretches) - 1 and turnaround_m > 0
                else None
            )
            pts = [(a, t), (b, t)] if abs(b - a) > 1e-6 else [(a, t)]
            lane.append(_to_pass(pts, lead_in, lead_out, axes, setup.altitude_m))
        lanes.append(lane)
    return lanes


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


def route_length_m(passes: Sequence[Pass]) -> float:
    """Horizontal length of home → every pass in order → home."""
    pts = [(0.0, 0.0)] + [(x, y) for p in passes for (x, y, _z) in p.all_points()] + [(0.0, 0.0)]
    arr = np.asarray(pts)
    return float(np.linalg.norm(np.diff(arr, axis=0), axis=1).sum())


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
    when omitted the bearing giving the shortest flight is chosen.
    """
    vehicle = vehicle or Vehicle()
    geom = shape_lonlat(area, ("Polygon", "MultiPolygon"), "survey area")
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

    def passes_for(bearing: float) -> list[Pass]:
        return order_from_home(lanes_for_angle(poly, bearing, setup, turnaround_m))

    if angle_deg is None:
        angle_deg = min(candidate_angles(poly), key=lambda b: route_length_m(passes_for(b)))
    passes = passes_for(angle_deg)
    if crosshatch:
        passes += passes_for((angle_deg + 90.0) % 180.0)
    return build_plan(
        frame=frame,
        home=home,
        passes=passes,
        flight=Flight(setup.speed_ms, setup.capture),
        vehicle=vehicle,
        camera=camera,
        target=Target(kind="area", geometry=json.loads(json.dumps(area))),
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
