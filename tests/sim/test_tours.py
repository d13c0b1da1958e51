"""Synthetic flights through a world's defects."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from shapely.geometry import LineString, Point

from sim.errors import SimError
from sim.tours import defect_tour, tour_track
from sim.world import World

START = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def test_the_tour_is_as_long_as_asked_and_passes_defects():
    world = World.sample()
    route = LineString(defect_tour(world, 400.0))
    assert route.length == pytest.approx(400.0, abs=1e-6)
    near = [d for d in world.defects if route.distance(Point(d.x_m, d.y_m)) <= 20.0]
    assert len(near) >= 10


def test_the_track_flies_the_tour_level_at_the_speed_asked():
    world = World.sample()
    track = tour_track(world, 30.0, start=START, altitude_m=35.0, speed_ms=4.0, home_amsl_m=500.0)
    assert track.start == START and track.duration_s == pytest.approx(32.0, abs=0.5)
    assert {s.alt_rel_m for s in track.samples} == {35.0}
    assert all(s.gimbal_pitch_deg == -90.0 and s.alt_amsl_m == 535.0 for s in track.samples)
    a, b = track.samples[10], track.samples[11]
    xa, ya = world.frame.point_to_local(a.lon_deg, a.lat_deg)
    xb, yb = world.frame.point_to_local(b.lon_deg, b.lat_deg)
    assert math.hypot(xb - xa, yb - ya) == pytest.approx(2.0, abs=0.05)  # 0.5 s at 4 m/s
    heading = math.degrees(math.atan2(xb - xa, yb - ya)) % 360.0
    assert abs((heading - a.yaw_deg + 180.0) % 360.0 - 180.0) < 5.0


def test_a_world_with_too_few_defects_has_no_tour():
    empty = World("empty", World.sample().home)
    with pytest.raises(SimError, match="has 0 defects"):
        defect_tour(empty, 100.0)
