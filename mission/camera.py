"""Camera model: ground sample distance, footprints, trigger distance and lane spacing.

Photos are taken in landscape: the image width lies across the direction of flight,
so the across-track footprint comes from the sensor width and the along-track
footprint from the sensor height.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from mission.errors import MissionError

CAMERA_KEYS = (
    "name",
    "sensor_width_mm",
    "sensor_height_mm",
    "image_width_px",
    "image_height_px",
    "focal_length_mm",
    "min_trigger_interval_s",
)


@dataclass(frozen=True)
class Camera:
    """A frame camera, as the keys of a custom camera JSON file name it."""

    name: str
    sensor_width_mm: float
    sensor_height_mm: float
    image_width_px: int
    image_height_px: int
    focal_length_mm: float
    min_trigger_interval_s: float

    def __post_init__(self) -> None:
        for key in CAMERA_KEYS[1:]:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise MissionError(f"camera {self.name!r}: {key} {value!r} is not a number")
            if not math.isfinite(value) or value <= 0:
                raise MissionError(f"camera {self.name!r}: {key} {value!r} must be > 0")

    # --- ground sample distance -------------------------------------------------
    def gsd_cm(self, distance_m: float) -> float:
        """GSD in cm/px at ``distance_m`` from the subject: H·Sw·100 / (Iw·f).

        >>> round(PRESETS["phantom4-rtk"].gsd_cm(100.0), 2)
        2.74
        """
        return (
            distance_m * self.sensor_width_mm * 100.0 / (self.image_width_px * self.focal_length_mm)
        )

    def distance_for_gsd(self, gsd_cm: float) -> float:
        """The inverse of :meth:`gsd_cm`: distance (m) that gives ``gsd_cm``."""
        if not math.isfinite(gsd_cm) or gsd_cm <= 0:
            raise MissionError(f"GSD {gsd_cm} cm/px must be a number > 0")
        return gsd_cm * self.image_width_px * self.focal_length_mm / (self.sensor_width_mm * 100.0)

    # --- footprints ----------------------------------------------------------------
    def footprint_m(self, distance_m: float) -> tuple[float, float]:
        """(across-track, along-track) size in metres of one photo at ``distance_m``."""
        scale = distance_m / self.focal_length_mm
        return self.sensor_width_mm * scale, self.sensor_height_mm * scale

    def trigger_distance_m(self, distance_m: float, front_overlap: float) -> float:
        """Distance between photos along a lane: along-track footprint·(1 − front overlap)."""
        check_overlap(front_overlap, "front overlap")
        return self.footprint_m(distance_m)[1] * (1.0 - front_overlap)

    def line_spacing_m(self, distance_m: float, side_overlap: float) -> float:
        """Distance between lanes: across-track footprint·(1 − side overlap)."""
        check_overlap(side_overlap, "side overlap")
        return self.footprint_m(distance_m)[0] * (1.0 - side_overlap)

    def max_speed_ms(self, trigger_distance_m: float) -> float:
        """Fastest ground speed that does not trigger faster than the camera can."""
        return trigger_distance_m / self.min_trigger_interval_s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "camera") -> Camera:
        if not isinstance(data, dict):
            raise MissionError(
                f"{source}: expected a JSON object with keys {', '.join(CAMERA_KEYS)}"
            )
        missing = [k for k in CAMERA_KEYS if k not in data]
        if missing:
            raise MissionError(
                f"{source}: missing key(s) {', '.join(missing)}; required: {', '.join(CAMERA_KEYS)}"
            )
        if not isinstance(data["name"], str) or not data["name"].strip():
            raise MissionError(f"{source}: name {data['name']!r} must be a non-empty string")
        return cls(**{k: data[k] for k in CAMERA_KEYS})


def check_overlap(value: float, what: str) -> None:
    """Overlaps are fractions in [0, 1)."""
    if not math.isfinite(value) or not 0.0 <= value < 1.0:
        raise MissionError(f"{what} {value * 100:g} % is outside 0..<100 %")


# Published specifications of real inspection and mapping cameras.
PRESETS: dict[str, Camera] = {
    c.name: c
    for c in (
        # DJI Phantom 4 RTK, FC6310R: 1" CMOS 13.2 x 8.8 mm, 5472 x 3648, 8.8 mm lens.
        Camera("phantom4-rtk", 13.2, 8.8, 5472, 3648, 8.8, 2.0),
        # DJI Zenmuse P1 with DL 35 mm lens: full frame 35.9 x 24 mm, 8192 x 5460, 0.7 s interval.
        Camera("zenmuse-p1-35mm", 35.9, 24.0, 8192, 5460, 35.0, 0.7),
        # DJI Mavic 3 Enterprise wide camera: 4/3 CMOS 17.3 x 13 mm, 5280 x 3956, 12.29 mm.
        Camera("mavic3-enterprise", 17.3, 13.0, 5280, 3956, 12.29, 0.7),
        # Sony RX1R II: full frame 35.9 x 24 mm, 7952 x 5304, 35 mm fixed lens.
        Camera("sony-rx1r-ii", 35.9, 24.0, 7952, 5304, 35.0, 1.0),
    )
}


def preset(name: str) -> Camera:
    """A preset camera by name."""
    try:
        return PRESETS[name]
    except KeyError:
        raise MissionError(
            f"camera {name!r} is not a preset ({', '.join(sorted(PRESETS))}) nor a .json file"
        ) from None


def camera_from_json(text: str, source: str = "camera file") -> Camera:
    """A custom camera from the text of a JSON file with the keys :data:`CAMERA_KEYS`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MissionError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return Camera.from_dict(data, source=source)
