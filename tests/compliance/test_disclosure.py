"""Disclosure records: the route generalised near private places, the record's fields and its
hash, computed again here in the tests' own way."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from compliance.disclosure import (
    DisclosureRecord,
    altitude_band,
    build_disclosure,
    conformance_summary,
    generalise_route,
    grid_frame_origin,
    privacy_areas,
    record_sha256,
)
from compliance.errors import ComplianceError
from mission.geodesy import LocalFrame

#: Elm Street homes, a privacy zone of the sample zones (lon, lat).
ELM = Polygon(
    [(149.1635796, -35.3609175), (149.1645698, -35.3609175), (149.1645698, -35.3607823),
     (149.1635796, -35.3607823)]
)  # fmt: skip
START = datetime(2026, 12, 7, 7, 13, 17, tzinfo=UTC)


def _line(origin: tuple[float, float], xy: list[tuple[float, float]]) -> list[tuple[float, float]]:
    frame = LocalFrame(*origin)
    return [frame.point_to_wgs84(x, y) for x, y in xy]


def test_altitude_bands() -> None:
    assert altitude_band(0.0) == (0, 30, "0–30 m above take-off")
    assert altitude_band(29.99)[:2] == (0, 30)
    assert altitude_band(30.0)[:2] == (30, 60)
    assert altitude_band(119.9)[:2] == (90, 120)
    assert altitude_band(120.0) == (120, None, "above 120 m above take-off")
    with pytest.raises(ComplianceError, match="finite"):
        altitude_band(math.nan)


def test_a_route_far_from_private_places_is_only_simplified() -> None:
    centre = (149.17, -35.37)
    xy = [(float(x), 0.0) for x in range(0, 200, 2)] + [(200.0, 50.0)]
    route = _line(centre, xy)
    result = generalise_route(route, [ELM])
    assert result.snapped == 0
    assert result.points_flown == len(route)
    assert len(result.coordinates) == 3  # the straight run collapses to its ends
    assert result.coordinates[0] == pytest.approx(route[0], abs=1e-7)
    assert result.coordinates[-1] == pytest.approx(route[-1], abs=1e-7)
    assert result.geojson() == {
        "type": "LineString",
        "coordinates": [list(c) for c in result.coordinates],
    }


def _grid_local(
    result_origin: tuple[float, float], lonlat: tuple[float, float]
) -> tuple[float, float]:
    return LocalFrame(*result_origin).point_to_local(*lonlat)


def _on_grid(xy: tuple[float, float], grid: float) -> bool:
    """Whether ``xy`` is a grid node, to the 1e-7° (about a centimetre) records round to."""
    return all(abs(v - round(v / grid) * grid) < 0.02 for v in xy)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.tuples(st.floats(-60, 60), st.floats(-60, 60)), min_size=2, max_size=40),
    start=st.tuples(st.floats(-250, 250), st.floats(-250, 250)),
    grid=st.sampled_from([50.0, 100.0]),
)
def test_vertices_near_a_private_area_lie_on_the_grid_and_the_others_stay(
    steps: list[tuple[float, float]], start: tuple[float, float], grid: float
) -> None:
    centre = ELM.centroid.x, ELM.centroid.y
    xy = [start]
    for dx, dy in steps:
        xy.append((xy[-1][0] + dx, xy[-1][1] + dy))
    route = _line(centre, xy)
    near_m, tolerance = 50.0, 5.0
    result = generalise_route(route, [ELM], tolerance_m=tolerance, near_m=near_m, grid_m=grid)
    origin = grid_frame_origin(route)
    assert result.grid_origin == origin
    # the second computation: simplify in the grid's frame, then sort the vertices by hand
    frame = LocalFrame(*origin)
    local = [frame.point_to_local(*p) for p in route]
    kept = list(LineString(local).simplify(tolerance, preserve_topology=False).coords)
    area = frame.geom_to_local(ELM)
    expected = []
    for x, y in kept:
        if area.distance(Point(x, y)) <= near_m - 1e-6:
            expected.append(("grid", (round(x / grid) * grid, round(y / grid) * grid)))
        elif area.distance(Point(x, y)) > near_m + 1e-6:
            expected.append(("kept", (x, y)))
        else:
            expected.append(("edge", (x, y)))
    grid_count = sum(1 for kind, _ in expected if kind == "grid")
    edge_count = sum(1 for kind, _ in expected if kind == "edge")
    assert grid_count <= result.snapped <= grid_count + edge_count
    got = [_grid_local(origin, c) for c in result.coordinates]
    # every published vertex is either a grid node or a kept vertex far from the area
    far = [p for kind, p in expected if kind in ("kept", "edge")]
    for p in got:
        assert _on_grid(p, grid) or any(math.dist(p, q) < 0.05 for q in far), p
    # no vertex within near_m of the area is published off the grid
    for p in got:
        if area.distance(Point(p)) < near_m - 0.5 and not _on_grid(p, grid):
            raise AssertionError(f"vertex {p} is {area.distance(Point(p)):.1f} m from the area")
    # and every kept vertex far from the area is published where it was
    for kind, q in expected:
        if kind == "kept":
            assert any(math.dist(p, q) < 0.05 for p in got), q


def test_generalise_route_refuses_bad_parameters() -> None:
    with pytest.raises(ComplianceError, match="tolerance_m"):
        generalise_route([(149.0, -35.0)], tolerance_m=0)
    with pytest.raises(ComplianceError, match="grid_m"):
        generalise_route([(149.0, -35.0)], grid_m=math.inf)
    assert generalise_route([]).coordinates == ()


def test_privacy_areas_of_the_sample_zones() -> None:
    from compliance.sources import SAMPLE_ZONES_FILE, read_zones, sample_zones_text
    from compliance.zones import CameraPolicy, Volume, Zone

    zones = list(read_zones(sample_zones_text(), SAMPLE_ZONES_FILE).zones)
    areas = privacy_areas(zones)
    assert len(areas) == sum(len(z.volumes) for z in zones if z.is_privacy) == 2
    assert any(a.equals(ELM) or a.symmetric_difference(ELM).area < 1e-12 for a in areas)
    circle = Zone("C", "CONDITIONAL", (Volume(center=(149.17, -35.36), radius_m=30.0),),
                  camera=CameraPolicy("no_capture"))  # fmt: skip
    (disc,) = privacy_areas([circle])
    frame = LocalFrame(149.17, -35.36)
    assert frame.geom_to_local(disc).area == pytest.approx(math.pi * 30.0**2, rel=0.01)


def _record(**changes: object) -> DisclosureRecord:
    values: dict[str, object] = {
        "flight_id": 12,
        "agency": "City of Sampleton",
        "unit": "Public Works drone unit",
        "contact": "drones@sampleton.example",
        "purpose": "Bridge deck survey",
        "source": "builtin",
        "state": "flown",
        "started_at": START,
        "ended_at": START + timedelta(minutes=9, seconds=30),
        "route_lonlats": _line((149.17, -35.37), [(0.0, 0.0), (100.0, 0.0), (100.0, 80.0)]),
        "private_areas": [ELM],
        "max_alt_rel_m": 45.2,
        "distance_m": 180.04,
        "video": True,
        "photos": 120,
        "track": True,
        "retention_days": 90,
        "asset": {"id": 3, "name": "Creek bridge deck", "kind": "area"},
        "verdict": "APPROVED",
        "authorisations": ["SKY-AD1"],
        "conformance": {"conforms": False, "deviations": [{"rule_id": "conform.window"}]},
        "defects": {"crack": 2, "rust": 0},
    }
    values.update(changes)
    return build_disclosure(**values)  # type: ignore[arg-type]


def test_a_record_has_every_public_field() -> None:
    record = _record()
    doc = record.to_json()
    assert doc["schema"] == 1
    assert doc["date"] == "2026-12-07"
    assert doc["start"] == "2026-12-07T07:13:17Z"
    assert doc["end"] == "2026-12-07T07:22:47Z"
    assert doc["duration_s"] == 570.0
    assert doc["altitude_band"] == "30–60 m above take-off"
    assert doc["altitude_band_m"] == [30, 60]
    assert doc["data_collected"] == {"video": True, "photos": 120, "track": True}
    assert doc["deletion_date"] == "2027-03-07"
    assert doc["defects"] == {"crack": 2}
    assert doc["pilot"] == "remote pilot, Public Works drone unit"
    assert doc["route"]["type"] == "LineString"
    assert doc["route_generalised"] is False
    assert doc["route_generalisation"]["points_flown"] == 3
    assert doc["conformance"] == {
        "conforms": False,
        "deviations": 1,
        "rule_ids": ["conform.window"],
        "summary": "did not keep to the approved plan: 1 deviation (conform.window)",
    }
    assert set(doc) == set(DisclosureRecord.model_fields) - {"schema_"} | {"schema"}
    assert DisclosureRecord.model_validate(doc) == record


def test_defects_are_published_for_public_assets_only() -> None:
    assert _record(asset=None).defects == {}


def test_the_record_hash_is_of_its_canonical_json() -> None:
    record = _record()
    doc = record.to_json()

    # canonical JSON as RFC 8785 writes this record: sorted keys, no spaces, integral floats bare
    def plain(value: object) -> object:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    text = json.dumps(plain(doc), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert record_sha256(record) == hashlib.sha256(text.encode()).hexdigest()
    assert record_sha256(doc) == record_sha256(record)
    assert record_sha256(_record(purpose="Another purpose")) != record_sha256(record)


def test_build_disclosure_refuses_what_it_cannot_publish() -> None:
    with pytest.raises(ComplianceError, match="start or an end"):
        _record(started_at=None, ended_at=None)
    with pytest.raises(ComplianceError, match="no UTC offset"):
        _record(started_at=datetime(2026, 12, 7, 7, 0))
    with pytest.raises(ComplianceError, match="retention_days"):
        _record(retention_days=-1)


def test_conformance_summaries() -> None:
    assert conformance_summary(None).conforms is None
    assert conformance_summary({"conforms": True, "deviations": []}).summary == (
        "kept to the approved plan"
    )
    minor = conformance_summary({"conforms": True, "deviations": [{"rule_id": "conform.home"}]})
    assert minor.deviations == 1
    assert minor.summary == "kept to the approved plan (1 minor deviation)"


def test_a_route_past_the_homes_shows_the_grid_not_the_house() -> None:
    centre = ELM.centroid.x, ELM.centroid.y
    # a zigzag that turns 10 m from the houses' outline, then goes on 300 m away
    xy = [(-200.0, -60.0), (0.0, -18.0), (200.0, -60.0), (300.0, -300.0)]
    route = _line(centre, xy)
    result = generalise_route(route, [ELM], grid_m=100.0)
    assert result.snapped == 1
    frame = LocalFrame(*result.grid_origin)
    turn = frame.point_to_local(*result.coordinates[1])
    assert _on_grid(turn, 100.0)
    far = frame.point_to_local(*route[-1])
    assert math.dist(frame.point_to_local(*result.coordinates[-1]), far) < 0.05
    record = _record(route_lonlats=route)
    assert record.route_generalised is True
    assert record.route_generalisation is not None and record.route_generalisation.snapped == 1
