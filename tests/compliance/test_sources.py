"""Zone sources: ED-269, ED-318, skyledger GeoJSON and KML read into one model; the writer's
round trip; one-line errors; polygon repairs."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.errors import ComplianceError
from compliance.sources import ZoneImport, read_zones, zones_to_geojson
from compliance.zones import (
    GROUND,
    NO_CEILING,
    REASONS,
    RESTRICTIONS,
    SUN_EVENTS,
    Applicability,
    Authority,
    CameraPolicy,
    DailyPeriod,
    Limit,
    Volume,
    Zone,
)

DATA = Path(__file__).parent.parent / "data" / "zones"


def load(name: str) -> ZoneImport:
    return read_zones((DATA / name).read_text(encoding="utf-8"), name)


def by_id(found: ZoneImport) -> dict[str, Zone]:
    return {z.identifier: z for z in found.zones}


def square(lon: float = 4.0, lat: float = 50.0, size: float = 0.01) -> list[list[float]]:
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


def ed269_zone(**changes: Any) -> dict[str, Any]:
    zone: dict[str, Any] = {
        "identifier": "EBBR-01",
        "country": "BEL",
        "name": "Test zone",
        "type": "COMMON",
        "restriction": "PROHIBITED",
        "reason": ["AIR_TRAFFIC"],
        "applicability": [{"permanent": "YES"}],
        "zoneAuthority": [{"name": "Test authority", "purpose": "AUTHORIZATION"}],
        "geometry": [
            {
                "uomDimensions": "M",
                "lowerLimit": 0,
                "lowerVerticalReference": "AGL",
                "upperLimit": 120,
                "upperVerticalReference": "AGL",
                "horizontalProjection": {"type": "Polygon", "coordinates": [square()]},
            }
        ],
    }
    zone.update(changes)
    return zone


def ed269_text(*zones: dict[str, Any]) -> str:
    return json.dumps({"title": "t", "features": list(zones)})


def project_text(*features: dict[str, Any]) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "schema": "skyledger.zones",
            "version": 1,
            "features": list(features),
        }
    )


def feature(props: dict[str, Any], geometry: Any = None) -> dict[str, Any]:
    geometry = geometry or {"type": "Polygon", "coordinates": [square()]}
    return {"type": "Feature", "properties": props, "geometry": geometry}


# --- ED-269 --------------------------------------------------------------------------------------


def test_ed269_features_wrapper_maps_every_field() -> None:
    found = load("ed269_features.json")
    assert found.format == "ed269"
    zones = by_id(found)
    z = zones["EBTST01"]
    assert z.restriction == "REQ_AUTHORISATION"  # REQ_AUTHORIZATION spelling
    assert z.names == {"en": "Test airfield CTR core"}
    assert z.conditions == ("Authorisation from the ANSP at least two days ahead",)
    polygon, disc = z.volumes
    assert polygon.lower == GROUND  # null lower limit
    assert polygon.upper == Limit(120.0, "AGL", "m")  # "120" as a string
    assert polygon.rings[0][0] == polygon.rings[0][-1] == (4.46, 50.89)
    assert disc.center == (4.48, 50.90)
    assert disc.radius_m == pytest.approx(5000 * 0.3048)  # radius in uomDimensions
    assert disc.lower == Limit(400.0, "AGL", "ft")
    assert disc.upper.unlimited  # 99999
    (window,) = z.applicability
    assert window.start == datetime(2024, 4, 1, tzinfo=UTC)
    assert window.end == datetime(2024, 10, 31, 22, 59, 59, tzinfo=UTC)  # +01:00 to UTC
    week, saturday = window.periods
    assert (week.days, week.start, week.end) == (frozenset(range(5)), "07:00", "19:30")
    assert (saturday.days, saturday.end) == (frozenset({5}), "13:00")  # day alone, seconds dropped
    (authority,) = z.authorities
    assert authority == Authority(
        name="Test ANSP",
        purpose="AUTHORISATION",
        service="UAS desk",
        contact="Duty officer",
        email="uas@ansp.example",
        phone="+32 2 000 00 00",
        site_url="https://ansp.example/uas",
        interval_before=timedelta(days=2),
    )
    assert z.reasons == ("AIR_TRAFFIC", "OTHER")
    assert z.extra["country"] == "BEL" and z.extra["extendedProperties"] == {"source": "test"}
    assert z.extra["validationStatus"] == "draft"
    assert "zone EBTST01: reason 'MILITARY' read as OTHER" in found.notes
    assert "zone EBTST01: unknown field 'validationStatus' kept in extra" in found.notes
    assert (
        "zone EBTST01: geometry[0].horizontalProjection.coordinates[0]: polygon ring closed"
        in found.notes
    )
    assert any("'13:00:30' rounded down" in n for n in found.notes)


def test_ed269_permanent_zone_with_sfc_and_null_upper() -> None:
    z = by_id(load("ed269_features.json"))["EBTST02"]
    assert z.applicability == ()  # permanent YES
    assert z.volumes[0].lower == Limit(0.0, "AGL", "m")  # SFC read as AGL
    assert z.volumes[0].upper == NO_CEILING  # null upper
    assert z.authorities[0].interval_before == timedelta(hours=48)
    assert len(z.volumes[0].rings[0]) == 5  # repeated point removed


def test_ed269_uaszonelist_with_offsets_and_any_day() -> None:
    found = load("ed269_uaszonelist.json")
    (z,) = found.zones
    assert found.format == "ed269"
    assert z.volumes[0].radius_m == 300.0
    assert z.applicability[0].periods[0] == DailyPeriod(frozenset(range(7)), "06:00", "22:00")
    assert z.time_zone == "Etc/GMT-1"  # the times were at +01:00
    assert z.applicability[0].start == datetime(2023, 12, 31, 23, tzinfo=UTC)
    assert z.authorities[0].purpose == "NOTIFICATION"


def test_ed269_bare_list() -> None:
    found = read_zones(json.dumps([ed269_zone()]), "list.json")
    assert found.format == "ed269"
    assert [z.identifier for z in found.zones] == ["EBBR-01"]


# --- ED-318 --------------------------------------------------------------------------------------


def test_ed318_layers_texts_circles_and_sun_events() -> None:
    found = load("ed318.geojson")
    assert found.format == "ed318"
    zones = by_id(found)
    airport = zones["FRT001"]
    assert airport.restriction == "REQ_AUTHORISATION"
    assert airport.names == {"en-gb": "Test airport zone", "fr-fr": "Zone d'aéroport d'essai"}
    assert airport.message == {"en-gb": "Contact the tower"}
    assert airport.volumes[0].lower == Limit(50.0, "AMSL", "m")
    assert airport.volumes[0].upper == Limit(150.0, "AMSL", "m")
    week, weekend = airport.applicability[0].periods
    assert (week.start, week.end) == ("SR", "SS")
    assert (weekend.start, weekend.end) == ("08:00", "EECT")
    assert airport.authorities[0].email == "drones@ansp.example"
    assert airport.authorities[0].interval_before == timedelta(hours=24)
    assert airport.extra["variant"] == "COMMON"
    stadium = zones["FRT002"]
    assert stadium.volumes[0].radius_m == 1000.0  # ED-318 radius is in metres
    assert stadium.volumes[0].upper == Limit(400.0, "AGL", "ft")
    stacked = zones["FRT003"]
    assert len(stacked.volumes) == 3  # Polygon + MultiPolygon of 2
    assert stacked.volumes[1].upper == Limit(120.0, "AMSL", "m")
    assert stacked.restriction == "REQ_AUTHORISATION"
    assert "zone FRT003: type USPACE (U-space airspace) read as REQ_AUTHORISATION" in found.notes
    assert any("WGS84 (ellipsoid height) read as AMSL" in n for n in found.notes)
    assert "zone FRT001: reason 'DAR' read as OTHER" in found.notes


# --- skyledger GeoJSON and KML -------------------------------------------------------------------


def test_project_geojson_groups_features_into_zones() -> None:
    found = load("zones.geojson")
    assert found.format == "geojson"
    hall, depot = found.zones
    assert hall.identifier == "city-hall" and len(hall.volumes) == 2
    assert hall.volumes[0].upper == Limit(60.0, "AGL", "m") and hall.volumes[0].lower == GROUND
    assert hall.volumes[1].center == (149.1655, -35.3625) and hall.volumes[1].radius_m == 40.0
    assert hall.volumes[1].upper == Limit(400.0, "AMSL", "ft")
    assert hall.camera == CameraPolicy("buffer", 25.0)
    assert hall.time_zone == "Europe/Brussels"
    assert hall.names == {"en": "City hall", "nl": "Stadhuis"}
    assert hall.extra == {"ward": 3, "operator": "city"}
    assert found.notes[0] == "zone city-hall: unknown field 'operator' kept in extra"
    assert len(depot.volumes) == 2  # MultiPolygon parts
    assert depot.names == {"en": "Bus depot"}


def test_kml_placemarks() -> None:
    found = load("zones.kml")
    assert found.format == "kml"
    zones = by_id(found)
    school = zones["school"]
    assert school.restriction == "REQ_AUTHORISATION"
    assert school.names == {"en": "Primary school"}
    assert school.reasons == ("PRIVACY", "POPULATION")
    assert len(school.volumes[0].rings) == 2  # a hole
    assert school.camera == CameraPolicy("no_capture")
    assert school.applicability[0].periods[0].start == "07:30"
    assert zones["substation"].names == {"en": "Substation", "fr": "Poste électrique"}
    assert len(zones["substation"].volumes) == 2
    assert zones["mast"].volumes[0].radius_m == 150.0


def test_kml_detected_by_content() -> None:
    text = (DATA / "zones.kml").read_text(encoding="utf-8")
    assert read_zones(text, "upload").format == "kml"


@pytest.mark.parametrize(
    "name",
    [
        "ed269_features.json",
        "ed269_uaszonelist.json",
        "ed318.geojson",
        "zones.geojson",
        "zones.kml",
    ],
)
def test_every_fixture_survives_the_project_geojson(name: str) -> None:
    zones = load(name).zones
    again = read_zones(json.dumps(zones_to_geojson(zones)), "again.geojson")
    assert again.zones == zones
    assert again.notes == ()


def test_writer_shape() -> None:
    doc = zones_to_geojson(load("zones.geojson").zones)
    assert (doc["type"], doc["schema"], doc["version"]) == (
        "FeatureCollection",
        "skyledger.zones",
        1,
    )
    assert len(doc["features"]) == 4  # one per volume
    circle = doc["features"][1]
    assert circle["geometry"] == {"type": "Point", "coordinates": [149.1655, -35.3625]}
    assert circle["properties"]["radius_m"] == 40.0
    assert circle["properties"]["lower"] == {"value": 60.0, "reference": "AGL", "unit": "m"}
    assert "lower" not in doc["features"][0]["properties"]  # the ground is left out


# --- errors --------------------------------------------------------------------------------------

NO_PROJECTION = ed269_zone()
del NO_PROJECTION["geometry"][0]["horizontalProjection"]
WITHOUT_ID = ed269_zone()
del WITHOUT_ID["identifier"]
WITHOUT_RESTRICTION = ed269_zone()
del WITHOUT_RESTRICTION["restriction"]


def _volume(**changes: Any) -> list[dict[str, Any]]:
    volume = copy.deepcopy(ed269_zone()["geometry"][0])
    volume.update(changes)
    return [volume]


ED269_ERRORS = [
    (
        ed269_text(NO_PROJECTION),
        "zones.json: zone EBBR-01: geometry[0].horizontalProjection missing",
    ),
    (
        ed269_text(ed269_zone(geometry=_volume(upperLimit="abc"))),
        "zones.json: zone EBBR-01: geometry[0].upperLimit 'abc' is not a number",
    ),
    (ed269_text(WITHOUT_ID), "zones.json: features[0]: identifier missing"),
    (ed269_text(WITHOUT_RESTRICTION), "zones.json: zone EBBR-01: restriction missing"),
    (
        ed269_text(ed269_zone(restriction="FORBIDDEN")),
        "zones.json: zone EBBR-01: restriction 'FORBIDDEN' is not one of PROHIBITED, "
        "REQ_AUTHORISATION, CONDITIONAL, NO_RESTRICTION, REQ_AUTHORIZATION",
    ),
    (
        ed269_text(ed269_zone(geometry=_volume(uomDimensions=None))),
        "zones.json: zone EBBR-01: geometry[0].uomDimensions missing (M or FT)",
    ),
    (
        ed269_text(ed269_zone(geometry=_volume(uomDimensions="KM"))),
        "zones.json: zone EBBR-01: geometry[0].uomDimensions 'KM' is not M or FT",
    ),
    (
        ed269_text(ed269_zone(geometry=_volume(upperVerticalReference=None))),
        "zones.json: zone EBBR-01: geometry[0].upperVerticalReference missing",
    ),
    (
        ed269_text(ed269_zone(geometry=_volume(lowerLimit=200))),
        "zones.json: zone EBBR-01: geometry[0].lowerLimit lower limit 200 is above upper limit 120",
    ),
    (
        ed269_text(ed269_zone(geometry=_volume(horizontalProjection={"type": "Line"}))),
        "zones.json: zone EBBR-01: geometry[0].horizontalProjection.type 'Line' is not Polygon or Circle",
    ),
    (
        ed269_text(
            ed269_zone(
                geometry=_volume(
                    horizontalProjection={"type": "Circle", "center": [4, 50], "radius": 0}
                )
            )
        ),
        "zones.json: zone EBBR-01: geometry[0].horizontalProjection.radius 0 must be a number > 0",
    ),
    (
        ed269_text(
            ed269_zone(
                geometry=_volume(
                    horizontalProjection={
                        "type": "Polygon",
                        "coordinates": [[[4, 50], [4.1, 50], [4, 50]]],
                    }
                )
            )
        ),
        "zones.json: zone EBBR-01: geometry[0].horizontalProjection.coordinates[0] has 2 distinct "
        "points; a polygon ring needs at least 3",
    ),
    (
        ed269_text(
            ed269_zone(
                applicability=[
                    {
                        "permanent": "NO",
                        "schedule": [{"day": ["MON"], "startTime": "25:00", "endTime": "26:00"}],
                    }
                ]
            )
        ),
        "zones.json: zone EBBR-01: applicability[0].schedule[0].startTime '25:00' is not a time of "
        "day (HH:MM or HH:MM:SS)",
    ),
    (
        ed269_text(
            ed269_zone(
                applicability=[
                    {
                        "permanent": "NO",
                        "schedule": [{"day": ["MOON"], "startTime": "08:00", "endTime": "09:00"}],
                    }
                ]
            )
        ),
        "zones.json: zone EBBR-01: applicability[0].schedule[0].day[0] 'MOON' is not one of MON, TUE, "
        "WED, THU, FRI, SAT, SUN, ANY",
    ),
    (
        ed269_text(
            ed269_zone(applicability=[{"permanent": "NO", "startDateTime": "2024-05-01T08:00:00"}])
        ),
        "zones.json: zone EBBR-01: applicability[0].startDateTime '2024-05-01T08:00:00' has no UTC "
        "offset (add Z or +01:00)",
    ),
    (
        ed269_text(
            ed269_zone(
                applicability=[
                    {
                        "permanent": "NO",
                        "startDateTime": "2024-05-02T00:00Z",
                        "endDateTime": "2024-05-01T00:00Z",
                    }
                ]
            )
        ),
        "zones.json: zone EBBR-01: applicability[0].endDateTime is not after startDateTime",
    ),
    (
        ed269_text(ed269_zone(zoneAuthority=[{"name": "x", "intervalBefore": "P1M"}])),
        "zones.json: zone EBBR-01: zoneAuthority[0].intervalBefore 'P1M' is not an ISO 8601 duration "
        "in weeks, days, hours, minutes, seconds",
    ),
    (
        ed269_text(ed269_zone(zoneAuthority=[{"name": "x", "purpose": "PERMISSION"}])),
        "zones.json: zone EBBR-01: zoneAuthority[0].purpose 'PERMISSION' is not AUTHORIZATION, "
        "NOTIFICATION or INFORMATION",
    ),
    (
        ed269_text(
            ed269_zone(
                geometry=_volume(
                    horizontalProjection={
                        "type": "Polygon",
                        "coordinates": [[[50.9, 4.4], [50.9, 104.5], [51, 4.5]]],
                    }
                )
            )
        ),
        "zones.json: zone EBBR-01: geometry[0].horizontalProjection.coordinates[0][1] position latitude "
        "104.5 is outside -90..90 (are longitude and latitude swapped? GeoJSON order is lon, lat)",
    ),
    (
        ed269_text(ed269_zone(), ed269_zone()),
        "zones.json: features[1]: identifier 'EBBR-01' repeats the zone at features[0]",
    ),
    (
        ed269_text(
            ed269_zone(
                applicability=[
                    {
                        "permanent": "NO",
                        "schedule": [
                            {"day": ["MON"], "startTime": "08:00+01:00", "endTime": "09:00+02:00"}
                        ],
                    }
                ]
            )
        ),
        "zones.json: zone EBBR-01: applicability times use UTC offsets +1 h, +2 h; expected one "
        "whole-hour offset",
    ),
    (
        "{",
        "zones.json: not JSON (Expecting property name enclosed in double quotes at line 1 column 2); "
        "expected ED-269 JSON (features or UASZoneList), an ED-318 or skyledger zones GeoJSON "
        "FeatureCollection, or KML",
    ),
    (
        '{"zones": []}',
        "zones.json: not a zone file; expected ED-269 JSON (features or UASZoneList), "
        "an ED-318 or skyledger zones GeoJSON FeatureCollection, or KML",
    ),
    (
        '{"UASZoneList": {"a": 1}}',
        "zones.json: document: UASZoneList is an object, expected a list",
    ),
]


@pytest.mark.parametrize(("text", "message"), ED269_ERRORS)
def test_ed269_errors_are_one_named_line(text: str, message: str) -> None:
    with pytest.raises(ComplianceError) as caught:
        read_zones(text, "zones.json")
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def ed318_text(geometry: dict[str, Any], **props: Any) -> str:
    properties = {"identifier": "FR1", "type": "PROHIBITED", "zoneAuthority": [], **props}
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": properties, "geometry": geometry}],
        }
    )


LAYER = {"upper": 120, "upperReference": "AGL", "lower": 0, "lowerReference": "AGL", "uom": "m"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            ed318_text({"type": "Point", "coordinates": [2, 48], "layer": LAYER}),
            'zones.json: zone FR1: geometry.extent missing; a Point needs {"subType": "Circle", "radius"}',
        ),
        (
            ed318_text({"type": "Polygon", "coordinates": [square()]}),
            "zones.json: zone FR1: geometry.layer missing (upper, upperReference, lower, lowerReference)",
        ),
        (
            ed318_text({"type": "LineString", "coordinates": [[2, 48], [3, 48]], "layer": LAYER}),
            "zones.json: zone FR1: geometry.type 'LineString' is not Polygon, MultiPolygon, Point "
            "(circle) or GeometryCollection",
        ),
        (
            ed318_text(
                {
                    "type": "Polygon",
                    "coordinates": [square()],
                    "layer": {**LAYER, "upperReference": "QNH"},
                }
            ),
            "zones.json: zone FR1: geometry.layer.upperReference 'QNH' is not AGL, AMSL, SFC or WGS84",
        ),
        (
            ed318_text(
                {"type": "Polygon", "coordinates": [square()], "layer": LAYER},
                limitedApplicability=[{"schedule": [{"day": ["MON"], "startEvent": "NOON"}]}],
            ),
            "zones.json: zone FR1: limitedApplicability[0].schedule[0].startEvent 'NOON' is not one of "
            "BMCT, SR, SS, EECT",
        ),
        (
            ed318_text({"type": "Polygon", "coordinates": [square()], "layer": LAYER}, type=None),
            "zones.json: zone FR1: type missing (the restriction: PROHIBITED, REQ_AUTHORIZATION, ...)",
        ),
    ],
)
def test_ed318_errors(text: str, message: str) -> None:
    with pytest.raises(ComplianceError, match=None) as caught:
        read_zones(text, "zones.json")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            project_text(feature({"id": "a"})),
            "zones.geojson: zone a: restriction missing (PROHIBITED, REQ_AUTHORISATION, CONDITIONAL or "
            "NO_RESTRICTION)",
        ),
        (
            project_text(
                feature({"id": "a", "restriction": "PROHIBITED"}),
                feature({"id": "a", "restriction": "CONDITIONAL"}),
            ),
            "zones.geojson: zone a: features[1].properties.restriction differs from features[0]; the "
            "features of one zone must agree on it or leave it out",
        ),
        (
            project_text(
                feature({"id": "a", "restriction": "PROHIBITED", "camera": {"mode": "blur"}})
            ),
            "zones.geojson: zone a: camera.mode 'blur' is not one of no_capture, no_overflight, buffer",
        ),
        (
            project_text(
                feature({"id": "a", "restriction": "PROHIBITED", "time_zone": "Mars/Olympus"})
            ),
            "zones.geojson: zone a: time_zone 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Brussels)",
        ),
        (
            project_text(
                feature(
                    {"id": "a", "restriction": "PROHIBITED"},
                    {"type": "Point", "coordinates": [4, 50]},
                )
            ),
            "zones.geojson: zone a: features[0].radius_m None must be a number > 0 (a Point volume is a circle)",
        ),
        (
            project_text(
                feature({"id": "a", "restriction": "PROHIBITED", "upper": {"value": "high"}})
            ),
            "zones.geojson: zone a: features[0].upper.value 'high' is not a number",
        ),
        (
            project_text(feature({"restriction": "PROHIBITED"})),
            "zones.geojson: features[0]: properties.id missing",
        ),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "schema": "skyledger.zones",
                    "version": 2,
                    "features": [],
                }
            ),
            "zones.geojson: document: version 2 is not supported (expected 1)",
        ),
        (
            project_text(
                feature(
                    {
                        "id": "a",
                        "restriction": "PROHIBITED",
                        "applicability": [{"periods": [{"start": "08:00Z"}]}],
                    }
                )
            ),
            "zones.geojson: zone a: applicability[0].periods[0] has a UTC offset; write HH:MM and name "
            "the zone's time_zone",
        ),
    ],
)
def test_project_geojson_errors(text: str, message: str) -> None:
    with pytest.raises(ComplianceError) as caught:
        read_zones(text, "zones.geojson")
    assert str(caught.value) == message


def kml(body: str) -> str:
    return f'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>{body}</Document></kml>'


POLYGON_KML = (
    "<Polygon><outerBoundaryIs><LinearRing><coordinates>"
    "4,50 4.01,50 4.01,50.01 4,50</coordinates></LinearRing></outerBoundaryIs></Polygon>"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            kml(f'<Placemark id="p1">{POLYGON_KML}</Placemark>'),
            "zones.kml: zone p1: restriction missing (PROHIBITED, REQ_AUTHORISATION, CONDITIONAL or "
            "NO_RESTRICTION)",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x "y">]><kml/>',
            "zones.kml: a DOCTYPE or ENTITY declaration is not allowed in a KML zone file (it can pull "
            "in other files); remove it",
        ),
        ("<kml><Document>", "zones.kml: not well-formed XML (no element found: line 1, column 15)"),
        (kml(""), "zones.kml: the KML holds no <Placemark>"),
        (
            kml(
                '<Placemark id="p1"><ExtendedData><Data name="restriction"><value>PROHIBITED</value></Data>'
                f'<Data name="lower"><value>{{value: 3}}</value></Data></ExtendedData>{POLYGON_KML}</Placemark>'
            ),
            "zones.kml: zone p1: Placemark 1.ExtendedData 'lower' is not JSON (Expecting property name "
            "enclosed in double quotes): '{value: 3}'",
        ),
        (
            kml(f"<Placemark>{POLYGON_KML}</Placemark>"),
            "zones.kml: Placemark 1: has no id attribute and no <name>; one names the zone",
        ),
        (
            kml(
                '<Placemark id="p"><LineString><coordinates>4,50 5,50</coordinates></LineString></Placemark>'
            ),
            "zones.kml: Placemark 1: has no Polygon, MultiGeometry of Polygons or Point",
        ),
    ],
)
def test_kml_errors(text: str, message: str) -> None:
    with pytest.raises(ComplianceError) as caught:
        read_zones(text, "zones.kml")
    assert str(caught.value) == message


def test_no_half_results() -> None:
    """A good zone before a bad one does not come back: the import raises."""
    text = ed269_text(ed269_zone(), ed269_zone(identifier="EBBR-02", restriction=None))
    with pytest.raises(ComplianceError, match="zone EBBR-02: restriction missing"):
        read_zones(text, "zones.json")


def test_unforeseen_shapes_still_give_one_line() -> None:
    with pytest.raises(ComplianceError) as caught:
        read_zones(ed269_text(ed269_zone(geometry=[7])), "zones.json")
    assert (
        str(caught.value) == "zones.json: zone EBBR-01: geometry[0] is a number, expected an object"
    )


# --- polygon repairs -----------------------------------------------------------------------------


def repaired(ring: list[list[float]]) -> ZoneImport:
    return read_zones(
        ed269_text(
            ed269_zone(
                geometry=_volume(horizontalProjection={"type": "Polygon", "coordinates": [ring]})
            )
        ),
        "zones.json",
    )


def test_symmetric_bow_tie_is_refused() -> None:
    """Two corners of a square swapped: the triangles or the square? Not guessed."""
    with pytest.raises(ComplianceError) as caught:
        repaired([[4, 50], [4.01, 50.01], [4.01, 50], [4, 50.01], [4, 50]])
    assert str(caught.value).startswith(
        "zones.json: zone EBBR-01: geometry[0].horizontalProjection.coordinates: polygon is "
        "self-intersecting and cannot be repaired unambiguously (Self-intersection"
    )


def test_bow_tie_with_a_tiny_lobe_is_split() -> None:
    """A vertex pushed just past an edge: the drawn area is kept within 1 %."""
    found = repaired([[0, 0], [10, 0], [0, 10], [0.1, 10], [0, 0]])
    (z,) = found.zones
    assert len(z.volumes) == 2
    assert all(v.upper == Limit(120.0, "AGL", "m") for v in z.volumes)
    assert (
        "zone EBBR-01: geometry[0].horizontalProjection.coordinates: self-intersecting ring "
        "repaired (split into 2 polygons)" in found.notes
    )


def test_spike_is_removed() -> None:
    found = repaired([[0, 0], [2, 0], [2, 2], [1, 2], [1, 3], [1, 2], [0, 2], [0, 0]])
    (z,) = found.zones
    (ring,) = z.volumes[0].rings
    assert (1.0, 3.0) not in ring
    assert len(set(ring)) == 5
    assert any("spike removed" in n for n in found.notes)


def test_unclosed_ring_and_repeated_point() -> None:
    found = repaired([[0, 0], [1, 0], [1, 0], [1, 1], [0, 1]])
    ring = found.zones[0].volumes[0].rings[0]
    assert ring == ((0, 0), (1, 0), (1, 1), (0, 1), (0, 0))
    assert found.notes == (
        "zone EBBR-01: geometry[0].horizontalProjection.coordinates[0]: repeated point [1, 0] removed",
        "zone EBBR-01: geometry[0].horizontalProjection.coordinates[0]: polygon ring closed",
    )


def test_flat_polygon_is_refused() -> None:
    with pytest.raises(ComplianceError, match="cannot be repaired unambiguously"):
        repaired([[0, 0], [1, 0], [2, 0], [0, 0]])


# --- round trip ----------------------------------------------------------------------------------

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
langs = st.sampled_from(["en", "nl", "fr", "de", "en-gb"])
texts = st.dictionaries(langs, words, max_size=3)


@st.composite
def volumes(draw: st.DrawFn) -> Volume:
    lower = draw(
        st.one_of(
            st.just(GROUND),
            st.builds(
                Limit,
                st.floats(0, 50),
                st.sampled_from(["AGL", "AMSL"]),
                st.sampled_from(["m", "ft"]),
            ),
        )
    )
    upper = draw(
        st.one_of(
            st.just(NO_CEILING),
            st.builds(
                Limit,
                st.one_of(st.none(), st.floats(200, 1e5)),
                st.sampled_from(["AGL", "AMSL"]),
                st.sampled_from(["m", "ft"]),
            ),
        )
    )
    lon = draw(st.floats(-170, 170))
    lat = draw(st.floats(-80, 80))
    if draw(st.booleans()):
        return Volume(
            center=(lon, lat), radius_m=draw(st.floats(0.5, 1e5)), lower=lower, upper=upper
        )
    w, h = draw(st.floats(1e-4, 1)), draw(st.floats(1e-4, 1))
    ring = ((lon, lat), (lon + w, lat), (lon + w, lat + h), (lon, lat + h), (lon, lat))
    return Volume(rings=(ring,), lower=lower, upper=upper)


clock = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
bounds = st.one_of(clock, st.sampled_from(SUN_EVENTS))
periods = st.builds(
    DailyPeriod,
    st.frozensets(st.integers(0, 6), min_size=1),
    bounds,
    st.one_of(bounds, st.just("24:00")),
)
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@st.composite
def windows(draw: st.DrawFn) -> Applicability:
    start = draw(st.one_of(st.none(), instants))
    end = draw(st.one_of(st.none(), st.timedeltas(timedelta(seconds=1), timedelta(days=900))))
    end_at = (start or datetime(2000, 1, 1, tzinfo=UTC)) + end if end is not None else None
    return Applicability(start, end_at, tuple(draw(st.lists(periods, max_size=3))))


authorities = st.builds(
    Authority,
    name=st.one_of(st.just(""), words),
    purpose=st.sampled_from(["AUTHORISATION", "NOTIFICATION", "INFORMATION"]),
    service=st.one_of(st.just(""), words),
    contact=st.one_of(st.just(""), words),
    email=st.one_of(st.just(""), words),
    phone=st.one_of(st.just(""), words),
    site_url=st.one_of(st.just(""), words),
    interval_before=st.one_of(st.none(), st.timedeltas(timedelta(0), timedelta(days=60))),
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        words,
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
    max_leaves=8,
)
zones = st.builds(
    Zone,
    identifier=st.text("abcXYZ019-_.", min_size=1, max_size=10),
    restriction=st.sampled_from(RESTRICTIONS),
    volumes=st.lists(volumes(), min_size=1, max_size=3).map(tuple),
    names=texts,
    reasons=st.lists(st.sampled_from(REASONS), unique=True, max_size=3).map(tuple),
    applicability=st.lists(windows(), max_size=2).map(tuple),
    message=texts,
    conditions=st.lists(words, max_size=2).map(tuple),
    authorities=st.lists(authorities, max_size=2).map(tuple),
    camera=st.one_of(
        st.none(),
        st.builds(
            CameraPolicy,
            st.sampled_from(["no_capture", "no_overflight", "buffer"]),
            st.floats(0, 500),
        ),
    ),
    time_zone=st.one_of(st.none(), st.sampled_from(["Europe/Brussels", "UTC", "Australia/Sydney"])),
    extra=st.dictionaries(words, json_values, max_size=3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(zones, max_size=4, unique_by=lambda z: z.identifier))
def test_geojson_round_trip(zone_list: list[Zone]) -> None:
    found = read_zones(json.dumps(zones_to_geojson(zone_list)), "round.geojson")
    assert found.zones == tuple(zone_list)
    assert found.format == "geojson"
    assert found.notes == ()


# --- import hygiene ------------------------------------------------------------------------------


def test_import_loads_no_shapely() -> None:
    code = "import sys, compliance.sources; print('shapely' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_documented_example_reads() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "zones.md").read_text(encoding="utf-8")
    example = doc.split("```json\n", 1)[1].split("```", 1)[0]
    found = read_zones(example, "example.geojson")
    (z,) = found.zones
    assert (z.identifier, len(z.volumes), z.camera) == (
        "city-hall",
        2,
        CameraPolicy("buffer", 25.0),
    )
    assert found.notes == ()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["ed269_features.json", "ed318.geojson", "zones.geojson"]),
    data=st.data(),
)
def test_any_damaged_value_gives_zones_or_one_line(name: str, data: st.DataObject) -> None:
    """Replace one value anywhere in a good file: all zones come back, or one error line."""
    doc = json.loads((DATA / name).read_text(encoding="utf-8"))
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(json_values)
    try:
        found = read_zones(json.dumps(doc), name)
    except ComplianceError as exc:
        assert str(exc).startswith(f"{name}: ") and "\n" not in str(exc)
    else:
        assert all(isinstance(z, Zone) for z in found.zones)


def test_the_sample_city_zones_read_without_notes():
    from compliance.sources import sample_zones_text

    found = read_zones(sample_zones_text(), "sample_zones.geojson")
    assert found.notes == () and found.format == "geojson"
    ids = {z.identifier: z for z in found.zones}
    assert set(ids) == {"SKY-AD1", "SKY-HOSP-HELI", "SKY-SCHOOL-7", "SKY-RES-ELM", "SKY-EVENT-0512"}
    assert ids["SKY-SCHOOL-7"].camera is not None and ids["SKY-SCHOOL-7"].applicability
    assert ids["SKY-HOSP-HELI"].restriction == "PROHIBITED"
    assert ids["SKY-AD1"].names["es"].startswith("Zona")
