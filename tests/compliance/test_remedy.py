"""Remedies: camera off over privacy zones, detours round prohibited zones, altitude clamps."""

import math
from dataclasses import replace

import numpy as np
import pytest
import shapely
from zonekit import FRAME, HOME, TUESDAY, circle, no_capture, rect, route_plan, zone

from compliance.remedy import fix, plan_digest
from compliance.rules import preset
from mission.analysis import analyse
from mission.camera import preset as camera
from mission.items import Cmd
from mission.survey import plan_survey

EU = preset("eu-open")


def school(x0=75, y0=-20, x1=125, y1=20, **kwargs):
    return zone("SCHOOL", "CONDITIONAL", rect(x0, y0, x1, y1), camera=no_capture(**kwargs))


def test_the_camera_goes_off_over_a_school_and_back_on_after_it():
    plan = route_plan((0, 0), (200, 0), trigger_m=10)
    fixed = fix(plan, [school()], EU, TUESDAY)
    assert fixed.original.verdict == "REJECTED" and fixed.report.verdict == "APPROVED"
    xs = [p.x_m for p in analyse(fixed.plan).photos]
    assert not any(73.001 < x < 126.999 for x in xs)  # the school (75..125) and the split margin
    assert min(xs) == pytest.approx(0, abs=1e-6) and max(xs) > 190
    assert len(xs) >= 15  # 0..70 and 127..200 still photographed
    triggers = [i.param1 for i in fixed.plan.items if i.command == Cmd.DO_SET_CAM_TRIGG_DIST]
    assert triggers == [10, 0, 10, 0]  # on, off at the school, on after it, off at the end
    assert fixed.plan.revision == 2 and fixed.plan.derived_from == plan_digest(plan)
    assert fixed.remedies[0].applied and "SCHOOL" in fixed.remedies[0].action


def test_a_pass_starting_inside_a_school_starts_with_the_camera_off():
    plan = route_plan((100, 0), (200, 0), trigger_m=10)  # the pass begins in the school
    fixed = fix(plan, [school()], EU, TUESDAY)
    assert fixed.report.verdict == "APPROVED"
    xs = [p.x_m for p in analyse(fixed.plan).photos]
    assert xs and min(xs) >= 127 - 1e-6


def test_a_survey_over_a_school_keeps_the_rest_of_its_photos():
    area = shapely.to_geojson(FRAME.geom_to_wgs84(shapely.box(60, -150, 260, 50)))
    import json

    plan = plan_survey(json.loads(area), camera("mavic3-enterprise"), gsd_cm=2.0, home=HOME)
    zones = [school(120, -60, 200, -10)]
    before = analyse(plan)
    fixed = fix(plan, zones, EU, TUESDAY)
    assert fixed.original.verdict == "REJECTED"
    assert fixed.report.verdict == "APPROVED", fixed.report.findings
    after = analyse(fixed.plan)
    assert 0 < len(after.photos) < len(before.photos)
    assert after.metrics.coverage is not None and before.metrics.coverage is not None
    # neighbouring footprints still see much of the school's ground from outside it
    assert 0.6 < after.metrics.coverage <= before.metrics.coverage


def test_transit_and_return_legs_are_detoured_round_a_prohibited_zone():
    pad = zone("HELI", "PROHIBITED", circle(100, 0, 30))
    plan = route_plan((200, 0))
    fixed = fix(plan, [pad], EU, TUESDAY)
    assert fixed.original.verdict == "REJECTED"
    assert fixed.report.verdict == "APPROVED", fixed.report.findings
    applied = [r for r in fixed.remedies if r.applied]
    assert len(applied) == 2  # out and back
    # the detour stays outside the zone plus its clearance and is near the shortest way round
    analysis = analyse(fixed.plan)
    leg_lines = [shapely.LineString([leg.start[:2], leg.end[:2]]) for leg in analysis.legs]
    centre = shapely.Point(100, 0)
    assert min(line.distance(centre) for line in leg_lines if line.length > 0) >= 30 + 10 - 0.5
    flown = sum(line.length for line in leg_lines)
    r = 40.0  # radius plus clearance: tangents to the circle, then round it
    shortest = 2 * math.sqrt(100**2 - r**2) + r * (math.pi - 2 * math.acos(r / 100))
    assert 2 * shortest <= flown <= 2 * shortest * 1.03  # out and back
    # the autopilot is told to keep out too
    assert [c.inclusion for c in fixed.plan.geofence.circles] == [False]


def test_a_camera_on_leg_is_not_detoured():
    pad = zone("HELI", "PROHIBITED", circle(100, 0, 30))
    plan = route_plan((0, 0), (200, 0), trigger_m=10)
    fixed = fix(plan, [pad], EU, TUESDAY)
    refused = [r for r in fixed.remedies if not r.applied]
    assert refused and "camera is on" in refused[0].action
    assert fixed.report.verdict == "REJECTED"


def test_a_survey_above_the_ceiling_is_lowered_within_the_gsd_tolerance():
    import json

    area = json.loads(shapely.to_geojson(FRAME.geom_to_wgs84(shapely.box(60, -50, 160, 50))))
    cam = camera("mavic3-enterprise")
    high = plan_survey(area, cam, altitude_m=125.0, home=HOME, ceiling_m=130.0)
    fixed = fix(high, [], EU, TUESDAY)
    assert [f.rule_id for f in fixed.original.findings] == ["rules.ceiling"]
    assert fixed.report.verdict == "APPROVED"
    top = max(i.alt_m for i in fixed.plan.items if i.has_position)
    assert top == pytest.approx(119.5)
    assert fixed.plan.capture is not None
    assert fixed.plan.capture.gsd_cm == pytest.approx(cam.gsd_cm(119.5))
    much_higher = plan_survey(area, cam, altitude_m=150.0, home=HOME, ceiling_m=160.0)
    refused = fix(much_higher, [], EU, TUESDAY)
    assert refused.report.verdict == "REJECTED" and refused.plan == much_higher
    assert "outside the 10% tolerance" in refused.remedies[0].action
    assert fix(much_higher, [], EU, TUESDAY, gsd_tolerance=0.25).report.verdict == "APPROVED"


def test_an_approved_plan_is_left_as_it_is():
    plan = route_plan((200, 0))
    fixed = fix(plan, [], EU, TUESDAY)
    assert fixed.plan == plan and fixed.remedies == () and fixed.report.verdict == "APPROVED"


def test_detour_waypoints_climb_evenly_between_the_leg_ends():
    pad = zone("HELI", "PROHIBITED", circle(100, 0, 30))
    plan = route_plan((200, 0), alt=30)
    plan = replace(plan, sorties=(tuple(plan.sorties[0]),))
    fixed = fix(plan, [pad], EU, TUESDAY)
    alts = np.array([i.alt_m for i in fixed.plan.items if i.command == Cmd.NAV_WAYPOINT])
    assert np.allclose(alts, 30.0)
