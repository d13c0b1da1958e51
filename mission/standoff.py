"""How a camera at a stand-off sees a vertical surface, and the heights to fly to cover it.

Shared by the structure and facade planners: the distance that gives a GSD, the band of
heights a level or pitched camera sees on a wall, and the stacked layers or rows that
cover a range of heights with the wanted overlap.
"""

from __future__ import annotations

import math

import numpy as np

from mission.camera import Camera
from mission.errors import MissionError
from mission.plan import Capture, Vehicle
from mission.route import MIN_ALT_M, Flight

#: A photo counts for a facet only if its optical axis is within this angle of the facet's normal.
MAX_INCIDENCE_DEG = 60.0
#: Transits to and from a structure or facade fly this far above its top (within the ceiling), m.
CLEARANCE_MARGIN_M = 10.0
#: Fastest the planners fly along a structure or facade, m/s.
MAX_INSPECTION_SPEED_MS = 5.0
#: No edge ray of the vertical view may come nearer the vertical than this, degrees.
VERTICAL_MARGIN_DEG = 5.0


def resolve_standoff(
    camera: Camera, standoff_m: float | None, gsd_cm: float | None
) -> tuple[float, float]:
    """(stand-off in m, GSD in cm/px at it) from either one; a given stand-off wins.

    >>> from mission.camera import PRESETS
    >>> resolve_standoff(PRESETS["phantom4-rtk"], 10.0, None)[0]
    10.0
    """
    if standoff_m is None and gsd_cm is None:
        raise MissionError("give a stand-off distance (m) or a GSD (cm/px); neither was given")
    if standoff_m is not None:
        if not math.isfinite(standoff_m) or standoff_m <= 0:
            raise MissionError(f"stand-off {standoff_m} m must be a number > 0")
        return float(standoff_m), camera.gsd_cm(standoff_m)
    assert gsd_cm is not None
    return camera.distance_for_gsd(gsd_cm), float(gsd_cm)


def half_fov_deg(camera: Camera) -> tuple[float, float]:
    """(horizontal, vertical) half field of view of a landscape photo, degrees."""
    f2 = 2.0 * camera.focal_length_mm
    return (
        math.degrees(math.atan(camera.sensor_width_mm / f2)),
        math.degrees(math.atan(camera.sensor_height_mm / f2)),
    )


def check_pitch(camera: Camera, pitch_deg: float) -> None:
    """Refuse a gimbal pitch whose view does not meet a wall squarely enough to count."""
    limit = min(MAX_INCIDENCE_DEG, 90.0 - VERTICAL_MARGIN_DEG - half_fov_deg(camera)[1])
    if not math.isfinite(pitch_deg) or abs(pitch_deg) > limit:
        raise MissionError(
            f"gimbal pitch {pitch_deg}° is outside -{limit:.1f}..{limit:.1f}° "
            f"for camera {camera.name} looking at a wall"
        )


def view_band_m(camera: Camera, standoff_m: float, pitch_deg: float) -> tuple[float, float]:
    """Heights (lowest, highest), relative to the camera, that it sees on a wall ``standoff_m`` away.

    >>> from mission.camera import PRESETS
    >>> [round(v, 2) for v in view_band_m(PRESETS["phantom4-rtk"], 10.0, 0.0)]
    [-5.0, 5.0]
    """
    half_v = half_fov_deg(camera)[1]
    return (
        standoff_m * math.tan(math.radians(pitch_deg - half_v)),
        standoff_m * math.tan(math.radians(pitch_deg + half_v)),
    )


def layer_altitudes(
    band: tuple[float, float],
    bottom_m: float,
    top_m: float,
    side_overlap: float,
    ceiling_m: float,
    what: str,
) -> list[float]:
    """Heights of the horizontal layers (or rows) that see the wall from ``bottom_m`` to ``top_m``.

    The lowest layer sees down to ``bottom_m``, the highest up to ``top_m``, and
    neighbours are at most ``(band height) · (1 − side overlap)`` apart. No layer is
    lower than :data:`mission.route.MIN_ALT_M`: below a low stand-off, the foot of the
    wall under ``MIN_ALT_M + band[0]`` is then not seen (the coverage figure shows it).
    """
    lo, hi = band
    spacing = (hi - lo) * (1.0 - side_overlap)
    first, last = bottom_m - lo, top_m - hi
    if last <= first:
        layers = [max(MIN_ALT_M, (first + last) / 2.0)]
    else:
        first = max(first, MIN_ALT_M)
        n = math.ceil((last - first) / spacing - 1e-9) + 1 if last > first else 1
        layers = [float(v) for v in np.linspace(first, max(last, first), n)]
    if layers[-1] > ceiling_m:
        raise MissionError(
            f"{what}: the top layer at {layers[-1]:.1f} m above home (to see up to {top_m:g} m) "
            f"is above the ceiling {ceiling_m:g} m"
        )
    return layers


def wall_flight(
    camera: Camera,
    vehicle: Vehicle,
    *,
    standoff_m: float,
    gsd_cm: float,
    trigger_m: float,
    band: tuple[float, float],
    front_overlap: float,
    side_overlap: float,
    gimbal_pitch_deg: float,
    hover: bool,
    top_m: float,
    heights: list[float],
    ceiling_m: float,
) -> Flight:
    """Speed, camera use and transit height of a scan of a wall ``top_m`` high.

    The speed is capped for flying near a wall and by the camera's trigger interval; the
    rows or layers at ``heights`` are ``band`` (the heights one photo sees) apart less the
    side overlap; transits cross at the top plus a margin, within the ceiling and never
    below the highest row.
    """
    speed = min(vehicle.cruise_speed_ms, MAX_INSPECTION_SPEED_MS)
    if not hover:
        speed = min(speed, camera.max_speed_ms(trigger_m))
    capture = Capture(
        distance_m=standoff_m,
        front_overlap=front_overlap,
        side_overlap=side_overlap,
        gsd_cm=gsd_cm,
        trigger_distance_m=trigger_m,
        line_spacing_m=(band[1] - band[0]) * (1.0 - side_overlap),
        gimbal_pitch_deg=gimbal_pitch_deg,
        hover=hover,
    )
    clearance = max(min(top_m + CLEARANCE_MARGIN_M, ceiling_m), max(heights))
    return Flight(speed, capture, clearance_alt_m=clearance)
