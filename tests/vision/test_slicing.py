"""Sliced inference: tiles cover the frame, small objects are found, cut objects joined.

The detector here is a fake that really looks at the picture: it finds filled rectangles of
known colours (one colour per class) and, like a network, sees its input shrunk to
``imgsz`` pixels, missing what is then smaller than ``min_px``. Boxes cut by a tile edge
come out cut, exactly as a real detector's would. No weights are needed.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vision.detector import Box
from vision.errors import VisionError
from vision.slicing import (
    CUT_LEFT,
    CUT_RIGHT,
    SlicedDetector,
    TilePart,
    merge_tiles,
    tile_windows,
)

COLOURS = {"crack": (0, 0, 255), "rust": (0, 255, 0), "spalling": (255, 0, 0)}


class ColourDetector:
    """Finds filled axis-aligned rectangles of the class colours in a BGR picture."""

    names = tuple(COLOURS)

    def __init__(self, imgsz: int = 640, min_px: int = 4):
        self.imgsz = imgsz
        self.min_px = min_px
        self.calls: list[tuple[int, int]] = []

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        import cv2

        h, w = image_bgr.shape[:2]
        self.calls.append((w, h))
        scale = min(1.0, self.imgsz / max(h, w))
        seen = image_bgr
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            seen = cv2.resize(image_bgr, size, interpolation=cv2.INTER_NEAREST)
        boxes = []
        for cls, colour in COLOURS.items():
            mask = cv2.inRange(seen, colour, colour)
            count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
            for x, y, bw, bh, _area in stats[1:count]:
                if min(bw, bh) < self.min_px:
                    continue
                boxes.append(
                    Box(x / scale, y / scale, (x + bw) / scale, (y + bh) / scale, cls, 0.9)
                )
        return boxes


def _picture(width: int, height: int, objects: list[Box]) -> np.ndarray:
    image = np.full((height, width, 3), 80, np.uint8)
    for o in objects:
        image[int(o.y1) : int(o.y2), int(o.x1) : int(o.x2)] = COLOURS[o.cls]
    return image


def _assert_found(
    found: list[Box], truth: list[Box], min_iou: float = 0.95, tol_px: float | None = None
) -> None:
    """One box per object, of its class, overlapping it by ``min_iou`` (or, with ``tol_px``,
    with every side within that many pixels of the object's)."""
    assert len(found) == len(truth), f"{len(found)} boxes for {len(truth)} objects"
    for t in truth:
        best = max(found, key=t.iou)
        assert best.cls == t.cls
        if tol_px is None:
            assert t.iou(best) >= min_iou, (t, best)
        else:
            assert np.abs(np.subtract(best.xyxy, t.xyxy)).max() <= tol_px, (t, best)


# --------------------------------------------------------------------------- tiles


@pytest.mark.parametrize(
    ("width", "height", "slice_px", "overlap"),
    [(1920, 1080, 640, 0.2), (1000, 700, 400, 0.25), (641, 640, 640, 0.2), (3000, 500, 512, 0.0)],
)
def test_tiles_cover_the_frame_at_full_size_with_the_overlap(
    width: int, height: int, slice_px: int, overlap: float
) -> None:
    tiles = tile_windows(width, height, slice_px, overlap)
    covered = np.zeros((height, width), bool)
    for x1, y1, x2, y2 in tiles:
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert x2 - x1 == min(slice_px, width) and y2 - y1 == min(slice_px, height)
        covered[y1:y2, x1:x2] = True
    assert covered.all()
    xs = sorted({t[0] for t in tiles})
    for a, b in itertools.pairwise(xs):
        assert slice_px - (b - a) >= overlap * slice_px - 1  # neighbours overlap enough


def test_a_frame_smaller_than_a_tile_is_one_tile() -> None:
    assert tile_windows(300, 200, 640) == [(0, 0, 300, 200)]


def test_unusable_slicing_is_refused() -> None:
    with pytest.raises(VisionError, match="slice size 16"):
        tile_windows(100, 100, 16)
    with pytest.raises(VisionError, match=r"slice overlap 1\.0"):
        SlicedDetector(ColourDetector(), 320, overlap=1.0)


# --------------------------------------------------------------------------- detection


def test_small_objects_missed_on_the_whole_frame_are_found_on_tiles() -> None:
    truth = [
        Box(100, 100, 108, 108, "crack", 0.9),
        Box(900, 300, 909, 306, "rust", 0.9),
        Box(1500, 900, 1507, 910, "spalling", 0.9),
        Box(1210, 500, 1218, 508, "crack", 0.9),
    ]
    image = _picture(1920, 1080, truth)
    whole = ColourDetector(imgsz=640, min_px=4)
    assert whole.detect(image) == []  # a third of 8 px is under 4 px
    sliced = SlicedDetector(ColourDetector(imgsz=640, min_px=4), 640, overlap=0.2)
    _assert_found(sliced.detect(image), truth)


def test_an_object_in_the_overlap_is_reported_once() -> None:
    # x 520..600 lies in both the first tile (0..640) and the second (512..1152).
    truth = [Box(530, 200, 590, 260, "rust", 0.9)]
    sliced = SlicedDetector(ColourDetector(min_px=4), 640, overlap=0.2, full_frame=False)
    _assert_found(sliced.detect(_picture(1920, 1080, truth)), truth)


def test_an_object_cut_by_tile_edges_is_joined_into_one_box() -> None:
    # Crosses the x 512 / 640 and y 512 tile edges: four tiles see four parts of it. The
    # whole frame is not run, so only the joining of the parts can give it back whole.
    truth = [Box(400, 380, 1000, 700, "crack", 0.9)]
    sliced = SlicedDetector(ColourDetector(min_px=4), 640, overlap=0.2, full_frame=False)
    found = sliced.detect(_picture(1920, 1080, truth))
    assert len(found) == 1
    assert found[0].cls == "crack"
    assert found[0].iou(truth[0]) > 0.99


def test_a_long_object_over_a_row_of_tiles_is_joined_into_one_box() -> None:
    truth = [Box(50, 500, 1870, 530, "rust", 0.9)]
    sliced = SlicedDetector(ColourDetector(min_px=4), 320, overlap=0.2, full_frame=False)
    _assert_found(sliced.detect(_picture(1920, 1080, truth)), truth, min_iou=0.99)


def test_a_large_object_seen_whole_on_the_frame_absorbs_its_tile_parts() -> None:
    truth = [Box(300, 200, 1500, 900, "spalling", 0.9)]
    sliced = SlicedDetector(ColourDetector(imgsz=640, min_px=4), 512, overlap=0.2)
    _assert_found(sliced.detect(_picture(1920, 1080, truth)), truth, min_iou=0.99)


def test_a_diagonal_object_over_four_tiles_comes_back_once() -> None:
    """A diagonal crack's parts line up only through the parts in the tile overlaps."""
    import cv2

    image = _picture(1920, 1080, [])
    cv2.line(image, (300, 250), (1000, 800), COLOURS["crack"], thickness=14)
    truth = Box(293, 243, 1008, 808, "crack", 0.9)
    sliced = SlicedDetector(ColourDetector(imgsz=640, min_px=4), 640, overlap=0.2)
    found = sliced.detect(image)
    assert len(found) == 1
    assert found[0].iou(truth) > 0.95


def test_neighbours_of_different_classes_across_an_edge_stay_apart() -> None:
    truth = [Box(560, 300, 640, 380, "crack", 0.9), Box(640, 300, 720, 380, "rust", 0.9)]
    sliced = SlicedDetector(ColourDetector(min_px=4), 640, overlap=0.2, full_frame=False)
    _assert_found(sliced.detect(_picture(1920, 1080, truth)), truth)


def test_a_frame_that_fits_one_tile_is_run_once() -> None:
    inner = ColourDetector()
    truth = [Box(10, 10, 40, 40, "rust", 0.9)]
    sliced = SlicedDetector(inner, 640)
    _assert_found(sliced.detect(_picture(600, 400, truth)), truth)
    assert inner.calls == [(600, 400)]


def test_the_wrapped_detector_is_run_on_each_tile_and_the_whole_frame() -> None:
    inner = ColourDetector()
    SlicedDetector(inner, 640, overlap=0.2).detect(_picture(1920, 1080, []))
    assert len(inner.calls) == len(tile_windows(1920, 1080, 640, 0.2)) + 1
    assert inner.calls[-1] == (1920, 1080)


def test_the_wrapped_detector_s_attributes_show_through() -> None:
    sliced = SlicedDetector(ColourDetector(imgsz=320), 640)
    assert sliced.names == tuple(COLOURS)
    assert sliced.imgsz == 320


@st.composite
def _scenes(draw: st.DrawFn) -> list[Box]:
    """Up to eight rectangles on an 8×5 grid of 160 px cells, one per cell, inset 12 px."""
    cells = draw(
        st.lists(
            st.tuples(st.integers(0, 7), st.integers(0, 4)), min_size=1, max_size=8, unique=True
        )
    )
    boxes = []
    for cx, cy in cells:
        w = draw(st.integers(8, 136))
        h = draw(st.integers(8, 136))
        x = cx * 160 + 12 + draw(st.integers(0, 136 - w))
        y = cy * 160 + 12 + draw(st.integers(0, 136 - h))
        boxes.append(Box(x, y, x + w, y + h, draw(st.sampled_from(tuple(COLOURS))), 0.9))
    return boxes


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(truth=_scenes(), slice_px=st.sampled_from([320, 480, 640]), full_frame=st.booleans())
def test_every_separate_object_comes_back_once(
    truth: list[Box], slice_px: int, full_frame: bool
) -> None:
    """With or without the whole frame: tiles alone must join what their edges cut. The whole
    frame is seen at half scale, where one pixel is two: a small object's box from it may be
    off by that (an 8 px square one pixel aside has IoU 0.78), so sides are held to 2 px."""
    image = _picture(1280, 800, truth)
    sliced = SlicedDetector(
        ColourDetector(imgsz=640, min_px=4), slice_px, overlap=0.2, full_frame=full_frame
    )
    _assert_found(sliced.detect(image), truth, tol_px=2.0)


# --------------------------------------------------------------------------- merging rules


def test_a_cut_part_that_cannot_be_joined_is_absorbed_by_the_whole_box() -> None:
    """The tile missed the other part (a real detector does), the whole frame saw it all."""
    part = TilePart(Box(100, 100, 200, 180, "crack", 0.8), CUT_RIGHT)
    whole = Box(100, 95, 400, 185, "crack", 0.6)
    assert part.box.iou(whole) < 0.5  # NMS alone would keep both
    assert merge_tiles([part], [whole]) == [whole]


def test_a_whole_small_box_inside_a_large_one_is_kept() -> None:
    """Only boxes known to be cut are absorbed: a small defect on a large one stays."""
    small = TilePart(Box(150, 120, 170, 140, "rust", 0.8), 0)
    large = Box(100, 100, 400, 300, "rust", 0.6)
    assert merge_tiles([small], [large]) == [small.box, large]


def test_parts_join_only_across_the_edge_that_cut_them() -> None:
    left = TilePart(Box(100, 100, 640, 160, "crack", 0.7), CUT_RIGHT)
    right = TilePart(Box(512, 102, 900, 158, "crack", 0.9), CUT_LEFT)
    assert merge_tiles([left, right], []) == [Box(100, 100, 900, 160, "crack", 0.9)]
    # Side by side with a gap: the right one starts after the cut edge, no join.
    apart = TilePart(Box(700, 100, 900, 160, "crack", 0.9), 0)
    assert len(merge_tiles([left, apart], [])) == 2
    # Across the edge but not level with it: two objects.
    lower = TilePart(Box(512, 150, 900, 260, "crack", 0.9), CUT_LEFT)
    assert len(merge_tiles([left, lower], [])) == 2
    # Other class: two objects.
    rust = TilePart(Box(512, 102, 900, 158, "rust", 0.9), CUT_LEFT)
    assert len(merge_tiles([left, rust], [])) == 2
