import math

import numpy as np
import pytest
import shapely
from geo import SITE, flown_photos, local_items, scan_waypoints, site_xy
from geo import SITL_HOME as SITL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from mission.analysis import Photo, analyse
from mission.camera import PRESETS
from mission.errors import MissionError
from mission.items import Cmd
from mission.plan import Home, Target, Vehicle
from mission.standoff import view_band_m
from mission.structure import orbit_trigger_m, plan_structure
from mission.surfaces import footprints, surface_coverage, target_surface

CAM = PRESETS["phantom4-rtk"]


def lonlat(x, y):
    return list(SITE.point_to_wgs84(x, y))


def footprint(*corners):
    ring = [lonlat(x, y) for x, y in corners]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


RECT = footprint((-15, -8), (15, -8), (15, 8), (-15, 8))  # 30 m x 16 m, centred on SITL


# --- layers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("standoff", "height", "side"), [(10.0, 30.0, 0.65), (6.0, 45.0, 0.5), (15.0, 12.0, 0.8)]
)
def test_layer_count_and_spacing_follow_the_camera(standoff, height, side):
    plan = plan_structure(
        CAM, center=SITL, radius_m=12.0, height_m=height, standoff_m=standoff, side_overlap=side
    )
    vertical = CAM.footprint_m(standoff)[1]  # landscape: image height is vertical on the wall
    spacing = vertical * (1 - side)
    first, last = max(vertical / 2, 2.0), height - vertical / 2
    if last <= first:  # one photo sees it all: one layer, in the middle
        first = last = max(height / 2, 2.0)
    expected = math.ceil((last - first) / spacing - 1e-9) + 1
    layers = sorted({round(z, 2) for z in scan_waypoints(plan)[:, 2]})
    assert len(layers) == expected
    assert layers[0] == pytest.approx(first, abs=0.01)
    assert layers[-1] == pytest.approx(last, abs=0.01)
    assert np.all(np.diff(layers) <= spacing + 0.01)
    assert plan.capture.line_spacing_m == pytest.approx(spacing)
    assert plan.settings["layers_alt_rel_m"] == layers


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    radius=st.floats(0.5, 40),
    height=st.floats(3, 110),
    standoff=st.floats(3, 25),
    pitch=st.floats(-45, 20),
    side=st.floats(0.2, 0.9),
)
def test_layers_stay_between_the_minimum_and_the_ceiling(radius, height, standoff, pitch, side):
    try:
        plan = plan_structure(
            CAM,
            center=SITL,
            radius_m=radius,
            height_m=height,
            standoff_m=standoff,
            gimbal_pitch_deg=pitch,
            side_overlap=side,
            ceiling_m=100.0,
        )
    except MissionError as exc:  # only the ceiling may refuse these
        lo, hi = view_band_m(CAM, standoff, pitch)
        assert height - hi > 100.0
        assert "ceiling 100" in str(exc)
        return
    z = scan_waypoints(plan)[:, 2]
    assert z.min() >= 2.0 - 1e-9
    assert z.max() <= 100.0 + 1e-9
    lo, hi = view_band_m(CAM, standoff, pitch)
    layers = sorted(set(np.round(z, 2)))
    assert layers[-1] + hi >= height - 0.01  # the top is seen
    assert np.all(np.diff(layers) <= (hi - lo) * (1 - side) + 0.01)


def test_a_structure_above_the_ceiling_is_refused_naming_the_heights():
    with pytest.raises(MissionError, match=r"top layer at 145\.0 m .* ceiling 120 m"):
        plan_structure(CAM, center=SITL, radius_m=5.0, height_m=150.0, standoff_m=10.0)


def test_a_low_stand_off_keeps_the_bottom_layer_at_the_minimum_height():
    plan = plan_structure(CAM, center=SITL, radius_m=5.0, height_m=10.0, standoff_m=2.0)
    assert scan_waypoints(plan)[:, 2].min() == pytest.approx(2.0)


# --- where it flies and where it looks -------------------------------------------------------


def test_every_waypoint_and_chord_of_an_orbit_is_at_the_stand_off():
    radius, standoff = 20.0, 10.0
    plan = plan_structure(CAM, center=SITL, radius_m=radius, height_m=30.0, standoff_m=standoff)
    wps = scan_waypoints(plan)
    xy = site_xy(plan, wps)
    gap = np.hypot(xy[:, 0], xy[:, 1]) - radius
    assert gap.min() >= standoff - 1e-3
    assert gap.max() <= standoff * 1.011
    for z in np.unique(np.round(wps[:, 2], 2)):
        layer = xy[np.round(wps[:, 2], 2) == z]
        assert LineString(layer).distance(Point(0, 0)) >= radius + standoff - 1e-3


def test_the_orbit_of_a_footprint_keeps_the_stand_off_from_its_walls():
    plan = plan_structure(CAM, footprint=RECT, height_m=20.0, standoff_m=8.0)
    wall = Polygon([(-15, -8), (15, -8), (15, 8), (-15, 8)])
    xy = site_xy(plan, scan_waypoints(plan))
    gaps = np.array([wall.distance(Point(p)) for p in xy])
    assert gaps.min() >= 8.0 - 1e-3
    assert gaps.max() <= 8.0 * 1.01
    assert LineString(xy).distance(wall) >= 8.0 - 1e-3


def test_the_camera_is_pointed_at_the_structure_axis_at_the_gimbal_pitch():
    radius, standoff, pitch = 20.0, 10.0, -20.0
    plan = plan_structure(
        CAM,
        center=SITL,
        radius_m=radius,
        height_m=30.0,
        standoff_m=standoff,
        gimbal_pitch_deg=pitch,
    )
    rois = local_items(plan, Cmd.DO_SET_ROI_LOCATION)
    layers = plan.settings["layers_alt_rel_m"]
    assert len(rois) == len(layers)  # one per layer: the ROI changes with the layer's height
    assert np.hypot(*site_xy(plan, rois).T).max() < 0.01  # on the axis
    expected = [z + (radius + standoff) * math.tan(math.radians(pitch)) for z in layers]
    assert rois[:, 2] == pytest.approx(expected, abs=0.15)
    assert not [i for i in plan.items if i.command == 196]  # never ROI_WPNEXT_OFFSET
    mounts = [i for i in plan.items if i.command == Cmd.DO_MOUNT_CONTROL]
    assert mounts
    assert all(m.param1 == pitch for m in mounts)
    assert plan.items[-2].command == Cmd.DO_SET_ROI_NONE


def test_an_elongated_footprint_looks_at_points_along_its_long_axis():
    plan = plan_structure(CAM, footprint=RECT, height_m=20.0, standoff_m=8.0)
    rois = site_xy(plan, local_items(plan, Cmd.DO_SET_ROI_LOCATION))
    assert np.abs(rois[:, 1]).max() < 0.01  # on the long axis (y = 0)
    assert rois[:, 0].min() < -5 and rois[:, 0].max() > 5  # spread along it
    assert np.abs(rois[:, 0]).max() <= 15.0


def test_home_defaults_to_the_start_of_the_orbit_on_the_ground():
    plan = plan_structure(CAM, center=SITL, radius_m=20.0, height_m=30.0, standoff_m=10.0)
    assert plan.home.alt_amsl_m == 0.0
    first = scan_waypoints(plan)[0]
    assert math.hypot(first[0], first[1]) < 0.01  # straight up from home into the first layer
    xy = site_xy(plan, first[None, :])[0]
    assert xy[1] < -29.0  # the southernmost point of the orbit
    assert first[2] == pytest.approx(plan.settings["layers_alt_rel_m"][0])


def test_a_given_home_starts_the_orbit_at_its_nearest_point():
    east = SITE.point_to_wgs84(200.0, 0.0)
    home = Home(lat_deg=east[1], lon_deg=east[0], alt_amsl_m=584.0)
    plan = plan_structure(
        CAM, center=SITL, radius_m=20.0, height_m=30.0, standoff_m=10.0, home=home
    )
    assert plan.home == home
    first = site_xy(plan, scan_waypoints(plan)[:1])[0]
    assert first[0] > 29.0 and abs(first[1]) < 3.0


def test_a_home_inside_the_structure_is_refused():
    inside = SITE.point_to_wgs84(5.0, 0.0)
    home = Home(lat_deg=inside[1], lon_deg=inside[0])
    with pytest.raises(MissionError, match=r"home \(149\.1652\d+, -35\.3632\d+\) is inside"):
        plan_structure(CAM, center=SITL, radius_m=20.0, height_m=30.0, standoff_m=10.0, home=home)


# --- what the photos cover -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"center": SITL, "radius_m": 20.0, "height_m": 30.0, "standoff_m": 10.0},
        {"center": SITL, "radius_m": 1.0, "height_m": 25.0, "standoff_m": 8.0},
        {
            "center": SITL,
            "radius_m": 20.0,
            "height_m": 30.0,
            "standoff_m": 10.0,
            "gimbal_pitch_deg": -25.0,
        },
        {"footprint": RECT, "height_m": 20.0, "standoff_m": 8.0},
        {
            "footprint": footprint((0, 0), (20, 0), (20, 10), (10, 10), (10, 25), (0, 25)),
            "height_m": 15.0,
            "gsd_cm": 0.3,
        },
        {"center": SITL, "radius_m": 10.0, "height_m": 12.0, "standoff_m": 10.0, "hover": True},
    ],
)
def test_the_photos_cover_the_structure(kwargs):
    plan = plan_structure(CAM, **kwargs)
    frame, photos = flown_photos(plan)
    coverage, gsd = surface_coverage(plan.target, CAM, photos, frame)
    assert coverage >= 0.995
    # the slant range along the pitched camera's axis; a footprint's corners are seen obliquely
    at_axis = plan.capture.gsd_cm / math.cos(math.radians(kwargs.get("gimbal_pitch_deg", 0.0)))
    assert at_axis * 0.995 <= gsd <= at_axis * (1.02 if "center" in kwargs else 1.2)


def test_the_paper_flight_agrees_on_the_coverage():
    plan = plan_structure(CAM, center=SITL, radius_m=20.0, height_m=30.0, standoff_m=10.0)
    metrics = analyse(plan).metrics
    assert metrics.coverage is not None and metrics.coverage >= 0.995
    assert metrics.gsd_cm == pytest.approx(CAM.gsd_cm(10.0), rel=0.02)


@pytest.mark.parametrize(
    ("side_overlap", "gone", "most"), [(0.65, 0, 0.98), (0.65, -1, 0.98), (0.0, 1, 0.9)]
)
def test_coverage_drops_without_a_layer(side_overlap, gone, most):
    plan = plan_structure(
        CAM, center=SITL, radius_m=15.0, height_m=30.0, standoff_m=10.0, side_overlap=side_overlap
    )
    frame, photos = flown_photos(plan)
    assert surface_coverage(plan.target, CAM, photos, frame)[0] >= 0.995
    z = plan.settings["layers_alt_rel_m"][gone]
    kept = [p for p in photos if abs(p.alt_rel_m - z) > 0.01]
    assert len(kept) < len(photos)
    assert surface_coverage(plan.target, CAM, kept, frame)[0] < most


def test_photos_along_a_layer_are_spaced_by_the_trigger_distance_on_the_orbit():
    radius, standoff = 20.0, 10.0
    plan = plan_structure(CAM, center=SITL, radius_m=radius, height_m=10.0, standoff_m=standoff)
    trigger = orbit_trigger_m(CAM, radius, standoff, 0.75)
    assert plan.capture.trigger_distance_m == pytest.approx(trigger)
    # a round wall curves away: a photo spans more of it than of a flat wall at the stand-off
    assert trigger > CAM.footprint_m(standoff)[0] * 0.25 * (radius + standoff) / radius
    _, photos = flown_photos(plan)
    z0 = photos[0].alt_rel_m
    layer = np.array([(p.x_m, p.y_m) for p in photos if p.alt_rel_m == z0])
    steps = np.hypot(*np.diff(layer, axis=0).T)
    assert steps[:-1] == pytest.approx(trigger, rel=1e-6)


# --- inputs --------------------------------------------------------------------------------


def test_gsd_gives_the_stand_off_and_a_given_stand_off_wins():
    plan = plan_structure(CAM, center=SITL, radius_m=5.0, height_m=10.0, gsd_cm=0.3)
    assert plan.capture.distance_m == pytest.approx(CAM.distance_for_gsd(0.3))
    both = plan_structure(
        CAM, center=SITL, radius_m=5.0, height_m=10.0, gsd_cm=0.3, standoff_m=12.0
    )
    assert both.capture.distance_m == 12.0
    assert both.capture.gsd_cm == pytest.approx(CAM.gsd_cm(12.0))


def test_the_target_describes_the_structure():
    plan = plan_structure(CAM, center=SITL, radius_m=5.0, height_m=10.0, standoff_m=5.0)
    assert plan.pattern == "structure"
    assert plan.target.kind == "structure"
    assert plan.target.geometry == {"type": "Point", "coordinates": list(SITL)}
    assert (plan.target.radius_m, plan.target.height_min_m, plan.target.height_max_m) == (
        5.0,
        0.0,
        10.0,
    )
    assert plan.capture.distance_m == 5.0
    other = plan_structure(CAM, footprint=RECT, height_m=10.0, standoff_m=5.0)
    assert other.target.geometry == RECT and other.target.radius_m is None


BOWTIE = footprint((0, 0), (20, 20), (20, 0), (0, 20))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"radius_m": -3.0}, r"radius -3\.0 m"),
        ({"height_m": -5.0}, r"height -5\.0 m"),
        ({"front_overlap": 1.2}, r"front overlap 120 % is outside 0\.\.<100 %"),
        ({"side_overlap": -0.1}, r"side overlap -10 %"),
        ({"center": (-35.363261, 149.165230)}, r"latitude 149\.16523 is outside -90\.\.90"),
        ({"standoff_m": 0.0}, r"stand-off 0\.0 m must be a number > 0"),
        ({"standoff_m": None}, r"neither was given"),
        ({"gsd_cm": -1.0, "standoff_m": None}, r"GSD -1\.0 cm/px"),
        ({"gimbal_pitch_deg": -80.0}, r"gimbal pitch -80\.0° is outside"),
        ({"center": None}, r"give either center"),
        ({"center": None, "radius_m": None, "footprint": BOWTIE}, r"self-intersection at lon"),
        (
            {
                "center": None,
                "radius_m": None,
                "footprint": {
                    "type": "LineString",
                    "coordinates": [[149.1, -35.3], [149.2, -35.3]],
                },
            },
            r"expected Polygon, got LineString",
        ),
        ({"footprint": RECT}, r"give either center"),
        ({"ceiling_m": 1.0}, r"ceiling 1\.0 m"),
    ],
)
def test_bad_inputs_are_refused_naming_the_value(kwargs, message):
    args = {"center": SITL, "radius_m": 10.0, "height_m": 20.0, "standoff_m": 10.0} | kwargs
    with pytest.raises(MissionError, match=message) as info:
        plan_structure(CAM, **args)
    assert "\n" not in str(info.value)


# --- the coverage figure itself --------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    pitch=st.floats(-40, 20),
    step=st.floats(0.05, 0.6),
    jitter=st.floats(0, 20),
)
def test_joining_footprints_row_by_row_keeps_their_union(seed, pitch, step, jitter):
    """surface_coverage merges footprints before the union; the plain union must agree."""
    rng = np.random.default_rng(seed)
    target = Target(
        kind="structure",
        geometry={"type": "Point", "coordinates": list(SITL)},
        radius_m=12.0,
        height_min_m=0.0,
        height_max_m=20.0,
    )
    photos = []
    for z in rng.uniform(1.0, 25.0, size=rng.integers(1, 5)):
        angles = np.cumsum(rng.uniform(0.2, 1.8, size=40) * step)
        distance = 12.0 + rng.uniform(4.0, 15.0)
        for a in angles[angles < 2 * math.pi]:
            yaw = math.degrees(math.atan2(-math.cos(a), -math.sin(a))) + rng.normal(0, jitter)
            photos.append(
                Photo(distance * math.cos(a), distance * math.sin(a), z, yaw, pitch, 0, 0, 0)
            )
    coverage, gsd = surface_coverage(target, CAM, photos, SITE)
    surface = target_surface(target, SITE)
    pieces = footprints(surface, CAM, photos).pieces
    plain = shapely.union_all(shapely.polygons(pieces)).area if len(pieces) else 0.0
    assert coverage == pytest.approx(plain / (surface.perimeter_m * 20.0), abs=1e-6)
    assert (gsd is None) == (len(pieces) == 0)


def test_no_leg_of_any_sortie_passes_through_the_structure():
    # A long building and short batteries: sorties end part-way round, on the far side.
    building = footprint((-30, -10), (30, -10), (30, 10), (-30, 10))
    height = 40.0
    plan = plan_structure(
        CAM, footprint=building, height_m=height, standoff_m=8.0, vehicle=Vehicle(endurance_s=300.0)
    )
    assert len(plan.sorties) > 2
    walls = Polygon([(-30, -10), (30, -10), (30, 10), (-30, 10)])
    for path in analyse(plan).paths:
        xyz = np.array(path)
        x, y = SITE.to_local(xyz[:, 0], xyz[:, 1])
        for k in range(len(xyz) - 1):
            leg = LineString([(x[k], y[k]), (x[k + 1], y[k + 1])])
            if leg.length > 0 and leg.intersects(walls):
                assert min(xyz[k, 2], xyz[k + 1, 2]) >= height, f"leg {k} crosses the building low"
