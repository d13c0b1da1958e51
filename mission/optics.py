"""Where a camera looks: pinhole intrinsics, camera orientation, world <-> pixel.

Shared by the footage renderer (``sim``) and the defect locator (``vision``), so that both
use one definition of a pose. Frames and angles:

- World: a local east/north/up frame in metres (``x`` east, ``y`` north, ``z`` up), usually
  a :class:`~mission.geodesy.LocalFrame` centred on home with ``z`` = 0 at home elevation.
- Vehicle attitude: ``yaw_deg`` 0 north, 90 east; ``pitch_deg`` nose up positive;
  ``roll_deg`` right wing down positive (ArduPilot's ATTITUDE message, in degrees).
- Gimbal: ``gimbal_pitch_deg`` 0 looks ahead level, -90 straight down. A *stabilised*
  gimbal (the usual inspection payload) cancels the vehicle's roll and pitch, so the camera
  keeps only the vehicle's yaw; a camera fixed to the frame adds them.
- Camera: OpenCV's, ``x`` right, ``y`` down, ``z`` along the optical axis. A nadir image has
  its top edge toward the vehicle's heading.

Pixel coordinates are continuous, (0, 0) the top-left corner of the top-left pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mission.camera import Camera
from mission.errors import MissionError

__all__ = ["CameraPose", "Intrinsics", "camera_rotation"]


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of one frame size, square pixels, principal point at the centre."""

    width_px: int
    height_px: int
    focal_px: float

    def __post_init__(self) -> None:
        if self.width_px <= 0 or self.height_px <= 0:
            raise MissionError(f"frame size {self.width_px}x{self.height_px} px must be > 0")
        if not math.isfinite(self.focal_px) or self.focal_px <= 0:
            raise MissionError(f"focal length {self.focal_px} px must be > 0")

    @classmethod
    def of(cls, camera: Camera, width_px: int, height_px: int) -> Intrinsics:
        """The camera's lens on a frame of ``width_px`` x ``height_px``.

        The sensor's width is taken to span the frame's width (a video mode crops the
        sensor's height, not its width), so ``focal_px = f_mm / sensor_width_mm * width_px``.
        """
        return cls(width_px, height_px, camera.focal_length_mm / camera.sensor_width_mm * width_px)

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 camera matrix K."""
        f = self.focal_px
        return np.array([[f, 0.0, self.width_px / 2.0], [0.0, f, self.height_px / 2.0], [0, 0, 1]])


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# Camera axes (x right, y down, z ahead) in the body frame (x forward, y right, z down).
_BODY_FROM_CAMERA = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
# North/east/down to east/north/up.
_ENU_FROM_NED = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])


def camera_rotation(
    yaw_deg: float,
    gimbal_pitch_deg: float,
    pitch_deg: float = 0.0,
    roll_deg: float = 0.0,
    stabilised: bool = True,
) -> np.ndarray:
    """The 3x3 rotation taking camera-frame vectors to east/north/up.

    ``stabilised`` drops the vehicle's roll and pitch (a gimbal holds the camera level).

    >>> r = camera_rotation(0.0, -90.0)
    >>> [round(float(v), 6) + 0.0 for v in r @ [0, 0, 1]]   # the optical axis points down
    [0.0, 0.0, -1.0]
    >>> [round(float(v), 6) + 0.0 for v in r @ [0, -1, 0]]  # the image's top points north
    [0.0, 1.0, 0.0]
    """
    for name, value in (
        ("yaw", yaw_deg), ("gimbal pitch", gimbal_pitch_deg), ("pitch", pitch_deg),
        ("roll", roll_deg),
    ):  # fmt: skip
        if not math.isfinite(value):
            raise MissionError(f"{name} {value} deg is not a finite angle")
    body = _rz(math.radians(yaw_deg))
    if not stabilised:
        body = body @ _ry(math.radians(pitch_deg)) @ _rx(math.radians(roll_deg))
    ned = body @ _ry(math.radians(gimbal_pitch_deg)) @ _BODY_FROM_CAMERA
    return _ENU_FROM_NED @ ned


@dataclass(frozen=True)
class CameraPose:
    """A camera at ``position`` (east, north, up metres) with ``rotation`` (camera -> ENU)."""

    position: tuple[float, float, float]
    rotation: np.ndarray
    intrinsics: Intrinsics

    @classmethod
    def at(
        cls,
        intrinsics: Intrinsics,
        x: float,
        y: float,
        z: float,
        yaw_deg: float,
        gimbal_pitch_deg: float,
        pitch_deg: float = 0.0,
        roll_deg: float = 0.0,
        stabilised: bool = True,
    ) -> CameraPose:
        rot = camera_rotation(yaw_deg, gimbal_pitch_deg, pitch_deg, roll_deg, stabilised)
        return cls((float(x), float(y), float(z)), rot, intrinsics)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels ``(n, 2)`` of world points ``(n, 3)`` and a mask of those in front."""
        pts = np.atleast_2d(np.asarray(points, float)) - np.asarray(self.position)
        cam = pts @ self.rotation  # rotation.T applied to each row
        ahead = cam[:, 2] > 1e-9
        z = np.where(ahead, cam[:, 2], 1.0)
        k = self.intrinsics
        u = k.focal_px * cam[:, 0] / z + k.width_px / 2.0
        v = k.focal_px * cam[:, 1] / z + k.height_px / 2.0
        return np.column_stack([u, v]), ahead

    def rays(self, pixels: np.ndarray) -> np.ndarray:
        """Unit world directions ``(n, 3)`` through pixels ``(n, 2)``."""
        px = np.atleast_2d(np.asarray(pixels, float))
        k = self.intrinsics
        cam = np.column_stack(
            [
                (px[:, 0] - k.width_px / 2.0) / k.focal_px,
                (px[:, 1] - k.height_px / 2.0) / k.focal_px,
                np.ones(len(px)),
            ]
        )
        world = cam @ self.rotation.T
        return world / np.linalg.norm(world, axis=1, keepdims=True)

    def to_ground(self, pixels: np.ndarray, ground_z: float = 0.0) -> np.ndarray:
        """Where rays through ``pixels`` meet the plane ``z = ground_z``: ``(n, 2)`` east/north.

        Rows whose ray does not descend to the plane (above the horizon) are NaN.
        """
        d = self.rays(pixels)
        x0, y0, z0 = self.position
        down = d[:, 2] < -1e-9
        t = np.where(down, (ground_z - z0) / np.where(down, d[:, 2], -1.0), np.nan)
        t = np.where(t > 0, t, np.nan)
        return np.column_stack([x0 + t * d[:, 0], y0 + t * d[:, 1]])
