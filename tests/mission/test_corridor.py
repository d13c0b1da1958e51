import numpy as np
import pytest
from geo import FRAME, SITL_HOME, to_geojson
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from mission.analysis import analyse
from mission.camera import PRESETS
from mission.corridor import plan_corridor
from mission.errors import MissionError
from mission.items import Cmd
from mission.plan import Home, Vehicle

CAM = PRESETS["mavic3-enterprise"]
HOME = Home(lat_deg=SITL_HOME[1], lon_deg=SITL_HOME[0], alt_amsl_m=584.0)
POWER_LINE = LineString([(0, 0), (300, 80), (650, 40), (900, 260)])


def lanes(plan):
    """Waypoint polylines between camera on and off, in local metres."""
    out, current = [], None
    for item in plan.items:
        if item.command == Cmd.NAV_WAYPOINT:
            x, y = FRAME.point_to_local(item.lon_deg, item.lat_deg)
            if current is not None:
                current.append((x, y))
            last = (x, y)
        elif item.command == Cmd.DO_SET_CAM_TRIGG_DIST:
            if item.param1 > 0:
                current = [last]
            else:
                out.append(LineString(current))
                current = None
    return out


def test_passes_follow_the_line_at_lane_offsets():
    plan = plan_corridor(to_geojson(POWER_LINE), 60.0, CAM, gsd_cm=1.2, home=HOME)
    passes = lanes(plan)
    spacing = plan.capture.line_spacing_m
    assert len(passes) == int(np.ceil(60.0 / spacing - 1e-9))
    for p in passes:
        # every pass keeps a constant offset from the centre line: it follows the bends
        mid = [p.interpolate(f, normalized=True) for f in np.linspace(0.1, 0.9, 9)]
        offsets = [POWER_LINE.distance(m) for m in mid]
        assert max(offsets) - min(offsets) < 0.05 * spacing + 0.5
        assert max(offsets) <= 60.0 / 2
    assert analyse(plan).metrics.coverage >= 0.995


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.floats(50, 400), st.floats(-35, 35)), min_size=1, max_size=5),
    st.floats(10, 120),
    st.floats(0.6, 0.85),
    st.floats(0.3, 0.75),
)
def test_random_corridors_are_covered(steps, width, front, side):
    # a line made of forward steps with bends up to ±35°, as power lines and roads run
    heading, pts = 0.0, [(0.0, 0.0)]
    for length, turn in steps:
        heading += np.radians(turn)
        x, y = pts[-1]
        pts.append((x + length * np.cos(heading), y + length * np.sin(heading)))
    plan = plan_corridor(
        to_geojson(LineString(pts)),
        width,
        CAM,
        altitude_m=40.0,
        front_overlap=front,
        side_overlap=side,
        home=HOME,
        vehicle=Vehicle(endurance_s=1e6),
    )
    assert analyse(plan).metrics.coverage >= 0.995


def test_long_corridor_is_split_and_every_sortie_fits():
    vehicle = Vehicle(endurance_s=600)
    line = LineString([(0, 0), (2000, 200)])
    plan = plan_corridor(to_geojson(line), 80.0, CAM, gsd_cm=1.5, home=HOME, vehicle=vehicle)
    analysis = analyse(plan)
    assert len(plan.sorties) > 1
    assert all(s.duration_s <= vehicle.endurance_s for s in analysis.metrics.per_sortie)
    assert analysis.metrics.coverage >= 0.995


def test_a_pass_that_cannot_be_reached_is_refused():
    far = LineString([(20000, 0), (20100, 0)])
    with pytest.raises(
        MissionError, match=r"corridor part 200\d\d m from home cannot be flown within one sortie"
    ):
        plan_corridor(
            to_geojson(far), 20.0, CAM, gsd_cm=1.5, home=HOME, vehicle=Vehicle(endurance_s=300)
        )


@pytest.mark.parametrize(
    ("line", "width", "message"),
    [
        (
            {
                "type": "Polygon",
                "coordinates": [[[149.1, -35.3], [149.2, -35.3], [149.2, -35.4], [149.1, -35.3]]],
            },
            20,
            "expected LineString, got Polygon",
        ),
        (
            {"type": "LineString", "coordinates": [[149.1, -35.3], [149.1, -35.3]]},
            20,
            "zero length",
        ),
        ({"type": "LineString", "coordinates": [[-35.3, 149.1], [-35.4, 149.1]]}, 20, "swapped"),
        ({"type": "LineString", "coordinates": [[149.1, -35.3], [149.2, -35.3]]}, 0, "width 0"),
    ],
)
def test_bad_corridor_input(line, width, message):
    with pytest.raises(MissionError, match=message):
        plan_corridor(line, width, CAM, gsd_cm=1.5)


def test_home_defaults_to_the_line_start():
    plan = plan_corridor(to_geojson(POWER_LINE), 30.0, CAM, gsd_cm=1.5)
    start = Point(FRAME.point_to_local(plan.home.lon_deg, plan.home.lat_deg))
    assert start.distance(Point(0, 0)) < 0.01
