"""The one exception tree of :mod:`vision`."""


class VisionError(ValueError):
    """The one exception tree of :mod:`vision`: messages name the value and what would be valid."""
