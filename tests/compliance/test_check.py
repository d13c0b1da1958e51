"""The checker on scenarios with known answers, each drawn in metres around the SITL home."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from shapely.geometry import shape
from zonekit import (
    FRAME,
    SATURDAY,
    TUESDAY,
    circle,
    no_capture,
    rect,
    route_plan,
    weekends,
    zone,
)

from compliance.check import check
from compliance.errors import ComplianceError
from compliance.rules import preset
from compliance.zones import Authority, Limit

EU = preset("eu-open")


def rules_of(report):
    return sorted(f.rule_id for f in report.findings)


def test_a_leg_clipping_a_prohibited_zone_corner_is_found_with_its_item_and_piece():
    # The leg from (0, 100) to (200, 100) crosses the corner at (150, 90) for x 150..200;
    # the next one leaves it southwards after 10 m; RTL from (200, 50) passes below it.
    corner = zone("HELI", "PROHIBITED", rect(150, 90, 300, 200))
    plan = route_plan((0, 100), (200, 100), (200, 50))
    report = check(plan, [corner], EU, TUESDAY)
    assert report.verdict == "REJECTED"
    (finding,) = [f for f in report.findings if f.rule_id == "airspace.prohibited"]
    # items: 1 take-off, 2 WP (0,100), 3 WP (200,100), 4 WP (200,50), 5 RTL
    assert finding.zone_id == "HELI" and finding.sortie == 1 and finding.items == (3, 4)
    piece = FRAME.geom_to_local(shape(finding.geometry))
    assert piece.length == pytest.approx(50 + 10, abs=0.05)


def test_the_return_leg_of_rtl_is_checked():
    corner = zone("HELI", "PROHIBITED", rect(150, 90, 300, 200))
    plan = route_plan((0, 100), (100, 250), (300, 250))
    (finding,) = check(plan, [corner], EU, TUESDAY).findings
    assert finding.items == (5,)  # RTL from (300, 250) flies home across the zone


def test_a_leg_that_only_nears_the_corner_is_not_a_finding():
    corner = zone("HELI", "PROHIBITED", rect(150, 101, 300, 300))
    plan = route_plan((0, 100), (140, 100))
    assert check(plan, [corner], EU, TUESDAY).verdict == "APPROVED"


def test_a_leg_above_the_upper_limit_passes_and_verbose_says_why():
    low = zone("LOW", "PROHIBITED", rect(50, -50, 150, 50, upper=Limit(25, "AGL", "m")))
    plan = route_plan((200, 0), alt=30)
    report = check(plan, [low], EU, TUESDAY, verbose=True)
    assert report.verdict == "APPROVED"
    assert [(e.zone_id, e.outcome) for e in report.evidence] == [("LOW", "above")]
    # at 20 m the same route flies through it
    assert check(route_plan((200, 0), alt=20), [low], EU, TUESDAY).verdict == "REJECTED"


def test_take_off_inside_a_low_zone_is_caught_on_the_climb():
    over_home = zone("PAD", "PROHIBITED", circle(0, 0, 20, lower=Limit(10), upper=Limit(15)))
    report = check(route_plan((100, 0), alt=30), [over_home], EU, TUESDAY)
    prohibited = [f for f in report.findings if f.rule_id == "airspace.prohibited"]
    assert prohibited and 1 in prohibited[0].items  # the take-off leg climbs through 10..15 m


def test_a_weekend_zone_applies_on_saturday_only():
    event = zone("EVENT", "PROHIBITED", rect(50, -50, 150, 50), applicability=weekends())
    plan = route_plan((200, 0))
    tuesday = check(plan, [event], EU, TUESDAY, verbose=True)
    assert tuesday.verdict == "APPROVED"
    assert tuesday.evidence[0].outcome == "not_active"
    assert check(plan, [event], EU, SATURDAY).verdict == "REJECTED"


def test_an_authorisation_turns_the_finding_into_an_advisory():
    tower = Authority("City tower", purpose="AUTHORISATION", interval_before=timedelta(days=2))
    ctr = zone("CTR", "REQ_AUTHORISATION", circle(100, 0, 80), authorities=(tower,))
    plan = route_plan((200, 0))
    asked = check(plan, [ctr], EU, TUESDAY)
    assert asked.verdict == "AUTHORISATION_REQUIRED"
    (finding,) = asked.findings
    assert finding.authority is not None and finding.authority["name"] == "City tower"
    assert finding.lead_time == "P2D" and finding.severity == "authorisation"
    granted = check(plan, [ctr], EU, TUESDAY, authorisations=["CTR"])
    assert granted.verdict == "APPROVED" and rules_of(granted) == ["airspace.authorised"]
    # asked one day ahead of a zone that needs two: too late
    late = check(plan, [ctr], EU, TUESDAY, now=TUESDAY[0] - timedelta(days=1))
    assert late.verdict == "REJECTED" and "airspace.lead_time" in rules_of(late)
    early = check(plan, [ctr], EU, TUESDAY, now=TUESDAY[0] - timedelta(days=3))
    assert early.verdict == "AUTHORISATION_REQUIRED"
    unused = check(route_plan((-200, 0)), [ctr], EU, TUESDAY, authorisations=["CTR"])
    assert rules_of(unused) == ["authorisation.unused"] and unused.verdict == "APPROVED"


@pytest.mark.parametrize(
    ("lower", "alt", "inside"),
    [
        (Limit(200, "AGL", "ft"), 60.0, False),  # 200 ft = 60.96 m
        (Limit(200, "AGL", "ft"), 62.0, True),
        (Limit(650, "AMSL", "m"), 65.0, False),  # home at 584 m: 66 m above home
        (Limit(650, "AMSL", "m"), 67.0, True),
        (Limit(2150, "AMSL", "ft"), 70.0, False),  # 655.3 m AMSL: 71.3 m above home
        (Limit(2150, "AMSL", "ft"), 72.0, True),
    ],
)
def test_feet_and_amsl_limits_are_converted(lower, alt, inside):
    upper = Limit(2400, "AMSL", "ft")  # 731.5 m AMSL
    high = zone("HIGH", "PROHIBITED", rect(50, -50, 150, 50, lower=lower, upper=upper))
    report = check(route_plan((200, 0), alt=alt), [high], EU, TUESDAY)
    assert (report.verdict == "REJECTED") is inside


def test_a_circle_zone_is_exact():
    pad = zone("PAD", "PROHIBITED", circle(100, 30, 30))
    assert check(route_plan((200, 0)), [pad], EU, TUESDAY).verdict == "REJECTED"
    assert check(route_plan((200, -0.1)), [pad], EU, TUESDAY).verdict == "APPROVED"


def test_photos_over_a_school_are_found_and_counted():
    school = zone(
        "SCHOOL", "CONDITIONAL", rect(75, -20, 125, 20), reasons=("PRIVACY",), camera=no_capture()
    )
    plan = route_plan((0, 0), (200, 0), trigger_m=10)
    report = check(plan, [school], EU, TUESDAY)
    assert report.verdict == "REJECTED"
    (photos,) = [f for f in report.findings if f.rule_id == "privacy.no_capture"]
    points = shape(photos.geometry)
    assert len(points.geoms) == 5  # photos at x = 80, 90, 100, 110, 120
    # a buffer keeps photos a distance away: 10 m more on each side (70 and 130)
    buffered = replace(school, camera=no_capture(buffer_m=10))
    (near,) = [
        f for f in check(plan, [buffered], EU, TUESDAY).findings if f.rule_id == "privacy.buffer"
    ]
    assert len(shape(near.geometry).geoms) == 7


def test_no_overflight_privacy_zones_forbid_the_legs():
    homes = zone(
        "HOMES",
        "CONDITIONAL",
        rect(80, -20, 120, 20),
        camera=replace(no_capture(), mode="no_overflight"),
    )
    report = check(route_plan((200, 0)), [homes], EU, TUESDAY)
    assert "privacy.no_overflight" in rules_of(report) and report.verdict == "REJECTED"


def test_a_night_flight_under_the_us_preset_is_rejected():
    night = (
        datetime(2026, 12, 1, 12, tzinfo=UTC),
        datetime(2026, 12, 1, 13, tzinfo=UTC),
    )  # 23:00 local
    plan = route_plan((100, 0))
    us = check(plan, [], preset("us-part107"), night)
    assert us.verdict == "REJECTED" and rules_of(us) == ["rules.daylight"]
    assert check(plan, [], EU, night).verdict == "APPROVED"  # the open category allows night
    assert check(plan, [], preset("us-part107"), TUESDAY).verdict == "REJECTED"  # 21:00-23:00 local
    morning = (datetime(2026, 11, 30, 23, tzinfo=UTC), datetime(2026, 12, 1, 1, tzinfo=UTC))
    assert check(plan, [], preset("us-part107"), morning).verdict == "APPROVED"


def test_rule_set_limits():
    tall = route_plan((100, 0), alt=130)
    (ceiling,) = check(tall, [], EU, TUESDAY).findings
    assert ceiling.rule_id == "rules.ceiling" and ceiling.items == (1, 2, 3)
    far = route_plan((600, 0))
    (vlos,) = check(far, [], EU, TUESDAY).findings
    assert vlos.rule_id == "rules.vlos" and vlos.items == (2, 3)
    piece = FRAME.geom_to_local(shape(vlos.geometry))
    assert piece.length == pytest.approx(200, abs=0.1)  # 500..600 m out and back
    strict = replace(EU, max_sortie_s=30.0, geofence_required=True, name="strict")
    assert rules_of(check(route_plan((100, 0)), [], strict, TUESDAY)) == [
        "rules.geofence",
        "rules.sortie_duration",
    ]


def test_the_margin_keeps_routes_away_from_restricted_zones():
    heli = zone("HELI", "PROHIBITED", rect(50, 20, 150, 80))
    plan = route_plan((200, 0))
    assert check(plan, [heli], EU, TUESDAY).verdict == "APPROVED"
    wide = replace(EU, zone_margin_m=25.0)
    report = check(plan, [heli], wide, TUESDAY)
    assert report.verdict == "REJECTED" and rules_of(report) == ["airspace.margin"]
    ctr = replace(heli, identifier="CTR", restriction="REQ_AUTHORISATION")
    assert check(plan, [ctr], wide, TUESDAY).verdict == "AUTHORISATION_REQUIRED"
    granted = check(plan, [ctr], wide, TUESDAY, ["CTR"])
    assert granted.verdict == "APPROVED" and rules_of(granted) == ["airspace.margin"]


def test_a_failed_zone_source_is_never_approved():
    report = check(route_plan((100, 0)), [], EU, TUESDAY, failed_sources=["bad.json: not JSON"])
    assert report.verdict == "REJECTED" and rules_of(report) == ["zones.source_failed"]


def test_bad_windows_are_one_line_errors():
    plan = route_plan((100, 0))
    with pytest.raises(ComplianceError, match="not after its start"):
        check(plan, [], EU, (TUESDAY[1], TUESDAY[0]))
    with pytest.raises(ComplianceError, match="no time zone"):
        check(plan, [], EU, (datetime(2026, 12, 1), datetime(2026, 12, 2)))


def test_the_report_is_json_ready():
    import json

    corner = zone("HELI", "PROHIBITED", rect(150, 90, 300, 300))
    doc = check(route_plan((0, 100), (200, 100)), [corner], EU, TUESDAY).to_dict()
    text = json.dumps(doc)
    assert json.loads(text)["verdict"] == "REJECTED"
    finding = doc["findings"][0]
    assert {"rule_id", "severity", "zone_id", "message", "items", "geometry"} <= set(finding)
    assert shapely.from_geojson(json.dumps(finding["geometry"])).length > 0


# --- the indexed checker finds exactly what brute force finds --------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from compliance.reference import ZONE_RULES, reference_findings  # noqa: E402
from compliance.zones import CameraPolicy  # noqa: E402

coord = st.floats(-300, 300, allow_nan=False).map(lambda v: round(v, 1))
limits = st.one_of(
    st.none(),
    st.builds(
        Limit,
        st.floats(0, 100).map(lambda v: round(v, 1)),
        st.sampled_from(["AGL", "AMSL"]),
        st.sampled_from(["m", "ft"]),
    ).map(
        lambda lim: replace(
            lim,
            value=lim.value
            + (584 if lim.reference == "AMSL" else 0) * (3.28084 if lim.unit == "ft" else 1),
        )
    ),
)


@st.composite
def volumes(draw):
    lower, upper = draw(limits), draw(limits)
    if draw(st.booleans()):
        return circle(draw(coord), draw(coord), draw(st.floats(5, 150)), lower, upper)
    x0, y0 = draw(coord), draw(coord)
    return rect(x0, y0, x0 + draw(st.floats(5, 200)), y0 + draw(st.floats(5, 200)), lower, upper)


@st.composite
def zone_sets(draw):
    out = []
    for n in range(draw(st.integers(0, 8))):
        camera = draw(
            st.sampled_from(
                [
                    None,
                    CameraPolicy("no_capture"),
                    CameraPolicy("buffer", 15.0),
                    CameraPolicy("no_overflight"),
                ]
            )
        )
        out.append(
            zone(
                f"Z{n}",
                draw(
                    st.sampled_from(
                        ["PROHIBITED", "REQ_AUTHORISATION", "CONDITIONAL", "NO_RESTRICTION"]
                    )
                ),
                *draw(st.lists(volumes(), min_size=1, max_size=2)),
                applicability=weekends() if draw(st.booleans()) and n % 3 == 0 else (),
                camera=camera,
            )
        )
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    points=st.lists(st.tuples(coord, coord), min_size=1, max_size=6),
    alt=st.floats(5, 110),
    trigger=st.sampled_from([0.0, 12.0]),
    zones=zone_sets(),
    window=st.sampled_from([TUESDAY, SATURDAY]),
    margin=st.sampled_from([0.0, 20.0]),
    authorised=st.sets(st.sampled_from(["Z0", "Z1", "Z2"])),
)
def test_the_checker_finds_exactly_what_brute_force_finds(
    points, alt, trigger, zones, window, margin, authorised
):
    plan = route_plan(*points, alt=round(alt, 1), trigger_m=trigger)
    rules = replace(EU, zone_margin_m=margin, vlos_max_m=None, ceiling_agl_m=None)
    report = check(plan, zones, rules, window, authorised)
    found = {
        (f.rule_id, f.zone_id, f.sortie, f.items)
        for f in report.findings
        if f.rule_id in ZONE_RULES
    }
    assert found == reference_findings(plan, zones, rules, window, authorised)
