"""Structure scan: stacked orbits around a tower, pole or building, the camera on the structure.

The reference is QGroundControl's "Structure Scan": horizontal layers flown around
the structure at the stand-off distance, from the bottom layer up. The path of a layer
is a polygon of waypoints circumscribing the circle of radius ``radius + stand-off``
(or the footprint buffered by the stand-off), so no chord between two waypoints comes
nearer the structure than the stand-off, and no waypoint is more than about 1 % of
the stand-off farther.

Conventions:

- the path runs counter-clockwise seen from above and starts at its point nearest
  home; without a home, at its southernmost point, and home is put there on the
  ground (``alt_amsl_m`` 0): the vehicle takes off straight up into the bottom layer;
- the camera is pointed with DO_SET_ROI_LOCATION at a point on the structure's axis,
  at the height where a camera at the layer's height and the gimbal pitch would look:
  ``layer + horizontal distance · tan(pitch)``. For an elongated footprint the axis is
  a segment along its long side and each stretch of the layer looks at the nearest of
  a few points on it, so long walls are seen nearly square-on;
- layers are never lower than :data:`mission.route.MIN_ALT_M` (2 m) nor higher than the
  ceiling; see :func:`mission.surfaces.layer_altitudes`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from shapely.geometry import LineString, Point, Polygon, mapping
from shapely.geometry.polygon import orient

from mission.assets import asset_shape
from mission.camera import Camera, check_overlap
from mission.errors import MissionError
from mission.geodesy import LocalFrame, check_lonlat
from mission.plan import Home, Plan, Target, Vehicle
from mission.route import MIN_ALT_M, Pass, build_plan
from mission.standoff import (
    MAX_INCIDENCE_DEG,
    check_pitch,
    half_fov_deg,
    layer_altitudes,
    resolve_standoff,
    view_band_m,
    wall_flight,
)

#: Waypoints of a round orbit are at most this fraction of the stand-off beyond it.
ORBIT_EXCESS = 0.01
#: Arcs of a buffered footprint are cut into steps of 90° / QUAD_SEGS (15°: 0.9 % excess).
QUAD_SEGS = 6
#: Spacing of the points examined when cutting a layer into stretches with one ROI each, m.
ROI_STEP_M = 0.25


@dataclass(frozen=True)
class _Shape:
    """The structure in a local frame centred on it."""

    frame: LocalFrame
    outline: Polygon  # local metres; a circle is described by radius instead
    radius_m: float | None  # round structures
    axis: tuple[tuple[float, float], tuple[float, float]]  # ends of the axis segment
    half_width_m: float  # distance from the axis to the outline across the long side
    geometry: dict[str, Any]  # the Target geometry, lon/lat


def _structure_shape(
    center: tuple[float, float] | None, radius_m: float | None, footprint: dict[str, Any] | None
) -> _Shape:
    if (center is None) == (footprint is None):
        raise MissionError("give either center (lon, lat) with radius_m, or a footprint Polygon")
    if center is not None:
        if (
            not isinstance(center, tuple | list)
            or len(center) != 2
            or not all(isinstance(v, int | float) for v in center)
        ):
            raise MissionError(f"structure center {center!r} must be a (lon, lat) pair")
        lon, lat = float(center[0]), float(center[1])
        check_lonlat(lon, lat, "structure center")
        if radius_m is None or not math.isfinite(radius_m) or radius_m <= 0:
            raise MissionError(f"structure radius {radius_m} m must be a number > 0")
        frame = LocalFrame(lon, lat)
        return _Shape(
            frame,
            Point(0.0, 0.0).buffer(radius_m, quad_segs=32),
            float(radius_m),
            ((0.0, 0.0), (0.0, 0.0)),
            float(radius_m),
            {"type": "Point", "coordinates": [lon, lat]},
        )
    if radius_m is not None:
        raise MissionError(f"radius_m {radius_m} applies to a center, not to a footprint")
    geom = asset_shape(footprint, "structure footprint", ("Polygon",))
    frame = LocalFrame.around(geom)
    outline = orient(Polygon(frame.geom_to_local(geom).exterior), 1.0)
    rect = np.asarray(outline.minimum_rotated_rectangle.exterior.coords)
    sides = np.diff(rect[:3], axis=0)
    lengths = np.hypot(sides[:, 0], sides[:, 1])
    long_i = int(np.argmax(lengths))
    direction = sides[long_i] / lengths[long_i]
    centre = rect[:4].mean(axis=0)
    half = max(0.0, (lengths[long_i] - lengths[1 - long_i]) / 2.0)
    a, b = centre - half * direction, centre + half * direction
    return _Shape(
        frame,
        outline,
        None,
        ((float(a[0]), float(a[1])), (float(b[0]), float(b[1]))),
        float(lengths[1 - long_i] / 2.0),
        mapping(geom),
    )


def _orbit_ring(shape: _Shape, standoff_m: float) -> np.ndarray:
    """Waypoints of one layer (n, 2), counter-clockwise, not closed, in the structure's frame."""
    if shape.radius_m is not None:
        d = shape.radius_m + standoff_m
        n = math.ceil(math.pi / math.acos(d / (d + ORBIT_EXCESS * standoff_m)) - 1e-9)
        n = min(max(n, 12), 180)
        r = d / math.cos(math.pi / n)
        a = 2.0 * math.pi * np.arange(n) / n
        return np.column_stack([r * np.cos(a), r * np.sin(a)])
    grown = shape.outline.buffer(standoff_m / math.cos(math.pi / (4 * QUAD_SEGS)), QUAD_SEGS)
    ring = np.asarray(orient(Polygon(grown.exterior), 1.0).exterior.coords)[:-1]
    return ring


def _roi_stretches(
    ring: np.ndarray, axis: tuple[np.ndarray, np.ndarray], spacing_m: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Cut a closed ring of waypoints into stretches that each look at one point of the axis.

    Returns (waypoints (k, 2), ROI x/y, mean horizontal distance to it) per stretch;
    consecutive stretches share their end points.
    """
    a, b = axis
    ab = b - a
    span = float(np.hypot(*ab))
    closed = np.vstack([ring, ring[:1]])
    if span < 1e-6:
        dist = np.hypot(*(closed - a).T)
        return [(closed, a, float(dist.mean()))]
    count = math.ceil(span / spacing_m - 1e-9) + 1
    rois = a + np.linspace(0.0, 1.0, count)[:, None] * ab
    pts, original = [], []
    for p, q in itertools.pairwise(closed):
        steps = max(1, math.ceil(float(np.hypot(*(q - p))) / ROI_STEP_M))
        pts.append(p + np.linspace(0.0, 1.0, steps, endpoint=False)[:, None] * (q - p))
        original.append(np.arange(steps) == 0)
    pts.append(closed[-1:])
    original.append(np.array([True]))
    dense, keep = np.vstack(pts), np.concatenate(original)
    t = np.clip((dense - a) @ ab / span**2, 0.0, 1.0)
    label = np.rint(t * (count - 1)).astype(int)
    cuts = [0, *(np.nonzero(label[1:] != label[:-1])[0] + 1).tolist(), len(dense) - 1]
    stretches = []
    for i, j in itertools.pairwise(cuts):
        inner = np.arange(i + 1, j)[keep[i + 1 : j]]
        idx = [i, *inner.tolist(), j]
        roi = rois[label[i]]
        dist = np.hypot(*(dense[i:j] - roi).T)
        stretches.append((dense[idx], roi, float(dist.mean())))
    return stretches


def orbit_trigger_m(
    camera: Camera, radius_m: float | None, standoff_m: float, front_overlap: float
) -> float:
    """Distance between photos along a layer's path for ``front_overlap`` on the structure.

    A round structure curves away from the camera, so a photo spans an angle of it
    (up to :data:`mission.standoff.MAX_INCIDENCE_DEG` either side of the nearest point);
    photos are spaced by the fraction ``1 − front_overlap`` of that angle, measured
    on the orbit. A flat wall gives the plain camera footprint.
    """
    across = camera.footprint_m(standoff_m)[0]
    if radius_m is None:
        return across * (1.0 - front_overlap)
    d = radius_m + standoff_m
    alpha = math.radians(half_fov_deg(camera)[0])
    if d * math.sin(alpha) >= radius_m:
        phi = math.acos(radius_m / d)  # the view reaches past the silhouette
    else:
        t = d * math.cos(alpha) - math.sqrt(radius_m**2 - (d * math.sin(alpha)) ** 2)
        phi = math.atan2(t * math.sin(alpha), d - t * math.cos(alpha))
    phi = min(phi, math.radians(MAX_INCIDENCE_DEG))
    return 2.0 * phi * d * (1.0 - front_overlap)


def plan_structure(
    camera: Camera,
    *,
    center: tuple[float, float] | None = None,
    radius_m: float | None = None,
    footprint: dict[str, Any] | None = None,
    height_m: float,
    standoff_m: float | None = None,
    gsd_cm: float | None = None,
    front_overlap: float = 0.75,
    side_overlap: float = 0.65,
    gimbal_pitch_deg: float = 0.0,
    home: Home | None = None,
    vehicle: Vehicle | None = None,
    hover: bool = False,
    ceiling_m: float = 120.0,
    name: str = "",
) -> Plan:
    """Plan a structure scan of a round structure (``center``, ``radius_m``) or a ``footprint``.

    ``center`` is (lon, lat); ``footprint`` a GeoJSON Polygon in lon/lat (holes are
    ignored: only the outside is scanned). The structure is covered from the ground to
    ``height_m`` above it. Give ``standoff_m`` or ``gsd_cm`` (if both, the stand-off is
    used and the GSD it gives is recorded). ``gimbal_pitch_deg`` is 0 level, negative
    looking down.
    """
    vehicle = vehicle or Vehicle()
    check_overlap(front_overlap, "front overlap")
    check_overlap(side_overlap, "side overlap")
    if not math.isfinite(height_m) or height_m <= 0:
        raise MissionError(f"structure height {height_m} m must be a number > 0")
    if not math.isfinite(ceiling_m) or ceiling_m < MIN_ALT_M:
        raise MissionError(f"ceiling {ceiling_m} m must be at least {MIN_ALT_M:g} m")
    standoff, gsd = resolve_standoff(camera, standoff_m, gsd_cm)
    check_pitch(camera, gimbal_pitch_deg)
    shape = _structure_shape(center, radius_m, footprint)
    band = view_band_m(camera, standoff, gimbal_pitch_deg)
    layers = layer_altitudes(band, 0.0, height_m, side_overlap, ceiling_m, "structure")
    ring = _orbit_ring(shape, standoff)
    if home is None:
        start = int(np.argmin(ring[:, 1]))
        lon, lat = shape.frame.point_to_wgs84(*ring[start])
        home = Home(lat_deg=lat, lon_deg=lon, alt_amsl_m=0.0)
    else:
        hx, hy = shape.frame.point_to_local(home.lon_deg, home.lat_deg)
        start = int(np.argmin(np.hypot(ring[:, 0] - hx, ring[:, 1] - hy)))
        if LineString([(hx, hy), ring[start]]).intersects(shape.outline):
            raise MissionError(
                f"home ({home.lon_deg:.6f}, {home.lat_deg:.6f}) is inside the structure or behind "
                "it from the orbit: the flight to the first layer would cross it; "
                "put home outside, in sight of the orbit"
            )
    frame = LocalFrame(home.lon_deg, home.lat_deg)

    def local(xy: np.ndarray) -> np.ndarray:
        lon_, lat_ = shape.frame.to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack(frame.to_local(lon_, lat_))

    ring = local(np.roll(ring, -start, axis=0))
    axis = local(np.asarray(shape.axis))
    stretches = _roi_stretches(ring, (axis[0], axis[1]), shape.half_width_m + standoff)
    tan_pitch = math.tan(math.radians(gimbal_pitch_deg))
    passes = [
        Pass(
            points=tuple((float(x), float(y), z) for x, y in pts),
            roi=(float(roi[0]), float(roi[1]), z + dist * tan_pitch),
        )
        for z in layers
        for pts, roi, dist in stretches
    ]
    trigger = orbit_trigger_m(camera, shape.radius_m, standoff, front_overlap)
    flight = wall_flight(
        camera,
        vehicle,
        standoff_m=standoff,
        gsd_cm=gsd,
        trigger_m=trigger,
        band=band,
        front_overlap=front_overlap,
        side_overlap=side_overlap,
        gimbal_pitch_deg=gimbal_pitch_deg,
        hover=hover,
        top_m=height_m,
        heights=layers,
        ceiling_m=ceiling_m,
    )
    target = Target(
        kind="structure",
        geometry=shape.geometry,
        radius_m=shape.radius_m,
        height_min_m=0.0,
        height_max_m=height_m,
    )
    return build_plan(
        frame=frame,
        home=home,
        passes=passes,
        flight=flight,
        vehicle=vehicle,
        camera=camera,
        target=target,
        pattern="structure",
        name=name,
        settings={
            "height_m": height_m,
            "standoff_m": round(standoff, 3),
            "gsd_cm": round(gsd, 4),
            "front_overlap": front_overlap,
            "side_overlap": side_overlap,
            "gimbal_pitch_deg": gimbal_pitch_deg,
            "ceiling_m": ceiling_m,
            "hover": hover,
            "layers_alt_rel_m": [round(z, 2) for z in layers],
            "speed_ms": round(flight.speed_ms, 3),
        },
    )
