"""``skyledger fly`` on the built-in vehicle, in-process, and its bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api import cli, demo
from mission.tlog import read_tlog
from mission.track import read_track


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample city's plans and zones, as `make demo` leaves them."""
    out = tmp_path_factory.mktemp("city")
    results = demo.check_all(demo_plans(out), out)
    assert results
    return out


def demo_plans(out: Path) -> list[demo.DemoResult]:
    from api import commands
    from mission.assets import sample_city

    city = out / demo.CITY_FILE
    commands.write_texts([city], [json.dumps(sample_city())])
    results = []
    for feature in sample_city()["features"]:
        name = feature["properties"]["name"]
        if feature["properties"].get("kind") == "home":
            continue
        args = cli.parse_args(demo.command_line(feature, city, out, demo.DEFAULT_CAMERA))
        plan = commands.plan_from_args(args)
        commands.write_plan(plan, out / f"{name}.json")
        results.append(demo.DemoResult(name, {}, ()))
    return results


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fly_the_bridge_deck_on_the_built_in_vehicle(capsys, city: Path, tmp_path: Path):
    track, tlog = tmp_path / "deck.csv", tmp_path / "deck.tlog"
    code, out, err = run(
        capsys, "fly", city / "bridge-deck.json", "--vehicle", "builtin", "-o", track,
        "--tlog", tlog, "--start", "2026-12-08T09:05+11:00", "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["completed"] is True and doc["reason"] == "" and doc["photos"] == 30
    recorded = read_track(track.read_bytes(), str(track))
    assert len(recorded.photos) == 30 and recorded.samples[0].time.isoformat() >= "2026-12-07T22:05"
    assert len(read_tlog(tlog.read_bytes(), str(tlog)).samples) == len(recorded.samples)


def test_fence_from_zones_keeps_the_autopilot_out_of_the_helipad(
    capsys, city: Path, tmp_path: Path
):
    track = tmp_path / "tower.csv"
    code, out, err = run(
        capsys, "fly", city / "water-tower.json", "--vehicle", "builtin", "-o", track,
        "--fence-from", city / demo.ZONES_FILE,
    )  # fmt: skip
    # the unrepaired plan flies through the helipad: its exclusion fence sends it home
    assert code == 6, err
    assert "NOT completed" in out and track.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--vehicle", "drone", "-o", "t.csv"], "invalid choice"),
        (["--vehicle", "builtin", "-o", "t.txt"], "must end in .csv"),
        (["--vehicle", "builtin", "-o", "t.csv", "--speedup", "0"], "must be a number > 0"),
        (["--vehicle", "builtin", "-o", "t.csv", "--tlog", "x.log"], "must end in .tlog"),
        (["--vehicle", "builtin", "-o", "t.csv", "--sitl-binary", "x"], "are for --vehicle sitl"),
        (["--vehicle", "builtin", "-o", "t.csv", "--start", "noon"], "not an ISO 8601"),
        (
            ["--vehicle", "sitl", "--sitl-binary", "/nonexistent/arducopter", "-o", "t.csv"],
            "no ArduPilot SITL binary",
        ),
    ],
)
def test_bad_fly_inputs_are_one_line_errors(capsys, city: Path, extra, message):
    code, out, err = run(capsys, "fly", city / "park.json", *extra)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1
