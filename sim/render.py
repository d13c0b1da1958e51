"""What a camera sees of a synthetic world: single views, label boxes, and footage of a track.

The ground is a plane, so the image of it from any pose is a homography of the ground
texture: :class:`Renderer` picks the pyramid level of :mod:`sim.ground` whose pixels match
the frame's ground sample distance, keeps a window of it around the view (reused while the
camera stays inside it), and makes each frame with one warp of it (``cv2.warpAffine`` when
looking straight down, ``cv2.warpPerspective`` otherwise). Above the horizon is sky. The pose model is :mod:`mission.optics`, the same the locator in
:mod:`vision` uses, so a ground point ``P`` drawn here lands at ``pose.project(P)``.

:func:`render_track` writes footage of a flown track (OpenCV ``mp4v``), frame ``i`` at
``time_s = i / fps`` after frame 0, which is the first airborne sample of the track, or
``track.start + start_offset_s`` when an offset is given. :func:`defect_boxes` gives the
exact image boxes of the defects a pose sees (for training data and tests).
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from mission.camera import Camera
from mission.optics import CameraPose, Intrinsics
from mission.track import Track, TrackSample
from sim.errors import SimError
from sim.ground import TILE, Ground, level_for, mpp_of
from sim.marks import Mark, shape
from sim.world import World

__all__ = [
    "RenderResult", "Renderer", "Seen", "defect_boxes", "footage_span", "ground_homography",
    "render_track", "render_view", "track_pose", "view_bounds",
]  # fmt: skip

SKY_BGR = (228, 200, 170)
HAZE_BGR = (120, 135, 120)
MAX_FPS = 240.0
MAX_SIZE_PX = 8192


@dataclass(frozen=True)
class Seen:
    """How a defect appears in footage: in how many frames (half its box or more inside),
    first and last (seconds from frame 0), and its largest box side in pixels."""

    frames: int
    first_time_s: float
    last_time_s: float
    max_px: float


@dataclass(frozen=True)
class RenderResult:
    """Footage written by :func:`render_track`; ``seen`` by defect id, for those in view."""

    path: Path
    frames: int
    fps: float
    width: int
    height: int
    start: datetime  # UTC of frame 0
    start_offset_s: float  # seconds from the track's first sample to frame 0
    seen: dict[str, Seen] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps


def ground_homography(pose: CameraPose) -> np.ndarray:
    """The 3x3 map from ground points ``(x, y, 1)`` (``z`` = 0) to pixels (optics' convention:
    ``(0, 0)`` the top-left corner of the top-left pixel)."""
    r_wc = pose.rotation.T
    t = -r_wc @ np.asarray(pose.position)
    return pose.intrinsics.matrix @ np.column_stack([r_wc[:, 0], r_wc[:, 1], t])


def _border_pixels(width: int, height: int, n: int = 9) -> np.ndarray:
    us, vs = np.linspace(0, width, n), np.linspace(0, height, n)
    return np.vstack(
        [np.column_stack([us, np.zeros(n)]), np.column_stack([us, np.full(n, height)]),
         np.column_stack([np.zeros(n), vs]), np.column_stack([np.full(n, width), vs])]
    )  # fmt: skip


def view_bounds(pose: CameraPose, max_range_m: float) -> tuple[float, float, float, float]:
    """A box (x0, y0, x1, y1, metres) holding the ground the pose sees, out to ``max_range_m``
    from the point below the camera."""
    k = pose.intrinsics
    rays = pose.rays(_border_pixels(k.width_px, k.height_px))
    x0, y0, z0 = pose.position
    z0 = max(z0, 1e-3)
    flat = np.hypot(rays[:, 0], rays[:, 1])
    reach = np.where(rays[:, 2] < -1e-9, z0 * flat / np.maximum(-rays[:, 2], 1e-9), np.inf)
    reach = np.minimum(reach, max_range_m)
    unit = rays[:, :2] / np.maximum(flat, 1e-12)[:, None]
    pts = np.array([x0, y0]) + unit * reach[:, None]
    pts = np.vstack([pts, pose.to_ground(np.array([[k.width_px / 2, k.height_px / 2]]))])
    pts = pts[np.isfinite(pts).all(axis=1)]
    return (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())


class Renderer:
    """Frames of one world; keeps its texture tiles and the last window between frames."""

    def __init__(
        self, world: World, max_window_px: int = 4096, max_range_m: float = 400.0,
        cache_tiles: int = 192, pad_px: int = TILE,
    ) -> None:  # fmt: skip
        self.world = world
        self.ground = Ground(world, cache_tiles)
        self.max_window_px = max_window_px
        self.max_range_m = max_range_m
        self.pad_px = pad_px  # room to move around the view before a new window is needed
        self._window: tuple[int, int, int, int, int, np.ndarray] | None = None
        self._turned: tuple[int, np.ndarray] = (0, np.zeros((1, 1, 4), np.uint8))

    def _gsd(self, pose: CameraPose) -> float:
        k = pose.intrinsics
        centre = np.array([[k.width_px / 2.0, k.height_px / 2.0]])
        hit = pose.to_ground(centre)[0]
        x0, y0, z0 = pose.position
        if np.isfinite(hit).all():
            slant = math.sqrt((hit[0] - x0) ** 2 + (hit[1] - y0) ** 2 + z0 * z0)
        else:
            slant = self.max_range_m
        return min(slant, self.max_range_m) / k.focal_px

    def _texture(self, pose: CameraPose) -> tuple[np.ndarray, np.ndarray]:
        """A window of the pyramid holding the view: its image (BGRA) and the map from its
        pixels (OpenCV's convention) to ground metres."""
        bx0, by0, bx1, by1 = view_bounds(pose, self.max_range_m)
        level = level_for(self._gsd(pose))
        while True:
            mpp = mpp_of(level)
            c0, c1 = math.floor(bx0 / mpp) - 2, math.ceil(bx1 / mpp) + 2
            r0, r1 = math.floor(-by1 / mpp) - 2, math.ceil(-by0 / mpp) + 2
            if max(c1 - c0, r1 - r0) <= self.max_window_px or level >= 8:
                break
            level += 1
        w = self._window
        reuse = False
        if w is not None and w[0] in (level, level - 1):  # a level finer is as good
            lv, wc0, wr0, wc1, wr1, _image = w
            f = 2 ** (level - lv)
            reuse = wc0 <= c0 * f and wr0 <= r0 * f and wc1 >= c1 * f and wr1 >= r1 * f
        if not reuse:
            import cv2

            cap = self.max_window_px
            pad_c = max(0, min(self.pad_px, (cap - (c1 - c0)) // 2))
            pad_r = max(0, min(self.pad_px, (cap - (r1 - r0)) // 2))
            c0, c1, r0, r1 = c0 - pad_c, c1 + pad_c, r0 - pad_r, r1 + pad_r
            # four channels: OpenCV warps 8-bit BGRA about a third faster than BGR
            image = cv2.cvtColor(self.ground.window(level, c0, r0, c1, r1), cv2.COLOR_BGR2BGRA)
            self._window = w = (level, c0, r0, c1, r1, image)
            self._turned = (0, image)
        assert w is not None
        lv, wc0, wr0, _wc1, _wr1, image = w
        mpp = mpp_of(lv)
        to_ground = np.array(
            [[mpp, 0.0, (wc0 + 0.5) * mpp], [0.0, -mpp, -(wr0 + 0.5) * mpp], [0.0, 0.0, 1.0]]
        )
        return image, to_ground

    def view(self, pose: CameraPose) -> np.ndarray:
        """The frame (uint8 BGR, ``height x width x 3``) the pose sees."""
        import cv2

        k = pose.intrinsics
        if pose.position[2] <= 0:
            raise SimError(f"camera height {pose.position[2]:g} m must be above the ground (> 0)")
        image, to_ground = self._texture(pose)
        to_cv = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
        m = to_cv @ ground_homography(pose) @ to_ground
        turned, m = self._turn(image, m)
        inv = np.linalg.inv(m)  # output pixel -> window pixel
        w, h = k.width_px, k.height_px
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        edge, haze = cv2.BORDER_CONSTANT, (*HAZE_BGR, 255)
        # looking straight down the map is affine, and OpenCV's affine warp is much quicker
        spread = abs(inv[2, 0]) * w + abs(inv[2, 1]) * h
        if spread <= 1e-7 * abs(inv[2, 2]):
            affine = inv[:2] / inv[2, 2]
            warped = cv2.warpAffine(turned, affine, (w, h), flags=flags, borderMode=edge,
                                    borderValue=haze)  # fmt: skip
        else:
            warped = cv2.warpPerspective(turned, inv, (w, h), flags=flags, borderMode=edge,
                                         borderValue=haze)  # fmt: skip
        out = cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR)
        _paint_sky(out, pose)
        return out

    def _turn(self, image: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The window turned by a multiple of 90 degrees so that image rows run along its rows
        (a warp that reads its source along rows is up to twice as fast), and the new map."""
        import cv2

        h, w = image.shape[:2]
        turns = [
            np.eye(3),
            np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, h - 1.0], [0.0, 0.0, 1.0]]),
            np.array([[-1.0, 0.0, w - 1.0], [0.0, -1.0, h - 1.0], [0.0, 0.0, 1.0]]),
            np.array([[0.0, -1.0, w - 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
        ]
        maps = [m @ p for p in turns]
        # the source step per output column: best along +x of the source
        best = max(range(4), key=lambda i: _along_rows(maps[i]))
        k, turned = self._turned
        if k != best:
            codes = (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE)
            code = codes[best]
            turned = image if code is None else cv2.rotate(image, code)
            self._turned = (best, turned)
        return turned, maps[best]


def _along_rows(m: np.ndarray) -> float:
    inv = np.linalg.inv(m)
    dx, dy = inv[0, 0], inv[1, 0]
    return float(dx / (math.hypot(dx, dy) + 1e-12))


def _paint_sky(out: np.ndarray, pose: CameraPose) -> None:
    """Sky over the pixels whose rays do not come down to the ground (in place)."""
    k = pose.intrinsics
    # the ray's vertical component is linear in the pixel: dz = a*u + b*v + c
    kinv = np.linalg.inv(k.matrix)
    a, b, c = pose.rotation[2] @ kinv
    corners = np.array([[0, 0], [k.width_px, 0], [0, k.height_px], [k.width_px, k.height_px]])
    limit = -1e-3
    if (a * corners[:, 0] + b * corners[:, 1] + c < limit).all():
        return
    u = np.arange(k.width_px, dtype=np.float32) + 0.5
    v = np.arange(k.height_px, dtype=np.float32) + 0.5
    sky = (np.float32(a) * u[None, :] + np.float32(b) * v[:, None] + np.float32(c)) >= limit
    out[sky] = SKY_BGR


def render_view(world: World, pose: CameraPose) -> np.ndarray:
    """One frame of ``world`` from ``pose`` (uint8 BGR); the world keeps its texture tiles
    (in ``world.cache``) while it lives, so views of one world in a row are quick."""
    renderer = world.cache.get("renderer")
    if not isinstance(renderer, Renderer):
        renderer = world.cache["renderer"] = Renderer(world, pad_px=0)
    return renderer.view(pose)


def defect_boxes(
    world: World, pose: CameraPose, min_visible: float = 0.5, min_px: float = 2.0
) -> list[tuple[Mark, tuple[float, float, float, float]]]:
    """The defects ``pose`` sees, each with its image box ``(x1, y1, x2, y2)`` in pixels.

    A box is the bounds of the defect's projected outline, clipped to the frame; defects with
    less than ``min_visible`` of that box inside the frame, partly behind the camera, or
    clipped to under ``min_px`` across are left out.
    """
    k = pose.intrinsics
    x0, y0, x1, y1 = view_bounds(pose, 400.0)
    out = []
    for mark in world.marks_in(x0, y0, x1, y1):
        if not mark.is_defect:
            continue
        outline = shape(mark).extent
        pixels, ahead = pose.project(np.column_stack([outline, np.zeros(len(outline))]))
        if not ahead.all():
            continue
        bx0, by0 = pixels.min(axis=0)
        bx1, by1 = pixels.max(axis=0)
        cx0, cy0 = max(bx0, 0.0), max(by0, 0.0)
        cx1, cy1 = min(bx1, float(k.width_px)), min(by1, float(k.height_px))
        if cx1 - cx0 < min_px or cy1 - cy0 < min_px:
            continue
        whole = (bx1 - bx0) * (by1 - by0)
        if whole <= 0 or (cx1 - cx0) * (cy1 - cy0) / whole < min_visible:
            continue
        out.append((mark, (float(cx0), float(cy0), float(cx1), float(cy1))))
    return out


# --- footage --------------------------------------------------------------------------------


def track_pose(
    world: World, sample: TrackSample, intrinsics: Intrinsics, gimbal_pitch_deg: float = -90.0
) -> CameraPose:
    """The camera pose at a track sample, in the world's frame (a stabilised gimbal; the
    sample's own gimbal pitch when it has one, else ``gimbal_pitch_deg``)."""
    x, y = world.frame.to_local(sample.lon_deg, sample.lat_deg)
    return _pose(intrinsics, float(x), float(y), sample, gimbal_pitch_deg)


def _pose(k: Intrinsics, x: float, y: float, s: TrackSample, gimbal_pitch_deg: float) -> CameraPose:
    gimbal = s.gimbal_pitch_deg
    return CameraPose.at(
        k, x, y, max(s.alt_rel_m, 0.2), s.yaw_deg or 0.0,
        gimbal_pitch_deg if gimbal is None else gimbal, s.pitch_deg or 0.0, s.roll_deg or 0.0,
    )  # fmt: skip


def _check(fps: float, size: tuple[int, int], gimbal_pitch_deg: float) -> None:
    if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise SimError(f"frame rate {fps:g} fps must be in 0..{MAX_FPS:g}")
    w, h = size
    if not all(isinstance(v, int) and 2 <= v <= MAX_SIZE_PX and v % 2 == 0 for v in (w, h)):
        raise SimError(f"frame size {w}x{h} must be even numbers of pixels, 2..{MAX_SIZE_PX}")
    if not (math.isfinite(gimbal_pitch_deg) and -90.0 <= gimbal_pitch_deg <= 30.0):
        raise SimError(f"gimbal pitch {gimbal_pitch_deg:g} deg must be in -90..30")


def footage_span(
    track: Track, start_offset_s: float | None = None, duration_s: float | None = None
) -> tuple[datetime, float]:
    """When footage of ``track`` starts (UTC) and how long it runs (seconds).

    Frame 0 is the first airborne sample, or ``track.start + start_offset_s``; the footage
    runs to the last airborne sample (or the track's end), or for ``duration_s``.
    """
    airborne = track.airborne()
    if start_offset_s is None:
        if not airborne:
            raise SimError(
                f"{track.source or 'track'} never leaves the ground (no sample 0.5 m above home)"
                "; give a start offset"
            )
        t0 = airborne[0].time
    else:
        if not (math.isfinite(start_offset_s) and 0 <= start_offset_s < track.duration_s):
            raise SimError(
                f"start offset {start_offset_s:g} s is outside the track's "
                f"0..{track.duration_s:g} s"
            )
        t0 = track.start + timedelta(seconds=start_offset_s)
    end = airborne[-1].time if airborne and airborne[-1].time > t0 else track.end
    available = (end - t0).total_seconds()
    if duration_s is None:
        return t0, available
    if not (math.isfinite(duration_s) and 0 < duration_s <= available + 1e-6):
        raise SimError(
            f"duration {duration_s:g} s is more than the {available:.1f} s the track covers "
            f"from {t0.isoformat()}" if math.isfinite(duration_s) and duration_s > 0
            else f"duration {duration_s:g} s must be > 0"
        )  # fmt: skip
    return t0, duration_s


def render_track(
    world: World,
    track: Track,
    camera: Camera,
    out_path: str | os.PathLike[str],
    fps: float = 30.0,
    size: tuple[int, int] = (1920, 1080),
    gimbal_pitch_deg: float = -90.0,
    start_offset_s: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    duration_s: float | None = None,
) -> RenderResult:
    """Render footage of ``world`` along ``track`` into ``out_path`` (mp4, ``mp4v``).

    The pose of frame ``i`` is the track interpolated at ``t0 + i / fps`` (see
    :func:`footage_span`); ``progress(done, total)`` is called as frames are written. The
    file appears whole or not at all (written beside it, then moved into place).
    """
    import cv2

    _check(fps, size, gimbal_pitch_deg)
    out = Path(out_path)
    if not out.parent.is_dir():
        raise SimError(f"output folder {str(out.parent)!r} does not exist")
    t0, span = footage_span(track, start_offset_s, duration_s)
    frames = math.floor(span * fps + 1e-9)
    if frames < 1:
        raise SimError(f"the track covers {span:.2f} s from frame 0: not one frame at {fps:g} fps")
    k = Intrinsics.of(camera, *size)
    seen: dict[str, list[float]] = {}
    samples = [track.at(t0 + timedelta(seconds=i / fps)) for i in range(frames)]
    xs, ys = world.frame.to_local([s.lon_deg for s in samples], [s.lat_deg for s in samples])
    renderer = Renderer(world)
    fd, temp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".mp4", dir=out.parent)
    os.close(fd)
    writer = cv2.VideoWriter(temp, cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    try:
        if not writer.isOpened():
            raise SimError(f"OpenCV cannot write mp4v video to {str(out)!r}")
        poses = (
            _pose(k, float(x), float(y), s, gimbal_pitch_deg)
            for x, y, s in zip(xs, ys, samples, strict=True)
        )
        _write_frames(writer, _frames(world, renderer, poses, fps, seen), frames, progress)
        writer.release()
        umask = os.umask(0o22)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
        os.replace(temp, out)
    except BaseException:
        writer.release()
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    offset = (t0 - track.start).total_seconds()
    found = {key: Seen(int(n), first, last, big) for key, (n, first, last, big) in seen.items()}
    return RenderResult(out, frames, float(fps), size[0], size[1], t0, offset, found)


def _frames(
    world: World,
    renderer: Renderer,
    poses: Iterator[CameraPose],
    fps: float,
    seen: dict[str, list[float]],
) -> Iterator[np.ndarray]:
    """The frames of ``poses``, noting in ``seen`` which defects each shows."""
    for i, pose in enumerate(poses):
        yield renderer.view(pose)
        for mark, (x1, y1, x2, y2) in defect_boxes(world, pose):
            t, px = i / fps, max(x2 - x1, y2 - y1)
            entry = seen.get(mark.id)
            if entry is None:
                seen[mark.id] = [1, t, t, px]
            else:
                entry[0] += 1
                entry[2] = t
                entry[3] = max(entry[3], px)


def _write_frames(
    writer: Any, frames: Any, total: int, progress: Callable[[int, int], None] | None
) -> None:
    """Encode on a second thread while the next frame is drawn (OpenCV frees the GIL)."""
    todo: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=4)
    failed: list[BaseException] = []

    def encode() -> None:
        try:
            while (frame := todo.get()) is not None:
                writer.write(frame)
        except BaseException as exc:  # reported on the main thread
            failed.append(exc)
            while todo.get() is not None:
                pass

    thread = threading.Thread(target=encode, name="skyledger-encode", daemon=True)
    thread.start()
    try:
        step = max(1, total // 100)
        for i, frame in enumerate(frames):
            if failed:
                break
            todo.put(frame)
            if progress is not None and ((i + 1) % step == 0 or i + 1 == total):
                progress(i + 1, total)
    finally:
        todo.put(None)
        thread.join()
    if failed:
        raise SimError(f"writing the video failed: {failed[0]}")
