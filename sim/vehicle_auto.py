"""The built-in vehicle's autopilot: ArduCopter's modes, arming and AUTO mission execution.

No I/O and no clock of its own: :meth:`Autopilot.step` advances it by one simulated step
and leaves what the ground station should hear in :attr:`Autopilot.events`. Positions
are local metres (east, north, up from home's ground) through ``to_local``.

AUTO follows ArduPilot's ``AP_Mission``: the DO and CONDITION items after a NAV item run
when that NAV item completes, just before the next NAV item starts, as
:mod:`mission.analysis` models it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from mission.items import NAV_LAST, Cmd, MissionItem
from sim.vehicle_mission import DO_JUMP, FenceZones
from sim.vehicle_nav import Circle, GoTo, Hold, Land, Rtl, Takeoff, Task
from sim.vehicle_physics import (
    Airframe,
    Body,
    Vec3,
    bearing_deg,
    fall,
    settle,
    step,
    trigger_crossing,
    velocity_to,
)

STABILIZE, AUTO, GUIDED, LOITER, RTL, LAND = 0, 3, 4, 5, 6, 9
MODES = {
    "STABILIZE": STABILIZE,
    "AUTO": AUTO,
    "GUIDED": GUIDED,
    "LOITER": LOITER,
    "RTL": RTL,
    "LAND": LAND,
}
MODE_NAMES = {v: k for k, v in MODES.items()}
ARMABLE = frozenset({STABILIZE, GUIDED, LOITER})
#: ArduPilot's names for commands in its "Mission: N name" messages.
_NAMES = {16: "WP", 17: "LoitUnlim", 18: "LoitTurns", 19: "LoitTime", 20: "RTL", 21: "Land"}
_NAMES |= {22: "Takeoff", 82: "SplineWP"}


class Text(NamedTuple):
    severity: int  # MAV_SEVERITY: 2 critical, 4 warning, 6 info
    text: str


class Current(NamedTuple):
    seq: int


class Reached(NamedTuple):
    seq: int


class Photo(NamedTuple):
    x: float
    y: float
    z: float
    roll_deg: float
    pitch_deg: float
    yaw_deg: float
    img_idx: int  # from 1


class HomeSet(NamedTuple):
    x: float
    y: float


Event = Text | Current | Reached | Photo | HomeSet


# -- the autopilot -----------------------------------------------------------------------


class Autopilot:
    """Modes, arming, AUTO, camera, fence and battery of the built-in vehicle."""

    def __init__(
        self,
        airframe: Airframe,
        wind: tuple[float, float],
        endurance_s: float,
        home_amsl_m: float,
        to_local: Callable[[float, float], tuple[float, float]],
    ) -> None:
        self.airframe, self.wind, self.endurance_s = airframe, wind, endurance_s
        self.home_amsl_m, self.to_local = home_amsl_m, to_local
        self.body = Body()
        self.armed, self.landed, self.mode = False, True, STABILIZE
        self.home_xy = (0.0, 0.0)
        self.mission: list[MissionItem] = []  # seq 1.. (home is not stored)
        self.fence: FenceZones | None = None
        self.events: list[Event] = []
        self.task: Task | None = None
        self.seq = 0  # the current mission item; 0 before a start
        self.running = False  # a mission is under way (resumable)
        self.jumps: dict[int, int] = {}
        self.speed_ms = airframe.cruise_speed_ms
        self.climb_ms, self.descent_ms = airframe.climb_speed_ms, airframe.descent_speed_ms
        self.trigger_m = 0.0
        self.trigger_ref: tuple[float, float] = (0.0, 0.0)
        self.last_photo: tuple[float, float] | None = None
        self.interval_s, self.interval_left, self.interval_due = 0.0, 0, 0.0
        self.photos = 0
        self.roi: Vec3 | None = None
        self.fixed_yaw: float | None = None
        self.yaw_since_nav = False
        self.gimbal_pitch_deg, self.gimbal_yaw_deg = 0.0, 0.0
        self.flight_s = 0.0
        self.battery_failsafe = False
        self.fence_breached = False

    # -- helpers --

    def text(self, severity: int, text: str) -> None:
        self.events.append(Text(severity, text))

    def velocity_to(self, dest: Vec3, origin: Vec3 | None = None) -> Vec3:
        af = self.airframe
        return velocity_to(
            self.body, dest, self.speed_ms, self.climb_ms, self.descent_ms, af.accel_ms2, origin
        )

    @property
    def battery_fraction(self) -> float:
        return max(0.0, 1.0 - self.flight_s / self.endurance_s) if self.endurance_s > 0 else 0.0

    def local(self, item: MissionItem) -> Vec3:
        """The item's position in the local frame; zero lat/lon or altitude mean 'where I am'."""
        b = self.body
        if item.lat_deg == 0.0 and item.lon_deg == 0.0:
            x, y = b.x, b.y
        else:
            x, y = self.to_local(item.lon_deg, item.lat_deg)
        z = item.alt_m - self.home_amsl_m if item.frame == 0 else item.alt_m
        if item.alt_m == 0.0 and item.command not in (Cmd.NAV_TAKEOFF, Cmd.NAV_LAND):
            z = b.z
        return (x, y, z)

    # -- commands from the ground station --

    def arm(self, force: bool, prearm_ok: bool) -> tuple[bool, str]:
        """Arm (or say why not, in ArduPilot's words)."""
        if self.armed:
            return True, ""
        if self.mode not in ARMABLE:
            return False, f"Arm: {MODE_NAMES[self.mode]} mode not armable"
        if not force and not prearm_ok:
            return False, "PreArm: GPS 1: Bad fix"
        if not force and self.battery_fraction <= 0.0:
            return False, "PreArm: Battery 1 below minimum"
        self.armed, self.landed = True, True
        self.fence_breached = False
        self.home_xy = (self.body.x, self.body.y)  # ArduPilot sets home where it arms
        self.events.append(HomeSet(*self.home_xy))
        if self.mode in (GUIDED, LOITER, STABILIZE):
            self.task = None
        return True, ""

    def disarm(self, force: bool) -> tuple[bool, str]:
        if not self.armed:
            return True, ""
        if not self.landed and not force:
            return False, "Disarm: vehicle is flying"
        self.armed = False
        self.task = None
        self.running, self.seq, self.jumps = False, 0, {}  # ArduCopter resets the mission
        return True, ""

    def set_mode(self, mode: int) -> tuple[bool, str]:
        if mode not in MODE_NAMES:
            return False, f"Mode {mode} is not supported"
        if mode == AUTO and self.armed and self.landed and not self._starts_with_takeoff():
            return False, "Auto: Missing Takeoff Cmd"
        was = self.mode
        self.mode = mode
        if was == AUTO and mode != AUTO:
            self.roi, self.fixed_yaw = None, None
        here = self.body.pos
        if mode == AUTO:
            if self.armed:
                self._start_auto()
        elif mode in (GUIDED, LOITER, STABILIZE):
            self.task = None if self.landed else Hold(here)
        elif mode == RTL:
            self.trigger_m = 0.0
            self.speed_ms = self.airframe.cruise_speed_ms
            self.task = Rtl(self)
        elif mode == LAND:
            self.task = Land(None, self)
        return True, ""

    def takeoff(self, alt_rel_m: float) -> tuple[bool, str]:
        if self.mode != GUIDED or not self.armed or not self.landed:
            return False, "Takeoff: needs GUIDED, armed, on the ground"
        b = self.body
        self.task = Takeoff((b.x, b.y, max(alt_rel_m, 1.0)))
        return True, ""

    def goto(self, dest: Vec3) -> tuple[bool, str]:
        """GUIDED reposition (MAV_CMD_DO_REPOSITION)."""
        if not self.armed or self.landed:
            return False, "Reposition: not flying"
        if self.mode != GUIDED:
            self.set_mode(GUIDED)
        self.task = GoTo(dest, self.body.pos, math.inf)
        return True, ""

    def set_current(self, seq: int) -> bool:
        if not 1 <= seq <= len(self.mission):
            return False
        self.seq, self.running = seq, True
        self.events.append(Current(seq))
        if self.mode == AUTO and self.armed and not self.landed:
            self._advance(seq)
        return True

    def set_mission(self, items: list[MissionItem]) -> None:
        """A new mission; one being flown goes on from the same item number."""
        self.mission = list(items)
        self.jumps = {}

    # -- AUTO --

    def _starts_with_takeoff(self) -> bool:
        first = next((it for it in self.mission if it.command < NAV_LAST), None)
        return first is not None and first.command == Cmd.NAV_TAKEOFF

    def _start_auto(self) -> None:
        if self.running and 1 <= self.seq <= len(self.mission):
            self._start_nav(self.seq, self.mission[self.seq - 1])  # resume (MIS_RESTART 0)
        else:
            self.jumps = {}
            self._advance(1)

    def _advance(self, seq: int) -> None:
        """Run the DO items from ``seq`` and start the next NAV item (or end the mission)."""
        self.running = True
        guard = 0
        while 1 <= seq <= len(self.mission) and guard < 10_000:
            guard += 1
            item = self.mission[seq - 1]
            if item.command == DO_JUMP:
                left = self.jumps.get(seq, int(item.param2))
                if left != 0 and 1 <= int(item.param1) <= len(self.mission):
                    self.jumps[seq] = left - 1 if left > 0 else left
                    seq = int(item.param1)
                else:
                    seq += 1
                continue
            if item.command < NAV_LAST:
                self._start_nav(seq, item)
                return
            self.do(item)
            seq += 1
        self._end_mission()

    def _end_mission(self) -> None:
        self.running, self.seq = False, 0
        if self.landed:
            self.disarm(force=True)
        else:
            self.task = Hold(self.body.pos)  # ArduCopter loiters where the mission ended

    def _start_nav(self, seq: int, item: MissionItem) -> None:
        self.seq = seq
        self.events.append(Current(seq))
        self.text(6, f"Mission: {seq} {_NAMES.get(item.command, str(item.command))}")
        cmd, here = item.command, self.body.pos
        if item.has_position and cmd not in (Cmd.NAV_TAKEOFF, Cmd.NAV_LAND):
            if not self.yaw_since_nav:
                self.fixed_yaw = None
            self.yaw_since_nav = False
        if cmd == Cmd.NAV_TAKEOFF:
            alt = item.alt_m - self.home_amsl_m if item.frame == 0 else item.alt_m
            self.task = Takeoff((here[0], here[1], max(alt, here[2])))
        elif cmd in (Cmd.NAV_WAYPOINT, Cmd.NAV_SPLINE_WAYPOINT, Cmd.NAV_LOITER_TIME):
            self.task = GoTo(self.local(item), here, max(item.param1, 0.0))
        elif cmd == Cmd.NAV_LOITER_UNLIM:
            self.task = GoTo(self.local(item), here, math.inf)
        elif cmd == Cmd.NAV_LOITER_TURNS:
            r = item.param3
            self.task = Circle(self.local(item), abs(r), item.param1, r >= 0, self)
        elif cmd == Cmd.NAV_RETURN_TO_LAUNCH:
            self.trigger_m = 0.0  # as mission.analysis: RTL flies with the camera off
            self.speed_ms = self.airframe.cruise_speed_ms
            self.task = Rtl(self)
        elif cmd == Cmd.NAV_LAND:
            xy = self.local(item)[:2] if item.has_position else None
            self.task = Land(xy, self)
        else:  # a NAV command the vehicle does not fly: done at once
            self.task = GoTo(here, None)

    def do(self, item: MissionItem) -> None:
        """Run one DO/CONDITION command (from the mission or a COMMAND_LONG)."""
        cmd = item.command
        if cmd == Cmd.DO_CHANGE_SPEED:
            if item.param2 > 0:
                if int(item.param1) == 2:
                    self.climb_ms = item.param2
                elif int(item.param1) == 3:
                    self.descent_ms = item.param2
                else:
                    self.speed_ms = item.param2
        elif cmd == Cmd.DO_SET_CAM_TRIGG_DIST:
            self.trigger_m = max(item.param1, 0.0)
            self.trigger_ref = (self.body.x, self.body.y)
            if self.trigger_m > 0 and item.param3 >= 1:
                self.photo(self.body.pos)
        elif cmd == Cmd.IMAGE_START_CAPTURE:
            if item.param2 > 0:  # a series every param2 s, param3 images (0: until stopped)
                self.interval_s, self.interval_left = item.param2, int(item.param3) or -1
                self.interval_due = 0.0
            elif item.param3 >= 1:
                self.photo(self.body.pos)
        elif cmd == Cmd.IMAGE_STOP_CAPTURE:
            self.interval_s, self.interval_left = 0.0, 0
        elif cmd == Cmd.DO_DIGICAM_CONTROL:
            if item.lat_deg >= 1:  # param5: shoot
                self.photo(self.body.pos)
        elif cmd in (Cmd.DO_MOUNT_CONTROL, Cmd.DO_GIMBAL_MANAGER_PITCHYAW):
            self.gimbal_pitch_deg = min(max(item.param1, -90.0), 90.0)
            yaw = item.param3 if cmd == Cmd.DO_MOUNT_CONTROL else item.param2
            self.gimbal_yaw_deg = yaw if math.isfinite(yaw) else 0.0
        elif cmd in (Cmd.DO_SET_ROI_LOCATION, 201):
            if item.lat_deg == 0.0 and item.lon_deg == 0.0:
                self.roi = None  # ArduPilot: an ROI at 0, 0 cancels it
            else:
                x, y = self.to_local(item.lon_deg, item.lat_deg)
                z = item.alt_m - self.home_amsl_m if item.frame == 0 else item.alt_m
                self.roi = (x, y, z)
        elif cmd == Cmd.DO_SET_ROI_NONE:
            self.roi = None
        elif cmd == Cmd.CONDITION_YAW:
            self.yaw_since_nav = True
            if item.param4 == 0:
                self.fixed_yaw = item.param1 % 360.0
            else:
                sign = -1.0 if item.param3 < 0 else 1.0
                self.fixed_yaw = (self.body.yaw_deg + sign * item.param1) % 360.0
        elif cmd == Cmd.DO_SET_HOME:
            if item.param1 >= 1 or (item.lat_deg == 0 and item.lon_deg == 0):
                self.home_xy = (self.body.x, self.body.y)
            else:
                self.home_xy = self.to_local(item.lon_deg, item.lat_deg)
            self.events.append(HomeSet(*self.home_xy))
        # CONDITION_DELAY and anything else: nothing to do

    # -- camera --

    def photo(self, at: Vec3) -> None:
        if not self.armed or self.landed:
            return
        self.photos += 1
        b = self.body
        self.events.append(Photo(*at, b.roll_deg, b.pitch_deg, b.yaw_deg, self.photos))
        self.last_photo = (at[0], at[1])

    def _camera(self, old: Vec3, dt: float) -> None:
        b = self.body
        if self.trigger_m > 0:
            a = (old[0], old[1])
            end = (b.x, b.y)
            for _ in range(1000):
                ref = self.last_photo if self.last_photo is not None else self.trigger_ref
                f = trigger_crossing(a, end, ref, self.trigger_m)
                if f is None:
                    break
                z = old[2] + f * (b.z - old[2])
                at = (a[0] + f * (end[0] - a[0]), a[1] + f * (end[1] - a[1]), z)
                self.photo(at)
                if self.last_photo is None:
                    break
                a = (at[0], at[1])
        if self.interval_s > 0 and self.interval_left != 0:
            self.interval_due -= dt
            if self.interval_due <= 0:
                self.photo(b.pos)
                self.interval_due += self.interval_s
                if self.interval_left > 0:
                    self.interval_left -= 1

    # -- the step --

    def _yaw_target(self, v: Vec3) -> float | None:
        b = self.body
        if self.roi is not None and math.hypot(self.roi[0] - b.x, self.roi[1] - b.y) > 1.0:
            return bearing_deg(self.roi[0] - b.x, self.roi[1] - b.y)
        if self.fixed_yaw is not None:
            return self.fixed_yaw
        if self.mode in (RTL, LAND) or isinstance(self.task, Rtl | Land):
            return None  # WP_YAW_BEHAVIOR 2: RTL keeps its heading
        if math.hypot(v[0], v[1]) > 1.0:
            return bearing_deg(v[0], v[1])
        return None

    def step(self, dt: float) -> None:
        """Advance one simulated step."""
        b = self.body
        if not self.armed:
            if b.z > 0.0:
                fall(b, self.wind, dt)
            return
        task = self.task
        if self.landed and (task is None or not task.takes_off):
            settle(b)
            if task is not None and task.lands and isinstance(task, Land | Rtl):
                self._task_done()  # an RTL or LAND begun on the ground ends at once
            return
        v, done = task.update(self, dt) if task is not None else ((0.0, 0.0, 0.0), False)
        old = step(b, v, self._yaw_target(v), self.airframe, self.wind, dt)
        if b.z <= 0.0:
            if task is not None and task.lands and v[2] < 0.0:
                settle(b)
                self.landed = True
            else:
                b.z, b.vz = 0.0, max(b.vz, 0.0)
        elif self.landed and b.z > 0.2:
            self.landed = False
        if not self.landed:
            self.flight_s += dt
        self._camera(old, dt)
        if done:
            self._task_done()
        self._fence()
        self._battery()

    def _task_done(self) -> None:
        if self.mode == AUTO and self.running:
            seq = self.seq
            self.events.append(Reached(seq))
            self.text(6, f"Reached command #{seq}")
            self._advance(seq + 1)
        elif self.mode in (RTL, LAND) or isinstance(self.task, Land | Rtl):
            self.task = None
            if self.landed:
                self.disarm(force=True)
        else:
            self.task = Hold(self.body.pos)

    def _fence(self) -> None:
        if self.fence is None or self.fence_breached or self.landed or not self.armed:
            return
        if self.fence.breached(self.body.x, self.body.y):
            self.fence_breached = True
            self.text(2, "Fence breach")
            if self.mode not in (RTL, LAND):
                self.set_mode(RTL)

    def _battery(self) -> None:
        if self.battery_failsafe or self.battery_fraction > 0.0:
            return
        self.battery_failsafe = True
        self.text(2, "Battery 1 is critical")
        if self.mode != LAND and not self.landed:
            self.set_mode(LAND)
