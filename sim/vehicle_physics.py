"""The built-in vehicle's kinematic model: a point mass in a local east/north/up frame.

Pure functions and plain state, no I/O and no clock: :mod:`sim.vehicle_auto` decides
which velocity it wants, :func:`step` moves the body toward it within the airframe's
limits. ``x`` is east, ``y`` north, ``z`` up from home's ground, all in metres; headings
are degrees clockwise from north.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Simulation step in simulated seconds.
DT_S = 0.05
#: Standard gravity (m/s²), for the attitude a given acceleration needs.
G = 9.80665
#: Aerodynamic drag per unit mass (1/s): a copter leans into the air it moves through.
DRAG_PER_S = 0.25

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Airframe:
    """The limits the controller flies within (speeds m/s, acceleration m/s², radius m)."""

    cruise_speed_ms: float = 10.0
    climb_speed_ms: float = 2.5
    descent_speed_ms: float = 1.5
    land_speed_ms: float = 0.5
    accel_ms2: float = 2.5
    wp_radius_m: float = 2.0
    rtl_alt_m: float = 15.0
    yaw_rate_dps: float = 90.0
    #: Seconds the wind estimate takes to converge (the drift before it does is real).
    wind_tau_s: float = 3.0


@dataclass
class Body:
    """Where the vehicle is and how it moves; ``vx, vy, vz`` are ground velocities."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    vx: float = 0.0
    vy: float = 0.0
    vz: float = 0.0
    yaw_deg: float = 0.0
    yaw_rate_dps: float = 0.0
    roll_deg: float = 0.0
    pitch_deg: float = 0.0
    wind_est_e: float = 0.0
    wind_est_n: float = 0.0

    @property
    def pos(self) -> Vec3:
        return (self.x, self.y, self.z)

    @property
    def ground_speed_ms(self) -> float:
        return math.hypot(self.vx, self.vy)


def bearing_deg(dx: float, dy: float) -> float:
    """Heading of the vector (east ``dx``, north ``dy``), 0..360.

    >>> bearing_deg(1.0, 0.0)
    90.0
    """
    return math.degrees(math.atan2(dx, dy)) % 360.0


def _clip_norm(vx: float, vy: float, limit: float) -> tuple[float, float]:
    n = math.hypot(vx, vy)
    if n <= limit or n == 0.0:
        return vx, vy
    return vx * limit / n, vy * limit / n


def velocity_to(
    body: Body,
    dest: Vec3,
    speed_ms: float,
    up_ms: float,
    down_ms: float,
    accel_ms2: float,
    origin: Vec3 | None = None,
) -> Vec3:
    """The ground velocity that flies ``body`` to ``dest`` in a straight line and stops there.

    With ``origin`` the line origin→dest is tracked (a carrot ahead on it pulls the vehicle
    back onto it after a gust); without, the vehicle heads straight for ``dest``. The
    horizontal part stays within ``speed_ms``, the vertical within ``up_ms``/``down_ms``,
    and the speed falls as the remaining distance shrinks so that the vehicle can brake.
    """
    px, py, pz = body.pos
    aim = dest
    if origin is not None:
        lx, ly, lz = dest[0] - origin[0], dest[1] - origin[1], dest[2] - origin[2]
        length = math.sqrt(lx * lx + ly * ly + lz * lz)
        if length > 1e-6:
            ux, uy, uz = lx / length, ly / length, lz / length
            along = (px - origin[0]) * ux + (py - origin[1]) * uy + (pz - origin[2]) * uz
            ahead = min(max(along, 0.0) + max(speed_ms * 1.5, 5.0), length)
            aim = (origin[0] + ux * ahead, origin[1] + uy * ahead, origin[2] + uz * ahead)
    dx, dy, dz = aim[0] - px, aim[1] - py, aim[2] - pz
    n = math.sqrt(dx * dx + dy * dy + dz * dz)
    if n < 1e-9:
        return (0.0, 0.0, 0.0)
    ux, uy, uz = dx / n, dy / n, dz / n
    cap = math.inf
    h = math.hypot(ux, uy)
    if h > 1e-9:
        cap = speed_ms / h
    if uz > 1e-9:
        cap = min(cap, up_ms / uz)
    elif uz < -1e-9:
        cap = min(cap, down_ms / -uz)
    rx, ry, rz = dest[0] - px, dest[1] - py, dest[2] - pz
    remaining = math.sqrt(rx * rx + ry * ry + rz * rz)
    speed = min(cap, math.sqrt(2.0 * 0.8 * accel_ms2 * remaining), 1.5 * remaining)
    return (ux * speed, uy * speed, uz * speed)


def velocity_circle(
    body: Body,
    centre: tuple[float, float],
    radius_m: float,
    alt_m: float,
    speed_ms: float,
    clockwise: bool,
    accel_ms2: float,
    up_ms: float,
    down_ms: float,
) -> Vec3:
    """Ground velocity that circles ``centre`` at ``radius_m`` and ``alt_m``.

    The speed is held below what the airframe's acceleration can keep on the circle
    (v² / r ≤ a), and a radial term pulls the vehicle back onto it.
    """
    rx, ry = body.x - centre[0], body.y - centre[1]
    r = math.hypot(rx, ry)
    speed = min(speed_ms, math.sqrt(accel_ms2 * max(radius_m, 0.1)))
    if r < 1e-6:
        rx, ry, r = 1.0, 0.0, 1.0
    ux, uy = rx / r, ry / r
    tx, ty = (uy, -ux) if clockwise else (-uy, ux)
    pull = -1.0 * (r - radius_m)
    vx, vy = tx * speed + ux * pull, ty * speed + uy * pull
    vx, vy = _clip_norm(vx, vy, max(speed_ms, speed))
    vz = min(max(1.5 * (alt_m - body.z), -down_ms), up_ms)
    return (vx, vy, vz)


def step(
    body: Body,
    v_des: Vec3,
    yaw_target_deg: float | None,
    airframe: Airframe,
    wind: tuple[float, float],
    dt: float = DT_S,
) -> Vec3:
    """Advance ``body`` by ``dt`` toward the wanted ground velocity; returns the old position.

    The controller asks the air for ``v_des`` minus its wind estimate; until that estimate
    has converged the true wind pushes the vehicle off, and the position controller
    (:func:`velocity_to`) brings it back. Speed changes are limited to ``accel_ms2``.
    """
    old = body.pos
    we, wn = wind
    air_x, air_y = body.vx - we, body.vy - wn
    want_x, want_y = v_des[0] - body.wind_est_e, v_des[1] - body.wind_est_n
    ddx, ddy = _clip_norm(want_x - air_x, want_y - air_y, airframe.accel_ms2 * dt)
    air_x, air_y = air_x + ddx, air_y + ddy
    dvz = min(max(v_des[2] - body.vz, -airframe.accel_ms2 * dt), airframe.accel_ms2 * dt)
    body.vx, body.vy, body.vz = air_x + we, air_y + wn, body.vz + dvz
    body.x += body.vx * dt
    body.y += body.vy * dt
    body.z += body.vz * dt
    k = min(1.0, dt / airframe.wind_tau_s)
    body.wind_est_e += (we - body.wind_est_e) * k
    body.wind_est_n += (wn - body.wind_est_n) * k
    # Yaw toward the target at a limited rate.
    rate = 0.0
    if yaw_target_deg is not None:
        err = (yaw_target_deg - body.yaw_deg + 180.0) % 360.0 - 180.0
        turn = min(max(err, -airframe.yaw_rate_dps * dt), airframe.yaw_rate_dps * dt)
        body.yaw_deg = (body.yaw_deg + turn) % 360.0
        rate = turn / dt
    body.yaw_rate_dps = rate
    # Lean: the horizontal force is acceleration plus drag, in body axes.
    ax = ddx / dt + DRAG_PER_S * air_x
    ay = ddy / dt + DRAG_PER_S * air_y
    yaw = math.radians(body.yaw_deg)
    forward = ax * math.sin(yaw) + ay * math.cos(yaw)
    right = ax * math.cos(yaw) - ay * math.sin(yaw)
    body.pitch_deg = -math.degrees(math.atan2(forward, G))
    body.roll_deg = math.degrees(math.atan2(right, G))
    return old


def fall(body: Body, wind: tuple[float, float], dt: float = DT_S) -> None:
    """Unpowered: the body falls and drifts with the wind until it reaches the ground."""
    body.vz -= G * dt
    body.vx += (wind[0] - body.vx) * min(1.0, DRAG_PER_S * dt)
    body.vy += (wind[1] - body.vy) * min(1.0, DRAG_PER_S * dt)
    body.x += body.vx * dt
    body.y += body.vy * dt
    body.z += body.vz * dt
    if body.z <= 0.0:
        settle(body)


def settle(body: Body) -> None:
    """On the ground: no height, no motion, level."""
    body.z = 0.0
    body.vx = body.vy = body.vz = 0.0
    body.roll_deg = body.pitch_deg = body.yaw_rate_dps = 0.0


def trigger_crossing(
    a: tuple[float, float], b: tuple[float, float], last: tuple[float, float], dist_m: float
) -> float | None:
    """Fraction of the step a→b where the horizontal distance from ``last`` reaches ``dist_m``.

    None when it is not reached within the step (the first crossing is returned).

    >>> trigger_crossing((0.0, 0.0), (10.0, 0.0), (-5.0, 0.0), 10.0)
    0.5
    """
    dx, dy = b[0] - a[0], b[1] - a[1]
    wx, wy = a[0] - last[0], a[1] - last[1]
    if math.hypot(wx, wy) >= dist_m:
        return 0.0
    qa = dx * dx + dy * dy
    if qa < 1e-12:
        return None
    qb = 2.0 * (wx * dx + wy * dy)
    qc = wx * wx + wy * wy - dist_m * dist_m
    disc = qb * qb - 4.0 * qa * qc
    if disc < 0.0:
        return None
    t = (-qb + math.sqrt(disc)) / (2.0 * qa)
    return t if 0.0 <= t <= 1.0 else None


def in_polygon(x: float, y: float, ring: Sequence[tuple[float, float]]) -> bool:
    """Even-odd test of the point against a polygon ring (not closed).

    >>> in_polygon(0.5, 0.5, [(0, 0), (1, 0), (1, 1), (0, 1)])
    True
    """
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside
