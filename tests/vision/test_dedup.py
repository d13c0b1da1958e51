"""De-duplication: one defect, one record, however often it was seen."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mission.geodesy import LocalFrame
from vision.dedup import GATE_CAP_M, GATE_FLOOR_M, Defect, Sighting, gate_distance, merge
from vision.detector import Box
from vision.errors import VisionError

FRAME = LocalFrame(4.35, 50.85)
CLASSES = ("crack", "rust", "spalling", "missing_disc")


def _s(
    cls: str,
    x: float,
    y: float,
    *,
    error: float = 0.5,
    frame: int = 0,
    conf: float = 0.8,
    crop: np.ndarray | None = None,
) -> Sighting:
    return Sighting(cls, conf, x, y, error, frame / 30.0, frame, Box(0, 0, 10, 10, cls, conf), crop)


def test_one_defect_seen_in_many_frames_is_one_record() -> None:
    rng = np.random.default_rng(1)
    truth = (12.0, -7.0)
    sightings = [
        _s("rust", truth[0] + dx, truth[1] + dy, error=0.4, frame=i, conf=0.5 + 0.04 * i)
        for i, (dx, dy) in enumerate(rng.normal(0, 0.2, (8, 2)))
    ]
    (defect,) = merge(sightings, FRAME)
    assert defect.cls == "rust" and defect.sightings == 8
    assert math.hypot(defect.x_m - truth[0], defect.y_m - truth[1]) < 0.3
    assert defect.error_m < 0.4  # better than any one sighting
    assert defect.confidence == pytest.approx(0.5 + 0.04 * 7)
    lon, lat = FRAME.point_to_wgs84(defect.x_m, defect.y_m)
    assert (defect.lon, defect.lat) == pytest.approx((lon, lat))


def test_the_position_is_the_inverse_variance_mean() -> None:
    sightings = [
        _s("crack", 0.0, 0.0, error=0.5, frame=1),
        _s("crack", 1.0, 0.0, error=1.0, frame=2),
    ]
    (defect,) = merge(sightings, FRAME)
    # Weights 4 and 1: x = 1/5.
    assert defect.x_m == pytest.approx(0.2)
    assert defect.y_m == pytest.approx(0.0)
    formal = 1 / math.sqrt(4 + 1)
    # chi² = 2·(0.2²·4 + 0.8²·1) = 1.6 over 2 degrees of freedom: no inflation.
    assert defect.error_m == pytest.approx(formal)


def test_sightings_that_disagree_inflate_the_error() -> None:
    # 1.5 m apart with 0.3 m errors: within the floor of the gate, but far more scattered
    # than their errors say, so the fused error grows (Birge ratio).
    sightings = [
        _s("crack", 0.0, 0.0, error=0.3, frame=1),
        _s("crack", 0.7, 0.0, error=0.3, frame=2),
    ]
    (defect,) = merge(sightings, FRAME)
    formal = 0.3 / math.sqrt(2)
    chi2 = 2 * 2 * 0.35**2 / 0.3**2
    assert defect.error_m == pytest.approx(formal * math.sqrt(chi2 / 2))
    assert defect.error_m > formal


def test_the_best_crop_comes_with_its_time_and_frame() -> None:
    crop = np.zeros((4, 4, 3), np.uint8)
    sightings = [
        _s("rust", 0, 0, frame=10, conf=0.95),  # best score, but no crop
        _s("rust", 0.1, 0, frame=20, conf=0.7, crop=crop),
        _s("rust", 0.2, 0, frame=30, conf=0.6, crop=crop + 1),
    ]
    (defect,) = merge(sightings, FRAME)
    assert defect.frame_index == 20 and defect.time_s == pytest.approx(20 / 30)
    assert defect.crop is crop
    assert defect.box == sightings[1].box
    assert defect.confidence == 0.95


def test_two_boxes_in_one_frame_are_two_defects() -> None:
    sightings = [_s("crack", 0, 0, frame=5), _s("crack", 0.5, 0, frame=5)]
    assert len(merge(sightings, FRAME)) == 2


def test_classes_are_never_mixed() -> None:
    sightings = [_s("crack", 0, 0, frame=1), _s("rust", 0, 0, frame=2)]
    assert sorted(d.cls for d in merge(sightings, FRAME)) == ["crack", "rust"]


def test_a_fixed_gate_replaces_the_error_gate() -> None:
    sightings = [_s("crack", 0, 0, frame=1, error=0.1), _s("crack", 3.0, 0, frame=2, error=0.1)]
    assert len(merge(sightings, FRAME)) == 2
    assert len(merge(sightings, FRAME, gate_m=3.5)) == 1


def test_the_gate_grows_with_the_errors_between_a_floor_and_a_cap() -> None:
    assert gate_distance(0.01, 0.01) == GATE_FLOOR_M
    assert gate_distance(100, 100) == GATE_CAP_M
    assert gate_distance(1.0, 1.0) == pytest.approx(math.sqrt(9.21))
    assert gate_distance(1.0, 2.0) > gate_distance(1.0, 1.0)


def test_a_chain_of_defects_along_a_line_is_not_merged_into_one() -> None:
    """Cracks every 2 m along a road, each seen 3 times: single linkage would chain them."""
    sightings = [
        _s("crack", 2.0 * k + dx, 0.0, error=0.5, frame=10 * k + j)
        for k in range(10)
        for j, dx in enumerate((-0.3, 0.0, 0.3))
    ]
    defects = merge(sightings, FRAME, gate_floor_m=0.75)
    assert len(defects) == 10
    assert all(d.sightings == 3 for d in defects)


def test_the_records_are_ordered_by_time() -> None:
    sightings = [
        _s("crack", 50, 0, frame=90),
        _s("rust", 0, 0, frame=3),
        _s("crack", 0, 0, frame=40),
    ]
    assert [d.frame_index for d in merge(sightings, FRAME)] == [3, 40, 90]


def test_no_sightings_no_defects() -> None:
    assert merge([], FRAME) == []


@pytest.mark.parametrize(
    ("sighting", "message"),
    [
        (_s("crack", math.nan, 0), "non-finite"),
        (_s("crack", 0, 0, error=-1.0), "error -1.0 m"),
        (_s("crack", 0, 0, conf=1.5), "confidence 1.5"),
    ],
)
def test_unusable_sightings_are_refused(sighting: Sighting, message: str) -> None:
    with pytest.raises(VisionError, match=rf"sighting 0 \('crack', frame 0\) .*{message}"):
        merge([sighting], FRAME)


def test_unusable_gates_are_refused() -> None:
    with pytest.raises(VisionError, match="gate 0"):
        merge([], FRAME, gate_m=0)
    with pytest.raises(VisionError, match="floor"):
        merge([], FRAME, gate_floor_m=5, gate_cap_m=1)


def test_a_zero_error_does_not_take_all_the_weight() -> None:
    sightings = [_s("crack", 0, 0, error=0.0, frame=1), _s("crack", 0.3, 0, error=0.3, frame=2)]
    (defect,) = merge(sightings, FRAME)
    assert math.isfinite(defect.error_m) and defect.error_m > 0


# --------------------------------------------------------------------------- properties


@st.composite
def _survey(draw: st.DrawFn) -> tuple[list[tuple[str, float, float]], list[Sighting]]:
    """Defects on a 25 m grid (well over twice the gate's cap), each seen k times with
    placement noise within its stated error, in distinct frames, in shuffled order."""
    cells = draw(
        st.lists(
            st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=8, unique=True
        )
    )
    truth = [(draw(st.sampled_from(CLASSES)), 25.0 * cx, 25.0 * cy) for cx, cy in cells]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    sightings: list[Sighting] = []
    frame = 0
    for cls, x, y in truth:
        for _ in range(draw(st.integers(1, 6))):
            error = float(rng.uniform(0.2, 3.0))
            # Noise inside the error (1-sigma distance RMS): a direction and a distance ≤ e.
            angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(0, error)
            frame += int(rng.integers(1, 4))
            sightings.append(
                Sighting(
                    cls,
                    float(rng.uniform(0.3, 1.0)),
                    x + dist * math.cos(angle),
                    y + dist * math.sin(angle),
                    error,
                    frame / 30.0,
                    frame,
                )
            )
    order = rng.permutation(len(sightings))
    return truth, [sightings[i] for i in order]


@settings(max_examples=60, deadline=None)
@given(_survey())
def test_separate_defects_come_back_one_each(
    survey: tuple[list[tuple[str, float, float]], list[Sighting]],
) -> None:
    truth, sightings = survey
    defects = merge(sightings, FRAME)
    assert len(defects) == len(truth)
    assert sum(d.sightings for d in defects) == len(sightings)
    for cls, x, y in truth:
        near = [d for d in defects if math.hypot(d.x_m - x, d.y_m - y) < 5.0]
        assert len(near) == 1
        assert near[0].cls == cls
        seen = [s for s in sightings if math.hypot(s.x_m - x, s.y_m - y) < 5.0]
        assert near[0].sightings == len(seen)
        # The fused error is the formal one, inflated at most by sqrt(n / (n - 1)): with
        # every sighting within its error of the truth, chi² ≤ 2n.
        formal = 1.0 / math.sqrt(sum(1.0 / s.error_m**2 for s in seen))
        bound = formal * (math.sqrt(len(seen) / (len(seen) - 1)) if len(seen) > 1 else 1.0)
        assert formal - 1e-9 <= near[0].error_m <= bound + 1e-9


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(CLASSES), min_size=2, max_size=4, unique=True),
    st.integers(1, 5),
    st.integers(0, 2**32 - 1),
)
def test_defects_of_different_classes_at_one_place_stay_apart(
    classes: list[str], k: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    sightings = [
        Sighting(cls, 0.8, *rng.normal(0, 0.2, 2).tolist(), 0.5, f / 30, f)
        for f, cls in enumerate(c for c in classes for _ in range(k))
    ]
    defects = merge(sightings, FRAME)
    assert sorted(d.cls for d in defects) == sorted(classes)
    assert all(d.sightings == k for d in defects)
    assert all(isinstance(d, Defect) for d in defects)


def test_an_error_all_sightings_share_is_not_averaged_away() -> None:
    """20 sightings of 1.5 m, of which 1.41 m is the aircraft's own position error."""
    sightings = [_s("crack", 0.01 * i, 0.0, error=1.5, frame=i) for i in range(20)]
    (alone,) = merge(sightings, FRAME)
    assert alone.error_m == pytest.approx(1.5 / math.sqrt(20), rel=1e-6)
    (shared,) = merge(sightings, FRAME, shared_error_m=1.41)
    own = math.sqrt(1.5**2 - 1.41**2) / math.sqrt(20)
    assert shared.error_m == pytest.approx(math.sqrt(1.41**2 + own**2), rel=1e-6)
    assert shared.error_m > 1.41
    with pytest.raises(VisionError, match="shared error -1"):
        merge(sightings, FRAME, shared_error_m=-1.0)
