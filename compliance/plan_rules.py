"""The rule set's plan-wide limits: ceiling, VLOS distance, daylight, sortie time, geofence."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta
from typing import Any

import numpy as np

from compliance.geometry import LocalShape, Pieces, pieces_geojson
from compliance.legs import Route, Window
from compliance.report import Finding, items_text
from compliance.rules import RuleSet
from mission.analysis import Analysis
from mission.plan import Plan

#: The daylight rule samples the sun this often over the window.
SUN_STEP = timedelta(minutes=1)


def rule_findings(
    plan: Plan,
    analysis: Analysis,
    route: Route,
    rules: RuleSet,
    window: Window,
    pilot: tuple[float, float] | None = None,
) -> list[Finding]:
    """Findings for every rule-set limit the plan breaks."""
    findings: list[Finding] = []
    if rules.ceiling_agl_m is not None:
        findings += _ceiling(route, rules.ceiling_agl_m)
    if rules.vlos_max_m is not None:
        findings += _vlos(route, rules.vlos_max_m, pilot)
    if rules.min_sun_elevation_deg is not None:
        findings += _daylight(plan, rules.min_sun_elevation_deg, window)
    if rules.max_sortie_s is not None:
        for number, sortie in enumerate(analysis.metrics.per_sortie, start=1):
            if sortie.duration_s > rules.max_sortie_s:
                findings.append(
                    Finding(
                        "rules.sortie_duration",
                        "blocking",
                        f"sortie {number} lasts {sortie.duration_s / 60:.1f} min, more than the "
                        f"{rules.max_sortie_s / 60:g} min {rules.name} allows",
                        sortie=number,
                    )
                )
    findings += _geofence(plan, route, rules)
    return findings


def _grouped(route: Route, legs: dict[int, Pieces], rule: str, message: Any) -> list[Finding]:
    """One finding per sortie for the legs given with their offending pieces."""
    by_sortie: dict[int, list[int]] = defaultdict(list)
    for leg in legs:
        by_sortie[int(route.sortie[leg])].append(leg)
    out = []
    for sortie, chosen in sorted(by_sortie.items()):
        items = tuple(sorted({int(route.seq[leg]) for leg in chosen}))
        geometry = pieces_geojson(route.frame, [(route.a[k], route.b[k], legs[k]) for k in chosen])
        out.append(
            Finding(
                rule,
                "blocking",
                message(sortie + 1, items, chosen),
                None,
                sortie + 1,
                items,
                geometry,
            )
        )
    return out


def _ceiling(route: Route, ceiling_m: float) -> list[Finding]:
    """Legs climbing above the ceiling; ground is flat at home, so AGL is the height above home."""
    legs: dict[int, Pieces] = {}
    for k, (z0, z1) in enumerate(zip(route.a[:, 2], route.b[:, 2], strict=True)):
        if max(z0, z1) <= ceiling_m:
            continue
        if z0 == z1:
            legs[k] = [(0.0, 1.0)]
        else:
            t = (ceiling_m - z0) / (z1 - z0)
            legs[k] = [(max(t, 0.0), 1.0)] if z1 > z0 else [(0.0, min(t, 1.0))]

    def message(sortie: int, items: tuple[int, ...], chosen: list[int]) -> str:
        top = max(max(route.a[k, 2], route.b[k, 2]) for k in chosen)
        return (
            f"sortie {sortie} items {items_text(items)} climb to {top:.1f} m above ground, "
            f"above the {ceiling_m:g} m ceiling"
        )

    return _grouped(route, legs, "rules.ceiling", message)


def _vlos(route: Route, vlos_m: float, pilot: tuple[float, float] | None) -> list[Finding]:
    """Legs reaching farther than ``vlos_m`` from the pilot (home unless given)."""
    at = route.frame.point_to_local(*pilot) if pilot is not None else (0.0, 0.0)
    circle = LocalShape(center=at, radius_m=vlos_m)
    far = np.maximum(
        np.hypot(route.a[:, 0] - at[0], route.a[:, 1] - at[1]),
        np.hypot(route.b[:, 0] - at[0], route.b[:, 1] - at[1]),
    )
    chosen = np.flatnonzero(far > vlos_m)
    legs: dict[int, Pieces] = {}
    for k, inside in zip(chosen, circle.clip(route.a[chosen], route.b[chosen]), strict=True):
        legs[int(k)] = _complement(inside)

    def message(sortie: int, items: tuple[int, ...], picked: list[int]) -> str:
        return (
            f"sortie {sortie} items {items_text(items)} go {float(far[picked].max()):.0f} m from the "
            f"pilot, beyond the {vlos_m:g} m line-of-sight limit"
        )

    return _grouped(route, legs, "rules.vlos", message)


def _complement(pieces: Pieces) -> Pieces:
    out, start = [], 0.0
    for t0, t1 in sorted(pieces):
        if t0 > start:
            out.append((start, t0))
        start = max(start, t1)
    if start < 1.0:
        out.append((start, 1.0))
    return out


def _daylight(plan: Plan, min_elevation: float, window: Window) -> list[Finding]:
    """Times in the window when the sun at home is lower than ``min_elevation``."""
    from compliance.sun import sun_elevation_deg

    start, end = window
    steps = max(1, math.ceil((end - start) / SUN_STEP))
    dark = [
        when
        for when in (start + i * (end - start) / steps for i in range(steps + 1))
        if sun_elevation_deg(plan.home.lon_deg, plan.home.lat_deg, when, refraction=False)
        < min_elevation
    ]
    if not dark:
        return []
    lowest = min(
        sun_elevation_deg(plan.home.lon_deg, plan.home.lat_deg, t, refraction=False) for t in dark
    )
    return [
        Finding(
            "rules.daylight",
            "blocking",
            f"the sun is below {min_elevation:g}° (down to {lowest:.1f}°) from "
            f"{dark[0].isoformat(timespec='minutes')} to {dark[-1].isoformat(timespec='minutes')}: "
            "the rule set allows daylight flight only",
        )
    ]


def _geofence(plan: Plan, route: Route, rules: RuleSet) -> list[Finding]:
    fence = plan.geofence
    inclusions = [p for p in fence.polygons if p.inclusion] + [
        c for c in fence.circles if c.inclusion
    ]
    exclusions = [p for p in fence.polygons if not p.inclusion] + [
        c for c in fence.circles if not c.inclusion
    ]
    if not inclusions and not exclusions:
        if rules.geofence_required:
            return [
                Finding(
                    "rules.geofence",
                    "blocking",
                    f"{rules.name} requires a geofence and the plan has none",
                )
            ]
        return []
    import shapely

    frame = route.frame

    def local(shape: Any) -> Any:
        if hasattr(shape, "vertices"):
            return frame.geom_to_local(shapely.Polygon(shape.vertices))
        return shapely.Point(frame.point_to_local(shape.lon_deg, shape.lat_deg)).buffer(
            shape.radius_m, quad_segs=64
        )

    allowed = shapely.union_all([local(s) for s in inclusions]) if inclusions else None
    banned = shapely.union_all([local(s) for s in exclusions]) if exclusions else None
    lines = shapely.linestrings(np.stack([route.a[:, :2], route.b[:, :2]], axis=1))
    vertical = np.hypot(*(route.b[:, :2] - route.a[:, :2]).T) < 1e-6
    lines = np.where(vertical, shapely.points(route.a[:, :2]), lines)
    outside = np.zeros(len(lines), bool)
    if allowed is not None:
        outside |= ~shapely.covered_by(lines, allowed.buffer(0.01))
    if banned is not None:
        outside |= shapely.intersects(lines, banned)
    legs = {int(k): [(0.0, 1.0)] for k in np.flatnonzero(outside)}

    def message(sortie: int, items: tuple[int, ...], chosen: list[int]) -> str:
        return (
            f"sortie {sortie} items {items_text(items)} leave the plan's own geofence: "
            "the autopilot would abort the mission there"
        )

    return _grouped(route, legs, "rules.geofence", message)
