"""Pixel to ground: markers drawn into synthetic frames come back where they lie, within the
stated error; the error is honest (Monte Carlo) and grows with range; footprints."""

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mission.camera import PRESETS
from mission.geodesy import LocalFrame
from mission.optics import CameraPose
from mission.track import TrackSample
from vision.errors import VisionError
from vision.placement import Locator, Uncertainty

LON, LAT = 149.165230, -35.363261
FRAME = LocalFrame(LON, LAT)
CAMERA = PRESETS["phantom4-rtk"]
W, H = 960, 540
T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def sample_at(x: float, y: float, alt: float, yaw: float, gimbal: float | None = -90.0, **kw):
    lon, lat = FRAME.point_to_wgs84(x, y)
    return TrackSample(T0, lon, lat, alt, yaw_deg=yaw, gimbal_pitch_deg=gimbal, **kw)


def render_marker(pose: CameraPose, marker_xy: tuple[float, float], radius_m: float) -> np.ndarray:
    """A frame of grey ground with a red disc at ``marker_xy``, seen from ``pose``.

    The disc is drawn on a north-up ground map (2 cm/px) that a homography from the ground
    plane to the image warps into the frame, as a renderer of flat ground would.
    """
    import cv2

    res, half = 0.02, 4.0  # metres per map pixel, half the map's side
    side = round(2 * half / res)
    ground = np.full((side, side, 3), 128, np.uint8)
    cv2.circle(ground, (side // 2, side // 2), round(radius_m / res), (0, 0, 255), -1, cv2.LINE_AA)
    mx, my = marker_xy
    # map (col, row), corner origin -> world (x, y, 1); pixel centres sit at +0.5
    to_world = np.array([[res, 0, mx - half], [0, -res, my + half], [0, 0, 1.0]])
    rt = pose.rotation.T
    plane = np.column_stack([rt[:, 0], rt[:, 1], -rt @ np.asarray(pose.position)])
    homography = pose.intrinsics.matrix @ plane @ to_world
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])  # OpenCV's centre-origin grid
    warp = np.linalg.inv(shift) @ homography @ shift
    return cv2.warpPerspective(
        ground, warp, (W, H), flags=cv2.INTER_LINEAR, borderValue=(128, 128, 128)
    )


def marker_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """The box around the red pixels, as a detector would draw it (corner-origin pixels)."""
    b, g, r = (image[:, :, i].astype(int) for i in range(3))
    ys, xs = np.nonzero((r - np.maximum(b, g)) > 40)
    assert len(xs) > 3, "the marker is not in the frame"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


VIEWS = [
    # gimbal, yaw, stabilised, roll, pitch, where in the frame (fractions of W, H)
    (-90.0, 0.0, True, 0.0, 0.0, (0.5, 0.5)),
    (-90.0, 137.0, True, 0.0, 0.0, (0.8, 0.2)),
    (-60.0, 45.0, True, 0.0, 0.0, (0.3, 0.7)),
    (-45.0, 200.0, True, 0.0, 0.0, (0.6, 0.6)),
    (-45.0, 300.0, True, 0.0, 0.0, (0.5, 0.25)),
    (-45.0, 290.0, False, 4.0, -6.0, (0.4, 0.6)),
    (-60.0, 90.0, False, -5.0, 3.0, (0.7, 0.4)),
]


@pytest.mark.parametrize(("gimbal", "yaw", "stabilised", "roll", "pitch", "where"), VIEWS)
def test_marker_in_a_rendered_frame_comes_back_within_the_stated_error(
    gimbal, yaw, stabilised, roll, pitch, where
):
    locator = Locator(CAMERA, FRAME, W, H, stabilised=stabilised)
    sample = sample_at(12.0, -30.0, 40.0, yaw, gimbal, roll_deg=roll, pitch_deg=pitch)
    pose = locator.pose(sample)
    aim = pose.to_ground(np.array([[where[0] * W, where[1] * H]]))[0]
    marker = (round(float(aim[0]), 1), round(float(aim[1]), 1))
    radius = 0.15
    box = marker_box(render_marker(pose, marker, radius))
    placed = locator.locate(box, sample)
    assert placed is not None
    miss = math.dist((placed.x_m, placed.y_m), marker)
    assert miss <= placed.error_m
    # only the bottom-centre convention (half the disc) and pixel rounding separate them
    gsd = pose.position[2] / locator.intrinsics.focal_px / math.sin(math.radians(-gimbal))
    assert miss <= radius + 3 * gsd / math.sin(math.radians(-gimbal))
    assert (placed.lon, placed.lat) == pytest.approx(
        FRAME.point_to_wgs84(placed.x_m, placed.y_m), abs=1e-12
    )


def test_projected_marker_comes_back_exactly():
    """A box whose bottom centre is the marker's pixel places it within millimetres."""
    locator = Locator(CAMERA, FRAME, 1920, 1080)
    for gimbal, yaw in [(-90, 0), (-60, 33), (-45, 250)]:
        sample = sample_at(-5.0, 7.0, 40.0, yaw, gimbal)
        pose = locator.pose(sample)
        marker = pose.to_ground(np.array([[700.0, 800.0]]))[0]
        pixels, ahead = pose.project(np.array([[marker[0], marker[1], 0.0]]))
        ((u, v),) = pixels
        assert ahead.all()
        placed = locator.locate((u - 12, v - 30, u + 12, v), sample)
        assert placed is not None
        assert math.dist((placed.x_m, placed.y_m), marker) < 1e-6 < placed.error_m


poses = st.tuples(
    st.floats(-200, 200),  # x
    st.floats(-200, 200),  # y
    st.floats(5, 150),  # height
    st.floats(0, 360, exclude_max=True),  # yaw
    st.floats(-90, -25),  # gimbal pitch
    st.floats(-15, 15),  # roll
    st.floats(-15, 15),  # pitch
    st.booleans(),  # stabilised
)
lenses = st.none() | st.tuples(
    st.floats(-0.3, 0.1), st.floats(-0.05, 0.1), st.floats(-0.002, 0.002), st.floats(-0.002, 0.002)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(poses, lenses, st.floats(0.02, 0.98), st.floats(0.02, 0.98))
def test_round_trip_property(pose_args, lens, fu, fv):
    """Ground point -> (distorted) pixel -> ground point, for any pose that sees it."""
    import cv2

    x, y, z, yaw, gimbal, roll, pitch, stabilised = pose_args
    locator = Locator(CAMERA, FRAME, W, H, distortion=lens, stabilised=stabilised)
    sample = sample_at(x, y, z, yaw, gimbal, roll_deg=roll, pitch_deg=pitch)
    pose = locator.pose(sample)
    ground = pose.to_ground(np.array([[fu * W, fv * H]]))[0]
    if not np.isfinite(ground).all() or math.dist(ground, pose.position[:2]) > 200:
        return  # at or above the horizon, or beyond the range the locator places
    point = np.array([[ground[0], ground[1], 0.0]])
    if lens is None:
        pixel = pose.project(point)[0][0]
    else:  # the lens bends the ray: project through OpenCV's model
        rvec, _ = cv2.Rodrigues(pose.rotation.T)
        tvec = -pose.rotation.T @ np.asarray(pose.position)
        k = locator.intrinsics.matrix
        pixel = cv2.projectPoints(point, rvec, tvec, k, np.array(lens))[0].reshape(2)
    placed = locator.locate_pixel(float(pixel[0]), float(pixel[1]), sample)
    assert placed is not None
    assert math.dist((placed.x_m, placed.y_m), ground) < 1e-4 * max(1.0, math.dist(ground, (x, y)))
    assert placed.error_m >= math.sqrt(2) * locator.uncertainty.horizontal_m


def test_error_grows_with_obliquity_and_range():
    locator = Locator(CAMERA, FRAME, 1920, 1080)
    centre = [
        locator.locate_pixel(960, 540, sample_at(0, 0, 40.0, 10.0, g)) for g in (-90, -60, -45, -30)
    ]
    errors = [p.error_m for p in centre if p is not None]
    assert len(errors) == 4 and errors == sorted(errors) and errors[-1] > 1.5 * errors[0]
    oblique = sample_at(0, 0, 40.0, 10.0, -45)
    rows = [locator.locate_pixel(960, v, oblique) for v in (1000, 700, 400, 100)]
    ranges = [math.hypot(p.x_m, p.y_m) for p in rows if p is not None]
    assert ranges == sorted(ranges)
    assert [p.error_m for p in rows if p is not None] == sorted(p.error_m for p in rows if p)
    higher = locator.locate_pixel(960, 540, sample_at(0, 0, 120.0, 10.0, -90))
    assert higher is not None and higher.error_m > errors[0]


def test_error_is_what_the_input_errors_give():
    """Monte Carlo: perturbing every input by its stated sigma scatters placements by about
    ``error_m`` (camera fixed to the frame, so vehicle roll and pitch tilt it)."""
    rng = np.random.default_rng(5)
    sig = Uncertainty(horizontal_m=0.7, vertical_m=1.0, yaw_deg=3.0, tilt_deg=1.5, pixel_px=3.0)
    locator = Locator(CAMERA, FRAME, 1920, 1080, stabilised=False, uncertainty=sig)
    truth = sample_at(10.0, 20.0, 40.0, 65.0, -60.0, roll_deg=0.0, pitch_deg=0.0)
    u, v = 1300.0, 700.0
    stated = locator.locate_pixel(u, v, truth)
    assert stated is not None
    misses = []
    for _ in range(600):
        e = rng.normal(size=8)
        x, y = 10.0 + e[0] * sig.horizontal_m, 20.0 + e[1] * sig.horizontal_m
        moved = sample_at(
            x,
            y,
            40.0 + e[2] * sig.vertical_m,
            65.0 + e[3] * sig.yaw_deg,
            -60.0,
            roll_deg=e[4] * sig.tilt_deg,
            pitch_deg=e[5] * sig.tilt_deg,
        )
        p = locator.locate_pixel(u + e[6] * sig.pixel_px, v + e[7] * sig.pixel_px, moved)
        assert p is not None
        misses.append(math.dist((p.x_m, p.y_m), (stated.x_m, stated.y_m)))
    rms = math.sqrt(np.mean(np.square(misses)))
    assert rms == pytest.approx(stated.error_m, rel=0.12)


def test_time_uncertainty_counts_through_the_ground_speed():
    locator = Locator(CAMERA, FRAME, 1920, 1080, uncertainty=Uncertainty(time_s=0.2))
    still = sample_at(0, 0, 40.0, 0.0)
    moving = replace(still, ground_speed_ms=10.0)
    a = locator.locate((900, 500, 1000, 600), still)
    b = locator.locate((900, 500, 1000, 600), moving)
    assert a is not None and b is not None
    assert b.error_m**2 - a.error_m**2 == pytest.approx((10.0 * 0.2) ** 2)


def test_rays_that_miss_the_ground_place_nothing():
    locator = Locator(CAMERA, FRAME, 1920, 1080, max_range_m=150.0)
    level = sample_at(0, 0, 40.0, 0.0, 0.0)  # the horizon across the middle
    assert locator.locate_pixel(960, 100, level) is None  # sky
    assert locator.locate_pixel(960, 560, level) is None  # ground, but kilometres away
    near = locator.locate_pixel(960, 1070, level)
    assert near is not None and near.y_m == pytest.approx(40.0 / (530 / 1280), rel=1e-6)
    assert locator.locate_pixel(960, 540, sample_at(0, 0, 0.0, 0.0)) is None  # on the ground


def test_gimbal_pitch_default_and_distortion_shift():
    down = Locator(CAMERA, FRAME, W, H)
    ahead = Locator(CAMERA, FRAME, W, H, default_gimbal_pitch_deg=-45.0)
    unknown = sample_at(0, 0, 30.0, 0.0, None)
    a, b = down.locate_pixel(480, 270, unknown), ahead.locate_pixel(480, 270, unknown)
    assert a is not None and b is not None
    assert a.y_m == pytest.approx(0.0, abs=1e-9) and b.y_m == pytest.approx(30.0)
    barrel = Locator(CAMERA, FRAME, W, H, distortion=(-0.2, 0.0, 0.0, 0.0))
    corner = sample_at(0, 0, 30.0, 0.0)
    plain, bent = down.locate_pixel(900, 500, corner), barrel.locate_pixel(900, 500, corner)
    assert plain is not None and bent is not None
    # barrel distortion pulls the corners in: the true ground there is farther out
    assert math.hypot(bent.x_m, bent.y_m) > math.hypot(plain.x_m, plain.y_m) + 0.5
    zero = Locator(CAMERA, FRAME, W, H, distortion=(0, 0, 0, 0, 0))
    assert zero.distortion is None


def test_footprints():
    locator = Locator(CAMERA, FRAME, 1920, 1080, max_range_m=200.0)
    nadir = locator.footprint(sample_at(5.0, -3.0, 40.0, 30.0))
    across = 40.0 * CAMERA.sensor_width_mm / CAMERA.focal_length_mm
    assert nadir.area == pytest.approx(across * across * 1080 / 1920)
    assert nadir.centroid.x == pytest.approx(5.0) and nadir.centroid.y == pytest.approx(-3.0)
    assert nadir.is_valid and nadir.exterior.is_ccw
    oblique = locator.footprint(sample_at(0, 0, 40.0, 0.0, -45.0))
    assert oblique.area > nadir.area and oblique.bounds[1] > 0  # all of it ahead (north)
    horizon = locator.footprint(sample_at(0, 0, 40.0, 90.0, -10.0))
    assert horizon.is_valid and horizon.area > 0
    assert max(math.hypot(x, y) for x, y in horizon.exterior.coords) <= 200.0 + 1e-6
    assert horizon.bounds[0] > 0  # it looks east
    shorter = locator.footprint(sample_at(0, 0, 40.0, 90.0, -10.0), max_range_m=100.0)
    assert shorter.within(horizon.buffer(1e-6)) and shorter.area < horizon.area
    assert locator.footprint(sample_at(0, 0, 40.0, 0.0, 30.0)).is_empty  # sky only
    assert locator.footprint(sample_at(0, 0, 0.0, 0.0)).is_empty  # on the ground
    # every pixel that places lies in the footprint
    sample = sample_at(0, 0, 40.0, 120.0, -30.0)
    seen = locator.footprint(sample).buffer(1e-6)
    from shapely.geometry import Point

    for u in range(0, 1921, 240):
        for v in range(0, 1081, 135):
            p = locator.locate_pixel(u, v, sample)
            if p is not None:
                assert seen.contains(Point(p.x_m, p.y_m))


def test_bad_input_gives_one_line_errors():
    locator = Locator(CAMERA, FRAME, W, H)
    no_heading = replace(sample_at(0, 0, 40.0, 0.0), yaw_deg=None)
    letters: Any = "k1"
    cases = [
        (lambda: locator.pose(no_heading), "has no yaw_deg"),
        (lambda: locator.locate((1, 2, 3), sample_at(0, 0, 9, 0)), "must be four numbers"),
        (lambda: locator.locate((5, 2, 3, 4), sample_at(0, 0, 9, 0)), "x1 <= x2"),
        (lambda: Locator(CAMERA, FRAME, W, H, distortion=(1, 2)), "4 or 5 finite numbers"),
        (lambda: Locator(CAMERA, FRAME, W, H, distortion=letters), "4 or 5"),
        (lambda: Locator(CAMERA, FRAME, 0, H), "frame size 0x540 px must be > 0"),
        (lambda: Locator(CAMERA, FRAME, W, H, default_gimbal_pitch_deg=400), "-180..180"),
        (lambda: Locator(CAMERA, FRAME, W, H, max_range_m=0), "maximum range"),
        (lambda: Uncertainty(yaw_deg=-1), "uncertainty yaw_deg -1 must be"),
        (lambda: Uncertainty(pixel_px=math.nan), "uncertainty pixel_px nan"),
    ]
    for call, message in cases:
        with pytest.raises(VisionError, match=message) as info:
            call()
        assert "\n" not in str(info.value)
