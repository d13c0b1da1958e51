import math

import pytest
from geo import SITL_HOME

from mission.camera import PRESETS
from mission.geodesy import LocalFrame
from mission.items import Cmd
from mission.plan import Capture, Home, Target, Vehicle
from mission.route import Flight, Pass, build_plan, capture_span, trigger_fractions

HOME = Home(lat_deg=SITL_HOME[1], lon_deg=SITL_HOME[0])
CAPTURE = Capture(30.0, 0.75, 0.65, 1.0, 8.0, 15.0, -20.0)
TARGET = Target(kind="area", geometry={"type": "Point", "coordinates": list(SITL_HOME)})


def plan_of(passes, vehicle=None):
    return build_plan(
        frame=LocalFrame(*SITL_HOME),
        home=HOME,
        passes=passes,
        flight=Flight(5.0, CAPTURE),
        vehicle=vehicle or Vehicle(),
        camera=PRESETS["phantom4-rtk"],
        target=TARGET,
        pattern="survey",
    )


def test_pitch_is_set_again_after_the_roi_is_released():
    passes = [
        Pass(points=((0, 50, 20), (50, 50, 20)), roi=(25, 80, 10)),
        Pass(points=((0, 100, 20), (50, 100, 20))),
    ]
    items = plan_of(passes).sorties[0]
    k = next(i for i, item in enumerate(items) if item.command == Cmd.DO_SET_ROI_NONE)
    assert items[k + 1].command == Cmd.DO_MOUNT_CONTROL and items[k + 1].param1 == -20.0
    assert sum(item.command == Cmd.DO_SET_ROI_LOCATION for item in items) == 1


def test_item_limit_starts_a_new_sortie_and_each_holds_what_it_says():
    passes = [
        Pass(points=((0, 10.0 * k, 20), (40, 10.0 * k, 20), (80, 10.0 * k, 20))) for k in range(40)
    ]
    plan = plan_of(passes, Vehicle(endurance_s=1e6, max_items=50))
    assert len(plan.sorties) > 1
    assert all(len(s) + 1 <= 50 for s in plan.sorties)
    assert (
        sum(item.command == Cmd.DO_SET_CAM_TRIGG_DIST and item.param1 > 0 for item in plan.items)
        == 40
    )


def test_capture_span_keeps_waypoints_inside_and_photos_covering():
    first, stop = capture_span(0.0, 100.0, 10.0, 90.0, 12.0, 30.0)
    assert first >= 10.0 and stop <= 90.0
    photos = [first + 12.0 * k for k in range(int((stop - first) // 12.0) + 1)]
    assert photos[0] - 15.0 <= 0.0 and photos[-1] + 15.0 >= 100.0


def test_trigger_fractions_measure_straight_line_distance():
    # last photo 6 m before the start of a leg at right angles: next one where the leg is 10 m away
    fractions = trigger_fractions((0, 0, 0), (0, 100, 0), (-6, 0, 0), 10.0)
    assert fractions[0] * 100 == pytest.approx(8.0)  # 6-8-10 triangle
    assert [round(f * 100 - fractions[0] * 100, 6) for f in fractions[:3]] == [0.0, 10.0, 20.0]
    assert trigger_fractions((0, 0, 0), (0, 5, 0), (0, 0, 0), 10.0) == []
    assert math.isclose(trigger_fractions((0, 0, 0), (0, 10, 0), (0, 0, 0), 10.0)[0], 1.0)


def test_a_clearance_height_brackets_every_sortie():
    passes = [Pass(points=((30, 0, 8), (30, 40, 8)), roi=(0, 20, 8))]
    plan = build_plan(
        frame=LocalFrame(*SITL_HOME),
        home=HOME,
        passes=passes,
        flight=Flight(5.0, CAPTURE, clearance_alt_m=45.0),
        vehicle=Vehicle(),
        camera=PRESETS["phantom4-rtk"],
        target=TARGET,
        pattern="structure",
    )
    items = plan.sorties[0]
    wps = [i for i in items if i.command == Cmd.NAV_WAYPOINT]
    assert items[0].command == Cmd.NAV_TAKEOFF and items[0].alt_m == 45.0
    assert wps[0].alt_m == 45.0 and wps[1].alt_m == 8.0  # across above, then down onto the pass
    assert (wps[0].lat_deg, wps[0].lon_deg) == (wps[1].lat_deg, wps[1].lon_deg)
    assert wps[-1].alt_m == 45.0 and (wps[-1].lat_deg, wps[-1].lon_deg) == (
        wps[-2].lat_deg,
        wps[-2].lon_deg,
    )
    assert items[-1].command == Cmd.NAV_RETURN_TO_LAUNCH
