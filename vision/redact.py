"""Privacy redaction: faces, people and (optionally) licence plates blurred out of pictures.

Every picture that leaves the crew's workspace (report crops, published frames) goes through
:meth:`Redactor.redact` first. The detectors are the ones that ship inside OpenCV, so nothing
is downloaded: Haar cascades for frontal faces and for profiles (run on the picture and its
mirror image, as the profile cascade knows one side only), the HOG people detector, and the
Haar licence-plate cascade when ``plates=True``.

A region found is widened a little and *pixelated* to about eight blocks across its longer
side, then smoothed: the detail that would let a face or a plate be recognised is thrown
away, not merely hidden (a plain Gaussian blur can be partly undone). The number of regions
blurred is returned so that reports can say it.

What it does not promise: these classic detectors miss faces that are small, turned away,
dark or seen from above, which is how a drone usually sees people. Redaction lowers the risk;
it does not prove that a picture shows no one.

OpenCV 5 no longer ships the Haar cascades nor the HOG people detector (they moved to the
contrib modules); :class:`Redactor` refuses to start without them rather than redacting
nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vision.detector import as_bgr
from vision.errors import VisionError

__all__ = ["Finder", "Redactor", "blur_regions", "opencv_finders"]

#: A region of a picture: x, y, width, height in pixels.
Region = tuple[int, int, int, int]
#: Finds regions to blur in a BGR picture, in that picture's pixels.
Finder = Callable[[np.ndarray], list[Region]]

FRONTAL = "haarcascade_frontalface_default.xml"
PROFILE = "haarcascade_profileface.xml"
PLATES = "haarcascade_russian_plate_number.xml"


def blur_regions(image: np.ndarray, regions: Sequence[Region], *, pad: float = 0.15) -> np.ndarray:
    """A copy of ``image`` with each region (widened by ``pad`` of its size) pixelated.

    About eight blocks across the region's longer side, then a Gaussian blur over about one
    block to soften the block edges. Regions are clipped to the picture; empty ones skipped.
    """
    import cv2

    out = as_bgr(image).copy()
    h, w = out.shape[:2]
    for x, y, rw, rh in regions:
        dx, dy = pad * rw, pad * rh
        x1, y1 = max(0, math.floor(x - dx)), max(0, math.floor(y - dy))
        x2, y2 = min(w, math.ceil(x + rw + dx)), min(h, math.ceil(y + rh + dy))
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        patch = out[y1:y2, x1:x2]
        block = max(2.0, max(x2 - x1, y2 - y1) / 8.0)
        small = cv2.resize(
            patch,
            (max(1, round((x2 - x1) / block)), max(1, round((y2 - y1) / block))),
            interpolation=cv2.INTER_AREA,
        )
        coarse = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
        k = int(block) | 1  # odd kernel of about one block
        out[y1:y2, x1:x2] = cv2.GaussianBlur(coarse, (k, k), 0)
    return out


def _cascade_dir(cv2: Any) -> Path | None:
    data = getattr(cv2, "data", None)
    folder = getattr(data, "haarcascades", None)
    return Path(folder) if folder else None


def opencv_finders(
    *, faces: bool = True, people: bool = True, plates: bool = False
) -> list[Finder]:
    """The finders built from the detectors that ship with OpenCV (see the module)."""
    import cv2

    folder = _cascade_dir(cv2)
    wanted = ([FRONTAL, PROFILE] if faces else []) + ([PLATES] if plates else [])
    missing = [name for name in wanted if folder is None or not (folder / name).is_file()]
    if (
        (wanted and not hasattr(cv2, "CascadeClassifier"))
        or missing
        or (people and not hasattr(cv2, "HOGDescriptor"))
    ):
        what = ", ".join(missing) or "CascadeClassifier/HOGDescriptor"
        raise VisionError(
            f"OpenCV {cv2.__version__} lacks what redaction needs ({what}; OpenCV 5 moved the "
            "Haar cascades and the HOG people detector out); install opencv-python>=4.8,<5"
        )
    finders: list[Finder] = []
    if folder is not None:  # always so when faces or plates are wanted (checked above)
        if faces:
            finders.append(_haar(cv2, folder / FRONTAL, mirrored=False))
            finders.append(_haar(cv2, folder / PROFILE, mirrored=True))
        if plates:
            finders.append(_haar(cv2, folder / PLATES, mirrored=False, min_neighbors=3))
    if people:
        finders.append(_hog_people(cv2))
    return finders


def _haar(cv2: Any, path: Path, *, mirrored: bool, min_neighbors: int = 4) -> Finder:
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise VisionError(f"OpenCV could not read its cascade {path}; reinstall opencv-python<5")

    def find(image: np.ndarray) -> list[Region]:
        grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        views = [(grey, False)] + ([(cv2.flip(grey, 1), True)] if mirrored else [])
        found: list[Region] = []
        for view, flipped in views:
            hits = cascade.detectMultiScale(
                view, scaleFactor=1.1, minNeighbors=min_neighbors, minSize=(20, 20)
            )
            for x, y, w, h in np.asarray(hits, dtype=int).reshape(-1, 4).tolist():
                found.append((view.shape[1] - x - w if flipped else x, y, w, h))
        return found

    return find


def _hog_people(cv2: Any) -> Finder:
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def find(image: np.ndarray) -> list[Region]:
        if image.shape[0] < 128 or image.shape[1] < 64:  # smaller than the detector's window
            return []
        rects, _ = hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.05)
        return [(x, y, w, h) for x, y, w, h in np.asarray(rects, dtype=int).reshape(-1, 4).tolist()]

    return find


class Redactor:
    """Finds faces, people and optionally plates in a picture and pixelates them.

    ``finders`` replaces OpenCV's detectors (tests, other detectors); each gets the picture
    shrunk so that its longer side is at most ``max_side`` pixels (detection cost grows with
    the area) and its regions are scaled back. Regions mostly inside another are counted and
    blurred once.
    """

    def __init__(
        self,
        plates: bool = False,
        *,
        faces: bool = True,
        people: bool = True,
        finders: Sequence[Finder] | None = None,
        max_side: int = 1280,
    ):
        if max_side < 64:
            raise VisionError(f"max_side {max_side} px is too small; give at least 64")
        self.plates = plates
        self.max_side = max_side
        self.finders = (
            list(finders)
            if finders is not None
            else opencv_finders(faces=faces, people=people, plates=plates)
        )

    def find(self, image: np.ndarray) -> list[Region]:
        """The regions to blur in ``image`` (its own pixels), duplicates removed."""
        import cv2

        bgr = as_bgr(image)
        h, w = bgr.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = bgr
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        regions: list[Region] = []
        for finder in self.finders:
            for x, y, rw, rh in finder(small):
                x1, y1 = max(0, math.floor(x / scale)), max(0, math.floor(y / scale))
                x2, y2 = min(w, math.ceil((x + rw) / scale)), min(h, math.ceil((y + rh) / scale))
                if x2 > x1 and y2 > y1:
                    regions.append((x1, y1, x2 - x1, y2 - y1))
        return _distinct(regions)

    def redact(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        """A blurred copy of ``image`` and the number of regions blurred in it."""
        regions = self.find(image)
        return blur_regions(image, regions), len(regions)


def _distinct(regions: list[Region], inside: float = 0.8) -> list[Region]:
    """Drops regions lying mostly (``inside``) within a larger kept one, or overlapping one
    by more than half (IoU), so that one face found twice counts once: largest first."""
    kept: list[Region] = []
    for r in sorted(regions, key=lambda r: (-r[2] * r[3], r)):
        x, y, w, h = r
        contained = False
        for kx, ky, kw, kh in kept:
            iw = min(x + w, kx + kw) - max(x, kx)
            ih = min(y + h, ky + kh) - max(y, ky)
            if iw <= 0 or ih <= 0:
                continue
            overlap = iw * ih
            if overlap >= inside * w * h or overlap > 0.5 * (w * h + kw * kh - overlap):
                contained = True
                break
        if not contained:
            kept.append(r)
    return kept
