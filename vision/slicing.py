"""Sliced inference (SAHI-style) for large frames with small defects.

A detector sees its input shrunk to its network size (640 px for a 1920 px frame: one third).
A defect a few pixels wide then vanishes. :class:`SlicedDetector` also runs the detector on
overlapping tiles of ``slice_px`` pixels, at full resolution, and on the whole frame (which
keeps the large objects that no tile holds whole), then merges the boxes:

1. **Joining cut boxes.** A tile box whose side lies on an *interior* edge of its tile (an
   edge that is not the image border) is a part of something the tile cut. It is joined with
   a box of the same class from a neighbouring tile that crosses that edge line and overlaps it
   across the cut (their extents along the edge overlap by at least half of the shorter one);
   the joined box is the union, its score the best of the parts. Chains of parts (an object
   over three or four tiles) join into one.
2. **Absorbing leftover parts.** A box still cut after joining that lies mostly (``contain``)
   inside another box of its class is a part of that box and is dropped.
3. **Per-class NMS** over everything left (tiles and whole frame) with the detector's IoU.

All coordinates are the full frame's pixels.

Cost: one inference per tile plus one; a 1920×1080 frame in 640 px tiles with 20 % overlap
is 4 × 2 tiles, nine inferences. Tiles as large as the network input (``slice_px`` =
``imgsz``) run at the frame's own resolution; smaller tiles are enlarged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision.detector import Box, Detector, as_bgr, nms
from vision.errors import VisionError

__all__ = [
    "CUT_BOTTOM",
    "CUT_LEFT",
    "CUT_RIGHT",
    "CUT_TOP",
    "SlicedDetector",
    "TilePart",
    "check_slicing",
    "merge_tiles",
    "tile_windows",
]

#: Bits of :attr:`TilePart.cuts`: which sides of a tile box lie on an interior tile edge.
CUT_LEFT, CUT_TOP, CUT_RIGHT, CUT_BOTTOM = 1, 2, 4, 8


def tile_windows(
    width: int, height: int, slice_px: int, overlap: float = 0.2
) -> list[tuple[int, int, int, int]]:
    """Tiles ``(x1, y1, x2, y2)`` of at most ``slice_px`` covering a ``width``×``height`` image.

    Neighbouring tiles overlap by at least ``overlap`` × ``slice_px``; the last tile of each row
    and column is moved back to end at the border, so every tile is full size (except along an
    image side shorter than a tile).
    """
    check_slicing(slice_px, overlap)
    if width < 1 or height < 1:
        raise VisionError(f"image size {width}x{height} is empty; give an image of ≥ 1 pixel")

    def starts(length: int) -> list[int]:
        if length <= slice_px:
            return [0]
        step = max(1, int(slice_px * (1.0 - overlap)))
        out = list(range(0, length - slice_px, step))
        out.append(length - slice_px)
        return out

    return [
        (x, y, min(x + slice_px, width), min(y + slice_px, height))
        for y in starts(height)
        for x in starts(width)
    ]


def check_slicing(slice_px: int, overlap: float) -> None:
    if isinstance(slice_px, bool) or not isinstance(slice_px, int) or slice_px < 32:
        raise VisionError(f"slice size {slice_px!r} px is not usable; give an integer ≥ 32")
    if not (isinstance(overlap, int | float) and 0.0 <= overlap <= 0.9):
        raise VisionError(f"slice overlap {overlap!r} is not usable; give a fraction in [0, 0.9]")


@dataclass(frozen=True)
class TilePart:
    """A box found on a tile (in frame pixels) and which of its sides the tile cut."""

    box: Box
    cuts: int = 0  # CUT_* bits


class SlicedDetector:
    """Runs ``inner`` on tiles plus the whole frame and merges the boxes (see the module)."""

    def __init__(
        self,
        inner: Detector,
        slice_px: int,
        *,
        overlap: float = 0.2,
        iou: float = 0.5,
        full_frame: bool = True,
        contain: float = 0.7,
        edge_px: float | None = None,
    ):
        check_slicing(slice_px, overlap)
        self.inner = inner
        self.names = tuple(inner.names)
        self.slice_px = slice_px
        self.overlap = float(overlap)
        self.iou = float(iou)
        self.full_frame = full_frame
        self.contain = float(contain)
        #: How close (px) a box side must come to a tile edge to count as cut by it.
        self.edge_px = float(edge_px) if edge_px is not None else max(3.0, 0.01 * slice_px)

    def __getattr__(self, name: str) -> object:
        # weights, backend, device, imgsz... of the wrapped detector, for reports.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        image = as_bgr(image_bgr)
        h, w = image.shape[:2]
        if w <= self.slice_px and h <= self.slice_px:
            return self.inner.detect(image)
        parts: list[TilePart] = []
        tol = self.edge_px
        for x1, y1, x2, y2 in tile_windows(w, h, self.slice_px, self.overlap):
            tile = np.ascontiguousarray(image[y1:y2, x1:x2])
            for box in self.inner.detect(tile):
                b = box.shifted(x1, y1)
                cuts = 0
                if x1 > 0 and b.x1 <= x1 + tol:
                    cuts |= CUT_LEFT
                if y1 > 0 and b.y1 <= y1 + tol:
                    cuts |= CUT_TOP
                if x2 < w and b.x2 >= x2 - tol:
                    cuts |= CUT_RIGHT
                if y2 < h and b.y2 >= y2 - tol:
                    cuts |= CUT_BOTTOM
                parts.append(TilePart(b, cuts))
        whole = self.inner.detect(image) if self.full_frame else []
        return merge_tiles(parts, whole, iou=self.iou, contain=self.contain, tol=tol)


def merge_tiles(
    parts: list[TilePart],
    whole: list[Box],
    *,
    iou: float = 0.5,
    contain: float = 0.7,
    tol: float = 3.0,
) -> list[Box]:
    """Merge tile boxes (with their cut sides) and whole-frame boxes into one list."""
    joined = _join(parts, tol)
    everything = [(p.box, p.cuts) for p in joined] + [(b, 0) for b in whole]
    kept: list[Box] = []
    for i, (box, cuts) in enumerate(everything):
        if cuts and box.area > 0:
            inside = any(
                j != i
                and other.cls == box.cls
                and other.area >= box.area
                and _overlap(box, other) / box.area >= contain
                for j, (other, _) in enumerate(everything)
            )
            if inside:
                continue
        kept.append(box)
    if not kept:
        return []
    names = sorted({b.cls for b in kept})
    classes = np.array([names.index(b.cls) for b in kept])
    keep = nms(
        np.array([b.xyxy for b in kept]),
        np.array([b.confidence for b in kept]),
        iou,
        classes,
        max_det=len(kept),
    )
    return [kept[int(i)] for i in keep]


def _overlap(a: Box, b: Box) -> float:
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    return w * h if w > 0 and h > 0 else 0.0


def _span_overlap(a1: float, a2: float, b1: float, b2: float) -> float:
    """Overlap of two intervals as a fraction of the shorter one."""
    shorter = min(a2 - a1, b2 - b1)
    return max(0.0, min(a2, b2) - max(a1, b1)) / shorter if shorter > 0 else 0.0


def _continues(a: TilePart, b: Box, tol: float) -> bool:
    """Whether ``b`` carries ``a`` on across one of ``a``'s cut sides."""
    box = a.box
    if a.cuts & (CUT_LEFT | CUT_RIGHT) and _span_overlap(box.y1, box.y2, b.y1, b.y2) >= 0.5:
        if a.cuts & CUT_RIGHT and b.x2 > box.x2 + tol and b.x1 <= box.x2 + tol:
            return True
        if a.cuts & CUT_LEFT and b.x1 < box.x1 - tol and b.x2 >= box.x1 - tol:
            return True
    if a.cuts & (CUT_TOP | CUT_BOTTOM) and _span_overlap(box.x1, box.x2, b.x1, b.x2) >= 0.5:
        if a.cuts & CUT_BOTTOM and b.y2 > box.y2 + tol and b.y1 <= box.y2 + tol:
            return True
        if a.cuts & CUT_TOP and b.y1 < box.y1 - tol and b.y2 >= box.y1 - tol:
            return True
    return False


def _join(parts: list[TilePart], tol: float) -> list[TilePart]:
    """Union the parts that continue each other across tile edges (union-find)."""
    parent = list(range(len(parts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(parts):
        for j in range(i + 1, len(parts)):
            b = parts[j]
            if a.box.cls != b.box.cls or not (a.cuts or b.cuts):
                continue
            if _continues(a, b.box, tol) or _continues(b, a.box, tol):
                parent[root(i)] = root(j)
    groups: dict[int, list[TilePart]] = {}
    for i, part in enumerate(parts):
        groups.setdefault(root(i), []).append(part)
    out = []
    for members in groups.values():
        if len(members) == 1:
            out.append(members[0])
            continue
        x1 = min(m.box.x1 for m in members)
        y1 = min(m.box.y1 for m in members)
        x2 = max(m.box.x2 for m in members)
        y2 = max(m.box.y2 for m in members)
        best = max(members, key=lambda m: m.box.confidence)
        cuts = 0
        for m in members:  # a side of the union stays cut if the part that makes it was cut
            if m.cuts & CUT_LEFT and m.box.x1 <= x1 + tol:
                cuts |= CUT_LEFT
            if m.cuts & CUT_TOP and m.box.y1 <= y1 + tol:
                cuts |= CUT_TOP
            if m.cuts & CUT_RIGHT and m.box.x2 >= x2 - tol:
                cuts |= CUT_RIGHT
            if m.cuts & CUT_BOTTOM and m.box.y2 >= y2 - tol:
                cuts |= CUT_BOTTOM
        out.append(TilePart(Box(x1, y1, x2, y2, best.box.cls, best.box.confidence), cuts))
    return out
