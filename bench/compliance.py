"""Checker benchmark: a plan of 2,000 legs against 100,000 zones, and the brute-force oracle.

The zones are drawn with a seeded numpy RNG around ArduPilot SITL's home: most spread
thinly over a country-sized square, a denser cluster in the district the plan flies over,
as a national dataset meets one plan. They mix polygons (4-40 vertices, some with a hole)
and circles, all four restrictions, bands in AGL/AMSL, metres/feet, some unlimited, about
30 % with schedules (weekly clock periods, sunrise/sunset, date ranges, some in a local
time zone) and about 10 % privacy zones. The plan is a seeded random walk of waypoints in
several sorties with the camera on for stretches, flown on paper once, so the check times
measure the checker alone.

The table gives the index build (median of 3), one check (median after a warm-up), the
oracle (:func:`compliance.reference.reference_findings`, run once) and each against the
oracle of the same run, with whether the zone findings are identical.

Run with ``make bench`` (or ``.venv/bin/python bench/compliance.py``). Not a test.
Options: ``--zones N`` (default 100000), ``--checks N`` (default 15), ``--no-oracle``,
``--profile`` (cProfile of one check, top entries).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

# This script is named like the package it measures: import the package, not the script.
if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

from compliance.check import check
from compliance.index import ZoneIndex
from compliance.reference import ZONE_RULES, reference_findings
from compliance.rules import preset
from compliance.zones import (
    RESTRICTIONS,
    Applicability,
    Authority,
    CameraPolicy,
    DailyPeriod,
    Limit,
    Volume,
    Zone,
)
from mission import items as it
from mission.analysis import Analysis, analyse
from mission.geodesy import LocalFrame
from mission.plan import Home, Plan

HOME = Home(lat_deg=-35.363261, lon_deg=149.165230, alt_amsl_m=584.0)
FRAME = LocalFrame(HOME.lon_deg, HOME.lat_deg)
SEED = 20261201
#: Zones spread over a square this wide (metres), centred on home ...
REGION_M = 300_000.0
#: ... and this many of them in a disc of this radius around home, where the plan flies.
CLUSTER_ZONES = 4_000
CLUSTER_RADIUS_M = 10_000.0
#: The plan: a random walk within this distance of home, in sorties of this many waypoints.
WALK_RADIUS_M = 3_000.0
SORTIES = 4
WAYPOINTS_PER_SORTIE = 495
#: Tuesday 1 December 2026, 11:00 to 14:00 in Canberra (AEDT).
WINDOW = (datetime(2026, 12, 1, 0, tzinfo=UTC), datetime(2026, 12, 1, 3, tzinfo=UTC))
#: The walk strays 3 km from home: a BVLOS flight, so no VLOS limit (it would flag every leg).
RULES = replace(
    preset("eu-open"), vlos_max_m=None, zone_margin_m=10.0, name="eu-open BVLOS, 10 m margin"
)
BUILDS = 3
_FT = 3.28084


# --- zones ---------------------------------------------------------------------------------
def _limit(rng: np.random.Generator, lower: bool) -> Limit:
    """A band limit: the ground / unlimited, or 0..150 m above home in AGL or AMSL, m or ft."""
    if rng.random() < (0.55 if lower else 0.25):
        return Limit(None) if lower or rng.random() < 0.5 else Limit(99999.0, "AMSL", "ft")
    metres = float(rng.uniform(0.0, 60.0) if lower else rng.uniform(30.0, 150.0))
    reference = "AMSL" if rng.random() < 0.4 else "AGL"
    if reference == "AMSL":
        metres += HOME.alt_amsl_m
    unit = "ft" if rng.random() < 0.4 else "m"
    value = round(metres * (_FT if unit == "ft" else 1.0), 1)
    return Limit(value, reference, unit)  # type: ignore[arg-type]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _schedule(rng: np.random.Generator) -> tuple[tuple[Applicability, ...], str | None]:
    """Applicability entries and a time zone: weekly periods, sun events, date ranges."""
    kind = rng.random()
    tz = "Australia/Sydney" if rng.random() < 0.4 else None
    days = frozenset(int(d) for d in np.flatnonzero(rng.random(7) < 0.6)) or frozenset({1})
    if kind < 0.4:  # weekly clock period, some overnight
        start = int(rng.integers(0, 24 * 4)) * 15
        end = (start + int(rng.integers(1, 16)) * 60) % (24 * 60)
        period = DailyPeriod(days, _hhmm(start), _hhmm(end) if end else "24:00")
        return (Applicability(periods=(period,)),), tz
    if kind < 0.6:  # sunrise to sunset, or the night
        bounds = ("SR", "SS") if rng.random() < 0.6 else ("SS", "SR")
        return (Applicability(periods=(DailyPeriod(days, *bounds),)),), None
    # a date range around the window, sometimes with a daily period within it
    first = WINDOW[0] + timedelta(days=int(rng.integers(-60, 20)), hours=int(rng.integers(0, 24)))
    last = first + timedelta(days=int(rng.integers(1, 60)))
    periods: tuple[DailyPeriod, ...] = ()
    if rng.random() < 0.5:
        periods = (DailyPeriod(days, "08:00", "18:00"),)
    return (Applicability(start=first, end=last, periods=periods),), tz


def _camera(rng: np.random.Generator) -> CameraPolicy:
    mode = rng.random()
    if mode < 0.5:
        return CameraPolicy("no_capture")
    if mode < 0.8:
        return CameraPolicy("buffer", float(rng.choice([10.0, 25.0, 50.0])))
    return CameraPolicy("no_overflight")


def _outline(rng: np.random.Generator, radius: float) -> list[np.ndarray]:
    """A star-shaped outline (4-40 vertices) about the origin, sometimes with a hole."""
    n = int(rng.integers(4, 41))
    # jittered even angles: no gap over 1.5 × 360°/n, so with n ≥ 8 every edge stays
    # beyond 0.6 × cos(33.75°) ≈ 0.5 of the radius from the centre, clear of the hole
    angles = (np.arange(n) + rng.uniform(-0.25, 0.25, n)) * (2 * math.pi / n)
    radii = radius * rng.uniform(0.6, 1.0, n)
    rings = [np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])]
    if n >= 8 and rng.random() < 0.15:
        m = int(rng.integers(4, 9))
        hole_angles = (np.arange(m) + rng.uniform(-0.25, 0.25, m)) * (2 * math.pi / m)
        hole_radii = radius * rng.uniform(0.2, 0.4, m)
        rings.append(
            np.column_stack([hole_radii * np.cos(hole_angles), hole_radii * np.sin(hole_angles)])
        )
    return rings


def make_zones(count: int, seed: int = SEED) -> list[Zone]:
    """``count`` zones: a cluster around home and the rest over the whole region."""
    rng = np.random.default_rng(seed)
    cluster = min(CLUSTER_ZONES, count)
    r = CLUSTER_RADIUS_M * np.sqrt(rng.random(cluster))
    a = rng.uniform(0.0, 2 * math.pi, cluster)
    xs = np.concatenate([r * np.cos(a), rng.uniform(-0.5, 0.5, count - cluster) * REGION_M])
    ys = np.concatenate([r * np.sin(a), rng.uniform(-0.5, 0.5, count - cluster) * REGION_M])
    # sizes: mostly tens to hundreds of metres, a few airport-sized
    size = np.exp(rng.uniform(math.log(30.0), math.log(800.0), count))
    size[rng.random(count) < 0.01] *= 10.0
    # every volume as local rings (a circle as its centre and radius), then one transform
    shapes: list[list[tuple[Any, ...]]] = []
    coords: list[np.ndarray] = []
    for k in range(count):
        volumes: list[tuple[Any, ...]] = []
        for v in range(2 if rng.random() < 0.05 else 1):
            cx, cy = xs[k] + v * size[k] * 0.5, ys[k]
            if rng.random() < 0.35:
                volumes.append(("circle", len(coords), float(size[k])))
                coords.append(np.array([[cx, cy]]))
            else:
                rings = _outline(rng, float(size[k]))
                volumes.append(("polygon", len(coords), len(rings)))
                coords.extend(ring + np.array([cx, cy]) for ring in rings)
        shapes.append(volumes)
    sizes = [len(c) for c in coords]
    flat = np.concatenate(coords)
    lon, lat = FRAME.to_wgs84(flat[:, 0], flat[:, 1])
    lonlat = np.column_stack([np.round(lon, 7), np.round(lat, 7)]).tolist()
    starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()

    def ring(n: int) -> tuple[tuple[float, float], ...]:
        return tuple(tuple(p) for p in lonlat[starts[n] : starts[n + 1]])  # type: ignore[misc]

    tower = Authority("Canberra tower", interval_before=timedelta(days=2))
    zones = []
    for k, volumes_k in enumerate(shapes):
        volumes = []
        for kind, first, extra in volumes_k:
            lower, upper = _limit(rng, True), _limit(rng, False)
            if kind == "circle":
                centre = ring(first)[0]
                volumes.append(Volume(center=centre, radius_m=extra, lower=lower, upper=upper))
            else:
                rings = tuple(ring(first + j) for j in range(extra))
                volumes.append(Volume(rings=rings, lower=lower, upper=upper))
        restriction = RESTRICTIONS[int(rng.choice(4, p=[0.2, 0.3, 0.3, 0.2]))]
        applicability, tz = _schedule(rng) if rng.random() < 0.3 else ((), None)
        camera = _camera(rng) if rng.random() < 0.1 else None
        zones.append(
            Zone(
                f"Z{k:06d}",
                restriction,
                tuple(volumes),
                names={"en": f"zone {k}"},
                reasons=("PRIVACY",) if camera else ("AIR_TRAFFIC",),
                applicability=applicability,
                authorities=(tower,) if restriction == "REQ_AUTHORISATION" else (),
                camera=camera,
                time_zone=tz,
            )
        )
    return zones


# --- the plan ------------------------------------------------------------------------------
def make_plan(seed: int = SEED) -> Plan:
    """A random walk of waypoints near home in several sorties, the camera on for stretches."""
    rng = np.random.default_rng(seed + 1)
    sorties = []
    x, y = 0.0, 0.0
    for _ in range(SORTIES):
        items = [it.takeoff(40.0)]
        heading = rng.uniform(0.0, 2 * math.pi)
        points = []
        for _ in range(WAYPOINTS_PER_SORTIE):
            heading += rng.normal(0.0, 0.6)
            step = rng.uniform(30.0, 150.0)
            x, y = x + step * math.cos(heading), y + step * math.sin(heading)
            if math.hypot(x, y) > WALK_RADIUS_M:  # turn back towards home
                heading = math.atan2(-y, -x)
                x, y = x * 0.95, y * 0.95
            points.append((x, y, round(float(rng.uniform(15.0, 115.0)), 1)))
        xs = np.array([p[0] for p in points])
        lon, lat = FRAME.to_wgs84(xs, np.array([p[1] for p in points]))
        for n, (lo, la, (_, _, alt)) in enumerate(zip(lon, lat, points, strict=True)):
            if n % 60 == 0:
                items.append(it.trigger_distance(25.0))
            elif n % 60 == 20:
                items.append(it.trigger_distance(0.0))
            items.append(it.waypoint(float(la), float(lo), alt))
        items += [it.trigger_distance(0.0), it.return_to_launch()]
        sorties.append(tuple(items))
    return Plan(home=HOME, sorties=tuple(sorties), name="random walk")


# --- measuring -----------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def zone_keys(report: Any) -> set[tuple[str, str, int, tuple[int, ...]]]:
    return {
        (f.rule_id, f.zone_id, f.sortie, f.items)
        for f in report.findings
        if f.rule_id in ZONE_RULES
    }


def maxrss_mib() -> float:
    # ru_maxrss is KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=100_000)
    parser.add_argument("--checks", type=int, default=15)
    parser.add_argument("--no-oracle", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)

    gen_s, zones = timed(lambda: make_zones(args.zones))
    plan = make_plan()
    analysis: Analysis = analyse(plan)
    # the operator holds a few authorisations for zones in the district, not thousands
    authorisations = {
        z.identifier for z in zones[:CLUSTER_ZONES] if z.restriction == "REQ_AUTHORISATION"
    }
    authorisations = set(sorted(authorisations)[::50])
    volumes = sum(len(z.volumes) for z in zones)
    rss_zones = maxrss_mib()

    builds = []
    index = None
    for _ in range(BUILDS):
        index = None
        gc.collect()
        seconds, index = timed(lambda: ZoneIndex(zones))
        builds.append(seconds)
    assert index is not None

    def one_check() -> Any:
        return check(plan, index, RULES, WINDOW, authorisations, analysis=analysis)

    report = one_check()  # warm-up: imports, pyproj transformers, sun-event cache
    full_gcs = [0]

    def count_full_gc(phase: str, info: dict[str, Any]) -> None:
        full_gcs[0] += phase == "stop" and info["generation"] == 2

    gc.callbacks.append(count_full_gc)
    checks = [timed(one_check)[0] for _ in range(args.checks)]
    gc.callbacks.remove(count_full_gc)
    check_s = statistics.median(checks)
    # as a long-running service would: the loaded zones moved out of the collector's reach
    gc.freeze()
    frozen = [timed(one_check)[0] for _ in range(args.checks)]
    gc.unfreeze()
    rss_check = maxrss_mib()

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(one_check)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)

    # allocations of one build and one check, traced (slower, so timed separately above)
    gc.collect()
    tracemalloc.start()
    traced_index = ZoneIndex(zones)
    check(plan, traced_index, RULES, WINDOW, authorisations, analysis=analysis)
    traced_peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    del traced_index

    found = zone_keys(report)
    oracle_s: float | None = None
    same: bool | None = None
    if not args.no_oracle:
        oracle_s, expected = timed(
            lambda: reference_findings(plan, zones, RULES, WINDOW, authorisations, analysis)
        )
        same = found == expected
        if not same:
            print(f"checker only: {sorted(found - expected)[:10]}", file=sys.stderr)
            print(f"oracle only: {sorted(expected - found)[:10]}", file=sys.stderr)

    print(
        f"Checker benchmark: {len(zones)} zones ({volumes} volumes, {CLUSTER_ZONES} within "
        f"{CLUSTER_RADIUS_M / 1000:g} km of home, the rest over "
        f"{REGION_M / 1000:g} × {REGION_M / 1000:g} km), generated in {gen_s:.1f} s;"
    )
    print(
        f"plan of {len(analysis.legs)} legs and {len(analysis.photos)} photos in "
        f"{len(plan.sorties)} sorties; window {WINDOW[0]:%Y-%m-%d %H:%M}..{WINDOW[1]:%H:%M} UTC; "
        f"rules {RULES.name}."
    )
    print(
        f"Check: {report.zones_checked} zones near the route examined, {len(report.findings)} "
        f"findings ({len(found)} zone findings)."
    )
    print(
        f"Memory: peak RSS {rss_zones:.0f} MiB with the zones, {rss_check:.0f} MiB after "
        f"index and checks; traced peak of one build + check {traced_peak_mib:.0f} MiB."
    )
    print(
        f"Python's full garbage collections during the {len(checks)} timed checks: "
        f"{full_gcs[0]} (each walks every zone object; they make the max column). The second "
        "check row freezes the loaded zones out of the collector first (gc.freeze()), as a "
        "long-running service would."
    )
    print("Baseline: the brute-force oracle of the same run (×oracle = oracle time / time).")
    print()
    print("| step | runs | median s | min s | max s | target | met | ×oracle |")
    print("|---|---:|---:|---:|---:|---|---|---:|")

    def row(name: str, times: list[float], target: float | None) -> None:
        median = statistics.median(times)
        met = "–" if target is None else ("yes" if median <= target else "**no**")
        ratio = "–" if oracle_s is None else f"{oracle_s / median:.0f}"
        goal = "–" if target is None else f"≤ {target:g} s"
        print(
            f"| {name} | {len(times)} | {median:.3f} | {min(times):.3f} | {max(times):.3f} "
            f"| {goal} | {met} | {ratio} |"
        )

    row(f"index build, {volumes} volumes", builds, 2.0)
    row(f"check, {len(analysis.legs)} legs", checks, 0.1)
    row(f"check, {len(analysis.legs)} legs, zones gc.freeze()d", frozen, 0.1)
    if oracle_s is not None:
        row("brute-force oracle", [oracle_s], None)
    print()
    print(
        f"Peak RSS {rss_check:.0f} MiB (target ≤ 1024 MiB: "
        f"{'yes' if rss_check <= 1024 else 'no'}); "
        + (
            "oracle not run."
            if oracle_s is None
            else f"check ×oracle {oracle_s / check_s:.0f} (target ≥ 50: "
            f"{'yes' if oracle_s / check_s >= 50 else 'no'}); zone findings identical: "
            f"{'yes' if same else 'NO'}."
        )
    )
    return 0 if same in (None, True) else 1


if __name__ == "__main__":
    sys.exit(main())
