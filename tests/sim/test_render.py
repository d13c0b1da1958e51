"""The renderer: views agree with mission.optics, boxes hold the defects, footage of a track."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from mission.camera import PRESETS
from mission.optics import CameraPose, Intrinsics
from mission.track import Track, TrackSample
from sim.errors import SimError
from sim.marks import DEFECT_CLASSES
from sim.render import (
    SKY_BGR,
    Renderer,
    defect_boxes,
    ground_homography,
    render_track,
    render_view,
    track_pose,
)
from sim.world import World

HOME = (149.16523, -35.363261)
CAMERA = PRESETS["mavic3-enterprise"]
K = Intrinsics.of(CAMERA, 1920, 1080)
SMALL = Intrinsics(480, 360, K.focal_px)  # the footage's pixel scale, a smaller frame
T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def city() -> World:
    return World.sample()


@pytest.fixture(scope="module")
def target() -> tuple[World, tuple[float, float]]:
    """Plain grass with one black disc (0.4 m) at a known longitude and latitude."""
    world = World("t", HOME)
    lon, lat = (float(v) for v in world.frame.to_wgs84(12.3, -7.7))
    return world.with_mark("target", lon, lat, 0.4), (lon, lat)


@pytest.mark.parametrize("yaw", [0.0, 37.0, 68.0, 135.0, 250.0, 301.0])
@pytest.mark.parametrize(("gimbal", "alt"), [(-90.0, 40.0), (-50.0, 40.0), (-45.0, 25.0)])
def test_a_known_point_lands_where_the_pose_projects_it(target, yaw, gimbal, alt):
    world, (lon, lat) = target
    x, y = (float(v) for v in world.frame.to_local(lon, lat))
    t = np.radians(yaw)
    back = alt / np.tan(np.radians(-gimbal))  # the target near the middle of the view
    pose = CameraPose.at(SMALL, x - back * np.sin(t) + 1.5, y - back * np.cos(t) + 1.0, alt, yaw,
                         gimbal)  # fmt: skip
    pixels, ahead = pose.project(np.array([[x, y, 0.0]]))
    assert ahead[0]
    u, v = (float(p) for p in pixels[0])
    image = render_view(world, pose)
    r0, c0 = int(v) - 40, int(u) - 40
    patch = image[r0 : r0 + 80, c0 : c0 + 80].astype(float).mean(axis=2)
    rows, cols = np.nonzero(patch < 40)
    assert len(rows) > 30
    # the disc's centroid, in optics' pixel convention (pixel centres at +0.5)
    assert cols.mean() + c0 + 0.5 == pytest.approx(u, abs=0.3)
    assert rows.mean() + r0 + 0.5 == pytest.approx(v, abs=0.3)


def test_ground_homography_is_the_pose_projection():
    pose = CameraPose.at(K, 3.0, -4.0, 35.0, 20.0, -60.0)
    pts = np.array([[10.0, 40.0, 0.0], [-5.0, 25.0, 0.0], [0.0, 60.0, 0.0]])
    h = ground_homography(pose) @ np.column_stack([pts[:, :2], np.ones(3)]).T
    assert np.allclose((h[:2] / h[2]).T, pose.project(pts)[0], atol=1e-9)


@pytest.mark.parametrize("cls", DEFECT_CLASSES)
def test_each_defect_is_drawn_inside_its_box(city: World, cls: str):
    """Render the city with and without one defect: what changes lies in its box, and the box
    is tight around the change."""
    defect = next(m for m in city.defects if m.kind == cls)
    without = replace(city, marks=tuple(m for m in city.marks if m.id != defect.id))
    pose = CameraPose.at(SMALL, defect.x_m + 2.0, defect.y_m - 1.5, 30.0, 25.0, -90.0)
    boxes = dict((m.id, b) for m, b in defect_boxes(city, pose))
    assert defect.id in boxes
    x1, y1, x2, y2 = boxes[defect.id]
    centre = pose.project(np.array([[defect.x_m, defect.y_m, 0.0]]))[0][0]
    assert x1 < centre[0] < x2 and y1 < centre[1] < y2
    changed = (
        np.abs(render_view(city, pose).astype(int) - render_view(without, pose).astype(int)).max(
            axis=2
        )
        > 12
    )
    rows, cols = np.nonzero(changed)
    assert len(rows) > 20
    inside = (cols + 0.5 >= x1 - 1.5) & (cols + 0.5 <= x2 + 1.5)
    inside &= (rows + 0.5 >= y1 - 1.5) & (rows + 0.5 <= y2 + 1.5)
    if cls == "missing_disc":
        # the label is the gap and a disc either side; the rest of the string lies outside
        box = changed[int(y1) : int(y2) + 1, int(x1) : int(x2) + 1]
        assert box.any(axis=0)[[0, -1]].all()  # discs at both ends of the box
        return
    assert inside.mean() > 0.97
    # tight: what changed reaches near every side of the box
    assert cols.min() + 0.5 < x1 + 3 and cols.max() + 0.5 > x2 - 3
    assert rows.min() + 0.5 < y1 + 3 and rows.max() + 0.5 > y2 - 3


def test_boxes_are_clipped_and_mostly_hidden_defects_dropped(city: World):
    defect = next(m for m in city.defects if m.kind == "rust")
    pose0 = CameraPose.at(SMALL, defect.x_m, defect.y_m, 30.0, 0.0, -90.0)
    (x1, _y1, x2, _y2) = next(b for m, b in defect_boxes(city, pose0) if m.id == defect.id)
    width_m = (x2 - x1) * 30.0 / SMALL.focal_px
    half = SMALL.width_px / 2 * 30.0 / SMALL.focal_px  # metres from the centre to the edge

    def box_at(shift_m: float):
        pose = CameraPose.at(SMALL, defect.x_m + half + shift_m, defect.y_m, 30.0, 0.0, -90.0)
        return next((b for m, b in defect_boxes(city, pose) if m.id == defect.id), None)

    inside = box_at(-0.3 * width_m)  # the defect's centre 0.3 of its width inside the left edge
    assert inside is not None and inside[0] == 0.0 and inside[2] < x2 - x1
    assert box_at(0.3 * width_m) is None  # only 0.2 of it in the frame


def test_above_the_horizon_is_sky(city: World):
    image = render_view(city, CameraPose.at(SMALL, 0.0, 0.0, 30.0, 0.0, 0.0))
    assert (image[:100] == SKY_BGR).all()
    assert not (image[-100:] == SKY_BGR).all(axis=2).any()


def test_the_renderer_refuses_a_camera_underground(city: World):
    with pytest.raises(SimError, match="above the ground"):
        Renderer(city).view(CameraPose.at(SMALL, 0.0, 0.0, 0.0, 0.0, -90.0))


def _track(world: World, seconds: float = 3.0, ground_s: float = 0.5) -> Track:
    """Take off at ``ground_s``, then 40 m over the bridge deck heading east."""
    deck = next(m for m in world.defects if m.id.startswith("bridge-deck"))
    samples = []
    for i in range(int(seconds * 10) + 1):
        t = i / 10
        lon, lat = world.frame.to_wgs84(deck.x_m - 4.0 + 3.0 * t, deck.y_m)
        alt = 0.0 if t < ground_s else 40.0
        samples.append(
            TrackSample(T0 + timedelta(seconds=t), float(lon), float(lat), alt, yaw_deg=90.0)
        )
    return Track(tuple(samples), home=(*world.home, 584.0), source="test.csv")


def _probe(path: Path) -> tuple[int, float, int, int, list[np.ndarray]]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps, w, h = cap.get(cv2.CAP_PROP_FPS), cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(
        cv2.CAP_PROP_FRAME_HEIGHT)  # fmt: skip
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return len(frames), fps, int(w), int(h), frames


def test_footage_of_a_track(tmp_path: Path, city: World):
    track = _track(city)
    out = tmp_path / "deck.mp4"
    calls: list[tuple[int, int]] = []
    result = render_track(city, track, CAMERA, out, fps=10.0, size=(480, 270),
                          progress=lambda d, t: calls.append((d, t)))  # fmt: skip
    n, fps, w, h, frames = _probe(out)
    # from takeoff (0.5 s) to the end (3 s): 2.5 s at 10 fps
    assert (n, fps, w, h) == (25, 10.0, 480, 270) == (result.frames, result.fps, 480, 270)
    assert result.start == T0 + timedelta(seconds=0.5) and result.start_offset_s == 0.5
    assert calls[-1] == (25, 25)
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left
    # frame i is the view from the track at start + i / fps
    k = Intrinsics.of(CAMERA, 480, 270)
    for i in (0, 13, 24):
        pose = track_pose(city, track.at(result.start + timedelta(seconds=i / 10)), k)
        expected = render_view(city, pose).astype(float)
        assert np.abs(frames[i].astype(float) - expected).mean() < 4.0
        if i == 24:  # and not the view of another moment
            other = track_pose(city, track.at(result.start), k)
            assert np.abs(frames[i] - render_view(city, other).astype(float)).mean() > 8.0
    deck = next(m for m in city.defects if m.id.startswith("bridge-deck"))
    assert deck.id in result.seen and result.seen[deck.id].frames >= 5
    assert all(s.max_px > 3 for s in result.seen.values())


def test_footage_from_an_offset_for_a_duration(tmp_path: Path, city: World):
    track = _track(city)
    result = render_track(city, track, CAMERA, tmp_path / "a.mp4", fps=5.0, size=(320, 180),
                          start_offset_s=1.0, duration_s=1.2)  # fmt: skip
    assert result.start == T0 + timedelta(seconds=1) and result.frames == 6
    assert _probe(tmp_path / "a.mp4")[0] == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fps": 0.0}, "frame rate 0 fps"),
        ({"size": (321, 240)}, "even numbers"),
        ({"gimbal_pitch_deg": -120.0}, "gimbal pitch -120"),
        ({"start_offset_s": 99.0}, "start offset 99 s is outside the track's 0..3 s"),
        ({"duration_s": 30.0}, "more than the 2.5 s the track covers"),
    ],
)
def test_bad_footage_requests_write_nothing(tmp_path: Path, city: World, kwargs, message):
    with pytest.raises(SimError, match=message):
        render_track(city, _track(city), CAMERA, tmp_path / "x.mp4", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_a_track_that_never_takes_off(tmp_path: Path, city: World):
    with pytest.raises(SimError, match="never leaves the ground"):
        render_track(city, _track(city, ground_s=99), CAMERA, tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []
