"""What a plan does when flown: path, time, photos, GSD and coverage, computed from its items.

Everything here is derived from the mission items alone (plus the plan's camera and
target where known), so a plan read from any file gets the same numbers as one just
planned: the coverage figure is a union of the photo footprints the items would
produce, not a promise of the planner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from mission.camera import Camera
from mission.geodesy import LocalFrame
from mission.items import MAX_ITEMS_PER_SORTIE, Cmd, Frame, MissionItem
from mission.plan import Home, Plan, Vehicle
from mission.route import Point3, path_time_s, trigger_fractions

#: The paper flight counts at most this many photos in a plan (a corrupt file could ask for billions).
MAX_PHOTOS = 100_000


@dataclass(frozen=True)
class Photo:
    """One photo the mission takes, in the plan's home-centred local frame.

    ``yaw_deg`` is the camera heading (0 north, 90 east); ``pitch_deg`` is -90 looking
    straight down and 0 looking level. ``sortie`` counts from 0 (files count from 1).
    """

    x_m: float
    y_m: float
    alt_rel_m: float
    yaw_deg: float
    pitch_deg: float
    lon_deg: float
    lat_deg: float
    sortie: int
    seq: int = 0  # the mission item (numbered from 1, as files do) whose leg or command took it


@dataclass(frozen=True)
class Leg:
    """One straight stretch the vehicle flies, in the plan's home-centred local frame.

    ``seq`` is the mission item that flies it, numbered from 1 within its sortie as
    QGroundControl and ``.waypoints`` files number them (home is 0); ``kind`` is
    ``takeoff``, ``waypoint``, ``rtl`` (climb, return and descent of an RTL) or ``land``.
    ``trigger_m`` is the camera's distance trigger while it is flown (0: camera off).
    """

    sortie: int
    seq: int
    kind: str
    start: Point3
    end: Point3
    trigger_m: float


@dataclass(frozen=True)
class SortieMetrics:
    distance_m: float
    duration_s: float
    photos: int
    items: int  # home included


@dataclass(frozen=True)
class PlanMetrics:
    """The numbers ``skyledger plan info`` prints. ``coverage`` is a fraction 0..1."""

    distance_m: float
    duration_s: float
    photos: int
    gsd_cm: float | None
    coverage: float | None
    items: int
    sorties: int
    per_sortie: tuple[SortieMetrics, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures; a figure a corrupt file makes infinite (a hold of 1e308 s) is None."""
        return {
            "distance_m": _figure(self.distance_m, 1),
            "duration_s": _figure(self.duration_s, 1),
            "photos": self.photos,
            "gsd_cm": _figure(self.gsd_cm, 3),
            "coverage": _figure(self.coverage, 5),
            "items": self.items,
            "sorties": self.sorties,
            "per_sortie": [
                {
                    "distance_m": _figure(s.distance_m, 1),
                    "duration_s": _figure(s.duration_s, 1),
                    "photos": s.photos,
                    "items": s.items,
                }
                for s in self.per_sortie
            ],
        }


def _figure(value: float | None, digits: int) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


@dataclass(frozen=True)
class Analysis:
    """A plan flown on paper: metrics, each photo with its ground footprint, the path flown."""

    metrics: PlanMetrics
    photos: tuple[Photo, ...]
    #: Parallel to ``photos``: the ground footprint as (lon, lat) corners, or None where the
    #: camera does not look at the ground (level camera, or a vertical-surface target).
    footprints: tuple[tuple[tuple[float, float], ...] | None, ...]
    #: Per sortie, the positions flown through as (lon, lat, alt_rel_m), home first and last.
    paths: tuple[tuple[tuple[float, float, float], ...], ...]
    warnings: tuple[str, ...]
    #: Every stretch flown, all sorties in order: ``paths`` as legs with the item that flies each.
    legs: tuple[Leg, ...] = ()


def analyse(plan: Plan) -> Analysis:
    """Fly ``plan`` on paper and measure it."""
    frame = LocalFrame(plan.home.lon_deg, plan.home.lat_deg)
    shots: list[tuple[float, float, float, float, float, int, int]] = []
    legs: list[Leg] = []
    per_sortie: list[SortieMetrics] = []
    paths: list[tuple[tuple[float, float, float], ...]] = []
    warnings: list[str] = []
    for index, sortie in enumerate(plan.sorties):
        if len(sortie) + 1 > MAX_ITEMS_PER_SORTIE:
            warnings.append(
                f"sortie {index + 1} has {len(sortie) + 1} items with home, more than the "
                f"{MAX_ITEMS_PER_SORTIE} a Pixhawk-class autopilot holds: split it"
            )
        flyer = _Flyer(plan.home, plan.vehicle, frame, index, MAX_PHOTOS - len(shots))
        flyer.fly(sortie)
        shots += [(*shot[:5], index, shot[5]) for shot in flyer.shots]
        legs += [
            Leg(index, seq, kind, a, b, trigger)
            for a, b, (seq, kind, trigger) in zip(
                flyer.path[:-1], flyer.path[1:], flyer.leg_items, strict=True
            )
        ]
        warnings += flyer.warnings
        per_sortie.append(
            SortieMetrics(flyer.distance_m(), flyer.duration_s(), len(flyer.shots), len(sortie) + 1)
        )
        lon, lat = frame.to_wgs84(*np.asarray([p[:2] for p in flyer.path]).T)
        paths.append(
            tuple(
                (float(a), float(b), round(p[2], 3))
                for a, b, p in zip(lon, lat, flyer.path, strict=True)
            )
        )
    lons, lats = frame.to_wgs84([s[0] for s in shots], [s[1] for s in shots])
    photos = [
        Photo(x, y, alt, yaw, pitch, float(lon), float(lat), sortie, seq)
        for (x, y, alt, yaw, pitch, sortie, seq), lon, lat in zip(shots, lons, lats, strict=True)
    ]
    gsd, coverage, footprints = _photo_quality(plan, frame, photos)
    metrics = PlanMetrics(
        distance_m=sum(s.distance_m for s in per_sortie),
        duration_s=sum(s.duration_s for s in per_sortie),
        photos=len(photos),
        gsd_cm=gsd,
        coverage=coverage,
        items=plan.item_count(),
        sorties=len(plan.sorties),
        per_sortie=tuple(per_sortie),
    )
    return Analysis(metrics, tuple(photos), footprints, tuple(paths), tuple(warnings), tuple(legs))


def sortie_duration_s(items: Sequence[MissionItem], home: Home, vehicle: Vehicle) -> float:
    """Seconds one sortie takes from take-off to landing, flown on paper."""
    flyer = _Flyer(home, vehicle, LocalFrame(home.lon_deg, home.lat_deg), 0)
    flyer.fly(items)
    return flyer.duration_s()


_LEG_KINDS: dict[int, str] = {
    Cmd.NAV_TAKEOFF: "takeoff",
    Cmd.NAV_RETURN_TO_LAUNCH: "rtl",
    Cmd.NAV_LAND: "land",
}


class _Flyer:
    """Steps through one sortie's items the way ArduPilot Copter's AUTO mode would."""

    def __init__(
        self, home: Home, vehicle: Vehicle, frame: LocalFrame, sortie: int, budget: int = MAX_PHOTOS
    ):
        self.home = home
        self.budget = budget  # photos this sortie may still count
        self.frame = frame
        self.sortie = sortie
        self.vehicle = vehicle
        self.speed = vehicle.cruise_speed_ms
        self.path: list[Point3] = [(0.0, 0.0, 0.0)]
        self.leg_speeds: list[float] = []
        self.leg_items: list[tuple[int, str, float]] = []  # per leg: item seq, kind, trigger
        self.seq = 0  # the item being flown, numbered from 1
        self.kind = "waypoint"
        self.extra_s = 0.0  # holds, hovering for photos, slow landing
        self.shots: list[
            tuple[float, float, float, float, float, int]
        ] = []  # x, y, alt, yaw, pitch, seq
        self.warnings: list[str] = []
        self.trigger_m = 0.0
        self.last_photo: Point3 | None = None
        self.pitch = -90.0  # a mapping camera looks down until told otherwise
        self.roi: Point3 | None = None
        self.fixed_yaw: float | None = None
        self.yaw_since_nav = False  # a CONDITION_YAW started since the last NAV command
        self.heading = 0.0
        self.ended = False

    # --- positions ------------------------------------------------------------------
    def _local(self, item: MissionItem) -> Point3:
        x, y = self.frame.point_to_local(item.lon_deg, item.lat_deg)
        if item.frame == Frame.GLOBAL:
            z = item.alt_m - self.home.alt_amsl_m
        else:  # relative to home; above terrain is taken as above home (flat ground)
            z = item.alt_m
        return (x, y, z)

    @property
    def here(self) -> Point3:
        return self.path[-1]

    def fly(self, items: Sequence[MissionItem]) -> None:
        for seq, item in enumerate(items, start=1):
            if self.ended:
                self.warnings.append(
                    f"sortie {self.sortie + 1}: items after {seq - 1} are never reached"
                )
                break
            self.seq = seq
            self._step(item)
        if not self.ended:
            self.warnings.append(
                f"sortie {self.sortie + 1} does not end with RTL or LAND: the vehicle would hover there"
            )

    def _step(self, item: MissionItem) -> None:
        cmd = item.command
        self.kind = _LEG_KINDS.get(cmd, "waypoint")
        if cmd == Cmd.NAV_TAKEOFF:
            x, y, _ = self.here
            self._go((x, y, item.alt_m))
        elif cmd == Cmd.NAV_RETURN_TO_LAUNCH:
            self._return_home()
        elif cmd == Cmd.NAV_LAND:
            target = self._local(item) if item.has_position else self.here
            self._go((target[0], target[1], self.here[2]))
            self._land()
        elif item.is_nav and item.has_position:
            # A new waypoint takes the yaw back, unless a CONDITION_YAW started just before it:
            # Copter re-asserts that heading while the command runs, and keeps it afterwards.
            if not self.yaw_since_nav:
                self.fixed_yaw = None
            self.yaw_since_nav = False
            self._go(self._local(item))
            if cmd in (Cmd.NAV_WAYPOINT, Cmd.NAV_LOITER_TIME):
                self.extra_s += max(item.param1, 0.0)
            elif cmd == Cmd.NAV_LOITER_TURNS:
                self.extra_s += (
                    abs(item.param1) * 2 * math.pi * max(abs(item.param3), 1.0) / self.speed
                )
            elif cmd == Cmd.NAV_LOITER_UNLIM:
                self.warnings.append(f"sortie {self.sortie + 1}: LOITER_UNLIM never ends by itself")
                self.ended = True
        elif cmd == Cmd.DO_CHANGE_SPEED:
            if item.param2 > 0:
                self.speed = item.param2
        elif cmd == Cmd.DO_SET_CAM_TRIGG_DIST:
            self.trigger_m = max(item.param1, 0.0)
            if self.trigger_m > 0 and item.param3 >= 1:
                self._photo(self.here)
        elif cmd == Cmd.IMAGE_START_CAPTURE:
            # param2 interval (s), param3 images: one image now, or a timed series
            if item.param2 <= 0 and item.param3 >= 1:
                self._photo(self.here)
            elif item.param2 > 0:
                self.warnings.append(
                    f"sortie {self.sortie + 1}: photos every {item.param2:g} s are not counted"
                )
        elif cmd == Cmd.DO_DIGICAM_CONTROL:
            if item.lat_deg >= 1:  # param5: shoot
                self._photo(self.here)
        elif cmd in (Cmd.DO_MOUNT_CONTROL, Cmd.DO_GIMBAL_MANAGER_PITCHYAW):
            self.pitch = float(np.clip(item.param1, -90.0, 90.0))
        elif cmd == Cmd.DO_SET_ROI_LOCATION:
            self.roi = self._local(item)
        elif cmd == Cmd.DO_SET_ROI_NONE:
            self.roi = None
        elif cmd == Cmd.CONDITION_YAW:
            self.yaw_since_nav = True
            self.fixed_yaw = (
                item.param1 % 360.0 if item.param4 == 0 else (self.heading + item.param1) % 360.0
            )

    # --- motion ---------------------------------------------------------------------
    def _go(self, target: Point3) -> None:
        start = self.here
        dx, dy = target[0] - start[0], target[1] - start[1]
        if math.hypot(dx, dy) > 1e-6:
            self.heading = math.degrees(math.atan2(dx, dy)) % 360.0
            if self.trigger_m > 0:
                self._photos_along(start, target)
        self.path.append(target)
        self.leg_speeds.append(self.speed)
        self.leg_items.append((self.seq, self.kind, self.trigger_m))

    def _photos_along(self, a: Point3, b: Point3) -> None:
        """Photos wherever the horizontal distance from the last one reaches the trigger distance."""
        last = self.last_photo if self.last_photo is not None else a
        room = self.budget - len(self.shots)
        fractions = trigger_fractions(a, b, last, self.trigger_m, limit=room + 1)
        if len(fractions) > room:
            self.warnings.append(
                f"sortie {self.sortie + 1} would take the plan past {MAX_PHOTOS} photos "
                f"(trigger distance {self.trigger_m:g} m): only the first {MAX_PHOTOS} are counted"
            )
            self.trigger_m, fractions = 0.0, fractions[:room]
        for f in fractions:
            self._photo(
                (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2]))
            )

    def _photo(self, at: Point3) -> None:
        if len(self.shots) >= self.budget:
            return
        if self.roi is not None:
            dx, dy = self.roi[0] - at[0], self.roi[1] - at[1]
            yaw = math.degrees(math.atan2(dx, dy)) % 360.0
            pitch = math.degrees(math.atan2(self.roi[2] - at[2], math.hypot(dx, dy)))
        else:
            yaw = self.fixed_yaw if self.fixed_yaw is not None else self.heading
            pitch = self.pitch
        self.shots.append((at[0], at[1], at[2], yaw, pitch, self.seq))
        self.last_photo = at

    def _return_home(self) -> None:
        x, y, z = self.here
        alt = max(z, self.vehicle.rtl_alt_m)
        self.trigger_m = 0.0
        self.speed = self.vehicle.cruise_speed_ms  # RTL flies at its own speed, not the mission's
        self._go((x, y, alt))
        self._go((0.0, 0.0, alt))
        self._land()

    def _land(self) -> None:
        x, y, z = self.here
        slow = min(z, 10.0)
        self._go((x, y, slow))
        self._go((x, y, 0.0))
        self.extra_s += slow / self.vehicle.land_speed_ms - slow / self.vehicle.descent_speed_ms
        self.ended = True

    def distance_m(self) -> float:
        pts = np.asarray(self.path, float)
        return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())

    def duration_s(self) -> float:
        total = self.extra_s
        run: list[Point3] = [self.path[0]]
        speed = self.leg_speeds[0] if self.leg_speeds else self.vehicle.cruise_speed_ms
        for point, leg_speed in zip(self.path[1:], self.leg_speeds, strict=True):
            if leg_speed != speed:  # a speed change starts a new stretch
                total += path_time_s(run, speed, self.vehicle)
                run, speed = [run[-1]], leg_speed
            run.append(point)
        return total + path_time_s(run, speed, self.vehicle)


# --- photo footprints, GSD and coverage ------------------------------------------------------

#: A photo whose corner rays come nearer the horizon than this is not mapped onto the ground.
HORIZON_MARGIN_DEG = 5.0


def ground_footprints(camera: Camera, photos: Sequence[Photo]) -> list[np.ndarray | None]:
    """Each photo's footprint on flat ground at home elevation, as a 4x2 array of local x, y.

    Photos are landscape: the image width lies across the camera's heading.
    """
    if not photos:
        return []
    half_w = camera.sensor_width_mm / (2.0 * camera.focal_length_mm)
    half_h = camera.sensor_height_mm / (2.0 * camera.focal_length_mm)
    yaw = np.radians([p.yaw_deg for p in photos])
    pitch = np.radians([p.pitch_deg for p in photos])
    pos = np.array([(p.x_m, p.y_m, p.alt_rel_m) for p in photos])
    fwd = np.stack(
        [np.sin(yaw) * np.cos(pitch), np.cos(yaw) * np.cos(pitch), np.sin(pitch)], axis=1
    )
    right = np.stack([np.cos(yaw), -np.sin(yaw), np.zeros_like(yaw)], axis=1)
    up = np.cross(right, fwd)
    corners = []
    for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        ray = fwd + a * half_w * right + b * half_h * up
        corners.append(ray)
    rays = np.stack(corners, axis=1)  # (n, 4, 3)
    norm = np.linalg.norm(rays, axis=2)
    sees_ground = (rays[:, :, 2] / norm < -math.sin(math.radians(HORIZON_MARGIN_DEG))).all(axis=1)
    sees_ground &= pos[:, 2] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -pos[:, None, 2] / rays[:, :, 2]
    xy = pos[:, None, :2] + t[:, :, None] * rays[:, :, :2]
    return [xy[i] if ok else None for i, ok in enumerate(sees_ground)]


def _merged_runs(photos: Sequence[Photo], quads: Sequence[np.ndarray | None]) -> list[Any]:
    """Footprint polygons, with each run of overlapping nadir photos along a line merged into one.

    Rectangles of the same size and heading, shifted along their own length by less than
    that length, union to exactly their convex hull: this keeps the union small and fast.
    """
    from shapely.geometry import MultiPoint, Polygon

    shapes: list[Any] = []
    run: list[np.ndarray] = []
    key: tuple[Any, ...] | None = None
    prev_centre = np.zeros(2)

    def flush() -> None:
        if len(run) == 1:
            shapes.append(Polygon(run[0]))
        elif run:
            shapes.append(MultiPoint(np.concatenate([run[0], run[-1]])).convex_hull)

    for photo, quad in zip(photos, quads, strict=True):
        if quad is None:
            continue
        centre = (quad[0] + quad[2]) / 2.0
        nadir = photo.pitch_deg <= -89.99
        this_key = (
            (photo.sortie, round(photo.yaw_deg, 3), round(photo.alt_rel_m, 3)) if nadir else None
        )
        if run and this_key is not None and this_key == key:
            hx, hy = quad[3] - quad[0]  # the footprint's along-track side
            length = math.hypot(hx, hy)
            sx, sy = centre - prev_centre
            if abs(sx * hy - sy * hx) < 1e-6 * length and math.hypot(sx, sy) < length:
                run.append(quad)
                prev_centre = centre
                continue
        flush()
        run, key, prev_centre = [quad], this_key, centre
    flush()
    return shapes


def _photo_quality(
    plan: Plan, frame: LocalFrame, photos: Sequence[Photo]
) -> tuple[float | None, float | None, tuple[tuple[tuple[float, float], ...] | None, ...]]:
    """Mean GSD (cm/px), coverage of the target (0..1) and ground footprints in lon/lat."""
    camera, target = plan.camera, plan.target
    if camera is None:
        return None, None, tuple(None for _ in photos)
    if target is not None and target.kind in ("structure", "facade"):
        from mission.surfaces import surface_coverage

        surface_cover, surface_gsd = surface_coverage(target, camera, photos, frame)
        return surface_gsd, surface_cover, tuple(None for _ in photos)
    quads = ground_footprints(camera, photos)
    seen = [(p, q) for p, q in zip(photos, quads, strict=True) if q is not None]
    gsd: float | None = None
    if seen:
        slant = [p.alt_rel_m / math.sin(math.radians(-p.pitch_deg)) for p, _ in seen]
        gsd = float(np.mean([camera.gsd_cm(s) for s in slant]))
    coverage: float | None = None
    if target is not None:
        area = frame.geom_to_local(shape(target.geometry))
        covered = shapely.union_all(_merged_runs(photos, quads)) if seen else shapely.Polygon()
        coverage = (
            float(shapely.intersection(covered, area).area / area.area) if area.area > 0 else None
        )
    footprints = _quads_to_lonlat(frame, quads)
    return gsd, coverage, footprints


def _quads_to_lonlat(
    frame: LocalFrame, quads: Sequence[np.ndarray | None]
) -> tuple[tuple[tuple[float, float], ...] | None, ...]:
    seen = [q for q in quads if q is not None]
    if not seen:
        return tuple(None for _ in quads)
    xy = np.concatenate(seen)
    lon, lat = frame.to_wgs84(xy[:, 0], xy[:, 1])
    corners = iter(np.column_stack([lon, lat]).round(8).reshape(-1, 4, 2).tolist())
    return tuple(None if q is None else tuple(map(tuple, next(corners))) for q in quads)
