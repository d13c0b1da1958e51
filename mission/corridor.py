"""Corridor along a line (power line, pipeline, road): parallel passes that follow its bends."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, mapping
from shapely.ops import substring

from mission.assets import asset_shape
from mission.camera import Camera
from mission.errors import MissionError
from mission.geodesy import LocalFrame
from mission.plan import Home, Plan, Target, Vehicle
from mission.route import Flight, Pass, build_plan, capture_span, trigger_fractions
from mission.survey import nadir_setup


def _extend(line: LineString, start_m: float, end_m: float) -> LineString:
    """The line lengthened along its first and last segments."""
    pts = np.asarray(line.coords, float)
    if start_m > 0:
        d = pts[0] - pts[1]
        pts[0] = pts[0] + d / np.linalg.norm(d) * start_m
    if end_m > 0:
        d = pts[-1] - pts[-2]
        pts[-1] = pts[-1] + d / np.linalg.norm(d) * end_m
    return LineString(pts)


def _capture_end(lane: LineString, length_m: float, trigger_m: float, along_m: float) -> float:
    """Where to stop the camera on ``lane`` so its last photo covers ``length_m`` from its start.

    Around bends the trigger fires on straight-line distance from the last photo, so photos
    drift later along the path than every ``trigger_m``: follow them as the autopilot would.
    """
    pts = [(x, y, 0.0) for x, y in lane.coords]
    last = pts[0]
    travelled = 0.0
    for a, b in itertools.pairwise(pts):
        leg = math.dist(a, b)
        for f in trigger_fractions(a, b, last, trigger_m):
            last = (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), 0.0)
            if travelled + f * leg >= length_m - along_m / 2.0:
                return min(travelled + f * leg + min(0.5, 0.05 * trigger_m), lane.length)
        travelled += leg
    return lane.length


def corridor_polygon(line: LineString, width_m: float) -> Any:
    """The ground the corridor must capture: the line widened by ``width_m``, flat ends."""
    return line.buffer(width_m / 2.0, cap_style="flat", join_style="mitre", mitre_limit=3.0)


def plan_corridor(
    line: dict[str, Any],
    width_m: float,
    camera: Camera,
    *,
    gsd_cm: float | None = None,
    altitude_m: float | None = None,
    front_overlap: float = 0.75,
    side_overlap: float = 0.65,
    turnaround_m: float = 10.0,
    home: Home | None = None,
    vehicle: Vehicle | None = None,
    hover: bool = False,
    ceiling_m: float = 120.0,
    name: str = "",
) -> Plan:
    """Plan a corridor of ``width_m`` centred on a LineString (lon/lat GeoJSON geometry).

    Passes are the centre line offset sideways by whole lane spacings, flown in
    alternate directions, each lengthened so its photos reach the corridor's ends.
    """
    vehicle = vehicle or Vehicle()
    geom = asset_shape(line, "corridor line", ("LineString",))
    if not math.isfinite(width_m) or width_m <= 0:
        raise MissionError(f"corridor width {width_m} m must be a number > 0")
    if not math.isfinite(turnaround_m) or turnaround_m < 0:
        raise MissionError(f"turnaround {turnaround_m} m must be ≥ 0")
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
        lon, lat = geom.coords[0][:2]
        home = Home(lat_deg=lat, lon_deg=lon)
    frame = LocalFrame(home.lon_deg, home.lat_deg)
    centre = LineString(np.asarray(frame.geom_to_local(geom).coords)[:, :2])
    centre = shapely.simplify(
        shapely.remove_repeated_points(centre, 0.01), 0.01
    )  # no collinear vertices
    spacing = setup.capture.line_spacing_m
    n = max(1, math.ceil(width_m / spacing - 1e-9))
    offsets = (np.arange(n) - (n - 1) / 2.0) * spacing
    along = setup.footprint_along_m
    passes = []
    for i, offset in enumerate(offsets):
        lane = (
            centre
            if abs(offset) < 1e-9
            else centre.offset_curve(float(offset), join_style="mitre", mitre_limit=3.0)
        )
        if lane.geom_type == "MultiLineString":  # GEOS splits at nearly straight joins
            lane = shapely.line_merge(lane)
        if lane.is_empty or lane.geom_type != "LineString" or lane.length < 1e-3:
            continue
        start, _ = capture_span(
            0.0, lane.length, 0.0, lane.length, setup.capture.trigger_distance_m, along
        )
        lane = substring(_extend(lane, 0.0, along), start, lane.length + along)
        lane = substring(
            lane,
            0.0,
            _capture_end(lane, lane.length - along, setup.capture.trigger_distance_m, along),
        )
        if i % 2:
            lane = lane.reverse()
        pts = [(float(x), float(y), setup.altitude_m) for x, y in lane.coords]
        lead_in = lead_out = None
        if turnaround_m > 0:
            lead = _extend(LineString([pts[0][:2], pts[1][:2]]), turnaround_m, 0.0).coords[0]
            tail = _extend(LineString([pts[-2][:2], pts[-1][:2]]), 0.0, turnaround_m).coords[-1]
            lead_in = (lead[0], lead[1], setup.altitude_m)
            lead_out = (tail[0], tail[1], setup.altitude_m)
        passes.append(Pass(points=tuple(pts), lead_in=lead_in, lead_out=lead_out))
    return build_plan(
        frame=frame,
        home=home,
        passes=passes,
        flight=Flight(setup.speed_ms, setup.capture),
        vehicle=vehicle,
        camera=camera,
        target=Target(
            kind="corridor",
            geometry=mapping(frame.geom_to_wgs84(corridor_polygon(centre, width_m))),
            line=line,
        ),
        pattern="corridor",
        name=name,
        settings={
            "width_m": width_m,
            "turnaround_m": turnaround_m,
            "altitude_m": setup.altitude_m,
            "speed_ms": setup.speed_ms,
        },
    )
