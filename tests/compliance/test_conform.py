"""Conformance of flown tracks, each made from a plan's paper flight and then spoiled on purpose."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from shapely.geometry import shape
from zonekit import (
    FRAME,
    HOME,
    SATURDAY,
    TUESDAY,
    circle,
    no_capture,
    rect,
    route_plan,
    weekends,
    zone,
)

from compliance.conform import CONFORM_RULES, Conformance, conform
from compliance.errors import ComplianceError
from compliance.rules import preset
from compliance.schedule import is_active
from compliance.zones import Applicability, CameraPolicy, DailyPeriod, Limit
from mission.analysis import analyse
from mission.camera import preset as camera
from mission.survey import plan_survey
from mission.track import CameraEvent, Track, TrackSample, read_track, track_to_csv

EU = preset("eu-open")
START = TUESDAY[0] + timedelta(minutes=5)
GROUND_S = 2.0  # on the ground before take-off
STEP_S = 0.5
#: Two lanes at 30 m, 200 m long, 50 m apart, camera on along them (and the link between).
#: Paper times after take-off (t from GROUND_S): climb 12 s, to (0, 100) 10 s, lane 1 20 s,
#: link 5 s, lane 2 20 s, home 15 s, descent.
LANES = route_plan((0, 100), (200, 100), (200, 150), (0, 150), trigger_m=20)
LANE1 = GROUND_S + 22.0  # time lane 1 starts at (0, 100)
LANE2 = GROUND_S + 47.0  # time lane 2 starts at (200, 150)


def paper_flight(plan, analysis=None):
    """Times (s) and local positions (n, 3) sampled every 0.5 s along the paper flight."""
    analysis = analysis or analyse(plan)
    v = plan.vehicle
    points, times = [], []
    t = 0.0
    for sortie in sorted({leg.sortie for leg in analysis.legs}):
        legs = [leg for leg in analysis.legs if leg.sortie == sortie]
        points.append(legs[0].start)
        times.append(t)
        t += GROUND_S
        points.append(legs[0].start)
        times.append(t)
        for leg in legs:
            a, b = np.asarray(leg.start), np.asarray(leg.end)
            dz = b[2] - a[2]
            duration = max(
                np.hypot(*(b - a)[:2]) / v.cruise_speed_ms,
                dz / v.climb_speed_ms if dz > 0 else -dz / v.descent_speed_ms,
            )
            if duration > 0:
                t += duration
                points.append(leg.end)
                times.append(t)
        t += GROUND_S  # on the ground after landing
        points.append(legs[-1].end)
        times.append(t)
    points, times = np.asarray(points, float), np.asarray(times)
    grid = np.arange(0.0, times[-1] + 1e-9, STEP_S)
    xyz = np.column_stack([np.interp(grid, times, points[:, k]) for k in range(3)])
    return grid, xyz


def make_track(grid, xyz, start=START, photos=None, home=None, source="flight.csv"):
    lon, lat = FRAME.to_wgs84(xyz[:, 0], xyz[:, 1])
    samples = [
        TrackSample(start + timedelta(seconds=float(t)), float(x), float(y), float(z))
        for t, x, y, z in zip(grid, lon, lat, xyz[:, 2], strict=True)
    ]
    events = []
    for t, (x, y, z) in sorted(photos or []):
        plon, plat = FRAME.point_to_wgs84(x, y)
        events.append(CameraEvent(start + timedelta(seconds=float(t)), plon, plat, z))
    home = home or (HOME.lon_deg, HOME.lat_deg, HOME.alt_amsl_m)
    return Track(tuple(samples), tuple(events), home, source)


def planned_photos(analysis, grid, xyz):
    """The plan's photos, each timed at the nearest sample of the flight."""
    out = []
    for p in analysis.photos:
        k = int(np.argmin(np.linalg.norm(xyz - [p.x_m, p.y_m, p.alt_rel_m], axis=1)))
        out.append((float(grid[k]), (p.x_m, p.y_m, p.alt_rel_m)))
    return out


def flight(plan=LANES, start=START, **kwargs):
    analysis = analyse(plan)
    grid, xyz = paper_flight(plan, analysis)
    return grid, xyz, planned_photos(analysis, grid, xyz)


def rules_of(result):
    return sorted(d.rule_id for d in result.deviations)


def at(t):
    return START + timedelta(seconds=t)


# --- the paper flight conforms --------------------------------------------------------------


def test_the_paper_flight_conforms_with_nothing_off_and_everything_covered():
    grid, xyz, photos = flight()
    result = conform(LANES, make_track(grid, xyz, photos=photos), [], EU, TUESDAY)
    assert result.conforms and result.deviations == ()
    assert result.cross_track_max_m < 0.01 and result.cross_track_p95_m < 0.01
    assert result.altitude_above_max_m < 0.01 and result.altitude_below_max_m < 0.01
    assert result.coverage_flown == 1.0
    assert result.photos == len(photos) > 10 and result.photos_in_no_capture == 0
    airborne = grid[xyz[:, 2] >= 0.5]
    assert result.airborne_s == pytest.approx(airborne[-1] - airborne[0])
    assert result.ceiling_excess_max_m == 0 and result.outside_window_s == 0


def test_a_survey_flown_as_planned_conforms():
    area = shapely.to_geojson(FRAME.geom_to_wgs84(shapely.box(60, -150, 260, 50)))
    plan = plan_survey(json.loads(area), camera("mavic3-enterprise"), gsd_cm=2.0, home=HOME)
    grid, xyz, photos = flight(plan)
    result = conform(plan, make_track(grid, xyz, photos=photos), [], EU)
    assert result.conforms, result.deviations
    assert result.coverage_flown == 1.0 and result.cross_track_max_m < 0.01


def test_two_landings_do_not_count_the_time_on_the_ground_as_airborne():
    grid, xyz, _ = flight()
    once = conform(LANES, make_track(grid, xyz), [], EU)
    ground = np.column_stack([np.zeros((120, 2)), np.zeros(120)])  # 60 s landed at home
    twice_xyz = np.concatenate([xyz, ground, xyz])
    twice_grid = np.arange(len(twice_xyz)) * STEP_S
    twice = conform(LANES, make_track(twice_grid, twice_xyz), [], EU)
    assert twice.conforms
    assert twice.airborne_s == pytest.approx(2 * once.airborne_s)


# --- departures from the route ---------------------------------------------------------------


def test_a_stretch_flown_15_m_sideways_is_one_cross_track_deviation_with_its_span():
    grid, xyz, _ = flight()
    moved = (grid >= LANE1 + 6) & (grid <= LANE1 + 14)  # lane 1 from x 60 to 140
    xyz[moved, 1] += 15.0
    result = conform(LANES, make_track(grid, xyz), [], EU)
    (dev,) = [d for d in result.deviations if d.rule_id == "conform.cross_track"]
    assert dev.value == pytest.approx(15.0, abs=0.01)
    assert result.cross_track_max_m == pytest.approx(15.0, abs=0.01)
    assert dev.duration_s == pytest.approx(8.0) and dev.start == at(LANE1 + 6)
    assert dev.end == at(LANE1 + 14) and dev.blocking and not result.conforms
    assert FRAME.geom_to_local(shape(dev.geometry)).length == pytest.approx(80.0, abs=0.01)
    assert "15.0 m off" in dev.message and "8.0 s" in dev.message
    assert result.coverage_flown is not None and result.coverage_flown < 1.0


def test_a_lane_flown_15_m_higher_is_an_altitude_deviation_not_a_cross_track_one():
    grid, xyz, _ = flight()
    high = (grid >= LANE2 + 1) & (grid <= LANE2 + 19)
    xyz[high, 2] += 15.0
    result = conform(LANES, make_track(grid, xyz), [], EU)
    assert rules_of(result) == ["conform.altitude"]
    (dev,) = result.deviations
    assert dev.value == pytest.approx(15.0, abs=0.01) and dev.duration_s == pytest.approx(18.0)
    assert result.altitude_above_max_m == pytest.approx(15.0, abs=0.01)
    assert result.altitude_below_max_m < 0.01 and not result.conforms


def test_flying_low_is_a_deviation_below_and_within_tolerance_is_none():
    grid, xyz, _ = flight()
    lane = (grid >= LANE1 + 2) & (grid <= LANE1 + 4)
    xyz[lane, 2] -= 4.0  # within the 5 m tolerance
    assert conform(LANES, make_track(grid, xyz), [], EU).conforms
    xyz[lane, 2] -= 3.0
    (dev,) = conform(LANES, make_track(grid, xyz), [], EU).deviations
    assert dev.rule_id == "conform.altitude" and dev.value == pytest.approx(-7.0, abs=0.01)
    assert "7.0 m below" in dev.message


def test_the_climb_over_home_is_compared_with_the_take_off_not_the_return_leg():
    # Home is where the return leg ends and the take-off starts: both are nearest there.
    grid, xyz, _ = flight()
    climbing = grid < LANE1 - 10
    xyz[climbing, 1] += 0.3  # 0.3 m north of home: on the legs north, 0.3 m from the climb
    result = conform(LANES, make_track(grid, xyz), [], EU)
    assert result.altitude_below_max_m < 0.01 and result.deviations == ()


def test_climbing_above_the_ceiling_is_a_ceiling_deviation():
    grid, xyz, _ = flight()
    xyz[(grid >= LANE2) & (grid <= LANE2 + 20), 2] = 45.0
    low_ceiling = replace(EU, ceiling_agl_m=40.0, altitude_tolerance_m=20.0)
    result = conform(LANES, make_track(grid, xyz), [], low_ceiling)
    assert rules_of(result) == ["conform.ceiling"]
    assert result.ceiling_excess_max_m == pytest.approx(5.0)
    assert result.deviations[0].duration_s == pytest.approx(20.0)


# --- zones -----------------------------------------------------------------------------------


def test_flying_through_a_prohibited_circle_is_one_incursion_of_the_right_length():
    grid, xyz, _ = flight()
    heli = zone("HELI", "PROHIBITED", circle(100, 100, 22))  # lane 1 inside for x 80..120
    result = conform(LANES, make_track(grid, xyz), [heli], EU, TUESDAY)
    (dev,) = result.deviations
    assert dev.rule_id == "conform.zone" and dev.zone_id == "HELI" and dev.blocking
    assert dev.duration_s == pytest.approx(4.0) and dev.start == at(LANE1 + 8)
    assert not result.conforms and "PROHIBITED zone HELI" in dev.message


def test_a_band_touching_the_flown_altitude_is_not_entered():
    grid, xyz, _ = flight()
    below = zone("BELOW", "PROHIBITED", circle(100, 100, 22, upper=Limit(30)))
    above = zone("ABOVE", "PROHIBITED", circle(100, 100, 22, lower=Limit(614, "AMSL")))
    assert conform(LANES, make_track(grid, xyz), [below, above], EU).conforms


def test_conditional_and_authorised_zones_are_listed_but_do_not_fail():
    grid, xyz, _ = flight()
    track = make_track(grid, xyz)
    zones = [
        zone("PARK", "CONDITIONAL", circle(100, 100, 22)),
        zone("PORT", "REQ_AUTHORISATION", circle(100, 150, 22)),
    ]
    free = conform(LANES, track, zones, EU, authorisations={"PORT"})
    assert free.conforms and [d.zone_id for d in free.deviations] == ["PARK", "PORT"]
    assert not any(d.blocking for d in free.deviations)
    asked = conform(LANES, track, zones, EU)
    assert not asked.conforms and [d.blocking for d in asked.deviations] == [False, True]


def test_a_no_overflight_privacy_zone_fails_even_when_conditional():
    grid, xyz, _ = flight()
    home_garden = zone(
        "GARDEN", "CONDITIONAL", circle(100, 100, 22), camera=CameraPolicy("no_overflight")
    )
    (dev,) = conform(LANES, make_track(grid, xyz), [home_garden], EU).deviations
    assert dev.blocking and "forbids overflight" in dev.message


def test_a_weekend_zone_is_not_entered_on_a_weekday():
    grid, xyz, _ = flight()
    event = zone("EVENT", "PROHIBITED", circle(100, 100, 22), applicability=weekends())
    tuesday = conform(LANES, make_track(grid, xyz), [event], EU)
    assert tuesday.conforms and tuesday.deviations == ()
    saturday = SATURDAY[0] + timedelta(minutes=5)
    (dev,) = conform(LANES, make_track(grid, xyz, start=saturday), [event], EU).deviations
    assert dev.zone_id == "EVENT" and dev.duration_s == pytest.approx(4.0)


def test_a_zone_that_opens_mid_crossing_starts_the_incursion_when_it_opens():
    grid, xyz, _ = flight()
    opens = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    start = opens - timedelta(seconds=LANE1 + 10)  # the crossing runs from -2 s to +2 s
    daily = (Applicability(periods=(DailyPeriod(start="10:00", end="12:00"),)),)
    later = zone("LATER", "PROHIBITED", circle(100, 100, 22), applicability=daily)
    (dev,) = conform(LANES, make_track(grid, xyz, start=start), [later], EU).deviations
    assert dev.start == opens and dev.duration_s == pytest.approx(2.0)
    assert is_active(later, dev.start) and not is_active(later, opens - timedelta(seconds=0.5))


def test_photos_inside_a_school_fail_and_are_counted():
    grid, xyz, photos = flight()
    school = zone("SCHOOL", "NO_RESTRICTION", rect(80, 90, 130, 110), camera=no_capture())
    hedge = zone("CRECHE", "NO_RESTRICTION", rect(80, 160, 130, 170), camera=no_capture(15))
    result = conform(LANES, make_track(grid, xyz, photos=photos), [school, hedge], EU)
    in_school = [p for _, p in photos if 80 <= p[0] <= 130 and p[1] == pytest.approx(100)]
    creche = shapely.box(80, 160, 130, 170)
    near_creche = [p for _, p in photos if creche.distance(shapely.Point(p[:2])) <= 15]
    found = {d.zone_id: d for d in result.deviations if d.rule_id == "conform.privacy_photo"}
    assert found["SCHOOL"].value == len(in_school) >= 2
    assert len(found["SCHOOL"].geometry["coordinates"]) == len(in_school)
    assert (
        found["CRECHE"].value == len(near_creche) >= 2 and "within 15 m" in found["CRECHE"].message
    )
    assert result.photos_in_no_capture == len(in_school) + len(near_creche)
    assert not result.conforms
    # flying over the school is information; only its photos fail
    (over,) = [d for d in result.deviations if d.rule_id == "conform.zone"]
    assert over.zone_id == "SCHOOL" and not over.blocking


def test_photos_in_a_school_zone_closed_for_the_weekend_are_fine_on_saturday():
    grid, xyz, photos = flight()
    weekdays = (Applicability(periods=(DailyPeriod(days=frozenset(range(5))),)),)
    school = zone(
        "SCHOOL", "NO_RESTRICTION", rect(80, 90, 130, 110), camera=no_capture(),
        applicability=weekdays,
    )  # fmt: skip
    saturday = SATURDAY[0] + timedelta(minutes=5)
    track = make_track(grid, xyz, start=saturday, photos=photos)
    assert conform(LANES, track, [school], EU).photos_in_no_capture == 0


# --- window, coverage, home ----------------------------------------------------------------


def test_taking_off_before_the_window_and_landing_after_it_are_counted_in_seconds():
    grid, xyz, _ = flight()
    track = make_track(grid, xyz)
    airborne = [s.time for s in track.airborne()]
    window = (START + timedelta(seconds=60), airborne[-1] - timedelta(seconds=10))
    result = conform(LANES, track, [], EU, window)
    before, after = [d for d in result.deviations if d.rule_id == "conform.window"]
    assert before.value == pytest.approx((window[0] - airborne[0]).total_seconds())
    assert after.value == pytest.approx(10.0) and after.end == airborne[-1]
    assert result.outside_window_s == pytest.approx(before.value + after.value)
    assert not result.conforms and "before the window opened" in before.message


def test_stopping_halfway_through_a_survey_fails_its_coverage():
    area = shapely.to_geojson(FRAME.geom_to_wgs84(shapely.box(60, -150, 260, 50)))
    plan = plan_survey(json.loads(area), camera("mavic3-enterprise"), gsd_cm=2.0, home=HOME)
    analysis = analyse(plan)
    _, xyz = paper_flight(plan, analysis)
    passes = [leg for leg in analysis.legs if leg.kind == "waypoint" and leg.trigger_m > 0]
    lengths = np.cumsum([np.hypot(*np.subtract(leg.end, leg.start)[:2]) for leg in passes])
    half = passes[int(np.argmin(np.abs(lengths - lengths[-1] / 2)))]
    k = int(np.argmin(np.linalg.norm(xyz - half.end, axis=1)))  # where the middle lane ends
    down = np.column_stack([np.repeat(xyz[k : k + 1, :2], 40, 0), np.linspace(30, 0, 40)])
    cut = np.concatenate([xyz[: k + 1], down])
    result = conform(plan, make_track(np.arange(len(cut)) * STEP_S, cut), [], EU)
    # independently: the passes' length within 10 m of the flown line
    flown = shapely.LineString(cut[cut[:, 2] >= 0.5, :2]).buffer(10.0)
    lines = [shapely.LineString([leg.start[:2], leg.end[:2]]) for leg in passes]
    expected = sum(line.intersection(flown).length for line in lines) / lengths[-1]
    assert result.coverage_flown == pytest.approx(expected, abs=0.005)
    assert result.coverage_flown == pytest.approx(0.5, abs=0.05)
    (dev,) = [d for d in result.deviations if d.rule_id == "conform.coverage"]
    assert dev.blocking and dev.value == result.coverage_flown and not result.conforms


def test_hover_photos_are_covered_by_the_photos_taken():
    plan = route_plan((0, 100), (200, 100))
    items = list(plan.sorties[0])
    from mission import items as it

    items.insert(2, it.capture_one())
    items.insert(4, it.capture_one())  # one photo at each waypoint
    plan = replace(plan, sorties=(tuple(items),))
    grid, xyz, photos = flight(plan)
    assert len(photos) == 2
    assert conform(plan, make_track(grid, xyz, photos=photos), [], EU).coverage_flown == 1.0
    one = conform(plan, make_track(grid, xyz, photos=photos[:1]), [], EU)
    assert one.coverage_flown == 0.5 and "conform.coverage" in rules_of(one)
    assert conform(plan, make_track(grid, xyz), [], EU).coverage_flown == 1.0  # by the track


def test_a_track_home_away_from_the_plan_home_is_advisory():
    grid, xyz, _ = flight()
    lon, lat = FRAME.point_to_wgs84(20.0, 0.0)
    result = conform(LANES, make_track(grid, xyz, home=(lon, lat, 584.0)), [], EU)
    (dev,) = result.deviations
    assert dev.rule_id == "conform.home" and not dev.blocking and result.conforms
    assert dev.value == pytest.approx(20.0, abs=0.01)


# --- errors, files, reports ------------------------------------------------------------------


def test_a_track_that_never_takes_off_is_one_error_line():
    grid, xyz, _ = flight()
    xyz[:, 2] = np.minimum(xyz[:, 2], 0.4)
    with pytest.raises(ComplianceError) as caught:
        conform(LANES, make_track(grid, xyz), [], EU)
    assert str(caught.value) == (
        "track flight.csv has no airborne samples (none at or above 0.5 m above home)"
    )


def test_a_window_without_a_time_zone_is_refused():
    grid, xyz, _ = flight()
    naive = (datetime(2026, 12, 1, 10), datetime(2026, 12, 1, 12))
    with pytest.raises(ComplianceError, match="has no time zone"):
        conform(LANES, make_track(grid, xyz), [], EU, naive)


def test_a_track_read_back_from_its_csv_gives_the_same_result():
    grid, xyz, photos = flight()
    xyz[(grid >= LANE1 + 6) & (grid <= LANE1 + 14), 1] += 15.0
    zones = [
        zone("HELI", "PROHIBITED", circle(100, 150, 22)),
        zone("SCHOOL", "NO_RESTRICTION", rect(80, 90, 130, 110), camera=no_capture()),
    ]
    track = make_track(grid, xyz, photos=photos)
    again = read_track(track_to_csv(track).encode(), "flight.csv")
    first, second = (conform(LANES, t, zones, EU, TUESDAY) for t in (track, again))
    assert first == second and len(first.deviations) >= 3


def test_the_report_round_trips_through_json():
    grid, xyz, photos = flight()
    xyz[(grid >= LANE2 + 1) & (grid <= LANE2 + 19), 2] += 15.0
    zones = [zone("SCHOOL", "NO_RESTRICTION", rect(80, 90, 130, 110), camera=no_capture())]
    result = conform(LANES, make_track(grid, xyz, photos=photos), zones, EU, TUESDAY)
    data = result.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data and data["schema"] == "skyledger.conformance"
    assert Conformance.from_dict(json.loads(text)).to_dict() == data
    assert {d["rule_id"] for d in data["deviations"]} <= set(CONFORM_RULES)
    start = data["deviations"][0]["start"]
    assert datetime.fromisoformat(start).utcoffset() == timedelta(0)
