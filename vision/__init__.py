"""Inspection footage in, located and de-duplicated defects out (YOLO behind a small interface).

Imports only :mod:`mission` of skyledger's packages; heavy libraries load lazily."""


class VisionError(ValueError):
    """The one exception tree of :mod:`vision`: messages name the value and what would be valid."""


__all__ = ["VisionError"]
