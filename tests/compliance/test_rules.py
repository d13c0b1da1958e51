"""Rule sets: the presets, every validation message, round trips."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.errors import ComplianceError
from compliance.rules import LIMITS, PRESETS, RuleSet, load_rules, preset, rules_to_dict


def document(**changes: Any) -> dict[str, Any]:
    return rules_to_dict(preset("eu-open")) | changes


def load(doc: dict[str, Any]) -> RuleSet:
    return load_rules(json.dumps(doc), "club.json")


def test_presets_are_listed_and_load() -> None:
    assert PRESETS == ("eu-open", "us-part107")
    for name in PRESETS:
        assert preset(name).name == name


def test_eu_open_values() -> None:
    rules = preset("eu-open")
    assert rules.ceiling_agl_m == 120.0
    assert rules.vlos_max_m == 500.0
    assert rules.min_sun_elevation_deg is None  # night flight allowed in the open category
    assert rules.max_sortie_s is None
    assert rules.geofence_required is False
    assert rules.zone_margin_m == 0.0
    assert (rules.cross_track_max_m, rules.altitude_tolerance_m) == (10.0, 5.0)
    assert rules.min_coverage_flown == 0.95
    assert "500 m" in rules.description and "assumption" in rules.description


def test_us_part107_values() -> None:
    rules = preset("us-part107")
    assert rules.ceiling_agl_m == pytest.approx(400 * 0.3048)
    assert rules.ceiling_agl_m == 121.92
    assert rules.vlos_max_m == 500.0
    assert rules.min_sun_elevation_deg == -6.0  # 107.29: civil twilight
    assert rules.max_sortie_s is None
    assert rules.geofence_required is False
    assert (rules.cross_track_max_m, rules.altitude_tolerance_m) == (10.0, 5.0)
    assert rules.min_coverage_flown == 0.95
    assert "107.29" in rules.description and "500 m" in rules.description


def test_unknown_preset_lists_the_valid_names() -> None:
    with pytest.raises(
        ComplianceError,
        match="rules preset 'moon' is unknown; valid presets are eu-open, us-part107",
    ):
        preset("moon")


@pytest.mark.parametrize("name", PRESETS)
def test_round_trip(name: str) -> None:
    rules = preset(name)
    doc = rules_to_dict(rules)
    assert doc["schema"] == "skyledger.rules" and doc["version"] == 1
    assert load_rules(json.dumps(doc), "copy.json") == rules
    assert rules_to_dict(load_rules(json.dumps(doc), "copy.json")) == doc


number = st.floats(allow_nan=False, allow_infinity=False)


@given(
    ceiling=st.one_of(st.none(), st.floats(0.5, 10_000)),
    sun=st.one_of(st.none(), st.floats(-18, 90)),
    coverage=st.floats(0, 1),
    geofence=st.booleans(),
    description=st.text(max_size=40),
)
def test_round_trip_of_any_valid_rule_set(
    ceiling: float | None, sun: float | None, coverage: float, geofence: bool, description: str
) -> None:
    rules = replace(
        preset("us-part107"),
        ceiling_agl_m=ceiling,
        min_sun_elevation_deg=sun,
        min_coverage_flown=coverage,
        geofence_required=geofence,
        description=description,
    )
    assert load_rules(json.dumps(rules_to_dict(rules)), "any.json") == rules


def test_integers_are_read_as_floats() -> None:
    rules = load(document(ceiling_agl_m=50, max_sortie_s=1200))
    assert rules.ceiling_agl_m == 50.0 and isinstance(rules.ceiling_agl_m, float)
    assert rules.max_sortie_s == 1200.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ceiling_agl_m": 0}, "club.json: ceiling_agl_m = 0 is not valid; expected a finite number > 0 and ≤ 10000, or null for no limit"),
        ({"ceiling_agl_m": 10001}, "club.json: ceiling_agl_m = 10001 is not valid; expected a finite number > 0 and ≤ 10000"),
        ({"ceiling_agl_m": "120"}, "club.json: ceiling_agl_m = \"120\" is not valid; expected a finite number > 0"),
        ({"ceiling_agl_m": True}, "club.json: ceiling_agl_m = true is not valid"),
        ({"ceiling_agl_m": float("nan")}, "club.json: ceiling_agl_m = NaN is not valid; expected a finite number"),
        ({"vlos_max_m": -5}, "club.json: vlos_max_m = -5 is not valid; expected a finite number > 0 and ≤ 100000, or null"),
        ({"min_sun_elevation_deg": -20}, "club.json: min_sun_elevation_deg = -20 is not valid; expected a finite number ≥ -18 and ≤ 90, or null"),
        ({"min_sun_elevation_deg": 91}, "club.json: min_sun_elevation_deg = 91 is not valid"),
        ({"max_sortie_s": 0}, "club.json: max_sortie_s = 0 is not valid; expected a finite number > 0 and ≤ 86400, or null"),
        ({"max_sortie_s": float("inf")}, "club.json: max_sortie_s = Infinity is not valid"),
        ({"geofence_required": "yes"}, "club.json: geofence_required = \"yes\" is not valid; expected true or false"),
        ({"geofence_required": 1}, "club.json: geofence_required = 1 is not valid; expected true or false"),
        ({"zone_margin_m": -1}, "club.json: zone_margin_m = -1 is not valid; expected a finite number ≥ 0 and ≤ 10000$"),
        ({"zone_margin_m": None}, "club.json: zone_margin_m = null is not valid; expected a finite number ≥ 0 and ≤ 10000$"),
        ({"cross_track_max_m": 0}, "club.json: cross_track_max_m = 0 is not valid; expected a finite number > 0 and ≤ 10000$"),
        ({"altitude_tolerance_m": -0.5}, "club.json: altitude_tolerance_m = -0.5 is not valid; expected a finite number > 0"),
        ({"min_coverage_flown": 1.5}, "club.json: min_coverage_flown = 1.5 is not valid; expected a finite number ≥ 0 and ≤ 1$"),
        ({"name": ""}, "club.json: rules name '' must be a non-empty string"),
        ({"name": 7}, "club.json: name = 7 is not valid; expected a non-empty string"),
        ({"description": ["x"]}, "club.json: description = \\[\"x\"\\] is not valid; expected a string"),
        ({"ceiling_m": 100}, "club.json: unknown key 'ceiling_m'; valid keys are schema, version, name, ceiling_agl_m, "),
        ({"schema": "skyledger.plan"}, "club.json: schema 'skyledger.plan' is not 'skyledger.rules'; not a rules file"),
        ({"version": 2}, "club.json: rules version 2 is not supported; this skyledger reads version 1"),
    ],
)  # fmt: skip
def test_bad_values_give_one_line_messages(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ComplianceError, match=message.replace("+", r"\+")) as caught:
        load(document(**changes))
    assert "\n" not in str(caught.value)


def test_missing_key_is_named() -> None:
    doc = document()
    del doc["vlos_max_m"]
    with pytest.raises(
        ComplianceError,
        match=r"club.json: missing key 'vlos_max_m' \(a finite number > 0 and ≤ 100000, or null",
    ):
        load(doc)
    # description is the only optional key
    doc = document()
    del doc["description"]
    assert load(doc).description == ""


def test_a_misspelt_key_is_reported_rather_than_the_key_it_leaves_missing() -> None:
    doc = document()
    doc["vlos_m"] = doc.pop("vlos_max_m")
    with pytest.raises(ComplianceError, match="unknown key 'vlos_m'"):
        load(doc)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{",
            "club.json: not JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        ),
        ("[1, 2]", "club.json: a rules file is a JSON object, not list"),
    ],
)
def test_not_a_rules_document(text: str, message: str) -> None:
    with pytest.raises(ComplianceError, match=message):
        load_rules(text, "club.json")


def test_rule_sets_built_in_python_are_checked_the_same_way() -> None:
    with pytest.raises(
        ComplianceError,
        match="rules mine: ceiling_agl_m = -3 is not valid; expected a finite number > 0",
    ):
        replace(preset("eu-open"), name="mine", ceiling_agl_m=-3)
    with pytest.raises(ComplianceError, match="geofence_required = 'no' is not valid"):
        replace(preset("eu-open"), geofence_required="no")  # type: ignore[arg-type]


def test_every_numeric_key_has_a_limit() -> None:
    numeric = {
        "ceiling_agl_m",
        "vlos_max_m",
        "min_sun_elevation_deg",
        "max_sortie_s",
        "zone_margin_m",
        "cross_track_max_m",
        "altitude_tolerance_m",
        "min_coverage_flown",
    }
    assert set(LIMITS) == numeric
