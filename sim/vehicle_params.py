"""The built-in vehicle's parameters: ArduCopter's names for what its model uses.

Ground stations (QGroundControl, Mission Planner, DroneKit) fetch every parameter when
they connect and wait until the first ``PARAM_VALUE`` arrives, so the vehicle answers
``PARAM_REQUEST_LIST``, ``PARAM_REQUEST_READ`` and ``PARAM_SET`` for this small table.
Values come from the vehicle's airframe in ArduCopter's units (cm, cm/s); a ``PARAM_SET``
is stored and echoed but does not change the flight model (see docs/sim.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.vehicle_physics import Airframe

#: MAV_PARAM_TYPE_REAL32: every value is sent as a float, as ArduPilot does for most.
_REAL32 = 9


def copter_parameters(airframe: Airframe, max_items: int) -> dict[str, float]:
    """ArduCopter parameter names and values for an airframe."""
    return {
        "SYSID_THISMAV": 1.0,
        "FRAME_CLASS": 1.0,  # quad
        "WPNAV_SPEED": airframe.cruise_speed_ms * 100.0,
        "WPNAV_SPEED_UP": airframe.climb_speed_ms * 100.0,
        "WPNAV_SPEED_DN": airframe.descent_speed_ms * 100.0,
        "WPNAV_ACCEL": airframe.accel_ms2 * 100.0,
        "WPNAV_RADIUS": airframe.wp_radius_m * 100.0,
        "LAND_SPEED": airframe.land_speed_ms * 100.0,
        "RTL_ALT": airframe.rtl_alt_m * 100.0,
        "FENCE_ENABLE": 1.0,
        "FENCE_ACTION": 1.0,  # RTL
        "MIS_TOTAL": 0.0,
        "MIS_OPTIONS": 0.0,
        "CAM1_TYPE": 1.0,
        "BRD_SAFETY_DEFLT": 0.0,
        "MISSION_MAX_ITEMS": float(max_items),
    }


class Parameters:
    """The parameter protocol's vehicle side over a table of values."""

    def __init__(self, values: dict[str, float], mav: Any, emit: Callable[[Any], None]):
        self.values = dict(values)
        self._names = list(self.values)
        self._mav, self._emit = mav, emit

    def _send(self, name: str) -> None:
        index = self._names.index(name)
        self._emit(
            self._mav.param_value_encode(
                name.encode(), self.values[name], _REAL32, len(self._names), index
            )
        )

    def handle(self, msg: Any) -> bool:
        """Answer a parameter message; False when ``msg`` is not one."""
        kind = msg.get_type()
        if kind == "PARAM_REQUEST_LIST":
            for name in self._names:
                self._send(name)
        elif kind == "PARAM_REQUEST_READ":
            name = _text(msg.param_id)
            if 0 <= msg.param_index < len(self._names):
                name = self._names[msg.param_index]
            if name in self.values:
                self._send(name)
        elif kind == "PARAM_SET":
            name = _text(msg.param_id)
            if name in self.values:  # ArduPilot stays silent about names it does not have
                self.values[name] = float(msg.param_value)
                self._send(name)
        else:
            return False
        return True


def _text(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    return str(raw).rstrip("\x00")
