"""Mission file formats: round trips, files other tools write and read, and bad input."""

import itertools
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymavlink import mavwp

from mission import items as it
from mission.analysis import analyse
from mission.camera import PRESETS, Camera
from mission.errors import MissionError
from mission.formats import EXTENSIONS, PER_SORTIE, output_names, parse, render
from mission.items import Cmd, Frame, MissionItem
from mission.plan import (
    Capture,
    FenceCircle,
    FencePolygon,
    Geofence,
    Home,
    Plan,
    RallyPoint,
    Target,
    Vehicle,
)

HOME = Home(lat_deg=-35.363261, lon_deg=149.165230, alt_amsl_m=584.09)
AREA = {
    "type": "Polygon",
    "coordinates": [
        [[149.1650, -35.3630], [149.1660, -35.3630], [149.1660, -35.3637], [149.1650, -35.3630]]
    ],
}
ALL_AT_ONCE = [e for e in EXTENSIONS if e not in PER_SORTIE]


def sortie_one() -> tuple[MissionItem, ...]:
    return (
        it.takeoff(30.0),
        it.change_speed(5.5),
        it.gimbal_pitch(-90.0),
        it.waypoint(-35.3631, 149.16531, 30.0),
        it.trigger_distance(12.345678901234),
        it.waypoint(-35.36283333333333, 149.1657123456789, 30.25, hold_s=1.5),
        it.trigger_distance(0.0),
        it.roi_location(-35.3633, 149.1655, 2.5),
        it.condition_yaw(370.0),
        it.roi_none(),
        MissionItem(Cmd.NAV_WAYPOINT, Frame.GLOBAL, 0, 0, 0, 0, -35.3629, 149.1651, 640.5, False),
        it.return_to_launch(),
    )


def sortie_two() -> tuple[MissionItem, ...]:
    return (
        it.takeoff(40.0),
        it.waypoint(-35.3635, 149.1659, 40.0, hold_s=2.0),
        it.capture_one(),
        MissionItem(4242, 2, 1.0, 2.0, 3.0, 4.0),  # a command skyledger does not know
        it.return_to_launch(),
    )


def make_plan(sorties: int = 2) -> Plan:
    return Plan(
        home=HOME,
        sorties=(sortie_one(), sortie_two())[:sorties],
        pattern="survey",
        name='Bridge 7 <east> & "pier"',
        camera=PRESETS["phantom4-rtk"],
        capture=Capture(30.0, 0.75, 0.65, 0.82, 12.345678901234, 20.1, -90.0),
        target=Target("area", AREA),
        vehicle=Vehicle(name="x8", cruise_speed_ms=8.0, endurance_s=900.0),
        geofence=Geofence(
            polygons=(
                FencePolygon(((149.164, -35.362), (149.167, -35.362), (149.167, -35.365))),
                FencePolygon(
                    ((149.1655, -35.3634), (149.1657, -35.3634), (149.1656, -35.3636)), False
                ),
            ),
            circles=(FenceCircle(149.1652, -35.3632, 25.0, inclusion=False),),
        ),
        rally=(RallyPoint(-35.3634, 149.1649, 20.0), RallyPoint(-35.3629, 149.1661, 25.5)),
        settings={"gsd_cm": 0.82, "angle_deg": None, "crosshatch": False, "tags": ["a", "b"]},
        revision=2,
        derived_from="sha256:" + "ab" * 32,
    )


def one_sortie(plan: Plan, index: int) -> Plan:
    return replace(plan, sorties=(plan.sorties[index],))


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ALL_AT_ONCE)
@pytest.mark.parametrize("sorties", [1, 2])
def test_one_file_formats_round_trip(ext: str, sorties: int) -> None:
    plan = make_plan(sorties)
    texts = render(plan, ext)
    assert len(texts) == 1
    assert parse(texts[0], ext, "plan" + ext) == plan


def test_plan_files_hold_one_sortie_each_and_lose_nothing() -> None:
    plan = make_plan(2)
    texts = render(plan, ".plan")
    assert len(texts) == 2
    for index, text in enumerate(texts):
        assert parse(text, ".plan") == one_sortie(plan, index)
        doc = json.loads(text)
        assert doc["fileType"] == "Plan" and doc["version"] == 1
        assert doc["groundStation"] == "skyledger"
        mission = doc["mission"]
        assert (mission["version"], mission["firmwareType"], mission["vehicleType"]) == (2, 3, 2)
        assert mission["plannedHomePosition"] == [HOME.lat_deg, HOME.lon_deg, HOME.alt_amsl_m]
        assert [i["doJumpId"] for i in mission["items"]] == list(
            range(1, len(plan.sorties[index]) + 1)
        )
        assert all(i["type"] == "SimpleItem" and len(i["params"]) == 7 for i in mission["items"])
        assert doc["skyledger"]["sortie"] == index + 1
        assert doc["skyledger"]["sortie_count"] == 2
        assert doc["geoFence"]["polygons"][0]["polygon"][0] == [-35.362, 149.164]  # lat, lon
        assert doc["rallyPoints"]["points"][0] == [-35.3634, 149.1649, 20.0]


def test_waypoints_keep_home_and_items() -> None:
    plan = make_plan(2)
    texts = render(plan, ".waypoints")
    assert len(texts) == 2
    for index, text in enumerate(texts):
        back = parse(text, ".waypoints")
        assert back.home == plan.home
        assert back.sorties == (plan.sorties[index],)
        assert back.pattern == "imported" and back.camera is None
    lines = texts[0].splitlines()
    assert lines[0] == "QGC WPL 110"
    assert lines[1].split("\t")[:4] == ["0", "1", "0", "16"]
    assert lines[1].split("\t")[8:] == ["-35.363261", "149.16523", "584.09", "1"]
    assert all(len(line.split("\t")) == 12 for line in lines[1:])


def test_pymavlink_loads_every_waypoints_file(tmp_path) -> None:
    plan = make_plan(2)
    for index, text in enumerate(render(plan, ".waypoints")):
        path = tmp_path / f"out-s{index + 1}.waypoints"
        path.write_text(text)
        loader = mavwp.MAVWPLoader()
        assert loader.load(str(path)) == len(plan.sorties[index]) + 1
        home = loader.wp(0)
        assert (home.x, home.y, home.z) == (HOME.lat_deg, HOME.lon_deg, HOME.alt_amsl_m)
        for seq, item in enumerate(plan.sorties[index], start=1):
            wp = loader.wp(seq)
            assert (wp.seq, wp.command, wp.frame) == (seq, item.command, item.frame)
            assert (wp.x, wp.y, wp.z) == (item.lat_deg, item.lon_deg, item.alt_m)
            assert (wp.param1, wp.param4) == (item.param1, item.param4)


def test_geojson_is_rfc7946_with_a_route_and_a_feature_per_item() -> None:
    plan = make_plan(2)
    doc = json.loads(render(plan, ".geojson")[0])
    assert doc["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in doc["features"]]
    assert kinds.count("route") == 2
    assert kinds.count("item") == len(plan.items)
    routes = [f for f in doc["features"] if f["properties"]["kind"] == "route"]
    assert routes[0]["geometry"]["coordinates"][0] == [HOME.lon_deg, HOME.lat_deg, 0.0]
    items = [f for f in doc["features"] if f["properties"]["kind"] == "item"]
    wp = items[3]
    assert wp["geometry"] == {"type": "Point", "coordinates": [149.16531, -35.3631, 30.0]}
    assert wp["properties"]["seq"] == 4 and wp["properties"]["sortie"] == 1
    assert items[1]["geometry"] is None  # DO_CHANGE_SPEED has no position
    assert items[1]["properties"]["params"] == [1, 5.5, -1, 0]
    assert doc["skyledger"]["home"]["alt_amsl_m"] == HOME.alt_amsl_m


def test_photo_footprints_come_from_the_analysis() -> None:
    plan = make_plan(1)
    footprints = [f for f in analyse(plan).footprints if f is not None]
    assert footprints, "the test plan should take photos looking down"
    doc = json.loads(render(plan, ".geojson")[0])
    photos = [f for f in doc["features"] if f["properties"]["kind"] == "photo"]
    assert len(photos) == len(footprints)
    ring = photos[0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and {tuple(c) for c in ring} == set(footprints[0])
    shoelace = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
    assert shoelace > 0  # RFC 7946: exterior rings counter-clockwise
    assert photos[0]["properties"]["sortie"] == 1  # sorties count from 1 in every file
    assert photos[0]["properties"]["pitch_deg"] == -90.0
    kml = render(plan, ".kml")[0]
    assert kml.count("<value>photo</value>") == len(footprints)
    no_camera = replace(plan, camera=None)
    assert '"photo"' not in render(no_camera, ".geojson")[0]
    assert parse(render(no_camera, ".kml")[0], ".kml") == no_camera


def test_kml_is_namespaced_escaped_and_has_a_folder_per_sortie() -> None:
    text = render(make_plan(2), ".kml")[0]
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    assert root.tag == "{http://www.opengis.net/kml/2.2}kml"
    names = [n.text for n in root.findall("k:Document/k:Folder/k:name", ns)]
    assert names[:2] == ["Sortie 1", "Sortie 2"]
    assert root.find("k:Document/k:name", ns).text == 'Bridge 7 <east> & "pier"'
    assert "&lt;east&gt; &amp;" in text
    route = root.find("k:Document/k:Folder/k:Placemark/k:LineString", ns)
    assert route.find("k:altitudeMode", ns).text == "relativeToGround"


def test_a_planned_survey_round_trips_in_every_format() -> None:
    from mission.survey import plan_survey

    plan = plan_survey(AREA, PRESETS["phantom4-rtk"], gsd_cm=2.0, home=HOME, name="deck")
    for ext in EXTENSIONS:
        texts = render(plan, ext)
        back = [parse(text, ext, f"s{i}{ext}") for i, text in enumerate(texts)]
        if ext == ".waypoints":
            assert [b.sorties[0] for b in back] == list(plan.sorties)
        elif ext == ".plan":
            assert back == [one_sortie(plan, i) for i in range(len(plan.sorties))]
        else:
            assert back == [plan]


def test_exports() -> None:
    import mission.formats

    assert all(hasattr(mission.formats, name) for name in mission.formats.__all__)


def test_output_names() -> None:
    assert output_names("out/bridge", ".plan", 1) == ["out/bridge.plan"]
    assert output_names("out/bridge", ".waypoints", 3) == [
        "out/bridge-s1.waypoints",
        "out/bridge-s2.waypoints",
        "out/bridge-s3.waypoints",
    ]
    assert output_names("bridge.kml", "KML", 1) == ["bridge.kml"]


# --- hypothesis: random items survive every format ---------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
mission_items = st.builds(
    MissionItem,
    command=st.sampled_from(list(Cmd)) | st.integers(0, 65535),
    frame=st.sampled_from(list(Frame)) | st.integers(0, 255),
    param1=finite,
    param2=finite,
    param3=finite,
    param4=finite,
    lat_deg=st.floats(-90, 90),
    lon_deg=st.floats(-180, 180),
    alt_m=st.floats(-1e5, 1e5),
    autocontinue=st.booleans(),
)
homes = st.builds(Home, st.floats(-90, 90), st.floats(-180, 180), st.floats(-1000, 10000))
sortie_lists = st.lists(mission_items, min_size=1, max_size=6).map(tuple)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(home=homes, sorties=st.lists(sortie_lists, min_size=1, max_size=3).map(tuple))
@pytest.mark.parametrize("ext", EXTENSIONS)
def test_random_items_round_trip(ext: str, home: Home, sorties: tuple) -> None:
    plan = Plan(home=home, sorties=sorties if ext not in PER_SORTIE else sorties[:1])
    texts = render(plan, ext)
    assert len(texts) == (1 if ext not in PER_SORTIE else len(plan.sorties))
    back = parse(texts[0], ext, "random" + ext)
    assert back.home == plan.home
    assert back.sorties == plan.sorties
    assert back == plan


# --- files other tools write --------------------------------------------------------------------

QGC_SURVEY_PLAN = """{
    "fileType": "Plan",
    "groundStation": "QGroundControl",
    "mission": {
        "cruiseSpeed": 15,
        "firmwareType": 3,
        "globalPlanAltitudeMode": 1,
        "hoverSpeed": 6,
        "items": [
            {"AMSLAltAboveTerrain": null, "Altitude": 50, "AltitudeMode": 1,
             "autoContinue": true, "command": 22, "doJumpId": 1, "frame": 3,
             "params": [0, 0, 0, null, -35.3632, 149.1652, 50], "type": "SimpleItem"},
            {
                "TransectStyleComplexItem": {
                    "CameraCalc": {"AdjustedFootprintFrontal": 25, "AdjustedFootprintSide": 40,
                                   "CameraName": "Manual (no camera specs)",
                                   "DistanceToSurface": 50, "DistanceMode": 1, "version": 2},
                    "CameraShots": 6,
                    "CameraTriggerInTurnAround": true,
                    "HoverAndCapture": false,
                    "Items": [
                        {"autoContinue": true, "command": 16, "doJumpId": 2, "frame": 3,
                         "params": [0, 0, 0, null, -35.3630, 149.1650, 50], "type": "SimpleItem"},
                        {"autoContinue": true, "command": 206, "doJumpId": 3, "frame": 2,
                         "params": [25, 0, 1, 0, 0, 0, 0], "type": "SimpleItem"},
                        {"autoContinue": true, "command": 16, "doJumpId": 4, "frame": 3,
                         "params": [0, 0, 0, null, -35.3630, 149.1660, 50], "type": "SimpleItem"},
                        {"autoContinue": true, "command": 206, "doJumpId": 5, "frame": 2,
                         "params": [0, 0, 0, 0, 0, 0, 0], "type": "SimpleItem"}
                    ],
                    "Refly90Degrees": false,
                    "TurnAroundDistance": 10,
                    "VisualTransectPoints": [[-35.3630, 149.1650], [-35.3630, 149.1660]],
                    "version": 1
                },
                "angle": 90,
                "complexItemType": "survey",
                "entryLocation": 0,
                "flyAlternateTransects": false,
                "polygon": [[-35.3629, 149.1649], [-35.3629, 149.1661], [-35.3631, 149.1661]],
                "splitConcavePolygons": false,
                "type": "ComplexItem",
                "version": 5
            },
            {"autoContinue": true, "command": 20, "doJumpId": 6, "frame": 2,
             "params": [0, 0, 0, 0, 0, 0, 0], "type": "SimpleItem"}
        ],
        "plannedHomePosition": [-35.363261, 149.16523, 584.1],
        "vehicleType": 2,
        "version": 2
    },
    "rallyPoints": {"points": [[-35.3634, 149.1649, 20]], "version": 2},
    "version": 1
}
"""


def test_reads_a_qgroundcontrol_survey_plan() -> None:
    plan = parse(QGC_SURVEY_PLAN, ".plan", "survey.plan")
    assert plan.home == Home(-35.363261, 149.16523, 584.1)
    assert plan.pattern == "imported" and plan.camera is None
    assert [i.command for i in plan.items] == [22, 16, 206, 16, 206, 20]
    assert plan.items[0] == MissionItem(22, 3, 0, 0, 0, 0, -35.3632, 149.1652, 50)  # null -> 0
    assert plan.items[3].lon_deg == 149.1660
    assert plan.items[2].param1 == 25
    assert plan.geofence == Geofence()  # no geoFence section
    assert plan.rally == (RallyPoint(-35.3634, 149.1649, 20),)
    assert plan.vehicle.cruise_speed_ms == 6  # a quadrotor flies at hoverSpeed


def test_reads_older_qgroundcontrol_items_with_a_coordinate() -> None:
    doc = json.loads(QGC_SURVEY_PLAN)
    doc["mission"]["items"] = [
        {
            "autoContinue": True,
            "command": 16,
            "coordinate": [-35.36, 149.16, 20],
            "doJumpId": 1,
            "frame": 3,
            "params": [0, 0, 0, None],
            "type": "SimpleItem",
        }
    ]
    doc["geoFence"] = {"polygons": [], "version": 2}
    plan = parse(json.dumps(doc), ".plan")
    assert plan.items == (MissionItem(16, 3, 0, 0, 0, 0, -35.36, 149.16, 20),)


def test_reads_mission_planner_waypoints_with_spaces_and_blank_lines() -> None:
    text = (
        "QGC WPL 110\r\n"
        "0 1 0 16 0 0 0 0 47.660459 -122.103167 5.210000 1\r\n"
        "# a comment\r\n"
        "1\t0\t3\t22\t0.000000\t0.000000\t0.000000\t0.000000\t0\t0\t20.000000\t1\r\n"
        "2  0  3  16  0.0 0.0 0.0 0.0  47.661298  -122.103274  100.000000  1\r\n"
        "\r\n\r\n"
    )
    plan = parse(text, ".waypoints", "mp.waypoints")
    assert plan.home == Home(47.660459, -122.103167, 5.21)
    assert plan.items == (it.takeoff(20.0), it.waypoint(47.661298, -122.103274, 100.0))


def test_reads_qgc_wpl_100() -> None:
    # seq frame action p3 p4 p1 p2 current lon lat alt (unused) autocontinue
    text = (
        "QGC WPL 100\n"
        "0 0 25 0 0 0 0 1 8.5456 47.3977 488 0 1\n"
        "1 3 25 0 0 2.5 0 0 8.5460 47.3980 30 0 1\n"
    )
    plan = parse(text, ".waypoints")
    assert plan.home == Home(47.3977, 8.5456, 488)
    assert plan.items == (MissionItem(16, 3, 2.5, 0, 0, 0, 47.3980, 8.5460, 30),)


# --- bad input: one line that names the file, the value and what would do ----------------------


def _error(text: str, ext: str) -> str:
    with pytest.raises(MissionError) as info:
        parse(text, ext, "bad" + ext)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("bad" + ext)
    return message


@pytest.mark.parametrize("ext", [".json", ".plan", ".geojson"])
def test_not_json(ext: str) -> None:
    assert "not valid JSON" in _error("{ nope", ext)
    assert "NaN" in _error('{"a": NaN}', ext)


def test_unknown_extension() -> None:
    with pytest.raises(MissionError, match=r"'\.txt'.*\.json, \.plan, \.waypoints"):
        render(make_plan(1), ".txt")
    with pytest.raises(MissionError, match="unknown mission file extension"):
        parse("", "docx")


def test_bad_qgc_plans() -> None:
    assert "fileType 'Mission' is not 'Plan'" in _error('{"fileType": "Mission"}', ".plan")
    assert "fileType 'list'" in _error("[]", ".plan")
    doc = json.loads(QGC_SURVEY_PLAN)
    del doc["mission"]["items"]
    assert "mission.items is missing" in _error(json.dumps(doc), ".plan")
    doc["mission"]["items"] = []
    assert "mission.items is empty" in _error(json.dumps(doc), ".plan")
    doc = json.loads(QGC_SURVEY_PLAN)
    doc["mission"]["items"][1]["TransectStyleComplexItem"]["Items"][2]["params"][4] = "north"
    message = _error(json.dumps(doc), ".plan")
    assert "mission.items[1].TransectStyleComplexItem.Items[2].params[4]" in message
    assert "'north'" in message
    doc["mission"]["items"][1] = {"type": "ComplexItem", "complexItemType": "StructureScan"}
    assert "'StructureScan' stores no mission items" in _error(json.dumps(doc), ".plan")
    doc["mission"]["items"][1] = {"type": "Waypoint"}
    assert "type 'Waypoint' is not 'SimpleItem'" in _error(json.dumps(doc), ".plan")
    doc = json.loads(QGC_SURVEY_PLAN)
    doc["mission"]["items"][0]["params"][4] = 95.0
    assert "latitude 95.0 is outside -90..90" in _error(json.dumps(doc), ".plan")


def test_bad_skyledger_json() -> None:
    doc = json.loads(render(make_plan(1), ".json")[0])
    assert "schema 'other' is not 'skyledger.plan'" in _error(
        json.dumps(doc | {"schema": "other"}), ".json"
    )
    assert "version 2 is newer" in _error(json.dumps(doc | {"version": 2}), ".json")
    bad = json.loads(json.dumps(doc))
    bad["sorties"][0][3]["lat_deg"] = "-35.36"
    message = _error(json.dumps(bad), ".json")
    assert "sorties[0][3].lat_deg" in message and "valid number" in message
    bad = doc | {"pattern": "spiral"}
    assert "pattern" in _error(json.dumps(bad), ".json")
    bad = doc | {"sorties": []}
    assert "sorties" in _error(json.dumps(bad), ".json")
    bad = doc | {"vehicle": {"cruise_speed_ms": -1}}
    assert "cruise_speed_ms -1.0 must be a number > 0" in _error(json.dumps(bad), ".json")
    bad = doc | {"unexpected": 1}
    assert "unexpected: Extra inputs are not permitted" in _error(json.dumps(bad), ".json")


def test_bad_waypoints() -> None:
    good = render(make_plan(1), ".waypoints")[0]
    lines = good.splitlines()
    fields = lines[3].split("\t")
    fields[8] = "12,5"
    lines[3] = "\t".join(fields)
    message = _error("\n".join(lines), ".waypoints")
    assert "line 4" in message and "lat '12,5' is not a finite number" in message
    lines[3] = "3\t0\t2\t178"
    assert "line 4: 4 fields, expected 12" in _error("\n".join(lines), ".waypoints")
    lines[3] = "3\t0\t2\tjump\t0\t0\t0\t0\t0\t0\t0\t1"
    assert "command 'jump' is not an integer" in _error("\n".join(lines), ".waypoints")
    assert "expected 'QGC WPL 110'" in _error("QGC WPL 120\n", ".waypoints")
    assert "no mission items" in _error(lines[0] + "\n" + lines[1] + "\n", ".waypoints")


def test_bad_kml() -> None:
    doctype = '<?xml version="1.0"?>\n<!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    assert "DOCTYPE" in _error(doctype + "<kml>&x;</kml>", ".kml")
    assert "not well-formed XML" in _error("<kml><Document></kml>", ".kml")
    assert "root element <gpx>" in _error("<gpx/>", ".kml")
    assert "no mission items" in _error("<kml><Document/></kml>", ".kml")
    good = render(make_plan(1), ".kml")[0]
    bad = good.replace("<value>30.25</value>", "<value>high</value>", 1)
    message = _error(bad, ".kml")
    assert re.search(
        r"Placemark \d+ \('6 NAV_WAYPOINT'\): alt_m 'high' is not a finite number", message
    )
    bad = good.replace('"version": 1', '"version": 9', 1)
    assert "skyledger.version 9 is newer" in _error(bad, ".kml")


def test_bad_geojson() -> None:
    assert "type: Input should be 'FeatureCollection'" in _error('{"type": "Feature"}', ".geojson")
    empty = '{"type": "FeatureCollection", "features": []}'
    assert "no mission items" in _error(empty, ".geojson")
    doc = json.loads(render(make_plan(1), ".geojson")[0])
    doc["features"][3]["properties"]["params"] = [0, 0, 0]
    message = _error(json.dumps(doc), ".geojson")
    assert "features[3].properties.params" in message


def test_a_qgroundcontrol_survey_with_camera_specs_gets_gsd_and_coverage() -> None:
    from mission.analysis import analyse

    doc = json.loads(QGC_SURVEY_PLAN)
    calc = doc["mission"]["items"][1]["TransectStyleComplexItem"]["CameraCalc"]
    calc.update(
        CameraName="DJI Phantom 4 RTK",
        SensorWidth=13.2,
        SensorHeight=8.8,
        ImageWidth=5472,
        ImageHeight=3648,
        FocalLength=8.8,
        Landscape=False,
        MinTriggerInterval=2,
    )
    plan = parse(json.dumps(doc), ".plan", "survey.plan")
    assert plan.pattern == "survey" and plan.target is not None and plan.target.kind == "area"
    # portrait in QGroundControl: the image's long side along the flight, so turned round here
    assert plan.camera == Camera("DJI Phantom 4 RTK", 8.8, 13.2, 3648, 5472, 8.8, 2.0)
    metrics = analyse(plan).metrics
    assert metrics.gsd_cm == pytest.approx(plan.camera.gsd_cm(50.0))
    assert metrics.coverage is not None and 0.0 < metrics.coverage <= 1.0
    # without the optics ("Manual (no camera specs)") nothing is guessed
    assert parse(QGC_SURVEY_PLAN, ".plan", "survey.plan").target is None
