"""Pixel to ground: where a detection lies on the map, and how sure that is.

A :class:`Locator` turns a box in a frame into a ground position with
:mod:`mission.optics` (the same pose model the footage renderer uses):

- the camera sits at the track sample's position, ``alt_rel_m`` above the ground plane,
  which is taken as flat at home elevation (``z = 0`` of the :class:`~mission.geodesy.
  LocalFrame`);
- it looks along the sample's ``yaw_deg`` and ``gimbal_pitch_deg`` (the locator's default
  pitch when the track has none); a *stabilised* gimbal cancels the vehicle's roll and
  pitch, a camera fixed to the frame (``stabilised=False``) adds them (``None`` counts as
  level);
- lens distortion, when given as OpenCV's ``(k1, k2, p1, p2[, k3])``, is removed from the
  pixel with ``cv2.undistortPoints`` before the ray is cast;
- the pixel taken is the **bottom centre** of the box: for an object standing on the
  ground that is where it touches the ground, and for a flat mark the error is at most
  half its size;
- the ray through it meets the ground plane; a ray at or above the horizon, or meeting
  the ground farther than ``max_range_m`` (horizontally) from the camera, places nothing.

The error
---------
``error_m`` is the 1-sigma *horizontal* error of the placement: the square root of the
trace of its 2x2 east/north covariance (the "distance RMS"; about 2/3 of placements
fall within it). The covariance is propagated to first order from the
:class:`Uncertainty` of each input, with a central finite-difference Jacobian of the
ground point with respect to

- the camera's height above the ground (``vertical_m``, which also stands for ground
  that is not quite at home elevation),
- its heading (``yaw_deg``) and its tilt about two horizontal axes (``tilt_deg`` each:
  gimbal and level errors),
- the pixel, each axis (``pixel_px``: box edges are uncertain by a pixel or two);

to which are added the position error of the aircraft itself (``horizontal_m`` on each
axis) and the distance it flies during the footage's time uncertainty
(``time_s`` x the sample's ``ground_speed_ms``; nothing when the sample has no speed).
Errors grow with range and obliquity: a ray that grazes the ground turns a small tilt
error into a long error along the ground.

The footprint
-------------
:meth:`Locator.footprint` is the ground the frame sees, as a shapely polygon in the local
frame: the pinhole frustum's four sides (and the plane in front of the camera) cut the
ground plane in half-planes; their intersection with a disc of ``max_range_m`` around the
point below the camera is the footprint, so an oblique view that sees the horizon is cut
at that range. Lens distortion is not applied to the footprint (it is for frame
selection, where the pinhole frustum is close enough).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mission.camera import Camera
from mission.errors import MissionError
from mission.geodesy import LocalFrame
from mission.optics import CameraPose, Intrinsics
from mission.track import TrackSample
from vision.errors import VisionError

__all__ = ["Locator", "Placement", "Uncertainty"]

# Central-difference steps: small against the uncertainties, large against float noise.
_STEP_M = 0.01
_STEP_DEG = 0.01
_STEP_PX = 0.25
_CRITERIA = (3, 100, 1e-9)  # cv2.TERM_CRITERIA_COUNT | TERM_CRITERIA_EPS, rounds, epsilon
_DISC_SIDES = 48  # the range disc as a polygon; the footprint's area is within 0.3 % of it


@dataclass(frozen=True)
class Uncertainty:
    """1-sigma uncertainties of what a placement is computed from.

    The defaults suit a consumer inspection drone with plain GNSS and a stabilised gimbal;
    an RTK aircraft can say ``horizontal_m=0.05, vertical_m=0.1``.

    Attributes
    ----------
    horizontal_m : float
        The aircraft's position, on each of east and north.
    vertical_m : float
        Its height above the ground plane (barometer drift, ground not at home elevation).
    yaw_deg : float
        The camera's heading.
    tilt_deg : float
        The camera's tilt about each horizontal axis (gimbal and attitude).
    pixel_px : float
        The box's bottom centre, on each image axis.
    time_s : float
        The footage's alignment with the track; turned into metres with the ground speed.
    """

    horizontal_m: float = 1.0
    vertical_m: float = 0.5
    yaw_deg: float = 2.0
    tilt_deg: float = 1.0
    pixel_px: float = 2.0
    time_s: float = 0.1

    def __post_init__(self) -> None:
        for name in ("horizontal_m", "vertical_m", "yaw_deg", "tilt_deg", "pixel_px", "time_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise VisionError(f"uncertainty {name} {value!r} is not a number")
            if not math.isfinite(value) or value < 0:
                raise VisionError(f"uncertainty {name} {value} must be a finite number >= 0")


@dataclass(frozen=True)
class Placement:
    """A detection's ground position: local metres, WGS84 degrees, 1-sigma error (m)."""

    x_m: float
    y_m: float
    lon: float
    lat: float
    error_m: float


def _rot_x(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_z(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _distortion(values: Sequence[float] | None) -> np.ndarray | None:
    if values is None:
        return None
    try:
        coeffs = [float(v) for v in values]
    except (TypeError, ValueError):
        raise VisionError(
            f"lens distortion {values!r} must be 4 or 5 numbers (OpenCV k1, k2, p1, p2[, k3])"
        ) from None
    if len(coeffs) not in (4, 5) or not all(math.isfinite(c) for c in coeffs):
        raise VisionError(
            f"lens distortion {values!r} must be 4 or 5 finite numbers "
            "(OpenCV k1, k2, p1, p2[, k3])"
        )
    return None if not any(coeffs) else np.array(coeffs, float)


def _clip(poly: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """The part of convex polygon ``poly`` ``(n, 2)`` where ``poly @ normal >= offset``."""
    if len(poly) == 0:
        return poly
    d = poly @ normal - offset
    inside = d >= 0.0
    if inside.all():
        return poly
    nxt, dn = np.roll(poly, -1, axis=0), np.roll(d, -1)
    crossing = inside != (dn >= 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(crossing, d / (d - dn), 0.0)
    cut = poly + t[:, None] * (nxt - poly)
    both = np.stack([poly, cut], axis=1)  # each vertex, then where its edge crosses
    return both[np.stack([inside, crossing], axis=1)]


class Locator:
    """Places boxes of one camera's frames on the ground (see the module notes).

    Parameters
    ----------
    camera : Camera
        The lens and sensor; its sensor width spans the frame's width.
    frame : LocalFrame
        The local metric frame; its ground plane ``z = 0`` is at home elevation.
    width_px, height_px : int
        The size of the frames placed (the video's, not the camera's still size).
    distortion : sequence of 4 or 5 floats, optional
        OpenCV's ``k1, k2, p1, p2[, k3]`` for this frame size; ``None`` for none.
    stabilised : bool
        Whether a gimbal cancels the vehicle's roll and pitch (the usual payload).
    uncertainty : Uncertainty
        The 1-sigma input errors that ``error_m`` is propagated from.
    default_gimbal_pitch_deg : float
        The gimbal pitch used where a track sample has none (-90 straight down).
    max_range_m : float
        The farthest ground (horizontally from the camera) that is placed or counted in
        a footprint.
    """

    def __init__(
        self,
        camera: Camera,
        frame: LocalFrame,
        width_px: int,
        height_px: int,
        *,
        distortion: Sequence[float] | None = None,
        stabilised: bool = True,
        uncertainty: Uncertainty = Uncertainty(),
        default_gimbal_pitch_deg: float = -90.0,
        max_range_m: float = 250.0,
    ) -> None:
        try:
            self.intrinsics = Intrinsics.of(camera, int(width_px), int(height_px))
        except MissionError as exc:
            raise VisionError(str(exc)) from None
        if not (
            math.isfinite(default_gimbal_pitch_deg) and -180 <= default_gimbal_pitch_deg <= 180
        ):
            raise VisionError(
                f"gimbal pitch {default_gimbal_pitch_deg} deg must be within -180..180 "
                "(-90 looks straight down, 0 level)"
            )
        if not (math.isfinite(max_range_m) and max_range_m > 0):
            raise VisionError(f"maximum range {max_range_m} m must be a number > 0")
        self.camera = camera
        self.frame = frame
        self.width_px, self.height_px = self.intrinsics.width_px, self.intrinsics.height_px
        self.distortion = _distortion(distortion)
        self.stabilised = bool(stabilised)
        self.uncertainty = uncertainty
        self.default_gimbal_pitch_deg = float(default_gimbal_pitch_deg)
        self.max_range_m = float(max_range_m)
        self._last: tuple[TrackSample, CameraPose] | None = None
        # The frustum's sides as a . camera_vector >= 0 (together they keep it in front).
        k = self.intrinsics
        cx, cy, f = k.width_px / 2.0, k.height_px / 2.0, k.focal_px
        self._sides = np.array(
            [
                [f, 0, cx],
                [-f, 0, k.width_px - cx],
                [0, f, cy],
                [0, -f, k.height_px - cy],
                [0, 0, 1],
            ],
            float,
        )
        self._corners = np.array(
            [[0, 0], [k.width_px, 0], [k.width_px, k.height_px], [0, k.height_px]], float
        )
        angles = np.linspace(0.0, 2.0 * math.pi, _DISC_SIDES, endpoint=False)
        self._disc = np.column_stack([np.cos(angles), np.sin(angles)])

    def __repr__(self) -> str:
        return (
            f"Locator({self.camera.name!r}, {self.width_px}x{self.height_px}, "
            f"stabilised={self.stabilised}, distortion={self.distortion is not None})"
        )

    # --- the pose -------------------------------------------------------------------

    def pose(self, sample: TrackSample) -> CameraPose:
        """The camera's pose at a track sample.

        Raises
        ------
        VisionError
            When the sample has no heading (``yaw_deg``).
        """
        last = self._last
        if last is not None and last[0] is sample:
            return last[1]
        if sample.yaw_deg is None:
            raise VisionError(
                f"track sample at {sample.time.isoformat()} has no yaw_deg: placing pixels on "
                "the ground needs the heading (a .tlog, a .bin, or a CSV with a yaw_deg column)"
            )
        x, y = self.frame.point_to_local(sample.lon_deg, sample.lat_deg)
        gimbal = sample.gimbal_pitch_deg
        pose = CameraPose.at(
            self.intrinsics,
            x,
            y,
            sample.alt_rel_m,
            sample.yaw_deg,
            self.default_gimbal_pitch_deg if gimbal is None else gimbal,
            sample.pitch_deg or 0.0,
            sample.roll_deg or 0.0,
            stabilised=self.stabilised,
        )
        self._last = (sample, pose)
        return pose

    # --- pixels to the ground ---------------------------------------------------------

    def undistort(self, pixels: Any) -> np.ndarray:
        """Pinhole pixels ``(n, 2)`` of pixels ``(n, 2)`` of the distorted image."""
        px = np.atleast_2d(np.asarray(pixels, float))
        if self.distortion is None:
            return px
        import cv2

        k = self.intrinsics.matrix
        # The model only does u = f x + c both ways, so our corner-origin pixels and K's
        # centre of W/2 go through it unchanged. Iterated to 1e-9 (OpenCV's default five
        # rounds leave a tenth of a pixel in the corners of a strongly distorted lens).
        src = px.reshape(-1, 1, 2)
        out = cv2.undistortPointsIter(src, k, self.distortion, np.eye(3), k, _CRITERIA)
        return np.asarray(out, float).reshape(-1, 2)

    def _ground(self, pose: CameraPose, pixels: np.ndarray) -> np.ndarray:
        """Ground points ``(n, 2)`` of pinhole pixels; NaN where out of reach."""
        g = pose.to_ground(pixels)
        reach = np.hypot(g[:, 0] - pose.position[0], g[:, 1] - pose.position[1])
        g[~(reach <= self.max_range_m)] = np.nan
        return g

    def locate(self, box_xyxy: Sequence[float], sample: TrackSample) -> Placement | None:
        """Where the bottom centre of ``box_xyxy`` (x1, y1, x2, y2 px) is on the ground.

        Returns ``None`` when that pixel's ray does not reach the ground within
        ``max_range_m`` (at or above the horizon, or too far).
        """
        try:
            x1, y1, x2, y2 = (float(v) for v in box_xyxy)
        except (TypeError, ValueError):
            raise VisionError(f"box {box_xyxy!r} must be four numbers x1, y1, x2, y2") from None
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or x2 < x1 or y2 < y1:
            raise VisionError(f"box {box_xyxy!r} must be finite with x1 <= x2 and y1 <= y2")
        return self.locate_pixel((x1 + x2) / 2.0, y2, sample)

    def locate_pixel(self, u: float, v: float, sample: TrackSample) -> Placement | None:
        """Where pixel ``(u, v)`` of the (distorted) frame is on the ground; see :meth:`locate`."""
        pose = self.pose(sample)
        h = _STEP_PX
        raw = np.array([[u, v], [u + h, v], [u - h, v], [u, v + h], [u, v - h]], float)
        pins = self.undistort(raw)
        ground = self._ground(pose, pins)
        if not np.isfinite(ground).all():
            return None
        x, y = (float(c) for c in ground[0])
        cols = [(ground[1] - ground[2]) / (2 * h), (ground[3] - ground[4]) / (2 * h)]
        sig = self.uncertainty
        sigmas = [sig.pixel_px, sig.pixel_px]
        pixel = pins[:1]
        for step, scale, moved in self._perturbations(pose):
            plus, minus = self._ground(moved[0], pixel)[0], self._ground(moved[1], pixel)[0]
            if not (np.isfinite(plus).all() and np.isfinite(minus).all()):
                return None  # within its uncertainty the ray leaves the ground
            cols.append((plus - minus) / (2 * step))
            sigmas.append(scale)
        jac = np.column_stack(cols)  # 2 x parameters
        cov = (jac * np.square(sigmas)) @ jac.T
        speed = sample.ground_speed_ms or 0.0
        var = float(np.trace(cov)) + 2.0 * sig.horizontal_m**2 + (speed * sig.time_s) ** 2
        lon, lat = self.frame.point_to_wgs84(x, y)
        return Placement(x, y, lon, lat, math.sqrt(var))

    def _perturbations(
        self, pose: CameraPose
    ) -> list[tuple[float, float, tuple[CameraPose, CameraPose]]]:
        """(step, sigma, (pose + step, pose - step)) for height, heading and two tilts."""
        sig = self.uncertainty
        x, y, z = pose.position
        r, k = pose.rotation, pose.intrinsics
        out: list[tuple[float, float, tuple[CameraPose, CameraPose]]] = [
            (
                _STEP_M,
                sig.vertical_m,
                (CameraPose((x, y, z + _STEP_M), r, k), CameraPose((x, y, z - _STEP_M), r, k)),
            )
        ]
        for turn, sigma in ((_rot_z, sig.yaw_deg), (_rot_x, sig.tilt_deg), (_rot_y, sig.tilt_deg)):
            out.append(
                (
                    _STEP_DEG,
                    sigma,
                    (
                        CameraPose(pose.position, turn(_STEP_DEG) @ r, k),
                        CameraPose(pose.position, turn(-_STEP_DEG) @ r, k),
                    ),
                )
            )
        return out

    # --- the ground seen --------------------------------------------------------------

    def footprint(self, sample: TrackSample, max_range_m: float | None = None) -> Any:
        """The ground seen in the frame at ``sample``: a shapely Polygon, local metres.

        Empty when the camera is at or below the ground or sees no ground within
        ``max_range_m`` (the locator's when ``None``).
        """
        from shapely.geometry import Polygon

        coords = self.footprint_coords(sample, max_range_m)
        return Polygon(coords) if len(coords) >= 3 else Polygon()

    def footprint_coords(self, sample: TrackSample, max_range_m: float | None = None) -> np.ndarray:
        """The footprint's vertices ``(n, 2)``, counter-clockwise (``n`` = 0 when empty)."""
        reach = self.max_range_m if max_range_m is None else float(max_range_m)
        pose = self.pose(sample)
        cx, cy, cz = pose.position
        if not cz > 0 or not reach > 0:
            return np.empty((0, 2))
        # The usual case: every corner's ray meets the ground within reach, and the
        # footprint is the quadrilateral of those four points.
        corners = pose.to_ground(self._corners)
        spread = np.hypot(corners[:, 0] - cx, corners[:, 1] - cy)
        if (spread <= reach).all():
            (ax, ay), (bx, by) = corners[2] - corners[0], corners[3] - corners[1]
            return corners if ax * by - ay * bx > 0 else corners[::-1]  # twice the signed area
        poly = self._disc * reach + (cx, cy)
        # a . R^T (P - C) >= 0 for P = (X, Y, 0): w = R a, w_xy . (X, Y) >= w . C
        for w in self._sides @ pose.rotation.T:
            normal = w[:2]
            if not np.any(normal):
                if w[2] * -cz < 0:  # the whole ground is outside this side
                    return np.empty((0, 2))
                continue
            poly = _clip(poly, normal, float(w @ pose.position))
            if len(poly) < 3:
                return np.empty((0, 2))
        return poly
