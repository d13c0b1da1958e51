"""What the built-in vehicle says and how it answers: telemetry, events, commands.

:class:`VehicleProtocol` turns the autopilot's state and events into MAVLink messages
and runs the ground station's commands on it. It holds no socket and no thread: the
endpoint (:mod:`sim.vehicle`) calls it from its simulation thread and gives it
``emit`` to send with.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from mission.errors import MissionError
from mission.geodesy import LocalFrame
from mission.items import MissionItem
from sim.vehicle_auto import AUTO, MODES, Autopilot, Current, HomeSet, Photo, Reached, Text
from sim.vehicle_mission import (
    ACCEPTED,
    INVALID,
    LOCATION_COMMANDS,
    MISSION,
    MissionServer,
    parse_fence,
)
from sim.vehicle_params import Parameters, copter_parameters

# MAV_RESULT
_OK, _DENIED, _UNSUPPORTED, _FAILED = 0, 2, 3, 4
_FORCE = 21196  # param2 of ARM_DISARM that skips the checks
_PREARM_BIT = 0x10000000  # MAV_SYS_STATUS_PREARM_CHECK
_SENSORS = 0x1 | 0x2 | 0x4 | 0x8 | 0x20 | 0x8000 | 0x200000 | 0x2000000
#: Default telemetry periods in simulated seconds, by message name (and MAVLink id).
PERIODS = {
    "HEARTBEAT": (0, 1.0),
    "SYS_STATUS": (1, 1.0),
    "SYSTEM_TIME": (2, 1.0),
    "GPS_RAW_INT": (24, 1.0),
    "ATTITUDE": (30, 0.2),
    "GLOBAL_POSITION_INT": (33, 0.2),
    "MISSION_CURRENT": (42, 1.0),
    "VFR_HUD": (74, 0.5),
    # where the gimbal points, as ArduPilot reports a mount: the footage locator reads it
    "MOUNT_STATUS": (158, 0.2),
    "HOME_POSITION": (242, 0.0),
}
_BY_ID = {mid: name for name, (mid, _) in PERIODS.items()} | {148: "AUTOPILOT_VERSION"}


def home_item_at(frame: LocalFrame, xy: tuple[float, float], amsl_m: float) -> MissionItem:
    """Home as a mission's item 0: NAV_WAYPOINT, frame GLOBAL, altitude above sea level."""
    lon, lat = frame.point_to_wgs84(*xy)
    return MissionItem(
        16, 0, lat_deg=round(lat * 1e7) / 1e7, lon_deg=round(lon * 1e7) / 1e7, alt_m=amsl_m
    )


class VehicleProtocol:
    """The vehicle's MAVLink vocabulary over an :class:`Autopilot` (simulation thread only)."""

    def __init__(
        self,
        mav: Any,
        ap: Autopilot,
        frame: LocalFrame,
        home_amsl_m: float,
        epoch_us: int,
        prearm_delay_s: float,
        max_items: int,
        emit: Callable[[Any], None],
    ) -> None:
        self._mav, self._ap, self._frame = mav, ap, frame
        self.home_amsl_m, self._epoch_us = home_amsl_m, epoch_us
        self.prearm_delay_s = prearm_delay_s
        self._emit = emit
        self._t = 0.0  # simulated seconds since boot
        self._periods = {name: period for name, (_, period) in PERIODS.items()}
        self._due = dict.fromkeys(PERIODS, 0.0)
        self._after_ack: list[str] = []
        self._server = MissionServer(mav, emit, self._accept, self.home_item, self._text, max_items)
        self.parameters = Parameters(copter_parameters(ap.airframe, max_items), mav, emit)

    @property
    def server(self) -> MissionServer:
        return self._server

    @property
    def sim_time_s(self) -> float:
        return self._t

    def advance(self, dt: float, connected: bool) -> None:
        """After an autopilot step: the clock, its events, the telemetry that is due."""
        self._t += dt
        self._events()
        if not connected:
            return
        for name, period in self._periods.items():
            if period > 0 and self._t >= self._due[name]:
                self._due[name] = max(self._due[name] + period, self._t)
                self._send_named(name)

    def handle(self, msg: Any, now_wall: float) -> None:
        """One message from the ground station."""
        if not self._server.handle(msg, now_wall) and not self.parameters.handle(msg):
            self._handle_one(msg)
        self._events()

    def _text(self, severity: int, text: str) -> None:
        raw = text.encode("ascii", "replace")[:50]
        self._emit(self._mav.statustext_encode(severity, raw))

    def _events(self) -> None:
        ap = self._ap
        events, ap.events = ap.events, []
        for ev in events:
            if isinstance(ev, Text):
                self._text(ev.severity, ev.text)
            elif isinstance(ev, Current):
                self._send_named("MISSION_CURRENT")
            elif isinstance(ev, Reached):
                self._emit(self._mav.mission_item_reached_encode(ev.seq))
            elif isinstance(ev, Photo):
                self._camera_feedback(ev)
            elif isinstance(ev, HomeSet):
                self._send_named("HOME_POSITION")

    def _send_named(self, name: str) -> bool:
        """Send one telemetry message by name; False when the vehicle has no such message."""
        sender = getattr(self, f"_msg_{name.lower()}", None)
        if sender is None:
            return False
        self._emit(sender())
        return True

    def _prearm_ok(self) -> bool:
        return self._t >= self.prearm_delay_s

    def _boot_ms(self) -> int:
        return int(self._t * 1000) & 0xFFFFFFFF

    def _unix_us(self) -> int:
        return self._epoch_us + int(self._t * 1_000_000)

    def to_local(self, lon: float, lat: float) -> tuple[float, float]:
        return self._frame.point_to_local(lon, lat)

    def _latlon_e7(self, x: float, y: float) -> tuple[int, int]:
        lon, lat = self._frame.point_to_wgs84(x, y)
        return round(lat * 1e7), round(lon * 1e7)

    def home_item(self) -> MissionItem:
        return home_item_at(self._frame, self._ap.home_xy, self.home_amsl_m)

    def _msg_heartbeat(self) -> Any:
        ap = self._ap
        base = 1 | 16 | 8 | (128 if ap.armed else 0)  # custom mode, stabilize, guided, armed
        status = 4 if ap.armed else 3  # MAV_STATE_ACTIVE / STANDBY
        return self._mav.heartbeat_encode(2, 3, base, ap.mode, status)  # QUADROTOR, APM

    def _msg_sys_status(self) -> Any:
        ap = self._ap
        frac = ap.battery_fraction
        health = _SENSORS | (_PREARM_BIT if self._prearm_ok() else 0)
        if not self._prearm_ok():
            health &= ~0x20  # GPS
        current = 0 if not ap.armed else (300 if ap.landed else 2000)
        present = _SENSORS | _PREARM_BIT
        return self._mav.sys_status_encode(
            present,
            present,
            health,
            200,
            int(14000 + 2800 * frac),
            current,
            round(frac * 100),
            0,
            0,
            0,
            0,
            0,
            0,
        )

    def _msg_system_time(self) -> Any:
        return self._mav.system_time_encode(self._unix_us(), self._boot_ms())

    def _msg_gps_raw_int(self) -> Any:
        b = self._ap.body
        lat, lon = self._latlon_e7(b.x, b.y)
        ok = self._prearm_ok()
        cog = round(math.degrees(math.atan2(b.vx, b.vy)) % 360 * 100) % 36000
        return self._mav.gps_raw_int_encode(
            self._unix_us(),
            3 if ok else 1,
            lat,
            lon,
            round((self.home_amsl_m + b.z) * 1000),
            120 if ok else 9999,
            200 if ok else 9999,
            round(b.ground_speed_ms * 100),
            cog,
            12 if ok else 3,
        )

    def _msg_attitude(self) -> Any:
        b = self._ap.body
        yaw = math.radians((b.yaw_deg + 180.0) % 360.0 - 180.0)
        return self._mav.attitude_encode(
            self._boot_ms(),
            math.radians(b.roll_deg),
            math.radians(b.pitch_deg),
            yaw,
            0.0,
            0.0,
            math.radians(b.yaw_rate_dps),
        )

    def _msg_mount_status(self) -> Any:
        ap = self._ap
        yaw = round(((ap.gimbal_yaw_deg + 180.0) % 360.0 - 180.0) * 100)
        # pointing_a is pitch, _b roll, _c yaw, in centidegrees; mode 2: MAVLink targeting
        return self._mav.mount_status_encode(0, 0, round(ap.gimbal_pitch_deg * 100), 0, yaw, 2)

    def _msg_global_position_int(self) -> Any:
        b = self._ap.body
        lat, lon = self._latlon_e7(b.x, b.y)
        return self._mav.global_position_int_encode(
            self._boot_ms(),
            lat,
            lon,
            round((self.home_amsl_m + b.z) * 1000),
            round(b.z * 1000),
            round(b.vy * 100),
            round(b.vx * 100),
            round(-b.vz * 100),
            round(b.yaw_deg * 100) % 36000,
        )

    def _msg_vfr_hud(self) -> Any:
        ap = self._ap
        b = ap.body
        air = math.hypot(b.vx - ap.wind[0], b.vy - ap.wind[1])
        throttle = 0 if not ap.armed else (15 if ap.landed else 50)
        return self._mav.vfr_hud_encode(
            air, b.ground_speed_ms, round(b.yaw_deg) % 360, throttle, self.home_amsl_m + b.z, b.vz
        )

    def _msg_mission_current(self) -> Any:
        ap = self._ap
        total = len(ap.mission)
        if not total:
            state = 1  # MISSION_STATE_NO_MISSION
        elif not ap.running:
            state = 2  # NOT_STARTED
        else:
            state = 3 if ap.mode == AUTO else 4  # ACTIVE / PAUSED
        return self._mav.mission_current_encode(ap.seq, total, state, 1 if ap.mode == AUTO else 0)

    def _msg_home_position(self) -> Any:
        hx, hy = self._ap.home_xy
        lat, lon = self._latlon_e7(hx, hy)
        return self._mav.home_position_encode(
            lat,
            lon,
            round(self.home_amsl_m * 1000),
            0.0,
            0.0,
            0.0,
            [1.0, 0.0, 0.0, 0.0],
            0.0,
            0.0,
            0.0,
            self._unix_us(),
        )

    def _msg_autopilot_version(self) -> Any:
        caps = 1 | 2 | 4 | 8 | 8192 | 16384  # mission float+int, params, COMMAND_INT, v2, fence
        version = (4 << 24) | (5 << 16) | (0 << 8) | 255  # 4.5.0 official
        return self._mav.autopilot_version_encode(
            caps, version, 0, 0, 0, [0] * 8, [0] * 8, [0] * 8, 0, 0, 0
        )

    def _camera_feedback(self, ev: Photo) -> None:
        lat, lon = self._latlon_e7(ev.x, ev.y)
        self._emit(
            self._mav.camera_feedback_encode(
                self._unix_us(),
                0,
                0,
                ev.img_idx,
                lat,
                lon,
                self.home_amsl_m + ev.z,
                ev.z,
                ev.roll_deg,
                ev.pitch_deg,
                ev.yaw_deg,
                0.0,
                0,
                ev.img_idx,
            )
        )

    def _accept(self, mtype: int, items: list[MissionItem]) -> tuple[int, str]:
        """A completed upload (or a clear): load it into the autopilot."""
        if mtype == MISSION:
            self._ap.set_mission(items)
            return ACCEPTED, ""
        zones, why = parse_fence(items, self.to_local)
        if zones is None:
            return INVALID, why
        self._ap.fence = None if zones.empty else zones
        return ACCEPTED, ""

    def _handle_one(self, msg: Any) -> None:
        kind = msg.get_type()
        if kind in ("COMMAND_LONG", "COMMAND_INT"):
            self._command(msg)
        elif kind == "SET_MODE" and msg.target_system in (0, 1):
            ok, why = self._ap.set_mode(int(msg.custom_mode))
            if why:
                self._text(4, why)
            self._ack(msg, 11, _OK if ok else _FAILED)  # ArduPilot ACKs SET_MODE (id 11)
        elif (
            kind == "MISSION_SET_CURRENT"
            and msg.target_system in (0, 1)
            and self._ap.set_current(int(msg.seq))
        ):
            self._send_named("MISSION_CURRENT")

    def _ack(self, msg: Any, command: int, result: int) -> None:
        self._emit(
            self._mav.command_ack_encode(
                command, result, 0, 0, msg.get_srcSystem(), msg.get_srcComponent()
            )
        )

    def _command(self, msg: Any) -> None:
        if msg.target_system not in (0, 1):
            return
        cmd = int(msg.command)
        p = [msg.param1, msg.param2, msg.param3, msg.param4]
        if msg.get_type() == "COMMAND_INT":
            scale = 1e7 if cmd in LOCATION_COMMANDS or cmd == 192 else 1.0
            p += [msg.x / scale, msg.y / scale, msg.z]
            frame = int(msg.frame)
        else:
            p += [msg.param5, msg.param6, msg.param7]
            frame = 3
        result, why = self._run_command(cmd, p, frame)
        if why:
            self._text(2 if why.startswith(("PreArm", "Arm")) else 4, why)
        self._ack(msg, cmd, result)
        while self._after_ack:
            self._send_named(self._after_ack.pop(0))

    def _run_command(self, cmd: int, p: list[float], frame: int) -> tuple[int, str]:
        ap = self._ap
        ok: bool
        if cmd == 400:  # COMPONENT_ARM_DISARM
            force = round(p[1]) == _FORCE
            if p[0] >= 0.5:
                ok, why = ap.arm(force, self._prearm_ok())
            else:
                ok, why = ap.disarm(force)
            return (_OK if ok else _FAILED), why
        if cmd == 176:  # DO_SET_MODE
            if not int(p[0]) & 1:
                return _FAILED, "Mode change needs a custom mode"
            ok, why = ap.set_mode(int(p[1]))
            return (_OK if ok else _FAILED), why
        if cmd == 300:  # MISSION_START
            if p[0] or p[1]:
                return _DENIED, "MISSION_START: first/last item not supported"
            if ap.mode == AUTO and ap.running:
                return _OK, ""
            ok, why = ap.set_mode(AUTO)
            return (_OK if ok else _FAILED), why
        if cmd == 22:  # NAV_TAKEOFF
            ok, why = ap.takeoff(p[6])
            return (_OK if ok else _FAILED), why
        if cmd in (20, 21):  # NAV_RETURN_TO_LAUNCH, NAV_LAND
            ok, why = ap.set_mode(MODES["RTL" if cmd == 20 else "LAND"])
            return (_OK if ok else _FAILED), why
        if cmd in (410, 512, 520):  # GET_HOME_POSITION, REQUEST_MESSAGE, ..._CAPABILITIES
            mid = {410: 242, 520: 148}.get(cmd, int(p[0]) if math.isfinite(p[0]) else -1)
            name = _BY_ID.get(mid)
            if name is None:
                return _FAILED, ""
            self._after_ack.append(name)  # ArduPilot answers with the ACK first
            return _OK, ""
        if cmd == 511:  # SET_MESSAGE_INTERVAL
            name = _BY_ID.get(int(p[0]))
            if name is None or name not in self._periods:
                return _FAILED, ""
            us = p[1]
            default = PERIODS[name][1]
            self._periods[name] = default if us == 0 else (0.0 if us < 0 else us / 1e6)
            self._due[name] = self._t
            return _OK, ""
        if cmd == 192:  # DO_REPOSITION (GUIDED)
            if not (math.isfinite(p[4]) and math.isfinite(p[5])):
                return _FAILED, "Reposition: no position given"
            x, y = self.to_local(p[5], p[4])
            z = p[6] - self.home_amsl_m if frame in (0, 5) else p[6]
            ok, why = ap.goto((x, y, z if math.isfinite(z) else ap.body.z))
            return (_OK if ok else _FAILED), why
        if cmd == 224:  # DO_SET_MISSION_CURRENT
            return (_OK if ap.set_current(int(p[0])) else _FAILED), ""
        if cmd in (115, 178, 179, 195, 197, 203, 205, 206, 1000, 2000, 2001):
            try:
                f = frame if frame in (0, 3) else 3
                item = MissionItem(cmd, f, p[0], p[1], p[2], p[3], p[4], p[5], p[6])
            except MissionError:
                return _FAILED, ""
            ap.do(item)
            return _OK, ""
        return _UNSUPPORTED, ""
