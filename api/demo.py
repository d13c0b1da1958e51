"""``python -m api.demo --out DIR`` (``make demo``): plan, check and repair every sample-city inspection.

Each asset of :func:`mission.assets.sample_city` is planned with the pattern its
``pattern`` property names (survey for the bridge deck and the park, corridor for the
power line, structure for the water tower, facade for the library), with the
parameters its properties suggest, and written in every format skyledger knows. The
plans go through the same argument parsing and the same :mod:`api.commands` functions
as ``skyledger plan ...``; the demo only builds the command lines.

Each plan is then checked, as ``skyledger check`` does, against the sample city's zones
(:data:`ZONES_FILE`) under the EU open-category rules for a school-day morning three or
more days ahead (a Tuesday, 09:00-12:00 in Canberra), and each one that is not
approved is repaired with ``--fix`` into ``NAME-fixed.json`` and checked again. Approved
plans are flown (ArduPilot SITL when a binary is found, else the built-in vehicle) and the
track compared with the plan.

Each flight's footage of the synthetic world is then rendered (``skyledger sim render``,
:data:`FOOTAGE_SIZE` at :data:`FOOTAGE_FPS` frames a second) and searched for defects with the
shipped model (``skyledger detect``, report included); the defects found are scored against
the defects the footage shows (:mod:`vision.score`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from api import checks, cli, commands

DEFAULT_CAMERA = "mavic3-enterprise"
CITY_FILE = "sample_city.geojson"
ZONES_FILE = "sample_zones.geojson"
CITY_TIME_ZONE = "Australia/Sydney"
#: The demo's footage: the camera's 1080p video, the pixel scale the shipped model works at
#: (1920 across), at a frame rate that keeps rendering to a few minutes (frames are chosen by
#: ground covered anyway).
FOOTAGE_SIZE = "1920x1080"
FOOTAGE_FPS = 5


@dataclass(frozen=True)
class DemoResult:
    """One asset planned by the demo."""

    asset: str
    metrics: dict[str, Any]
    files: tuple[Path, ...]
    check: checks.CheckRun | None = None
    flight: Any = None  # api.flights.Flown, when the checked plan was flown
    conformance: Any = None  # compliance.conform.Conformance of that flight
    inspection: dict[str, Any] | None = None  # footage rendered and searched for defects


def command_line(feature: dict[str, Any], city: Path, out: Path, camera: str) -> list[str]:
    """The ``skyledger plan ...`` arguments for one sample-city asset.

    Geometry parameters (width, radius, heights, side) come from the feature itself;
    the image quality and overlaps its properties suggest are passed as options.
    """
    props = feature["properties"]
    name, pattern = props["name"], props["pattern"]
    argv = ["plan", pattern]
    argv += {
        "survey": ["--area"],
        "corridor": ["--line"],
        "structure": ["--footprint"],
        "facade": ["--line"],
    }[pattern]
    argv += [str(city), "--feature", name, "--camera", camera]
    if "gsd_cm" in props:
        argv += ["--gsd", str(props["gsd_cm"])]
    if "standoff_m" in props:
        argv += ["--standoff", str(props["standoff_m"])]
    if "front_overlap_pct" in props:
        argv += ["--front-overlap", str(props["front_overlap_pct"])]
    if "side_overlap_pct" in props:
        argv += ["--side-overlap", str(props["side_overlap_pct"])]
    argv += ["-o", str(out / f"{name}.json")]
    return argv


def school_day(now: datetime) -> tuple[datetime, datetime]:
    """09:00-12:00 Canberra time on the first Tuesday at least three days after ``now``."""
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(CITY_TIME_ZONE)).date() + timedelta(days=3)
    day = local + timedelta(days=(1 - local.weekday()) % 7)
    start = datetime.combine(day, time(9), tzinfo=ZoneInfo(CITY_TIME_ZONE))
    return start, start + timedelta(hours=3)


def check_all(results: Sequence[DemoResult], out: Path) -> list[DemoResult]:
    """Check every plan against the sample zones; repair those not approved."""
    from compliance.sources import sample_zones_text

    zones = out / ZONES_FILE
    commands.write_texts([zones], [sample_zones_text()])
    now = datetime.now(UTC)
    window = school_day(now)
    checked = []
    for r in results:
        plan = out / f"{r.asset}.json"
        run = checks.run_check(str(plan), [str(zones)], "eu-open", window, now=now)
        if run.report.verdict != "APPROVED":
            fixed = str(out / f"{r.asset}-fixed.json")
            run = checks.run_check(
                str(plan), [str(zones)], "eu-open", window, fix_to=fixed, now=now
            )
        checked.append(replace(r, check=run))
    return checked


def fly_all(results: Sequence[DemoResult], out: Path) -> list[DemoResult]:
    """Fly every plan whose final check is APPROVED (on SITL when a binary is found, else on
    the built-in vehicle), write its track and .tlog, and compare the track with the plan."""
    from api import flights
    from compliance.conform import conform
    from compliance.rules import preset
    from compliance.sources import read_zones, sample_zones_text
    from sim.sitl import find_sitl_binary

    kind = "sitl" if find_sitl_binary() else "builtin"
    zones = read_zones(sample_zones_text(), ZONES_FILE).zones
    flown = []
    for r in results:
        run = r.check
        if run is None or run.final.verdict != "APPROVED":
            flown.append(r)
            continue
        plan_file = run.written[0] if run.written else out / f"{r.asset}.json"
        start = run.final.window[0] + timedelta(minutes=5)
        flight = flights.fly(
            str(plan_file),
            kind,
            str(out / f"{r.asset}-track.csv"),
            tlog_out=str(out / f"{r.asset}.tlog"),
            start_time=start if kind == "builtin" else None,
        )
        conformance = None
        if flight.result.track is not None:
            plan = commands.read_plan(str(plan_file))
            # SITL keeps today's clock, so only the built-in vehicle's track can meet the window
            window = run.final.window if kind == "builtin" else None
            conformance = conform(plan, flight.result.track, zones, preset("eu-open"), window)
        flown.append(replace(r, flight=flight, conformance=conformance))
    return flown


def run_demo(
    out: Path, camera: str = DEFAULT_CAMERA, inspect: bool = True, weights: str | None = None
) -> list[DemoResult]:
    """Plan every sample-city asset into ``out`` (created) in every format, check, fly and
    (``inspect``) look for defects in each flight's footage; return what was made."""
    from mission.assets import sample_city
    from mission.formats import EXTENSIONS

    out.mkdir(parents=True, exist_ok=True)
    city = sample_city()
    city_path = out / CITY_FILE
    commands.write_texts([city_path], [json.dumps(city, indent=1) + "\n"])
    results = []
    for feature in city["features"]:
        if feature["properties"].get("kind") == "home":
            continue
        args = cli.parse_args(command_line(feature, city_path, out, camera))
        plan = commands.plan_from_args(args)
        analysis = commands.analyse(plan)
        files: list[Path] = []
        for ext in EXTENSIONS:
            name = feature["properties"]["name"]
            files += commands.write_plan(plan, out / f"{name}{ext}", analysis)
        metrics, _warnings = commands.measure(plan, analysis)
        results.append(DemoResult(feature["properties"]["name"], metrics, tuple(files)))
    flown = fly_all(check_all(results, out), out)
    return inspect_all(flown, out, weights) if inspect else flown


def _run(argv: list[str]) -> dict[str, Any]:
    """Run a ``skyledger`` command as its parser and function would; return its JSON."""
    import contextlib
    import io

    args = cli.parse_args(argv)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        args.func(args)
    result: dict[str, Any] = json.loads(printed.getvalue())
    return result


def inspect_all(
    results: Sequence[DemoResult],
    out: Path,
    weights: str | None = None,
    size: str = FOOTAGE_SIZE,
    fps: float = FOOTAGE_FPS,
) -> list[DemoResult]:
    """Render each flight's footage, find its defects (with ``weights``, default the shipped
    model) and score them against the truth."""
    from sim.world import World
    from vision.score import points_from_geojson, score

    world = World.sample()
    done = []
    for r in results:
        track = out / f"{r.asset}-track.csv"
        if r.flight is None or r.flight.result.track is None:
            done.append(r)
            continue
        video, truth = out / f"{r.asset}.mp4", out / f"{r.asset}-truth.geojson"
        found, report = out / f"{r.asset}-defects.geojson", out / f"{r.asset}-report.html"
        print(f"rendering and inspecting the {r.asset} footage ...", file=sys.stderr)
        rendered = _run(["sim", "render", str(track), "--world", "sample", "-o", str(video),
                         "--truth", str(truth), "--size", size, "--fps", str(fps),
                         "--json"])  # fmt: skip
        detected = _run(["detect", str(video), "--track", str(track), "-o", str(found),
                         "--report", str(report), "--json"]
                        + (["--weights", weights] if weights else []))  # fmt: skip
        got = score(
            points_from_geojson(json.loads(found.read_text())),
            points_from_geojson(json.loads(truth.read_text())),
            world.frame,
        )
        summary = {"render": rendered, "detect": detected, "score": got, "size": size,
                   "fps": fps}  # fmt: skip
        done.append(replace(r, inspection=summary))
    return done


def report(results: Sequence[DemoResult], out: Path) -> str:
    """The table the demo prints."""
    rows = [
        (
            r.asset,
            str(r.metrics["pattern"]),
            commands.km(r.metrics["distance_m"]),
            commands.duration(r.metrics["duration_s"]),
            str(r.metrics["photos"]),
            commands.gsd(r.metrics["gsd_cm"]),
            commands.coverage(r.metrics["coverage"]),
            str(r.metrics["sorties"]),
            str(len(r.files)),
        )
        for r in results
    ]
    header = (
        "asset",
        "pattern",
        "distance",
        "duration",
        "photos",
        "GSD",
        "coverage",
        "sorties",
        "files",
    )
    if not results:
        return "nothing planned"
    from mission.formats import EXTENSIONS

    exts = ", ".join(EXTENSIONS)
    example = next((f for f in results[0].files if f.suffix == ".plan"), results[0].files[0])
    return (
        f"{commands.table(rows, header)}\n\n"
        f"{sum(len(r.files) for r in results)} files ({exts}) in {out}/; the assets are in "
        f"{out / CITY_FILE}.\nTry: skyledger plan info {example}\n\n{verdicts(results, out)}"
        f"\n\n{flights_table(results, out)}\n\n{inspections_table(results, out)}"
    )


def inspections_table(results: Sequence[DemoResult], out: Path) -> str:
    """The inspection table: frames looked at, defects found, scored against the truth."""
    rows = []
    for r in results:
        if r.inspection is None:
            continue
        render, detect, got = r.inspection["render"], r.inspection["detect"], r.inspection["score"]
        error = "-" if not got.matched else f"{got.median_error_m:.2f} m"
        rows.append(
            (
                r.asset,
                f"{detect['frames_processed']} of {render['frames']}",
                str(detect["defects"]),
                str(got.truth),
                f"{len(got.matched)} ({got.recall:.0%})" if got.truth else "0",
                error,
                str(detect["redacted_regions"]),
            )
        )
    if not rows:
        return ""
    header = ("asset", "frames looked at", "defects", "in view", "found", "median error",
              "redacted")  # fmt: skip
    example = next(r.asset for r in results if r.inspection is not None)
    first = next(r.inspection for r in results if r.inspection is not None)
    return (
        f"Footage rendered at {first['size']}, {first['fps']:g} fps, searched with "
        f"{first['detect']['weights']}; defects in {out}/NAME-defects.geojson, reports in NAME-report.html:\n"
        f"{commands.table(rows, header)}\n"
        f"Open: {out / example}-report.html"
    )


def flights_table(results: Sequence[DemoResult], out: Path) -> str:
    """The flight table: each approved plan flown, its track and its conformance."""
    rows = []
    vehicle = "built-in"
    for r in results:
        if r.flight is None:
            verdict = r.check.final.verdict if r.check else "-"
            rows.append((r.asset, f"not flown: final check {verdict}", "", "", "", ""))
            continue
        result = r.flight.result
        vehicle = "SITL" if r.flight.vehicle == "sitl" else "built-in"
        outcome = "completed" if result.completed else f"stopped: {result.reason}"
        conforms = "-"
        if r.conformance is not None:
            conforms = "conforms" if r.conformance.conforms else "deviates"
            conforms += f", {r.conformance.cross_track_max_m:.1f} m max off the plan"
        rows.append(
            (
                r.asset,
                outcome,
                commands.duration(result.sim_duration_s),
                str(len(result.items_reached)),
                str(result.photos),
                conforms,
            )
        )
    if not rows:
        return ""
    header = ("asset", "flight", "simulated", "items", "photos", "conformance")
    return (
        f"Flown on the {vehicle} vehicle; tracks in {out}/NAME-track.csv and NAME.tlog:\n"
        f"{commands.table(rows, header)}"
    )


def verdicts(results: Sequence[DemoResult], out: Path) -> str:
    """The check table: each plan's verdict, what was found, and the repaired plan's verdict."""
    from zoneinfo import ZoneInfo

    rows = []
    start = end = datetime.now(UTC)
    for r in results:
        if r.check is None:
            continue
        report = r.check.report
        start, end = (t.astimezone(ZoneInfo(CITY_TIME_ZONE)) for t in report.window)
        found = sorted({f"{f.rule_id} {f.zone_id or ''}".strip() for f in report.findings})
        repaired = "not needed"
        if r.check.fixed is not None:
            done = [m.rule_id for m in r.check.fixed.remedies if m.applied]
            repaired = (
                f"{r.asset}-fixed.json: {r.check.fixed.report.verdict} "
                f"({', '.join(sorted(set(done))) or 'nothing repairable'})"
            )
        rows.append((r.asset, report.verdict, "; ".join(found) or "none", repaired))
    if not rows:
        return ""
    table = commands.table(rows, ("asset", "verdict", "findings", "after --fix"))
    example = next((r for r in results if r.check and r.check.fixed), results[-1])
    begin = start.isoformat(timespec="minutes")
    return (
        f"Checked against {out / ZONES_FILE} under eu-open, {begin} to "
        f"{end.strftime('%H:%M')}:\n{table}\n"
        f"Try: skyledger check {out / example.asset}.json --zones {out / ZONES_FILE} "
        f"--start {begin} --duration 180 --verbose"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m api.demo",
        description="Plan, check and repair every inspection of the sample city.",
    )
    parser.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR")
    parser.add_argument("--camera", default=DEFAULT_CAMERA, help="a preset camera name")
    parser.add_argument("--weights", help="detection weights (default: the shipped model)")
    parser.add_argument(
        "--no-footage", action="store_true", help="stop after flying: no rendering, no detection"
    )
    args = parser.parse_args(argv)

    def action() -> int:
        results = run_demo(args.out, args.camera, inspect=not args.no_footage, weights=args.weights)
        print(report(results, args.out))
        return 0

    return cli.guarded(action)


if __name__ == "__main__":
    sys.exit(main())
