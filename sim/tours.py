"""Synthetic flights through a world's defects, for tests, benchmarks and footage.

:func:`defect_tour` is a route that passes as many of a world's defects as it can in a given
length; :func:`tour_track` flies it as a track (what a flight log would say), so footage
rendered along it shows many defects with known positions.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from mission.track import Track, TrackSample
from sim.errors import SimError
from sim.world import World

__all__ = ["defect_tour", "tour_track"]


def defect_tour(world: World, length_m: float, lead_m: float = 20.0) -> np.ndarray:
    """A route (local x, y) of ``length_m`` through the world's defects.

    From each defect in turn, the greedy nearest-neighbour tour of all defects is straightened
    (points within 8 m of a leg dropped: the footprint is ~56 m across at 40 m) and scored by
    the defects within 20 m of its first ``length_m``; the best is flown, starting ``lead_m``
    before its first defect, and flown back and forth when shorter than asked.
    """
    from shapely import get_coordinates
    from shapely.geometry import LineString, MultiPoint
    from shapely.ops import substring

    pts = np.array([(d.x_m, d.y_m) for d in world.defects], dtype=float)
    if len(pts) < 2:
        raise SimError(f"world {world.name!r} has {len(pts)} defects; the flight needs 2 or more")
    dist = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
    targets = MultiPoint(pts)
    best: tuple[int, LineString] | None = None
    for first in range(len(pts)):
        order, left = [first], np.ones(len(pts), bool)
        left[first] = False
        while left.any():
            nxt = int(np.argmin(np.where(left, dist[order[-1]], np.inf)))
            order.append(nxt)
            left[nxt] = False
        coords = get_coordinates(LineString(pts[order]).simplify(8.0))
        lead = coords[0] - coords[1]
        coords = np.vstack([coords[0] + lead / np.hypot(*lead) * lead_m, coords])
        while LineString(coords).length < length_m:  # there and back again
            coords = np.vstack([coords, coords[-2::-1]])
        line = substring(LineString(coords), 0.0, length_m)
        near = line.buffer(20.0)
        score = sum(near.contains(p) for p in targets.geoms)
        if best is None or score > best[0]:
            best = (score, line)
    assert best is not None
    return get_coordinates(best[1])


def tour_track(
    world: World,
    seconds: float,
    *,
    start: datetime,
    altitude_m: float = 40.0,
    speed_ms: float = 5.0,
    home_amsl_m: float = 0.0,
    step_s: float = 0.5,
) -> Track:
    """A level nadir flight of ``seconds`` along :func:`defect_tour` at ``altitude_m`` above
    home and ``speed_ms``, heading along the path, samples every ``step_s``."""
    from shapely.geometry import LineString

    line = LineString(defect_tour(world, speed_ms * (seconds + 2.0)))
    samples = []
    n = math.floor(line.length / speed_ms / step_s)
    for i in range(n + 1):
        along = i * step_s * speed_ms
        here = line.interpolate(along)
        ahead = line.interpolate(min(along + 0.5, line.length))
        behind = line.interpolate(max(along - 0.5, 0.0))
        a, b = (here, ahead) if ahead.distance(here) > 0.1 else (behind, here)
        yaw = math.degrees(math.atan2(b.x - a.x, b.y - a.y))
        lon, lat = world.frame.point_to_wgs84(here.x, here.y)
        samples.append(
            TrackSample(
                start + timedelta(seconds=i * step_s), lon, lat, altitude_m,
                alt_amsl_m=home_amsl_m + altitude_m, roll_deg=0.0, pitch_deg=0.0, yaw_deg=yaw,
                ground_speed_ms=speed_ms, gimbal_pitch_deg=-90.0,
            )
        )  # fmt: skip
    home = (world.home[0], world.home[1], home_amsl_m)
    return Track(tuple(samples), home=home, source=f"tour of {world.name}")
