"""Inspection footage in, located and de-duplicated defects out (YOLO behind a small interface).

Imports only :mod:`mission` of skyledger's packages; heavy libraries load lazily."""

from vision.errors import VisionError

__all__ = ["VisionError"]
