"""The plan: home, one mission per sortie, geofence, rally points and what it was planned for.

A plan read back from a QGroundControl or Mission Planner file has only its items;
``pattern`` is then ``"imported"`` and ``camera``/``target`` are ``None`` unless the
file carries skyledger's own metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from mission.camera import Camera
from mission.errors import MissionError
from mission.geodesy import check_lonlat
from mission.items import MAX_ITEMS_PER_SORTIE, MissionItem

PLAN_SCHEMA = "skyledger.plan"
PLAN_SCHEMA_VERSION = 1

Pattern = Literal["survey", "corridor", "structure", "facade", "imported"]
TargetKind = Literal["area", "corridor", "structure", "facade"]


@dataclass(frozen=True)
class Home:
    """Take-off and return position; ``alt_amsl_m`` is the ground elevation there."""

    lat_deg: float
    lon_deg: float
    alt_amsl_m: float = 0.0

    def __post_init__(self) -> None:
        check_lonlat(self.lon_deg, self.lat_deg, "home")
        if not (math.isfinite(self.alt_amsl_m) and -1000.0 <= self.alt_amsl_m <= 10000.0):
            raise MissionError(
                f"home altitude {self.alt_amsl_m} m above sea level is outside -1000..10000 m"
            )


@dataclass(frozen=True)
class Vehicle:
    """What the duration estimate and the sortie split assume about the aircraft.

    Defaults describe a typical inspection quadcopter on ArduPilot Copter defaults
    (WPNAV_ACCEL 2.5 m/s², WPNAV_SPEED_UP 2.5 m/s, WPNAV_SPEED_DN 1.5 m/s,
    LAND_SPEED 0.5 m/s, RTL_ALT 15 m); ``endurance_s`` is usable flight time per
    battery with the reserve already taken off.
    """

    name: str = "quadcopter"
    cruise_speed_ms: float = 10.0
    climb_speed_ms: float = 2.5
    descent_speed_ms: float = 1.5
    land_speed_ms: float = 0.5
    accel_ms2: float = 2.5
    endurance_s: float = 1200.0
    max_items: int = MAX_ITEMS_PER_SORTIE
    rtl_alt_m: float = 15.0

    def __post_init__(self) -> None:
        for key in (
            "cruise_speed_ms",
            "climb_speed_ms",
            "descent_speed_ms",
            "land_speed_ms",
            "accel_ms2",
            "endurance_s",
        ):
            value = getattr(self, key)
            if not math.isfinite(value) or value <= 0:
                raise MissionError(f"vehicle {key} {value} must be a number > 0")
        if not 3 <= self.max_items <= MAX_ITEMS_PER_SORTIE:
            raise MissionError(
                f"vehicle max_items {self.max_items} must be in 3..{MAX_ITEMS_PER_SORTIE}"
            )


@dataclass(frozen=True)
class Target:
    """What the plan must capture, in WGS84 (GeoJSON geometry, lon/lat order).

    Geometries are stored JSON-shaped (lists, not tuples; a shapely ``mapping`` is fine
    to pass) so a plan read back from a file compares equal to the one written.

    - ``area``: a Polygon (holes allowed), seen from above;
    - ``corridor``: the buffered corridor Polygon, seen from above; ``line`` keeps the centre line;
    - ``structure``: a Point with ``radius_m``, or a footprint Polygon, from 0 to ``height_max_m`` AGL;
    - ``facade``: a LineString on the ground, from ``height_min_m`` to ``height_max_m`` AGL.
    """

    kind: TargetKind
    geometry: dict[str, Any]
    radius_m: float | None = None
    height_min_m: float | None = None
    height_max_m: float | None = None
    line: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "geometry", _json_shaped(self.geometry))
        if self.line is not None:
            object.__setattr__(self, "line", _json_shaped(self.line))


def _json_shaped(value: Any) -> Any:
    """Tuples to lists, recursively, as JSON reads them."""
    if isinstance(value, dict):
        return {key: _json_shaped(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_shaped(v) for v in value]
    return value


@dataclass(frozen=True)
class Capture:
    """How the camera is used: the design intent the items implement."""

    distance_m: float  # altitude above ground for area/corridor, stand-off for structure/facade
    front_overlap: float
    side_overlap: float
    gsd_cm: float
    trigger_distance_m: float
    line_spacing_m: float
    gimbal_pitch_deg: float  # -90 straight down, 0 level
    hover: bool = False  # hover-and-capture with IMAGE_START_CAPTURE instead of distance triggering


@dataclass(frozen=True)
class FencePolygon:
    vertices: tuple[tuple[float, float], ...]  # (lon, lat), not closed
    inclusion: bool = True

    def __post_init__(self) -> None:
        if len(self.vertices) < 3:
            raise MissionError(
                f"fence polygon has {len(self.vertices)} vertices; it needs at least 3"
            )
        for lon, lat in self.vertices:
            check_lonlat(lon, lat, "fence vertex")


@dataclass(frozen=True)
class FenceCircle:
    lon_deg: float
    lat_deg: float
    radius_m: float
    inclusion: bool = True

    def __post_init__(self) -> None:
        check_lonlat(self.lon_deg, self.lat_deg, "fence circle centre")
        if not math.isfinite(self.radius_m) or self.radius_m <= 0:
            raise MissionError(f"fence circle radius {self.radius_m} m must be > 0")


@dataclass(frozen=True)
class Geofence:
    polygons: tuple[FencePolygon, ...] = ()
    circles: tuple[FenceCircle, ...] = ()


@dataclass(frozen=True)
class RallyPoint:
    lat_deg: float
    lon_deg: float
    alt_rel_m: float

    def __post_init__(self) -> None:
        check_lonlat(self.lon_deg, self.lat_deg, "rally point")


@dataclass(frozen=True)
class Plan:
    """A complete inspection plan: one mission per sortie, each ending in RTL."""

    home: Home
    sorties: tuple[tuple[MissionItem, ...], ...]
    pattern: Pattern = "imported"
    name: str = ""
    camera: Camera | None = None
    capture: Capture | None = None
    target: Target | None = None
    vehicle: Vehicle = field(default_factory=Vehicle)
    geofence: Geofence = field(default_factory=Geofence)
    rally: tuple[RallyPoint, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)  # the planning parameters as given
    #: 1 for a plan as planned; a repaired plan counts on from the plan it was made from,
    #: whose digest (``sha256:`` of its skyledger JSON) ``derived_from`` keeps.
    revision: int = 1
    derived_from: str | None = None

    def __post_init__(self) -> None:
        if not self.sorties or any(not s for s in self.sorties):
            raise MissionError("a plan needs at least one sortie with at least one mission item")

    @property
    def items(self) -> tuple[MissionItem, ...]:
        """All sorties' items, in order (home excluded)."""
        return tuple(item for sortie in self.sorties for item in sortie)

    def item_count(self) -> int:
        """Items the autopilots will hold in all, home counted once per sortie."""
        return sum(len(s) + 1 for s in self.sorties)
