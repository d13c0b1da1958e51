"""Footage: probing videos (good, unreadable, empty, cut short), aligning them with a track,
and coverage-based frame selection. Videos are written here with OpenCV, a few kB each."""

import math
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from mission.camera import PRESETS
from mission.geodesy import LocalFrame
from mission.track import CameraEvent, Track, TrackSample
from vision.errors import VisionError
from vision.footage import VideoInfo, align, plan_frames, probe_video, select_frames
from vision.placement import Locator

LON, LAT = 149.165230, -35.363261
FRAME = LocalFrame(LON, LAT)
CAMERA = PRESETS["phantom4-rtk"]
T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
W, H, BITS = 96, 48, 12  # frames carry their index as 12 black/white columns


def frame_image(index: int) -> np.ndarray:
    image = np.zeros((H, W, 3), np.uint8)
    for bit in range(BITS):
        if index >> bit & 1:
            image[:, bit * 8 : bit * 8 + 8] = 255
    return image


def index_of(image: np.ndarray) -> int:
    columns = image[:, :, 1].reshape(H, BITS, 8).mean(axis=(0, 2))
    return sum(1 << bit for bit in range(BITS) if columns[bit] > 127)


def write_video(path: Path, frames: int, fps: float = 10.0, fourcc: str = "mp4v") -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (W, H))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(frame_image(i))
    writer.release()
    return path


def moov_first(data: bytes) -> bytes:
    """The same MP4 with its index (moov) before the media data, as streaming files have it:
    cut short, such a file still opens and claims every frame."""
    boxes, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        boxes.append((kind, data[at : at + size]))
        at += size
    moov = bytearray(next(body for kind, body in boxes if kind == b"moov"))
    stco = moov.find(b"stco")
    while stco >= 0:  # chunk offsets move by the moov's size
        (count,) = struct.unpack(">I", moov[stco + 8 : stco + 12])
        for k in range(count):
            cell = stco + 12 + 4 * k
            (offset,) = struct.unpack(">I", moov[cell : cell + 4])
            moov[cell : cell + 4] = struct.pack(">I", offset + len(moov))
        stco = moov.find(b"stco", stco + 4)
    head = b"".join(body for kind, body in boxes if kind not in (b"moov", b"mdat"))
    return head + bytes(moov) + next(body for kind, body in boxes if kind == b"mdat")


def straight_track(seconds: float = 40.0, speed: float = 5.0, alt: float = 40.0, **kw) -> Track:
    """Northward at constant speed and height, a sample every 0.2 s."""
    samples = []
    for k in range(round(seconds / 0.2) + 1):
        t = k * 0.2
        lon, lat = FRAME.point_to_wgs84(0.0, speed * t)
        samples.append(TrackSample(T0 + timedelta(seconds=t), lon, lat, alt, yaw_deg=0.0, **kw))
    return Track(tuple(samples), source="line.csv")


def locator(**kw) -> Locator:
    return Locator(CAMERA, FRAME, W, H, **kw)


# --- probing ---------------------------------------------------------------------------


def test_probe_a_good_video(tmp_path):
    path = write_video(tmp_path / "flight.mp4", 25, fps=12.5)
    info = probe_video(path)
    assert info == VideoInfo(str(path), 12.5, 25, W, H, 2.0)
    assert info.time_s(5) == 0.4


def one_line(call) -> str:
    with pytest.raises(VisionError) as caught:
        call()
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_probe_refuses_what_cannot_be_used(tmp_path):
    good = write_video(tmp_path / "good.mp4", 30)
    data = good.read_bytes()
    cases: list[tuple[Path, str]] = [(tmp_path / "none.mp4", "no such video file")]
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all " * 50)
    cases.append((junk, "not a video OpenCV can read"))
    cut = tmp_path / "cut.mp4"  # camera power lost: the index at the end never written
    cut.write_bytes(data[: len(data) // 2])
    cases.append((cut, "not a video OpenCV can read"))
    streaming = moov_first(data)
    assert probe_video(write_bytes(tmp_path / "moov_first.mp4", streaming)).frame_count == 30
    cases.append(
        (write_bytes(tmp_path / "partial.mp4", streaming[: len(streaming) * 2 // 3]), "truncated")
    )
    avi = write_video(tmp_path / "good.avi", 30, fourcc="MJPG").read_bytes()
    cases.append((write_bytes(tmp_path / "partial.avi", avi[: len(avi) // 2]), "truncated"))
    cases.append((write_video(tmp_path / "empty.avi", 0, fourcc="MJPG"), "no frames that decode"))
    cases.append((write_video(tmp_path / "fast.mp4", 3, fps=5000), "5000 fps is missing or absurd"))
    cases.append((write_video(tmp_path / "slow.mp4", 3, fps=0.01), "0.01 fps is missing or absurd"))
    cases.append((tmp_path, "no such video file"))
    for path, message in cases:
        text = one_line(lambda path=path: probe_video(path))
        assert text.startswith(f"{path}: ") and message in text, text
    partial = one_line(lambda: probe_video(tmp_path / "partial.mp4"))
    assert "says 30 frames but frame 29 cannot be decoded" in partial


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- alignment -------------------------------------------------------------------------


def test_align_modes(tmp_path):
    info = VideoInfo("v.mp4", 10.0, 101, W, H, 10.1)  # 10 s from the first frame to the last
    ground = [TrackSample(T0 + timedelta(seconds=t), LON, LAT, 0.0, yaw_deg=0.0) for t in range(5)]
    flying = straight_track(30.0)
    later = [replace_time(s, 5.0) for s in flying.samples]
    photo = CameraEvent(T0 + timedelta(seconds=8), LON, LAT, 40.0)
    track = Track(tuple(ground) + tuple(later), (photo,), source="f.tlog")
    assert align(track, info) == T0 + timedelta(seconds=5)  # the first sample >= 0.5 m
    assert align(track, info, mode="camera") == T0 + timedelta(seconds=8)
    assert align(track, info, offset_s=12.25) == T0 + timedelta(seconds=12.25)
    assert align(track, info, offset_s=25.2) == T0 + timedelta(seconds=25.2)  # within slack
    message = one_line(lambda: align(track, info, offset_s=30.0))
    assert message == (
        "v.mp4: the footage runs 2024-05-01T09:30:30.000Z to 2024-05-01T09:30:40.000Z "
        "(aligned by offset 30 s) but the track f.tlog covers only 2024-05-01T09:30:00.000Z "
        "to 2024-05-01T09:30:35.000Z; offsets 0 to 25.0 s fit"
    )
    assert "aligned by offset -3 s" in one_line(lambda: align(track, info, offset_s=-3))
    long = VideoInfo("v.mp4", 10.0, 1000, W, H, 100.0)
    assert "longer than the track" in one_line(lambda: align(track, long))
    assert "no camera events" in one_line(lambda: align(Track(tuple(ground)), info, mode="camera"))
    assert "no takeoff" in one_line(lambda: align(Track(tuple(ground)), info))
    assert "mode 'gps' is not one of: takeoff, camera" in one_line(
        lambda: align(track, info, mode="gps")
    )
    assert "finite" in one_line(lambda: align(track, info, offset_s=math.nan))


def replace_time(sample: TrackSample, shift_s: float) -> TrackSample:
    from dataclasses import replace

    return replace(sample, time=sample.time + timedelta(seconds=shift_s))


# --- frame selection ---------------------------------------------------------------------


@pytest.mark.parametrize("max_overlap", [0.5, 0.8])
def test_selection_follows_ground_covered(tmp_path, max_overlap):
    """Straight and level at constant speed: frames come every
    footprint length x (1 - max_overlap) / speed."""
    fps, speed = 10.0, 5.0
    path = write_video(tmp_path / "line.mp4", 300, fps=fps)
    info = probe_video(path)
    track = straight_track(40.0, speed)
    loc = locator()
    t0 = align(track, info, offset_s=2.0)
    frames = list(select_frames(path, info, track, t0, loc, max_overlap=max_overlap))
    along = 40.0 * CAMERA.sensor_width_mm / CAMERA.focal_length_mm * H / W  # north-south
    spacing = along * (1 - max_overlap) / speed * fps
    indices = [f.index for f in frames]
    assert indices[0] == 0
    assert indices[-1] == info.frame_count - 1  # the end, which shows new ground, is taken
    gaps = np.diff(indices[:-1])  # the first frame at or after the spacing, give or take noise
    assert len(gaps) >= 5 and (gaps >= spacing - 1e-6).all() and (gaps <= spacing + 1.01).all()
    assert len(indices) == len(plan_frames(info, track, t0, loc, max_overlap))
    for f in frames:
        assert index_of(f.image) == f.index and f.image.shape == (H, W, 3)
        assert f.time_s == f.index / fps and f.utc == t0 + timedelta(seconds=f.time_s)
        at = track.at(f.utc)
        assert (f.sample.lon_deg, f.sample.lat_deg, f.sample.yaw_deg) == (
            at.lon_deg,
            at.lat_deg,
            at.yaw_deg,
        )
        assert f.sample.ground_speed_ms == pytest.approx(speed)  # the track has none


def test_every_frame_yields_all(tmp_path):
    path = write_video(tmp_path / "all.mp4", 40)
    info = probe_video(path)
    track = straight_track(10.0)
    frames = select_frames(path, info, track, track.start, locator(), every_frame=True)
    assert [index_of(f.image) for f in frames] == list(range(40))
    chosen = select_frames(path, info, track, track.start, locator(), indices=[39, 3, 17, 3])
    assert [(f.index, index_of(f.image)) for f in chosen] == [(3, 3), (17, 17), (39, 39)]
    outside = select_frames(path, info, track, track.start, locator(), indices=[40])
    assert "outside the video's 0..39" in one_line(lambda: list(outside))


def hover(seconds: float, **per_second) -> Track:
    """Hovering over home; each keyword gives a sample attribute as a function of time."""
    samples = []
    for k in range(round(seconds * 5) + 1):
        t = k / 5
        values = {name: f(t) for name, f in per_second.items()}
        values.setdefault("alt_rel_m", 40.0)
        values.setdefault("yaw_deg", 0.0)
        samples.append(TrackSample(T0 + timedelta(seconds=t), LON, LAT, **values))
    return Track(tuple(samples))


def test_turning_descending_and_looking_at_the_sky():
    info = VideoInfo("v.mp4", 10.0, 200, W, H, 20.0)
    loc = locator()
    turning = hover(20.0, yaw_deg=lambda t: 10.0 * t)  # 45 degrees every 4.5 s
    # at 0.5 (two looks): every 45 degrees, and the end: its corners, turned since frame 180,
    # show new ground
    assert plan_frames(info, turning, T0, loc, 0.5) == [0, 45, 90, 135, 180, 199]
    falling = hover(20.0, alt_rel_m=lambda t: 80.0 - 3.0 * t)  # 80 m down to 23 m
    # the footprint halves at 80/sqrt(2) = 56.6 m and at 40 m, 28.3 m: t = 7.8, 13.3, 17.2 s
    assert plan_frames(info, falling, T0, loc, 0.5) == pytest.approx([0, 78, 133, 172], abs=1)
    sky = hover(20.0, gimbal_pitch_deg=lambda t: 30.0 if t < 10 else -90.0)
    assert plan_frames(info, sky, T0, loc)[0] > 90  # nothing taken while only sky is seen
    assert plan_frames(info, hover(20.0), T0, loc) == [0]  # hovering sees nothing new


def test_selection_errors(tmp_path):
    info = VideoInfo("v.mp4", 10.0, 20, W, H, 2.0)
    blind = Track(tuple(replace_yaw(s) for s in hover(5.0).samples))
    assert "has no yaw_deg" in one_line(lambda: plan_frames(info, blind, T0, locator()))
    for bad in (1.0, -0.1, math.nan):
        assert "maximum overlap" in one_line(
            lambda bad=bad: plan_frames(info, hover(5.0), T0, locator(), bad)
        )
    # a file that loses frames after probing (replaced, or damaged on a bad disk)
    path = write_video(tmp_path / "v.avi", 30, fourcc="MJPG")
    info = probe_video(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    frames = select_frames(path, info, hover(5.0), T0, locator(), every_frame=True)
    assert "cannot be decoded" in one_line(lambda: list(frames))


def replace_yaw(sample: TrackSample) -> TrackSample:
    from dataclasses import replace

    return replace(sample, yaw_deg=None)
