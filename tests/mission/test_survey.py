import math

import numpy as np
import pytest
import shapely
from geo import FRAME, SITL_HOME, to_geojson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPoint, Point, Polygon, box

from mission.analysis import analyse
from mission.camera import PRESETS
from mission.errors import MissionError
from mission.items import Cmd
from mission.plan import Home, Vehicle
from mission.survey import plan_survey

CAM = PRESETS["phantom4-rtk"]
HOME = Home(lat_deg=SITL_HOME[1], lon_deg=SITL_HOME[0], alt_amsl_m=584.0)


def waypoints_local(plan):
    pts = [(i.lon_deg, i.lat_deg) for i in plan.items if i.command == Cmd.NAV_WAYPOINT]
    x, y = FRAME.to_local(*np.asarray(pts).T)
    return [Point(a, b) for a, b in zip(x, y, strict=True)]


# --- random convex and concave outlines, 40 m to 600 m across -------------------------------


@st.composite
def convex_polygons(draw):
    n = draw(st.integers(3, 12))
    coord = st.floats(-300, 300, allow_nan=False)
    pts = draw(st.lists(st.tuples(coord, coord), min_size=n, max_size=n))
    hull = MultiPoint(pts).convex_hull
    if (
        hull.geom_type != "Polygon"
        or hull.area < 1600
        or hull.minimum_rotated_rectangle.length < 160
    ):
        hull = box(-20, -20, 20 + draw(st.floats(0, 300)), 20 + draw(st.floats(0, 300)))
    return hull


@st.composite
def concave_polygons(draw):
    """Star-shaped outlines with notches: radii 60-300 m at roughly even angles.

    Angles keep at least 40 % of an even step apart, so spikes stay wider than a few
    degrees: no lawnmower that stays inside the area reaches into a needle.
    """
    n = draw(st.integers(5, 12))
    step = 2 * math.pi / n
    jitter = draw(st.lists(st.floats(-0.3, 0.3), min_size=n, max_size=n))
    radii = draw(st.lists(st.floats(60, 300), min_size=n, max_size=n))
    cx, cy = draw(st.floats(-200, 200)), draw(st.floats(-200, 200))
    pts = [
        (cx + r * math.cos(step * (k + j)), cy + r * math.sin(step * (k + j)))
        for k, (r, j) in enumerate(zip(radii, jitter, strict=True))
    ]
    return Polygon(pts)


survey_args = st.fixed_dictionaries(
    {
        "camera": st.sampled_from(sorted(PRESETS)),
        "altitude_m": st.floats(30, 110),
        "front_overlap": st.floats(0.5, 0.85),
        "side_overlap": st.floats(0.3, 0.8),
        "angle_deg": st.one_of(st.none(), st.floats(0, 180)),
        # with no turnaround the first photo of a lane faces the way the vehicle came
        "turnaround_m": st.floats(1, 20),
    }
)


def _check_cover_and_bounds(poly, args):
    plan = plan_survey(
        to_geojson(poly),
        PRESETS[args["camera"]],
        altitude_m=args["altitude_m"],
        front_overlap=args["front_overlap"],
        side_overlap=args["side_overlap"],
        angle_deg=args["angle_deg"],
        turnaround_m=args["turnaround_m"],
        home=HOME,
        vehicle=Vehicle(endurance_s=1e6),
    )
    analysis = analyse(plan)
    assert analysis.metrics.coverage >= 0.995, poly.wkt
    allowed = poly.buffer(args["turnaround_m"] + 0.6)  # 0.5 m past the last trigger point
    outside = [p for p in waypoints_local(plan) if not allowed.contains(p)]
    assert not outside, f"{len(outside)} waypoints outside the area plus turnaround: {poly.wkt}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(convex_polygons(), survey_args)
def test_convex_areas_are_covered_and_waypoints_stay_inside(poly, args):
    _check_cover_and_bounds(poly, args)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(concave_polygons(), survey_args)
def test_concave_areas_are_covered_and_waypoints_stay_inside(poly, args):
    _check_cover_and_bounds(poly, args)


# --- specific behaviour ------------------------------------------------------------------------


def test_items_follow_ardupilot_conventions():
    plan = plan_survey(to_geojson(box(0, 0, 200, 150)), CAM, gsd_cm=2.0, home=HOME)
    items = plan.sorties[0]
    assert items[0].command == Cmd.NAV_TAKEOFF
    assert items[1].command == Cmd.DO_CHANGE_SPEED
    assert items[2].command == Cmd.DO_MOUNT_CONTROL and items[2].param1 == -90
    assert items[-1].command == Cmd.NAV_RETURN_TO_LAUNCH
    triggers = [i for i in items if i.command == Cmd.DO_SET_CAM_TRIGG_DIST]
    on = [t for t in triggers if t.param1 > 0]
    off = [t for t in triggers if t.param1 == 0]
    assert on and len(on) == len(off)  # camera off between every pair of lanes
    assert all(t.param1 == pytest.approx(plan.capture.trigger_distance_m) for t in on)
    assert all(i.frame == 3 for i in items if i.command == Cmd.NAV_WAYPOINT)  # relative to home
    # ground speed never asks for photos faster than the camera's trigger interval
    speed = items[1].param2
    assert speed <= plan.capture.trigger_distance_m / CAM.min_trigger_interval_s + 1e-9


def test_holes_are_not_photographed_and_still_covered():
    outer = box(0, 0, 400, 300)
    hole = box(120, 80, 280, 220)
    plan = plan_survey(
        to_geojson(Polygon(outer.exterior.coords, [hole.exterior.coords])),
        CAM,
        altitude_m=40,
        home=HOME,
    )
    analysis = analyse(plan)
    assert analysis.metrics.coverage >= 0.995
    # with the hole the camera is off over most of it: fewer photos than the full rectangle
    full = analyse(
        plan_survey(
            to_geojson(outer), CAM, altitude_m=40, home=HOME, angle_deg=plan.settings["angle_deg"]
        )
    )
    assert analysis.metrics.photos < full.metrics.photos
    x, y = FRAME.to_local(
        [p.lon_deg for p in analysis.photos], [p.lat_deg for p in analysis.photos]
    )
    inside_hole = [
        Point(a, b) for a, b in zip(x, y, strict=True) if hole.buffer(-40).contains(Point(a, b))
    ]
    assert not inside_hole


def test_auto_angle_follows_the_long_side_and_is_quicker_than_across():
    # A long thin strip at bearing 60°, home at its south-west end: lanes along it turn far less.
    strip = shapely.affinity.rotate(
        box(0, -40, 1000, 40), 30, origin=(0, 0)
    )  # x axis → bearing 60°
    fast = Vehicle(endurance_s=1e6)
    auto = plan_survey(to_geojson(strip), CAM, altitude_m=50, home=HOME, vehicle=fast)
    assert min(abs(auto.settings["angle_deg"] - 60), abs(auto.settings["angle_deg"] - 240)) < 1.0
    across = plan_survey(
        to_geojson(strip), CAM, altitude_m=50, angle_deg=150, home=HOME, vehicle=fast
    )
    assert analyse(auto).metrics.duration_s < analyse(across).metrics.duration_s


def test_crosshatch_flies_both_directions():
    area = to_geojson(box(0, 0, 200, 200))
    single = plan_survey(area, CAM, altitude_m=50, angle_deg=0, home=HOME)
    double = plan_survey(area, CAM, altitude_m=50, angle_deg=0, crosshatch=True, home=HOME)
    assert analyse(double).metrics.photos > 1.6 * analyse(single).metrics.photos


def test_removing_a_lane_loses_coverage():
    # with 20 % side overlap no other lane sees what one lane sees
    plan = plan_survey(
        to_geojson(box(0, 0, 300, 300)),
        CAM,
        altitude_m=40,
        side_overlap=0.2,
        angle_deg=0,
        home=HOME,
    )
    assert analyse(plan).metrics.coverage >= 0.995
    items = list(plan.sorties[0])
    on = [k for k, i in enumerate(items) if i.command == Cmd.DO_SET_CAM_TRIGG_DIST and i.param1 > 0]
    del items[on[2]]  # the third lane never triggers
    crippled = type(plan)(**{**plan.__dict__, "sorties": (tuple(items),)})
    assert analyse(crippled).metrics.coverage < 0.97


def test_long_survey_splits_into_sorties_that_each_return_home():
    vehicle = Vehicle(endurance_s=300)
    plan = plan_survey(
        to_geojson(box(0, 0, 600, 400)), CAM, altitude_m=40, home=HOME, vehicle=vehicle
    )
    assert len(plan.sorties) > 1
    analysis = analyse(plan)
    for sortie, metrics in zip(plan.sorties, analysis.metrics.per_sortie, strict=True):
        assert (
            sortie[0].command == Cmd.NAV_TAKEOFF and sortie[-1].command == Cmd.NAV_RETURN_TO_LAUNCH
        )
        assert metrics.duration_s <= vehicle.endurance_s
    assert analysis.metrics.coverage >= 0.995


def test_item_limit_splits_sorties():
    plan = plan_survey(
        to_geojson(box(0, 0, 400, 400)),
        CAM,
        altitude_m=30,
        hover=True,
        home=HOME,
        vehicle=Vehicle(endurance_s=1e6, max_items=120),
    )
    assert len(plan.sorties) > 1
    assert all(len(s) + 1 <= 120 for s in plan.sorties)
    assert (
        sum(1 for i in plan.items if i.command == Cmd.IMAGE_START_CAPTURE)
        == analyse(plan).metrics.photos
    )


def test_hover_and_capture_takes_photos_at_stops():
    plan = plan_survey(to_geojson(box(0, 0, 150, 100)), CAM, altitude_m=40, hover=True, home=HOME)
    assert not any(i.command == Cmd.DO_SET_CAM_TRIGG_DIST for i in plan.items)
    analysis = analyse(plan)
    assert analysis.metrics.coverage >= 0.995
    assert analysis.metrics.photos == sum(
        1 for i in plan.items if i.command == Cmd.IMAGE_START_CAPTURE
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gsd_cm": 9.0}, "over the ceiling 120 m"),
        ({"altitude_m": 150.0}, "above the ceiling"),
        ({"altitude_m": 50.0, "front_overlap": 1.0}, "front overlap 100 %"),
        ({"altitude_m": 50.0, "side_overlap": 1.5}, "side overlap 150 %"),
        ({}, "exactly one of GSD"),
        ({"gsd_cm": 2.0, "altitude_m": 50.0}, "exactly one of GSD"),
    ],
)
def test_bad_parameters_name_the_value(kwargs, message):
    with pytest.raises(MissionError, match=message):
        plan_survey(to_geojson(box(0, 0, 100, 100)), CAM, **kwargs)


def test_bad_geometry_is_refused():
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [
                [149.16, -35.36],
                [149.17, -35.37],
                [149.17, -35.36],
                [149.16, -35.37],
                [149.16, -35.36],
            ]
        ],
    }
    with pytest.raises(MissionError, match="self-intersection at lon"):
        plan_survey(bowtie, CAM, altitude_m=50)
    swapped = {
        "type": "Polygon",
        "coordinates": [[[-35.36, 149.16], [-35.37, 149.16], [-35.37, 149.17], [-35.36, 149.16]]],
    }
    with pytest.raises(MissionError, match="swapped"):
        plan_survey(swapped, CAM, altitude_m=50)
    with pytest.raises(MissionError, match="expected Polygon, got LineString"):
        plan_survey(
            {"type": "LineString", "coordinates": [[149.16, -35.36], [149.17, -35.36]]},
            CAM,
            altitude_m=50,
        )
