"""MAVLink mission items in ArduPilot's conventions.

A sortie's items never include home: the writers put home at index 0 where a
format wants it (``QGC WPL 110``, the MAVLink mission protocol) and in
``plannedHomePosition`` for QGroundControl's ``.plan``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

from mission.errors import MissionError


class Cmd(IntEnum):
    """The MAV_CMD values skyledger writes or understands when reading."""

    NAV_WAYPOINT = 16
    NAV_LOITER_UNLIM = 17
    NAV_LOITER_TURNS = 18
    NAV_LOITER_TIME = 19
    NAV_RETURN_TO_LAUNCH = 20
    NAV_LAND = 21
    NAV_TAKEOFF = 22
    NAV_SPLINE_WAYPOINT = 82
    CONDITION_DELAY = 112
    CONDITION_YAW = 115
    DO_CHANGE_SPEED = 178
    DO_SET_HOME = 179
    DO_SET_ROI_LOCATION = 195
    DO_SET_ROI_NONE = 197
    DO_DIGICAM_CONTROL = 203
    DO_MOUNT_CONTROL = 205
    DO_SET_CAM_TRIGG_DIST = 206
    DO_GIMBAL_MANAGER_PITCHYAW = 1000
    IMAGE_START_CAPTURE = 2000
    IMAGE_STOP_CAPTURE = 2001


class Frame(IntEnum):
    """MAV_FRAME values: what an item's altitude is measured from."""

    GLOBAL = 0  # above mean sea level
    MISSION = 2  # no position (DO_ and CONDITION_ commands)
    GLOBAL_RELATIVE_ALT = 3  # above home
    GLOBAL_TERRAIN_ALT = 10  # above terrain


#: NAV commands below this id move the vehicle (MAV_CMD_NAV_LAST).
NAV_LAST = 95
#: Commands whose latitude/longitude/altitude is a place the vehicle flies to.
POSITION_COMMANDS = frozenset(
    {
        Cmd.NAV_WAYPOINT,
        Cmd.NAV_LOITER_UNLIM,
        Cmd.NAV_LOITER_TURNS,
        Cmd.NAV_LOITER_TIME,
        Cmd.NAV_LAND,
        Cmd.NAV_TAKEOFF,
        Cmd.NAV_SPLINE_WAYPOINT,
    }
)
#: Altitudes of positioned items beyond this many metres are taken as a corrupt file.
MAX_ALT_M = 100_000.0
#: A Pixhawk-class autopilot holds at most this many items (home included) in one mission.
MAX_ITEMS_PER_SORTIE = 700


@dataclass(frozen=True)
class MissionItem:
    """One mission item. ``alt_m`` is measured from the reference ``frame`` names.

    skyledger writes every positioned item with :attr:`Frame.GLOBAL_RELATIVE_ALT`
    (altitude above home); readers keep what a file says.
    """

    command: int
    frame: int = Frame.GLOBAL_RELATIVE_ALT
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    alt_m: float = 0.0
    autocontinue: bool = True

    def __post_init__(self) -> None:
        for name in ("param1", "param2", "param3", "param4", "lat_deg", "lon_deg", "alt_m"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise MissionError(
                    f"mission item command {self.command}: {name} {value!r} is not a finite number"
                )
        if self.command in POSITION_COMMANDS and abs(self.alt_m) > MAX_ALT_M:
            raise MissionError(
                f"mission item command {self.command}: altitude {self.alt_m} m is beyond "
                f"±{MAX_ALT_M:.0f} m"
            )
        if self.has_position and not -90.0 <= self.lat_deg <= 90.0:
            raise MissionError(
                f"mission item command {self.command}: latitude {self.lat_deg} is outside -90..90"
            )

    @property
    def is_nav(self) -> bool:
        return self.command < NAV_LAST

    @property
    def has_position(self) -> bool:
        """True when the vehicle flies to this item's position (a zero position counts as none)."""
        return self.command in POSITION_COMMANDS and not (
            self.lat_deg == 0.0 and self.lon_deg == 0.0
        )

    @property
    def params(self) -> tuple[float, float, float, float, float, float, float]:
        """The seven parameters as MAVLink and QGroundControl order them."""
        return (
            self.param1,
            self.param2,
            self.param3,
            self.param4,
            self.lat_deg,
            self.lon_deg,
            self.alt_m,
        )


# --- constructors for the items the planners write -------------------------------------


def waypoint(lat_deg: float, lon_deg: float, alt_rel_m: float, hold_s: float = 0.0) -> MissionItem:
    return MissionItem(
        Cmd.NAV_WAYPOINT, Frame.GLOBAL_RELATIVE_ALT, hold_s, 0, 0, 0, lat_deg, lon_deg, alt_rel_m
    )


def takeoff(alt_rel_m: float) -> MissionItem:
    return MissionItem(Cmd.NAV_TAKEOFF, Frame.GLOBAL_RELATIVE_ALT, alt_m=alt_rel_m)


def change_speed(ground_speed_ms: float) -> MissionItem:
    # param1 = 1: ground speed; param3 = -1: throttle unchanged.
    return MissionItem(Cmd.DO_CHANGE_SPEED, Frame.MISSION, 1, ground_speed_ms, -1)


def trigger_distance(distance_m: float) -> MissionItem:
    # param3 = 1: take a photo at once when starting, so a lane begins with a photo.
    return MissionItem(
        Cmd.DO_SET_CAM_TRIGG_DIST, Frame.MISSION, distance_m, 0, 1 if distance_m > 0 else 0
    )


def capture_one() -> MissionItem:
    # IMAGE_START_CAPTURE: param2 interval 0, param3 total images 1.
    return MissionItem(Cmd.IMAGE_START_CAPTURE, Frame.MISSION, 0, 0, 1)


def gimbal_pitch(pitch_deg: float, yaw_deg: float = 0.0) -> MissionItem:
    # DO_MOUNT_CONTROL: param1 pitch, param2 roll, param3 yaw; param7 (alt) = MAV_MOUNT_MODE 2 (MAVLink targeting).
    return MissionItem(Cmd.DO_MOUNT_CONTROL, Frame.MISSION, pitch_deg, 0, yaw_deg, alt_m=2)


def roi_location(lat_deg: float, lon_deg: float, alt_rel_m: float) -> MissionItem:
    return MissionItem(
        Cmd.DO_SET_ROI_LOCATION,
        Frame.GLOBAL_RELATIVE_ALT,
        lat_deg=lat_deg,
        lon_deg=lon_deg,
        alt_m=alt_rel_m,
    )


def roi_none() -> MissionItem:
    return MissionItem(Cmd.DO_SET_ROI_NONE, Frame.MISSION)


def condition_yaw(heading_deg: float) -> MissionItem:
    # param1 target heading, param2 rate (0 = default), param3 direction 0 = shortest, param4 0 = absolute.
    return MissionItem(Cmd.CONDITION_YAW, Frame.MISSION, heading_deg % 360.0, 0, 0, 0)


def return_to_launch() -> MissionItem:
    return MissionItem(Cmd.NAV_RETURN_TO_LAUNCH, Frame.MISSION)
