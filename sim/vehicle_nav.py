"""Navigation tasks of the built-in vehicle's autopilot: hold, go to, take off, land, RTL, circle.

Each task gives the ground velocity it wants this step and says when it is done;
:class:`sim.vehicle_auto.Autopilot` runs one at a time. No I/O, no clock.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.vehicle_physics import Vec3, velocity_circle

if TYPE_CHECKING:
    from sim.vehicle_auto import Autopilot

#: Below this height (m) a landing slows to the land speed (ArduCopter LAND_ALT_LOW).
LAND_ALT_LOW_M = 10.0


class Task:
    takes_off = False  # may leave the ground
    lands = False  # may touch it

    def update(self, ap: Autopilot, dt: float) -> tuple[Vec3, bool]:
        raise NotImplementedError


class Hold(Task):
    def __init__(self, at: Vec3) -> None:
        self.at = at

    def update(self, ap: Autopilot, dt: float) -> tuple[Vec3, bool]:
        return ap.velocity_to(self.at), False


class GoTo(Task):
    """Fly to ``dest`` along the line from ``origin``; done ``hold_s`` after arriving."""

    def __init__(self, dest: Vec3, origin: Vec3 | None, hold_s: float = 0.0) -> None:
        self.dest, self.origin, self.hold_s = dest, origin, hold_s
        self.held = -1.0  # seconds held so far, -1 before arriving

    def update(self, ap: Autopilot, dt: float) -> tuple[Vec3, bool]:
        b = ap.body
        if self.held < 0:
            d = math.dist(b.pos, self.dest)
            if d <= ap.airframe.wp_radius_m:
                self.held = 0.0
        else:
            self.held += dt
        return ap.velocity_to(self.dest, self.origin), self.held >= self.hold_s


class Takeoff(Task):
    takes_off = True

    def __init__(self, at: Vec3) -> None:
        self.at = at

    def update(self, ap: Autopilot, dt: float) -> tuple[Vec3, bool]:
        done = ap.body.z >= self.at[2] - 0.5
        return ap.velocity_to(self.at), done


class Land(Task):
    """Descend where it is (or first fly to ``xy``): the descent speed, slower near the ground."""

    lands = True

    def __init__(self, xy: tuple[float, float] | None, ap: Autopilot) -> None:
        here = ap.body.pos
        self.approach = GoTo((xy[0], xy[1], here[2]), here) if xy is not None else None
        self.xy = xy if xy is not None else (here[0], here[1])

    def update(self, ap: Autopilot, dt: float) -> tuple[Vec3, bool]:
        if ap.landed:
            return (0.0, 0.0, 0.0), True
        if self.approach is not None:
            v, done = self.approach.update(ap, dt)
            if not done:
                return v, False
            self.approach = None
        b = ap.body
        vx, vy, _ = ap.velocity_to((self.xy[0], self.xy[1], b.z))
        slow = b.z <= LAND_ALT_LOW_M
        return (vx, vy, -(ap.airframe.land_speed_ms if slow else ap.descent_ms)), False


class Rtl(Task):
    """Climb to max(height, RTL altitude), fly home at the cruise speed, land."""

    lands = True

    def __init__(self, ap: Autopilot) -> None:
        b = ap.body
        self.alt = max(b.z, ap.airframe.rtl_alt_m)
        self.phase = GoTo((b.x, b.y, self.alt), None)
        self.stage = "climb"

    def update(self, ap: Autopilot, dt: float) -> tuple[Vec3, bool]:
        if self.stage == "climb":
            v, _ = self.phase.update(ap, dt)
            if ap.body.z >= self.alt - 0.5:
                hx, hy = ap.home_xy
                self.phase = GoTo((hx, hy, self.alt), ap.body.pos)
                self.stage = "return"
            return v, False
        if self.stage == "return":
            v, done = self.phase.update(ap, dt)
            if not done:
                return v, False
            self.stage = "land"
            self.land = Land(None, ap)
            self.land.xy = ap.home_xy
        return self.land.update(ap, dt)


class Circle(Task):
    """LOITER_TURNS: fly to the circle's edge, then round it ``turns`` times."""

    def __init__(self, centre: Vec3, radius_m: float, turns: float, cw: bool, ap: Autopilot):
        b = ap.body
        self.c, self.r, self.cw = centre, max(radius_m, 1.0), cw
        rx, ry = b.x - centre[0], b.y - centre[1]
        n = math.hypot(rx, ry) or 1.0
        edge = (centre[0] + rx / n * self.r, centre[1] + ry / n * self.r, centre[2])
        if math.hypot(rx, ry) < 1e-6:
            edge = (centre[0] + self.r, centre[1], centre[2])
        self.approach: GoTo | None = GoTo(edge, b.pos)
        self.goal = abs(turns) * 2.0 * math.pi
        self.swept = 0.0
        self.last = 0.0

    def update(self, ap: Autopilot, dt: float) -> tuple[Vec3, bool]:
        b = ap.body
        if self.approach is not None:
            v, done = self.approach.update(ap, dt)
            if not done:
                return v, False
            self.approach = None
            self.last = math.atan2(b.y - self.c[1], b.x - self.c[0])
        angle = math.atan2(b.y - self.c[1], b.x - self.c[0])
        delta = (angle - self.last + math.pi) % (2.0 * math.pi) - math.pi
        self.swept += -delta if self.cw else delta
        self.last = angle
        af = ap.airframe
        v = velocity_circle(
            b,
            self.c[:2],
            self.r,
            self.c[2],
            ap.speed_ms,
            self.cw,
            af.accel_ms2,
            ap.climb_ms,
            ap.descent_ms,
        )
        return v, self.swept >= self.goal
