"""What ``skyledger check``, ``conform`` and ``zones import`` do: read inputs, call
:mod:`compliance`, write results. :mod:`api.cli_compliance` parses and prints.

Zone sources: a file that cannot be read (missing, a folder, not UTF-8) is a bad input
(exit 2); a file that is read but cannot be understood as zones is a *failed source*:
the check still runs on the other sources, reports it as a blocking finding, and so is
never APPROVED.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api import commands
from api.commands import CommandError

if TYPE_CHECKING:
    from compliance.check import Window
    from compliance.remedy import Fixed
    from compliance.report import Report
    from compliance.rules import RuleSet
    from compliance.zones import Zone

#: Exit status of ``skyledger check`` for each verdict.
VERDICT_EXIT = {"APPROVED": 0, "AUTHORISATION_REQUIRED": 3, "REJECTED": 4}
#: Exit status of ``skyledger conform`` when the track deviates.
DEVIATES_EXIT = 5


@dataclass
class ZoneSources:
    """Zones from every ``--zones`` file, and the files that could not be understood."""

    zones: list[Zone] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def load_zone_sources(paths: Sequence[str]) -> ZoneSources:
    """Read every zone file; identifiers must be unique across them."""
    from compliance.errors import ComplianceError
    from compliance.sources import read_zones

    out = ZoneSources()
    seen: dict[str, str] = {}
    for path in paths:
        text = commands.read_text(path, "zone file")
        try:
            found = read_zones(text, path)
        except ComplianceError as exc:
            out.failed.append(str(exc))
            continue
        for zone in found.zones:
            if zone.identifier in seen:
                raise CommandError(
                    f"zone {zone.identifier} is in both {seen[zone.identifier]} and {path}: "
                    "identifiers must be unique"
                )
            seen[zone.identifier] = path
        out.zones += found.zones
        out.names.append(f"{path} ({found.format}, {len(found.zones)} zones)")
        out.notes += found.notes
    return out


def load_rules(spec: str) -> RuleSet:
    """A preset name (``eu-open``, ``us-part107``) or a rule-set JSON file."""
    from compliance.rules import PRESETS, preset
    from compliance.rules import load_rules as parse

    if spec in PRESETS:
        return preset(spec)
    if not spec.endswith(".json") and not Path(spec).exists():
        raise CommandError(
            f"rules {spec!r} is neither a preset ({', '.join(PRESETS)}) nor a rule-set file"
        )
    return parse(commands.read_text(spec, "rules file"), spec)


def parse_time(text: str, what: str) -> datetime:
    """An ISO 8601 date-time with an offset, as aware UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"{what} {text!r} is not an ISO 8601 date-time (e.g. 2026-12-01T09:00+11:00)"
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise CommandError(
            f"{what} {text!r} has no UTC offset: add Z or +hh:mm (e.g. {text.strip()}Z)"
        )
    return when.astimezone(UTC)


def parse_window(start: str, duration_min: float | None, end: str | None) -> Window:
    """The flight window from ``--start`` and ``--duration`` or ``--end``."""
    begin = parse_time(start, "--start")
    if end is not None:
        finish = parse_time(end, "--end")
        if finish <= begin:
            raise CommandError(f"--end {end} is not after --start {start}")
        return begin, finish
    if duration_min is None:
        raise CommandError("give the window's length: --duration MIN or --end ISO8601")
    return begin, begin + timedelta(minutes=duration_min)


@dataclass(frozen=True)
class CheckRun:
    """A check as the command ran it: the report, and the repair when ``--fix`` was given."""

    report: Report
    fixed: Fixed | None = None
    written: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def final(self) -> Report:
        return self.fixed.report if self.fixed is not None else self.report

    def to_dict(self) -> dict[str, Any]:
        """The final report; with ``--fix`` the input plan's report, remedies and files too."""
        doc = self.final.to_dict()
        doc["zone_notes"] = list(self.notes)
        if self.fixed is not None:
            doc["original"] = self.report.to_dict()
            doc["remedies"] = [r.to_dict() for r in self.fixed.remedies]
            doc["fixed_plan"] = {
                "files": [str(p) for p in self.written],
                "revision": self.fixed.plan.revision,
                "derived_from": self.fixed.plan.derived_from,
            }
        return doc


def run_check(
    plan_path: str,
    zone_paths: Sequence[str],
    rules_spec: str,
    window: Window,
    authorisations: Sequence[str] = (),
    *,
    fix_to: str | None = None,
    gsd_tolerance: float = 0.1,
    pilot: tuple[float, float] | None = None,
    now: datetime | None = None,
    verbose: bool = False,
) -> CheckRun:
    """Check the plan file; with ``fix_to``, repair it, check the repair and write it there."""
    from compliance.check import check
    from compliance.index import ZoneIndex

    if fix_to is not None:
        commands.check_output_path(fix_to)
    plan = commands.read_plan(plan_path)
    sources = load_zone_sources(zone_paths)
    rules = load_rules(rules_spec)
    index = ZoneIndex(sources.zones)
    options: dict[str, Any] = {
        "verbose": verbose,
        "now": now,
        "pilot": pilot,
        "failed_sources": sources.failed,
        "sources": sources.names,
    }
    report = check(
        plan, index, rules, window, authorisations, analysis=commands.analyse(plan), **options
    )
    if fix_to is None:
        return CheckRun(report, notes=tuple(sources.notes))
    from compliance.remedy import fix

    fixed = fix(
        plan,
        index,
        rules,
        window,
        authorisations,
        gsd_tolerance=gsd_tolerance,
        report=report,
        **options,
    )
    written = commands.write_plan(fixed.plan, fix_to)
    return CheckRun(report, fixed, tuple(written), tuple(sources.notes))


def import_zones(path: str, out: str) -> tuple[int, str, list[str]]:
    """Convert a zone file to the project's GeoJSON; returns (zones, format, notes)."""
    from compliance.sources import read_zones, zones_to_geojson

    if not out.lower().endswith((".geojson", ".json")):
        raise CommandError(f"output {out!r} must end in .geojson (the project's zone GeoJSON)")
    found = read_zones(commands.read_text(path, "zone file"), path)
    text = json.dumps(zones_to_geojson(found.zones), indent=1, ensure_ascii=False) + "\n"
    commands.write_texts([Path(out)], [text])
    return len(found.zones), found.format, list(found.notes)


def pilot_arg(text: str) -> tuple[float, float]:
    """``LAT,LON`` of the pilot as (lon, lat)."""
    match = re.fullmatch(r"\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*", text)
    if not match:
        raise CommandError(f"--pilot {text!r} is not LAT,LON in degrees (e.g. -35.3632,149.1652)")
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CommandError(
            f"--pilot {text!r}: latitude must be in -90..90 and longitude in -180..180"
        )
    return lon, lat


def read_track(path: str) -> Any:
    """A flown track from ``.csv``, ``.tlog`` or ``.bin``."""
    from mission.track import read_track as parse

    return parse(commands.read_bytes(path, "track file"), path)
