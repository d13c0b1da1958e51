"""Repair a plan a check found wanting, then check it again (``skyledger check --fix``).

Three remedies, applied in this order because each changes the legs the next one sees:

1. **Altitude clamp** (``rules.ceiling``, and zones entered from below whose floor is above
   the ground): every item above the ceiling comes down to it, but only for a nadir
   survey or corridor and only if the new GSD stays within ``gsd_tolerance`` of the
   planned one (lower means finer pixels but smaller footprints: the new overlaps are
   reported).
2. **Detour** (``airspace.prohibited`` and ``airspace.margin`` on transit legs and RTL
   returns): waypoints along the shortest path around the zone's outline grown by the
   rule set's margin plus :data:`DETOUR_CLEARANCE_M`, when the asset itself is outside
   the zone. The zone becomes an exclusion fence and the inclusion fence grows to hold
   the detour, so the autopilot itself keeps out.
3. **Camera off** (``privacy.no_capture``, ``privacy.buffer``): each camera-on leg is split
   where it crosses the no-capture area (grown by :data:`SPLIT_MARGIN_M`), with
   ``DO_SET_CAM_TRIGG_DIST 0`` on entering and the trigger distance restored on leaving;
   single photos inside are dropped.

The result is a new revision naming the digest of the plan it came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from compliance.check import check
from compliance.geometry import LocalShape
from compliance.index import ZoneIndex
from compliance.legs import Route, Window, check_window
from compliance.report import Report
from compliance.rules import RuleSet
from compliance.zones import Zone
from mission import items as it
from mission.analysis import Analysis
from mission.items import Cmd, Frame, MissionItem
from mission.plan import Plan

#: Detour waypoints keep at least this far outside a zone's outline (plus the rule set's margin).
DETOUR_CLEARANCE_M = 10.0
#: The camera goes off this far before a no-capture area and back on this far after it.
SPLIT_MARGIN_M = 2.0
#: A ceiling is met this far below it.
CEILING_MARGIN_M = 0.5
_EPS = 1e-6


@dataclass(frozen=True)
class Remedy:
    """One repair tried: what it was for, what it did (or why not)."""

    rule_id: str
    action: str
    applied: bool
    zone_id: str | None = None
    sortie: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "rule_id": self.rule_id,
            "zone_id": self.zone_id,
            "sortie": self.sortie,
            "applied": self.applied,
            "action": self.action,
        }


@dataclass(frozen=True)
class Fixed:
    """A repaired plan, what was done, and its own check."""

    plan: Plan
    remedies: tuple[Remedy, ...]
    report: Report
    original: Report


def plan_digest(plan: Plan) -> str:
    """``sha256:`` of the plan's skyledger JSON: what a repaired revision names as its parent."""
    from mission.formats import render

    return "sha256:" + hashlib.sha256(render(plan, ".json")[0].encode()).hexdigest()


def fix(
    plan: Plan,
    zones: ZoneIndex | Sequence[Zone],
    rules: RuleSet,
    window: Window,
    authorisations: Collection[str] = (),
    *,
    gsd_tolerance: float = 0.1,
    report: Report | None = None,
    **check_options: Any,
) -> Fixed:
    """Apply the remedies the findings call for and check the result again.

    ``check_options`` (``now``, ``pilot``, ``verbose``, ``failed_sources``, ``sources``) go
    to the final check of the repaired plan, so its report says what a plain check would.
    """
    window = check_window(window)
    index = zones if isinstance(zones, ZoneIndex) else ZoneIndex(zones)
    original = report or check(plan, index, rules, window, authorisations)
    remedies: list[Remedy] = []
    fixed = plan
    rules_found = {f.rule_id for f in original.findings}
    if "rules.ceiling" in rules_found or _floors(original, index, plan, authorisations):
        fixed = _clamp(fixed, original, index, rules, authorisations, gsd_tolerance, remedies)
    if rules_found & {"airspace.prohibited", "airspace.margin"}:
        from compliance.detour import detour

        fixed = detour(fixed, index, rules, window, remedies)
    for _ in range(3):  # a split can leave a single photo inside: drop it and look again
        report_now = check(fixed, index, rules, window, authorisations)
        if not {f.rule_id for f in report_now.findings} & {"privacy.no_capture", "privacy.buffer"}:
            break
        fixed = _camera_off(fixed, index, window, remedies)
    if fixed != plan:
        fixed = replace(
            fixed,
            revision=plan.revision + 1,
            derived_from=plan_digest(plan),
            settings={**plan.settings, "remedies": [r.action for r in remedies if r.applied]},
        )
    final = check(fixed, index, rules, window, authorisations, **check_options)
    return Fixed(fixed, tuple(remedies), final, original)


# --- 1. altitude clamp ---------------------------------------------------------------------------


def _floors(
    report: Report, index: ZoneIndex, plan: Plan, authorisations: Collection[str]
) -> list[tuple[str, float]]:
    """(zone id, floor above home) of restricting zones the route enters whose floor is above ground."""
    entered = {
        f.zone_id
        for f in report.findings
        if f.rule_id in ("airspace.prohibited", "airspace.authorisation") and f.zone_id
    } - set(authorisations)
    floors = []
    for zone in index.zones:
        if zone.identifier not in entered:
            continue
        for volume in zone.volumes:
            low, _ = volume.band_amsl_m(plan.home.alt_amsl_m)
            if np.isfinite(low) and low - plan.home.alt_amsl_m > 2.0:
                floors.append((zone.identifier, float(low - plan.home.alt_amsl_m)))
    return floors


def _clamp(
    plan: Plan,
    report: Report,
    index: ZoneIndex,
    rules: RuleSet,
    authorisations: Collection[str],
    tolerance: float,
    remedies: list[Remedy],
) -> Plan:
    limits: list[tuple[str, str | None, float]] = (
        [("rules.ceiling", None, rules.ceiling_agl_m)] if rules.ceiling_agl_m else []
    )
    limits += [
        ("airspace.floor", zone_id, floor)
        for zone_id, floor in _floors(report, index, plan, authorisations)
    ]
    rule_id, zone_id, ceiling = min(limits, key=lambda x: x[2])
    target_m = ceiling - CEILING_MARGIN_M
    camera, capture = plan.camera, plan.capture
    rule = "rules.ceiling" if rule_id == "rules.ceiling" else "airspace.prohibited"
    if (
        camera is None
        or capture is None
        or plan.pattern not in ("survey", "corridor")
        or capture.gimbal_pitch_deg > -89.0
    ):
        remedies.append(
            Remedy(
                rule,
                "not lowered: only nadir surveys and corridors keep their purpose when lowered",
                False,
                zone_id,
            )
        )
        return plan
    gsd = camera.gsd_cm(target_m)
    change = gsd / capture.gsd_cm - 1.0
    if abs(change) > tolerance:
        remedies.append(
            Remedy(
                rule,
                f"not lowered to {target_m:.1f} m: GSD would be {gsd:.2f} cm instead of "
                f"{capture.gsd_cm:.2f} cm ({change:+.0%}), outside the {tolerance:.0%} tolerance",
                False,
                zone_id,
            )
        )
        return plan
    side = 1.0 - capture.line_spacing_m / camera.line_spacing_m(target_m, 0.0)
    front = 1.0 - capture.trigger_distance_m / camera.trigger_distance_m(target_m, 0.0)
    ground = plan.home.alt_amsl_m
    lowered = 0

    def lower(item: MissionItem) -> MissionItem:
        nonlocal lowered
        if not item.has_position and item.command != Cmd.NAV_TAKEOFF:
            return item
        rel = item.alt_m - ground if item.frame == Frame.GLOBAL else item.alt_m
        if rel <= target_m:
            return item
        lowered += 1
        new = target_m + ground if item.frame == Frame.GLOBAL else target_m
        return replace(item, alt_m=round(new, 3))

    sorties = tuple(tuple(lower(item) for item in sortie) for sortie in plan.sorties)
    remedies.append(
        Remedy(
            rule,
            f"{lowered} items lowered to {target_m:.1f} m above home: GSD {gsd:.2f} cm "
            f"({change:+.0%}), overlaps now {front:.0%} front / {side:.0%} side",
            True,
            zone_id,
        )
    )
    return replace(plan, sorties=sorties, capture=replace(capture, distance_m=target_m, gsd_cm=gsd))


# --- 3. camera off over no-capture areas -------------------------------------------------------


def _no_capture_shapes(
    route: Route, index: ZoneIndex, window: Window
) -> list[tuple[str, LocalShape, tuple[float, float]]]:
    from compliance.schedule import active_intervals

    if not len(route.a):
        return []
    _rows, volumes = index.query(route.boxes(SPLIT_MARGIN_M + 1.0))
    shapes = []
    for number in sorted(set(volumes.tolist())):
        ref = index.volumes[number]
        zone = index.zones[ref.zone]
        if zone.camera is None or zone.camera.mode == "no_overflight":
            continue
        if not active_intervals(zone, *window):
            continue
        grow = (zone.camera.buffer_m if zone.camera.mode == "buffer" else 0.0) + SPLIT_MARGIN_M
        shape = LocalShape.of(ref.volume, route.frame).grown(grow)
        shapes.append((zone.identifier, shape, ref.volume.band_amsl_m(route.home_amsl_m)))
    return shapes


def _merge(pieces: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for t0, t1 in sorted(pieces):
        if out and t0 <= out[-1][1] + _EPS:
            out[-1] = (out[-1][0], max(out[-1][1], t1))
        else:
            out.append((t0, t1))
    return out


def _camera_off(plan: Plan, index: ZoneIndex, window: Window, remedies: list[Remedy]) -> Plan:
    from mission.analysis import analyse

    analysis = analyse(plan)
    route = Route.of(plan, analysis)
    shapes = _no_capture_shapes(route, index, window)
    sorties = [list(s) for s in plan.sorties]
    # per sortie: item number -> items to put before it, items to put after it
    before: list[dict[int, list[MissionItem]]] = [{} for _ in sorties]
    after: list[dict[int, list[MissionItem]]] = [{} for _ in sorties]
    quiet: list[set[int]] = [set() for _ in sorties]  # gaps whose trigger must not shoot at once
    touched: dict[tuple[str, int], int] = {}
    for k, leg in enumerate(analysis.legs):
        if leg.trigger_m <= 0 or leg.kind != "waypoint":
            continue
        pieces: list[tuple[float, float]] = []
        for zone_id, shape, band in shapes:
            for t0, t1 in shape.clip(route.a[k : k + 1], route.b[k : k + 1])[0]:
                z = sorted(
                    (
                        route.a[k, 2] + t0 * (route.b[k, 2] - route.a[k, 2]),
                        route.a[k, 2] + t1 * (route.b[k, 2] - route.a[k, 2]),
                    )
                )
                if z[1] + route.home_amsl_m > band[0] and z[0] + route.home_amsl_m < band[1]:
                    pieces.append((t0, t1))
                    touched[(zone_id, leg.sortie)] = touched.get((zone_id, leg.sortie), 0) + 1
        if not pieces:
            continue
        s, seq = leg.sortie, leg.seq
        inserts = before[s].setdefault(seq, [])
        for t0, t1 in _merge(pieces):
            if t0 > _EPS:
                inserts += [_waypoint(plan, route, k, t0), it.trigger_distance(0)]
            else:
                inserts.insert(0, it.trigger_distance(0))
                quiet[s].add(seq)
            if t1 < 1.0 - _EPS:
                inserts += [_waypoint(plan, route, k, t1), _trigger_quietly(leg.trigger_m)]
            else:
                after[s].setdefault(seq, []).append(_trigger_quietly(leg.trigger_m))
    for (zone_id, sortie), legs in sorted(touched.items()):
        remedies.append(
            Remedy(
                "privacy.no_capture",
                f"sortie {sortie + 1}: camera off over privacy zone {zone_id} on {legs} legs "
                "(split at its outline, trigger distance restored after)",
                True,
                zone_id,
                sortie + 1,
            )
        )
    single = _single_photos_inside(plan, analysis, route, shapes)
    out = []
    for s, items in enumerate(sorties):
        rebuilt: list[MissionItem] = []
        gap_start = 0
        for seq, item in enumerate(items, start=1):
            if item.is_nav and item.has_position:
                if seq in quiet[s]:
                    for j in range(gap_start, len(rebuilt)):
                        if rebuilt[j].command == Cmd.DO_SET_CAM_TRIGG_DIST:
                            rebuilt[j] = replace(rebuilt[j], param3=0.0)
                rebuilt += before[s].get(seq, [])
            if (s, seq) in single:
                if (
                    item.command == Cmd.DO_SET_CAM_TRIGG_DIST
                ):  # keep the trigger, not its first shot
                    rebuilt.append(replace(item, param3=0.0))
                else:
                    remedies.append(
                        Remedy(
                            "privacy.no_capture",
                            f"sortie {s + 1}: single photo item {seq} inside a privacy zone removed",
                            True,
                            sortie=s + 1,
                        )
                    )
                continue
            rebuilt.append(item)
            if item.is_nav and item.has_position:
                rebuilt += after[s].get(seq, [])
                gap_start = len(rebuilt)
        out.append(tuple(rebuilt))
    return replace(plan, sorties=tuple(out))


def _trigger_quietly(distance_m: float) -> MissionItem:
    """The trigger distance back on, without an extra photo on the spot."""
    return replace(it.trigger_distance(distance_m), param3=0.0)


def _waypoint(plan: Plan, route: Route, leg: int, t: float) -> MissionItem:
    p = route.a[leg] + t * (route.b[leg] - route.a[leg])
    lon, lat = route.frame.point_to_wgs84(float(p[0]), float(p[1]))
    return it.waypoint(round(lat, 8), round(lon, 8), round(float(p[2]), 3))


def _single_photos_inside(
    plan: Plan,
    analysis: Analysis,
    route: Route,
    shapes: list[tuple[str, LocalShape, tuple[float, float]]],
) -> set[tuple[int, int]]:
    """(sortie, item) of single-photo commands that shoot inside a no-capture area."""
    out: set[tuple[int, int]] = set()
    for photo in analysis.photos:
        item = plan.sorties[photo.sortie][photo.seq - 1]
        if item.command not in (
            Cmd.IMAGE_START_CAPTURE,
            Cmd.DO_DIGICAM_CONTROL,
            Cmd.DO_SET_CAM_TRIGG_DIST,
        ):
            continue
        z = photo.alt_rel_m + route.home_amsl_m
        for _zone_id, shape, band in shapes:
            if band[0] < z < band[1] and shape.contains(np.array([[photo.x_m, photo.y_m]]))[0]:
                out.add((photo.sortie, photo.seq))
    return out
