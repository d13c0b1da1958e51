"""The compliance commands of ``skyledger``: parsing and printing (the work is in :mod:`api.checks`).

    skyledger check PLAN --zones FILE [--zones FILE ...] [--rules FILE|eu-open|us-part107]
                    --start ISO8601 (--duration MIN | --end ISO8601) [--authorisation ZONE_ID ...]
                    [--fix -o FIXED] [--gsd-tolerance PCT] [--pilot LAT,LON] [--now ISO8601]
                    [--verbose] [--json]
    skyledger conform PLAN TRACK --zones FILE ... [--rules ...] [--start ... (--duration|--end)] [--json]
    skyledger zones import FILE -o OUT.geojson

``check`` exits 0 when APPROVED, 3 when AUTHORISATION_REQUIRED, 4 when REJECTED (with
``--fix``: the verdict of the repaired plan); ``conform`` exits 0 when the track
conforms, 5 when it deviates; every bad input exits 2 with one line.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from api import checks
from api.commands import CommandError


def add_commands(sub: Any, percent: Any) -> None:
    """Add ``check``, ``conform`` and ``zones`` to the ``skyledger`` sub-command parsers."""
    p = sub.add_parser("check", help="check a plan against airspace and privacy zones and rules")
    p.add_argument("plan", metavar="PLAN", help="a plan file (.json, .plan, .waypoints, ...)")
    _zone_and_rule_options(p, window_required=True)
    p.add_argument(
        "--authorisation",
        action="append",
        default=[],
        metavar="ZONE_ID",
        help="a zone whose authority has authorised the flight (repeatable)",
    )
    p.add_argument("--fix", action="store_true", help="repair what can be repaired (needs -o)")
    p.add_argument("-o", "--output", metavar="FIXED", help="where --fix writes the repaired plan")
    p.add_argument(
        "--gsd-tolerance",
        type=percent,
        default=10.0,
        metavar="PCT",
        help="how far --fix may move the GSD when lowering a plan (default 10)",
    )
    p.add_argument("--pilot", metavar="LAT,LON", help="the pilot's position (default: home)")
    p.add_argument(
        "--now",
        metavar="ISO8601",
        help="the time authorisation notice periods count back from (default: the clock)",
    )
    p.add_argument("--verbose", action="store_true", help="say why each nearby zone applied or not")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("conform", help="compare a flown track with its plan, zones and rules")
    p.add_argument("plan", metavar="PLAN")
    p.add_argument("track", metavar="TRACK", help="the flight log: .csv, .tlog or .bin")
    _zone_and_rule_options(p, window_required=False)
    p.add_argument("--authorisation", action="append", default=[], metavar="ZONE_ID")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_conform)

    zones = sub.add_parser("zones", help="zone files")
    actions = zones.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser(
        "import", help="read ED-269, ED-318, GeoJSON or KML zones, write the project's GeoJSON"
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="OUT.geojson")
    p.set_defaults(func=cmd_zones_import)


def _zone_and_rule_options(p: argparse.ArgumentParser, window_required: bool) -> None:
    p.add_argument(
        "--zones",
        action="append",
        default=[],
        required=True,
        metavar="FILE",
        help="zone file: ED-269 JSON, ED-318 GeoJSON, skyledger GeoJSON or KML (repeatable)",
    )
    p.add_argument(
        "--rules",
        default="eu-open",
        metavar="FILE|eu-open|us-part107",
        help="rule set: a preset or a rule-set JSON file (default eu-open)",
    )
    p.add_argument(
        "--start",
        required=window_required,
        metavar="ISO8601",
        help="start of the flight window, with an offset (2026-12-01T09:00+11:00)",
    )
    length = p.add_mutually_exclusive_group(required=False)
    length.add_argument("--duration", type=float, metavar="MIN", help="window length, minutes")
    length.add_argument("--end", metavar="ISO8601", help="end of the flight window")


def _window(args: argparse.Namespace) -> Any:
    if args.start is None:
        if args.duration is not None or args.end is not None:
            raise CommandError("--duration and --end need --start")
        return None
    if args.duration is not None and not args.duration > 0:
        raise CommandError(f"--duration {args.duration:g} must be > 0 minutes")
    return checks.parse_window(args.start, args.duration, args.end)


# --- check ------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    if args.fix and not args.output:
        raise CommandError("--fix needs -o FIXED: where to write the repaired plan")
    if args.output and not args.fix:
        raise CommandError("-o is for the plan --fix repairs: add --fix")
    window = _window(args)
    now = checks.parse_time(args.now, "--now") if args.now else datetime.now(UTC)
    run = checks.run_check(
        args.plan,
        args.zones,
        args.rules,
        window,
        args.authorisation,
        fix_to=args.output if args.fix else None,
        gsd_tolerance=args.gsd_tolerance / 100.0,
        pilot=checks.pilot_arg(args.pilot) if args.pilot else None,
        now=now,
        verbose=args.verbose,
    )
    if args.json:
        print(json.dumps(run.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(describe_check(args.plan, run, args.verbose))
    return checks.VERDICT_EXIT[run.final.verdict]


def _findings_table(findings: Any) -> list[str]:
    lines = []
    for f in findings:
        zone = f.zone_id or "-"
        lines.append(f"  {f.severity:<13}  {f.rule_id:<22}  {zone:<16}  {f.message}")
        if f.rule_id == "airspace.authorisation" and f.authority:
            contact = ", ".join(
                str(f.authority[k]) for k in ("name", "email", "phone") if f.authority.get(k)
            )
            lines.append(f"  {'':<13}  {'':<22}  {'':<16}  ask: {contact}")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def describe_check(plan_path: str, run: checks.CheckRun, verbose: bool = False) -> str:
    """The human-readable report of ``skyledger check``."""
    report = run.report
    start, end = report.window
    lines = [
        f"{plan_path}: {report.verdict} under {report.rules}, "
        f"{start.isoformat(timespec='minutes')} to {end.isoformat(timespec='minutes')} "
        f"({_count(report.zones_checked, 'zone')} near the route from "
        f"{_count(len(report.sources), 'source')})"
    ]
    lines += _findings_table(report.findings) or ["  no findings"]
    if verbose:
        lines += [f"  zone {e.zone_id}: {e.outcome}: {e.detail}" for e in report.evidence]
    if run.fixed is not None:
        lines.append("remedies:")
        for remedy in run.fixed.remedies:
            mark = "done" if remedy.applied else "not done"
            lines.append(f"  {mark:<8}  {remedy.rule_id:<22}  {remedy.action}")
        if not run.fixed.remedies:
            lines.append("  none needed")
        for path in run.written:
            lines.append(f"wrote {path} (revision {run.fixed.plan.revision})")
        final = run.fixed.report
        lines.append(f"repaired plan: {final.verdict}")
        lines += _findings_table(final.findings)
    lines += [f"note: {n}" for n in run.notes]
    return "\n".join(lines)


# --- conform ----------------------------------------------------------------------------------


def cmd_conform(args: argparse.Namespace) -> int:
    from compliance.conform import conform

    window = _window(args)
    plan = checks.commands.read_plan(args.plan)
    track = checks.read_track(args.track)
    sources = checks.load_zone_sources(args.zones)
    if sources.failed:
        raise CommandError("; ".join(sources.failed))
    rules = checks.load_rules(args.rules)
    result = conform(plan, track, sources.zones, rules, window, args.authorisation)
    if args.json:
        print(json.dumps({"plan": args.plan, "track": args.track, **result.to_dict()}, indent=1))
    else:
        print(describe_conformance(args.plan, args.track, result))
    return 0 if result.conforms else checks.DEVIATES_EXIT


def describe_conformance(plan_path: str, track_path: str, result: Any) -> str:
    """The human-readable report of ``skyledger conform``."""
    verdict = "CONFORMS" if result.conforms else "DEVIATES"
    coverage = "-" if result.coverage_flown is None else f"{result.coverage_flown:.1%}"
    lines = [
        f"{track_path} against {plan_path}: {verdict}",
        f"  cross-track   max {result.cross_track_max_m:.1f} m, 95 % {result.cross_track_p95_m:.1f} m",
        f"  altitude      {result.altitude_above_max_m:+.1f} m / {-result.altitude_below_max_m:+.1f} m "
        f"against the plan, {result.ceiling_excess_max_m:.1f} m above the ceiling",
        f"  window        {result.outside_window_s:.0f} s airborne outside it",
        f"  photos        {result.photos} taken, {result.photos_in_no_capture} in no-capture zones",
        f"  coverage      {coverage} of the planned camera passes flown",
    ]
    lines += [f"  {d.rule_id:<22}  {d.message}" for d in result.deviations]
    return "\n".join(lines)


# --- zones import -----------------------------------------------------------------------------


def cmd_zones_import(args: argparse.Namespace) -> int:
    count, fmt, notes = checks.import_zones(args.file, args.output)
    print(f"wrote {args.output}: {count} zones from {args.file} ({fmt})")
    for note in notes:
        print(f"note: {note}")
    return 0
