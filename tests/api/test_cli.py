"""The ``skyledger`` command line, run in-process on the sample city (and once for real)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api import cli, demo
from mission import assets, formats
from mission.plan import Plan

HOME = "-35.363261,149.165230,584"
CAMERA = "mavic3-enterprise"
EXTS = (".json", ".plan", ".waypoints", ".geojson", ".kml")
METRIC_KEYS = {"distance_m", "duration_s", "photos", "gsd_cm", "coverage", "items", "sorties"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each sample-city asset in its own GeoJSON file, the whole city, and some bad inputs."""
    d = tmp_path_factory.mktemp("inputs")
    for f in assets.sample_city()["features"]:
        (d / f"{f['properties']['name']}.geojson").write_text(json.dumps(f))
    (d / "city.geojson").write_text(json.dumps(assets.sample_city()))
    (d / "broken.geojson").write_text('{"type": "Polygon",\n  "coordinates": [[[149.1, -35.3],\n')
    (d / "bowtie.geojson").write_text(
        json.dumps(
            {
                "type": "Polygon",
                "coordinates": [
                    [[149.165, -35.362], [149.166, -35.363], [149.166, -35.362], [149.165, -35.363]]
                ],
            }
        )
    )
    (d / "swapped.geojson").write_text(
        json.dumps(
            {
                "type": "Polygon",
                "coordinates": [[[-35.362, 149.165], [-35.363, 149.166], [-35.362, 149.166]]],
            }
        )
    )
    line = assets.sample_asset("power-line")["geometry"]
    (d / "line-bare.geojson").write_text(json.dumps(line))
    (d / "garbage.plan").write_text("this is not a plan\n")
    (d / "notes.txt").write_text("not a plan either\n")
    (d / "cam-bad.json").write_text('{"name": "x",\n "sensor_width_mm": }')
    (d / "cam.json").write_text(
        json.dumps(
            {
                "name": "my-camera",
                "sensor_width_mm": 13.2,
                "sensor_height_mm": 8.8,
                "image_width_px": 5472,
                "image_height_px": 3648,
                "focal_length_mm": 8.8,
                "min_trigger_interval_s": 2.0,
            }
        )
    )
    (d / "deck.kml").write_text(
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Placemark>'
        "<name>deck</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
        + " ".join(
            f"{lon},{lat},0"
            for lon, lat in assets.sample_asset("bridge-deck")["geometry"]["coordinates"][0]
        )
        + "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></kml>"
    )
    return d


def pattern_args(inputs: Path) -> dict[str, list[str]]:
    return {
        "survey": ["plan", "survey", "--area", str(inputs / "bridge-deck.geojson"), "--gsd", "1"],
        "corridor": [
            "plan",
            "corridor",
            "--line",
            str(inputs / "power-line.geojson"),
            "--width",
            "30",
            "--gsd",
            "1.5",
        ],
        "structure": [
            "plan",
            "structure",
            "--center",
            "-35.360557,149.1668804",
            "--radius",
            "6",
            "--height",
            "30",
            "--standoff",
            "12",
        ],
        "facade": [
            "plan",
            "facade",
            "--line",
            str(inputs / "facade.geojson"),
            "--height-min",
            "2",
            "--height-max",
            "18",
            "--standoff",
            "8",
            "--side",
            "right",
        ],
    }


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def read(path: Path) -> Plan:
    return formats.parse(path.read_text(), path.suffix, str(path))


def item_key(plan: Plan) -> list[tuple[Any, ...]]:
    return [
        (int(i.command), round(i.lat_deg, 6), round(i.lon_deg, 6), round(i.alt_m, 1))
        for i in plan.items
    ]


# --- planning each pattern ----------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["survey", "corridor", "structure", "facade"])
def test_plan_each_pattern_writes_a_readable_plan(
    pattern: str, inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / f"{pattern}.json"
    argv = [*pattern_args(inputs)[pattern], "--camera", CAMERA, "--home", HOME, "-o", str(out)]
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err
    assert f"wrote {out}" in stdout
    assert stdout.strip().splitlines()[-1].startswith(pattern)
    assert "photos" in stdout and "coverage" in stdout
    plan = read(out)
    assert plan.pattern == pattern
    assert plan.home.alt_amsl_m == 584
    assert abs(plan.home.lat_deg - -35.363261) < 1e-9

    code, stdout, _ = run(capsys, "plan", "info", str(out), "--json")
    assert code == 0
    info = json.loads(stdout)
    assert info.keys() >= METRIC_KEYS
    assert info["distance_m"] > 0 and info["duration_s"] > 0
    assert info["photos"] > 0 and info["items"] >= 4 and info["sorties"] >= 1
    assert info["gsd_cm"] is not None and 0 < info["gsd_cm"] < 5
    assert info["coverage"] is None or 0 < info["coverage"] <= 1
    if pattern in ("survey", "corridor"):
        assert info["coverage"] > 0.95
        assert info["gsd_cm"] == pytest.approx(1.0 if pattern == "survey" else 1.5, rel=0.05)


@pytest.mark.parametrize("ext", EXTS)
def test_every_output_format_is_written_and_read_back(
    ext: str, inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / f"deck{ext}"
    argv = [*pattern_args(inputs)["survey"], "--camera", CAMERA, "--home", HOME, "-o", str(out)]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary files left
    assert read(out).items

    code, stdout, _ = run(capsys, "plan", "info", str(out))
    assert code == 0
    for word in ("distance", "duration", "photos", "GSD", "coverage", "items", "sorties"):
        assert word in stdout


def test_survey_options_and_home_from_the_collection(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "deck.json"
    code, _, err = run(
        capsys,
        *["plan", "survey", "--area", str(inputs / "city.geojson"), "--feature", "bridge-deck"],
        *["--camera", str(inputs / "cam.json"), "--altitude", "40", "--angle", "25"],
        *["--front-overlap", "80", "--side-overlap", "70", "--turnaround", "5", "--crosshatch"],
        *["--ceiling", "100", "--name", "deck check", "-o", str(out)],
    )
    assert code == 0, err
    plan = read(out)
    assert plan.name == "deck check"
    assert plan.camera is not None and plan.camera.name == "my-camera"
    assert plan.capture is not None and plan.capture.distance_m == pytest.approx(40)
    assert plan.capture.front_overlap == pytest.approx(0.8)
    assert plan.capture.side_overlap == pytest.approx(0.7)
    assert (plan.home.lat_deg, plan.home.lon_deg, plan.home.alt_amsl_m) == (
        -35.363261,
        149.16523,
        584,
    )


def test_kml_area_and_feature_properties_as_defaults(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    city = str(inputs / "city.geojson")
    common = ["--camera", CAMERA]
    code, _, err = run(
        capsys,
        *["plan", "survey", "--area", str(inputs / "deck.kml"), "--gsd", "1.2", *common],
        *["-o", str(tmp_path / "kml.json")],
    )
    assert code == 0, err
    code, _, err = run(
        capsys,
        *["plan", "corridor", "--line", city, "--feature", "power-line", "--gsd", "2", *common],
        *["-o", str(tmp_path / "line.json")],
    )
    assert code == 0, err
    assert read(tmp_path / "line.json").settings["width_m"] == 30
    code, _, err = run(
        capsys,
        *["plan", "structure", "--footprint", city, "--feature", "water-tower", *common],
        *["--standoff", "12", "-o", str(tmp_path / "tower.json")],
    )
    assert code == 0, err
    tower = read(tmp_path / "tower.json").target
    assert tower is not None and tower.radius_m == pytest.approx(6)
    code, _, err = run(
        capsys,
        *["plan", "facade", "--line", city, "--feature", "facade", "--standoff", "8", *common],
        *["-o", str(tmp_path / "facade.json")],
    )
    assert code == 0, err
    facade = read(tmp_path / "facade.json").target
    assert facade is not None and (facade.height_min_m, facade.height_max_m) == (2, 18)


def test_multi_sortie_plan_writes_one_file_per_sortie(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    argv = [
        *["plan", "survey", "--area", str(inputs / "park.geojson"), "--gsd", "2.5"],
        *["--camera", CAMERA, "--home", HOME, "--endurance", "240"],
    ]
    code, _, err = run(capsys, *argv, "-o", str(tmp_path / "park.json"))
    assert code == 0, err
    sorties = len(read(tmp_path / "park.json").sorties)
    assert sorties >= 2
    for ext in (".plan", ".waypoints"):
        code, stdout, err = run(capsys, *argv, "-o", str(tmp_path / f"park{ext}"))
        assert code == 0, err
        names = [f"park-s{i}{ext}" for i in range(1, sorties + 1)]
        for name in names:
            assert f"wrote {tmp_path / name}" in stdout
            assert len(read(tmp_path / name).sorties) == 1
        assert not (tmp_path / f"park{ext}").exists()
    code, stdout, _ = run(capsys, "plan", "info", str(tmp_path / "park.json"))
    assert "sortie 2:" in stdout


# --- convert ------------------------------------------------------------------------------------


def test_convert_between_every_pair_of_formats_keeps_the_items(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    source = tmp_path / "src.json"
    argv = [*pattern_args(inputs)["survey"], "--camera", CAMERA, "--home", HOME, "--hover"]
    assert run(capsys, *argv, "-o", str(source))[0] == 0
    expected = item_key(read(source))
    firsts = {}
    for ext in EXTS:
        target = tmp_path / f"first{ext}"
        code, stdout, err = run(capsys, "convert", str(source), str(target))
        assert code == 0, err
        assert f"wrote {target}" in stdout
        firsts[ext] = target
    for a, b in itertools.permutations(EXTS, 2):
        target = tmp_path / f"{a[1:]}-to-{b[1:]}{b}"
        code, _, err = run(capsys, "convert", str(firsts[a]), str(target))
        assert code == 0, f"{a} -> {b}: {err}"
        assert item_key(read(target)) == expected, f"{a} -> {b}"


# --- cameras, help, entry point -----------------------------------------------------------------


def test_cameras_lists_the_presets(capsys: pytest.CaptureFixture[str]):
    from mission.camera import PRESETS

    code, out, _ = run(capsys, "cameras")
    assert code == 0
    for name in PRESETS:
        assert name in out
    code, out, _ = run(capsys, "cameras", "--json")
    assert {c["name"] for c in json.loads(out)} == set(PRESETS)


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]):
    code, out, _ = run(capsys, "plan", "survey", "--help")
    assert code == 0
    assert "--front-overlap" in out


def test_importing_the_cli_plans_nothing():
    code = (
        "import json, sys, api.cli, api.demo; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('mission', 'shapely', 'pyproj', 'numpy'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == ["mission", "mission.errors"]


def test_the_console_script_runs(inputs: Path, tmp_path: Path):
    script = Path(sys.executable).with_name("skyledger")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]
    out = tmp_path / "deck.plan"
    argv = [*pattern_args(inputs)["survey"], "--camera", CAMERA, "--home", HOME, "-o", str(out)]
    done = subprocess.run([*launcher, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.exists() and "survey" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "plan", "info", str(tmp_path / "nope.plan")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("skyledger: error: ") and "nope.plan" in done.stderr


# --- bad inputs: one line, exit 2, nothing written ----------------------------------------------


def bad_cases(inputs: Path, out: Path) -> list[tuple[list[str], str]]:
    survey = pattern_args(inputs)["survey"]
    deck = str(inputs / "bridge-deck.geojson")
    plan_out = ["-o", str(out / "x.plan")]
    cam = ["--camera", CAMERA]

    def area(path: str) -> list[str]:
        return ["plan", "survey", "--area", path, "--gsd", "1", *cam, *plan_out]

    return [
        (
            [*survey, *cam, "--front-overlap", "100", *plan_out],
            "--front-overlap: 100 % is outside 0..<100",
        ),
        ([*survey, *cam, "--side-overlap", "120", *plan_out], "120 % is outside 0..<100"),
        ([*survey, *cam, "--side-overlap", "-5", *plan_out], "-5 % is outside 0..<100"),
        ([*survey, "--camera", "gopro", *plan_out], "camera 'gopro' is not a preset"),
        ([*survey, "--camera", str(inputs / "nope.json"), *plan_out], "nope.json' does not exist"),
        ([*survey, "--camera", str(inputs / "cam-bad.json"), *plan_out], "not valid JSON"),
        ([*survey, *plan_out], "required: --camera"),
        (area(str(inputs / "broken.geojson")), "broken.geojson: not valid JSON"),
        (area(str(inputs / "power-line.geojson")), "expected Polygon, got LineString"),
        (area(str(inputs / "bowtie.geojson")), "self-intersection at lon"),
        (
            area(str(inputs / "swapped.geojson")),
            "latitude 149.165 is outside -90..90 (are longitude and latitude swapped",
        ),
        (area(str(inputs / "missing.geojson")), "missing.geojson' does not exist"),
        (area(str(inputs)), "is a folder"),
        (area(str(inputs / "city.geojson")), "choose one by name with --feature NAME"),
        ([*area(str(inputs / "city.geojson")), "--feature", "bridge"], "no feature named 'bridge'"),
        (
            [*survey, *cam, "--home", "149.16523,-35.363261", *plan_out],
            "--home: latitude 149.16523 is outside -90..90 (are latitude and longitude swapped",
        ),
        ([*survey, *cam, "--home", "-35.36", *plan_out], "is not LAT,LON[,ALT_AMSL]"),
        (
            ["plan", "survey", "--area", deck, "--gsd", "10", *cam, *plan_out],
            "over the ceiling 120 m",
        ),
        (
            ["plan", "survey", "--area", deck, "--altitude", "150", *cam, *plan_out],
            "above the ceiling",
        ),
        (
            ["plan", "survey", "--area", deck, *cam, *plan_out],
            "one of the arguments --gsd --altitude is required",
        ),
        (
            ["plan", "survey", "--area", deck, "--gsd", "abc", *cam, *plan_out],
            "'abc' is not a number",
        ),
        (
            ["plan", "survey", "--area", deck, "--gsd", "nan", *cam, *plan_out],
            "'nan' is not a finite number",
        ),
        (["plan", "survey", "--area", deck, "--gsd", "0", *cam, *plan_out], "--gsd: 0 must be > 0"),
        ([*survey, *cam, "-o", str(out / "x.txt")], "has '.txt'; use one of .json, .plan"),
        ([*survey, *cam, "-o", str(out / "x")], "has no extension; use one of"),
        ([*survey, *cam, "-o", str(out / "sub" / "x.plan")], "output folder"),
        (
            [
                "plan",
                "structure",
                "--center",
                "149.1668,-35.3605",
                "--radius",
                "6",
                "--height",
                "30",
                *cam,
                *plan_out,
            ],
            "--center: latitude 149.1668 is outside -90..90",
        ),
        (
            [
                "plan",
                "structure",
                "--center",
                "-35.3605,149.1668",
                "--height",
                "30",
                *cam,
                *plan_out,
            ],
            "--radius is required with --center",
        ),
        (
            [
                "plan",
                "corridor",
                "--line",
                str(inputs / "line-bare.geojson"),
                "--gsd",
                "1",
                *cam,
                *plan_out,
            ],
            "--width is required",
        ),
        (["plan", "info", str(inputs / "missing.plan")], "missing.plan' does not exist"),
        (["plan", "info", str(inputs / "notes.txt")], "has '.txt'"),
        (["plan", "info", str(inputs / "garbage.plan")], "garbage.plan"),
        (["convert", str(inputs / "garbage.plan"), str(out / "x.json")], "garbage.plan"),
        (["convert", str(inputs / "missing.json"), str(out / "x.json")], "does not exist"),
        (["convert", str(inputs / "city.geojson"), str(out / "x.doc")], "has '.doc'"),
        (["plan", "survey"], "required"),
        (["plan"], "required: PATTERN"),
        ([], "required: COMMAND"),
        (["launch"], "invalid choice: 'launch'"),
    ]


def test_every_bad_input_gets_one_line_exit_2_and_no_files(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    before = sorted(p.name for p in inputs.iterdir())
    failures = []
    for argv, fragment in bad_cases(inputs, tmp_path):
        code, out, err = run(capsys, *argv)
        lines = err.splitlines()
        if (
            code != 2
            or len(lines) != 1
            or not lines[0].startswith("skyledger: error: ")
            or fragment not in lines[0]
            or list(tmp_path.iterdir())
        ):
            failures.append(f"{argv[:3]}...: code {code}, stderr {err!r}, out {out!r}")
            for path in tmp_path.iterdir():
                path.unlink()
    assert not failures, "\n".join(failures)
    assert sorted(p.name for p in inputs.iterdir()) == before


def test_southern_home_with_a_space_is_not_taken_for_an_option(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    argv = [*pattern_args(inputs)["survey"], "--camera", CAMERA, "--home", "-35.363261,149.16523"]
    code, _, err = run(capsys, *argv, "-o", str(tmp_path / "x.json"))
    assert code == 0, err
    assert read(tmp_path / "x.json").home.alt_amsl_m == 0


def test_fractional_overlap_gets_a_warning(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    argv = [*pattern_args(inputs)["survey"], "--camera", CAMERA, "--side-overlap", "0.6"]
    code, _, err = run(capsys, *argv, "-o", str(tmp_path / "x.json"))
    assert code == 0
    assert "--side-overlap 0.6 means 0.6 %" in err


def test_unexpected_errors_are_one_line_too(
    inputs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    from api import commands

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(commands, "plan_from_args", boom)
    argv = [*pattern_args(inputs)["survey"], "--camera", CAMERA, "-o", str(tmp_path / "x.json")]
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert err.splitlines() == [
        "skyledger: internal error: RuntimeError: boom second line (please report this)"
    ]


# --- the demo -----------------------------------------------------------------------------------


def test_demo_plans_every_sample_asset_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out), "--no-footage"]) == 0  # footage: tests/vision
    stdout, err = capsys.readouterr()
    assert "Traceback" not in err
    expected = {
        "bridge-deck": "survey",
        "power-line": "corridor",
        "water-tower": "structure",
        "facade": "facade",
        "park": "survey",
    }
    for asset, pattern in expected.items():
        row = next(line for line in stdout.splitlines() if line.startswith(asset + " "))
        assert pattern in row
        for ext in EXTS:
            produced = sorted(out.glob(f"{asset}{ext}")) + sorted(out.glob(f"{asset}-s*{ext}"))
            assert produced, f"{asset}{ext}"
            for path in produced:
                plan = read(path)
                assert plan.items
                if ext == ".json":
                    assert plan.pattern == pattern
    assert (out / "sample_city.geojson").exists()
    assert str(out) in stdout


def test_demo_checks_every_plan_and_repairs_the_one_that_films_the_school(tmp_path: Path):
    from datetime import UTC, datetime

    results = demo.run_demo(tmp_path, inspect=False)
    runs = {r.asset: r.check for r in results}
    assert all(run is not None for run in runs.values())
    verdicts = {asset: run.report.verdict for asset, run in runs.items() if run}
    assert verdicts["park"] == "REJECTED"
    park = runs["park"]
    assert park is not None and park.fixed is not None
    assert "privacy.no_capture" in {f.rule_id for f in park.report.findings}
    assert "privacy.no_capture" not in {f.rule_id for f in park.fixed.report.findings}
    assert (tmp_path / "park-fixed.json").exists()
    approved = [a for a, v in verdicts.items() if v == "APPROVED"]
    assert {"bridge-deck", "power-line", "facade"} <= set(approved)
    for asset in approved:  # flown, recorded and compared with the plan
        flown = next(r for r in results if r.asset == asset)
        assert flown.flight is not None and flown.flight.result.completed
        assert (tmp_path / f"{asset}-track.csv").exists() and (tmp_path / f"{asset}.tlog").exists()
        assert flown.conformance is not None and flown.conformance.conforms
    start, end = demo.school_day(datetime(2026, 11, 29, 1, tzinfo=UTC))
    assert start.isoformat() == "2026-12-08T09:00:00+11:00" and end.hour == 12
