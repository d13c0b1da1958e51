import itertools
import math

import pytest
from geo import FRAME, SITL_HOME

from mission import items as it
from mission.analysis import analyse, ground_footprints, sortie_duration_s
from mission.camera import PRESETS
from mission.plan import Home, Plan, Vehicle

HOME = Home(lat_deg=SITL_HOME[1], lon_deg=SITL_HOME[0], alt_amsl_m=584.0)


def wp(x, y, alt):
    lon, lat = FRAME.point_to_wgs84(x, y)
    return it.waypoint(lat, lon, alt)


def test_trigger_starts_when_the_preceding_waypoint_is_reached():
    # WP(0,100) TRIGG(10) WP(0,200) TRIGG(0) RTL: photos from y=100 to y=200 only.
    items = (
        it.takeoff(30),
        wp(0, 100, 30),
        it.trigger_distance(10),
        wp(0, 200, 30),
        it.trigger_distance(0),
        it.return_to_launch(),
    )
    analysis = analyse(Plan(home=HOME, sorties=(items,)))
    ys = [p.y_m for p in analysis.photos]
    assert len(ys) == 11
    assert ys[0] == pytest.approx(100, abs=0.01) and ys[-1] == pytest.approx(200, abs=0.01)
    assert all(
        p.yaw_deg == pytest.approx(0.0, abs=0.01) or p.yaw_deg == pytest.approx(360.0, abs=0.01)
        for p in analysis.photos[1:]
    )
    assert (
        analysis.metrics.coverage is None and analysis.metrics.gsd_cm is None
    )  # no camera, no target
    assert analysis.warnings == ()


def test_legs_name_the_item_that_flies_them_and_the_camera_state():
    items = (
        it.takeoff(30),  # 1
        wp(0, 100, 30),  # 2
        it.trigger_distance(10),  # 3
        wp(0, 200, 30),  # 4
        it.trigger_distance(0),  # 5
        it.return_to_launch(),  # 6
    )
    analysis = analyse(Plan(home=HOME, sorties=(items,)))
    legs = analysis.legs
    assert [(leg.seq, leg.kind) for leg in legs][:3] == [
        (1, "takeoff"),
        (2, "waypoint"),
        (4, "waypoint"),
    ]
    assert {leg.kind for leg in legs[3:]} == {"rtl"}
    assert [leg.trigger_m for leg in legs[:3]] == [0.0, 0.0, 10.0]
    # the legs join end to end and retrace the path
    assert all(a.end == b.start for a, b in itertools.pairwise(legs))
    assert len(legs) == len(analysis.paths[0]) - 1
    assert legs[2].start[1] == pytest.approx(100, abs=1e-6) and legs[2].end[2] == 30
    # the first photo is taken by the trigger command (3), the rest along leg 4
    assert [p.seq for p in analysis.photos] == [3] + [4] * 10


def test_distance_trigger_uses_straight_line_distance_after_a_bend():
    items = (
        it.takeoff(30),
        wp(0, 0, 30),
        it.trigger_distance(10),
        wp(0, 15, 30),
        wp(15, 15, 30),
        it.trigger_distance(0),
        it.return_to_launch(),
    )
    photos = analyse(Plan(home=HOME, sorties=(items,))).photos
    # after the corner at (0, 15) the next photo is 10 m in a straight line from the one at (0, 10)
    after = photos[2]
    assert math.hypot(after.x_m - photos[1].x_m, after.y_m - photos[1].y_m) == pytest.approx(
        10, abs=1e-6
    )
    assert after.y_m == pytest.approx(15, abs=1e-6) and after.x_m == pytest.approx(
        math.sqrt(75), abs=1e-6
    )


def test_distance_and_duration_follow_the_path():
    v = Vehicle()
    items = (it.takeoff(20), it.change_speed(5), wp(0, 100, 20), it.return_to_launch())
    analysis = analyse(Plan(home=HOME, sorties=(items,), vehicle=v))
    # up 20, out 100, back 100 (RTL at 20 m > RTL_ALT 15 m), down 20
    assert analysis.metrics.distance_m == pytest.approx(240, abs=0.01)
    out_and_back = 100 / 5 + 100 / v.cruise_speed_ms
    vertical = 20 / v.climb_speed_ms + 10 / v.descent_speed_ms + 10 / v.land_speed_ms
    assert analysis.metrics.duration_s > out_and_back + vertical
    assert analysis.metrics.duration_s < out_and_back + vertical + 20  # stops and corners only
    assert sortie_duration_s(items, HOME, v) == pytest.approx(analysis.metrics.duration_s)
    assert analysis.paths[0][0][:2] == pytest.approx(SITL_HOME) and analysis.paths[0][-1][2] == 0.0


def test_roi_points_the_camera_and_condition_yaw_holds_a_heading():
    lon, lat = FRAME.point_to_wgs84(50, 0)
    items = (
        it.takeoff(20),
        wp(0, 0, 20),
        it.roi_location(lat, lon, 0),
        it.capture_one(),
        it.roi_none(),
        wp(0, 20, 20),
        it.condition_yaw(270),
        it.capture_one(),
        it.return_to_launch(),
    )
    a, b = analyse(Plan(home=HOME, sorties=(items,))).photos
    assert a.yaw_deg == pytest.approx(90, abs=1e-6)  # facing the ROI to the east
    assert a.pitch_deg == pytest.approx(-math.degrees(math.atan2(20, 50)), abs=1e-6)
    assert b.yaw_deg == pytest.approx(270, abs=1e-6)


def test_missing_rtl_is_reported():
    items = (it.takeoff(20), wp(0, 50, 20))
    assert "does not end with RTL" in analyse(Plan(home=HOME, sorties=(items,))).warnings[0]


def test_nadir_footprint_is_landscape_across_the_heading():
    cam = PRESETS["phantom4-rtk"]
    items = (it.takeoff(50), wp(0, 0, 50), it.capture_one(), it.return_to_launch())
    photo = analyse(Plan(home=HOME, sorties=(items,))).photos[0]
    quad = ground_footprints(cam, [photo])[0]
    across, along = cam.footprint_m(50)
    width = quad[:, 0].max() - quad[:, 0].min()  # east-west, across a northward heading
    height = quad[:, 1].max() - quad[:, 1].min()
    assert width == pytest.approx(across) and height == pytest.approx(along)


def test_level_camera_has_no_ground_footprint():
    cam = PRESETS["phantom4-rtk"]
    items = (
        it.takeoff(50),
        it.gimbal_pitch(0),
        wp(0, 0, 50),
        it.capture_one(),
        it.return_to_launch(),
    )
    photo = analyse(Plan(home=HOME, sorties=(items,))).photos[0]
    assert photo.pitch_deg == 0 and ground_footprints(cam, [photo]) == [None]


def test_absurd_trigger_distance_is_capped_with_a_warning():
    from mission.analysis import MAX_PHOTOS

    items = (
        it.takeoff(20),
        wp(0, 0, 20),
        it.trigger_distance(1e-6),
        wp(0, 500, 20),
        it.return_to_launch(),
    )
    analysis = analyse(Plan(home=HOME, sorties=(items,)))
    assert analysis.metrics.photos == MAX_PHOTOS
    assert any(f"past {MAX_PHOTOS} photos" in w for w in analysis.warnings)


def test_a_capture_command_asking_for_countless_images_takes_one():
    many = it.MissionItem(it.Cmd.IMAGE_START_CAPTURE, it.Frame.MISSION, 0, 0, 1e300)
    timed = it.MissionItem(it.Cmd.IMAGE_START_CAPTURE, it.Frame.MISSION, 0, 2.0, 0)
    items = (it.takeoff(20), wp(0, 0, 20), many, timed, it.return_to_launch())
    analysis = analyse(Plan(home=HOME, sorties=(items,)))
    assert analysis.metrics.photos == 1
    assert any("every 2 s are not counted" in w for w in analysis.warnings)


def test_too_many_items_for_an_autopilot_are_reported():
    items = (it.takeoff(20), *(wp(0, k, 20) for k in range(700)), it.return_to_launch())
    warnings = analyse(Plan(home=HOME, sorties=(items,))).warnings
    assert any("703 items" in w and "700" in w for w in warnings)
