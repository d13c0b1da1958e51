"""``python -m api.demo --out DIR`` (``make demo``): plan every asset of the sample city.

Each asset of :func:`mission.assets.sample_city` is planned with the pattern its
``pattern`` property names (survey for the bridge deck and the park, corridor for the
power line, structure for the water tower, facade for the library), with the
parameters its properties suggest, and written in every format skyledger knows. The
plans go through the same argument parsing and the same :mod:`api.commands` functions
as ``skyledger plan ...``; the demo only builds the command lines.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api import cli, commands

DEFAULT_CAMERA = "mavic3-enterprise"
CITY_FILE = "sample_city.geojson"


@dataclass(frozen=True)
class DemoResult:
    """One asset planned by the demo."""

    asset: str
    metrics: dict[str, Any]
    files: tuple[Path, ...]


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


def run_demo(out: Path, camera: str = DEFAULT_CAMERA) -> list[DemoResult]:
    """Plan every sample-city asset into ``out`` (created) in every format; return what was made."""
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
    return results


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
        f"{out / CITY_FILE}.\nTry: skyledger plan info {example}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m api.demo", description="Plan every asset of the sample city."
    )
    parser.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR")
    parser.add_argument("--camera", default=DEFAULT_CAMERA, help="a preset camera name")
    args = parser.parse_args(argv)

    def action() -> int:
        results = run_demo(args.out, args.camera)
        print(report(results, args.out))
        return 0

    return cli.guarded(action)


if __name__ == "__main__":
    sys.exit(main())
