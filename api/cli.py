"""The ``skyledger`` command line.

    skyledger plan survey    --area FILE --camera NAME|FILE.json (--gsd CM | --altitude M) -o OUT
    skyledger plan corridor  --line FILE --width M ...
    skyledger plan structure (--center LAT,LON --radius M | --footprint FILE) --height M ...
    skyledger plan facade    --line FILE --height-min M --height-max M --standoff M ...
    skyledger plan info PLAN [--json]
    skyledger convert IN OUT
    skyledger cameras [--json]
    skyledger check PLAN --zones FILE ... --start ISO8601 (--duration MIN | --end ISO8601) ...
    skyledger conform PLAN TRACK --zones FILE ... [--json]
    skyledger zones import FILE -o OUT.geojson
    skyledger fly PLAN --vehicle builtin|sitl -o TRACK.csv [--tlog FILE] ...
    skyledger ledger audit|checkpoint|key [--data-dir DIR | --db URL] ...
    skyledger questions list|review|answer [--data-dir DIR | --db URL] ...
    skyledger retention sweep [--data-dir DIR] [--db URL] [--dry-run] [--json]

Every expected bad input ends in one line ``skyledger: error: ...`` on stderr and exit
status 2, with nothing written (the compliance commands, in :mod:`api.cli_compliance`,
also exit 3, 4 or 5 for their verdicts, ``fly`` in :mod:`api.cli_fly` exits 6 when a
flight does not complete, and ``ledger audit`` in :mod:`api.cli_ledger` 1 when the log does
not audit clean). This module parses and prints; :mod:`api.commands`
does the work. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from api import (
    cli_compliance,
    cli_detect,
    cli_fly,
    cli_ledger,
    cli_questions,
    cli_retention,
    cli_service,
    cli_sim,
    cli_vision,
    commands,
    demo_service,
)

PROG = "skyledger"
#: Options whose value may start with a minus sign (southern latitudes): ``--home -35.3,149.1``.
_COORDINATE_OPTIONS = ("--home", "--center", "--pilot")
_NEGATIVE_VALUE = re.compile(r"^-[\d.]")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other skyledger error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


# --- argument types ---------------------------------------------------------------------------


_float = commands.number_arg


def positive(text: str) -> float:
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be > 0")
    return value


def non_negative(text: str) -> float:
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be ≥ 0")
    return value


def percent(text: str) -> float:
    """An overlap in percent, 0 ≤ p < 100 (the planners take fractions)."""
    value = _float(text.removesuffix("%"))
    if not 0.0 <= value < 100.0:
        raise argparse.ArgumentTypeError(
            f"{text} % is outside 0..<100 % (overlap is a percentage, e.g. 75)"
        )
    return value


def _latlon(text: str, with_alt: bool) -> tuple[float, float, float | None]:
    form = "LAT,LON[,ALT_AMSL]" if with_alt else "LAT,LON"
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in ((2, 3) if with_alt else (2,)):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {form} in degrees (e.g. -35.363261,149.165230)"
        )
    try:
        numbers = [_float(p) for p in parts]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {form}: numbers expected") from None
    lat, lon = numbers[0], numbers[1]
    if not -90.0 <= lat <= 90.0:
        raise argparse.ArgumentTypeError(
            f"latitude {parts[0]} is outside -90..90 "
            f"(are latitude and longitude swapped? the order is {form})"
        )
    if not -180.0 <= lon <= 180.0:
        raise argparse.ArgumentTypeError(f"longitude {parts[1]} is outside -180..180")
    return lat, lon, numbers[2] if len(numbers) == 3 else None


def home_arg(text: str) -> tuple[float, float, float | None]:
    return _latlon(text, with_alt=True)


def center_arg(text: str) -> tuple[float, float, float | None]:
    return _latlon(text, with_alt=False)


# --- the parser -------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--camera",
        required=True,
        metavar="NAME|FILE.json",
        help="a preset (see 'skyledger cameras') or a camera JSON file",
    )
    p.add_argument("--front-overlap", type=percent, default=75.0, metavar="PCT", help="default 75")
    p.add_argument("--side-overlap", type=percent, default=65.0, metavar="PCT", help="default 65")
    p.add_argument(
        "--home",
        type=home_arg,
        metavar="LAT,LON[,ALT]",
        help="take-off point, ALT its ground elevation AMSL (default: the input file's home "
        "feature, else the planner's choice)",
    )
    p.add_argument("--hover", action="store_true", help="stop for each photo")
    p.add_argument(
        "--ceiling", type=positive, default=120.0, metavar="M", help="max height (default 120)"
    )
    p.add_argument(
        "--endurance", type=positive, metavar="S", help="usable flight time per battery, seconds"
    )
    p.add_argument("--name", help="plan name (default: the feature's or file's name)")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output file; its extension picks the format",
    )


def _feature(p: argparse.ArgumentParser) -> None:
    p.add_argument("--feature", metavar="NAME", help="the feature to use from a collection")


def _nadir(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--gsd", type=positive, metavar="CM", help="ground sample distance, cm/px")
    group.add_argument("--altitude", type=positive, metavar="M", help="height above home, m")
    p.add_argument("--turnaround", type=non_negative, default=10.0, metavar="M", help="default 10")


def _oblique(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--standoff", type=positive, metavar="M", help="distance to the surface")
    group.add_argument("--gsd", type=positive, metavar="CM", help="ground sample distance, cm/px")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Plan, check and fly drone inspections of city infrastructure as ArduPilot missions.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = sub.add_parser("plan", help="plan an inspection, or describe a plan file")
    patterns = plan.add_subparsers(dest="pattern", required=True, metavar="PATTERN")

    p = patterns.add_parser("survey", help="lawnmower survey of an area (Polygon)")
    p.add_argument("--area", required=True, metavar="FILE", help="GeoJSON or KML Polygon")
    _feature(p)
    _nadir(p)
    p.add_argument("--angle", type=_float, metavar="DEG", help="lane bearing (default: best)")
    p.add_argument("--crosshatch", action="store_true", help="fly a second grid at 90°")
    _common(p)
    p.set_defaults(func=cmd_plan)

    p = patterns.add_parser("corridor", help="corridor along a line (LineString)")
    p.add_argument("--line", required=True, metavar="FILE", help="GeoJSON or KML LineString")
    _feature(p)
    p.add_argument("--width", type=positive, metavar="M", help="corridor width")
    _nadir(p)
    _common(p)
    p.set_defaults(func=cmd_plan)

    p = patterns.add_parser("structure", help="orbits around a tower or building")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--center", type=center_arg, metavar="LAT,LON")
    where.add_argument("--footprint", metavar="FILE", help="GeoJSON or KML Polygon (or Point)")
    _feature(p)
    p.add_argument("--radius", type=positive, metavar="M", help="structure radius (with --center)")
    p.add_argument("--height", type=positive, metavar="M", help="structure height above ground")
    _oblique(p)
    p.add_argument("--gimbal-pitch", type=_float, default=0.0, metavar="DEG", help="0 = level")
    _common(p)
    p.set_defaults(func=cmd_plan)

    p = patterns.add_parser("facade", help="vertical lanes along a building face (LineString)")
    p.add_argument("--line", required=True, metavar="FILE", help="GeoJSON or KML LineString")
    _feature(p)
    p.add_argument("--height-min", type=non_negative, metavar="M")
    p.add_argument("--height-max", type=positive, metavar="M")
    _oblique(p)
    p.add_argument("--side", choices=("left", "right"), help="side of the line to fly on")
    _common(p)
    p.set_defaults(func=cmd_plan)

    p = patterns.add_parser("info", help="distance, time, photos, GSD, coverage of a plan file")
    p.add_argument("plan", metavar="PLAN")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("convert", help="convert a plan between file formats")
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("cameras", help="list the preset cameras")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_cameras)

    cli_compliance.add_commands(sub, percent)
    cli_fly.add_commands(sub)
    cli_detect.add_commands(sub)
    cli_vision.add_commands(sub)
    cli_sim.add_commands(sub)
    cli_service.add_commands(sub)
    cli_ledger.add_commands(sub)
    cli_questions.add_commands(sub)
    cli_retention.add_commands(sub)
    demo_service.add_commands(sub)
    return parser


def _join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--home -35.3,149.1`` → ``--home=-35.3,149.1``: argparse would take it for an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _COORDINATE_OPTIONS and i + 1 < len(argv) and _NEGATIVE_VALUE.match(argv[i + 1]):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
        else:
            out.append(arg)
            i += 1
    return out


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv`` as ``skyledger`` would (raises SystemExit on bad arguments)."""
    args = build_parser().parse_args(_join_negative_values(argv))
    args.argv = list(argv)  # as typed, for records that quote the command (model cards)
    return args


# --- commands ---------------------------------------------------------------------------------


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _overlap_notes(args: argparse.Namespace) -> None:
    for option in ("front_overlap", "side_overlap"):
        value = getattr(args, option)
        if 0 < value < 1:
            flag = "--" + option.replace("_", "-")
            _warn(
                f"{flag} {value:g} means {value:g} %; overlaps are percentages ({value * 100:g}?)"
            )


def cmd_plan(args: argparse.Namespace) -> int:
    _overlap_notes(args)
    plan = commands.plan_from_args(args)
    analysis = commands.analyse(plan)
    paths = commands.write_plan(plan, args.output, analysis)
    metrics, warnings = commands.measure(plan, analysis)
    for path in paths:
        print(f"wrote {path}")
    print(commands.summary(metrics))
    for warning in warnings:
        _warn(warning)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    plan = commands.read_plan(args.plan)
    metrics, warnings = commands.measure(plan, commands.analyse(plan))
    if args.json:
        print(json.dumps({"file": args.plan, **metrics, "warnings": warnings}, indent=2))
        return 0
    rows = [
        ("file", args.plan),
        ("pattern", str(metrics["pattern"])),
        ("name", str(metrics["name"] or "-")),
        ("distance", commands.km(metrics["distance_m"])),
        ("duration", commands.duration(metrics["duration_s"])),
        ("photos", str(metrics["photos"])),
        ("GSD", commands.gsd(metrics["gsd_cm"])),
        ("coverage", commands.coverage(metrics["coverage"])),
        ("items", f"{metrics['items']} (home counted once per sortie)"),
        ("sorties", str(metrics["sorties"])),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    per_sortie = metrics.get("per_sortie") or []
    if len(per_sortie) > 1:
        for i, s in enumerate(per_sortie, 1):
            print(
                f"  sortie {i}: {commands.km(s['distance_m'])}, "
                f"{commands.duration(s['duration_s'])}, {s['photos']} photos, {s['items']} items"
            )
    for warning in warnings:
        print(f"warning: {warning}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    commands.check_output_path(args.output)
    plan = commands.read_plan(args.input)
    analysis = commands.analyse(plan)
    paths = commands.write_plan(plan, args.output, analysis)
    for path in paths:
        print(f"wrote {path}")
    metrics, _ = commands.measure(plan, analysis)
    print(commands.summary(metrics))
    return 0


def cmd_cameras(args: argparse.Namespace) -> int:
    from mission.camera import PRESETS

    if args.json:
        print(json.dumps([c.to_dict() for c in PRESETS.values()], indent=2))
        return 0
    rows = [
        (
            c.name,
            f"{c.sensor_width_mm:g} x {c.sensor_height_mm:g}",
            f"{c.image_width_px} x {c.image_height_px}",
            f"{c.focal_length_mm:g}",
            f"{c.min_trigger_interval_s:g}",
            f"{c.gsd_cm(100.0):.2f}",
            f"{c.distance_for_gsd(1.0):.1f}",
        )
        for c in PRESETS.values()
    ]
    header = (
        "name",
        "sensor mm",
        "image px",
        "focal mm",
        "interval s",
        "GSD@100m cm/px",
        "m for 1 cm/px",
    )
    print(commands.table(rows, header))
    print("A custom camera: --camera FILE.json with the same keys (see README).")
    return 0


# --- entry point ------------------------------------------------------------------------------


def _error(message: object) -> None:
    text = " ".join(str(message).split())
    print(f"{PROG}: error: {text}", file=sys.stderr)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


def guarded(action: Callable[[], int]) -> int:
    """Run ``action``, turning every expected error into one line and exit status 2."""
    try:
        return action()
    except BrokenPipeError:  # `skyledger cameras | head -1`: the reader has gone, say nothing
        _silence_stdout()
        return 1
    except commands.user_errors() as exc:
        if isinstance(exc, OSError) and exc.strerror:
            _error(f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror)
        else:
            _error(exc)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, never a traceback
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
            "(please report this)",
            file=sys.stderr,
        )
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``skyledger`` with ``argv`` (default: the process's arguments); return the status."""
    # FFmpeg and OpenCV print their own warnings about a damaged video before skyledger's one
    # line says what is wrong; keep them quiet unless the user asked otherwise
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    try:
        args = parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as exc:  # --help, or a bad argument already reported in one line
        return exc.code if isinstance(exc.code, int) else 2
    func: Callable[[argparse.Namespace], int] = args.func
    return guarded(lambda: func(args))


if __name__ == "__main__":
    raise SystemExit(main())
