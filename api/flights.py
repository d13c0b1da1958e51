"""What ``skyledger fly`` does: pick a vehicle, fly the plan, write the track.

The vehicle is the built-in ArduCopter test double (:class:`sim.vehicle.BuiltinVehicle`)
or real ArduPilot SITL (:class:`sim.sitl.Sitl`, binary from ``--sitl-binary``,
``$SKYLEDGER_SITL_BINARY`` or ``arducopter`` on PATH). ``--fence-from ZONES`` adds the
PROHIBITED zones near the route to the plan's geofence as exclusions, so the autopilot
itself keeps out of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api import commands
from api.commands import CommandError

if TYPE_CHECKING:
    from mission.plan import Geofence, Plan
    from sim.flight import FlightResult

#: Exit status of ``skyledger fly`` when the flight did not complete.
INCOMPLETE_EXIT = 6
#: Zones farther than this from the route's box are not made into fences.
FENCE_REACH_M = 1000.0
DEFAULT_SPEEDUP = {"builtin": 100.0, "sitl": 10.0}


@dataclass(frozen=True)
class Flown:
    """A flight as the command ran it, and the files it wrote."""

    result: FlightResult
    vehicle: str
    written: tuple[Path, ...]


def zone_fence(plan: Plan, zone_paths: Sequence[str]) -> Geofence:
    """Exclusion fences for the PROHIBITED zone volumes near the route and low enough to meet it."""
    import numpy as np

    from api.checks import load_zone_sources
    from compliance.index import ZoneIndex
    from compliance.legs import Route
    from mission.analysis import analyse
    from mission.plan import FenceCircle, FencePolygon, Geofence

    sources = load_zone_sources(zone_paths)
    if sources.failed:
        raise CommandError("; ".join(sources.failed))
    route = Route.of(plan, analyse(plan))
    top_amsl = plan.home.alt_amsl_m + float(np.max(np.r_[route.a[:, 2], route.b[:, 2]]))
    box = route.boxes(FENCE_REACH_M)
    whole = np.array([[box[:, 0].min(), box[:, 1].min(), box[:, 2].max(), box[:, 3].max()]])
    index = ZoneIndex(sources.zones)
    polygons: list[FencePolygon] = []
    circles: list[FenceCircle] = []
    for number in sorted(set(index.query(whole)[1].tolist())):
        ref = index.volumes[number]
        if index.zones[ref.zone].restriction != "PROHIBITED":
            continue
        if ref.volume.band_amsl_m(plan.home.alt_amsl_m)[0] >= top_amsl:
            continue
        if ref.volume.center is not None and ref.volume.radius_m is not None:
            lon, lat = ref.volume.center
            circles.append(FenceCircle(lon, lat, ref.volume.radius_m, inclusion=False))
        else:
            ring = ref.volume.rings[0]
            ring = ring[:-1] if ring[0] == ring[-1] else ring
            polygons.append(FencePolygon(tuple(ring), inclusion=False))
    return Geofence(tuple(polygons), tuple(circles))


@contextlib.contextmanager
def vehicle(
    kind: str,
    plan: Plan,
    *,
    speedup: float | None = None,
    start_time: datetime | None = None,
    sitl_binary: str | None = None,
    sitl_defaults: str | None = None,
) -> Iterator[str]:
    """Start the vehicle for ``plan``'s home; yield its URL; stop it on every exit path."""
    rate = DEFAULT_SPEEDUP[kind] if speedup is None else speedup
    if kind == "builtin":
        from sim.vehicle import BuiltinVehicle

        home = (plan.home.lat_deg, plan.home.lon_deg, plan.home.alt_amsl_m)
        with BuiltinVehicle(home, speedup=rate, start_time=start_time) as v:
            yield v.url
        return
    from sim.sitl import Sitl

    sitl = Sitl(sitl_binary, sitl_defaults, home=plan.home, speedup=rate)
    try:
        yield sitl.start()
    finally:
        sitl.stop()


def fly(
    plan_path: str,
    kind: str,
    track_out: str,
    *,
    tlog_out: str | None = None,
    fence_zones: Sequence[str] = (),
    speedup: float | None = None,
    start_time: datetime | None = None,
    sitl_binary: str | None = None,
    sitl_defaults: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> Flown:
    """Fly the plan file on the vehicle; write the track CSV (and the .tlog) even when it fails."""
    from sim.flight import fly_plan

    if not track_out.lower().endswith(".csv"):
        raise CommandError(f"-o {track_out!r} must end in .csv (the project's track CSV)")
    if tlog_out is not None and not tlog_out.lower().endswith(".tlog"):
        raise CommandError(f"--tlog {tlog_out!r} must end in .tlog")
    plan = commands.read_plan(plan_path)
    fence = zone_fence(plan, fence_zones) if fence_zones else None
    with vehicle(
        kind,
        plan,
        speedup=speedup,
        start_time=start_time,
        sitl_binary=sitl_binary,
        sitl_defaults=sitl_defaults,
    ) as url:
        result = fly_plan(plan, url, fence=fence, on_progress=on_progress)
    return Flown(result, kind, tuple(write_flight(result, track_out, tlog_out)))


def write_flight(result: Any, track_out: str, tlog_out: str | None) -> list[Path]:
    """Write the track CSV and the .tlog of a flight (nothing when no position was received)."""
    from mission.track import track_to_csv

    paths: list[Path] = []
    payloads: list[str | bytes] = []
    if result.track is not None:
        paths.append(Path(track_out))
        payloads.append(track_to_csv(result.track))
    if tlog_out is not None and result.tlog:
        paths.append(Path(tlog_out))
        payloads.append(result.tlog)
    commands.write_texts(paths, payloads)
    return paths
