"""Facade scan: a vertical face flown as a vertical lawnmower at the stand-off distance.

Rows are horizontal (ArduPilot's distance trigger measures horizontal distance), from
the bottom up, each flown the other way from the last. A row follows every segment of
the facade's foot line at the stand-off; the camera is level and faces the wall: each
segment's stretch holds the heading of that segment's inward normal with CONDITION_YAW.

Conventions:

- ``side`` is where the drone flies, walking along the line from its first point to
  its last: ``"left"`` or ``"right"``. (A building outline given counter-clockwise, as
  GeoJSON asks for exteriors, has its outside on the right.)
- Where the facade turns away from the drone (an outside corner) the row rounds the
  corner on waypoints circumscribing the stand-off circle; where it turns towards the
  drone (an inside corner) the row cuts the corner at the point that is at the
  stand-off from both walls and turns there, taking photos in between, so the corner
  itself is seen obliquely from the front.
- The camera runs half a footprint beyond each end of the facade, so its ends get the
  same overlap as its middle, and a short turnaround (:data:`TURNAROUND_M`) follows.
- Without a home, home is the start of the first row's turnaround, on the ground
  (``alt_amsl_m`` 0); with a home, the rows start at the end of the facade nearer to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString

from mission.assets import asset_shape
from mission.camera import Camera, check_overlap
from mission.errors import MissionError
from mission.geodesy import LocalFrame
from mission.plan import Home, Plan, Target, Vehicle
from mission.route import MIN_ALT_M, Pass, build_plan
from mission.standoff import (
    half_fov_deg,
    layer_altitudes,
    resolve_standoff,
    view_band_m,
    wall_flight,
)

#: Camera-off run before and after each row, metres.
TURNAROUND_M = 3.0
#: Largest turn between two waypoints rounding an outside corner, degrees.
ARC_STEP_DEG = 15.0
#: Turns smaller than this (radians) are treated as straight.
STRAIGHT_RAD = 1e-3


@dataclass(frozen=True)
class _Stretch:
    """Part of a row in the local frame: waypoints flown with the camera on at one heading."""

    points: np.ndarray  # (k, 2)
    heading_deg: float


def _heading(vector: np.ndarray) -> float:
    return math.degrees(math.atan2(vector[0], vector[1])) % 360.0


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _row(
    pts: np.ndarray, standoff: float, sign: float, extend_m: float, fan_step: float
) -> tuple[list[_Stretch], np.ndarray, np.ndarray]:
    """One row along ``pts`` (n, 2) at ``standoff`` on the ``sign`` side (+1 left, -1 right).

    Returns its stretches in order, its lead-in and its lead-out point.
    """
    d = np.diff(pts, axis=0)
    lengths = np.hypot(d[:, 0], d[:, 1])
    t = d / lengths[:, None]
    n = sign * np.column_stack([-t[:, 1], t[:, 0]])  # from the wall towards the drone
    heads = [p + standoff * nn for p, nn in zip(pts[:-1], n, strict=True)]
    tails = [p + standoff * nn for p, nn in zip(pts[1:], n, strict=True)]
    before: list[list[np.ndarray]] = [[] for _ in lengths]
    after: list[list[np.ndarray]] = [[] for _ in lengths]
    fans: list[list[float]] = [[] for _ in lengths]
    for j in range(1, len(pts) - 1):
        i, v = j - 1, pts[j]
        turn = math.atan2(t[i, 0] * t[j, 1] - t[i, 1] * t[j, 0], float(t[i] @ t[j]))
        if abs(turn) < STRAIGHT_RAD:
            tails[i] = heads[j] = v + standoff * n[i]
        elif sign * turn > 0:  # the wall turns towards the drone: an inside corner
            cos_between = float(n[i] @ n[j])
            if cos_between < -0.98:
                raise MissionError(
                    f"facade point {j} folds back on itself ({math.degrees(turn):.0f}° turn)"
                )
            tails[i] = heads[j] = v + standoff * (n[i] + n[j]) / (1.0 + cos_between)
            steps = math.ceil(abs(turn) / fan_step - 1e-9)
            fans[i] = [_heading(-_rotate(n[i], turn * k / steps)) for k in range(1, max(steps, 1))]
        else:  # an outside corner: round it, no nearer the corner than the stand-off
            steps = math.ceil(abs(turn) / math.radians(ARC_STEP_DEG) - 1e-9)
            reach = standoff / math.cos(abs(turn) / steps / 2.0)
            arc = [v + reach * _rotate(n[i], turn * (k + 0.5) / steps) for k in range(steps)]
            mid = (steps - 1) // 2
            after[i], before[j] = arc[: mid + 1], arc[mid:]
    for i in range(len(lengths)):
        if float((tails[i] - heads[i]) @ t[i]) <= 1e-6:
            raise MissionError(
                f"facade segment {i + 1} ({lengths[i]:.1f} m) is too short for the stand-off "
                f"{standoff:.1f} m at its inside corners"
            )
    heads[0] = heads[0] - extend_m * t[0]
    tails[-1] = tails[-1] + extend_m * t[-1]
    stretches: list[_Stretch] = []
    for i in range(len(lengths)):
        path = np.array([*before[i], heads[i], tails[i], *after[i]])
        keep = np.concatenate([[True], np.hypot(*np.diff(path, axis=0).T) > 1e-6])
        stretches.append(_Stretch(path[keep], _heading(-n[i])))
        stretches += [_Stretch(tails[i][None, :], h) for h in fans[i]]
    lead_in = heads[0] - TURNAROUND_M * t[0]
    lead_out = tails[-1] + TURNAROUND_M * t[-1]
    return stretches, lead_in, lead_out


def _facade_points(line: dict[str, Any]) -> LineString:
    if isinstance(line, dict) and line.get("type") == "LineString":
        coords = line.get("coordinates")
        if isinstance(coords, list) and len(coords) < 2:
            raise MissionError(
                f"facade line has {len(coords)} point(s); a LineString needs at least 2"
            )
    geom = asset_shape(line, "facade line", ("LineString",))
    assert isinstance(geom, LineString)
    return geom


def plan_facade(
    line: dict[str, Any],
    camera: Camera,
    *,
    height_min_m: float,
    height_max_m: float,
    standoff_m: float | None = None,
    gsd_cm: float | None = None,
    front_overlap: float = 0.75,
    side_overlap: float = 0.65,
    side: str = "left",
    home: Home | None = None,
    vehicle: Vehicle | None = None,
    hover: bool = False,
    ceiling_m: float = 120.0,
    name: str = "",
) -> Plan:
    """Plan a facade scan of the wall standing on ``line`` (GeoJSON LineString, lon/lat).

    The wall is covered from ``height_min_m`` to ``height_max_m`` above the ground,
    from ``side`` of the line (see the module's conventions). Give ``standoff_m`` or
    ``gsd_cm`` (if both, the stand-off is used and the GSD it gives is recorded).
    """
    vehicle = vehicle or Vehicle()
    check_overlap(front_overlap, "front overlap")
    check_overlap(side_overlap, "side overlap")
    if side not in ("left", "right"):
        raise MissionError(f"facade side {side!r} must be 'left' or 'right' of the line")
    if not math.isfinite(height_min_m) or height_min_m < 0:
        raise MissionError(f"facade height_min {height_min_m} m must be a number ≥ 0")
    if not math.isfinite(height_max_m) or height_max_m <= height_min_m:
        raise MissionError(
            f"facade height_max {height_max_m} m must be above height_min {height_min_m} m"
        )
    if not math.isfinite(ceiling_m) or ceiling_m < MIN_ALT_M:
        raise MissionError(f"ceiling {ceiling_m} m must be at least {MIN_ALT_M:g} m")
    standoff, gsd = resolve_standoff(camera, standoff_m, gsd_cm)
    geom = _facade_points(line)
    band = view_band_m(camera, standoff, 0.0)
    rows = layer_altitudes(band, height_min_m, height_max_m, side_overlap, ceiling_m, "facade")

    frame0 = LocalFrame.around(geom)
    pts = np.asarray(frame0.geom_to_local(geom).coords)[:, :2]
    pts = pts[np.concatenate([[True], np.hypot(*np.diff(pts, axis=0).T) > 1e-3])]
    if len(pts) < 2:
        raise MissionError("facade line has zero length: its points are all the same")
    across = camera.footprint_m(standoff)[0]
    trigger = across * (1.0 - front_overlap)
    fan_step = 2.0 * math.radians(half_fov_deg(camera)[0]) * (1.0 - front_overlap)
    sign = 1.0 if side == "left" else -1.0
    stretches, lead_in, lead_out = _row(pts, standoff, sign, across / 2.0, fan_step)
    _check_clearance(pts, stretches, lead_in, lead_out, standoff)

    backwards = False
    if home is None:
        lon, lat = frame0.point_to_wgs84(*lead_in)
        home = Home(lat_deg=lat, lon_deg=lon, alt_amsl_m=0.0)
    else:
        hx, hy = frame0.point_to_local(home.lon_deg, home.lat_deg)
        backwards = math.hypot(*(lead_out - (hx, hy))) < math.hypot(*(lead_in - (hx, hy)))
        if LineString([(hx, hy), lead_out if backwards else lead_in]).intersects(LineString(pts)):
            raise MissionError(
                f"home ({home.lon_deg:.6f}, {home.lat_deg:.6f}) is on the other side of the facade "
                f"from the flight ({side} of the line): the flight to the first row would cross it"
            )
    frame = LocalFrame(home.lon_deg, home.lat_deg)

    def local(xy: np.ndarray) -> list[tuple[float, float]]:
        lon_, lat_ = frame0.to_wgs84(xy[:, 0], xy[:, 1])
        x, y = frame.to_local(lon_, lat_)
        return [
            (float(a), float(b)) for a, b in zip(np.atleast_1d(x), np.atleast_1d(y), strict=True)
        ]

    forward = [(local(s.points), s.heading_deg) for s in stretches]
    ends = local(np.array([lead_in, lead_out]))
    passes: list[Pass] = []
    for r, z in enumerate(rows):
        seq, (a, b) = forward, ends
        if (r % 2 == 1) != backwards:
            seq, (b, a) = [(p[::-1], h) for p, h in reversed(forward)], ends
        for k, (p, h) in enumerate(seq):
            passes.append(
                Pass(
                    points=tuple((x, y, z) for x, y in p),
                    lead_in=(*a, z) if k == 0 else None,
                    lead_out=(*b, z) if k == len(seq) - 1 else None,
                    heading_deg=h,
                )
            )
    flight = wall_flight(
        camera,
        vehicle,
        standoff_m=standoff,
        gsd_cm=gsd,
        trigger_m=trigger,
        band=band,
        front_overlap=front_overlap,
        side_overlap=side_overlap,
        gimbal_pitch_deg=0.0,
        hover=hover,
        top_m=height_max_m,
        heights=rows,
        ceiling_m=ceiling_m,
    )
    target = Target(
        kind="facade",
        geometry=line,
        height_min_m=height_min_m,
        height_max_m=height_max_m,
    )
    return build_plan(
        frame=frame,
        home=home,
        passes=passes,
        flight=flight,
        vehicle=vehicle,
        camera=camera,
        target=target,
        pattern="facade",
        name=name,
        settings={
            "height_min_m": height_min_m,
            "height_max_m": height_max_m,
            "side": side,
            "standoff_m": round(standoff, 3),
            "gsd_cm": round(gsd, 4),
            "front_overlap": front_overlap,
            "side_overlap": side_overlap,
            "ceiling_m": ceiling_m,
            "hover": hover,
            "rows_alt_rel_m": [round(z, 2) for z in rows],
            "speed_ms": round(flight.speed_ms, 3),
        },
    )


def _check_clearance(
    pts: np.ndarray,
    stretches: list[_Stretch],
    lead_in: np.ndarray,
    lead_out: np.ndarray,
    standoff: float,
) -> None:
    """Refuse a row that would come nearer the wall than the stand-off (tight bends, U shapes)."""
    path = np.vstack([lead_in, *[s.points for s in stretches], lead_out])
    nearest = float(shapely.distance(LineString(path), LineString(pts)))
    if nearest < standoff * (1.0 - 1e-6) - 1e-3:
        raise MissionError(
            f"the path at stand-off {standoff:.1f} m would pass {nearest:.1f} m from the facade "
            "(bends too tight for it): use a smaller stand-off or split the facade"
        )
