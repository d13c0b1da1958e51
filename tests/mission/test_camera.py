import json

import pytest

from mission.camera import PRESETS, Camera, camera_from_json, preset
from mission.errors import MissionError

P4 = PRESETS["phantom4-rtk"]


def test_gsd_formula_and_inverse():
    # GSD = H·Sw·100 / (Iw·f): 100 m with a 13.2 mm / 5472 px / 8.8 mm camera.
    assert P4.gsd_cm(100.0) == pytest.approx(100 * 13.2 * 100 / (5472 * 8.8))
    for gsd in (0.5, 1.5, 3.0):
        assert P4.gsd_cm(P4.distance_for_gsd(gsd)) == pytest.approx(gsd)


def test_footprint_is_landscape_and_spacings_follow_overlap():
    across, along = P4.footprint_m(50.0)
    assert across == pytest.approx(50 * 13.2 / 8.8)
    assert along == pytest.approx(50 * 8.8 / 8.8)
    assert across > along  # image width lies across the direction of flight
    assert P4.trigger_distance_m(50.0, 0.8) == pytest.approx(along * 0.2)
    assert P4.line_spacing_m(50.0, 0.7) == pytest.approx(across * 0.3)
    assert P4.max_speed_ms(10.0) == pytest.approx(10.0 / P4.min_trigger_interval_s)


@pytest.mark.parametrize("overlap", [1.0, 1.2, -0.1, float("nan")])
def test_bad_overlap_is_refused(overlap):
    with pytest.raises(MissionError, match="overlap"):
        P4.trigger_distance_m(50.0, overlap)


def test_at_least_three_presets_with_real_specs():
    assert len(PRESETS) >= 3
    for cam in PRESETS.values():
        assert 1 < cam.sensor_width_mm < 50 and cam.image_width_px > 1000


def test_custom_camera_from_json_and_errors():
    data = {
        "name": "custom",
        "sensor_width_mm": 6.17,
        "sensor_height_mm": 4.55,
        "image_width_px": 4000,
        "image_height_px": 3000,
        "focal_length_mm": 4.5,
        "min_trigger_interval_s": 1.5,
    }
    cam = camera_from_json(json.dumps(data))
    assert cam == Camera(**data)
    with pytest.raises(MissionError, match="focal_length_mm"):
        camera_from_json(json.dumps({k: v for k, v in data.items() if k != "focal_length_mm"}))
    with pytest.raises(MissionError, match="must be > 0"):
        camera_from_json(json.dumps({**data, "focal_length_mm": 0}))
    with pytest.raises(MissionError, match="not valid JSON"):
        camera_from_json("{nope")
    with pytest.raises(MissionError, match="not a preset"):
        preset("gopro")
