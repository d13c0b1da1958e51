"""``skyledger fly``: fly a plan on the built-in vehicle or ArduPilot SITL (work in :mod:`api.flights`).

    skyledger fly PLAN --vehicle builtin|sitl [--sitl-binary PATH] [--sitl-defaults PATH]
                  [--speedup N] [--start ISO8601] [--fence-from ZONES_FILE ...]
                  -o TRACK.csv [--tlog FILE] [--json]

Exit 0 when every sortie completed and the vehicle landed and disarmed; 6 when the flight
did not complete (the reason is printed and the track so far is written); 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from api import flights
from api.commands import CommandError


def add_commands(sub: Any) -> None:
    """Add ``fly`` to the ``skyledger`` sub-command parsers."""
    p = sub.add_parser("fly", help="fly a plan on the built-in vehicle or ArduPilot SITL")
    p.add_argument("plan", metavar="PLAN", help="a plan file (.json, .plan, .waypoints, ...)")
    p.add_argument("--vehicle", required=True, choices=("builtin", "sitl"))
    p.add_argument(
        "--sitl-binary", metavar="PATH", help="arducopter (default: $SKYLEDGER_SITL_BINARY, PATH)"
    )
    p.add_argument(
        "--sitl-defaults",
        metavar="PATH",
        help="SITL defaults file (default: $SKYLEDGER_SITL_DEFAULTS)",
    )
    p.add_argument(
        "--speedup",
        type=float,
        metavar="N",
        help="simulated seconds per real second (default: 100 built-in, 10 SITL)",
    )
    p.add_argument(
        "--start", metavar="ISO8601", help="the simulated clock's start (built-in vehicle)"
    )
    p.add_argument(
        "--fence-from",
        action="append",
        default=[],
        metavar="ZONES_FILE",
        help="add the PROHIBITED zones near the route as exclusion fences (repeatable)",
    )
    p.add_argument("-o", "--output", required=True, metavar="TRACK.csv", help="the flown track")
    p.add_argument("--tlog", metavar="FILE.tlog", help="also write the MAVLink telemetry log")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_fly)


def cmd_fly(args: argparse.Namespace) -> int:
    from api.checks import parse_time

    if args.speedup is not None and not (math.isfinite(args.speedup) and args.speedup > 0):
        raise CommandError(f"--speedup {args.speedup:g} must be a number > 0")
    if args.vehicle == "builtin" and (args.sitl_binary or args.sitl_defaults):
        raise CommandError("--sitl-binary and --sitl-defaults are for --vehicle sitl")

    def progress(line: str) -> None:
        if not args.json:
            print(line, file=sys.stderr)

    flown = flights.fly(
        args.plan,
        args.vehicle,
        args.output,
        tlog_out=args.tlog,
        fence_zones=args.fence_from,
        speedup=args.speedup,
        start_time=parse_time(args.start, "--start") if args.start else None,
        sitl_binary=args.sitl_binary,
        sitl_defaults=args.sitl_defaults,
        on_progress=progress,
    )
    result = flown.result
    if args.json:
        print(json.dumps(summary(flown), indent=1))
    else:
        print(describe(flown))
    return 0 if result.completed else flights.INCOMPLETE_EXIT


def summary(flown: flights.Flown) -> dict[str, Any]:
    """The flight as JSON: outcome, figures, files."""
    r = flown.result
    return {
        "vehicle": flown.vehicle,
        "completed": r.completed,
        "reason": r.reason,
        "sim_duration_s": round(r.sim_duration_s, 1),
        "sorties_flown": r.sorties_flown,
        "items_reached": [list(x) for x in r.items_reached],
        "photos": r.photos,
        "samples": 0 if r.track is None else len(r.track.samples),
        "files": [str(p) for p in flown.written],
    }


def describe(flown: flights.Flown) -> str:
    """What ``skyledger fly`` prints."""
    r = flown.result
    minutes, seconds = divmod(round(r.sim_duration_s), 60)
    outcome = "completed" if r.completed else f"NOT completed: {r.reason}"
    lines = [
        f"flight on the {flown.vehicle} vehicle {outcome}",
        f"  simulated time  {minutes} min {seconds} s",
        f"  sorties         {r.sorties_flown}",
        f"  items reached   {len(r.items_reached)}",
        f"  photos          {r.photos}",
    ]
    lines += [f"wrote {p}" for p in flown.written]
    return "\n".join(lines)
