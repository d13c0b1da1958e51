"""Flight benchmark: a 10-minute inspection flown by the built-in vehicle (and SITL at
speedup 10 where a binary is found), and the upload of a 700-item mission to each.

The baseline is real time, measured in the same run: ``×real time`` is simulated airborne
seconds per wall second of the whole flight, uploads and arming included (the built-in
vehicle's target is ≥ 50 on one core). Uploads are timed
with their read-back. Run with ``make bench`` (or ``.venv/bin/python bench/flight.py``).
Not a test: the machine is shared and noisy, so each figure is the median of a few runs.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Run as a script, this folder would come first on the path (bench/compliance.py would
# shadow the package of that name).
sys.path[:] = [
    p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))
]

import shapely  # noqa: E402
from shapely.geometry import box  # noqa: E402

from mission import items as it  # noqa: E402
from mission.analysis import analyse  # noqa: E402
from mission.camera import PRESETS  # noqa: E402
from mission.geodesy import LocalFrame  # noqa: E402
from mission.plan import Home, Plan, Vehicle  # noqa: E402
from mission.survey import plan_survey  # noqa: E402
from sim.errors import SimError  # noqa: E402
from sim.flight import fly_plan  # noqa: E402
from sim.link import Link  # noqa: E402
from sim.sitl import Sitl, find_sitl_binary  # noqa: E402
from sim.vehicle import BuiltinVehicle  # noqa: E402

HOME = Home(lat_deg=-35.363261, lon_deg=149.165230, alt_amsl_m=584.0)
FRAME = LocalFrame(HOME.lon_deg, HOME.lat_deg)
REPEATS = 3


def ten_minute_survey() -> Plan:
    """A 1-sortie survey near home whose paper flight lasts about ten minutes."""
    side = 310.0
    area = json.loads(
        shapely.to_geojson(FRAME.geom_to_wgs84(box(40.0, 40.0, 40.0 + side, 40.0 + side)))
    )
    return plan_survey(
        area, PRESETS["mavic3-enterprise"], gsd_cm=1.2, home=HOME, vehicle=Vehicle(endurance_s=1500)
    )


def long_mission(count: int = 700) -> Plan:
    """``count`` items with home: a take-off, waypoints on a 10 m grid, RTL."""
    items = [it.takeoff(30.0)]
    for k in range(count - 3):
        lon, lat = FRAME.point_to_wgs84(10.0 * (k % 20), 10.0 * (k // 20))
        items.append(it.waypoint(lat, lon, 30.0))
    items.append(it.return_to_launch())
    return Plan(home=HOME, sorties=(tuple(items),))


@contextmanager
def builtin() -> Iterator[str]:
    with BuiltinVehicle((HOME.lat_deg, HOME.lon_deg, HOME.alt_amsl_m), speedup=math.inf) as v:
        yield v.url


@contextmanager
def sitl(speedup: float) -> Iterator[str]:
    process = Sitl(home=HOME, speedup=speedup, instance=5)
    try:
        yield process.start()
    finally:
        process.stop()


def cpu_and_wall(action: Callable[[], object]) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = action()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> int:
    survey = ten_minute_survey()
    paper_s = analyse(survey).metrics.duration_s
    mission = long_mission()
    vehicles: list[tuple[str, Callable[[], object]]] = [("built-in", builtin)]
    binary = find_sitl_binary()
    if binary:
        vehicles.append(("SITL ×10", lambda: sitl(10.0)))
    rows = []
    for name, start in vehicles:
        flights, uploads = [], []
        for _ in range(REPEATS if name == "built-in" else 1):
            with start() as url:  # type: ignore[attr-defined]
                wall, cpu, result = cpu_and_wall(lambda url=url: fly_plan(survey, url))
                assert result.completed, result.reason  # type: ignore[attr-defined]
                air = result.track.airborne()  # type: ignore[attr-defined]
                flights.append(((air[-1].time - air[0].time).total_seconds(), wall, cpu))
            with start() as url, Link.connect(url) as link:  # type: ignore[attr-defined]
                try:
                    t, _, _ = cpu_and_wall(lambda link=link: link.upload_plan_sortie(mission, 0))
                    size = 700
                except SimError as exc:  # ArduPilot SITL's storage holds fewer: take its size
                    found = re.search(r"Only (\d+) items", str(exc))
                    if not found:
                        raise
                    size = int(found.group(1))
                    smaller = long_mission(size)
                    t, _, _ = cpu_and_wall(
                        lambda link=link, smaller=smaller: link.upload_plan_sortie(smaller, 0)
                    )
                uploads.append((t, size))
        sim_s = statistics.median(f[0] for f in flights)
        wall_s = statistics.median(f[1] for f in flights)
        cpu_s = statistics.median(f[2] for f in flights)
        upload_s = statistics.median(u[0] for u in uploads)
        size = uploads[0][1]
        rows.append((name, len(flights), sim_s, wall_s, cpu_s, sim_s / wall_s, size, upload_s))
    print(
        f"Flight benchmark: a survey whose paper flight lasts {paper_s / 60:.1f} min "
        f"({len(survey.items)} items, {len(analyse(survey).photos)} photos); a 700-item mission uploaded "
        "and read back (or as many as the vehicle holds). Baseline: real time (×real time = simulated s per wall s)."
    )
    if not binary:
        print(
            "No SITL binary found (SKYLEDGER_SITL_BINARY or arducopter on PATH): SITL rows left out."
        )
    print()
    print(
        "| vehicle | runs | airborne s | wall s | CPU s | ×real time | items uploaded | upload s | items/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs, sim_s, wall_s, cpu_s, ratio, size, upload_s in rows:
        print(
            f"| {name} | {runs} | {sim_s:.0f} | {wall_s:.2f} | {cpu_s:.2f} | {ratio:.0f} | "
            f"{size} | {upload_s:.2f} | {size / upload_s:.0f} |"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nPeak RSS {peak:.0f} MiB. Target: built-in ×real time ≥ 50.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
