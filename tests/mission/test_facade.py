import itertools
import math

import numpy as np
import pytest
from geo import SITE, flown_photos, scan_waypoints, site_xy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from mission.analysis import analyse
from mission.camera import PRESETS
from mission.errors import MissionError
from mission.facade import TURNAROUND_M, plan_facade
from mission.items import Cmd
from mission.plan import Home
from mission.surfaces import surface_coverage

CAM = PRESETS["phantom4-rtk"]


def line(*points):
    return {
        "type": "LineString",
        "coordinates": [list(SITE.point_to_wgs84(x, y)) for x, y in points],
    }


STRAIGHT = line((0, 0), (60, 0))  # west to east: "left" is north
OUTSIDE_CORNER = line((0, 0), (40, 0), (40, -30))  # turns right: away from a drone on the left
INSIDE_CORNER = line((0, 0), (40, 0), (40, 30))  # turns left: towards a drone on the left
ZIGZAG = line((0, 0), (30, 0), (50, 20), (50, 50), (20, 60))


def wall(geometry):
    return LineString([SITE.point_to_local(*c) for c in geometry["coordinates"]])


def bearing(a, b):
    return math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360.0


def angle_between(a, b):
    return abs((a - b + 180.0) % 360.0 - 180.0)


# The headings are true headings; the test shapes are drawn on a grid whose north differs
# from true north by a few ten-thousandths of a degree here, hence the 0.01° tolerances.


# --- rows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("standoff", "low", "high", "side"),
    [(10.0, 0.0, 20.0, 0.65), (6.0, 4.0, 30.0, 0.5), (15.0, 10.0, 14.0, 0.8)],
)
def test_row_count_and_spacing_follow_the_camera(standoff, low, high, side):
    plan = plan_facade(
        STRAIGHT, CAM, height_min_m=low, height_max_m=high, standoff_m=standoff, side_overlap=side
    )
    vertical = CAM.footprint_m(standoff)[1]  # landscape: image height is vertical on the wall
    spacing = vertical * (1 - side)
    first, last = max(low + vertical / 2, 2.0), high - vertical / 2
    if last <= first:  # one photo sees it all: one row, in the middle
        first = last = max((low + high) / 2, 2.0)
    expected = math.ceil((last - first) / spacing - 1e-9) + 1
    rows = sorted({round(z, 2) for z in scan_waypoints(plan)[:, 2]})
    assert len(rows) == expected
    assert rows[0] == pytest.approx(first, abs=0.01)
    assert rows[-1] == pytest.approx(last, abs=0.01)
    assert np.all(np.diff(rows) <= spacing + 0.01)
    assert plan.settings["rows_alt_rel_m"] == rows


def test_rows_are_horizontal_and_alternate_direction():
    plan = plan_facade(STRAIGHT, CAM, height_min_m=0.0, height_max_m=20.0, standoff_m=10.0)
    wps = site_xy(plan, scan_waypoints(plan))
    z = scan_waypoints(plan)[:, 2]
    directions = []
    for row in plan.settings["rows_alt_rel_m"]:
        xs = wps[np.isclose(z, row), 0]
        assert len(xs) >= 2
        directions.append(np.sign(xs[-1] - xs[0]))
    assert directions == [1, -1, 1, -1]


def test_a_facade_above_the_ceiling_is_refused_naming_the_heights():
    with pytest.raises(MissionError, match=r"top layer at 95\.0 m .* ceiling 90 m"):
        plan_facade(
            STRAIGHT, CAM, height_min_m=0.0, height_max_m=100.0, standoff_m=10.0, ceiling_m=90.0
        )


# --- where it flies and where it looks -------------------------------------------------------


@pytest.mark.parametrize("geometry", [STRAIGHT, OUTSIDE_CORNER, INSIDE_CORNER, ZIGZAG])
@pytest.mark.parametrize("side", ["left", "right"])
def test_every_waypoint_is_at_the_stand_off(geometry, side):
    standoff = 8.0
    plan = plan_facade(
        geometry, CAM, height_min_m=0.0, height_max_m=12.0, standoff_m=standoff, side=side
    )
    face = wall(geometry)
    xy = site_xy(plan, scan_waypoints(plan))
    for p in xy:
        gap = face.distance(Point(p))
        assert gap >= standoff - 1e-3
        along = face.project(Point(p))
        if 1e-6 < along < face.length - 1e-6:  # beside the wall, not beyond its ends
            assert gap <= standoff * 1.01
    assert LineString(xy).distance(face) >= standoff - 1e-3  # nor between waypoints


@pytest.mark.parametrize(("side", "north"), [("left", True), ("right", False)])
def test_side_is_seen_walking_from_the_first_point_to_the_last(side, north):
    plan = plan_facade(
        STRAIGHT, CAM, height_min_m=0.0, height_max_m=10.0, standoff_m=10.0, side=side
    )
    y = site_xy(plan, scan_waypoints(plan))[:, 1]
    assert np.all(y > 9.99) if north else np.all(y < -9.99)
    facing = 180.0 if north else 0.0  # facing the wall
    yaws = [i.param1 for i in plan.items if i.command == Cmd.CONDITION_YAW]
    assert max(angle_between(y, facing) for y in yaws) < 0.01


@pytest.mark.parametrize("angle", [0.0, 33.0, 90.0, 151.0, 270.0])
def test_the_camera_holds_the_heading_perpendicular_to_the_facade(angle):
    a = math.radians(angle)
    geometry = line((0, 0), (50 * math.sin(a), 50 * math.cos(a)))  # bearing = angle
    plan = plan_facade(geometry, CAM, height_min_m=0.0, height_max_m=15.0, standoff_m=10.0)
    yaws = [i for i in plan.items if i.command == Cmd.CONDITION_YAW]
    assert yaws
    for item in yaws:
        assert angle_between(item.param1, (angle + 90.0) % 360.0) < 0.01  # left side: faces right
    assert all(i.param4 == 0 for i in yaws)  # absolute headings
    assert all(i.param1 == 0.0 for i in plan.items if i.command == Cmd.DO_MOUNT_CONTROL)
    # a CONDITION_YAW follows every waypoint, as ArduPilot drops a fixed yaw at each new one,
    # but the climb to the transit height before RTL
    items = plan.items
    for k, item in enumerate(items):
        if item.command == Cmd.NAV_WAYPOINT and items[k + 1].command != Cmd.NAV_RETURN_TO_LAUNCH:
            assert items[k + 1].command == Cmd.CONDITION_YAW


def test_a_bent_facade_is_faced_segment_by_segment():
    plan = plan_facade(ZIGZAG, CAM, height_min_m=0.0, height_max_m=10.0, standoff_m=8.0)
    face = np.asarray(wall(ZIGZAG).coords)
    normals = [(bearing(a, b) + 90.0) % 360.0 for a, b in itertools.pairwise(face)]
    yaws = [i.param1 for i in plan.items if i.command == Cmd.CONDITION_YAW]
    for n in normals:
        assert any(angle_between(y, n) < 0.01 for y in yaws)
    # every heading lies within the turn between two neighbouring segments' normals
    for y in yaws:
        assert any(
            angle_between(y, n0) + angle_between(y, n1) <= angle_between(n0, n1) + 0.01
            for n0, n1 in itertools.pairwise(normals)
        )


def test_home_defaults_to_the_start_of_the_first_row_on_the_ground():
    plan = plan_facade(STRAIGHT, CAM, height_min_m=0.0, height_max_m=20.0, standoff_m=10.0)
    assert plan.home.alt_amsl_m == 0.0
    first = scan_waypoints(plan)[0]
    assert math.hypot(first[0], first[1]) < 0.01
    across = CAM.footprint_m(10.0)[0]
    start = site_xy(plan, first[None, :])[0]
    assert start == pytest.approx((-across / 2 - TURNAROUND_M, 10.0), abs=0.01)


def test_a_given_home_starts_the_rows_at_the_nearer_end():
    east = SITE.point_to_wgs84(300.0, 50.0)
    home = Home(lat_deg=east[1], lon_deg=east[0], alt_amsl_m=584.0)
    plan = plan_facade(
        STRAIGHT, CAM, height_min_m=0.0, height_max_m=20.0, standoff_m=10.0, home=home
    )
    first = site_xy(plan, scan_waypoints(plan)[:1])[0]
    assert first[0] > 60.0


def test_a_home_behind_the_facade_is_refused():
    behind = SITE.point_to_wgs84(30.0, -5.0)  # just south of a wall flown from the north
    home = Home(lat_deg=behind[1], lon_deg=behind[0])
    with pytest.raises(MissionError, match=r"other side of the facade from the flight \(left"):
        plan_facade(STRAIGHT, CAM, height_min_m=0.0, height_max_m=20.0, standoff_m=10.0, home=home)
    plan_facade(
        STRAIGHT, CAM, height_min_m=0.0, height_max_m=20.0, standoff_m=10.0, home=home, side="right"
    )


# --- what the photos cover -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("geometry", "kwargs"),
    [
        (STRAIGHT, {}),
        (STRAIGHT, {"side": "right", "height_min_m": 5.0, "height_max_m": 33.0}),
        (OUTSIDE_CORNER, {}),
        (INSIDE_CORNER, {}),
        (OUTSIDE_CORNER, {"side": "right"}),
        (ZIGZAG, {"standoff_m": 6.0}),
        (ZIGZAG, {"side": "right", "gsd_cm": 0.4, "standoff_m": None}),
        (STRAIGHT, {"hover": True}),
    ],
)
def test_the_photos_cover_the_facade(geometry, kwargs):
    args = {"height_min_m": 0.0, "height_max_m": 20.0, "standoff_m": 10.0} | kwargs
    plan = plan_facade(geometry, CAM, **args)
    frame, photos = flown_photos(plan)
    coverage, gsd = surface_coverage(plan.target, CAM, photos, frame)
    assert coverage >= 0.995
    # photos past the ends and round corners see the wall off their centre, farther away
    worst = 1.05 if geometry is STRAIGHT else 1.2
    assert plan.capture.gsd_cm * 0.999 <= gsd <= plan.capture.gsd_cm * worst


@pytest.mark.parametrize("geometry", [STRAIGHT, INSIDE_CORNER, ZIGZAG])
def test_the_paper_flight_agrees_on_the_coverage(geometry):
    plan = plan_facade(geometry, CAM, height_min_m=0.0, height_max_m=20.0, standoff_m=10.0)
    metrics = analyse(plan).metrics
    frame, photos = flown_photos(plan)
    assert metrics.photos == len(photos)
    assert metrics.coverage == pytest.approx(surface_coverage(plan.target, CAM, photos, frame)[0])
    assert metrics.coverage >= 0.995


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    length=st.floats(5, 120),
    low=st.floats(0, 20),
    tall=st.floats(2, 40),
    standoff=st.floats(4, 20),
    front=st.floats(0.5, 0.9),
    side=st.floats(0.3, 0.9),
)
def test_any_straight_facade_is_covered(length, low, tall, standoff, front, side):
    plan = plan_facade(
        line((0, 0), (length, 0)),
        CAM,
        height_min_m=low,
        height_max_m=low + tall,
        standoff_m=standoff,
        front_overlap=front,
        side_overlap=side,
    )
    frame, photos = flown_photos(plan)
    coverage, _ = surface_coverage(plan.target, CAM, photos, frame)
    below = max(0.0, 2.0 - CAM.footprint_m(standoff)[1] / 2 - low)  # under the lowest row's view
    assert coverage >= 0.995 * (1 - below / tall)


@pytest.mark.parametrize("gone", [0, -1])
def test_coverage_drops_without_a_row(gone):
    plan = plan_facade(STRAIGHT, CAM, height_min_m=0.0, height_max_m=20.0, standoff_m=10.0)
    frame, photos = flown_photos(plan)
    assert surface_coverage(plan.target, CAM, photos, frame)[0] >= 0.995
    z = plan.settings["rows_alt_rel_m"][gone]
    kept = [p for p in photos if abs(p.alt_rel_m - z) > 0.01]
    assert len(kept) < len(photos)
    assert surface_coverage(plan.target, CAM, kept, frame)[0] < 0.95


def test_photos_facing_away_or_too_oblique_cover_nothing():
    plan = plan_facade(STRAIGHT, CAM, height_min_m=0.0, height_max_m=20.0, standoff_m=10.0)
    frame, photos = flown_photos(plan)
    away = [p.__class__(**{**p.__dict__, "yaw_deg": 0.0}) for p in photos]  # north, off the wall
    assert surface_coverage(plan.target, CAM, away, frame) == (0.0, None)
    oblique = [p.__class__(**{**p.__dict__, "yaw_deg": 180.0 + 65.0}) for p in photos]
    assert surface_coverage(plan.target, CAM, oblique, frame) == (0.0, None)
    far = [p.__class__(**{**p.__dict__, "y_m": p.y_m + 500.0}) for p in photos]
    assert surface_coverage(plan.target, CAM, far, frame) == (0.0, None)


# --- inputs --------------------------------------------------------------------------------


def test_the_target_describes_the_facade():
    plan = plan_facade(STRAIGHT, CAM, height_min_m=2.0, height_max_m=20.0, standoff_m=10.0)
    assert plan.pattern == "facade"
    assert plan.target.kind == "facade"
    assert plan.target.geometry == STRAIGHT
    assert (plan.target.height_min_m, plan.target.height_max_m) == (2.0, 20.0)
    assert plan.capture.distance_m == 10.0 and plan.capture.gimbal_pitch_deg == 0.0
    assert plan.capture.trigger_distance_m == pytest.approx(CAM.footprint_m(10.0)[0] * 0.25)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"height_min_m": 20.0}, r"height_max 20\.0 m must be above height_min 20\.0 m"),
        ({"height_min_m": -1.0}, r"height_min -1\.0 m"),
        ({"front_overlap": 1.0}, r"front overlap 100 % is outside 0\.\.<100 %"),
        ({"side_overlap": 1.5}, r"side overlap 150 %"),
        ({"side": "up"}, r"side 'up' must be 'left' or 'right'"),
        ({"standoff_m": -2.0}, r"stand-off -2\.0 m must be a number > 0"),
        ({"standoff_m": None}, r"neither was given"),
        ({"line": {"type": "LineString", "coordinates": [[149.16, -35.36]]}}, r"has 1 point"),
        ({"line": line((5, 5), (5, 5))}, r"zero length"),
        (
            {"line": {"type": "LineString", "coordinates": [[-35.36, 149.16], [-35.36, 149.17]]}},
            r"latitude 149\.16 is outside -90\.\.90",
        ),
        (
            {
                "line": {
                    "type": "Polygon",
                    "coordinates": [
                        [[149.16, -35.36], [149.17, -35.36], [149.17, -35.35], [149.16, -35.36]]
                    ],
                }
            },
            r"expected LineString, got Polygon",
        ),
        ({"line": line((0, 0), (2, 0), (2, 30))}, r"segment 1 \(2\.0 m\) is too short"),
        ({"line": line((0, 0), (40, 0), (40, 10), (0, 10))}, r"segment 2 \(10\.0 m\) is too short"),
        (
            {"line": line((0, 0), (50, 0), (50, 25), (15, 25), (15, 12))},
            r"pass [\d.]+ m from the facade",
        ),
        ({"ceiling_m": 0.5}, r"ceiling 0\.5 m"),
    ],
)
def test_bad_inputs_are_refused_naming_the_value(kwargs, message):
    args = {"line": STRAIGHT, "height_min_m": 0.0, "height_max_m": 20.0, "standoff_m": 10.0}
    args |= kwargs
    with pytest.raises(MissionError, match=message) as info:
        plan_facade(args.pop("line"), CAM, **args)
    assert "\n" not in str(info.value)
