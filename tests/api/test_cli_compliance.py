"""``skyledger check``, ``conform`` and ``zones import`` on the sample city, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api import cli, demo
from compliance.sources import read_zones, sample_zones_text
from mission import formats

DATA = Path(__file__).parents[1] / "data" / "zones"
#: A Tuesday morning in Canberra, school in session, the weekend festival not on.
TUESDAY = ["--start", "2026-12-01T09:00+11:00", "--duration", "180", "--now", "2026-11-25T00:00Z"]
FESTIVAL = ["--start", "2026-12-05T10:00+11:00", "--duration", "60", "--now", "2026-11-25T00:00Z"]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every sample-city plan in every format, and the sample zones."""
    out = tmp_path_factory.mktemp("city")
    demo.run_demo(out, inspect=False)
    (out / "zones.geojson").write_text(sample_zones_text())
    (out / "broken-zones.json").write_text('{"UASZoneList": [{"identifier": "X1"}]}')
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check(capsys, city: Path, plan: str, *extra: str) -> tuple[int, dict, str]:
    code, out, err = run(
        capsys, "check", city / plan, "--zones", city / "zones.geojson", *TUESDAY, "--json", *extra
    )
    return code, (json.loads(out) if out else {}), err


def rule_ids(doc: dict) -> set[str]:
    return {f["rule_id"] for f in doc["findings"]}


@pytest.mark.parametrize("plan", ["bridge-deck.json", "power-line.plan", "facade.waypoints"])
def test_plans_clear_of_every_zone_are_approved(capsys, city: Path, plan: str):
    code, doc, err = check(capsys, city, plan)
    assert code == 0, err
    assert doc["verdict"] == "APPROVED" and doc["findings"] == []


def test_the_park_films_the_school_and_climbs_into_the_aerodrome_zone(capsys, city: Path):
    code, doc, _ = check(capsys, city, "park.json")
    assert code == 4 and doc["verdict"] == "REJECTED"
    assert rule_ids(doc) == {"privacy.no_capture", "airspace.authorisation", "airspace.conditional"}
    (school,) = [f for f in doc["findings"] if f["rule_id"] == "privacy.no_capture"]
    assert school["zone_id"] == "SKY-SCHOOL-7" and school["severity"] == "blocking"
    assert school["items"] and school["geometry"]["type"] == "MultiPoint"
    (aerodrome,) = [f for f in doc["findings"] if f["rule_id"] == "airspace.authorisation"]
    assert aerodrome["authority"]["name"] == "Canberra Field tower"
    assert aerodrome["lead_time"] == "P2D"


def test_fix_turns_the_camera_off_over_the_school(capsys, city: Path):
    out = city / "park-fixed.json"
    code, doc, _ = check(capsys, city, "park.json", "--fix", "-o", out)
    assert code == 3 and doc["verdict"] == "AUTHORISATION_REQUIRED"
    assert doc["original"]["verdict"] == "REJECTED"
    assert "privacy.no_capture" not in rule_ids(doc)
    done = [r for r in doc["remedies"] if r["applied"]]
    refused = [r for r in doc["remedies"] if not r["applied"]]
    assert any(r["zone_id"] == "SKY-SCHOOL-7" for r in done)
    assert any("tolerance" in r["action"] for r in refused)  # 60 m would need a 1.6 cm GSD
    fixed = formats.parse(out.read_text(), ".json", str(out))
    assert fixed.revision == 2 and fixed.derived_from == doc["fixed_plan"]["derived_from"]
    code, doc, _ = check(capsys, city, out.name, "--authorisation", "SKY-AD1")
    assert code == 0 and doc["verdict"] == "APPROVED"


def test_fix_detours_the_water_tower_round_the_helipad(capsys, city: Path, tmp_path: Path):
    code, doc, _ = check(capsys, city, "water-tower.json")
    assert code == 4 and rule_ids(doc) == {"airspace.prohibited"}
    code, out, _ = run(
        capsys,
        *["check", city / "water-tower.json", "--zones", city / "zones.geojson", *TUESDAY],
        *["--fix", "-o", tmp_path / "tower.plan"],
    )
    assert code == 0
    assert "detoured around SKY-HOSP-HELI" in out and "repaired plan: APPROVED" in out
    assert (tmp_path / "tower.plan").exists()


def test_the_weekend_festival_closes_the_bridge(capsys, city: Path):
    code, out, _ = run(
        capsys, "check", city / "bridge-deck.json", "--zones", city / "zones.geojson", *FESTIVAL
    )
    assert code == 4 and "SKY-EVENT-0512" in out and "REJECTED" in out


def test_asking_too_late_for_an_authorisation_is_rejected(capsys, city: Path):
    late = ["--now", "2026-11-30T12:00Z"]  # 10 h before a zone that needs 48 h
    code, doc, _ = check(capsys, city, "park.json", *late, "--authorisation", "SKY-HOSP-HELI")
    assert code == 4 and "airspace.lead_time" in rule_ids(doc)
    assert "authorisation.unused" in rule_ids(doc)


def test_a_broken_zone_source_is_never_approved(capsys, city: Path):
    code, out, _ = run(
        capsys,
        *["check", city / "bridge-deck.json", "--zones", city / "zones.geojson"],
        *["--zones", city / "broken-zones.json", *TUESDAY, "--json"],
    )
    doc = json.loads(out)
    assert code == 4 and doc["verdict"] == "REJECTED"
    (failed,) = [f for f in doc["findings"] if f["rule_id"] == "zones.source_failed"]
    assert "X1" in failed["message"] and "broken-zones.json" in failed["message"]


def test_the_us_preset_rejects_a_night_flight(capsys, city: Path):
    night = ["--start", "2026-12-01T23:00+11:00", "--duration", "30", "--now", "2026-11-25T00:00Z"]
    code, out, _ = run(
        capsys,
        *["check", city / "facade.json", "--zones", city / "zones.geojson"],
        *["--rules", "us-part107", *night],
    )
    assert code == 4 and "rules.daylight" in out


def test_verbose_says_why_each_nearby_zone_did_not_apply(capsys, city: Path):
    code, doc, _ = check(capsys, city, "bridge-deck.json", "--verbose")
    outcomes = {e["zone_id"]: e["outcome"] for e in doc["evidence"]}
    assert code == 0
    assert outcomes["SKY-EVENT-0512"] == "not_active" and outcomes["SKY-AD1"] == "below"
    assert outcomes["SKY-HOSP-HELI"] == "clear"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start", "2026-12-01T09:00", "--duration", "60"], "no UTC offset"),
        (["--start", "tuesday", "--duration", "60"], "not an ISO 8601"),
        (["--start", "2026-12-01T09:00Z"], "--duration MIN or --end"),
        (["--start", "2026-12-01T09:00Z", "--end", "2026-12-01T08:00Z"], "not after --start"),
        (["--start", "2026-12-01T09:00Z", "--duration", "-5"], "must be > 0"),
        ([*TUESDAY, "--fix"], "--fix needs -o"),
        ([*TUESDAY, "--rules", "eu-closed"], "neither a preset"),
        ([*TUESDAY, "--pilot", "north"], "not LAT,LON"),
    ],
)
def test_bad_check_inputs_are_one_line_errors(capsys, city: Path, extra, message):
    code, out, err = run(
        capsys, "check", city / "park.json", "--zones", city / "zones.geojson", *extra
    )
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and err.startswith("skyledger: error:")


def test_a_missing_zone_file_is_bad_input(capsys, city: Path):
    code, _, err = run(capsys, "check", city / "park.json", "--zones", city / "nope.json", *TUESDAY)
    assert code == 2 and "nope.json" in err and "does not exist" in err


@pytest.mark.parametrize("source", sorted(p.name for p in DATA.iterdir()))
def test_zones_import_writes_the_projects_geojson(capsys, tmp_path: Path, source: str):
    out = tmp_path / "zones.geojson"
    code, stdout, err = run(capsys, "zones", "import", DATA / source, "-o", out)
    assert code == 0, err
    original = read_zones((DATA / source).read_text(), source).zones
    again = read_zones(out.read_text(), out.name)
    assert again.format == "geojson" and again.zones == original
    assert f"{len(original)} zones" in stdout


def test_zones_import_refuses_a_broken_file_and_writes_nothing(capsys, city: Path, tmp_path: Path):
    out = tmp_path / "zones.geojson"
    code, _, err = run(capsys, "zones", "import", city / "broken-zones.json", "-o", out)
    assert code == 2 and "X1" in err and not out.exists()


@pytest.mark.parametrize(
    ("source", "fmt"), [("ed269_uaszonelist.json", "ed269"), ("ed318.geojson", "ed318")]
)
def test_checking_against_ed_files_as_published(capsys, city: Path, source: str, fmt: str):
    code, doc, err = check_with(capsys, city / "park.json", DATA / source)
    count = len(read_zones((DATA / source).read_text(), source).zones)
    assert code == 0, err  # those zones lie elsewhere
    assert doc["zone_sources"] == [f"{DATA / source} ({fmt}, {count} zones)"]


def check_with(capsys, plan: Path, zones: Path) -> tuple[int, dict, str]:
    code, out, err = run(capsys, "check", plan, "--zones", zones, *TUESDAY, "--json")
    return code, json.loads(out), err


def test_an_ed269_zone_over_the_park_as_real_files_write_it(capsys, city: Path, tmp_path: Path):
    """String limits in feet, REQ_AUTHORIZATION spelt the American way, dailyPeriod, a circle."""
    centre = [149.1675, -35.3646]  # over the park
    zone = {
        "identifier": "YSCB-R1",
        "country": "AUS",
        "name": "Sports ground events",
        "type": "COMMON",
        "restriction": "REQ_AUTHORIZATION",
        "restrictionConditions": "Contact the ground manager",
        "reason": ["POPULATION"],
        "applicability": [
            {
                "permanent": "NO",
                "startDateTime": "2026-11-01T00:00:00Z",
                "endDateTime": "2027-02-01T00:00:00Z",
                "dailyPeriod": [
                    {
                        "day": ["MON", "TUE", "WED", "THU", "FRI"],
                        "startTime": "21:00",
                        "endTime": "03:00",
                    }
                ],
            }
        ],
        "zoneAuthority": [
            {"name": "Ground manager", "purpose": "AUTHORIZATION", "intervalBefore": "PT24H"}
        ],
        "geometry": [
            {
                "uomDimensions": "FT",
                "lowerLimit": "0",
                "lowerVerticalReference": "AGL",
                "upperLimit": "400",
                "upperVerticalReference": "AGL",
                "horizontalProjection": {"type": "Circle", "center": centre, "radius": 150},
            }
        ],
    }
    path = tmp_path / "ed269.json"
    path.write_text(json.dumps({"UASZoneList": [zone]}))
    code, doc, _ = check_with(capsys, city / "park.json", path)  # 22:00-01:00 UTC on Monday night
    assert code == 3 and doc["verdict"] == "AUTHORISATION_REQUIRED"
    (finding,) = doc["findings"]
    assert finding["zone_id"] == "YSCB-R1" and finding["lead_time"] == "P1D"
    code, doc, _ = run_json(
        capsys,
        "check",
        city / "park.json",
        "--zones",
        path,
        "--json",
        *["--start", "2026-12-01T15:00+11:00", "--duration", "60", "--now", "2026-11-25T00:00Z"],
    )
    assert code == 0  # 04:00 UTC: outside its daily period


def run_json(capsys, *argv) -> tuple[int, dict, str]:
    code, out, err = run(capsys, *argv)
    return code, json.loads(out), err


# --- conform ------------------------------------------------------------------------------------


def write_track(plan_path: Path, out: Path, sideways_m: float = 0.0) -> Path:
    """The plan's paper flight as a CSV track at 5 m/s, shifted east by ``sideways_m``."""
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from mission.analysis import analyse
    from mission.geodesy import LocalFrame
    from mission.track import Track, TrackSample, track_to_csv

    plan = formats.parse(plan_path.read_text(), ".json", str(plan_path))
    frame = LocalFrame(plan.home.lon_deg, plan.home.lat_deg)
    points = [np.asarray(analyse(plan).legs[0].start)]
    for leg in analyse(plan).legs:
        a, b = np.asarray(leg.start), np.asarray(leg.end)
        steps = max(1, int(np.linalg.norm(b - a)))
        points += [a + (b - a) * k / steps for k in range(1, steps + 1)]
    start = datetime(2026, 11, 30, 22, 10, tzinfo=UTC)  # 09:10 in Canberra
    samples = []
    for k, (x, y, z) in enumerate(points):
        lon, lat = frame.point_to_wgs84(x + (sideways_m if z > 5 else 0.0), y)
        samples.append(TrackSample(start + timedelta(seconds=k / 5), lon, lat, float(z)))
    out.write_text(track_to_csv(Track(tuple(samples))))
    return out


def test_conform_a_track_flown_as_planned_and_one_flown_aside(capsys, city: Path, tmp_path: Path):
    plan = city / "bridge-deck.json"
    zones = ["--zones", str(city / "zones.geojson")]
    good = write_track(plan, tmp_path / "good.csv")
    code, out, err = run(capsys, "conform", plan, good, *zones, *TUESDAY[:4])
    assert code == 0, err
    assert "CONFORMS" in out and "100.0% of the planned camera passes" in out
    aside = write_track(plan, tmp_path / "aside.csv", sideways_m=25.0)
    code, out, _ = run(capsys, "conform", plan, aside, *zones, "--json")
    doc = json.loads(out)
    assert code == 5 and doc["conforms"] is False
    assert {"conform.cross_track", "conform.coverage"} <= {d["rule_id"] for d in doc["deviations"]}
    assert doc["cross_track_max_m"] == pytest.approx(25.0, abs=0.5)


def test_conform_bad_inputs_are_one_line_errors(capsys, city: Path, tmp_path: Path):
    plan = city / "bridge-deck.json"
    zones = ["--zones", str(city / "zones.geojson")]
    (tmp_path / "flight.gpx").write_text("<gpx/>")
    (tmp_path / "empty.csv").write_text("time,lon,lat,alt_rel_m\n")
    for track, message in [
        (tmp_path / "nope.csv", "does not exist"),
        (tmp_path / "flight.gpx", "valid: .csv, .tlog, .bin"),
        (tmp_path / "empty.csv", "empty.csv"),
    ]:
        code, out, err = run(capsys, "conform", plan, track, *zones)
        assert code == 2 and out == "" and message in err and err.count("\n") == 1
    code, _, err = run(capsys, "conform", plan, tmp_path / "x.csv", *zones, "--duration", "5")
    assert code == 2 and "need --start" in err
