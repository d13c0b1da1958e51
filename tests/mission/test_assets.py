"""Reading and validating the crews' input geometry, and the sample city."""

from __future__ import annotations

import json
import math

import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from mission import assets
from mission.assets import FeatureChoiceError, read_document, read_feature, read_geometry
from mission.errors import MissionError
from mission.geodesy import LocalFrame

HOME_LON, HOME_LAT = 149.165230, -35.363261

SQUARE = [
    [149.16, -35.36],
    [149.161, -35.36],
    [149.161, -35.361],
    [149.16, -35.361],
    [149.16, -35.36],
]


def poly(*rings: list[list[float]]) -> dict:
    return {"type": "Polygon", "coordinates": list(rings)}


def text(obj: object) -> str:
    return json.dumps(obj)


def feature(geometry: dict | None, **props: object) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


# --- GeoJSON inputs ---------------------------------------------------------------------------


def test_bare_geometry_feature_and_single_collection_give_the_same_geometry():
    g = poly(SQUARE)
    for doc in (g, feature(g, name="a"), {"type": "FeatureCollection", "features": [feature(g)]}):
        out = read_geometry(text(doc), "a.geojson", ("Polygon",))
        assert out["type"] == "Polygon"
        assert shapely.geometry.shape(out).equals(shapely.geometry.shape(g))


def test_polygon_is_closed_and_oriented_counter_clockwise():
    clockwise_open = SQUARE[:-1][::-1]
    out = read_geometry(text(poly(clockwise_open)), "a", ("Polygon",))
    ring = out["coordinates"][0]
    assert ring[0] == ring[-1]
    assert shapely.LinearRing(ring).is_ccw


def test_third_coordinate_is_dropped_and_repeated_vertices_removed():
    line = {
        "type": "LineString",
        "coordinates": [[149.1, -35.3, 5], [149.1, -35.3, 5], [149.2, -35.3, 7]],
    }
    out = read_geometry(text(line), "l", ("LineString",))
    assert out == {"type": "LineString", "coordinates": [[149.1, -35.3], [149.2, -35.3]]}


def test_single_part_multi_geometry_is_unwrapped():
    multi = {"type": "MultiPolygon", "coordinates": [[SQUARE]]}
    assert read_geometry(text(multi), "m", ("Polygon",))["type"] == "Polygon"


def test_feature_chosen_by_name_or_id_and_home_is_never_chosen_implicitly():
    fc = {
        "type": "FeatureCollection",
        "features": [
            feature(
                {"type": "Point", "coordinates": [HOME_LON, HOME_LAT]}, name="home", kind="home"
            ),
            {**feature(poly(SQUARE), name="deck"), "id": 7},
            feature({"type": "Point", "coordinates": [149.1, -35.3]}, name="tower", radius_m=6),
        ],
    }
    with pytest.raises(FeatureChoiceError, match=r"holds 2 features \(deck, tower\)") as info:
        read_geometry(text(fc), "city.geojson")
    assert info.value.names == ["deck", "tower"]
    assert read_geometry(text(fc), "c", feature="deck")["type"] == "Polygon"
    assert read_geometry(text(fc), "c", feature="7")["type"] == "Polygon"
    tower = read_feature(text(fc), "c", ("Point",), feature="tower")
    assert tower["properties"]["radius_m"] == 6
    fc["features"].pop(2)
    assert read_geometry(text(fc), "c")["type"] == "Polygon"  # home does not count


def test_find_home_reads_the_home_marker():
    doc = read_document(text(assets.sample_city()), "city")
    home = assets.find_home(doc, "city")
    assert home is not None
    assert home["geometry"]["coordinates"] == [HOME_LON, HOME_LAT]
    assert home["properties"]["alt_amsl_m"] == 584
    assert assets.find_home(read_document(text(poly(SQUARE)), "a"), "a") is None


# --- KML inputs --------------------------------------------------------------------------------

KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>district</name>
 <Placemark id="pm-deck"><name>deck</name>
  <ExtendedData><Data name="width_m"><value>15</value></Data></ExtendedData>
  <Polygon><outerBoundaryIs><LinearRing><coordinates>
    149.160,-35.360,0 149.161,-35.360,0 149.161,-35.361,0 149.160,-35.361,0 149.160,-35.360,0
  </coordinates></LinearRing></outerBoundaryIs>
  <innerBoundaryIs><LinearRing><coordinates>
    149.1604,-35.3604 149.1606,-35.3604 149.1606,-35.3606 149.1604,-35.3604
  </coordinates></LinearRing></innerBoundaryIs></Polygon>
 </Placemark>
 <Placemark><name>line</name><LineString><coordinates>149.1,-35.3 149.2,-35.3</coordinates></LineString></Placemark>
 <Placemark><name>mast</name><Point><coordinates>149.15,-35.35,12</coordinates></Point></Placemark>
</Document></kml>"""


def test_kml_placemarks_by_name_with_holes_and_extended_data():
    deck = read_feature(KML, "d.kml", ("Polygon",), feature="deck")
    assert len(deck["geometry"]["coordinates"]) == 2
    assert deck["properties"] == {"name": "deck", "width_m": 15.0}
    assert deck["id"] == "pm-deck"
    assert read_geometry(KML, "d.kml", feature="line")["type"] == "LineString"
    assert read_geometry(KML, "d.kml", feature="mast") == {
        "type": "Point",
        "coordinates": [149.15, -35.35],
    }


def test_kml_detected_by_content_or_told_by_fmt_and_without_namespace():
    bare = (
        "<kml><Placemark><LineString><coordinates>149.1,-35.3 149.2,-35.3"
        "</coordinates></LineString></Placemark></kml>"
    )
    assert read_geometry(bare, "x", ("LineString",))["type"] == "LineString"
    assert read_geometry(bare, "x", ("LineString",), fmt="kml")["type"] == "LineString"
    with pytest.raises(MissionError, match="not valid JSON"):
        read_geometry(bare, "x", fmt="geojson")


@pytest.mark.parametrize(
    ("kml", "message"),
    [
        ("<kml><Placemark>", r"x: not valid KML \(.*line 1"),
        ("<kml><Document/></kml>", "holds no <Placemark>"),
        ("<kml><Placemark><name>a</name></Placemark></kml>", "has no geometry"),
        (
            "<kml><Placemark><Point><coordinates>east,north</coordinates></Point></Placemark></kml>",
            "'east,north' are not lon,lat",
        ),
    ],
)
def test_kml_errors(kml: str, message: str):
    with pytest.raises(MissionError, match=message):
        read_geometry(kml, "x")


# --- validation messages -----------------------------------------------------------------------

BOWTIE = poly(
    [[149.16, -35.36], [149.161, -35.361], [149.161, -35.36], [149.16, -35.361], [149.16, -35.36]]
)


@pytest.mark.parametrize(
    ("doc", "kinds", "message"),
    [
        ('{"type": "Polygon",\n "coordinates": [}', ("Polygon",), r"not valid JSON \(.* at line 2"),
        ("", ("Polygon",), "is empty"),
        ("[1, 2]", ("Polygon",), "got a JSON list"),
        ('{"type": "Circle"}', ("Polygon",), "'Circle' is not GeoJSON"),
        (
            text({"type": "LineString", "coordinates": [[149.1, -35.3], [149.2, -35.3]]}),
            ("Polygon",),
            "expected Polygon, got LineString",
        ),
        (
            text(poly([[-35.36, 149.16], [-35.36, 149.17], [-35.37, 149.17]])),
            ("Polygon",),
            "latitude 149.16 is outside -90..90 .*swapped",
        ),
        (
            text({"type": "Point", "coordinates": [190.0, 10.0]}),
            ("Point",),
            "longitude 190.0 is outside -180..180",
        ),
        ('{"type": "Point", "coordinates": [NaN, 10]}', ("Point",), "not a finite number"),
        (
            text({"type": "Point", "coordinates": ["149", "-35"]}),
            ("Point",),
            "not a \\[longitude, latitude\\] number pair",
        ),
        (text(BOWTIE), ("Polygon",), r"self-intersection at lon 149.1605, lat -35.3605"),
        (
            text(poly(SQUARE[:2] + SQUARE[:1])),
            ("Polygon",),
            "has 2 distinct vertices; a polygon needs at least 3",
        ),
        (text(poly([[149.1, -35.3], [149.2, -35.3], [149.3, -35.3]])), ("Polygon",), "zero area"),
        (
            text(poly(SQUARE, [[150.0, -35.0], [150.1, -35.0], [150.1, -35.1], [150.0, -35.0]])),
            ("Polygon",),
            "hole lies outside shell",
        ),
        (text({"type": "Polygon", "coordinates": SQUARE}), ("Polygon",), "list of rings"),
        (
            text({"type": "LineString", "coordinates": [[149.1, -35.3], [149.1, -35.3]]}),
            ("LineString",),
            "zero length",
        ),
        (
            text({"type": "LineString", "coordinates": [[149.1, -35.3]]}),
            ("LineString",),
            "at least 2 positions",
        ),
        (text(feature(None)), ("Polygon",), r"has no geometry \(null\); expected Polygon"),
        (
            text({"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE]]}),
            ("Polygon",),
            "got MultiPolygon with 2 parts",
        ),
        (text({"type": "FeatureCollection", "features": []}), ("Polygon",), "holds no features"),
        (
            text({"type": "FeatureCollection", "features": [1]}),
            ("Polygon",),
            "feature 1: expected a GeoJSON Feature",
        ),
    ],
)
def test_bad_geometry_is_named_in_one_line(doc: str, kinds: tuple[str, ...], message: str):
    with pytest.raises(MissionError, match=message) as info:
        read_geometry(doc, "area.geojson", kinds)
    assert str(info.value).startswith("area.geojson")
    assert "\n" not in str(info.value)


def test_unknown_feature_name_lists_the_names():
    with pytest.raises(
        MissionError, match="no feature named 'bridge'; features: home, bridge-deck"
    ):
        read_geometry(text(assets.sample_city()), "city", feature="bridge")


# --- the sample city ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frame() -> LocalFrame:
    return LocalFrame(HOME_LON, HOME_LAT)


def local(frame: LocalFrame, geometry: dict) -> shapely.Geometry:
    return frame.geom_to_local(shapely.geometry.shape(geometry))


def test_sample_city_is_valid_rfc7946_with_the_promised_features():
    city = assets.sample_city()
    assert city["type"] == "FeatureCollection"
    names = [f["properties"]["name"] for f in city["features"]]
    assert names == ["home", "bridge-deck", "power-line", "water-tower", "facade", "park"]
    for f in city["features"]:
        props = f["properties"]
        assert {"name", "title", "kind"} <= props.keys()
        assert props["kind"] in ("home", "area", "corridor", "structure", "facade")
        checked = read_feature(json.dumps(city), "city", feature=props["name"])
        assert checked["geometry"] == f["geometry"]  # already clean: closed, ccw, 2D


def test_sample_city_geometry_sizes(frame: LocalFrame):
    def asset(name: str) -> tuple[shapely.Geometry, dict]:
        f = assets.sample_asset(name)
        return local(frame, f["geometry"]), f["properties"]

    home = assets.sample_asset("home")
    assert home["geometry"]["coordinates"] == [HOME_LON, HOME_LAT]
    assert home["properties"]["alt_amsl_m"] == 584

    deck, _ = asset("bridge-deck")
    rect = deck.minimum_rotated_rectangle
    sides = sorted(
        math.dist(a, b)
        for a, b in zip(rect.exterior.coords, rect.exterior.coords[1:], strict=False)
    )
    assert sides[0] == pytest.approx(15, abs=0.5)
    assert sides[-1] == pytest.approx(120, abs=0.5)

    line, props = asset("power-line")
    assert line.length == pytest.approx(600, abs=30)
    assert 2 <= len(line.coords) - 2 <= 3  # bends
    assert props["width_m"] > 0

    tower, props = asset("water-tower")
    assert tower.geom_type == "Point"
    assert props["radius_m"] == pytest.approx(6)
    assert props["height_m"] == pytest.approx(30)

    facade, props = asset("facade")
    assert 40 <= facade.length <= 60
    assert 1 <= len(facade.coords) - 1 <= 2
    assert props["height_min_m"] < props["height_max_m"]

    park, _ = asset("park")
    assert 3e4 <= park.area <= 6e4
    assert park.interiors or park.convex_hull.area > park.area * 1.05

    for f in assets.sample_city()["features"]:
        g = local(frame, f["geometry"])
        assert g.hausdorff_distance(shapely.Point(0, 0)) <= 1000  # every vertex within 1 km


def test_sample_asset_unknown_name():
    with pytest.raises(MissionError, match="sample city has no asset 'bridge'; assets: home, "):
        assets.sample_asset("bridge")


def test_sample_city_returns_fresh_copies():
    assets.sample_city()["features"].clear()
    assert len(assets.sample_city()["features"]) == 6


# --- properties --------------------------------------------------------------------------------


@given(
    lon=st.floats(-179.0, 179.0),
    lat=st.floats(-89.0, 89.0),
    w=st.floats(1e-5, 0.5),
    h=st.floats(1e-5, 0.5),
    clockwise=st.booleans(),
)
def test_any_rectangle_is_accepted_closed_and_counter_clockwise(
    lon: float, lat: float, w: float, h: float, clockwise: bool
):
    ring = [[lon, lat], [lon + w, lat], [lon + w, lat + h], [lon, lat + h]]
    if clockwise:
        ring.reverse()
    out = read_geometry(text(poly(ring)), "r", ("Polygon",))
    coords = out["coordinates"][0]
    assert coords[0] == coords[-1] and len(coords) == 5
    assert shapely.LinearRing(coords).is_ccw
    assert shapely.Polygon(coords).area == pytest.approx(w * h, rel=1e-6)


def test_asset_kml_with_an_entity_declaration_is_refused():
    text = '<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]><kml>&x;</kml>'
    with pytest.raises(MissionError, match="DOCTYPE or ENTITY declaration is not allowed"):
        read_geometry(text, "asset.kml")
