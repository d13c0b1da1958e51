"""FAKES for the detection tests: a detector that finds one crack in the middle of every
frame, and a redactor that blurs nothing and says it blurred one region. They stand in for
the YOLO model and OpenCV's face and people finders where the result is not the point."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vision.detector import Box

__all__ = ["CentreDetector", "FakeRedactor"]


class CentreDetector:
    """FAKE detector: one crack whose box's bottom centre (what is placed) is the frame's
    middle, in every frame it is shown."""

    names: tuple[str, ...] = ("crack", "rust")
    weights = Path("fake-centre.onnx")

    def detect(self, image: np.ndarray) -> list[Box]:
        h, w = image.shape[:2]
        return [Box(w / 2 - 10, h / 2 - 20, w / 2 + 10, h / 2, "crack", 0.8)]


class FakeRedactor:
    """FAKE redactor: the image unchanged, one region reported."""

    def __init__(self, plates: bool = False) -> None:
        self.plates = plates

    def redact(self, image: np.ndarray) -> tuple[np.ndarray, int]:
        return image.copy(), 1
