"""A brute-force reference for the zone part of :func:`compliance.check.check`.

Every leg against every volume of every zone, with shapely and plain scalar arithmetic: no
index and no shared geometry code. Each volume first measures its distance to all legs at
once (one vectorised shapely call, with a centimetre of slack so it can only keep too
many); the legs it keeps, those over or near the volume, are then decided one at a time
by the scalar code below. Photos are treated the same way. The tests and
``bench/compliance.py`` use it to prove that the indexed checker finds exactly the same
zone findings.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from compliance.legs import Window, check_window
from compliance.rules import RuleSet
from compliance.zones import Volume, Zone
from mission.analysis import Analysis, Leg
from mission.geodesy import LocalFrame
from mission.plan import Plan

#: Distance filters keep this much more than they need, so rounding never drops a leg.
_SLACK_M = 0.01
#: (rule id, zone id, sortie from 1, item numbers)
Key = tuple[str, str, int, tuple[int, ...]]
#: The rules the reference finds: every zone and privacy rule of a check (not the lead
#: time, which needs the clock, nor the rule set's plan-wide limits).
ZONE_RULES = frozenset(
    {
        "airspace.prohibited",
        "airspace.authorisation",
        "airspace.authorised",
        "airspace.conditional",
        "airspace.information",
        "airspace.margin",
        "privacy.no_capture",
        "privacy.buffer",
        "privacy.no_overflight",
    }
)


def reference_findings(
    plan: Plan,
    zones: Sequence[Zone],
    rules: RuleSet,
    window: Window,
    authorisations: Collection[str] = (),
    analysis: Analysis | None = None,
) -> set[Key]:
    """The zone and privacy findings of a check, as (rule, zone, sortie, items) keys."""
    from compliance.schedule import active_intervals
    from mission.analysis import analyse

    window = check_window(window)
    analysis = analysis if analysis is not None else analyse(plan)
    frame = LocalFrame(plan.home.lon_deg, plan.home.lat_deg)
    ground = plan.home.alt_amsl_m
    legs, photos = analysis.legs, analysis.photos
    leg_shapes = _leg_geometries(legs)
    photo_points = _points([(p.x_m, p.y_m) for p in photos])
    found: dict[tuple[str, str, int], set[int]] = defaultdict(set)
    for zone in zones:
        if not active_intervals(zone, *window):
            continue
        for volume in zone.volumes:
            shape = _local(volume, frame)
            low_limit, high_limit = volume.band_amsl_m(ground)
            reach = max(rules.zone_margin_m, 0.0) + (volume.radius_m or 0.0) + _SLACK_M
            for k in _near(leg_shapes, shape, reach):
                leg = legs[k]
                spans = _over(leg, volume, shape)
                entered = False
                for t0, t1 in spans:
                    za = leg.start[2] + t0 * (leg.end[2] - leg.start[2]) + ground
                    zb = leg.start[2] + t1 * (leg.end[2] - leg.start[2]) + ground
                    if max(za, zb) > low_limit and min(za, zb) < high_limit:
                        entered = True
                if entered:
                    for rule in _rules(zone, authorisations):
                        found[(rule, zone.identifier, leg.sortie + 1)].add(leg.seq)
                elif (
                    not spans
                    and rules.zone_margin_m > 0
                    and zone.restriction in ("PROHIBITED", "REQ_AUTHORISATION")
                ):
                    za, zb = leg.start[2] + ground, leg.end[2] + ground
                    if (
                        max(za, zb) > low_limit
                        and min(za, zb) < high_limit
                        and _distance(leg, volume, shape) < rules.zone_margin_m
                    ):
                        found[("airspace.margin", zone.identifier, leg.sortie + 1)].add(leg.seq)
            if zone.camera is None or zone.camera.mode == "no_overflight":
                continue
            reach = zone.camera.buffer_m if zone.camera.mode == "buffer" else 0.0
            rule = "privacy.buffer" if zone.camera.mode == "buffer" else "privacy.no_capture"
            near = reach + (volume.radius_m or 0.0) + _SLACK_M
            for k in _near(photo_points, shape, near):
                photo = photos[k]
                z = photo.alt_rel_m + ground
                if not (low_limit < z < high_limit):
                    continue
                if _point_distance((photo.x_m, photo.y_m), volume, shape) <= reach:
                    found[(rule, zone.identifier, photo.sortie + 1)].add(photo.seq)
    return {
        (rule, zone_id, sortie, tuple(sorted(items)))
        for (rule, zone_id, sortie), items in found.items()
    }


def _leg_geometries(legs: Sequence[Leg]) -> Any:
    """Every leg in plan view as a shapely array: a line, or a point for a vertical leg."""
    import shapely

    return np.array(
        [
            shapely.Point(leg.start[:2])
            if leg.start[:2] == leg.end[:2]
            else shapely.LineString([leg.start[:2], leg.end[:2]])
            for leg in legs
        ],
        dtype=object,
    )


def _points(xy: Sequence[tuple[float, float]]) -> Any:
    import shapely

    return shapely.points(np.asarray(xy, float).reshape(-1, 2))


def _near(geometries: Any, shape: Any, distance_m: float) -> list[int]:
    """Which of ``geometries`` lie within ``distance_m`` of ``shape``: all of them tested."""
    import shapely

    return np.flatnonzero(shapely.dwithin(geometries, shape, distance_m)).tolist()


def _rules(zone: Zone, authorisations: Collection[str]) -> list[str]:
    rules = []
    if zone.restriction == "PROHIBITED":
        rules.append("airspace.prohibited")
    elif zone.restriction == "REQ_AUTHORISATION":
        rules.append(
            "airspace.authorised" if zone.identifier in authorisations else "airspace.authorisation"
        )
    elif zone.restriction == "CONDITIONAL":
        rules.append("airspace.conditional")
    else:
        rules.append("airspace.information")
    if zone.camera is not None and zone.camera.mode == "no_overflight":
        rules.append("privacy.no_overflight")
    return rules


def _local(volume: Volume, frame: LocalFrame) -> Any:
    import shapely

    if volume.center is not None:
        return shapely.Point(frame.point_to_local(*volume.center))
    exterior, *holes = volume.rings
    return frame.geom_to_local(shapely.Polygon(exterior, holes))


def _over(leg: Leg, volume: Volume, shape: Any) -> list[tuple[float, float]]:
    """The spans of the leg's parameter (0..1) that are over the volume's outline."""
    import shapely

    (x0, y0, _), (x1, y1, _) = leg.start, leg.end
    length = math.hypot(x1 - x0, y1 - y0)
    if volume.radius_m is not None:
        cx, cy = shape.x, shape.y
        if length < 1e-6:
            return [(0.0, 1.0)] if math.hypot(x0 - cx, y0 - cy) <= volume.radius_m else []
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        along = (cx - x0) * ux + (cy - y0) * uy  # metres from the start to the nearest point
        off = abs((cx - x0) * uy - (cy - y0) * ux)
        if off > volume.radius_m:
            return []
        half = math.sqrt(volume.radius_m**2 - off**2)
        lo, hi = (along - half) / length, (along + half) / length
        return [(max(lo, 0.0), min(hi, 1.0))] if hi >= 0.0 and lo <= 1.0 else []
    if length < 1e-6:
        return [(0.0, 1.0)] if shape.intersects(shapely.Point(x0, y0)) else []
    line = shapely.LineString([(x0, y0), (x1, y1)])
    spans = []
    for part in shapely.get_parts(line.intersection(shape)):
        for piece in shapely.get_parts(part):
            ts = [line.project(shapely.Point(c)) / length for c in piece.coords]
            if ts:
                spans.append((min(ts), max(ts)))
    return spans


def _distance(leg: Leg, volume: Volume, shape: Any) -> float:
    import shapely

    a, b = leg.start[:2], leg.end[:2]
    line = shapely.LineString([a, b]) if a != b else shapely.Point(a)
    if volume.radius_m is not None:
        return max(line.distance(shape) - volume.radius_m, 0.0)
    return float(line.distance(shape))


def _point_distance(xy: tuple[float, float], volume: Volume, shape: Any) -> float:
    import shapely

    point = shapely.Point(xy)
    if volume.radius_m is not None:
        return max(point.distance(shape) - volume.radius_m, 0.0)
    return float(point.distance(shape))
